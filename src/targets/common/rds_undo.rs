//! Undoing the faults of the RDS-family kinds from their ledger record
//! alone: start a stopped instance, or (inside a drill only) restore a
//! deleted instance under its own identifier from the snapshot. Also how
//! their copies (snapshots) are marked retained.

use std::time::Duration;

use firedrill_core::timing::PollPolicy;
use firedrill_core::{ResourceType, ScratchResource, Service, StageError, StageOutput};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::aws::Clients;
use crate::aws::rds::{self as api, RestoreInstance, wait};
use crate::ledger::FaultRecord;
use crate::targets::RevertContext;

/// How long an undo may wait for RDS.
const UNDO_DEADLINE: Duration = Duration::from_hours(1);

/// How to undo an RDS-family fault: written to the ledger with the fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "undo", rename_all = "kebab-case")]
pub enum RdsUndo {
    /// Start a stopped instance again.
    Start { instance: String, region: String },
    /// Restore a deleted instance under its own identifier, with its
    /// settings, from the snapshot taken before the fault.
    RestoreInPlace {
        snapshot: String,
        settings: RestoreInstance,
        region: String,
    },
}

/// The RDS-family kinds' revert function (see `KindSpec::revert`).
pub fn revert<'a>(
    fault: &'a FaultRecord,
    rcx: &'a RevertContext<'a>,
) -> BoxFuture<'a, Result<StageOutput, StageError>> {
    Box::pin(async move {
        let undo: RdsUndo = fault.undo_as()?;
        let policy = PollPolicy::with_deadline(UNDO_DEADLINE);
        let detail = match undo {
            RdsUndo::Start { instance, region } => {
                let rds = rcx.clients.in_region(&region).rds;
                start(&rds, rcx, policy, &instance).await?
            }
            RdsUndo::RestoreInPlace {
                snapshot,
                settings,
                region,
            } => {
                let rds = rcx.clients.in_region(&region).rds;
                restore_in_place(&rds, rcx, policy, &snapshot, &settings).await?
            }
        };
        Ok(StageOutput::new(detail).emulated(rcx.clients.is_emulated(Service::Rds)))
    })
}

async fn start(
    rds: &aws_sdk_rds::Client,
    rcx: &RevertContext<'_>,
    policy: PollPolicy,
    id: &str,
) -> Result<String, StageError> {
    let Some(now) = api::describe_instance(rds, id).await? else {
        return Err(StageError::Failed(format!(
            "DB instance `{id}` no longer exists"
        )));
    };
    match now.status.as_str() {
        "available" | "starting" => {
            return Ok(format!(
                "DB instance `{id}` is {}: left as it is",
                now.status
            ));
        }
        "stopping" => {
            wait::instance(rds, rcx.clock, policy, id, &["stopped"]).await?;
        }
        _ => {}
    }
    api::start_instance(rds, id).await?;
    wait::instance(rds, rcx.clock, policy, id, &["available"]).await?;
    Ok(format!("started DB instance `{id}` again"))
}

async fn restore_in_place(
    rds: &aws_sdk_rds::Client,
    rcx: &RevertContext<'_>,
    policy: PollPolicy,
    snapshot: &str,
    settings: &RestoreInstance,
) -> Result<String, StageError> {
    let id = &settings.id;
    if api::describe_instance(rds, id).await?.is_none() {
        api::restore_from_snapshot(rds, snapshot, settings).await?;
    }
    wait::instance(rds, rcx.clock, policy, id, &["available"]).await?;
    Ok(format!(
        "restored DB instance `{id}` under its own identifier from snapshot {snapshot}"
    ))
}

/// Mark an RDS snapshot retained (a tag on it, by ARN).
pub fn retain<'a>(
    r: &'a ScratchResource,
    why: &'a str,
    clients: &'a Clients,
) -> BoxFuture<'a, Result<(), StageError>> {
    Box::pin(async move {
        let rds = clients.in_region(&r.region).rds;
        let arn = match r.rtype {
            ResourceType::DbSnapshot => api::describe_snapshot(&rds, &r.id).await?.map(|s| s.arn),
            ResourceType::DbClusterSnapshot => api::describe_cluster_snapshot(&rds, &r.id)
                .await?
                .map(|s| s.arn),
            _ => None,
        };
        if let Some(arn) = arn.filter(|a| !a.is_empty()) {
            let tag = super::retained_tag(why);
            api::add_tags(&rds, &arn, &[tag]).await?;
        }
        Ok(())
    })
}
