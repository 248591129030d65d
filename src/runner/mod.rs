//! The runner: preflight every target (read-only, guards), then drill the
//! targets concurrently, clean up, and hand the report to the reporters.
//! It emits [`Event`]s and never formats output itself.

mod abort;
mod drill;
mod events;
pub mod guards;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use futures::stream::{self, StreamExt};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub use abort::{Abort, CLEANUP_BUDGET};
pub use events::Event;

use crate::aws::Clients;
use crate::exit;
use crate::ledger::{self, Ledger};
use crate::report::{
    CleanupReport, EnvironmentInfo, Fanout, ObjectivesInfo, Outcome, Report, SCHEMA_VERSION,
    ScenarioInfo, Stage, StageRecord, TargetReport, Verdict,
};
use crate::scenario::{Scenario, Service};
use crate::targets::{Finding, StageContext, StageError, StageOutput};
use crate::timing::{Clock, Timing};

/// How a run is carried out (beyond the scenario).
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Reports go to `<reports_dir>/<scenario>/<run id>/`.
    pub reports_dir: PathBuf,
    /// `--allow-destructive`: one of the three opt-ins for faults on real AWS.
    pub allow_destructive: bool,
    /// Overrides the scenario's `max_concurrency`.
    pub max_concurrency: Option<usize>,
    pub clock: Clock,
    /// Cancelled on SIGINT/SIGTERM; the runner also cancels it on max duration.
    pub cancel: CancellationToken,
    /// SDK retry settings (tests shorten them).
    pub retry: Option<RetryConfig>,
}

impl RunOptions {
    pub fn new(reports_dir: impl Into<PathBuf>) -> Self {
        Self {
            reports_dir: reports_dir.into(),
            allow_destructive: false,
            max_concurrency: None,
            clock: Clock::system(),
            cancel: CancellationToken::new(),
            retry: None,
        }
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    pub report: Report,
    pub run_dir: PathBuf,
}

/// The run could not start at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot create the run directory {}: {message}", path.display())]
    RunDir { path: PathBuf, message: String },
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
}

/// State shared by every target's task.
pub(crate) struct RunShared {
    pub events: Fanout,
    pub abort: Abort,
    /// Abort the whole run when one target fails.
    pub abort_on_failure: bool,
}

/// A new run id: UTC time plus randomness, lowercase and DNS-safe, so that
/// scratch resources can be named after it.
pub fn new_run_id(now: OffsetDateTime) -> String {
    let suffix: u32 = rand::random::<u32>() & 0x00ff_ffff;
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}-{suffix:06x}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Run a drill.
pub async fn run(
    mut scenario: Scenario,
    options: RunOptions,
    events: Fanout,
) -> Result<RunOutcome, RunError> {
    let clock = options.clock.clone();
    let started = clock.now();
    let run_id = new_run_id(started.utc);
    let run_dir = options.reports_dir.join(&scenario.name).join(&run_id);
    std::fs::create_dir_all(&run_dir).map_err(|e| RunError::RunDir {
        path: run_dir.clone(),
        message: e.to_string(),
    })?;
    let clients = match &options.retry {
        Some(retry) => Clients::with_retry(&scenario.environment, &clock, retry.clone()).await,
        None => Clients::new(&scenario.environment, &clock).await,
    };
    let ledger = Ledger::create(&run_dir, &run_id, &scenario.name, &scenario.environment)?;
    let cancel = options.cancel.clone();
    let abort = Abort::new(cancel.clone());
    let shared = Arc::new(RunShared {
        events: events.clone(),
        abort: abort.clone(),
        abort_on_failure: scenario.run.abort_on_failure,
    });
    let expires_at = started.utc + scenario.run.scratch_ttl;

    events.emit(&Event::RunStarted {
        run_id: run_id.clone(),
        scenario: scenario.name.clone(),
        targets: scenario.targets.iter().map(|t| t.name.clone()).collect(),
        run_dir: run_dir.clone(),
    });

    // Abort at the scenario's maximum duration.
    if let Some(max) = scenario.run.max_duration {
        let (abort, clock) = (abort.clone(), clock.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = clock.sleep(max) => abort.abort(format!("maximum drill duration {} reached", crate::timing::human(max))),
                () = abort.token().cancelled() => {}
            }
        });
    }

    let context = |index: usize, name: &str| StageContext {
        run_id: run_id.clone(),
        run_dir: run_dir.clone(),
        target_name: name.to_string(),
        target_index: index,
        clients: clients.clone(),
        ledger: ledger.clone(),
        clock: clock.clone(),
        stage_timeout: scenario.run.stage_timeout,
        expires_at,
        cancel: cancel.clone(),
    };

    // Preflight every target before anything is created: a missing bucket or
    // a refused guard must stop the drill while there is nothing to clean up.
    let mut run_findings: Vec<Finding> = Vec::new();
    let mut preflights: Vec<Option<StageRecord>> = Vec::new();
    // Guards that need no network come first: a missing --allow-destructive
    // refuses the drill before a single API call.
    let early = guards::without_network(&scenario, options.allow_destructive);
    let refused_early = !early.is_empty();
    let mut preflight_failed = refused_early;
    for r in early {
        run_findings.push(Finding::error("guard.refused", r));
    }
    // Preflights are read-only and independent: run them concurrently (in
    // scenario order for the report), so 200 targets do not queue behind
    // each other's HeadBucket round trips.
    let limit = options
        .max_concurrency
        .unwrap_or(scenario.run.max_concurrency)
        .max(1);
    let mut tags = Vec::new();
    if !refused_early {
        let environment = &scenario.environment;
        let results: Vec<PreflightResult> = stream::iter(scenario.targets.iter_mut().enumerate())
            .map(|(index, spec)| {
                let cx = context(index, &spec.name);
                let (events, clock, cancel) = (&events, &clock, &cancel);
                async move { preflight_one(spec, &cx, environment, events, clock, cancel).await }
            })
            .buffered(limit)
            .collect()
            .await;
        for (record, tag_map, finding) in results {
            if let Some(f) = finding {
                preflight_failed = true;
                run_findings.push(f);
            }
            preflights.push(Some(record));
            tags.push(tag_map.unwrap_or_default());
        }
    }

    let mut account_id = None;
    if !preflight_failed {
        let verdict = guards::check(&scenario, &clients, &tags, options.allow_destructive).await;
        account_id.clone_from(&verdict.account_id);
        run_findings.extend(
            verdict
                .notes
                .iter()
                .map(|n| Finding::info("guard.note", n.clone())),
        );
        if !verdict.refusals.is_empty() {
            preflight_failed = true;
            for r in &verdict.refusals {
                run_findings.push(Finding::error("guard.refused", r.clone()));
            }
        }
    }

    let mut reports: Vec<Option<TargetReport>> = vec![None; scenario.targets.len()];
    let mut environment_error = preflight_failed;
    if preflight_failed {
        for (i, spec) in scenario.targets.iter().enumerate() {
            let pre = preflights
                .get_mut(i)
                .and_then(Option::take)
                .unwrap_or_else(|| {
                    record(
                        Stage::Preflight,
                        Outcome::Skipped,
                        Timing::between(started, started, Duration::ZERO),
                        false,
                        StageOutput::new("skipped: the drill was refused before preflight"),
                    )
                });
            reports[i] = Some(TargetReport {
                name: spec.name.clone(),
                kind: spec.kind.to_string(),
                resource: spec.target.resource(),
                objectives: ObjectivesInfo {
                    rto: spec.objectives.rto,
                    rpo: spec.objectives.rpo,
                },
                verdict: Verdict::Error,
                stages: vec![pre],
                checks: Vec::new(),
                findings: Vec::new(),
                canary: None,
                rto: None,
                rpo: None,
            });
        }
    } else {
        let semaphore = Arc::new(Semaphore::new(limit));
        let mut tasks = tokio::task::JoinSet::new();
        let targets = std::mem::take(&mut scenario.targets);
        for (index, mut spec) in targets.into_iter().enumerate() {
            let cx = context(index, &spec.name);
            let pre = preflights[index]
                .take()
                .expect("preflight recorded for every target");
            let (shared, semaphore) = (shared.clone(), semaphore.clone());
            tasks.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                let result = drill::drill(&shared, &mut spec, cx, pre).await;
                (index, result)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, result)) => {
                    environment_error |= result.environment_error;
                    reports[index] = Some(result.report);
                }
                Err(e) => run_findings.push(Finding::error(
                    "runner.task-failed",
                    format!("a target's drill crashed: {e}"),
                )),
            }
        }
    }

    // Safety net: anything still pending in the ledger (a crashed task, a
    // resource recorded under no target) is deleted now.
    // The outcome is read back from the ledger below.
    let _ = abort
        .within_budget(ledger::delete_pending(
            &ledger, &clients, &clock, None, "cleanup",
        ))
        .await;
    // Created, deleted and remaining all come from the ledger: it is the one
    // record of what this run made.
    let state = ledger.state();
    let remaining: Vec<String> = state.pending().iter().map(|(_, r)| r.to_string()).collect();
    let cleanup_complete = remaining.is_empty();
    if cleanup_complete {
        let _ = ledger.finish();
    } else {
        run_findings.push(Finding::error(
            "cleanup.incomplete",
            format!(
                "{} scratch resource(s) remain; run `firedrill reap`",
                remaining.len()
            ),
        ));
    }
    let created = state.resources.len();
    let deleted = state
        .resources
        .values()
        .filter(|(_, status)| *status == ledger::Status::Deleted)
        .count();

    let aborted = abort.reason();
    if let Some(reason) = &aborted {
        events.emit(&Event::Aborting {
            reason: reason.clone(),
        });
    }
    let targets: Vec<TargetReport> = reports.into_iter().flatten().collect();
    let all_passed = targets.iter().all(|t| t.verdict == Verdict::Passed)
        && run_findings
            .iter()
            .all(|f| f.severity != crate::targets::Severity::Error);
    let verdict = if aborted.is_some() {
        Verdict::Aborted
    } else if environment_error {
        Verdict::Error
    } else if all_passed {
        Verdict::Passed
    } else {
        Verdict::Failed
    };
    let exit_code = if !cleanup_complete {
        exit::CLEANUP_INCOMPLETE
    } else if verdict == Verdict::Error {
        exit::ENVIRONMENT
    } else if verdict == Verdict::Passed {
        exit::PASSED
    } else {
        exit::OBJECTIVES_MISSED
    };
    run_findings.extend(crate::history::regressions(
        &options.reports_dir,
        &scenario.name,
        &targets,
        scenario.run.regression_threshold,
        crate::history::REGRESSION_WINDOW,
    ));
    let timing_source = {
        let stages = targets.iter().flat_map(|t| t.stages.iter());
        let (mut real, mut emulated) = (false, false);
        for s in stages {
            if s.emulated {
                emulated = true;
            } else {
                real = true;
            }
        }
        match (real, emulated) {
            (true, true) => "mixed",
            (false, true) => "emulated",
            _ => "real",
        }
    };
    let finished = clock.now();
    let env = &scenario.environment;
    let report = Report {
        schema_version: SCHEMA_VERSION,
        firedrill_version: env!("CARGO_PKG_VERSION").to_string(),
        run_id,
        scenario: ScenarioInfo {
            name: scenario.name.clone(),
            description: scenario.description.clone(),
            owner: scenario.owner.clone(),
            path: scenario.source.path.display().to_string(),
            sha256: scenario.source.sha256.clone(),
        },
        environment: EnvironmentInfo {
            region: env.region.clone(),
            emulated: Service::ALL.iter().all(|s| env.is_emulated(*s)),
            endpoints: Service::ALL
                .iter()
                .filter_map(|s| {
                    env.endpoint(*s).map(|u| {
                        (
                            s.as_str().to_string(),
                            crate::report::model::strip_userinfo(u),
                        )
                    })
                })
                .collect(),
            account_id,
        },
        objectives: ObjectivesInfo {
            rto: scenario.objectives.rto,
            rpo: scenario.objectives.rpo,
        },
        started_at: started.utc,
        finished_at: finished.utc,
        duration: finished.since(started),
        verdict,
        exit_code,
        aborted,
        targets,
        findings: run_findings,
        cleanup: CleanupReport {
            complete: cleanup_complete,
            created,
            deleted,
            remaining,
        },
        provenance: {
            let (scenario_text, scenario_text_redacted) =
                crate::report::model::redact_userinfo(&scenario.source.text);
            crate::report::Provenance {
                operator: crate::report::Provenance::operator_here(),
                scenario_text,
                timing_source: timing_source.to_string(),
                scenario_text_redacted,
            }
        },
        controls: scenario.controls.clone(),
    };
    events.emit(&Event::RunFinished {
        report: Box::new(report.clone()),
        run_dir: run_dir.clone(),
    });
    Ok(RunOutcome { report, run_dir })
}

/// A preflight's record, the resource's tags, and the finding that stops
/// the drill if it failed.
type PreflightResult = (
    StageRecord,
    Option<BTreeMap<String, String>>,
    Option<Finding>,
);

/// Preflight one target: its record, its resource tags, and the finding
/// that stops the drill if it failed.
async fn preflight_one(
    spec: &mut crate::scenario::TargetSpec,
    cx: &StageContext,
    environment: &crate::scenario::Environment,
    events: &Fanout,
    clock: &Clock,
    cancel: &CancellationToken,
) -> PreflightResult {
    let emulated = spec.target.services().iter().all(|s| cx.emulated(*s));
    events.emit(&Event::StageStarted {
        target: spec.name.clone(),
        stage: Stage::Preflight,
    });
    let watch = clock.start();
    let res = tokio::select! {
        biased;
        () = cancel.cancelled() => Err(StageError::Cancelled),
        r = spec.target.preflight(cx) => r,
    };
    let timing = watch.finish(Duration::ZERO);
    let (record, tag_map, finding) = match res {
        Ok(p) => (
            record(
                Stage::Preflight,
                Outcome::Passed,
                timing,
                emulated,
                StageOutput::new(p.detail),
            ),
            Some(p.tags),
            None,
        ),
        Err(e) => {
            let endpoints: Vec<String> = spec
                .target
                .services()
                .iter()
                .map(|s| {
                    let url = environment.endpoint(*s).unwrap_or("the AWS default");
                    format!("{} at {url}", s.as_str())
                })
                .collect();
            let finding = Finding::error(
                if e.is_environment() {
                    "preflight.environment"
                } else {
                    "preflight.failed"
                },
                format!("target `{}` ({}): {e}", spec.name, endpoints.join(", ")),
            );
            let outcome = if matches!(e, StageError::Cancelled) {
                Outcome::Cancelled
            } else {
                Outcome::Failed
            };
            (
                record(
                    Stage::Preflight,
                    outcome,
                    timing,
                    emulated,
                    StageOutput::new(e.to_string()),
                ),
                None,
                Some(finding),
            )
        }
    };
    events.emit(&Event::StageFinished {
        target: spec.name.clone(),
        record: record.clone(),
    });
    (record, tag_map, finding)
}

fn record(
    stage: Stage,
    outcome: Outcome,
    timing: Timing,
    emulated: bool,
    out: StageOutput,
) -> StageRecord {
    StageRecord {
        stage,
        outcome,
        timing: Some(timing),
        emulated,
        detail: out.detail,
        request_ids: out.request_ids,
        facts: out.facts,
    }
}

/// The run directory of the most recent run of a scenario, if any.
pub fn latest_run_dir(reports_dir: &Path, scenario: &str) -> Option<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(reports_dir.join(scenario))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    runs.sort();
    runs.pop()
}
