//! The stages of a drill, how each one ended, and the record of one stage
//! of one target as every report shows it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::timing::Timing;

/// The stages of a drill, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Preflight,
    Backup,
    Copy,
    Fault,
    Restore,
    Validate,
    /// Undo the fault on the named resource from the backup.
    Revert,
    Cleanup,
    /// A command the scenario runs at a fixed point (`[[targets.hooks]]`).
    Hook,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Preflight => "preflight",
            Stage::Backup => "backup",
            Stage::Copy => "copy",
            Stage::Fault => "fault",
            Stage::Restore => "restore",
            Stage::Validate => "validate",
            Stage::Revert => "revert",
            Stage::Cleanup => "cleanup",
            Stage::Hook => "hook",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, not `write_str`: tables align stages with `{:<9}`.
        f.pad(self.as_str())
    }
}

/// How a stage ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Passed,
    Failed,
    TimedOut,
    Skipped,
    Cancelled,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed out",
            Outcome::Skipped => "skipped",
            Outcome::Cancelled => "cancelled",
        })
    }
}

/// An AWS request id kept for provenance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestId {
    pub operation: String,
    pub request_id: String,
}

/// One stage of one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageRecord {
    pub stage: Stage,
    pub outcome: Outcome,
    /// Absent for skipped stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
    /// Timing measured against an emulator, not real AWS.
    pub emulated: bool,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_ids: Vec<RequestId>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, String>,
}
