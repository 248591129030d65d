//! The `rds-instance` keys of a `[[targets]]` table, and their validation.
//! The identifier and region checks are shared with `rds-cluster`.

use crate::aws::rds::RestorePoint;
use crate::targets::common::point_in_time as pitr;
use firedrill_core::Diagnostic;
use firedrill_core::input::Spanned;
use firedrill_core::options::RawFaultAction;
use firedrill_core::recovery::SourceSpec;
use firedrill_core::source_keys::{IdShape, source_spec};
use firedrill_core::validate::one_of;
use schemars::JsonSchema;
use serde::Deserialize;

/// `kind = "rds-instance"`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRdsInstance {
    /// The DB instance identifier the drill protects.
    pub instance: Spanned<String>,
    #[serde(default)]
    pub backup: RawBackup,
    pub fault: Option<RawFaultAction>,
    #[serde(default)]
    pub restore: RawRestore,
    #[serde(default)]
    pub validate: RawValidate,
    /// Keep the drill's own snapshots after the run (default false).
    pub keep_snapshots: Option<bool>,
    /// Log-in for SQL validation of the source and the restored instance.
    pub sql: Option<super::sql::RawSql>,
    /// Custom SQL checks run on the restored instance.
    #[serde(default)]
    pub check: Vec<crate::sql::RawCheck>,
}

/// `[targets.backup]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBackup {
    /// `snapshot` (default): a manual snapshot named after the run.
    /// `latest-automated`: the newest automated snapshot (nothing created).
    /// `point-in-time`: restore to a point in time, no snapshot.
    pub method: Option<Spanned<String>>,
    /// For `point-in-time`: an RFC 3339 time or `latest` (default).
    pub restore_time: Option<Spanned<String>>,
    /// An existing snapshot instead of `method`: `latest`, `random` or a
    /// snapshot identifier (automated, manual or `awsbackup:` ones).
    pub source: Option<Spanned<String>>,
    /// For `latest` and `random`: only snapshots created within this long
    /// before the drill, `1d` to `365d`.
    pub window: Option<Spanned<String>>,
    /// For `random`: `unproven` prefers a snapshot no earlier drill proved.
    pub prefer: Option<Spanned<String>>,
}

/// `[targets.restore]`: settings of the scratch instance. Unset keys copy
/// the source's settings (subnet group, parameter group and security groups
/// only in the source's region).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRestore {
    pub instance_class: Option<String>,
    pub subnet_group: Option<String>,
    pub parameter_group: Option<String>,
    pub security_groups: Option<Vec<String>>,
    pub storage_type: Option<Spanned<String>>,
    pub multi_az: Option<bool>,
    /// Copy the snapshot to this region and restore there.
    pub dr_region: Option<Spanned<String>>,
}

/// `[targets.validate]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawValidate {
    /// Compare the restored instance's tags with the source's (default true).
    pub compare_tags: Option<bool>,
}

/// How the backup is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupMethod {
    Snapshot,
    LatestAutomated,
    PointInTime(RestorePoint),
    /// An existing snapshot chosen by `source` in the backup stage.
    Existing,
}

firedrill_core::named_enum! {
    /// The fault to inject on the source instance: the `[targets.fault]
    /// action` values.
    pub enum Fault {
        Reboot = "reboot",
        RebootFailover = "reboot-failover",
        Stop = "stop",
        Delete = "delete",
        None = "none",
    }
}

firedrill_core::named_enum! {
    /// The `[targets.backup] method` values.
    pub enum Method {
        Snapshot = "snapshot",
        LatestAutomated = "latest-automated",
        PointInTime = "point-in-time",
    }
}
const STORAGE_TYPES: &[&str] = &[
    "standard",
    "gp2",
    "gp3",
    "io1",
    "io2",
    "aurora",
    "aurora-iopt1",
];

/// What an RDS recovery point id looks like: a DB snapshot identifier,
/// including `rds:` (automated) and `awsbackup:` names.
pub const DB_SNAPSHOT_ID: IdShape = IdShape {
    what: "DB snapshot",
    example: "rds:orders-db-2026-01-31-03-00",
    accepts: |v| {
        let name = v
            .strip_prefix("rds:")
            .or_else(|| v.strip_prefix("awsbackup:"))
            .unwrap_or(v);
        v.contains(':')
            || v.contains('-') && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    },
};

/// Validate `source`, `window` and `prefer`; a source other than `new`
/// replaces `method`, which may then not be set.
pub fn source(raw: &RawBackup, what: IdShape, diags: &mut Vec<Diagnostic>) -> SourceSpec {
    let spec = source_spec(
        raw.source.as_ref(),
        raw.window.as_ref(),
        raw.prefer.as_ref(),
        what,
        diags,
    );
    if spec.is_existing()
        && let Some(m) = &raw.method
    {
        diags.push(crate::targets::common::source::method_and_source(m));
    }
    spec
}

/// Validate the backup method and its restore time.
pub fn backup_method(raw: &RawBackup, diags: &mut Vec<Diagnostic>) -> BackupMethod {
    if raw.source.as_ref().is_some_and(|s| s.get_ref() != "new") {
        return BackupMethod::Existing;
    }
    let method = match raw
        .method
        .as_ref()
        .and_then(|m| Method::parse(m, "backup method", diags))
    {
        None | Some(Method::Snapshot) => BackupMethod::Snapshot,
        Some(Method::LatestAutomated) => BackupMethod::LatestAutomated,
        Some(Method::PointInTime) => BackupMethod::PointInTime(RestorePoint::Latest),
    };
    match (&raw.restore_time, method) {
        (None, m) => m,
        (Some(t), BackupMethod::PointInTime(_)) => BackupMethod::PointInTime(
            pitr::parse_restore_time(t, diags).map_or(RestorePoint::Latest, RestorePoint::At),
        ),
        (Some(t), m) => {
            diags.push(pitr::misplaced_restore_time(t));
            m
        }
    }
}

/// Validate the fault.
pub fn fault(raw: Option<&RawFaultAction>, diags: &mut Vec<Diagnostic>) -> Fault {
    let fault = raw
        .and_then(|r| Fault::parse(&r.action, "fault action", diags))
        .unwrap_or(Fault::None);
    if let Some(r) = raw {
        r.check_undo_keys(fault == Fault::Stop, fault == Fault::Delete, diags);
    }
    fault
}

/// Validate a storage type override.
pub fn storage_type(raw: Option<&Spanned<String>>, diags: &mut Vec<Diagnostic>) {
    if let Some(t) = raw
        && !STORAGE_TYPES.contains(&t.get_ref().as_str())
    {
        one_of(t, "storage type", STORAGE_TYPES, diags);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn errors(target: &str) -> String {
        let text = format!(
            "name = \"t\"\n[environment]\nregion = \"us-east-1\"\n[objectives]\nrto = \"30m\"\nrpo = \"15m\"\n\n[[targets]]\nname = \"db\"\n{target}"
        );
        match crate::scenario::parse(Path::new("t.toml"), &text) {
            Ok(_) => String::new(),
            Err(e) => e.render(),
        }
    }

    #[test]
    fn example_scenarios_are_valid() {
        for f in ["rds-instance.toml", "rds-cluster.toml"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scenarios")
                .join(f);
            if let Err(e) = crate::scenario::load(&path) {
                panic!("{}", e.render());
            }
        }
    }

    #[test]
    fn misspelt_method_and_fault_get_suggestions_with_location() {
        let out = errors(
            "kind = \"rds-instance\"\ninstance = \"orders-db\"\n[targets.backup]\nmethod = \"snapshots\"\n[targets.fault]\naction = \"reboot-failovr\"\n",
        );
        assert!(out.contains("unknown backup method `snapshots`"), "{out}");
        assert!(out.contains("did you mean `snapshot`?"), "{out}");
        assert!(
            out.contains("unknown fault action `reboot-failovr`"),
            "{out}"
        );
        assert!(out.contains("did you mean `reboot-failover`?"), "{out}");
        assert!(out.contains("t.toml:13:"), "{out}");
    }

    #[test]
    fn bad_identifier_time_and_combinations_are_reported() {
        let out = errors(
            "kind = \"rds-instance\"\ninstance = \"9-orders--db\"\n[targets.backup]\nmethod = \"point-in-time\"\nrestore_time = \"yesterday\"\n[targets.fault]\naction = \"delete\"\n[targets.restore]\ndr_region = \"mars\"\n",
        );
        for needle in [
            "invalid DB instance identifier `9-orders--db`",
            "`restore_time` `yesterday` is not an RFC 3339 time",
            "fault `delete` needs `method = \"snapshot\"`",
            "invalid region `mars`",
            "`dr_region` needs a snapshot to copy",
        ] {
            assert!(out.contains(needle), "missing {needle}:\n{out}");
        }
    }

    #[test]
    fn restore_time_needs_point_in_time_and_cluster_fault_is_checked() {
        let out = errors(
            "kind = \"rds-instance\"\ninstance = \"orders-db\"\n[targets.backup]\nrestore_time = \"latest\"\n",
        );
        assert!(
            out.contains("applies only to `method = \"point-in-time\"`"),
            "{out}"
        );
        let out = errors(
            "kind = \"rds-cluster\"\ncluster = \"orders\"\n[targets.fault]\naction = \"failovr\"\n",
        );
        assert!(out.contains("did you mean `failover`?"), "{out}");
        let ok = errors(
            "kind = \"rds-instance\"\ninstance = \"orders-db\"\n[targets.backup]\nmethod = \"point-in-time\"\nrestore_time = \"2026-01-31T12:00:00Z\"\n",
        );
        assert_eq!(ok, "");
    }
}
