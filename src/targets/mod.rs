//! Drill target kinds. A kind is one folder implementing [`Target`] plus one
//! line in [`REGISTRY`]; nothing else in firedrill knows the kinds by name.
//!
//! The runner calls the stages in order (preflight, backup, copy, fault,
//! restore, validate, revert); scratch resources are recorded in the ledger
//! before they are created and deleted by the kind's `delete` function, which
//! is the same code path for end-of-run cleanup and for `firedrill reap`.
//!
//! Never the disaster: a kind records its fault in the ledger before the
//! fault's API call ([`StageContext::fault_intent`]), naming the scratch
//! resources that hold the pre-fault data and, when the fault can be undone,
//! how. The kind's `revert` function undoes it from that record alone, so
//! the code that reverts after a crash (`reap`) is the code every run
//! exercises; what protects a fault that is not undone is retained, tagged
//! by the kind's `retain` function, and reported with the restore command
//! the kind wrote into the fault's record.

pub(crate) mod common;
mod context;
pub mod ebs_volume;
pub mod ec2_instance;
pub mod postgres;
pub mod rds_cluster;
pub mod rds_instance;
mod restored;
pub mod s3;
pub mod select;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use firedrill_core::canary::CanaryPlan;
use firedrill_core::coverage::Listing;
use firedrill_core::iam::{ArnContext, Permission};
use firedrill_core::options::TargetInput;
use firedrill_core::recovery::RecoveryPoint;
use firedrill_core::runbook::RunbookStep;
use firedrill_core::timing::Clock;
use firedrill_core::{
    DeleteOutcome, Diagnostic, FaultSpec, PlannedAction, Preflight, ScratchResource, Service,
    StageError, StageOutput, Tagged, UndoPlan, Validation,
};
use futures::future::BoxFuture;
use schemars::{Schema, SchemaGenerator};

use crate::aws::Clients;
use crate::canary::CanarySink;
use crate::ledger::{FaultRecord, Ledger};

pub use context::StageContext;
pub use restored::Restored;

/// Validates a kind's keys into a target, pushing diagnostics on error.
pub type ParseFn = fn(TargetInput<'_>, &mut Vec<Diagnostic>) -> Option<Box<dyn Target>>;

/// Deletes one scratch resource: returns whether it existed.
pub type DeleteFn = for<'a> fn(
    &'a ScratchResource,
    &'a Clients,
) -> BoxFuture<'a, Result<DeleteOutcome, StageError>>;

/// Lists scratch resources carrying firedrill's tags, for `reap` by tag.
pub type FindTaggedFn = for<'a> fn(&'a Clients) -> BoxFuture<'a, Result<Vec<Tagged>, StageError>>;

/// Undoes a fault from its ledger record alone.
pub type RevertFn = for<'a> fn(
    &'a FaultRecord,
    &'a RevertContext<'a>,
) -> BoxFuture<'a, Result<StageOutput, StageError>>;

/// Tags a scratch resource as retained (the value says why), so that reap
/// by tag leaves it alone even without its ledger.
pub type RetainFn =
    for<'a> fn(&'a ScratchResource, &'a str, &'a Clients) -> BoxFuture<'a, Result<(), StageError>>;

/// What a revert may use: the run's clients, its report directory (where
/// kinds keep the files a revert needs, such as the list of objects a fault
/// deleted) and its clock.
pub struct RevertContext<'a> {
    pub clients: &'a Clients,
    pub run_dir: &'a Path,
    pub clock: &'a Clock,
    /// The run's ledger: an undo that needs a scratch resource of its own
    /// records it here first, like every stage.
    pub ledger: &'a Ledger,
}

/// One target kind.
pub struct KindSpec {
    /// The `kind = "..."` value.
    pub name: &'static str,
    /// One line for `--help`, the schema and docs.
    pub summary: &'static str,
    /// Validate the kind's keys into a target.
    pub parse: ParseFn,
    /// JSON Schema of the kind's keys.
    pub schema: fn(&mut SchemaGenerator) -> Schema,
    /// Delete one scratch resource this kind created.
    pub delete: DeleteFn,
    /// Find scratch resources by tag.
    pub find_tagged: FindTaggedFn,
    /// Undo a fault from its ledger record; `None` when this kind's faults
    /// heal by themselves or can only be answered by keeping the copy.
    pub revert: Option<RevertFn>,
    /// Mark a scratch resource retained.
    pub retain: RetainFn,
}

impl fmt::Debug for KindSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KindSpec")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Every target kind firedrill knows.
pub static REGISTRY: &[KindSpec] = &[
    s3::KIND,
    rds_instance::KIND,
    rds_cluster::KIND,
    ec2_instance::KIND,
    ebs_volume::KIND,
    postgres::KIND,
];

/// Look a kind up by its `kind = "..."` name.
pub fn kind(name: &str) -> Option<&'static KindSpec> {
    REGISTRY.iter().find(|k| k.name == name)
}

/// One drill target: the resource a scenario names and what to do to it.
#[async_trait]
pub trait Target: Send + Sync + fmt::Debug {
    /// The named resource, for people: `s3://orders`.
    fn resource(&self) -> String;

    /// AWS services this target calls.
    fn services(&self) -> &'static [Service];

    /// The configured fault, if any.
    fn fault(&self) -> Option<FaultSpec>;

    /// Canary writes, if this target measures RPO with them.
    fn canary_plan(&self) -> Option<CanaryPlan> {
        None
    }

    /// Every API call and resource the drill will touch; no API calls here.
    fn plan(&self, run_id: &str, index: usize) -> Vec<PlannedAction>;

    /// Read-only checks before anything is created: the resource exists,
    /// and its tags (for the blast-radius guards).
    async fn preflight(&mut self, cx: &StageContext) -> Result<Preflight, StageError>;

    /// Take the backup or snapshot.
    async fn backup(&mut self, cx: &StageContext) -> Result<StageOutput, StageError>;

    /// Where canaries go; called once, before the backup, if `canary_plan` is set.
    fn canary_sink(&self, _cx: &StageContext) -> Option<Arc<dyn CanarySink>> {
        None
    }

    /// The disaster-recovery region the backup is copied to, if any. When
    /// set, the runner runs [`Target::copy`] as its own timed stage.
    fn dr_region(&self) -> Option<&str> {
        None
    }

    /// Copy the backup to the disaster-recovery region.
    async fn copy(&mut self, _cx: &StageContext) -> Result<StageOutput, StageError> {
        Err(StageError::Failed(
            "this target kind has no disaster-recovery copy".into(),
        ))
    }

    /// Inject the fault: record it with [`StageContext::fault_intent`]
    /// before its first API call and [`StageContext::fault_done`] after.
    async fn inject(&mut self, cx: &StageContext) -> Result<StageOutput, StageError>;

    /// Restore into scratch resources named after the run.
    async fn restore(&mut self, cx: &StageContext) -> Result<StageOutput, StageError>;

    /// Check what came back.
    async fn validate(&mut self, cx: &StageContext) -> Result<Validation, StageError>;

    /// How the configured fault is undone (or what is kept when it cannot
    /// be), for the plan and the reports.
    fn undo(&self) -> UndoPlan;

    /// Every IAM action the drill of this target makes, on what
    /// (`firedrill iam-policy`): derived from the configured backup, fault
    /// and options, like [`Target::plan`]; no API calls here.
    fn permissions(&self, arn: &ArnContext) -> Vec<Permission>;

    /// The named resource's existing recovery points, read-only, for
    /// `firedrill coverage`, or why they cannot be listed.
    async fn recovery_points(&self, _clients: &Clients) -> Result<Listing, StageError> {
        Ok(Listing::not_for_this_kind())
    }

    /// The id of a copy of `point` in `region` (the target's
    /// [`Target::dr_region`]), read-only, for `firedrill coverage`; `None`
    /// when this kind cannot look.
    async fn copy_in(
        &self,
        _clients: &Clients,
        _region: &str,
        _point: &RecoveryPoint,
    ) -> Option<Result<Option<String>, StageError>> {
        None
    }

    /// Fields of the restored resource that gate and hook templates may
    /// name, beyond `name`, `kind` and `resource` (checked at validation).
    fn restored_fields(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether `sql` gates can query the restored resource.
    fn queryable(&self) -> bool {
        false
    }

    /// The restored resource's fields (every one of
    /// [`Target::restored_fields`]), after a successful restore.
    fn restored(&self) -> Restored {
        Restored::default()
    }

    /// The recovery steps a person runs on the bad day (`firedrill
    /// runbook`), with the scenario's identifiers filled in; empty when
    /// this kind has none. No API calls here.
    fn runbook_steps(&self) -> Vec<RunbookStep> {
        Vec::new()
    }
}
