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
            Some(
                firedrill_core::recovery::RecoveryPoint::new(&s.id, s.created_at?, label)
                    .with_encryption(s.encrypted, s.kms_key_id.clone()),
            )
        })
        .collect()
}

/// A copy of `source` among `candidates` (the same instance's or cluster's
/// snapshots in another region): RDS names a copy's source ARN; where that
/// is not reported, a copy keeps the source's original creation time.
/// Firedrill's own scratch copies do not count.
pub fn copy_of<'a>(
    source: &crate::aws::rds::Snapshot,
    candidates: &'a [crate::aws::rds::Snapshot],
) -> Option<&'a crate::aws::rds::Snapshot> {
    let original = source.original_created_at.or(source.created_at);
    candidates.iter().find(|c| {
        let named = match &c.copied_from {
            Some(from) => from == &source.arn || from == &source.id,
            None => original.is_some() && c.original_created_at == original,
        };
        named
            && c.status == "available"
            && !c
                .tags
                .iter()
                .any(|(k, _)| k == firedrill_core::resource::TAG_RUN_ID)
    })
}

/// The id of a copy of the snapshot `id` in `region`, looked up with
/// `list` (the DB or cluster snapshot listing of the same source there).
pub async fn copy_in<F, Fut>(
    home: Option<crate::aws::rds::Snapshot>,
    list: F,
) -> Result<Option<String>, firedrill_core::StageError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<
            Output = Result<Vec<crate::aws::rds::Snapshot>, firedrill_core::AwsError>,
        >,
{
    let Some(source) = home else {
        return Ok(None);
    };
    let there = list().await?;
    Ok(copy_of(&source, &there).map(|c| c.id.clone()))
}

#[cfg(test)]
mod copy_tests {
    use super::copy_of;
    use crate::aws::rds::Snapshot;
    use time::macros::datetime;

    #[test]
    fn a_copy_is_found_by_its_source_arn_or_its_original_time() {
        let at = Some(datetime!(2026-06-30 12:00 UTC));
        let source = Snapshot {
            id: "nightly".into(),
            arn: "arn:aws:rds:us-east-1:1:snapshot:nightly".into(),
            status: "available".into(),
            created_at: at,
            ..Snapshot::default()
        };
        let copy = |id: &str, from: Option<&str>, original, tags: &[(&str, &str)]| Snapshot {
            id: id.into(),
            status: "available".into(),
            copied_from: from.map(str::to_string),
            original_created_at: original,
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            ..Snapshot::default()
        };
        let run = firedrill_core::resource::TAG_RUN_ID;
        let other = Some(datetime!(2026-06-29 12:00 UTC));
        // (candidates, the copy found)
        let table = [
            (
                vec![copy("c", Some(source.arn.as_str()), None, &[])],
                Some("c"),
            ),
            (vec![copy("c", None, at, &[])], Some("c")),
            (vec![copy("c", None, other, &[])], None),
            (vec![copy("c", Some("arn:other"), at, &[])], None),
            (
                vec![copy("c", Some(source.arn.as_str()), None, &[(run, "r")])],
                None,
            ),
            (Vec::new(), None),
        ];
        for (candidates, want) in table {
            assert_eq!(
                copy_of(&source, &candidates).map(|c| c.id.as_str()),
                want,
                "{candidates:?}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    //! AWS Backup's snapshots (`awsbackup:job-…`) cannot be made on moto,
    //! which refuses identifiers with a colon: their listing is mocked.

    use aws_sdk_rds::Client;
    use aws_sdk_rds::operation::describe_db_snapshots::DescribeDbSnapshotsOutput;
    use aws_sdk_rds::types::DbSnapshot;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::DateTime;
    use firedrill_core::recovery::{self, BackupSource, SourceSpec};
    use time::macros::datetime;

    fn snap(id: &str, kind: &str, at: i64) -> DbSnapshot {
        DbSnapshot::builder()
            .db_snapshot_identifier(id)
            .db_instance_identifier("orders-db")
            .snapshot_type(kind)
            .status("available")
            .snapshot_create_time(DateTime::from_secs(at))
            .build()
    }

    #[tokio::test]
    async fn latest_and_random_choose_among_aws_backup_snapshots_too() {
        let night = datetime!(2026-01-31 03:00:00 UTC).unix_timestamp();
        let all = mock!(Client::describe_db_snapshots)
            .match_requests(|r| r.snapshot_type().is_none())
            .then_output(move || {
                DescribeDbSnapshotsOutput::builder()
                    .db_snapshots(snap("rds:orders-db-2026-01-31-03-00", "automated", night))
                    .db_snapshots(snap("orders-db-before-upgrade", "manual", night - 3600))
                    .build()
            });
        // AWS lists AWS Backup's snapshots only when asked for by type.
        let backup = mock!(Client::describe_db_snapshots)
            .match_requests(|r| r.snapshot_type() == Some("awsbackup"))
            .then_output(move || {
                DescribeDbSnapshotsOutput::builder()
                    .db_snapshots(snap(
                        "awsbackup:job-4f1a2b3c-5d6e-7f80-91a2-b3c4d5e6f708",
                        "awsbackup",
                        night + 1800,
                    ))
                    .build()
            });
        let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&all, &backup]);
        let snaps = crate::aws::rds::snapshots_of_instance(&rds, "orders-db")
            .await
            .unwrap();
        let points = super::recovery_points(&snaps);
        assert_eq!(points.len(), 3, "{points:?}");
        let now = datetime!(2026-01-31 12:00:00 UTC);
        let latest = SourceSpec {
            source: BackupSource::Latest,
            ..SourceSpec::default()
        };
        let chosen = recovery::choose(
            &points,
            &latest,
            now,
            0,
            &std::collections::BTreeMap::default(),
            "rds:db:orders-db",
            "DB snapshot",
        )
        .unwrap();
        assert_eq!(
            chosen.point.id,
            "awsbackup:job-4f1a2b3c-5d6e-7f80-91a2-b3c4d5e6f708"
        );
        assert_eq!(chosen.point.label, "awsbackup");
        let random = SourceSpec {
            source: BackupSource::Random,
            ..SourceSpec::default()
        };
        let labels: std::collections::BTreeSet<String> = (0..40)
            .map(|seed| {
                recovery::choose(
                    &points,
                    &random,
                    now,
                    seed,
                    &std::collections::BTreeMap::default(),
                    "r",
                    "s",
                )
                .unwrap()
                .point
                .label
            })
            .collect();
        assert_eq!(
            labels.into_iter().collect::<Vec<_>>(),
            ["automated", "awsbackup", "manual"]
        );
        assert_eq!(all.num_calls(), 1);
        assert_eq!(backup.num_calls(), 1);
    }
}
