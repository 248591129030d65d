//! The bad-day recovery steps of an `rds-cluster` target: the newest
//! available cluster snapshot, a cluster restored from it, and a writer.

use firedrill_core::Stage;
use firedrill_core::runbook::{RunbookStep, Tool, shell_quote};

use super::RdsCluster;

pub(super) fn steps(t: &RdsCluster) -> Vec<RunbookStep> {
    let region = t
        .dr_region
        .as_deref()
        .map(|r| format!(" --region {}", shell_quote(r)))
        .unwrap_or_default();
    let source = shell_quote(&t.cluster);
    let restored = shell_quote(&format!("{}-restored", t.cluster));
    let writer = shell_quote(&format!("{}-restored-1", t.cluster));
    let mut steps = vec![
        RunbookStep::new(
            format!("find the newest available snapshot of {} and its engine", t.cluster),
            Tool::Aws,
            format!(
                "SNAPSHOT_ID=$(aws rds describe-db-cluster-snapshots{region} --db-cluster-identifier {source} \\\n  --query \"sort_by(DBClusterSnapshots[?Status=='available'], &SnapshotCreateTime)[-1].DBClusterSnapshotIdentifier\" --output text)\nENGINE=$(aws rds describe-db-cluster-snapshots{region} --db-cluster-snapshot-identifier \"$SNAPSHOT_ID\" \\\n  --query 'DBClusterSnapshots[0].Engine' --output text)"
            ),
        )
        .setting("SNAPSHOT_ID"),
    ];
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
    steps.push(
        RunbookStep::new(
            "restore the cluster and its writer, and wait until the writer is available",
            Tool::Aws,
            format!(
                "aws rds restore-db-cluster-from-snapshot{region} --db-cluster-identifier {restored} \\\n  --snapshot-identifier \"$SNAPSHOT_ID\" --engine \"$ENGINE\" >/dev/null\naws rds create-db-instance{region} --db-instance-identifier {writer} --db-cluster-identifier {restored} \\\n  --engine \"$ENGINE\" --db-instance-class {class} >/dev/null\naws rds wait db-instance-available{region} --db-instance-identifier {writer}"
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
