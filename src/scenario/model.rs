//! Validated scenario types: what the rest of firedrill works with.
//!
//! Everything here has passed validation; no other module re-checks a
//! scenario. Kind-specific options live with their target kind, behind
//! [`crate::targets::Target`].

use std::path::PathBuf;
use std::time::Duration;

use firedrill_core::{Environment, Objectives};
use serde::Serialize;

use crate::targets::Target;

/// A validated scenario file.
#[derive(Debug)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub owner: String,
    pub source: ScenarioSource,
    pub environment: Environment,
    pub objectives: Objectives,
    /// `[objectives] app_rto`: first fault → every critical gate passed.
    pub app_rto: Option<Duration>,
    /// `[objectives] proven_within`, for `firedrill coverage`.
    pub proven_within: Option<Duration>,
    pub run: RunSettings,
    /// Compliance control ids this drill gives evidence for.
    pub controls: Vec<String>,
    pub targets: Vec<TargetSpec>,
    /// `[[notify]]`: who is told about the run.
    pub notify: Vec<super::notify::NotifySpec>,
    /// `[evidence]`: the pinned signer.
    pub evidence: super::evidence::EvidenceSettings,
    /// Checks of the recovered application (`[[gates]]`).
    pub gates: Vec<super::gates::GateSpec>,
    /// Scenario-wide hooks (`[[hooks]]`).
    pub hooks: Vec<super::hooks::HookSpec>,
}

/// The file a scenario came from, kept for provenance.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioSource {
    pub path: PathBuf,
    pub text: String,
    pub sha256: String,
}

/// How the run as a whole behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSettings {
    /// Abort the drill (and clean up) past this wall time.
    pub max_duration: Option<Duration>,
    /// Targets drilled at once.
    pub max_concurrency: usize,
    /// Scratch resources carry `firedrill:expires-at` = start + this.
    pub scratch_ttl: Duration,
    /// Deadline for any single wait (restore becoming available, ...).
    pub stage_timeout: Duration,
    /// Abort the whole drill as soon as one target fails.
    pub abort_on_failure: bool,
    /// Every fault at one instant (`mode = "outage"`).
    pub outage: bool,
    /// Warn when RTO grew by more than this share over the median of the
    /// last runs of the scenario.
    pub regression_threshold: f64,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            max_duration: None,
            max_concurrency: 4,
            scratch_ttl: Duration::from_hours(6),
            stage_timeout: Duration::from_hours(1),
            abort_on_failure: false,
            outage: false,
            regression_threshold: 0.5,
        }
    }
}

/// One target: common settings plus its kind's validated options.
#[derive(Debug)]
pub struct TargetSpec {
    pub name: String,
    pub kind: &'static str,
    /// Per-target objectives; the scenario's when absent.
    pub objectives: Objectives,
    /// The target's `proven_within`, else the scenario's.
    pub proven_within: Option<Duration>,
    /// Targets restored and validated before this one's restore starts.
    pub depends_on: Vec<String>,
    /// A non-critical target does not fail the application verdict.
    pub critical: bool,
    /// Commands run at fixed points of this target's drill.
    pub hooks: Vec<super::hooks::HookSpec>,
    pub target: Box<dyn Target>,
    /// `select = { tags = ... }`: expanded into one target per selected
    /// resource at preflight.
    pub select: Option<super::select::TargetSelect>,
}

impl Scenario {
    /// For each target (by index), the indices of the targets it depends on.
    pub fn dependency_indices(&self) -> Vec<Vec<usize>> {
        self.targets
            .iter()
            .map(|t| {
                t.depends_on
                    .iter()
                    .filter_map(|d| self.targets.iter().position(|o| &o.name == d))
                    .collect()
            })
            .collect()
    }

    /// The recovery order: target indices by level (validation has ruled
    /// out cycles; should one slip through, every target is one level).
    pub fn levels(&self) -> Vec<Vec<usize>> {
        super::depends::levels(&self.dependency_indices())
            .unwrap_or_else(|_| vec![(0..self.targets.len()).collect()])
    }

    /// The recovery order by target name.
    pub fn level_names(&self) -> Vec<Vec<String>> {
        self.levels()
            .iter()
            .map(|l| l.iter().map(|&i| self.targets[i].name.clone()).collect())
            .collect()
    }

    /// Whether any target waits for another.
    pub fn has_dependencies(&self) -> bool {
        self.targets.iter().any(|t| !t.depends_on.is_empty())
    }
}
