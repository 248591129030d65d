//! The bad-day recovery steps of an `rds-instance` target: the newest
//! available snapshot, restored with the scenario's subnet group, parameter
//! group and other `[targets.restore]` settings.

use firedrill_core::Stage;
use firedrill_core::runbook::{RunbookStep, Tool, shell_quote};

use super::RdsInstance;

pub(super) fn steps(t: &RdsInstance) -> Vec<RunbookStep> {
    let region = t
        .dr_region
        .as_deref()
        .map(|r| format!(" --region {}", shell_quote(r)))
        .unwrap_or_default();
    let source = shell_quote(&t.instance);
    let restored = shell_quote(&format!("{}-restored", t.instance));
    let o = &t.restore;
    let mut options = String::new();
    for (flag, value) in [
        ("--db-instance-class", &o.instance_class),
        ("--db-subnet-group-name", &o.subnet_group),
        ("--db-parameter-group-name", &o.parameter_group),
        ("--storage-type", &o.storage_type),
    ] {
        if let Some(v) = value {
            options.push_str(&format!(" \\\n  {flag} {}", shell_quote(v)));
        }
    }
    if let Some(groups) = &o.security_groups {
        let ids: Vec<String> = groups.iter().map(|g| shell_quote(g)).collect();
        options.push_str(&format!(
            " \\\n  --vpc-security-group-ids {}",
            ids.join(" ")
        ));
    }
    match o.multi_az {
        Some(true) => options.push_str(" --multi-az"),
        Some(false) => options.push_str(" --no-multi-az"),
        None => {}
    }
    vec![
        RunbookStep::new(
            format!("find the newest available snapshot of {}", t.instance),
            Tool::Aws,
            format!(
                "SNAPSHOT_ID=$(aws rds describe-db-snapshots{region} --db-instance-identifier {source} \\\n  --query \"sort_by(DBSnapshots[?Status=='available'], &SnapshotCreateTime)[-1].DBSnapshotIdentifier\" --output text)"
            ),
        )
        .setting("SNAPSHOT_ID"),
        RunbookStep::new(
            "restore it into a new instance and wait until it is available",
            Tool::Aws,
            format!(
                "aws rds restore-db-instance-from-db-snapshot{region} --db-instance-identifier {restored} \\\n  --db-snapshot-identifier \"$SNAPSHOT_ID\"{options} >/dev/null\naws rds wait db-instance-available{region} --db-instance-identifier {restored}"
            ),
        )
        .timed(Stage::Restore),
        RunbookStep::new(
            "the new endpoint, for the application's connection settings",
            Tool::Aws,
            format!(
                "aws rds describe-db-instances{region} --db-instance-identifier {restored} \\\n  --query 'DBInstances[0].Endpoint.Address' --output text"
            ),
        ),
    ]
}
