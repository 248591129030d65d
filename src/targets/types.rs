//! What stages receive and return: the context, outputs, checks, findings
//! and errors shared by every target kind.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::aws::{AwsError, Clients};
use crate::ledger::{Ledger, LedgerError, ScratchResource};
use crate::scenario::Service;
use crate::timing::{Clock, Moment, PollPolicy};

/// Tag key carrying the run id on every scratch resource.
pub const TAG_RUN_ID: &str = "firedrill:run-id";
/// Tag key carrying the RFC 3339 time after which `reap` may delete it.
pub const TAG_EXPIRES_AT: &str = "firedrill:expires-at";
/// Tag key naming the scenario target the resource belongs to.
pub const TAG_TARGET: &str = "firedrill:target";
/// Opt-in tag a named resource needs before a destructive fault on real AWS.
pub const TAG_ALLOW_FAULTS: &str = "firedrill:allow-faults";

/// Everything a stage may use. Cheap to clone.
#[derive(Clone, Debug)]
pub struct StageContext {
    pub run_id: String,
    /// The run's report directory (manifests and diffs go here).
    pub run_dir: std::path::PathBuf,
    pub target_name: String,
    pub target_index: usize,
    pub clients: Clients,
    pub ledger: Ledger,
    pub clock: Clock,
    pub stage_timeout: Duration,
    pub expires_at: OffsetDateTime,
    pub cancel: CancellationToken,
}

impl StageContext {
    /// A scratch resource name: `firedrill-<run-id>-<target index>-<suffix>`.
    /// Lowercase and DNS-safe, so it is a valid bucket or identifier.
    pub fn scratch_name(&self, suffix: &str) -> String {
        format!("firedrill-{}-{}-{suffix}", self.run_id, self.target_index)
    }

    /// Tags for every scratch resource this target creates.
    pub fn tags(&self) -> Vec<(String, String)> {
        vec![
            (TAG_RUN_ID.to_string(), self.run_id.clone()),
            (
                TAG_EXPIRES_AT.to_string(),
                self.expires_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            ),
            (TAG_TARGET.to_string(), self.target_name.clone()),
        ]
    }

    /// Record a resource in the ledger *before* the create call, fsync'd, so
    /// a crash between the two still leaves a trail for `reap`.
    pub fn intend(&self, resource: ScratchResource) -> Result<u64, StageError> {
        Ok(self.ledger.intend(resource)?)
    }

    /// Mark a ledger entry as created.
    pub fn created(&self, id: u64, request_id: Option<&str>) -> Result<(), StageError> {
        Ok(self.ledger.created(id, request_id)?)
    }

    /// A ledger resource in this run's home region for `service`.
    pub fn resource(
        &self,
        kind: &str,
        rtype: &str,
        id: impl Into<String>,
        service: Service,
    ) -> ScratchResource {
        ScratchResource {
            kind: kind.to_string(),
            rtype: rtype.to_string(),
            id: id.into(),
            region: self.clients.region().to_string(),
            parent: None,
            target: self.target_name.clone(),
            service: Some(service),
        }
    }

    /// Polling policy for waits in this run.
    pub fn poll_policy(&self) -> PollPolicy {
        PollPolicy::with_deadline(self.stage_timeout)
    }

    /// Whether `service` is served by a local emulator.
    pub fn emulated(&self, service: Service) -> bool {
        self.clients.is_emulated(service)
    }

    /// Fail fast when the run was cancelled (abort, SIGINT, max duration).
    pub fn check_cancelled(&self) -> Result<(), StageError> {
        if self.cancel.is_cancelled() {
            Err(StageError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Why a stage did not complete.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// An AWS call failed; the kind says whether it is the environment's fault.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The ledger could not be written: nothing may be created without it.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The named resource or environment is not usable (exit code 3).
    #[error("{0}")]
    Environment(String),
    /// The stage ran and failed.
    #[error("{0}")]
    Failed(String),
    /// A wait passed its deadline.
    #[error("{0}")]
    TimedOut(String),
    /// The run was cancelled before or during the stage.
    #[error("cancelled")]
    Cancelled,
}

impl StageError {
    /// Whether the failure lies with the environment (exit code 3), not the drill.
    pub fn is_environment(&self) -> bool {
        match self {
            StageError::Aws(e) => e.is_environment(),
            StageError::Ledger(_) | StageError::Environment(_) => true,
            StageError::Failed(_) | StageError::TimedOut(_) | StageError::Cancelled => false,
        }
    }

    /// The AWS request id, when an AWS call failed.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            StageError::Aws(e) => e.request_id.as_deref(),
            _ => None,
        }
    }
}

impl<E> From<crate::timing::PollError<E>> for StageError
where
    E: Into<StageError>,
{
    fn from(e: crate::timing::PollError<E>) -> Self {
        match e {
            crate::timing::PollError::TimedOut { after, last_state } => {
                StageError::TimedOut(format!(
                    "stage timed out after {} (last state: {last_state})",
                    crate::timing::human(after)
                ))
            }
            crate::timing::PollError::Probe(inner) => inner.into(),
        }
    }
}

/// An AWS request id kept for provenance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestId {
    pub operation: String,
    pub request_id: String,
}

/// What a successful stage reports.
#[derive(Clone, Debug, Default)]
pub struct StageOutput {
    /// One line for people: "copied 20 objects (81 KiB) to s3://...".
    pub detail: String,
    /// How much earlier than observed the stage may really have ended.
    pub error_bound: Duration,
    /// When the awaited state was observed, if the stage did work after it.
    pub observed: Option<Moment>,
    /// Whether the timing comes from an emulator.
    pub emulated: bool,
    pub findings: Vec<Finding>,
    pub request_ids: Vec<RequestId>,
    /// Facts for the report, e.g. `objects = 20`.
    pub facts: BTreeMap<String, String>,
}

impl StageOutput {
    pub fn new(detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
            ..Self::default()
        }
    }

    #[must_use]
    pub fn emulated(mut self, emulated: bool) -> Self {
        self.emulated = emulated;
        self
    }

    #[must_use]
    pub fn fact(mut self, key: &str, value: impl ToString) -> Self {
        self.facts.insert(key.to_string(), value.to_string());
        self
    }

    pub fn request(&mut self, operation: &str, request_id: Option<&str>) {
        if let Some(id) = request_id {
            self.request_ids.push(RequestId {
                operation: operation.to_string(),
                request_id: id.to_string(),
            });
        }
    }
}

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// Something the drill found that a person should read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable machine-readable code, e.g. `s3.object-missing`.
    pub code: String,
    pub message: String,
}

impl Finding {
    pub fn error(code: &str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code: code.to_string(),
            message: message.into(),
        }
    }

    pub fn warning(code: &str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            code: code.to_string(),
            message: message.into(),
        }
    }

    pub fn info(code: &str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Info,
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// Outcome of one validation check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    Passed,
    Failed,
    /// Could not be checked (e.g. no database behind an emulated endpoint).
    /// Never counts as passed.
    NotVerified,
    /// Checked against an emulator only; not evidence about real AWS.
    Emulated,
}

/// One validation check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub status: CheckStatus,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
}

impl Check {
    pub fn new(name: impl Into<String>, status: CheckStatus, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            status,
            detail: detail.into(),
            expected: None,
            actual: None,
        }
    }

    /// A check comparing an expected and an actual value.
    pub fn compare(
        name: impl Into<String>,
        expected: impl ToString,
        actual: impl ToString,
    ) -> Self {
        let (expected, actual) = (expected.to_string(), actual.to_string());
        let status = if expected == actual {
            CheckStatus::Passed
        } else {
            CheckStatus::Failed
        };
        let detail = if status == CheckStatus::Passed {
            format!("{actual} as expected")
        } else {
            format!("expected {expected}, found {actual}")
        };
        Self {
            name: name.into(),
            status,
            detail,
            expected: Some(expected),
            actual: Some(actual),
        }
    }
}

/// The newest canary found in the restored copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveredCanary {
    pub seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub written_at: OffsetDateTime,
}

/// What validation reports.
#[derive(Clone, Debug, Default)]
pub struct Validation {
    pub output: StageOutput,
    pub checks: Vec<Check>,
    /// `None` when canaries were planned but none came back.
    pub canary: Option<RecoveredCanary>,
}

/// Result of the read-only preflight.
#[derive(Clone, Debug, Default)]
pub struct Preflight {
    /// One line about the named resource: "<s3://orders>: 20 objects".
    pub detail: String,
    /// The named resource's tags (for the opt-in guard).
    pub tags: BTreeMap<String, String>,
}

/// A configured fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FaultSpec {
    /// The action as written: `delete-share`, `reboot`, ...
    pub action: String,
    /// What it does, for the plan: "delete 50% of the objects in <s3://orders>".
    pub description: String,
    /// Whether it changes or deletes the named (non-scratch) resource.
    pub destructive: bool,
    /// The service the fault calls.
    pub service: Service,
    /// For a resource outside AWS (a self-managed database), the endpoint the
    /// fault goes to; the guards judge "emulator or not" by it, and no AWS
    /// account applies.
    pub endpoint: Option<String>,
}

impl FaultSpec {
    /// Whether the fault lands on a local emulator or test server (loopback).
    pub fn is_local(&self, env: &crate::scenario::Environment) -> bool {
        match &self.endpoint {
            Some(url) => crate::scenario::model::is_loopback_url(url),
            None => env.is_emulated(self.service),
        }
    }
}

/// One line of `firedrill plan`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedAction {
    pub stage: String,
    /// `read`, `create`, `change` or `delete`.
    pub effect: String,
    pub api_call: String,
    pub resource: String,
    /// Expected lifetime of a scratch resource, for the resource-hours estimate.
    #[serde(with = "crate::timing::millis::option")]
    pub scratch_lifetime: Option<Duration>,
}

/// Result of deleting a scratch resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    /// Already gone (deleted earlier, or never created).
    AlreadyGone,
}
