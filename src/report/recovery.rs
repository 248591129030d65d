//! The recovery point lines every format shows, worded once: which
//! existing recovery point a target restored, how old it was at the fault
//! (the recovery-point RPO, next to the canary-measured one) and the last
//! point an earlier drill proved.

use firedrill_core::recovery::long;
use firedrill_core::timing::human;

use super::TargetReport;
use super::view::time;

/// "snap-… (snapshot; random of 4 within 7d, seed 7), created …; 3d 2h old
/// at the fault: recovery-point RPO 3d 2h against 30s, MISSED", or `None`
/// when the target took a new backup.
pub fn point_line(t: &TargetReport) -> Option<String> {
    let p = t.recovery_point.as_ref()?;
    let window = p
        .window
        .as_ref()
        .map(|w| format!(" within {w}"))
        .unwrap_or_default();
    let seed = p.seed.map(|s| format!(", seed {s}")).unwrap_or_default();
    let met = if p.age_at_fault <= t.objectives.rpo {
        "met"
    } else {
        "MISSED"
    };
    let canary = t
        .canary
        .as_ref()
        .and_then(|c| c.measured_rpo)
        .map(|c| format!("; canary RPO {}", human(c)))
        .unwrap_or_default();
    let proven = p
        .proven_before
        .map(|at| format!("; proven before, {}", time(at)))
        .unwrap_or_default();
    Some(format!(
        "{} ({}; {} of {}{window}{seed}), created {}; {} old at the fault: recovery-point RPO {} against {}, {met}{canary}{proven}",
        p.id,
        p.label,
        p.source,
        p.candidates,
        time(p.created_at),
        long(p.age_at_fault),
        long(p.age_at_fault),
        long(t.objectives.rpo),
    ))
}

/// "snap-… on …", "never (before this run)", or `None` for a target that neither
/// restored an existing point nor has one proven.
pub fn last_proven_line(t: &TargetReport) -> Option<String> {
    match (&t.last_proven, &t.recovery_point) {
        (Some(p), _) => Some(format!("{} on {}", p.id, time(p.at))),
        (None, Some(_)) => Some("never (before this run)".to_string()),
        (None, None) => None,
    }
}
