//! Deleting scratch resources: end-of-run cleanup and `firedrill reap` share
//! this one path, so the code that reaps after a crash is the code every
//! run exercises. Both read the ledger first: what holds the pre-fault data
//! of a fault that is not undone is never deleted ([`faults`]).

mod faults;
mod reap;

use std::time::Duration;

use firedrill_core::timing::Clock;
use firedrill_core::{DeleteOutcome, ScratchResource};
use serde::Serialize;

pub use faults::{Reverted, plan_reap, retain_protected, revert_fault, revert_open_faults};
pub use reap::{ReapOptions, ReapReport, Reaped, Retained, reap};

use crate::aws::Clients;
use crate::ledger::Ledger;
use crate::targets;

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

pub(crate) async fn delete_one(
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
/// newest first, recording each outcome. Resources protecting a fault that
/// is not undone are left alone: see [`retain_protected`].
pub async fn delete_pending(
    ledger: &Ledger,
    clients: &Clients,
    clock: &Clock,
    target: Option<&str>,
    by: &str,
) -> CleanupSummary {
    let mut summary = CleanupSummary::default();
    for (id, resource) in ledger.state().deletable() {
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
