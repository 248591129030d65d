//! `firedrill reap`: finish what earlier runs left. For every run that is no
//! longer alive, in order: undo its faults that can be undone from the
//! ledger, retain what protects the faults that cannot (never deleted, tagged
//! with why), delete the rest; then delete resources found by firedrill's
//! tags whose run is dead or expired, except retained ones. `dry_run` says
//! all of it and touches nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use firedrill_core::timing::Clock;
use firedrill_core::{DeleteOutcome, Environment, RetainedCopy, ScratchResource};
use serde::Serialize;
use time::OffsetDateTime;

use super::{
    Reverted, delete_one, delete_pending, plan_reap, retain_protected, revert_open_faults,
};
use crate::aws::Clients;
use crate::ledger::{Ledger, LedgerState, find_ledgers};
use crate::targets;

/// How reap runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReapOptions {
    /// List what would be undone, retained and deleted; change nothing.
    pub dry_run: bool,
}

/// One resource `reap` removed (or would remove).
#[derive(Clone, Debug, Serialize)]
pub struct Reaped {
    pub run_id: String,
    pub resource: ScratchResource,
    /// `ledger` or `tag`.
    pub found_by: &'static str,
    pub already_gone: bool,
}

/// A copy reap keeps, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Retained {
    pub run_id: String,
    pub copy: RetainedCopy,
    /// `ledger` or `tag`.
    pub found_by: &'static str,
}

/// What `firedrill reap` did (or, dry, would do).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReapReport {
    pub dry_run: bool,
    pub ledgers_scanned: usize,
    /// Runs still in progress on this host, left alone.
    pub skipped_live_runs: Vec<String>,
    /// Faults undone (with the run they belong to).
    pub reverted: Vec<(String, Reverted)>,
    pub removed: Vec<Reaped>,
    /// Copies kept: they may be the last copy of data a fault damaged.
    pub retained: Vec<Retained>,
    /// Tagged resources left alone because they have not expired and no
    /// ledger here knows their run.
    pub skipped_unexpired: Vec<String>,
    pub failed: Vec<(ScratchResource, String)>,
}

/// A dead run with something left to do.
struct DeadRun {
    path: PathBuf,
    state: LedgerState,
}

/// Reap everything earlier runs left behind, in every environment known
/// from the ledgers and from `environments`.
pub async fn reap(
    reports_dir: &Path,
    environments: &[Environment],
    clock: &Clock,
    options: ReapOptions,
) -> ReapReport {
    let mut report = ReapReport {
        dry_run: options.dry_run,
        ..ReapReport::default()
    };
    let mut envs: BTreeMap<String, Environment> = environments
        .iter()
        .map(|e| (env_key(e), e.clone()))
        .collect();
    let (mut dead_runs, mut live_runs, mut to_reap) =
        (BTreeSet::new(), BTreeSet::new(), Vec::new());
    for path in find_ledgers(reports_dir) {
        report.ledgers_scanned += 1;
        let Ok(state) = LedgerState::load(&path) else {
            continue;
        };
        envs.insert(env_key(&state.environment), state.environment.clone());
        if state.is_live() {
            live_runs.insert(state.run_id.clone());
            report.skipped_live_runs.push(state.run_id.clone());
            continue;
        }
        dead_runs.insert(state.run_id.clone());
        report.retained.extend(already_retained(&state));
        if !state.pending().is_empty() || !state.finished || !state.open_faults().is_empty() {
            to_reap.push(DeadRun { path, state });
        }
    }
    let mut clients_by_env = BTreeMap::new();
    for (key, env) in &envs {
        clients_by_env.insert(key.clone(), Clients::new(env, clock).await);
    }
    for run in to_reap {
        if let Some(clients) = clients_by_env.get(&env_key(&run.state.environment)) {
            reap_run(&run, clients, clock, options, &mut report).await;
        }
    }
    for clients in clients_by_env.values() {
        reap_tagged(clients, clock, options, &live_runs, &dead_runs, &mut report).await;
    }
    report
}

/// Copies an earlier reap or run already retained.
fn already_retained(state: &LedgerState) -> Vec<Retained> {
    state
        .retained()
        .into_iter()
        .map(|(_, resource, why, restore)| Retained {
            run_id: state.run_id.clone(),
            copy: RetainedCopy {
                resource,
                why,
                restore,
            },
            found_by: "ledger",
        })
        .collect()
}

/// One dead run: undo, retain, delete, and finish its ledger when done.
async fn reap_run(
    run: &DeadRun,
    clients: &Clients,
    clock: &Clock,
    options: ReapOptions,
    report: &mut ReapReport,
) {
    let Ok(ledger) = Ledger::open(&run.path) else {
        return;
    };
    let run_id = &run.state.run_id;
    let run_dir = run.path.parent().unwrap_or(Path::new("."));
    if options.dry_run {
        let (undone, kept, after) = plan_reap(&ledger.state());
        report
            .reverted
            .extend(undone.into_iter().map(|r| (run_id.clone(), r)));
        report
            .retained
            .extend(kept.into_iter().map(|copy| Retained {
                run_id: run_id.clone(),
                copy,
                found_by: "ledger",
            }));
        for (_, resource) in after.deletable() {
            report.removed.push(Reaped {
                run_id: run_id.clone(),
                resource,
                found_by: "ledger",
                already_gone: false,
            });
        }
        return;
    }
    for r in revert_open_faults(&ledger, clients, clock, run_dir).await {
        report.reverted.push((run_id.clone(), r));
    }
    for copy in retain_protected(&ledger, clients, None).await {
        report.retained.push(Retained {
            run_id: run_id.clone(),
            copy,
            found_by: "ledger",
        });
    }
    let summary = delete_pending(&ledger, clients, clock, None, "reap").await;
    for (resource, already_gone) in summary
        .deleted
        .into_iter()
        .map(|r| (r, false))
        .chain(summary.already_gone.into_iter().map(|r| (r, true)))
    {
        report.removed.push(Reaped {
            run_id: run_id.clone(),
            resource,
            found_by: "ledger",
            already_gone,
        });
    }
    let complete = summary.failed.is_empty();
    report.failed.extend(summary.failed);
    let state = ledger.state();
    if complete && state.pending().is_empty() && !state.finished {
        let _ = ledger.finish();
    }
}

/// Resources found by tag: deleted when their run is dead or expired,
/// except those retained.
async fn reap_tagged(
    clients: &Clients,
    clock: &Clock,
    options: ReapOptions,
    live_runs: &BTreeSet<String>,
    dead_runs: &BTreeSet<String>,
    report: &mut ReapReport,
) {
    let now = OffsetDateTime::now_utc();
    for kind in targets::REGISTRY {
        let Ok(tagged) = (kind.find_tagged)(clients).await else {
            continue;
        };
        for t in tagged {
            if live_runs.contains(&t.run_id) {
                continue;
            }
            if let Some(why) = t.retained {
                let known = report
                    .retained
                    .iter()
                    .any(|r| r.copy.resource.id == t.resource.id);
                if !known {
                    report.retained.push(Retained {
                        run_id: t.run_id.clone(),
                        copy: RetainedCopy {
                            restore: format!(
                                "see the tag {}; no ledger here knows run {}",
                                firedrill_core::resource::TAG_RETAINED,
                                t.run_id
                            ),
                            resource: t.resource,
                            why,
                        },
                        found_by: "tag",
                    });
                }
                continue;
            }
            let expired = t.expires_at.is_some_and(|e| e <= now);
            if !expired && !dead_runs.contains(&t.run_id) {
                report
                    .skipped_unexpired
                    .push(format!("{} (run {})", t.resource, t.run_id));
                continue;
            }
            if options.dry_run {
                report.removed.push(Reaped {
                    run_id: t.run_id.clone(),
                    resource: t.resource,
                    found_by: "tag",
                    already_gone: false,
                });
                continue;
            }
            match delete_one(&t.resource, clients, clock).await {
                Ok(outcome) => report.removed.push(Reaped {
                    run_id: t.run_id.clone(),
                    resource: t.resource,
                    found_by: "tag",
                    already_gone: outcome == DeleteOutcome::AlreadyGone,
                }),
                Err(e) => report.failed.push((t.resource, e)),
            }
        }
    }
}

fn env_key(env: &Environment) -> String {
    serde_json::to_string(env).unwrap_or_default()
}
