//! Faults at the end of a run or after a crash: undo those that can be
//! undone from their ledger record alone, and retain what protects the rest
//! (ledger record and tag), with the command that restores from it.

use std::path::Path;

use firedrill_core::timing::Clock;
use firedrill_core::{RetainedCopy, StageError, StageOutput};
use serde::Serialize;

use crate::aws::Clients;
use crate::ledger::{FaultEntry, FaultStatus, Ledger, LedgerState, Status};
use crate::targets::{self, RevertContext};

/// A fault undone (or whose undo failed).
#[derive(Clone, Debug, Serialize)]
pub struct Reverted {
    pub fault: u64,
    pub target: String,
    pub action: String,
    pub resource: String,
    /// What was put back, or why it could not be.
    pub result: Result<String, String>,
}

/// Undo one fault from its record, journalled: intent before, done or
/// failed after.
pub async fn revert_fault(
    ledger: &Ledger,
    id: u64,
    entry: &FaultEntry,
    rcx: &RevertContext<'_>,
    by: &str,
) -> Result<StageOutput, StageError> {
    let revert = targets::kind(&entry.fault.kind)
        .and_then(|k| k.revert)
        .filter(|_| entry.fault.undo.is_some())
        .ok_or_else(|| {
            StageError::Failed(format!(
                "fault `{}` on {} cannot be undone; its copy is kept",
                entry.fault.action, entry.fault.resource
            ))
        })?;
    ledger.revert_intent(id, by)?;
    match revert(&entry.fault, rcx).await {
        Ok(out) => {
            ledger.revert_done(id, &out.detail)?;
            Ok(out)
        }
        Err(e) => {
            let _ = ledger.revert_failed(id, &e.to_string());
            Err(e)
        }
    }
}

/// Whether reap may undo this fault from its record after a crash.
fn undoable_after_crash(entry: &FaultEntry) -> bool {
    let f = &entry.fault;
    f.undo_after_crash
        && f.undo.is_some()
        && targets::kind(&f.kind).is_some_and(|k| k.revert.is_some())
}

/// Undo every open fault of a dead run that can be undone after a crash.
pub async fn revert_open_faults(
    ledger: &Ledger,
    clients: &Clients,
    clock: &Clock,
    run_dir: &Path,
) -> Vec<Reverted> {
    let rcx = RevertContext {
        clients,
        run_dir,
        clock,
        ledger,
    };
    let mut out = Vec::new();
    for (id, entry) in ledger.state().open_faults() {
        if !undoable_after_crash(&entry) {
            continue;
        }
        let result = revert_fault(ledger, id, &entry, &rcx, "reap")
            .await
            .map(|o| o.detail)
            .map_err(|e| e.to_string());
        out.push(reverted(id, &entry, result));
    }
    out
}

fn reverted(id: u64, entry: &FaultEntry, result: Result<String, String>) -> Reverted {
    let f = &entry.fault;
    Reverted {
        fault: id,
        target: f.target.clone(),
        action: f.action.clone(),
        resource: f.resource.clone(),
        result,
    }
}

/// What reap would do to a dead run's faults, touching nothing: the faults
/// it would undo, the copies it would then keep, and the ledger as it would
/// be after those undos (for what it would delete).
pub fn plan_reap(state: &LedgerState) -> (Vec<Reverted>, Vec<RetainedCopy>, LedgerState) {
    let mut after = state.clone();
    let mut undone = Vec::new();
    for (id, entry) in state.open_faults() {
        if !undoable_after_crash(&entry) {
            continue;
        }
        let how = entry
            .fault
            .undo
            .as_ref()
            .and_then(|u| u.get("undo").or_else(|| u.get("damage")))
            .and_then(|v| v.as_str())
            .map_or(String::new(), |h| format!(" ({h})"));
        undone.push(reverted(
            id,
            &entry,
            Ok(format!("would undo it from its ledger record{how}")),
        ));
        if let Some(f) = after.faults.get_mut(&id) {
            f.status = FaultStatus::Reverted {
                detail: "dry run".into(),
            };
        }
    }
    let kept = copies_to_retain(&after, None)
        .into_iter()
        .map(|(_, copy)| copy)
        .collect();
    (undone, kept, after)
}

/// The resources (ledger id and copy) that protect a fault not undone and
/// are not yet deleted or retained, optionally only one target's.
fn copies_to_retain(state: &LedgerState, target: Option<&str>) -> Vec<(u64, RetainedCopy)> {
    let mut kept = Vec::new();
    for (_, entry) in state.open_faults() {
        let f = &entry.fault;
        if target.is_some_and(|t| t != f.target) {
            continue;
        }
        for pid in &f.protects {
            let Some((resource, status)) = state.resources.get(pid) else {
                continue;
            };
            if matches!(status, Status::Deleted | Status::Retained { .. }) {
                continue;
            }
            let why = format!(
                "the copy of {}'s data from before fault `{}` ({}), which was not undone",
                f.resource,
                f.action,
                undone_because(&entry)
            );
            let restore = f
                .restore
                .clone()
                .unwrap_or_else(|| format!("restore {} from {resource} by hand", f.resource));
            kept.push((
                *pid,
                RetainedCopy {
                    resource: resource.clone(),
                    why,
                    restore,
                },
            ));
        }
    }
    kept
}

/// Retain every resource (optionally one target's) that protects a fault
/// not undone: a ledger record and a tag saying why, so that neither
/// cleanup nor reap ever deletes it. A tag that cannot be written is
/// reported in `why`; the ledger record alone already keeps the copy from
/// this firedrill's reap.
pub async fn retain_protected(
    ledger: &Ledger,
    clients: &Clients,
    target: Option<&str>,
) -> Vec<RetainedCopy> {
    let mut kept = Vec::new();
    for (pid, mut copy) in copies_to_retain(&ledger.state(), target) {
        if let Some(kind) = targets::kind(&copy.resource.kind)
            && let Err(e) = (kind.retain)(&copy.resource, &copy.why, clients).await
        {
            copy.why
                .push_str(&format!(" [the retained tag could not be set: {e}]"));
        }
        let _ = ledger.retained(pid, &copy.why, &copy.restore);
        kept.push(copy);
    }
    kept
}

/// Why a fault is not undone, for the retained copy's reason.
fn undone_because(entry: &FaultEntry) -> String {
    match &entry.status {
        FaultStatus::RevertFailed { error } => format!("its undo failed: {error}"),
        FaultStatus::Intended => "the run stopped as it was being injected".to_string(),
        FaultStatus::Reverting => "the run stopped while undoing it".to_string(),
        FaultStatus::Done if entry.fault.undo.is_none() => {
            "firedrill does not undo it; this is the copy to restore from".to_string()
        }
        FaultStatus::Done => "the run stopped before undoing it".to_string(),
        FaultStatus::Reverted { .. } => "undone".to_string(),
    }
}
