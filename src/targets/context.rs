//! What every stage receives: the run's clients, ledger, clock and
//! deadlines. What stages return is shared vocabulary (`firedrill_core`).

use std::time::Duration;

use firedrill_core::recovery::ChoiceInputs;
use firedrill_core::resource::{TAG_EXPIRES_AT, TAG_RUN_ID, TAG_TARGET};
use firedrill_core::timing::{Clock, PollPolicy};
use firedrill_core::{ResourceType, ScratchResource, Service, StageError};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::aws::Clients;
use crate::ledger::{FaultRecord, Ledger};

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
    /// The seed and proven points for choosing an existing recovery point,
    /// and the slot the choice is left in for the report.
    pub recovery: ChoiceInputs,
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
        rtype: ResourceType,
        id: impl Into<String>,
        service: Service,
    ) -> ScratchResource {
        ScratchResource {
            kind: kind.to_string(),
            rtype,
            id: id.into(),
            region: self.clients.region().to_string(),
            parent: None,
            target: self.target_name.clone(),
            service: Some(service),
        }
    }

    /// Record a fault in the ledger before its first API call, fsync'd (the
    /// target is filled in here). The resources it `protects` (the scratch
    /// copies of the pre-fault data) are then tagged retained, so that
    /// neither cleanup nor reap, with or without the ledger, deletes them
    /// until the fault is undone.
    pub async fn fault_intent(&self, mut fault: FaultRecord) -> Result<u64, StageError> {
        fault.target.clone_from(&self.target_name);
        let spec = super::kind(&fault.kind)
            .ok_or_else(|| StageError::Failed(format!("unknown target kind `{}`", fault.kind)))?;
        let why = format!(
            "holds the pre-fault data of {} while fault `{}` is not undone (run {})",
            fault.resource, fault.action, self.run_id
        );
        let protects = fault.protects.clone();
        let id = self.ledger.fault_intent(fault)?;
        let state = self.ledger.state();
        for pid in protects {
            if let Some((r, _)) = state.resources.get(&pid) {
                (spec.retain)(r, &why, &self.clients).await?;
            }
        }
        Ok(id)
    }

    /// Record that the fault's API call returned.
    pub fn fault_done(&self, id: u64) -> Result<(), StageError> {
        Ok(self.ledger.fault_done(id)?)
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
