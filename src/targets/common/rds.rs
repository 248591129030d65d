//! What every RDS-family kind (`rds-instance`, `rds-cluster`) shares: kept
//! snapshots, how `reap` finds their scratch resources, which listed
//! resources a tag selection takes, and the clock for
//! waits outside a stage. The waits live with the RDS wrapper
//! (`aws::rds::wait`); comparison and SQL validation in `rds_compare` and
//! `rds_sql`.

use std::time::Duration;

use firedrill_core::timing::{Clock, PollPolicy};
use firedrill_core::{ResourceType, ScratchResource, Service, StageError, Tagged};

use crate::targets::StageContext;

/// Tag on snapshots kept after the run (`keep_snapshots = true`): reap by
/// tag leaves them alone.
pub const TAG_KEEP: &str = "firedrill:keep";

/// Whether a listed instance or cluster joins a tag selection: it matches
/// (see [`firedrill_core::select::matches`]) and is not being deleted, which
/// no drill could restore from or compare with.
pub fn selected(
    id: &str,
    status: &str,
    tags: &[(String, String)],
    wanted: &std::collections::BTreeMap<String, String>,
) -> bool {
    !matches!(status, "deleting" | "deleted")
        && firedrill_core::select::matches(
            id,
            tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            wanted,
        )
}

/// Tags for a snapshot, marked kept when asked.
pub fn snapshot_tags(cx: &StageContext, keep: bool) -> Vec<(String, String)> {
    let mut tags = cx.tags();
    if keep {
        tags.push((TAG_KEEP.to_string(), "true".to_string()));
    }
    tags
}

/// Whether a snapshot's tags mark it kept.
pub fn is_kept(tags: &[(String, String)]) -> bool {
    tags.iter().any(|(k, v)| k == TAG_KEEP && v == "true")
}

/// Release a kept snapshot from the ledger once it exists, so that cleanup
/// and reap leave it alone.
pub fn release_kept(cx: &StageContext, entry: u64, keep: bool) -> Result<(), StageError> {
    if keep {
        cx.ledger.deleted(entry, "kept", false)?;
    }
    Ok(())
}

/// A tagged RDS resource for `reap`, if it carries a run id.
pub fn tagged(
    kind: &str,
    rtype: ResourceType,
    id: &str,
    region: &str,
    parent: Option<String>,
    tags: &[(String, String)],
) -> Option<Tagged> {
    let resource = ScratchResource {
        kind: kind.to_string(),
        rtype,
        id: id.to_string(),
        region: region.to_string(),
        parent,
        target: String::new(),
        service: Some(Service::Rds),
    };
    Tagged::from_tags(resource, tags.iter().map(|(k, v)| (k, v)))
}

/// Clock and policy for waits outside a stage (deleting, reaping).
pub fn cleanup_wait() -> (Clock, PollPolicy) {
    (
        Clock::system(),
        PollPolicy::with_deadline(Duration::from_mins(30)),
    )
}

/// Choose one of an RDS resource's existing snapshots (`what` names them:
/// `available DB snapshot`), record the choice and return the snapshot.
pub fn choose_snapshot(
    cx: &crate::targets::StageContext,
    spec: &firedrill_core::recovery::SourceSpec,
    snaps: Vec<crate::aws::rds::Snapshot>,
    resource: &str,
    what: &str,
    out: &mut firedrill_core::StageOutput,
) -> Result<crate::aws::rds::Snapshot, firedrill_core::StageError> {
    let points = recovery_points(&snaps);
    let chosen = super::source::choose(cx, spec, &points, resource, what, out)?;
    let snap = snaps
        .into_iter()
        .find(|s| s.id == chosen.point.id)
        .ok_or_else(|| firedrill_core::StageError::Failed("the chosen snapshot vanished".into()))?;
    out.facts.insert("snapshot".into(), snap.id.clone());
    Ok(snap)
}

/// The organisation's recovery points among an RDS source's snapshots:
/// available ones not made by firedrill, labelled `automated`, `manual` or
/// `awsbackup`.
pub fn recovery_points(
    snaps: &[crate::aws::rds::Snapshot],
) -> Vec<firedrill_core::recovery::RecoveryPoint> {
    snaps
        .iter()
        .filter(|s| {
            s.status == "available"
                && !s
                    .tags
                    .iter()
                    .any(|(k, _)| k == firedrill_core::resource::TAG_RUN_ID)
        })
        .filter_map(|s| {
            let label = if s.id.starts_with("awsbackup:") {
                "awsbackup"
            } else {
                s.snapshot_type.as_str()
            };
            Some(firedrill_core::recovery::RecoveryPoint::new(
                &s.id,
                s.created_at?,
                label,
            ))
        })
        .collect()
}
