//! The bad-day recovery steps of an `rds-cluster` target: the newest
//! available cluster snapshot (or the cluster's latest restorable time, for
//! a point-in-time drill), a cluster restored from it, and a writer.

use firedrill_core::Stage;
use firedrill_core::runbook::{RunbookStep, Tool, shell_quote};

use super::RdsCluster;
use super::options::Backup;
use crate::aws::rds::RestorePoint;
use firedrill_core::recovery::rfc3339;

pub(super) fn steps(t: &RdsCluster) -> Vec<RunbookStep> {
    let region = t
        .dr_region
        .as_deref()
        .map(|r| format!(" --region {}", shell_quote(r)))
        .unwrap_or_default();
    let source = shell_quote(&t.cluster);
    let restored = shell_quote(&format!("{}-restored", t.cluster));
    let writer = shell_quote(&format!("{}-restored-1", t.cluster));
    let point_in_time = match t.backup {
        Backup::PointInTime(RestorePoint::Latest) => Some("--use-latest-restorable-time".into()),
        Backup::PointInTime(RestorePoint::At(at)) => {
            Some(format!("--restore-to-time {}", shell_quote(&rfc3339(at))))
        }
        Backup::Snapshot => None,
    };
    let mut steps = if point_in_time.is_some() {
        vec![
            RunbookStep::new(
                format!(
                    "the restorable window and engine of {} (a point in time must lie inside it)",
                    t.cluster
                ),
                Tool::Aws,
                format!(
                    "aws rds describe-db-clusters{region} --db-cluster-identifier {source} \\\n  --query 'DBClusters[0].[EarliestRestorableTime,LatestRestorableTime]' --output text\nENGINE=$(aws rds describe-db-clusters{region} --db-cluster-identifier {source} \\\n  --query 'DBClusters[0].Engine' --output text)"
                ),
            )
            .setting("ENGINE"),
        ]
    } else {
        vec![
        RunbookStep::new(
            format!("find the newest available snapshot of {} and its engine", t.cluster),
            Tool::Aws,
            format!(
                "SNAPSHOT_ID=$(aws rds describe-db-cluster-snapshots{region} --db-cluster-identifier {source} \\\n  --query \"sort_by(DBClusterSnapshots[?Status=='available'], &SnapshotCreateTime)[-1].DBClusterSnapshotIdentifier\" --output text)\nENGINE=$(aws rds describe-db-cluster-snapshots{region} --db-cluster-snapshot-identifier \"$SNAPSHOT_ID\" \\\n  --query 'DBClusterSnapshots[0].Engine' --output text)"
            ),
        )
        .setting("SNAPSHOT_ID"),
        ]
    };
    let class = if let Some(c) = &t.instance_class {
        shell_quote(c)
    } else {
        steps.push(
            RunbookStep::new(
                "the instance class of the lost cluster's members (set it by hand if they are gone)",
                Tool::Aws,
                format!(
                    "INSTANCE_CLASS=$(aws rds describe-db-instances{region} \\\n  --query \"DBInstances[?DBClusterIdentifier=='{}'] | [0].DBInstanceClass\" --output text)",
                    t.cluster
                ),
            )
            .setting("INSTANCE_CLASS"),
        );
        "\"$INSTANCE_CLASS\"".to_string()
    };
    let restore = match &point_in_time {
        Some(at) => format!(
            "aws rds restore-db-cluster-to-point-in-time{region} --db-cluster-identifier {restored} \\\n  --source-db-cluster-identifier {source} {at} >/dev/null"
        ),
        None => format!(
            "aws rds restore-db-cluster-from-snapshot{region} --db-cluster-identifier {restored} \\\n  --snapshot-identifier \"$SNAPSHOT_ID\" --engine \"$ENGINE\" >/dev/null"
        ),
    };
    steps.push(
        RunbookStep::new(
            "restore the cluster and its writer, and wait until the writer is available",
            Tool::Aws,
            format!(
                "{restore}\naws rds create-db-instance{region} --db-instance-identifier {writer} --db-cluster-identifier {restored} \\\n  --engine \"$ENGINE\" --db-instance-class {class} >/dev/null\naws rds wait db-instance-available{region} --db-instance-identifier {writer}"
            ),
        )
        .timed(Stage::Restore),
    );
    steps.push(RunbookStep::new(
        "the new writer endpoint, for the application's connection settings",
        Tool::Aws,
        format!(
            "aws rds describe-db-clusters{region} --db-cluster-identifier {restored} \\\n  --query 'DBClusters[0].Endpoint' --output text"
        ),
    ));
    steps
}
