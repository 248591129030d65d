//! Recording one target's stages: each stage is timed, raced against
//! cancellation, turned into a [`StageRecord`] and emitted as an event; the
//! first drill stage that fails stops the ones after it.

use std::future::Future;
use std::time::Duration;

use firedrill_core::timing::{Moment, Timing};
use firedrill_core::{Finding, Outcome, Stage, StageError, StageOutput, StageRecord};

use super::RunShared;
use crate::report::Event;
use crate::targets::StageContext;

/// Things a stage returns that carry a [`StageOutput`].
pub(crate) trait AsStageOutput {
    fn output(&self) -> &StageOutput;
}

impl AsStageOutput for StageOutput {
    fn output(&self) -> &StageOutput {
        self
    }
}

/// A stage that passed: what it returned, and when it started and ended.
pub(crate) struct Timed<T> {
    pub value: T,
    pub start: Moment,
    pub end: Moment,
    /// How much earlier than `end` the stage may really have ended.
    pub error: Duration,
}

/// The stages and findings of one target, as they happen.
pub(crate) struct Recorder<'a> {
    shared: &'a RunShared,
    target: String,
    /// Every service the target uses is an emulator.
    emulated: bool,
    stages: Vec<StageRecord>,
    findings: Vec<Finding>,
    /// The first drill stage (backup → validate) that did not complete.
    failed_at: Option<Stage>,
    /// Whether the environment, not the drill, caused a failure (exit 3).
    environment_error: bool,
    /// Why the recovery stages may not run, though nothing of this target failed.
    blocked: Option<String>,
}

impl<'a> Recorder<'a> {
    pub fn new(
        shared: &'a RunShared,
        target: &str,
        preflight: StageRecord,
        emulated: bool,
    ) -> Self {
        Self {
            shared,
            target: target.to_string(),
            emulated,
            stages: vec![preflight],
            findings: Vec::new(),
            failed_at: None,
            environment_error: false,
            blocked: None,
        }
    }

    /// No drill stage has failed so far.
    pub fn ok(&self) -> bool {
        self.failed_at.is_none() && self.blocked.is_none()
    }

    /// The stages still due are skipped with this reason (a dependency
    /// that was not recovered).
    pub fn block(&mut self, reason: String) {
        self.blocked.get_or_insert(reason);
    }

    /// Why this target was not recovered, for its dependants.
    pub fn not_recovered_because(&self) -> String {
        match (&self.blocked, self.failed_at) {
            (Some(b), _) => format!("skipped: {b}"),
            (None, Some(f)) => format!("{f} did not complete"),
            (None, None) => "not validated".to_string(),
        }
    }

    pub fn emulated(&self) -> bool {
        self.emulated
    }

    pub fn environment_error(&self) -> bool {
        self.environment_error
    }

    /// A finding outside any stage's output.
    pub fn note(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Note a failure of a drill stage: later stages are skipped.
    pub fn stop_at(&mut self, stage: Stage, err: &StageError) {
        self.environment_error |= err.is_environment();
        self.failed_at.get_or_insert(stage);
    }

    pub fn started(&self, stage: Stage) {
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

    pub fn passed(&mut self, stage: Stage, timing: Timing, out: StageOutput) {
        self.finish(stage, Outcome::Passed, Some(timing), out);
    }

    /// A stage that ran to its end and failed, with its own output.
    pub fn finished_failed(&mut self, stage: Stage, timing: Timing, out: StageOutput) {
        self.finish(stage, Outcome::Failed, Some(timing), out);
    }

    /// A stage that ended in an error: failed, timed out or cancelled, with
    /// a finding saying which (none for a cancellation: the abort is the news).
    pub fn failed(&mut self, stage: Stage, timing: Timing, err: &StageError) {
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
        let verb = if outcome == Outcome::Cancelled {
            "was"
        } else {
            "failed"
        };
        let mut out = StageOutput::new(err.to_string()).emulated(self.emulated);
        out.request(stage.as_str(), err.request_id());
        if outcome != Outcome::Cancelled {
            out.findings
                .push(Finding::error(&code, format!("{stage} {verb}: {err}")));
        }
        self.finish(stage, outcome, Some(timing), out);
    }

    /// Run one drill stage on the target's services.
    pub async fn stage<T, F>(
        &mut self,
        cx: &StageContext,
        stage: Stage,
        fut: F,
    ) -> Result<Timed<T>, ()>
    where
        F: Future<Output = Result<T, StageError>>,
        T: AsStageOutput,
    {
        let emulated = self.emulated;
        self.stage_as(cx, stage, emulated, fut).await
    }

    /// Run one drill stage: time it, race it against cancellation, record
    /// it; a failure stops the stages after it. `emulated` marks a failure's
    /// record (a fault may call another service than the rest).
    pub async fn stage_as<T, F>(
        &mut self,
        cx: &StageContext,
        stage: Stage,
        emulated: bool,
        fut: F,
    ) -> Result<Timed<T>, ()>
    where
        F: Future<Output = Result<T, StageError>>,
        T: AsStageOutput,
    {
        self.started(stage);
        let watch = cx.clock.start();
        // Cancellation is polled first: once the run is aborted a stage's
        // future must not be polled even once, or its first request (a
        // fault!) could already be on the wire.
        let res = tokio::select! {
            biased;
            () = cx.cancel.cancelled() => Err(StageError::Cancelled),
            r = fut => r,
        };
        match res {
            Ok(value) => {
                let out = value.output().clone();
                let end = out.observed.unwrap_or_else(|| cx.clock.now());
                let error = out.error_bound;
                let timing = Timing::between(watch.started(), end, error);
                self.passed(stage, timing, out);
                Ok(Timed {
                    value,
                    start: watch.started(),
                    end,
                    error,
                })
            }
            Err(e) => {
                let was = std::mem::replace(&mut self.emulated, emulated);
                self.failed(stage, watch.finish(Duration::ZERO), &e);
                self.emulated = was;
                self.stop_at(stage, &e);
                Err(())
            }
        }
    }

    /// Record a stage run outside [`Recorder::stage`] (a hook).
    pub fn record(&mut self, record: StageRecord) {
        self.shared.events.emit(&Event::StageFinished {
            target: self.target.clone(),
            record: record.clone(),
        });
        self.stages.push(record);
    }

    /// Record as skipped each of `stages` that did not run, unless
    /// `optional` says it was never due.
    pub fn skip_missing(&mut self, stages: &[Stage], optional: impl Fn(Stage) -> bool) {
        for &s in stages {
            if self.stages.iter().any(|r| r.stage == s) || optional(s) {
                continue;
            }
            let why = match (self.failed_at, &self.blocked) {
                (Some(f), _) => format!("skipped: {f} did not complete"),
                (None, Some(b)) => format!("skipped: {b}"),
                (None, None) => "skipped".to_string(),
            };
            self.finish(s, Outcome::Skipped, None, StageOutput::new(why));
        }
    }

    /// The records and findings, for the assessment and the report.
    pub fn finish_records(&mut self) -> (Vec<StageRecord>, Vec<Finding>) {
        (
            std::mem::take(&mut self.stages),
            std::mem::take(&mut self.findings),
        )
    }
}
