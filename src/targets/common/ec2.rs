//! What every EC2-family kind (`ec2-instance`, `ebs-volume`) shares: the
//! tags on their scratch resources, which tags of the source count, how
//! `reap` tells their resources apart, and deleting scratch snapshots and
//! volumes. The waits live with the EC2 wrapper (`aws::ec2::wait`).

use firedrill_core::resource::TAG_RUN_ID;
use firedrill_core::{
    Check, CheckStatus, Finding, ResourceType, ScratchResource, Service, StageError, StageOutput,
    Tagged,
};

use super::compare::{field_checks, tags_text};

use crate::aws::ec2::{self as api, Tags, wait};
use crate::targets::StageContext;

/// Tag naming the kind that created a resource, so `ebs-volume` and
/// `ec2-instance` each reap only their own snapshots and volumes.
pub const TAG_KIND: &str = "firedrill:kind";

/// Tags a person put on the source, which the restored copy must carry:
/// not `Name` (the scratch copy has its own), not AWS's or firedrill's.
pub fn user_tags(tags: &Tags) -> Tags {
    let mut t = super::compare::user_tags(tags);
    t.remove("Name");
    t
}

/// Tags for a scratch resource: the run's, its name and the kind.
pub fn scratch_tags(cx: &StageContext, name: &str, kind: &str) -> Vec<(String, String)> {
    let mut tags = cx.tags();
    tags.push(("Name".into(), name.to_string()));
    tags.push((TAG_KIND.into(), kind.to_string()));
    tags
}

/// A tagged resource for `reap`, or `None` if it is not `kind`'s.
pub fn tagged(
    kind: &str,
    rtype: ResourceType,
    id: &str,
    tags: &Tags,
    region: &str,
) -> Option<Tagged> {
    // Resources from before the kind tag existed belong to `ec2-instance`.
    let owner = tags.get(TAG_KIND).map_or("ec2-instance", String::as_str);
    if owner != kind {
        return None;
    }
    let resource = ScratchResource {
        kind: kind.to_string(),
        rtype,
        id: id.to_string(),
        region: region.to_string(),
        parent: None,
        target: String::new(),
        service: Some(Service::Ec2),
    };
    Tagged::from_tags(resource, tags)
}

/// The checks of a restored EC2-family resource, compared field by field
/// with its source (tags among them): a differing field is a failed check
/// and an error finding `<prefix>.<field>-mismatch`; against an emulator,
/// passing checks say so and a note says the comparison is not evidence
/// about AWS. Returns the checks and how many failed.
pub fn compare_restored(
    mut fields: Vec<(&str, Check)>,
    source_tags: &Tags,
    restored_tags: &Tags,
    prefix: &str,
    differs: &str,
    emulator_note: &str,
    out: &mut StageOutput,
) -> (Vec<Check>, usize) {
    fields.push((
        "tags",
        Check::compare(
            "tags",
            tags_text(&user_tags(source_tags)),
            tags_text(&user_tags(restored_tags)),
        ),
    ));
    let checks = field_checks(fields, prefix, differs, out.emulated, &mut out.findings);
    if out.emulated {
        out.findings
            .push(Finding::info(&format!("{prefix}.emulated"), emulator_note));
    }
    let failed = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Failed)
        .count();
    (checks, failed)
}

/// Delete snapshots named `name_or_id` (scratch ones only, unless given by
/// id); whether any existed.
pub async fn delete_snapshots(
    ec2: &aws_sdk_ec2::Client,
    name_or_id: &str,
) -> Result<bool, StageError> {
    if name_or_id.starts_with("snap-") {
        return Ok(api::delete_snapshot(ec2, name_or_id).await?);
    }
    let mut any = false;
    for s in api::snapshots_named(ec2, name_or_id).await? {
        if s.tags.contains_key(TAG_RUN_ID) {
            any |= api::delete_snapshot(ec2, &s.id).await?;
        }
    }
    Ok(any)
}

/// Delete volumes named `name_or_id` (scratch ones only, unless given by
/// id) once they are detached, and wait until they are gone; whether any
/// existed.
pub async fn delete_volumes(
    ec2: &aws_sdk_ec2::Client,
    name_or_id: &str,
) -> Result<bool, StageError> {
    let ids: Vec<String> = if name_or_id.starts_with("vol-") {
        vec![name_or_id.to_string()]
    } else {
        api::volumes_named(ec2, name_or_id)
            .await?
            .into_iter()
            .filter(|v| v.tags.contains_key(TAG_RUN_ID))
            .map(|v| v.id)
            .collect()
    };
    let mut any = false;
    for id in ids {
        if wait::until_volume_free(ec2, &id).await? && api::delete_volume(ec2, &id).await? {
            any = true;
            wait::until_volume_gone(ec2, &id).await?;
        }
    }
    Ok(any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_tags_leave_out_name_aws_and_firedrill_tags() {
        let tags: Tags = [
            ("Name", "web"),
            ("app", "shop"),
            ("aws:cloudformation:stack-name", "s"),
            ("firedrill:run-id", "r"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(tags_text(&user_tags(&tags)), "app=shop");
        assert_eq!(tags_text(&Tags::new()), "(none)");
    }

    #[test]
    fn tagged_resources_are_claimed_by_their_kind_only() {
        let vol = ResourceType::Volume;
        let mut tags = Tags::new();
        assert!(tagged("ec2-instance", vol, "vol-1", &tags, "us-east-1").is_none());
        tags.insert(TAG_RUN_ID.into(), "run1".into());
        assert!(tagged("ec2-instance", vol, "vol-1", &tags, "us-east-1").is_some());
        assert!(tagged("ebs-volume", vol, "vol-1", &tags, "us-east-1").is_none());
        tags.insert(TAG_KIND.into(), "ebs-volume".into());
        assert!(tagged("ec2-instance", vol, "vol-1", &tags, "us-east-1").is_none());
        let t = tagged("ebs-volume", vol, "vol-1", &tags, "us-east-1").unwrap();
        assert_eq!(t.run_id, "run1");
    }
}
