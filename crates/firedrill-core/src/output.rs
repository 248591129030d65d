//! What stages return: the output every stage reports, what validation and
//! preflight add, and the description of a configured fault.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::canary::RecoveredCanary;
use crate::check::Check;
use crate::finding::Finding;
use crate::service::{Environment, Service, is_loopback_url};
use crate::stage::RequestId;
use crate::timing::{Moment, Polled, human};

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

    /// Put a wait's timing into this output, the same way for every kind:
    /// the moment the awaited state was seen and its error bound, the
    /// number of probes, the states passed through, and a warning when
    /// `service` throttled the polling (which widens the bound).
    pub fn record_wait<T>(&mut self, polled: &Polled<T>, service: Service) {
        self.observed = Some(polled.observed);
        self.error_bound = polled.error_bound;
        self.facts
            .insert("probes".into(), polled.probes.to_string());
        self.facts.insert(
            "error_bound_ms".into(),
            polled.error_bound.as_millis().to_string(),
        );
        if !polled.states.is_empty() {
            let states: Vec<String> = polled
                .states
                .iter()
                .map(|(at, s)| format!("{s}@{}", human(*at)))
                .collect();
            self.facts.insert("states".into(), states.join(" → "));
        }
        if polled.throttled {
            self.facts.insert("throttled".into(), "true".into());
            let code = format!("{service}.throttled");
            if !self.findings.iter().any(|f| f.code == code) {
                self.findings.push(Finding::warning(
                    &code,
                    format!(
                        "{} throttled the status polling: the error bound is wider than the usual 1% budget",
                        service.as_str().to_uppercase()
                    ),
                ));
            }
        }
    }
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
    /// The action as the scenario names it: `delete-share`, `reboot`, ...
    pub action: &'static str,
    /// What it does, for the plan: "delete 50% of the objects in <s3://orders>".
    pub description: String,
    /// Whether it changes or deletes the named (non-scratch) resource.
    pub destructive: bool,
    /// Whether it destroys data no copy holds (the scenario accepted it;
    /// allowed against an emulator only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub loses_data: bool,
    /// The service the fault calls.
    pub service: Service,
    /// For a resource outside AWS (a self-managed database), the endpoint the
    /// fault goes to; the guards judge "emulator or not" by it, and no AWS
    /// account applies.
    pub endpoint: Option<String>,
}

impl FaultSpec {
    /// Whether the fault lands on a local emulator or test server (loopback).
    pub fn is_local(&self, env: &Environment) -> bool {
        match &self.endpoint {
            Some(url) => is_loopback_url(url),
            None => env.is_emulated(self.service),
        }
    }
}
