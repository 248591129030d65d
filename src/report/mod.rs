//! Reports: the model, the reporter fan-out, and one module per format.
//! Reporters never call AWS; the runner never formats output.

mod api_calls;
pub(crate) mod app_timeline;
pub(crate) mod app_view;
pub mod artifacts;
pub(crate) mod coverage;
mod events;
#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
mod format_tests;
pub mod gates;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod model;
pub mod progress;
pub mod prometheus;
pub(crate) mod recovery;
pub mod terminal;
pub(crate) mod timeline;
pub(crate) mod view;

pub use view::ArtifactRef;

use std::sync::{Arc, Mutex};

pub use model::{
    CleanupReport, EnvironmentInfo, Provenance, Report, SCHEMA_VERSION, ScenarioInfo, TargetReport,
};

pub use events::Event;
pub use gates::{AppRtoReport, CapturedOutput, GateAttempt, GateReport};

/// Receives every event of a run.
pub trait Reporter: Send {
    fn event(&mut self, event: &Event) -> std::io::Result<()>;
}

/// Hands each event to every enabled reporter. Cheap to clone.
#[derive(Clone, Default)]
pub struct Fanout {
    reporters: Arc<Mutex<Vec<Box<dyn Reporter>>>>,
    errors: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout").finish_non_exhaustive()
    }
}

impl Fanout {
    pub fn new(reporters: Vec<Box<dyn Reporter>>) -> Self {
        Self {
            reporters: Arc::new(Mutex::new(reporters)),
            errors: Arc::default(),
        }
    }

    /// Deliver an event. A failing reporter does not stop the drill: its
    /// error is kept and reported at the end.
    pub fn emit(&self, event: &Event) {
        let mut reporters = self
            .reporters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for r in reporters.iter_mut() {
            if let Err(e) = r.event(event) {
                self.errors
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(e.to_string());
            }
        }
    }

    /// Errors reporters returned.
    pub fn errors(&self) -> Vec<String> {
        self.errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}
