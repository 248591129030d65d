//! What the point-in-time restores of every kind (`rds-instance`,
//! `rds-cluster`, `s3-bucket`) share: reading `restore_time`, and recording
//! the time T restored to as the drill's recovery point, so every report
//! shows it and the recovery-point RPO (fault time − T).

use time::OffsetDateTime;

use firedrill_core::Diagnostic;
use firedrill_core::input::{Spanned, clip};
use firedrill_core::recovery::{BackupSource, Chosen, RecoveryPoint, SourceSpec, rfc3339};
use firedrill_core::{StageError, point_in_time::RestoreTimeError};

use crate::aws::rds::RestorePoint;
use crate::targets::StageContext;

/// The label of a point-in-time recovery point in reports.
pub const LABEL: &str = "point-in-time";

/// A valid `restore_time`: `latest` (`None`) or an RFC 3339 time. A bad
/// value is reported and reads as `latest`.
pub fn parse_restore_time(
    t: &Spanned<String>,
    diags: &mut Vec<Diagnostic>,
) -> Option<OffsetDateTime> {
    let v = t.get_ref();
    if v == "latest" {
        return None;
    }
    match OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339) {
        Ok(at) => Some(at),
        Err(e) => {
            diags.push(
                Diagnostic::new(format!(
                    "`restore_time` `{}` is not an RFC 3339 time: {e}",
                    clip(v)
                ))
                .at(t.span())
                .label("not a time")
                .help("write e.g. `restore_time = \"2026-01-31T12:00:00Z\"`, or `\"latest\"`"),
            );
            None
        }
    }
}

/// A restore time the service cannot restore fails the drill: the backups
/// do not reach the time the scenario asks for.
pub fn refused(e: &RestoreTimeError) -> StageError {
    StageError::Failed(e.to_string())
}

/// Record T as the recovery point the drill restores. `source` says how T
/// was chosen (`latest`, `random` within a window, or a given time).
pub fn record(cx: &StageContext, t: OffsetDateTime, spec: &SourceSpec) {
    cx.recovery.record(
        Chosen {
            point: RecoveryPoint::new(rfc3339(t), t, LABEL),
            candidates: 1,
            listed: 1,
        },
        spec,
    );
}

/// The source spec of a requested time: `latest`, or that time.
pub fn requested_spec(requested: Option<OffsetDateTime>, t: OffsetDateTime) -> SourceSpec {
    SourceSpec {
        source: if requested.is_some() {
            BackupSource::Id(rfc3339(t))
        } else {
            BackupSource::Latest
        },
        ..SourceSpec::default()
    }
}

/// `restore_time` given with a method other than `point-in-time`.
pub fn misplaced_restore_time(t: &Spanned<String>) -> Diagnostic {
    Diagnostic::new("`restore_time` applies only to `method = \"point-in-time\"`")
        .at(t.span())
        .label("not used by this backup method")
        .help("remove `restore_time`, or set `method = \"point-in-time\"`")
}

/// `dr_region` with a point-in-time restore: there is no snapshot to copy.
pub fn dr_region_without_snapshot(r: &Spanned<String>, methods: &str) -> Diagnostic {
    Diagnostic::new(
        "`dr_region` needs a snapshot to copy, but the backup method is `point-in-time`",
    )
    .at(r.span())
    .label("nothing to copy")
    .help(format!("use {methods} with `dr_region`"))
}

/// The backup stage of an RDS point-in-time restore: fix T now (for
/// `latest`, the latest restorable time the service reports), check it
/// against the restorable window and record it, so the recovery point the
/// report ages is the one restored. Returns T and how the restore request
/// names it: without a reported latest time, T is only the stage's clock,
/// and the service restores to its own latest time.
pub fn fix_rds_time(
    cx: &StageContext,
    point: RestorePoint,
    window: firedrill_core::point_in_time::Restorable,
    resource: &str,
) -> Result<(OffsetDateTime, RestorePoint), StageError> {
    let requested = match point {
        RestorePoint::Latest => None,
        RestorePoint::At(t) => Some(t),
    };
    let t = firedrill_core::point_in_time::restore_time(
        requested,
        window,
        cx.clock.now().utc,
        resource,
    )
    .map_err(|e| refused(&e))?;
    let request = if requested.is_none() && window.latest.is_none() {
        RestorePoint::Latest
    } else {
        RestorePoint::At(t)
    };
    record(cx, t, &requested_spec(requested, t));
    Ok((t, request))
}
