//! Choosing an existing recovery point in a backup stage, the same way for
//! every kind: the kind lists its points, this module chooses (seeded, pure
//! `firedrill_core::recovery::choose`), leaves the choice for the report and
//! says what it chose. Nothing is created, so nothing enters the ledger:
//! cleanup and reap can never delete the organisation's own backup.

use firedrill_core::recovery::{self, Chosen, RecoveryPoint, SourceSpec, long};
use firedrill_core::{StageError, StageOutput};

use crate::targets::StageContext;

/// Choose among `points` for `resource` (`what` names them: `snapshot`).
/// No point to choose fails the stage (not an environment error): the
/// backups the organisation relies on are missing.
pub fn choose(
    cx: &StageContext,
    spec: &SourceSpec,
    points: &[RecoveryPoint],
    resource: &str,
    what: &str,
    out: &mut StageOutput,
) -> Result<Chosen, StageError> {
    let now = cx.clock.now().utc;
    let chosen = recovery::choose(
        points,
        spec,
        now,
        cx.recovery.seed,
        &cx.recovery.proven,
        resource,
        what,
    )
    .map_err(|e| StageError::Failed(e.to_string()))?;
    let p = &chosen.point;
    out.detail = format!(
        "chose existing {what} {} ({}, {} of {} in the window, {} listed), created {}, {} old",
        p.id,
        p.label,
        spec.source.as_str(),
        chosen.candidates,
        chosen.listed,
        recovery::rfc3339(p.created_at),
        long(recovery::age(p, now))
    );
    for (k, v) in [
        ("recovery_point_id", p.id.clone()),
        ("recovery_point_created_at", recovery::rfc3339(p.created_at)),
        ("recovery_point_candidates", chosen.candidates.to_string()),
    ] {
        out.facts.insert(k.to_string(), v);
    }
    cx.recovery.record(chosen.clone(), spec);
    Ok(chosen)
}

/// `method` and `source` both given: a source other than `new` replaces
/// the method.
pub fn method_and_source(
    method: &firedrill_core::input::Spanned<String>,
) -> firedrill_core::Diagnostic {
    firedrill_core::Diagnostic::new("`method` and `source` both say where the backup comes from")
        .at(method.span())
        .label("conflicts with `source`")
        .help("remove `method` to restore an existing snapshot, or remove `source`")
}
