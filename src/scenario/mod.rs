//! Scenario files: the TOML format (v1), its validation, and its JSON Schema.
//!
//! `raw` mirrors the file, `validate` turns it into the `model` types and
//! collects every error with its span; the diagnostics that render them are
//! shared vocabulary (`firedrill_core::diagnostics`).

pub mod app;
pub mod depends;
pub mod evidence;
pub mod gates;
pub mod hooks;
pub mod model;
pub mod notify;
pub mod raw;
pub mod schema;
pub mod select;
pub mod template;
pub mod validate;

pub use model::{RunSettings, Scenario, TargetSpec};
pub use validate::{load, parse, parse_bytes};
