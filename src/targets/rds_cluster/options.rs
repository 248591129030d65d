//! The `[targets.backup]` keys of an `rds-cluster` target: a new cluster
//! snapshot, a point-in-time restore, or an existing cluster snapshot.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::aws::rds::RestorePoint;
use crate::targets::common::point_in_time as pitr;
use firedrill_core::Diagnostic;
use firedrill_core::input::Spanned;
use firedrill_core::recovery::SourceSpec;
use firedrill_core::source_keys::{IdShape, source_spec};

/// `[targets.backup]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBackup {
    /// `snapshot` (default): a cluster snapshot named after the run.
    /// `point-in-time`: restore the cluster as it was at `restore_time`,
    /// no snapshot.
    pub method: Option<Spanned<String>>,
    /// For `point-in-time`: an RFC 3339 time within the cluster's
    /// restorable window, or `latest` (default).
    pub restore_time: Option<Spanned<String>>,
    /// An existing cluster snapshot instead of `method`: `latest`, `random`
    /// or a snapshot identifier (automated, manual or `awsbackup:` ones).
    pub source: Option<Spanned<String>>,
    /// For `latest` and `random`: only snapshots created within this long
    /// before the drill, `1d` to `365d`.
    pub window: Option<Spanned<String>>,
    /// For `random`: `unproven` prefers a snapshot no earlier drill proved.
    pub prefer: Option<Spanned<String>>,
}

firedrill_core::named_enum! {
    /// The `[targets.backup] method` values.
    pub enum Method {
        Snapshot = "snapshot",
        PointInTime = "point-in-time",
    }
}

/// Where the restored cluster comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backup {
    /// A cluster snapshot: new, or existing as `source` says.
    Snapshot,
    /// The cluster itself at a point in time.
    PointInTime(RestorePoint),
}

/// Validate the backup keys: the method with its restore time, and the
/// source (which replaces the method).
pub fn backup(
    raw: &RawBackup,
    shape: IdShape,
    diags: &mut Vec<Diagnostic>,
) -> (Backup, SourceSpec) {
    let spec = source_spec(
        raw.source.as_ref(),
        raw.window.as_ref(),
        raw.prefer.as_ref(),
        shape,
        diags,
    );
    let method = raw
        .method
        .as_ref()
        .and_then(|m| Method::parse(m, "backup method", diags));
    if spec.is_existing() {
        if let Some(m) = &raw.method {
            diags.push(crate::targets::common::source::method_and_source(m));
        }
        if let Some(t) = &raw.restore_time {
            diags.push(pitr::misplaced_restore_time(t));
        }
        return (Backup::Snapshot, spec);
    }
    let backup = match (method, &raw.restore_time) {
        (Some(Method::PointInTime), t) => Backup::PointInTime(
            t.as_ref()
                .and_then(|t| pitr::parse_restore_time(t, diags))
                .map_or(RestorePoint::Latest, RestorePoint::At),
        ),
        (_, Some(t)) => {
            diags.push(pitr::misplaced_restore_time(t));
            Backup::Snapshot
        }
        (_, None) => Backup::Snapshot,
    };
    (backup, spec)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn errors(target: &str) -> String {
        let text = format!(
            "name = \"t\"\n[environment]\nregion = \"us-east-1\"\n[objectives]\nrto = \"30m\"\nrpo = \"15m\"\n\n[[targets]]\nname = \"db\"\nkind = \"rds-cluster\"\ncluster = \"orders\"\n{target}"
        );
        match crate::scenario::parse(Path::new("t.toml"), &text) {
            Ok(_) => String::new(),
            Err(e) => e.render(),
        }
    }

    #[test]
    fn point_in_time_keys_are_checked_like_rds_instance() {
        let cases: &[(&str, &[&str])] = &[
            ("[targets.backup]\nmethod = \"point-in-time\"\n", &[]),
            (
                "[targets.backup]\nmethod = \"point-in-time\"\nrestore_time = \"2026-01-31T12:00:00Z\"\n",
                &[],
            ),
            (
                "[targets.backup]\nmethod = \"point-in-tme\"\n",
                &[
                    "unknown backup method `point-in-tme`",
                    "did you mean `point-in-time`?",
                    "t.toml:13:",
                ],
            ),
            (
                "[targets.backup]\nmethod = \"point-in-time\"\nrestore_time = \"yesterday\"\n",
                &[
                    "`restore_time` `yesterday` is not an RFC 3339 time",
                    "t.toml:14:",
                ],
            ),
            (
                "[targets.backup]\nrestore_time = \"latest\"\n",
                &["applies only to `method = \"point-in-time\"`"],
            ),
            (
                "[targets.backup]\nmethod = \"point-in-time\"\nsource = \"latest\"\n",
                &["`method` and `source` both say where the backup comes from"],
            ),
            (
                "[targets.backup]\nmethod = \"point-in-time\"\n[targets.restore]\ndr_region = \"us-west-2\"\n",
                &["`dr_region` needs a snapshot to copy"],
            ),
        ];
        for (target, needles) in cases {
            let out = errors(target);
            if needles.is_empty() {
                assert_eq!(out, "", "{target}");
            }
            for n in *needles {
                assert!(out.contains(n), "{target}: missing {n}:\n{out}");
            }
        }
    }
}
