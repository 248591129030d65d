//! The gates of a run, next to the targets' drills: each gate waits for
//! the targets it names to be recovered, then runs until it passes or its
//! deadline; targets keep their restored resources (no revert, no cleanup)
//! until every gate has finished. Findings and the application RTO follow.

use std::sync::Arc;
use std::time::Duration;

use firedrill_core::app_rto::{self, GatePass};
use firedrill_core::timing::Moment;
use firedrill_core::{Finding, Outcome};

use super::RunShared;
use super::hooks::HookRun;
use crate::gates::{self, GateRun};
use crate::report::{AppRtoReport, GateReport, TargetReport};
use crate::scenario::gates::GateSpec;
use crate::scenario::hooks::{HookPoint, HookSpec};
use crate::targets::StageContext;

/// What the application checks of a run produced.
#[derive(Default)]
pub(super) struct AppRun {
    pub gates: Vec<GateRun>,
    /// Scenario hook runs (`[[hooks]]`).
    pub hooks: Vec<HookRun>,
}

/// Once every target is recovered, the scenario's `after_restore` and
/// `after_validate` hooks; every gate concurrently (each once its own
/// targets are recovered); then the `before_cleanup` hooks. Signals
/// `gates_done` at the end, whatever happened: the targets clean up then.
pub(super) async fn run_all(
    shared: Arc<RunShared>,
    gates: Vec<GateSpec>,
    hooks: Vec<HookSpec>,
    cx: StageContext,
) -> AppRun {
    let mut app = AppRun::default();
    let after_recovery = hooks
        .iter()
        .any(|h| matches!(h.when, HookPoint::AfterRestore | HookPoint::AfterValidate));
    let mut hooks_failed = false;
    if after_recovery {
        let every: Vec<usize> = (0..shared.board.len()).collect();
        if shared.board.wait_all(&every, &cx.cancel).await.is_ok() {
            for point in [HookPoint::AfterRestore, HookPoint::AfterValidate] {
                let runs =
                    super::hooks::run_point(&shared, &hooks, point, "scenario", &cx, None).await;
                hooks_failed |= runs.iter().any(|r| r.finding.is_some());
                app.hooks.extend(runs);
                if hooks_failed {
                    break;
                }
            }
        }
    }
    app.gates = if hooks_failed {
        gates
            .iter()
            .map(|g| {
                gates::skipped(
                    g,
                    Outcome::Skipped,
                    "skipped: a scenario hook failed".into(),
                )
            })
            .collect()
    } else {
        futures::future::join_all(gates.iter().map(|g| one(&shared, g, &cx))).await
    };
    app.hooks.extend(
        super::hooks::run_point(
            &shared,
            &hooks,
            HookPoint::BeforeCleanup,
            "scenario",
            &cx,
            None,
        )
        .await,
    );
    shared.gates_done.cancel();
    app
}

async fn one(shared: &RunShared, spec: &GateSpec, cx: &StageContext) -> GateRun {
    let after: Vec<usize> = spec
        .after
        .iter()
        .filter_map(|n| shared.board.index_of(n))
        .collect();
    shared.events.emit(&crate::report::Event::GateStarted {
        gate: spec.name.clone(),
    });
    let run = match shared.board.wait_all(&after, &cx.cancel).await {
        Ok(_) => gates::run(spec, &shared.board.restored(), &cx.clock, &cx.cancel).await,
        Err(super::schedule::Blocked::Cancelled) => {
            gates::skipped(spec, Outcome::Cancelled, "the drill was aborted".into())
        }
        Err(b) => gates::skipped(spec, Outcome::Skipped, format!("skipped: {}", b.reason())),
    };
    shared.events.emit(&crate::report::Event::GateFinished {
        report: Box::new(run.report.clone()),
    });
    // The evidence bundle hashes every file of the run directory.
    let _ = write_log(&cx.run_dir, &run.report);
    run
}

/// `gates/<name>.log`: every kept attempt and the last output.
fn write_log(run_dir: &std::path::Path, g: &GateReport) -> std::io::Result<()> {
    let slug: String = g
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let dir = run_dir.join("gates");
    std::fs::create_dir_all(&dir)?;
    let mut text = format!(
        "gate {} ({}): {} — {}\n",
        g.name,
        g.kind.as_str(),
        g.outcome,
        g.detail
    );
    for a in &g.attempts {
        text.push_str(&format!(
            "{} {:>8} {} {}\n",
            crate::report::view::time(a.at),
            firedrill_core::timing::human(a.duration),
            if a.passed { "pass" } else { "fail" },
            a.detail
        ));
    }
    if let Some(o) = &g.output {
        text.push_str(&format!(
            "--- exit code {:?} ---\n--- stdout ---\n{}\n--- stderr ---\n{}\n",
            o.exit_code, o.stdout, o.stderr
        ));
    }
    std::fs::write(dir.join(format!("{slug}.log")), text)
}

/// Findings for gates that did not pass: errors for critical ones.
pub(super) fn findings(gates: &[GateReport]) -> Vec<Finding> {
    gates
        .iter()
        .filter(|g| g.outcome != Outcome::Passed)
        .map(|g| {
            let msg = format!("gate `{}` {}: {}", g.name, g.outcome, g.detail);
            if g.critical {
                Finding::error("gate.failed", msg)
            } else {
                Finding::warning("gate.failed", format!("{msg} (not critical)"))
            }
        })
        .collect()
}

/// The application RTO of a run with gates: first fault → every critical
/// gate passed; the error adds the bounds of the targets' recoveries.
pub(super) fn app_rto(
    runs: &[GateRun],
    first_fault: Option<Moment>,
    targets: &[TargetReport],
    objective: Option<Duration>,
) -> Option<AppRtoReport> {
    let critical: Vec<Option<GatePass>> = runs
        .iter()
        .filter(|r| r.report.critical)
        .map(|r| r.pass)
        .collect();
    let waited: Vec<&str> = runs
        .iter()
        .filter(|r| r.report.critical)
        .flat_map(|r| r.report.after.iter().map(String::as_str))
        .collect();
    let target_error = targets
        .iter()
        .filter(|t| waited.contains(&t.name.as_str()))
        .filter_map(|t| t.rto.map(|m| m.error))
        .sum();
    let emulated = targets.iter().all(|t| t.rto.is_none_or(|m| m.emulated));
    let measured = app_rto::app_rto(first_fault, &critical, target_error, objective)?;
    Some(AppRtoReport {
        value: measured.value,
        error: measured.error,
        objective,
        met: measured.met,
        emulated,
        gates: critical.len(),
    })
}
