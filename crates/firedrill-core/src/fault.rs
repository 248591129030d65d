//! Never the disaster: how each target's fault is undone, and the copies
//! firedrill keeps when it cannot be.
//!
//! From the moment a fault is injected until it is undone, at least one
//! complete copy of the damaged resource's pre-fault data exists, and
//! neither cleanup nor `reap` deletes it. A fault that can be undone is
//! reverted after validation (and by `reap` after a crash); a fault that
//! destroys its resource leaves the backup retained, tagged with why, and
//! every report says how to restore from it.

use serde::{Deserialize, Serialize};

use crate::resource::ScratchResource;

/// How a configured fault is undone, for the plan and the reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "undo", content = "detail", rename_all = "kebab-case")]
pub enum UndoPlan {
    /// No fault, or one that heals by itself (a reboot, a failover).
    Nothing(String),
    /// Undone after validation, and by `reap` if a crash came first.
    Revert(String),
    /// The fault destroys the resource: its backup is retained.
    Retain(String),
    /// The resource is restored under its own name, as the revert stage;
    /// its backup is retained if that fails.
    RestoreSource(String),
}

impl UndoPlan {
    /// One line for people: "revert: put the deleted objects back …".
    pub fn describe(&self) -> String {
        match self {
            UndoPlan::Nothing(d) => format!("nothing to undo: {d}"),
            UndoPlan::Revert(d) => format!("revert: {d}"),
            UndoPlan::Retain(d) => format!("retain: {d}"),
            UndoPlan::RestoreSource(d) => format!("restore in place: {d}"),
        }
    }
}

/// A copy firedrill kept because it may be the last one of the data a fault
/// damaged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetainedCopy {
    /// The kept resource (a snapshot, an AMI, a bucket, a dump).
    pub resource: ScratchResource,
    /// Why it is kept.
    pub why: String,
    /// The command that restores the damaged resource from it.
    pub restore: String,
}
