//! The `s3-bucket` keys of a `[[targets]]` table, and their validation.

use schemars::JsonSchema;
use serde::Deserialize;

use firedrill_core::Diagnostic;
use firedrill_core::input::Spanned;
use firedrill_core::validate::misplaced;

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
}

/// When a point-in-time restore puts the bucket back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreTime {
    /// The time of the backup stage: every key's current version.
    Latest,
    At(time::OffsetDateTime),
}

/// Validate `restore_time`: only with `point-in-time`, RFC 3339 or `latest`.
pub fn restore_time(
    raw: &RawBackup,
    method: BackupMethod,
    diags: &mut Vec<Diagnostic>,
) -> RestoreTime {
    let Some(t) = &raw.restore_time else {
        return RestoreTime::Latest;
    };
    if method != BackupMethod::PointInTime {
        diags.push(
            Diagnostic::new("`restore_time` applies only to `method = \"point-in-time\"`")
                .at(t.span())
                .label("not used by this backup method")
                .help("remove `restore_time`, or set `method = \"point-in-time\"`"),
        );
        return RestoreTime::Latest;
    }
    let v = t.get_ref();
    if v == "latest" {
        return RestoreTime::Latest;
    }
    match time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339) {
        Ok(at) => RestoreTime::At(at),
        Err(e) => {
            diags.push(
                Diagnostic::new(format!(
                    "`restore_time` `{}` is not an RFC 3339 time: {e}",
                    firedrill_core::input::clip(v)
                ))
                .at(t.span())
                .label("not a time")
                .help("write e.g. `restore_time = \"2026-01-31T12:00:00Z\"`, or `\"latest\"`"),
            );
            RestoreTime::Latest
        }
    }
}

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
