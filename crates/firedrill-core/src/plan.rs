//! One line of `firedrill plan`: the stage, what it does to a resource, the
//! API call and, for a scratch resource, how long it is expected to live.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::stage::Stage;

/// What a planned action does to the resource it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Only reads.
    Read,
    /// Creates a scratch resource (or canary data).
    Create,
    /// Changes a resource in place.
    Change,
    /// Deletes data or a resource.
    Delete,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Read => "read",
            Effect::Create => "create",
            Effect::Change => "change",
            Effect::Delete => "delete",
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One line of `firedrill plan`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedAction {
    pub stage: Stage,
    pub effect: Effect,
    pub api_call: String,
    pub resource: String,
    /// Expected lifetime of a scratch resource, for the resource-hours estimate.
    #[serde(with = "crate::timing::millis::option")]
    pub scratch_lifetime: Option<Duration>,
}

impl PlannedAction {
    /// An action on a resource that is not scratch.
    pub fn new(
        stage: Stage,
        effect: Effect,
        api_call: impl Into<String>,
        resource: impl Into<String>,
    ) -> Self {
        Self {
            stage,
            effect,
            api_call: api_call.into(),
            resource: resource.into(),
            scratch_lifetime: None,
        }
    }

    /// The same action on a scratch resource expected to live `lifetime`.
    #[must_use]
    pub fn scratch(mut self, lifetime: Duration) -> Self {
        self.scratch_lifetime = Some(lifetime);
        self
    }
}
