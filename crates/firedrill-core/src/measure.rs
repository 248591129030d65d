//! Recovery objectives and what was measured against them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::timing::millis;

/// Recovery objectives, of a scenario or of one target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objectives {
    #[serde(with = "millis", rename = "rto_ms")]
    pub rto: Duration,
    #[serde(with = "millis", rename = "rpo_ms")]
    pub rpo: Duration,
}

/// A measured objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measured {
    #[serde(with = "millis", rename = "value_ms")]
    pub value: Duration,
    /// The true value lies within `value - error ..= value`.
    #[serde(with = "millis", rename = "error_ms")]
    pub error: Duration,
    #[serde(with = "millis", rename = "objective_ms")]
    pub objective: Duration,
    pub met: bool,
    pub emulated: bool,
    /// How it was measured: `restore-validated`, `canary` or `snapshot`.
    pub method: MeasureMethod,
}

impl Measured {
    /// A measurement judged against its objective: met when the value is
    /// within it.
    pub fn against(
        value: Duration,
        error: Duration,
        objective: Duration,
        emulated: bool,
        method: MeasureMethod,
    ) -> Self {
        Self {
            value,
            error,
            objective,
            met: value <= objective,
            emulated,
            method,
        }
    }
}

/// How an objective was measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MeasureMethod {
    /// Fault injected → restored copy passed validation.
    RestoreValidated,
    /// Fault time − newest canary found in the restored copy.
    Canary,
    /// Fault time − backup completion (no canaries for this kind).
    Snapshot,
    /// Fault time − creation of the existing recovery point restored.
    RecoveryPoint,
}
