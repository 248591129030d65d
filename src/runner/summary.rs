//! The end of a run: what cleanup left, the run's verdict and exit code
//! (from the one rule in `firedrill_core::verdict`), regressions against
//! earlier runs, and the report every format renders.

use std::collections::BTreeMap;

use firedrill_core::timing::Moment;
use firedrill_core::verdict::{exit_code, run_verdict};
use firedrill_core::{ApiCallStats, Finding, Service, Verdict};

use super::RunOptions;
use crate::ledger::{Ledger, Status};
use crate::report::model::{redact_userinfo, strip_userinfo};
use crate::report::{
    CleanupReport, EnvironmentInfo, Provenance, Report, SCHEMA_VERSION, ScenarioInfo, TargetReport,
};
use crate::scenario::Scenario;

/// What cleanup left, read back from the ledger; marks the ledger finished
/// when nothing remains.
pub(super) fn cleanup_report(ledger: &Ledger, findings: &mut Vec<Finding>) -> CleanupReport {
    let state = ledger.state();
    let remaining: Vec<String> = state.pending().iter().map(|(_, r)| r.to_string()).collect();
    let complete = remaining.is_empty();
    if complete {
        let _ = ledger.finish();
    } else {
        findings.push(Finding::error(
            "cleanup.incomplete",
            format!(
                "{} scratch resource(s) remain; run `firedrill reap`",
                remaining.len()
            ),
        ));
    }
    CleanupReport {
        complete,
        created: state.resources.len(),
        deleted: state
            .resources
            .values()
            .filter(|(_, status)| *status == Status::Deleted)
            .count(),
        remaining,
        retained: state
            .retained()
            .into_iter()
            .map(|(_, r, _, _)| r.to_string())
            .collect(),
    }
}

/// Everything a finished run knows.
pub(super) struct Outcome<'a> {
    pub scenario: &'a Scenario,
    /// The run's seed, when a target chose an existing recovery point.
    pub seed: Option<u64>,
    pub options: &'a RunOptions,
    pub run_id: String,
    pub started: Moment,
    pub targets: Vec<TargetReport>,
    pub findings: Vec<Finding>,
    /// A guard, a preflight or a target's stage failed because of the environment.
    pub environment_error: bool,
    pub aborted: Option<String>,
    pub account_id: Option<String>,
    pub cleanup: CleanupReport,
    /// The run's requests, retries and throttling answers per service.
    pub api_calls: BTreeMap<Service, ApiCallStats>,
    pub levels: Vec<Vec<String>>,
    /// What the selecting targets expanded to.
    pub selections: Vec<firedrill_core::select::SelectionReport>,
    pub gates: Vec<crate::report::GateReport>,
    pub hooks: Vec<firedrill_core::StageRecord>,
    pub app_rto: Option<crate::report::AppRtoReport>,
}

/// The report of a finished run.
pub(super) fn report(o: Outcome<'_>) -> Report {
    let Outcome {
        scenario,
        options,
        mut findings,
        targets,
        ..
    } = o;
    // A non-critical target is reported, and warned about, but does not
    // decide the verdict (an abort or environment error still does).
    let verdicts: Vec<Verdict> = targets
        .iter()
        .map(|t| match t.verdict {
            Verdict::Failed if !t.critical => Verdict::Passed,
            v => v,
        })
        .collect();
    for t in targets
        .iter()
        .filter(|t| !t.critical && t.verdict == Verdict::Failed)
    {
        findings.push(Finding::warning(
            "target.not-critical-failed",
            format!(
                "target `{}` failed; it is not critical, so the run's verdict does not count it",
                t.name
            ),
        ));
    }
    let errors = findings.iter().filter(|f| f.is_error()).count();
    let verdict = run_verdict(&verdicts, o.aborted.is_some(), o.environment_error, errors);
    findings.extend(crate::history::regressions(
        &options.reports_dir,
        &scenario.name,
        &targets,
        scenario.run.regression_threshold,
        crate::history::REGRESSION_WINDOW,
    ));
    let finished = options.clock.now();
    let (scenario_text, scenario_text_redacted) = redact_userinfo(&scenario.source.text);
    Report {
        schema_version: SCHEMA_VERSION,
        firedrill_version: env!("CARGO_PKG_VERSION").to_string(),
        run_id: o.run_id,
        scenario: ScenarioInfo {
            name: scenario.name.clone(),
            description: scenario.description.clone(),
            owner: scenario.owner.clone(),
            path: scenario.source.path.display().to_string(),
            sha256: scenario.source.sha256.clone(),
        },
        environment: environment_info(scenario, o.account_id),
        objectives: scenario.objectives,
        started_at: o.started.utc,
        finished_at: finished.utc,
        duration: finished.since(o.started),
        verdict,
        exit_code: exit_code(verdict, o.cleanup.complete),
        aborted: o.aborted,
        provenance: Provenance {
            operator: Provenance::operator_here(),
            scenario_text,
            timing_source: timing_source(&targets).to_string(),
            scenario_text_redacted,
        },
        targets,
        findings,
        cleanup: o.cleanup,
        api_calls: api_calls(o.api_calls),
        controls: scenario.controls.clone(),
        seed: o.seed,
        levels: o.levels,
        selections: o.selections,
        gates: o.gates,
        hooks: o.hooks,
        app_rto: o.app_rto,
    }
}

/// The report's API counts, keyed by service name, without services the
/// run never called.
fn api_calls(by_service: BTreeMap<Service, ApiCallStats>) -> BTreeMap<String, ApiCallStats> {
    by_service
        .into_iter()
        .filter(|(_, stats)| !stats.is_empty())
        .map(|(service, stats)| (service.as_str().to_string(), stats))
        .collect()
}

fn environment_info(scenario: &Scenario, account_id: Option<String>) -> EnvironmentInfo {
    let env = &scenario.environment;
    EnvironmentInfo {
        region: env.region.clone(),
        emulated: Service::ALL.iter().all(|s| env.is_emulated(*s)),
        endpoints: Service::ALL
            .iter()
            .filter_map(|s| {
                env.endpoint(*s)
                    .map(|u| (s.as_str().to_string(), strip_userinfo(u)))
            })
            .collect(),
        account_id,
    }
}

/// `real`, `emulated` or `mixed`: how the run's timings were measured.
fn timing_source(targets: &[TargetReport]) -> &'static str {
    let (mut real, mut emulated) = (false, false);
    for s in targets.iter().flat_map(|t| t.stages.iter()) {
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
}
