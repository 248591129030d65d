//! The gate before anything is created: guards that need no network, a
//! read-only preflight of every target (concurrently), then the guards that
//! need the account id and the targets' tags. A refused gate ends the run
//! with nothing to clean up.

use std::collections::BTreeMap;
use std::time::Duration;

use firedrill_core::timing::{Moment, Timing};
use firedrill_core::{Finding, Outcome, Stage, StageError, StageOutput, StageRecord, Verdict};
use futures::stream::{self, StreamExt};

use super::{RunOptions, Setup, concurrency, guards};
use crate::report::{Event, Fanout, TargetReport};
use crate::scenario::{Scenario, TargetSpec};
use crate::targets::StageContext;

/// What the gate found.
pub(super) struct Gate {
    /// One preflight record per target (`None` where none ran).
    pub preflights: Vec<Option<StageRecord>>,
    pub findings: Vec<Finding>,
    /// A guard or a preflight stopped the drill.
    pub refused: bool,
    pub account_id: Option<String>,
}

/// Run the gate.
pub(super) async fn gate(scenario: &mut Scenario, options: &RunOptions, setup: &Setup) -> Gate {
    let mut gate = Gate {
        preflights: Vec::new(),
        findings: Vec::new(),
        refused: false,
        account_id: None,
    };
    // Guards that need no network come first: a missing --allow-destructive
    // refuses the drill before a single API call.
    for r in guards::without_network(scenario, options.allow_destructive) {
        gate.refused = true;
        gate.findings.push(Finding::error("guard.refused", r));
    }
    if gate.refused {
        return gate;
    }
    // A selection that could not be expanded refuses the drill before any
    // target's preflight.
    if !setup.expansion.failures.is_empty() {
        gate.refused = true;
        gate.findings
            .extend(setup.expansion.failures.iter().cloned());
        return gate;
    }
    let tags = preflight_all(scenario, options, setup, &mut gate).await;
    if gate.refused {
        return gate;
    }
    let verdict = guards::check(scenario, &setup.clients, &tags, options.allow_destructive).await;
    gate.account_id.clone_from(&verdict.account_id);
    gate.findings.extend(
        verdict
            .notes
            .iter()
            .map(|n| Finding::info("guard.note", n.clone())),
    );
    for r in &verdict.refusals {
        gate.refused = true;
        gate.findings
            .push(Finding::error("guard.refused", r.clone()));
    }
    gate
}

/// Preflights are read-only and independent: run them concurrently (in
/// scenario order for the report), so 200 targets do not queue behind each
/// other's round trips. Returns each target's tags.
async fn preflight_all(
    scenario: &mut Scenario,
    options: &RunOptions,
    setup: &Setup,
    gate: &mut Gate,
) -> Vec<BTreeMap<String, String>> {
    let limit = concurrency(scenario, options);
    let contexts: Vec<StageContext> = scenario
        .targets
        .iter()
        .enumerate()
        .map(|(i, spec)| setup.context(scenario, options, i, &spec.name, &spec.target.resource()))
        .collect();
    let environment = &scenario.environment;
    let events = &setup.shared.events;
    let results: Vec<Preflighted> = stream::iter(scenario.targets.iter_mut().zip(contexts))
        .map(|(spec, cx)| async move { preflight_one(spec, &cx, environment, events).await })
        .buffered(limit)
        .collect()
        .await;
    let mut tags = Vec::new();
    for p in results {
        if let Some(f) = p.finding {
            gate.refused = true;
            gate.findings.push(f);
        }
        gate.preflights.push(Some(p.record));
        tags.push(p.tags.unwrap_or_default());
    }
    tags
}

/// One target's preflight: its record, the resource's tags, and the
/// finding that stops the drill if it failed.
struct Preflighted {
    record: StageRecord,
    tags: Option<BTreeMap<String, String>>,
    finding: Option<Finding>,
}

async fn preflight_one(
    spec: &mut TargetSpec,
    cx: &StageContext,
    environment: &firedrill_core::Environment,
    events: &Fanout,
) -> Preflighted {
    let emulated = spec.target.services().iter().all(|s| cx.emulated(*s));
    events.emit(&Event::StageStarted {
        target: spec.name.clone(),
        stage: Stage::Preflight,
    });
    let watch = cx.clock.start();
    let res = tokio::select! {
        biased;
        () = cx.cancel.cancelled() => Err(StageError::Cancelled),
        r = spec.target.preflight(cx) => r,
    };
    let timing = watch.finish(Duration::ZERO);
    let done = match res {
        Ok(p) => Preflighted {
            record: record(Outcome::Passed, timing, emulated, p.detail),
            tags: Some(p.tags),
            finding: None,
        },
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
            let code = if e.is_environment() {
                "preflight.environment"
            } else {
                "preflight.failed"
            };
            let outcome = if matches!(e, StageError::Cancelled) {
                Outcome::Cancelled
            } else {
                Outcome::Failed
            };
            Preflighted {
                record: record(outcome, timing, emulated, e.to_string()),
                tags: None,
                finding: Some(Finding::error(
                    code,
                    format!("target `{}` ({}): {e}", spec.name, endpoints.join(", ")),
                )),
            }
        }
    };
    events.emit(&Event::StageFinished {
        target: spec.name.clone(),
        record: done.record.clone(),
    });
    done
}

fn record(outcome: Outcome, timing: Timing, emulated: bool, detail: String) -> StageRecord {
    let out = StageOutput::new(detail);
    StageRecord {
        stage: Stage::Preflight,
        outcome,
        timing: Some(timing),
        emulated,
        detail: out.detail,
        request_ids: out.request_ids,
        facts: out.facts,
    }
}

/// The reports of a refused run: every target stopped at preflight.
pub(super) fn refused_reports(
    scenario: &Scenario,
    mut preflights: Vec<Option<StageRecord>>,
    started: Moment,
) -> Vec<TargetReport> {
    preflights.resize_with(scenario.targets.len(), || None);
    scenario
        .targets
        .iter()
        .zip(preflights)
        .map(|(spec, pre)| {
            let pre = pre.unwrap_or_else(|| {
                record(
                    Outcome::Skipped,
                    Timing::between(started, started, Duration::ZERO),
                    false,
                    "skipped: the drill was refused before preflight".into(),
                )
            });
            TargetReport {
                name: spec.name.clone(),
                kind: spec.kind.to_string(),
                resource: spec.target.resource(),
                objectives: spec.objectives,
                verdict: Verdict::Error,
                stages: vec![pre],
                checks: Vec::new(),
                findings: Vec::new(),
                canary: None,
                rto: None,
                rpo: None,
                retained: Vec::new(),
                recovery_point: None,
                last_proven: None,
                critical: spec.critical,
            }
        })
        .collect()
}
