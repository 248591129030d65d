//! The runner: preflight every target (read-only, guards), then drill the
//! targets concurrently, clean up, and hand the report to the reporters.
//! It emits [`Event`]s and never formats output itself; what a run proved is
//! decided by the pure functions of `firedrill_core::verdict` and
//! `firedrill_core::assess`.

mod abort;
mod drill;
mod gates;
pub mod guards;
mod hooks;
mod preflight;
mod record;
mod schedule;
pub(crate) mod select;
mod summary;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_config::retry::RetryConfig;
use firedrill_core::Finding;
use firedrill_core::recovery::{ChoiceInputs, target_seed};
use firedrill_core::timing::{Clock, Moment, human};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub use abort::{Abort, CLEANUP_BUDGET};

use crate::aws::Clients;
use crate::cleanup;
use crate::ledger::Ledger;
use crate::report::{Event, Fanout, Report, TargetReport};
use crate::scenario::Scenario;
use crate::targets::StageContext;

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
    /// `--seed`: repeats the recovery point choices of an earlier run
    /// (default: a random seed, printed and recorded in the report).
    pub seed: Option<u64>,
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
            seed: None,
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
    Ledger(#[from] firedrill_core::LedgerError),
}

/// State shared by every target's task.
pub(crate) struct RunShared {
    pub events: Fanout,
    pub abort: Abort,
    /// Abort the whole run when one target fails.
    pub abort_on_failure: bool,
    /// Which targets are recovered, for the targets that depend on them.
    pub board: schedule::Board,
    /// The run has gates: targets keep their restored resources until
    /// `gates_done`.
    pub has_gates: bool,
    /// Cancelled once every gate has finished.
    pub gates_done: CancellationToken,
    /// Targets drilled at once; in outage mode a target gives its permit
    /// back while it waits for the others and for its dependencies.
    pub semaphore: Arc<Semaphore>,
    /// `mode = "outage"`: every target meets here before its fault.
    pub outage: Option<tokio::sync::Barrier>,
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

/// Everything a run's stages share, set up before the first event.
struct Setup {
    run_id: String,
    run_dir: PathBuf,
    started: Moment,
    clients: Clients,
    ledger: Ledger,
    shared: Arc<RunShared>,
    /// Scratch resources expire for `reap` at this time.
    expires_at: OffsetDateTime,
    /// The run's seed for choosing existing recovery points.
    seed: u64,
    /// Recovery points earlier drills proved, by resource then id.
    proven: BTreeMap<String, BTreeMap<String, OffsetDateTime>>,
    /// What the selecting targets expanded to.
    expansion: select::Expansion,
}

impl Setup {
    async fn new(
        scenario: &mut Scenario,
        options: &RunOptions,
        events: &Fanout,
    ) -> Result<Self, RunError> {
        let clock = &options.clock;
        let started = clock.now();
        let run_id = new_run_id(started.utc);
        let run_dir = options.reports_dir.join(&scenario.name).join(&run_id);
        std::fs::create_dir_all(&run_dir).map_err(|e| RunError::RunDir {
            path: run_dir.clone(),
            message: e.to_string(),
        })?;
        let clients = match &options.retry {
            Some(retry) => Clients::with_retry(&scenario.environment, clock, retry.clone()).await,
            None => Clients::new(&scenario.environment, clock).await,
        };
        let seed = options.seed.unwrap_or_else(rand::random);
        // Selecting targets become named ones before anything counts them.
        let expansion = select::expand(scenario, &clients, seed, false).await;
        let ledger = Ledger::create(&run_dir, &run_id, &scenario.name, &scenario.environment)?;
        let shared = Arc::new(RunShared {
            events: events.clone(),
            abort: Abort::new(options.cancel.clone()),
            abort_on_failure: scenario.run.abort_on_failure,
            board: schedule::Board::new(
                scenario.targets.iter().map(|t| t.name.clone()).collect(),
                scenario.dependency_indices(),
            ),
            has_gates: !scenario.gates.is_empty() || !scenario.hooks.is_empty(),
            gates_done: CancellationToken::new(),
            semaphore: Arc::new(Semaphore::new(concurrency(scenario, options))),
            outage: scenario
                .run
                .outage
                .then(|| tokio::sync::Barrier::new(scenario.targets.len())),
        });
        let history = crate::history::read(&options.reports_dir).unwrap_or_default();
        Ok(Self {
            seed,
            expansion,
            proven: crate::history::proven_points(&history),
            expires_at: started.utc + scenario.run.scratch_ttl,
            run_id,
            run_dir,
            started,
            clients,
            ledger,
            shared,
        })
    }

    /// The stage context of target `index`.
    fn context(
        &self,
        scenario: &Scenario,
        options: &RunOptions,
        index: usize,
        name: &str,
        resource: &str,
    ) -> StageContext {
        StageContext {
            run_id: self.run_id.clone(),
            run_dir: self.run_dir.clone(),
            target_name: name.to_string(),
            target_index: index,
            clients: self.clients.clone(),
            ledger: self.ledger.clone(),
            clock: options.clock.clone(),
            stage_timeout: scenario.run.stage_timeout,
            expires_at: self.expires_at,
            cancel: options.cancel.clone(),
            recovery: ChoiceInputs::new(
                target_seed(self.seed, name),
                self.proven.get(resource).cloned().unwrap_or_default(),
            ),
        }
    }
}

/// Run a drill.
pub async fn run(
    mut scenario: Scenario,
    options: RunOptions,
    events: Fanout,
) -> Result<RunOutcome, RunError> {
    let setup = Setup::new(&mut scenario, &options, &events).await?;
    events.emit(&Event::RunStarted {
        run_id: setup.run_id.clone(),
        scenario: scenario.name.clone(),
        targets: scenario.targets.iter().map(|t| t.name.clone()).collect(),
        run_dir: setup.run_dir.clone(),
    });
    watch_max_duration(&scenario, &options, &setup.shared.abort);
    // Drilling takes the targets out of the scenario: name the levels first.
    let levels = if scenario.has_dependencies() || !scenario.gates.is_empty() {
        scenario.level_names()
    } else {
        Vec::new()
    };

    // Preflight every target before anything is created: a missing bucket or
    // a refused guard must stop the drill while there is nothing to clean up.
    let gate = preflight::gate(&mut scenario, &options, &setup).await;
    let mut findings = gate.findings;
    let (reports, environment_error, app) = if gate.refused {
        let mut reports = preflight::refused_reports(&scenario, gate.preflights, setup.started);
        // A selection that matched nothing fails the drill: the environment answered.
        let unmatched = !setup.expansion.failures.is_empty() && !setup.expansion.environment;
        if unmatched {
            for r in &mut reports {
                r.verdict = firedrill_core::Verdict::Failed;
            }
        }
        (reports, !unmatched, gates::AppRun::default())
    } else {
        drill_all(
            &mut scenario,
            &options,
            &setup,
            gate.preflights,
            &mut findings,
        )
        .await
    };

    // Safety net: anything still pending in the ledger (a crashed task, a
    // resource recorded under no target) is deleted now. The outcome is read
    // back from the ledger: it is the one record of what this run made.
    let _ = setup
        .shared
        .abort
        .within_budget(cleanup::delete_pending(
            &setup.ledger,
            &setup.clients,
            &options.clock,
            None,
            "cleanup",
        ))
        .await;
    let cleanup = summary::cleanup_report(&setup.ledger, &mut findings);
    let gate_reports: Vec<_> = app.gates.iter().map(|r| r.report.clone()).collect();
    findings.extend(gates::findings(&gate_reports));
    findings.extend(app.hooks.iter().filter_map(|h| h.finding.clone()));
    let hook_records: Vec<_> = app.hooks.iter().map(|h| h.record.clone()).collect();
    let app_rto = if app.gates.is_empty() {
        None
    } else {
        gates::app_rto(
            &app.gates,
            setup.shared.board.first_fault(),
            &reports,
            scenario.app_rto,
        )
    };

    let aborted = setup.shared.abort.reason();
    if let Some(reason) = &aborted {
        events.emit(&Event::Aborting {
            reason: reason.clone(),
        });
    }
    let seed = (reports.iter().any(|t| t.recovery_point.is_some())
        || !setup.expansion.reports.is_empty())
    .then_some(setup.seed);
    let report = summary::report(summary::Outcome {
        scenario: &scenario,
        seed,
        options: &options,
        run_id: setup.run_id.clone(),
        started: setup.started,
        targets: reports,
        findings,
        environment_error,
        aborted,
        account_id: gate.account_id,
        cleanup,
        api_calls: setup.clients.api_stats(),
        levels,
        selections: setup.expansion.reports.clone(),
        gates: gate_reports,
        hooks: hook_records,
        app_rto,
    });
    events.emit(&Event::RunFinished {
        report: Box::new(report.clone()),
        run_dir: setup.run_dir.clone(),
    });
    Ok(RunOutcome {
        report,
        run_dir: setup.run_dir,
    })
}

/// Abort at the scenario's maximum duration.
fn watch_max_duration(scenario: &Scenario, options: &RunOptions, abort: &Abort) {
    if let Some(max) = scenario.run.max_duration {
        let (abort, clock) = (abort.clone(), options.clock.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = clock.sleep(max) => abort.abort(format!("maximum drill duration {} reached", human(max))),
                () = abort.token().cancelled() => {}
            }
        });
    }
}

/// Drill every target, `max_concurrency` at a time; returns the reports in
/// scenario order and whether the environment stopped any of them.
async fn drill_all(
    scenario: &mut Scenario,
    options: &RunOptions,
    setup: &Setup,
    mut preflights: Vec<Option<firedrill_core::StageRecord>>,
    findings: &mut Vec<Finding>,
) -> (Vec<TargetReport>, bool, gates::AppRun) {
    let semaphore = setup.shared.semaphore.clone();
    let mut tasks = tokio::task::JoinSet::new();
    let gate_cx = setup.context(scenario, options, usize::MAX, "gates", "gates");
    // Scenario hooks before any fault: a failure stops the drill before
    // anything is damaged.
    let before = hooks::run_point(
        &setup.shared,
        &scenario.hooks,
        crate::scenario::hooks::HookPoint::BeforeFault,
        "scenario",
        &gate_cx,
        None,
    )
    .await;
    if let Some(f) = before.iter().find_map(|r| r.finding.as_ref()) {
        setup
            .shared
            .abort
            .abort(format!("a scenario hook failed: {}", f.message));
    }
    let gate_task = tokio::spawn(gates::run_all(
        setup.shared.clone(),
        scenario.gates.clone(),
        scenario.hooks.clone(),
        gate_cx,
    ));
    let order = schedule::launch_order(&scenario.levels());
    let mut targets: Vec<Option<_>> = std::mem::take(&mut scenario.targets)
        .into_iter()
        .map(Some)
        .collect();
    for index in order {
        let Some(mut spec) = targets[index].take() else {
            continue;
        };
        let cx = setup.context(
            scenario,
            options,
            index,
            &spec.name,
            &spec.target.resource(),
        );
        let pre = preflights[index]
            .take()
            .expect("preflight recorded for every target");
        let shared = setup.shared.clone();
        // Permits are taken here, level by level: a target then only waits
        // for dependencies that already hold theirs.
        let permit = semaphore.clone().acquire_owned().await;
        tasks.spawn(async move {
            let result = drill::drill(&shared, &mut spec, cx, pre, permit.ok()).await;
            (index, result)
        });
    }
    let mut reports: Vec<Option<TargetReport>> = Vec::new();
    reports.resize_with(preflights.len(), || None);
    let mut environment_error = false;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, result)) => {
                environment_error |= result.environment_error;
                reports[index] = Some(result.report);
            }
            Err(e) => findings.push(Finding::error(
                "runner.task-failed",
                format!("a target's drill crashed: {e}"),
            )),
        }
    }
    let mut app = match gate_task.await {
        Ok(app) => app,
        Err(e) => {
            findings.push(Finding::error(
                "runner.task-failed",
                format!("the gates crashed: {e}"),
            ));
            gates::AppRun::default()
        }
    };
    app.hooks.splice(0..0, before);
    (
        reports.into_iter().flatten().collect(),
        environment_error,
        app,
    )
}

/// Targets drilled (and preflighted) at once.
fn concurrency(scenario: &Scenario, options: &RunOptions) -> usize {
    options
        .max_concurrency
        .unwrap_or(scenario.run.max_concurrency)
        .max(1)
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
