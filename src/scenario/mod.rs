//! Scenario files: the TOML format (v1), its validation, and its JSON Schema.
//!
//! `raw` mirrors the file, `validate` turns it into the `model` types and
//! collects every error with its span, `diagnostics` renders them.

pub mod diagnostics;
pub mod model;
pub mod raw;
pub mod schema;
pub mod suggest;
pub mod validate;

pub use diagnostics::{Diagnostic, ScenarioError};
pub use model::{Endpoints, Environment, Objectives, RunSettings, Scenario, Service, TargetSpec};
pub use validate::{load, parse, parse_bytes};
