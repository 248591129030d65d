//! What the reports say about the recovered application: the recovery
//! levels, each gate's attempts and outcome, hook runs, and the
//! application RTO.

use std::time::Duration;

use firedrill_core::Outcome;
use firedrill_core::timing::millis;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::scenario::gates::GateKindName;

/// What a program printed and how it ended (bounded, secrets redacted).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedOutput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    /// Output beyond the capture limit was dropped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// One attempt of a gate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateAttempt {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(with = "millis", rename = "duration_ms")]
    pub duration: Duration,
    pub passed: bool,
    pub detail: String,
}

/// One gate of the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateReport {
    pub name: String,
    pub kind: GateKindName,
    pub critical: bool,
    /// Targets recovered before the first attempt.
    pub after: Vec<String>,
    pub outcome: Outcome,
    pub detail: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub started_at: Option<OffsetDateTime>,
    /// When the passing attempt ended.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub passed_at: Option<OffsetDateTime>,
    #[serde(with = "millis", rename = "interval_ms")]
    pub interval: Duration,
    #[serde(with = "millis", rename = "deadline_ms")]
    pub deadline: Duration,
    /// Attempts made (the list keeps the first and the last ones).
    pub attempt_count: usize,
    pub attempts: Vec<GateAttempt>,
    /// A command gate's output on its last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<CapturedOutput>,
}

/// The application's recovery time: from the first fault to the moment
/// every critical gate had passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRtoReport {
    #[serde(with = "millis", rename = "value_ms")]
    pub value: Duration,
    /// The true value lies within `value - error ..= value`.
    #[serde(with = "millis", rename = "error_ms")]
    pub error: Duration,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "millis::option",
        rename = "objective_ms"
    )]
    pub objective: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub met: Option<bool>,
    pub emulated: bool,
    /// The critical gates it waited for.
    pub gates: usize,
}
