//! The floor of firedrill: the vocabulary every other part shares, and the
//! validators and decisions written once for all of them.
//!
//! This crate depends on no other firedrill code, so nothing here can reach
//! up into the runner, the reports or a target kind: the compiler rejects it.
//!
//! - [`service`]: the AWS services firedrill calls and where they are
//! - [`api`]: requests, retries and throttling per service during a run
//! - [`stage`], [`check`], [`finding`]: what a drill records
//! - [`verdict`], [`exit`]: how a target's and a run's results are judged
//! - [`measure`], [`canary`], [`timing`]: objectives, RPO canaries, clocks
//! - [`app_rto`]: the application's recovery time from its gates
//! - [`error`]: why a stage did not complete, with typed causes
//! - [`resource`], [`plan`], [`output`]: scratch resources, planned actions,
//!   what stages return
//! - [`recovery`], [`source_keys`]: existing recovery points, the seeded
//!   choice among them and their age against the RPO
//! - [`diagnostics`], [`suggest`], [`input`], [`options`], [`validate`]:
//!   scenario errors with spans, and the shared validators
//! - [`signer`]: the pinned fingerprint of a trusted evidence signer

pub mod api;
pub mod app_rto;
pub mod assess;
pub mod canary;
pub mod check;
pub mod coverage;
pub mod diagnostics;
pub mod error;
pub mod exit;
pub mod fault;
pub mod finding;
pub mod iam;
pub mod input;
pub mod measure;
pub mod names;
pub mod options;
pub mod output;
pub mod plan;
pub mod point_in_time;
pub mod recovery;
pub mod resource;
pub mod runbook;
pub mod select;
pub mod service;
pub mod signer;
pub mod source_keys;
pub mod stage;
pub mod suggest;
pub mod timing;
pub mod validate;
pub mod verdict;

pub use api::ApiCallStats;
pub use check::{Check, CheckStatus};
pub use diagnostics::{Diagnostic, ScenarioError};
pub use error::{AwsError, AwsErrorKind, LedgerError, StageError};
pub use fault::{RetainedCopy, UndoPlan};
pub use finding::{Finding, Severity};
pub use measure::{MeasureMethod, Measured, Objectives};
pub use output::{FaultSpec, Preflight, StageOutput, Validation};
pub use plan::{Effect, PlannedAction};
pub use resource::{DeleteOutcome, ResourceType, ScratchResource, Tagged};
pub use service::{Endpoints, Environment, Service};
pub use signer::SignerPin;
pub use stage::{Outcome, RequestId, Stage, StageRecord};
pub use timing::Timing;
pub use verdict::Verdict;
