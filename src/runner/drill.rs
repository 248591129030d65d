//! One target's drill: backup (with canaries running), copy, fault, restore,
//! validate, revert, cleanup, each timed and recorded. What the drill proved
//! (RTO, RPO, verdict) is decided by `firedrill_core::assess` from the
//! records; this file only sequences the stages.

use std::sync::Arc;
use std::time::Duration;

use firedrill_core::assess::{CanaryEvidence, DrillEvidence, assess};
use firedrill_core::canary::{CanaryPlan, CanaryWrite};
use firedrill_core::timing::Moment;
use firedrill_core::{Finding, RetainedCopy, Stage, StageError, StageOutput, Validation, Verdict};

use super::RunShared;
use super::hooks;
use super::record::{AsStageOutput, Recorder};
use crate::canary::{CanarySink, CanaryWriter};
use crate::cleanup::{self, CleanupSummary};
use crate::report::{Event, TargetReport};
use crate::scenario::TargetSpec;
use crate::scenario::hooks::HookPoint;
use crate::targets::{RevertContext, StageContext};

/// Result of one target's drill.
pub(crate) struct DrillResult {
    pub report: TargetReport,
    /// An environment error stopped this target (exit code 3).
    pub environment_error: bool,
}

/// What the stages left for the assessment.
#[derive(Default)]
struct Trace {
    backup_done: Option<Moment>,
    fault_at: Option<Moment>,
    validate_end: Option<Moment>,
    /// Error bounds of the stages between fault and validation.
    span_error: Duration,
    validation: Option<Validation>,
    canary_writes: Vec<CanaryWrite>,
}

/// The canaries of one target: the plan, where they go, and the writer
/// while it runs.
struct Canaries {
    plan: CanaryPlan,
    sink: Arc<dyn CanarySink>,
    writer: Option<CanaryWriter>,
}

/// Drill one target whose preflight passed.
pub(crate) async fn drill(
    shared: &RunShared,
    spec: &mut TargetSpec,
    cx: StageContext,
    preflight: firedrill_core::StageRecord,
    mut permit: Option<tokio::sync::OwnedSemaphorePermit>,
) -> DrillResult {
    let _not_left_waiting = shared.board.guard(cx.target_index);
    let emulated = spec.target.services().iter().all(|s| cx.emulated(*s));
    let mut rec = Recorder::new(shared, &spec.name, preflight, emulated);
    let mut trace = Trace::default();
    let mut canaries = start_canaries(spec, &cx).await;

    run_stages(
        &mut rec,
        shared,
        spec,
        &cx,
        &mut canaries,
        &mut trace,
        &mut permit,
    )
    .await;
    // Dependants waiting on this target stop waiting now, whatever happened.
    let why = match trace.validation.as_ref().and_then(failed_check) {
        Some(check) => format!("validation check `{check}` failed"),
        None => rec.not_recovered_because(),
    };
    shared.board.failed(cx.target_index, &why);
    // The application is checked on the restored resources: they stay until
    // every gate is over. The permit goes back meanwhile, so that targets
    // still to drill (and the gates waiting for them) can proceed.
    if shared.has_gates {
        drop(permit);
        tokio::select! {
            () = shared.gates_done.cancelled() => {}
            () = cx.cancel.cancelled() => {}
        }
    }
    // Its failure is recorded, but cleanup runs whatever happens.
    let own = restored_of(spec.target.as_ref(), &spec.name, spec.kind);
    hooks::target_point(
        &mut rec,
        shared,
        &spec.hooks,
        HookPoint::BeforeCleanup,
        &cx,
        &own,
    )
    .await;
    revert(&mut rec, shared, &spec.name, &cx).await;
    let retained = cleanup_stage(&mut rec, shared, &spec.name, &cx).await;

    let recovered = trace.validation.as_ref().and_then(|v| v.canary);
    let checks = trace
        .validation
        .as_ref()
        .map(|v| v.checks.clone())
        .unwrap_or_default();
    let (stages, mut findings) = rec.finish_records();
    let recovery_point = cx
        .recovery
        .report(trace.fault_at.map_or_else(|| cx.clock.now().utc, |m| m.utc));
    let assessment = assess(&DrillEvidence {
        objectives: spec.objectives,
        emulated,
        stages: &stages,
        findings: &findings,
        validated: trace.validation.is_some(),
        checks: &checks,
        recovered,
        canary: canaries.as_ref().map(|c| CanaryEvidence {
            location: c.sink.location(),
            plan: c.plan,
            writes: &trace.canary_writes,
        }),
        backup_done: trace.backup_done,
        fault_at: trace.fault_at,
        validate_end: trace.validate_end,
        span_error: trace.span_error,
        environment_error: rec.environment_error(),
        recovery_point: recovery_point.as_ref(),
    });
    findings.extend(assessment.findings);
    let verdict = assessment.verdict;
    if !matches!(verdict, Verdict::Passed | Verdict::Aborted) && shared.abort_on_failure {
        shared.abort.abort(format!(
            "target `{}` failed and the scenario sets `abort_on_failure`",
            spec.name
        ));
    }
    let report = TargetReport {
        name: spec.name.clone(),
        kind: spec.kind.to_string(),
        resource: spec.target.resource(),
        objectives: spec.objectives,
        verdict,
        stages,
        checks,
        findings,
        canary: assessment.canary,
        rto: assessment.rto,
        rpo: assessment.rpo,
        retained,
        last_proven: cx.recovery.last_proven(&spec.target.resource()),
        recovery_point,
        critical: spec.critical,
    };
    shared.events.emit(&Event::TargetFinished {
        report: Box::new(report.clone()),
    });
    DrillResult {
        report,
        environment_error: rec.environment_error(),
    }
}

/// Start the canary writer, if the kind writes canaries; the first canary
/// lands before the backup starts.
async fn start_canaries(spec: &TargetSpec, cx: &StageContext) -> Option<Canaries> {
    let plan = spec.target.canary_plan()?;
    let sink = spec.target.canary_sink(cx)?;
    let mut writer = CanaryWriter::start(sink.clone(), plan, cx.clock.clone());
    writer.wait_for(1).await;
    Some(Canaries {
        plan,
        sink,
        writer: Some(writer),
    })
}

/// Backup → (canaries) → fault → copy → restore → validate, each only when
/// everything before it completed; the rest are recorded as skipped.
async fn run_stages(
    rec: &mut Recorder<'_>,
    shared: &RunShared,
    spec: &mut TargetSpec,
    cx: &StageContext,
    canaries: &mut Option<Canaries>,
    trace: &mut Trace,
    permit: &mut Option<tokio::sync::OwnedSemaphorePermit>,
) {
    let target = &mut spec.target;
    if let Ok(t) = rec.stage(cx, Stage::Backup, target.backup(cx)).await {
        trace.backup_done = Some(t.end);
    }
    if let Some(c) = canaries.as_mut() {
        trace.canary_writes = stop_canaries(rec, cx, c).await;
    }
    if rec.ok() {
        let own = restored_of(target.as_ref(), &spec.name, spec.kind);
        hooks::target_point(rec, shared, &spec.hooks, HookPoint::BeforeFault, cx, &own).await;
    }
    if shared.outage.is_some() {
        meet_for_outage(shared, cx, permit).await;
    }
    // Never inject a fault without a usable backup.
    if rec.ok() {
        let fault_emulated = target.fault().is_none_or(|f| cx.emulated(f.service));
        if let Ok(t) = rec
            .stage_as(cx, Stage::Fault, fault_emulated, target.inject(cx))
            .await
        {
            trace.fault_at = Some(t.start);
            if target.fault().is_some() {
                shared.board.fault_injected(t.start);
            }
        }
        if target.fault().is_none() && rec.ok() {
            rec.note(Finding::info(
                "fault.none",
                "no fault configured: the drill restores from an intact source",
            ));
        }
    }
    if rec.ok() {
        wait_for_dependencies(rec, shared, cx).await;
    }
    if permit.is_none() && rec.ok() {
        *permit = shared.semaphore.clone().acquire_owned().await.ok();
    }
    if rec.ok()
        && target.dr_region().is_some()
        && let Ok(t) = rec.stage(cx, Stage::Copy, target.copy(cx)).await
    {
        trace.span_error += t.error;
    }
    if rec.ok()
        && let Ok(t) = rec.stage(cx, Stage::Restore, target.restore(cx)).await
    {
        trace.span_error += t.error;
        let own = restored_of(target.as_ref(), &spec.name, spec.kind);
        hooks::target_point(rec, shared, &spec.hooks, HookPoint::AfterRestore, cx, &own).await;
    }
    if rec.ok()
        && let Ok(t) = rec.stage(cx, Stage::Validate, target.validate(cx)).await
    {
        trace.validate_end = Some(t.end);
        trace.span_error += t.error;
        let restored = restored_of(target.as_ref(), &spec.name, spec.kind);
        let hooks_ok = hooks::target_point(
            rec,
            shared,
            &spec.hooks,
            HookPoint::AfterValidate,
            cx,
            &restored,
        )
        .await;
        if hooks_ok && failed_check(&t.value).is_none() {
            shared.board.recovered(cx.target_index, t.end, restored);
        }
        trace.validation = Some(t.value);
    }
    let has_copy = target.dr_region().is_some();
    rec.skip_missing(
        &[Stage::Fault, Stage::Copy, Stage::Restore, Stage::Validate],
        |s| s == Stage::Copy && !has_copy,
    );
}

/// Outage mode: give the permit back, and wait until every target is at
/// this point (its backup taken, or failed), so that all faults land at
/// once. The permit is taken again only once the dependencies are
/// recovered: a target never holds one while it waits.
async fn meet_for_outage(
    shared: &RunShared,
    cx: &StageContext,
    permit: &mut Option<tokio::sync::OwnedSemaphorePermit>,
) {
    let Some(barrier) = &shared.outage else {
        return;
    };
    permit.take();
    tokio::select! {
        _ = barrier.wait() => {}
        () = cx.cancel.cancelled() => {}
    }
}

/// What a target offers gates and hooks: its kind's fields plus `name`,
/// `kind` and `resource`.
fn restored_of(
    target: &dyn crate::targets::Target,
    name: &str,
    kind: &str,
) -> crate::targets::Restored {
    target
        .restored()
        .with("name", name)
        .with("kind", kind)
        .with("resource", target.resource())
}

/// The first validation check that failed, by name.
fn failed_check(v: &Validation) -> Option<&str> {
    v.checks
        .iter()
        .find(|c| c.status == firedrill_core::CheckStatus::Failed)
        .map(|c| c.name.as_str())
}

/// Hold the recovery stages until every target this one depends on is
/// restored and validated; when one is not, skip them with the reason.
async fn wait_for_dependencies(rec: &mut Recorder<'_>, shared: &RunShared, cx: &StageContext) {
    if !shared.board.has_dependencies(cx.target_index) {
        return;
    }
    if let Err(blocked) = shared.board.wait(cx.target_index, &cx.cancel).await {
        let reason = blocked.reason();
        if matches!(blocked, super::schedule::Blocked::Dependency { .. }) {
            rec.note(Finding::error(
                "depends.not-recovered",
                format!("restore not attempted: {reason}"),
            ));
        }
        rec.block(reason);
    }
}

/// Let the canaries written after the backup land (the writes a disaster
/// would lose), then stop the writer.
async fn stop_canaries(
    rec: &mut Recorder<'_>,
    cx: &StageContext,
    c: &mut Canaries,
) -> Vec<CanaryWrite> {
    let Some(mut w) = c.writer.take() else {
        return Vec::new();
    };
    if rec.ok() {
        let target_seq = w.latest() + u64::from(c.plan.writes_after_backup);
        tokio::select! {
            () = w.wait_for(target_seq) => {}
            () = cx.cancel.cancelled() => {}
        }
    }
    match w.stop().await {
        Ok(writes) => writes,
        Err(e) => {
            rec.note(Finding::error(
                "canary.write-failed",
                format!("canary writes failed: {e}"),
            ));
            rec.stop_at(Stage::Backup, &e);
            Vec::new()
        }
    }
}

/// Undo this target's faults before cleanup: each one recorded in the
/// ledger whose kind can undo it, even when the fault stage failed half-way.
/// Not raced against cancellation: an abort must not leave the source
/// damaged.
async fn revert(rec: &mut Recorder<'_>, shared: &RunShared, target: &str, cx: &StageContext) {
    let open = cx.ledger.state().open_faults();
    for (id, entry) in open {
        let revertible = entry.fault.undo.is_some()
            && crate::targets::kind(&entry.fault.kind).is_some_and(|k| k.revert.is_some());
        if entry.fault.target != target || !revertible {
            continue;
        }
        rec.started(Stage::Revert);
        let watch = cx.clock.start();
        let rcx = RevertContext {
            clients: &cx.clients,
            run_dir: &cx.run_dir,
            clock: &cx.clock,
            ledger: &cx.ledger,
        };
        let res = shared
            .abort
            .within_budget(cleanup::revert_fault(&cx.ledger, id, &entry, &rcx, "run"))
            .await;
        let timing = watch.finish(Duration::ZERO);
        match res {
            Some(Ok(out)) => rec.passed(Stage::Revert, timing, out),
            Some(Err(e)) => rec.failed(Stage::Revert, timing, &e),
            None => {
                let e =
                    StageError::TimedOut("revert did not finish within the cleanup budget".into());
                rec.failed(Stage::Revert, timing, &e);
            }
        }
    }
}

/// Delete this target's scratch resources, newest first, except the copies
/// that protect a fault not undone: those are retained (ledger and tag) and
/// returned for the report.
async fn cleanup_stage(
    rec: &mut Recorder<'_>,
    shared: &RunShared,
    target: &str,
    cx: &StageContext,
) -> Vec<RetainedCopy> {
    rec.started(Stage::Cleanup);
    let watch = cx.clock.start();
    let summary = shared
        .abort
        .within_budget(cleanup::delete_pending(
            &cx.ledger,
            &cx.clients,
            &cx.clock,
            Some(target),
            "cleanup",
        ))
        .await
        .unwrap_or_else(|| out_of_budget(cx, target));
    let retained = shared
        .abort
        .within_budget(cleanup::retain_protected(
            &cx.ledger,
            &cx.clients,
            Some(target),
        ))
        .await
        .unwrap_or_default();
    let timing = watch.finish(Duration::ZERO);
    let mut detail = cleanup_detail(&summary);
    if !retained.is_empty() {
        detail.push_str(&format!(
            "; kept {} copy(ies) of the damaged data",
            retained.len()
        ));
    }
    let mut out = StageOutput::new(detail).emulated(rec.emulated());
    for (r, e) in &summary.failed {
        out.findings.push(Finding::error(
            "cleanup.incomplete",
            format!("could not delete {r}: {e}"),
        ));
    }
    for c in &retained {
        out.findings.push(Finding::warning(
            "fault.copy-retained",
            format!(
                "{} is retained: {}; restore with: {}",
                c.resource, c.why, c.restore
            ),
        ));
    }
    if summary.failed.is_empty() {
        rec.passed(Stage::Cleanup, timing, out);
    } else {
        rec.finished_failed(Stage::Cleanup, timing, out);
    }
    retained
}

/// What remains when cleanup ran out of its budget after an abort.
fn out_of_budget(cx: &StageContext, target: &str) -> CleanupSummary {
    let mut s = CleanupSummary::default();
    for (_, r) in cx.ledger.state().pending() {
        if r.target == target {
            let why = format!(
                "not deleted within the {}s cleanup budget after the abort",
                super::CLEANUP_BUDGET.as_secs()
            );
            s.failed.push((r, why));
        }
    }
    s
}

/// "deleted 3 scratch resource(s), 1 already gone".
fn cleanup_detail(s: &CleanupSummary) -> String {
    if !s.failed.is_empty() {
        return format!(
            "{} scratch resource(s) could not be deleted",
            s.failed.len()
        );
    }
    let gone = if s.already_gone.is_empty() {
        String::new()
    } else {
        format!(", {} already gone", s.already_gone.len())
    };
    format!("deleted {} scratch resource(s){gone}", s.deleted.len())
}

impl AsStageOutput for Validation {
    fn output(&self) -> &StageOutput {
        &self.output
    }
}
