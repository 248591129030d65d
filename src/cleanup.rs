//! Deleting scratch resources: end-of-run cleanup and `firedrill reap` share
//! this one path, so the code that reaps after a crash is the code every
//! run exercises.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::aws::Clients;
use crate::ledger::{Ledger, LedgerState, find_ledgers};
use crate::targets;
use firedrill_core::DeleteOutcome;
use firedrill_core::Environment;
use firedrill_core::ScratchResource;
use firedrill_core::timing::Clock;

/// What a cleanup pass did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CleanupSummary {
    pub deleted: Vec<ScratchResource>,
    pub already_gone: Vec<ScratchResource>,
    /// Resources that could not be deleted, with the reason.
    pub failed: Vec<(ScratchResource, String)>,
}

impl CleanupSummary {
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Attempts per resource: deletes race with eventual consistency (a bucket
/// still listing a just-deleted object, a snapshot still in use).
const ATTEMPTS: u32 = 4;

async fn delete_one(
    resource: &ScratchResource,
    clients: &Clients,
    clock: &Clock,
) -> Result<DeleteOutcome, String> {
    let Some(kind) = targets::kind(&resource.kind) else {
        return Err(format!(
            "unknown kind `{}` in the ledger (hint: written by a newer firedrill?)",
            resource.kind
        ));
    };
    let mut wait = Duration::from_millis(200);
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match (kind.delete)(resource, clients).await {
            Ok(outcome) => return Ok(outcome),
            Err(e) if e.is_environment() && attempt > 1 => return Err(e.to_string()),
            Err(e) => last = e.to_string(),
        }
        if attempt < ATTEMPTS {
            clock.sleep(wait).await;
            wait *= 3;
        }
    }
    Err(last)
}

/// Delete every pending resource in `ledger` (optionally only one target's),
/// newest first, recording each outcome.
pub async fn delete_pending(
    ledger: &Ledger,
    clients: &Clients,
    clock: &Clock,
    target: Option<&str>,
    by: &str,
) -> CleanupSummary {
    let mut summary = CleanupSummary::default();
    for (id, resource) in ledger.state().pending() {
        if target.is_some_and(|t| t != resource.target) {
            continue;
        }
        match delete_one(&resource, clients, clock).await {
            Ok(outcome) => {
                let gone = outcome == DeleteOutcome::AlreadyGone;
                if let Err(e) = ledger.deleted(id, by, gone) {
                    summary.failed.push((resource, format!("deleted, but {e}")));
                } else if gone {
                    summary.already_gone.push(resource);
                } else {
                    summary.deleted.push(resource);
                }
            }
            Err(e) => {
                let _ = ledger.delete_failed(id, &e);
                summary.failed.push((resource, e));
            }
        }
    }
    summary
}

/// One resource `reap` removed or could not remove.
#[derive(Clone, Debug, Serialize)]
pub struct Reaped {
    pub run_id: String,
    pub resource: ScratchResource,
    /// `ledger` or `tag`.
    pub found_by: &'static str,
    pub already_gone: bool,
}

/// What `firedrill reap` did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReapReport {
    pub ledgers_scanned: usize,
    /// Runs still in progress on this host, left alone.
    pub skipped_live_runs: Vec<String>,
    pub removed: Vec<Reaped>,
    /// Tagged resources left alone because they have not expired and no
    /// ledger here knows their run.
    pub skipped_unexpired: Vec<String>,
    pub failed: Vec<(ScratchResource, String)>,
}

/// Reap everything earlier runs left behind: pending ledger entries of runs
/// no longer alive, then resources tagged by firedrill whose run is dead or
/// whose expiry has passed, in every environment known from the ledgers and
/// from `environments`.
pub async fn reap(reports_dir: &Path, environments: &[Environment], clock: &Clock) -> ReapReport {
    let mut report = ReapReport::default();
    let mut envs: BTreeMap<String, Environment> = BTreeMap::new();
    let mut dead_runs = BTreeSet::new();
    let mut live_runs = BTreeSet::new();
    let mut to_reap = Vec::new();
    for env in environments {
        envs.insert(env_key(env), env.clone());
    }
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
        if !state.pending().is_empty() || !state.finished {
            to_reap.push((path, state));
        }
    }

    let mut clients_by_env = BTreeMap::new();
    for (key, env) in &envs {
        clients_by_env.insert(key.clone(), Clients::new(env, clock).await);
    }

    for (path, state) in to_reap {
        let Some(clients) = clients_by_env.get(&env_key(&state.environment)) else {
            continue;
        };
        let Ok(ledger) = Ledger::open(&path) else {
            continue;
        };
        let pending: BTreeMap<u64, ScratchResource> = state.pending().into_iter().collect();
        let summary = delete_pending(&ledger, clients, clock, None, "reap").await;
        for r in summary.deleted {
            report.removed.push(Reaped {
                run_id: state.run_id.clone(),
                resource: r,
                found_by: "ledger",
                already_gone: false,
            });
        }
        for r in summary.already_gone {
            report.removed.push(Reaped {
                run_id: state.run_id.clone(),
                resource: r,
                found_by: "ledger",
                already_gone: true,
            });
        }
        let complete = summary.failed.is_empty();
        report.failed.extend(summary.failed);
        if complete && (!state.finished || !pending.is_empty()) {
            let _ = ledger.finish();
        }
    }

    let now = OffsetDateTime::now_utc();
    for clients in clients_by_env.values() {
        for kind in targets::REGISTRY {
            let Ok(tagged) = (kind.find_tagged)(clients).await else {
                continue;
            };
            for t in tagged {
                if live_runs.contains(&t.run_id) {
                    continue;
                }
                let expired = t.expires_at.is_some_and(|e| e <= now);
                if !expired && !dead_runs.contains(&t.run_id) {
                    report
                        .skipped_unexpired
                        .push(format!("{} (run {})", t.resource, t.run_id));
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
    report
}

fn env_key(env: &Environment) -> String {
    serde_json::to_string(env).unwrap_or_default()
}
