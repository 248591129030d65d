//! The `s3-bucket` keys of a `[[targets]]` table, and their validation.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::targets::common::point_in_time as pitr;
use firedrill_core::Diagnostic;
use firedrill_core::input::Spanned;
use firedrill_core::recovery::BackupSource;
use firedrill_core::source_keys::{IdShape, source_spec};
use firedrill_core::validate::{misplaced, one_of};

/// `kind = "s3-bucket"`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawS3 {
    /// The bucket the drill protects.
    pub bucket: Spanned<String>,
    /// Only objects under this prefix are backed up, faulted and validated.
    pub prefix: Option<String>,
    #[serde(default)]
    pub backup: RawBackup,
    #[serde(default)]
    pub canary: firedrill_core::options::RawCanary,
    pub fault: Option<RawFault>,
    #[serde(default)]
    pub validate: RawValidate,
}

/// `[targets.backup]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBackup {
    /// `copy` (default): manifest plus a copy into a scratch backup bucket.
    /// `versioning`: manifest with version ids; restore from versions.
    /// `none`: manifest only; the restore can only use what survived.
    /// `point-in-time`: restore a versioned bucket as it was at
    /// `restore_time` (every key at its version current then).
    pub method: Option<Spanned<String>>,
    /// For `point-in-time`: an RFC 3339 time, or `latest` (default: the
    /// time of the backup stage).
    pub restore_time: Option<Spanned<String>>,
    /// For `point-in-time`, instead of `restore_time`: `latest` (the time
    /// of the backup stage) or `random` (a seeded time within `window`).
    pub source: Option<Spanned<String>>,
    /// For `source = "random"`: how far back T may lie, `1d` to `365d`
    /// (never before the bucket's oldest version).
    pub window: Option<Spanned<String>>,
}

/// When a point-in-time restore puts the bucket back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreTime {
    /// The time of the backup stage: every key's current version.
    Latest,
    At(time::OffsetDateTime),
    /// A time chosen by the target's seed within this window.
    Random(std::time::Duration),
}

/// The `source` values of a point-in-time restore.
const PIT_SOURCES: &[&str] = &["latest", "random"];

/// Validate `restore_time`, or `source` and `window`: only with
/// `point-in-time`, and not both.
pub fn restore_time(
    raw: &RawBackup,
    method: BackupMethod,
    diags: &mut Vec<Diagnostic>,
) -> RestoreTime {
    if let Some(s) = &raw.source {
        return source(raw, s, method, diags);
    }
    if let Some(w) = &raw.window {
        diags.push(
            Diagnostic::new("`window` applies only to `source = \"random\"`")
                .at(w.span())
                .label("not used without `source`")
                .help("add `source = \"random\"` to restore a random time within the window, or remove `window`"),
        );
    }
    let Some(t) = &raw.restore_time else {
        return RestoreTime::Latest;
    };
    if method != BackupMethod::PointInTime {
        diags.push(pitr::misplaced_restore_time(t));
        return RestoreTime::Latest;
    }
    pitr::parse_restore_time(t, diags).map_or(RestoreTime::Latest, RestoreTime::At)
}

/// `source = "latest" | "random"` (with `window`) of a point-in-time restore.
fn source(
    raw: &RawBackup,
    s: &Spanned<String>,
    method: BackupMethod,
    diags: &mut Vec<Diagnostic>,
) -> RestoreTime {
    if method != BackupMethod::PointInTime {
        diags.push(
            Diagnostic::new(
                "`source` of an `s3-bucket` applies only to `method = \"point-in-time\"`",
            )
            .at(s.span())
            .label("not used by this backup method")
            .help("set `method = \"point-in-time\"`, or remove `source`"),
        );
        return RestoreTime::Latest;
    }
    if let Some(t) = &raw.restore_time {
        diags.push(
            Diagnostic::new("`restore_time` and `source` both say which point in time to restore")
                .at(t.span())
                .label("conflicts with `source`")
                .help("keep `restore_time` for a fixed time, or `source` (`latest`, or `random` with `window`)"),
        );
    }
    if !PIT_SOURCES.contains(&s.get_ref().as_str()) {
        one_of(s, "point-in-time source", PIT_SOURCES, diags);
        return RestoreTime::Latest;
    }
    let spec = source_spec(Some(s), raw.window.as_ref(), None, NO_ID, diags);
    match (spec.source, spec.window) {
        (BackupSource::Random, Some(w)) => RestoreTime::Random(w),
        (BackupSource::Random, None) => {
            if raw.window.is_none() {
                diags.push(
                    Diagnostic::new("`source = \"random\"` needs `window`")
                        .at(s.span())
                        .label("no window to choose a time in")
                        .help("add e.g. `window = \"7d\"`"),
                );
            }
            RestoreTime::Latest
        }
        _ => RestoreTime::Latest,
    }
}

/// A point in time has no id: `source` takes only `latest` and `random`.
const NO_ID: IdShape = IdShape {
    what: "point-in-time",
    example: "latest",
    accepts: |_| false,
};

/// `[targets.fault]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    /// `delete-share`, `corrupt`, `delete-all` or `none`.
    pub action: Spanned<String>,
    /// Share of objects to delete, for `delete-share` (0 < share ≤ 1).
    pub share: Option<Spanned<f64>>,
    /// Number of objects to overwrite, for `corrupt`.
    pub count: Option<Spanned<u64>>,
    /// Seed choosing which objects are hit (default 0).
    pub seed: Option<u64>,
    /// Put the deleted or overwritten objects back from the backup after
    /// validation (default true), so the drill leaves the bucket as it found it.
    pub revert: Option<bool>,
    /// Allow a fault with backup `method = "none"`, which deletes data no
    /// copy holds (default false; honoured against an emulator only).
    pub accept_data_loss: Option<bool>,
}

/// `[targets.validate]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawValidate {
    /// Compare the contents of every restored object (default true): by S3's
    /// MD5 `ETag` where it equals the MD5 computed at backup, otherwise by
    /// downloading it and comparing SHA-256.
    pub checksums: Option<bool>,
    /// Download and SHA-256 every restored object, even where its `ETag`
    /// already proves the MD5 (default false).
    pub always_download: Option<bool>,
}

firedrill_core::named_enum! {
    /// How the backup is taken.
    pub enum BackupMethod {
        Copy = "copy",
        Versioning = "versioning",
        None = "none",
        PointInTime = "point-in-time",
    }
}

firedrill_core::named_enum! {
    /// The `[targets.fault] action` values.
    pub enum FaultAction {
        DeleteShare = "delete-share",
        Corrupt = "corrupt",
        DeleteAll = "delete-all",
        None = "none",
    }
}

/// The fault to inject.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    None,
    DeleteShare { share: f64, seed: u64 },
    Corrupt { count: u64, seed: u64 },
    DeleteAll,
}

impl Fault {
    pub fn action(self) -> FaultAction {
        match self {
            Fault::None => FaultAction::None,
            Fault::DeleteShare { .. } => FaultAction::DeleteShare,
            Fault::Corrupt { .. } => FaultAction::Corrupt,
            Fault::DeleteAll => FaultAction::DeleteAll,
        }
    }
}

/// Validate the backup method.
pub fn backup_method(raw: &RawBackup, diags: &mut Vec<Diagnostic>) -> BackupMethod {
    raw.method
        .as_ref()
        .and_then(|m| BackupMethod::parse(m, "backup method", diags))
        .unwrap_or(BackupMethod::Copy)
}

/// A fault on a bucket whose backup keeps no copy destroys data for good:
/// the scenario must say so with `accept_data_loss = true`.
pub fn check_data_loss(
    raw: Option<&RawFault>,
    fault: Fault,
    backup: BackupMethod,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(raw) = raw else {
        return;
    };
    if fault == Fault::None || backup != BackupMethod::None || raw.accept_data_loss == Some(true) {
        return;
    }
    diags.push(
        Diagnostic::new(format!(
            "fault `{}` with backup `method = \"none\"` damages objects no copy holds: the drill itself would lose data",
            fault.action()
        ))
        .at(raw.action.span())
        .label("nothing could put these objects back")
        .help("use `method = \"copy\"` or `\"versioning\"`, or add `accept_data_loss = true` to `[targets.fault]` if losing the objects is the point (emulators only)"),
    );
}

/// Validate the fault.
pub fn fault(raw: Option<&RawFault>, diags: &mut Vec<Diagnostic>) -> Fault {
    let Some(raw) = raw else {
        return Fault::None;
    };
    let Some(action) = FaultAction::parse(&raw.action, "fault action", diags) else {
        return Fault::None;
    };
    let seed = raw.seed.unwrap_or(0);
    let name = action.as_str();
    match action {
        FaultAction::None => Fault::None,
        FaultAction::DeleteAll => {
            if let Some(s) = &raw.share {
                diags.push(misplaced("share", s.span(), name));
            }
            Fault::DeleteAll
        }
        FaultAction::DeleteShare => {
            if let Some(c) = &raw.count {
                diags.push(misplaced("count", c.span(), name));
            }
            let share = match &raw.share {
                Some(s) if *s.get_ref() > 0.0 && *s.get_ref() <= 1.0 => *s.get_ref(),
                Some(s) => {
                    diags.push(
                        Diagnostic::new(format!("`share` is {}, outside 0 < share ≤ 1", s.get_ref()))
                            .at(s.span())
                            .label("out of range")
                            .help("write the share as a fraction, e.g. `share = 0.25` for a quarter of the objects"),
                    );
                    0.5
                }
                None => {
                    diags.push(
                        Diagnostic::new("fault `delete-share` needs `share`")
                            .at(raw.action.span())
                            .label("no share given")
                            .help("add `share = 0.5` to delete half of the objects"),
                    );
                    0.5
                }
            };
            Fault::DeleteShare { share, seed }
        }
        FaultAction::Corrupt => {
            if let Some(s) = &raw.share {
                diags.push(misplaced("share", s.span(), name));
            }
            let count = match &raw.count {
                Some(c) if *c.get_ref() > 0 => *c.get_ref(),
                Some(c) => {
                    diags.push(
                        Diagnostic::new("`count` is 0: nothing would be corrupted")
                            .at(c.span())
                            .help("use `count = 1` or more"),
                    );
                    1
                }
                None => {
                    diags.push(
                        Diagnostic::new("fault `corrupt` needs `count`")
                            .at(raw.action.span())
                            .help("add `count = 3` to overwrite three objects"),
                    );
                    1
                }
            };
            Fault::Corrupt { count, seed }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn errors(backup: &str) -> String {
        let text = format!(
            "name = \"t\"\n[environment]\nregion = \"us-east-1\"\n[objectives]\nrto = \"30m\"\nrpo = \"15m\"\n\n[[targets]]\nname = \"b\"\nkind = \"s3-bucket\"\nbucket = \"orders\"\n[targets.backup]\n{backup}"
        );
        match crate::scenario::parse(Path::new("t.toml"), &text) {
            Ok(_) => String::new(),
            Err(e) => e.render(),
        }
    }

    #[test]
    fn point_in_time_source_keys_are_checked_with_their_location() {
        let cases: &[(&str, &[&str])] = &[
            (
                "method = \"point-in-time\"\nsource = \"random\"\nwindow = \"7d\"\n",
                &[],
            ),
            ("method = \"point-in-time\"\nsource = \"latest\"\n", &[]),
            (
                "method = \"point-in-time\"\nrestore_time = \"2026-01-31T12:00:00Z\"\nsource = \"random\"\nwindow = \"7d\"\n",
                &[
                    "`restore_time` and `source` both say which point in time to restore",
                    "t.toml:14:",
                ],
            ),
            (
                "method = \"point-in-time\"\nsource = \"random\"\n",
                &["`source = \"random\"` needs `window`", "window = \"7d\""],
            ),
            (
                "method = \"point-in-time\"\nsource = \"randon\"\n",
                &[
                    "unknown point-in-time source `randon`",
                    "did you mean `random`?",
                ],
            ),
            (
                "method = \"point-in-time\"\nsource = \"random\"\nwindow = \"400d\"\n",
                &["longer than 365 days"],
            ),
            (
                "source = \"random\"\nwindow = \"7d\"\n",
                &["applies only to `method = \"point-in-time\"`", "t.toml:13:"],
            ),
            (
                "method = \"point-in-time\"\nwindow = \"7d\"\n",
                &["`window` applies only to `source = \"random\"`"],
            ),
        ];
        for (backup, needles) in cases {
            let out = errors(backup);
            if needles.is_empty() {
                assert_eq!(out, "", "{backup}");
            }
            for n in *needles {
                assert!(out.contains(n), "{backup}: missing {n}:\n{out}");
            }
        }
    }
}
