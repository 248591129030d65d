//! One line of the ledger: a run header, a scratch resource's life (intent,
//! created, deleted, retained), a fault's life (intent, done, revert), or
//! the end of the run.

use firedrill_core::{Environment, ScratchResource, StageError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What the ledger knows of a fault, written before its API call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRecord {
    /// The scenario target.
    pub target: String,
    /// The kind that injected it and knows how to undo it.
    pub kind: String,
    /// The action as the scenario names it.
    pub action: String,
    /// The damaged resource, for people: `s3://orders`.
    pub resource: String,
    /// Ledger ids of the scratch resources holding the pre-fault data:
    /// never deleted while the fault is not undone.
    #[serde(default)]
    pub protects: Vec<u64>,
    /// Existing recovery points (the organisation's own snapshots, AMIs or
    /// dumps, not in the ledger) holding the pre-fault data: firedrill
    /// never deletes or tags them, and names them here for the restore.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protected_by: Vec<String>,
    /// The kind's own description of how to undo the fault, when it can be
    /// undone after a crash too; `None` when only the copy can be kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<serde_json::Value>,
    /// Whether `reap` may undo it after a crash. A restore of the source
    /// under its own name runs only inside the drill; after a crash its copy
    /// is kept instead.
    #[serde(default = "yes")]
    pub undo_after_crash: bool,
    /// The command that restores the damaged resource from the copies it
    /// protects, for people, if the fault is never undone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<String>,
}

fn yes() -> bool {
    true
}

impl FaultRecord {
    /// A fault of `kind` on `resource`, protecting nothing yet, with no
    /// undo; the builder methods below fill in the rest. `target` is set
    /// by the stage context that journals it.
    pub fn new(kind: &str, action: &str, resource: String) -> Self {
        Self {
            target: String::new(),
            kind: kind.to_string(),
            action: action.to_string(),
            resource,
            protects: Vec::new(),
            protected_by: Vec::new(),
            undo: None,
            undo_after_crash: true,
            restore: None,
        }
    }

    /// The ledger ids of the copies holding the pre-fault data.
    #[must_use]
    pub fn protecting(mut self, ids: Vec<u64>) -> Self {
        self.protects = ids;
        self
    }

    /// The existing recovery points holding the pre-fault data.
    #[must_use]
    pub fn protected_by_existing(mut self, ids: Vec<String>) -> Self {
        self.protected_by = ids;
        self
    }

    /// The kind's own undo record (none: the copy is kept instead).
    pub fn with_undo<T: Serialize>(mut self, undo: Option<&T>) -> Result<Self, StageError> {
        self.undo = undo
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| StageError::Failed(format!("cannot record how to undo the fault: {e}")))?;
        Ok(self)
    }

    /// Whether `reap` may undo it after a crash (default yes).
    #[must_use]
    pub fn undo_after_crash(mut self, yes: bool) -> Self {
        self.undo_after_crash = yes;
        self
    }

    /// The command that restores the resource by hand from its copies.
    #[must_use]
    pub fn restore_with(mut self, command: String) -> Self {
        self.restore = Some(command);
        self
    }

    /// The undo record read back as the kind wrote it.
    pub fn undo_as<T: DeserializeOwned>(&self) -> Result<T, StageError> {
        let value = self
            .undo
            .clone()
            .ok_or_else(|| StageError::Failed("the fault has no undo record".into()))?;
        serde_json::from_value(value)
            .map_err(|e| StageError::Failed(format!("unreadable undo record: {e}")))
    }
}

/// One line of the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "kebab-case")]
pub enum Record {
    Run {
        run_id: String,
        scenario: String,
        pid: u32,
        host: String,
        environment: Environment,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    Intent {
        id: u64,
        resource: ScratchResource,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    Created {
        id: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    Deleted {
        id: u64,
        /// `cleanup` or `reap`.
        by: String,
        already_gone: bool,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    DeleteFailed {
        id: u64,
        error: String,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// A resource kept on purpose: it may be the last copy of damaged data.
    Retained {
        id: u64,
        why: String,
        /// The command that restores the damaged resource from it.
        restore: String,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// Written (and fsync'd) before the fault's API call.
    FaultIntent {
        id: u64,
        fault: FaultRecord,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// The fault's API call returned.
    FaultDone {
        id: u64,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// Written before the undo starts.
    RevertIntent {
        id: u64,
        /// `run` or `reap`.
        by: String,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// The fault is undone: what it protected may go.
    RevertDone {
        id: u64,
        detail: String,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    RevertFailed {
        id: u64,
        error: String,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    Finished {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
}

impl Record {
    /// The record's name as written (`fault-intent`), for the crash hook.
    pub fn name(&self) -> &'static str {
        match self {
            Record::Run { .. } => "run",
            Record::Intent { .. } => "intent",
            Record::Created { .. } => "created",
            Record::Deleted { .. } => "deleted",
            Record::DeleteFailed { .. } => "delete-failed",
            Record::Retained { .. } => "retained",
            Record::FaultIntent { .. } => "fault-intent",
            Record::FaultDone { .. } => "fault-done",
            Record::RevertIntent { .. } => "revert-intent",
            Record::RevertDone { .. } => "revert-done",
            Record::RevertFailed { .. } => "revert-failed",
            Record::Finished { .. } => "finished",
        }
    }
}
