//! One target's drill: backup (with canaries running), copy, fault, restore,
//! validate, cleanup, each timed, and the RTO/RPO that follow from them.

use std::time::Duration;

use crate::canary::{self, CanaryWriter};
use crate::ledger;
use crate::report::{
    MeasureMethod, Measured, ObjectivesInfo, Outcome, Stage, StageRecord, TargetReport, Verdict,
};
use crate::scenario::TargetSpec;
use crate::targets::{
    Check, CheckStatus, Finding, Severity, StageContext, StageError, StageOutput,
};
use crate::timing::{Moment, Timing};

use super::Event;
use super::RunShared;

/// Result of one target's drill.
pub(crate) struct DrillResult {
    pub report: TargetReport,
    /// An environment error stopped this target (exit code 3).
    pub environment_error: bool,
}

struct Recorder<'a> {
    shared: &'a RunShared,
    target: String,
    stages: Vec<StageRecord>,
    findings: Vec<Finding>,
    /// The first drill stage (backup → validate) that did not complete.
    failed_at: Option<Stage>,
    /// Whether the environment, not the drill, caused a failure (exit 3).
    environment_error: bool,
}

impl Recorder<'_> {
    /// Note a failure of a drill stage: later stages are skipped.
    fn stop_at(&mut self, stage: Stage, err: &StageError) {
        self.environment_error |= err.is_environment();
        self.failed_at.get_or_insert(stage);
    }

    fn started(&self, stage: Stage) {
        self.shared.events.emit(&Event::StageStarted {
            target: self.target.clone(),
            stage,
        });
    }

    fn finish(&mut self, stage: Stage, outcome: Outcome, timing: Option<Timing>, out: StageOutput) {
        let record = StageRecord {
            stage,
            outcome,
            timing,
            emulated: out.emulated,
            detail: out.detail,
            request_ids: out.request_ids,
            facts: out.facts,
        };
        self.findings.extend(out.findings);
        self.shared.events.emit(&Event::StageFinished {
            target: self.target.clone(),
            record: record.clone(),
        });
        self.stages.push(record);
    }

    fn skipped(&mut self, stage: Stage, why: &str) {
        self.finish(stage, Outcome::Skipped, None, StageOutput::new(why));
    }

    fn failed(
        &mut self,
        stage: Stage,
        timing: Timing,
        err: &StageError,
        emulated: bool,
    ) -> Outcome {
        let outcome = match err {
            StageError::TimedOut(_) => Outcome::TimedOut,
            StageError::Cancelled => Outcome::Cancelled,
            _ => Outcome::Failed,
        };
        let code = match err {
            StageError::TimedOut(_) => format!("{stage}.timed-out"),
            StageError::Cancelled => format!("{stage}.cancelled"),
            e if e.is_environment() => format!("{stage}.environment"),
            _ => format!("{stage}.failed"),
        };
        let message = format!(
            "{stage} {}: {err}",
            if outcome == Outcome::Cancelled {
                "was"
            } else {
                "failed"
            }
        );
        let mut out = StageOutput::new(err.to_string()).emulated(emulated);
        out.request(stage.as_str(), err.request_id());
        if outcome != Outcome::Cancelled {
            out.findings.push(Finding::error(&code, message));
        }
        self.finish(stage, outcome, Some(timing), out);
        outcome
    }
}

/// Run one stage: time it, race it against cancellation, record it.
async fn stage<T, F>(
    rec: &mut Recorder<'_>,
    cx: &StageContext,
    stage: Stage,
    emulated: bool,
    fut: F,
) -> Result<(T, Moment, Moment, Duration), StageError>
where
    F: std::future::Future<Output = Result<T, StageError>>,
    T: AsStageOutput,
{
    rec.started(stage);
    let watch = cx.clock.start();
    // Cancellation is polled first: once the run is aborted a stage's future
    // must not be polled even once, or its first request (a fault!) could
    // already be on the wire.
    let res = tokio::select! {
        biased;
        () = cx.cancel.cancelled() => Err(StageError::Cancelled),
        r = fut => r,
    };
    match res {
        Ok(value) => {
            let out = value.output().clone();
            let end = out.observed.unwrap_or_else(|| cx.clock.now());
            let timing = Timing::between(watch.started(), end, out.error_bound);
            let error = out.error_bound;
            rec.finish(stage, Outcome::Passed, Some(timing), out);
            Ok((value, watch.started(), end, error))
        }
        Err(e) => {
            let timing = watch.finish(Duration::ZERO);
            rec.failed(stage, timing, &e, emulated);
            Err(e)
        }
    }
}

/// Things a stage returns that carry a [`StageOutput`].
pub(crate) trait AsStageOutput {
    fn output(&self) -> &StageOutput;
}

impl AsStageOutput for StageOutput {
    fn output(&self) -> &StageOutput {
        self
    }
}

impl AsStageOutput for crate::targets::Validation {
    fn output(&self) -> &StageOutput {
        &self.output
    }
}

/// Drill one target whose preflight passed.
pub(crate) async fn drill(
    shared: &RunShared,
    spec: &mut TargetSpec,
    cx: StageContext,
    preflight: StageRecord,
) -> DrillResult {
    let mut rec = Recorder {
        shared,
        target: spec.name.clone(),
        stages: vec![preflight],
        findings: Vec::new(),
        failed_at: None,
        environment_error: false,
    };
    let mut checks: Vec<Check> = Vec::new();
    let emulated_all = spec.target.services().iter().all(|s| cx.emulated(*s));
    let fault_service_emulated = spec.target.fault().is_none_or(|f| cx.emulated(f.service));

    let target = &mut spec.target;
    let canary_plan = target.canary_plan();
    let sink = canary_plan.and_then(|_| target.canary_sink(&cx));
    let mut writer = match (canary_plan, &sink) {
        (Some(plan), Some(sink)) => Some((
            CanaryWriter::start(sink.clone(), plan, cx.clock.clone()),
            plan,
        )),
        _ => None,
    };
    // The first canary lands before the backup starts.
    if let Some((w, _)) = &mut writer {
        w.wait_for(1).await;
    }

    let mut backup_done: Option<Moment> = None;
    let mut fault_at: Option<Moment> = None;
    let mut span_error = Duration::ZERO;
    let mut validated: Option<crate::targets::Validation> = None;
    let mut canary_writes = Vec::new();

    // Backup.
    match stage(
        &mut rec,
        &cx,
        Stage::Backup,
        emulated_all,
        target.backup(&cx),
    )
    .await
    {
        Ok((_, _, end, _)) => backup_done = Some(end),
        Err(e) => rec.stop_at(Stage::Backup, &e),
    }

    // Canaries after the backup: the writes a disaster would lose.
    if let Some((mut w, plan)) = writer.take() {
        if rec.failed_at.is_none() {
            let target_seq = w.latest() + u64::from(plan.writes_after_backup);
            tokio::select! {
                () = w.wait_for(target_seq) => {}
                () = cx.cancel.cancelled() => {}
            }
        }
        match w.stop().await {
            Ok(writes) => canary_writes = writes,
            Err(e) => {
                rec.findings.push(Finding::error(
                    "canary.write-failed",
                    format!("canary writes failed: {e}"),
                ));
                rec.stop_at(Stage::Backup, &e);
            }
        }
    }

    // Never inject a fault without a usable backup.
    if rec.failed_at.is_none() {
        let f = spec.target.fault();
        let emulated = fault_service_emulated;
        let target = &mut spec.target;
        let res = stage(&mut rec, &cx, Stage::Fault, emulated, target.inject(&cx)).await;
        match res {
            Ok((_, start, _, _)) => fault_at = Some(start),
            Err(e) => rec.stop_at(Stage::Fault, &e),
        }
        if f.is_none() && rec.failed_at.is_none() {
            rec.findings.push(Finding::info(
                "fault.none",
                "no fault configured: the drill restores from an intact source",
            ));
        }
    }

    if rec.failed_at.is_none() && spec.target.dr_region().is_some() {
        let target = &mut spec.target;
        match stage(&mut rec, &cx, Stage::Copy, emulated_all, target.copy(&cx)).await {
            Ok((_, _, _, err)) => span_error += err,
            Err(e) => rec.stop_at(Stage::Copy, &e),
        }
    }

    if rec.failed_at.is_none() {
        let target = &mut spec.target;
        match stage(
            &mut rec,
            &cx,
            Stage::Restore,
            emulated_all,
            target.restore(&cx),
        )
        .await
        {
            Ok((_, _, _, err)) => span_error += err,
            Err(e) => rec.stop_at(Stage::Restore, &e),
        }
    }

    let mut validate_end = None;
    if rec.failed_at.is_none() {
        let target = &mut spec.target;
        match stage(
            &mut rec,
            &cx,
            Stage::Validate,
            emulated_all,
            target.validate(&cx),
        )
        .await
        {
            Ok((v, _, end, err)) => {
                validate_end = Some(end);
                span_error += err;
                checks.extend(v.checks.iter().cloned());
                validated = Some(v);
            }
            Err(e) => rec.stop_at(Stage::Validate, &e),
        }
    }

    for s in [Stage::Fault, Stage::Copy, Stage::Restore, Stage::Validate] {
        let ran = rec.stages.iter().any(|r| r.stage == s);
        let optional = s == Stage::Copy && spec.target.dr_region().is_none();
        if !ran && !optional {
            let why = match rec.failed_at {
                Some(f) => format!("skipped: {f} did not complete"),
                None => "skipped".to_string(),
            };
            rec.skipped(s, &why);
        }
    }

    // Undo the fault before cleanup deletes the backup it needs. Not raced
    // against cancellation: an abort must not leave the source damaged.
    if fault_at.is_some() && spec.target.reverts() {
        rec.started(Stage::Revert);
        let watch = cx.clock.start();
        let res = shared.abort.within_budget(spec.target.revert(&cx)).await;
        let timing = watch.finish(Duration::ZERO);
        match res {
            Some(Ok(out)) => rec.finish(Stage::Revert, Outcome::Passed, Some(timing), out),
            Some(Err(e)) => {
                rec.failed(Stage::Revert, timing, &e, emulated_all);
            }
            None => {
                let e =
                    StageError::TimedOut("revert did not finish within the cleanup budget".into());
                rec.failed(Stage::Revert, timing, &e, emulated_all);
            }
        }
    }

    // Cleanup: this target's scratch resources, newest first.
    rec.started(Stage::Cleanup);
    let watch = cx.clock.start();
    let cleanup = shared
        .abort
        .within_budget(ledger::delete_pending(
            &cx.ledger,
            &cx.clients,
            &cx.clock,
            Some(&spec.name),
            "cleanup",
        ))
        .await
        .unwrap_or_else(|| {
            let mut s = ledger::CleanupSummary::default();
            for (_, r) in cx.ledger.state().pending() {
                if r.target == spec.name {
                    let why = format!(
                        "not deleted within the {}s cleanup budget after the abort",
                        super::CLEANUP_BUDGET.as_secs()
                    );
                    s.failed.push((r, why));
                }
            }
            s
        });
    let cleanup_timing = watch.finish(Duration::ZERO);
    let mut out = StageOutput::new(if cleanup.failed.is_empty() {
        format!(
            "deleted {} scratch resource(s){}",
            cleanup.deleted.len(),
            if cleanup.already_gone.is_empty() {
                String::new()
            } else {
                format!(", {} already gone", cleanup.already_gone.len())
            }
        )
    } else {
        format!(
            "{} scratch resource(s) could not be deleted",
            cleanup.failed.len()
        )
    })
    .emulated(emulated_all);
    for (r, e) in &cleanup.failed {
        out.findings.push(Finding::error(
            "cleanup.incomplete",
            format!("could not delete {r}: {e}"),
        ));
    }
    let cleanup_outcome = if cleanup.failed.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Failed
    };
    rec.finish(Stage::Cleanup, cleanup_outcome, Some(cleanup_timing), out);

    // Objectives.
    let objectives = ObjectivesInfo {
        rto: spec.objectives.rto,
        rpo: spec.objectives.rpo,
    };
    let validation_passed =
        validated.is_some() && !checks.iter().any(|c| c.status == CheckStatus::Failed);
    let rto = match (fault_at, validate_end) {
        (Some(fault), Some(end)) if validation_passed => {
            let value = end.since(fault);
            Some(Measured {
                value,
                error: span_error,
                objective: objectives.rto,
                met: value <= objectives.rto,
                emulated: emulated_all,
                method: MeasureMethod::RestoreValidated,
            })
        }
        (Some(_), Some(_)) => {
            rec.findings.push(Finding::error(
                "rto.not-recovered",
                "the restored copy did not pass validation, so recovery never completed: RTO not met",
            ));
            None
        }
        _ => None,
    };

    let mut canary_report = None;
    let rpo = match fault_at {
        Some(fault) => {
            if let (Some(plan), Some(sink)) = (canary_plan, &sink) {
                let recovered = validated.as_ref().and_then(|v| v.canary);
                let report = canary::assess(
                    sink.location(),
                    plan.interval,
                    &canary_writes,
                    recovered,
                    fault.utc,
                    backup_done.map(|b| b.utc),
                );
                let measured = report.measured_rpo.map(|value| {
                    let error = recovered
                        .and_then(|r| canary_writes.iter().find(|w| w.seq == r.seq))
                        .map_or(Duration::ZERO, |w| w.latency);
                    Measured {
                        value,
                        error,
                        objective: objectives.rpo,
                        met: value <= objectives.rpo,
                        emulated: emulated_all,
                        method: MeasureMethod::Canary,
                    }
                });
                if validated.is_some() {
                    if measured.is_none() {
                        rec.findings.push(Finding::error(
                            "rpo.no-canary-recovered",
                            format!(
                                "no canary came back: all {} canary write(s) were lost",
                                report.written
                            ),
                        ));
                    } else if report.lost_writes > 0 {
                        rec.findings.push(Finding::info(
                            "rpo.canaries-lost",
                            format!(
                                "{} of {} canary write(s) were lost (written after the backup)",
                                report.lost_writes, report.written
                            ),
                        ));
                    }
                }
                canary_report = Some(report);
                measured
            } else {
                backup_done.map(|b| {
                    let value = fault.since(b);
                    Measured {
                        value,
                        error: Duration::ZERO,
                        objective: objectives.rpo,
                        met: value <= objectives.rpo,
                        emulated: emulated_all,
                        method: MeasureMethod::Snapshot,
                    }
                })
            }
        }
        None => None,
    };
    if let Some(m) = &rto
        && !m.met
    {
        rec.findings.push(Finding::error(
            "rto.missed",
            format!(
                "measured RTO {} exceeds the objective {}",
                crate::timing::human(m.value),
                crate::timing::human(m.objective)
            ),
        ));
    }
    if let Some(m) = &rpo
        && !m.met
    {
        let lost = canary_report.as_ref().map_or(String::new(), |c| {
            format!(" ({} canary write(s) lost)", c.lost_writes)
        });
        rec.findings.push(Finding::error(
            "rpo.missed",
            format!(
                "measured RPO {} exceeds the objective {}{lost}",
                crate::timing::human(m.value),
                crate::timing::human(m.objective)
            ),
        ));
    }
    let not_verified = checks
        .iter()
        .filter(|c| c.status == CheckStatus::NotVerified)
        .count();
    if not_verified > 0 {
        rec.findings.push(Finding::warning(
            "checks.not-verified",
            format!("{not_verified} check(s) could not be verified and do not count as passed"),
        ));
    }

    let cancelled = rec.stages.iter().any(|s| s.outcome == Outcome::Cancelled);
    let all_stages_ok = rec.stages.iter().all(|s| s.outcome == Outcome::Passed);
    let passed = rec.failed_at.is_none()
        && all_stages_ok
        && validation_passed
        && rto.is_some_and(|m| m.met)
        && rpo.is_some_and(|m| m.met)
        && !rec.findings.iter().any(|f| f.severity == Severity::Error);
    if !passed && !cancelled && shared.abort_on_failure {
        shared.abort.abort(format!(
            "target `{}` failed and the scenario sets `abort_on_failure`",
            spec.name
        ));
    }
    let verdict = if cancelled {
        Verdict::Aborted
    } else if passed {
        Verdict::Passed
    } else if rec.environment_error {
        Verdict::Error
    } else {
        Verdict::Failed
    };
    let report = TargetReport {
        name: spec.name.clone(),
        kind: spec.kind.to_string(),
        resource: spec.target.resource(),
        objectives,
        verdict,
        stages: rec.stages,
        checks,
        findings: rec.findings,
        canary: canary_report,
        rto,
        rpo,
    };
    shared.events.emit(&Event::TargetFinished {
        report: Box::new(report.clone()),
    });
    DrillResult {
        report,
        environment_error: rec.environment_error,
    }
}
