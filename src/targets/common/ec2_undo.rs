//! Undoing the faults of the EC2-family kinds (`ec2-instance`,
//! `ebs-volume`) from their ledger record alone: start a stopped instance,
//! attach a detached volume where it was, or (inside a drill only) replace
//! a deleted volume from its snapshot. Also how their copies are marked
//! retained. Each undo first looks at the resource: what is already as it
//! was is left alone.

use std::time::Duration;

use firedrill_core::timing::PollPolicy;
use firedrill_core::{ResourceType, ScratchResource, Service, StageError, StageOutput};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::aws::Clients;
use crate::aws::ec2::{self as api, VolumeSpec, wait};
use crate::ledger::FaultRecord;
use crate::targets::RevertContext;

/// How long an undo may wait for EC2.
const UNDO_DEADLINE: Duration = Duration::from_mins(30);

/// How to undo an EC2-family fault: written to the ledger with the fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "undo", rename_all = "kebab-case")]
pub enum Ec2Undo {
    /// Start a stopped instance again.
    Start { instance: String, region: String },
    /// Attach a detached volume again at the same device.
    Attach {
        volume: String,
        instance: String,
        device: String,
        region: String,
    },
    /// Replace a deleted volume by one created from its snapshot, with its
    /// tags, attached where the old one was.
    ReplaceVolume {
        /// The snapshot's `Name` (firedrill names it before creating it),
        /// or the id of the existing snapshot the drill restored.
        snapshot: String,
        zone: String,
        volume_type: String,
        iops: Option<i32>,
        tags: Vec<(String, String)>,
        attach: Option<(String, String)>,
        region: String,
    },
}

/// The EC2-family kinds' revert function (see `KindSpec::revert`).
pub fn revert<'a>(
    fault: &'a FaultRecord,
    rcx: &'a RevertContext<'a>,
) -> BoxFuture<'a, Result<StageOutput, StageError>> {
    Box::pin(async move {
        let undo: Ec2Undo = fault.undo_as()?;
        let policy = PollPolicy::with_deadline(UNDO_DEADLINE);
        let detail = match &undo {
            Ec2Undo::Start { instance, region } => {
                let ec2 = rcx.clients.in_region(region).ec2;
                start(&ec2, rcx, policy, instance).await?
            }
            Ec2Undo::Attach {
                volume,
                instance,
                device,
                region,
            } => {
                let ec2 = rcx.clients.in_region(region).ec2;
                attach(&ec2, rcx, policy, volume, instance, device).await?
            }
            Ec2Undo::ReplaceVolume { region, .. } => {
                let ec2 = rcx.clients.in_region(region).ec2;
                replace_volume(&ec2, rcx, policy, &undo, &fault.resource).await?
            }
        };
        Ok(StageOutput::new(detail).emulated(rcx.clients.is_emulated(Service::Ec2)))
    })
}

async fn start(
    ec2: &aws_sdk_ec2::Client,
    rcx: &RevertContext<'_>,
    policy: PollPolicy,
    id: &str,
) -> Result<String, StageError> {
    let Some(now) = api::instance(ec2, id).await? else {
        return Err(StageError::Failed(format!(
            "instance {id} no longer exists"
        )));
    };
    match now.state.as_str() {
        "running" | "pending" => {
            return Ok(format!("instance {id} is {}: left as it is", now.state));
        }
        "stopping" => {
            wait::instance_state(rcx.clock, policy, ec2, id, "stopped", &["terminated"]).await?;
        }
        "stopped" => {}
        other => {
            return Err(StageError::Failed(format!(
                "instance {id} is `{other}` and cannot be started"
            )));
        }
    }
    api::start_instance(ec2, id).await?;
    wait::instance_state(
        rcx.clock,
        policy,
        ec2,
        id,
        "running",
        &["terminated", "shutting-down"],
    )
    .await?;
    Ok(format!("started instance {id} again"))
}

async fn attach(
    ec2: &aws_sdk_ec2::Client,
    rcx: &RevertContext<'_>,
    policy: PollPolicy,
    volume: &str,
    instance: &str,
    device: &str,
) -> Result<String, StageError> {
    let Some(v) = api::volume(ec2, volume).await? else {
        return Err(StageError::Failed(format!(
            "volume {volume} no longer exists"
        )));
    };
    if v.attachments.iter().any(|a| a.instance_id == instance) {
        return Ok(format!(
            "volume {volume} is attached to {instance}: left as it is"
        ));
    }
    if v.state != "available" {
        wait::volume_state(rcx.clock, policy, ec2, volume, "available").await?;
    }
    api::attach_volume(ec2, volume, instance, device).await?;
    wait::volume_state(rcx.clock, policy, ec2, volume, "in-use").await?;
    Ok(format!(
        "attached volume {volume} to {instance} at {device} again"
    ))
}

async fn replace_volume(
    ec2: &aws_sdk_ec2::Client,
    rcx: &RevertContext<'_>,
    policy: PollPolicy,
    undo: &Ec2Undo,
    deleted: &str,
) -> Result<String, StageError> {
    let Ec2Undo::ReplaceVolume {
        snapshot,
        zone,
        volume_type,
        iops,
        tags,
        attach: attach_to,
        ..
    } = undo
    else {
        return Err(StageError::Failed("not a volume replacement".into()));
    };
    // firedrill's own snapshot by its `Name`; an existing one by its id.
    let found = if snapshot.starts_with("snap-") {
        api::snapshot(ec2, snapshot).await?
    } else {
        api::snapshots_named(ec2, snapshot)
            .await?
            .into_iter()
            .next()
    };
    let snap = found.ok_or_else(|| StageError::Failed(format!("snapshot {snapshot} is gone")))?;
    let created = api::create_volume(
        ec2,
        &VolumeSpec {
            snapshot_id: snap.id.clone(),
            availability_zone: zone.clone(),
            volume_type: Some(volume_type.clone()),
            iops: *iops,
            tags: tags.clone(),
        },
    )
    .await?;
    wait::volume_state(rcx.clock, policy, ec2, &created.id, "available").await?;
    let mut detail = format!(
        "replaced {deleted} by volume {} from snapshot {}",
        created.id, snap.id
    );
    if let Some((instance, device)) = attach_to {
        attach(ec2, rcx, policy, &created.id, instance, device).await?;
        detail.push_str(&format!(", attached to {instance} at {device}"));
    }
    Ok(detail)
}

/// Mark an EC2-family scratch resource retained (an image also marks its
/// snapshots). Resources are ledgered by id or by the `Name` firedrill gave
/// them.
pub fn retain<'a>(
    r: &'a ScratchResource,
    why: &'a str,
    clients: &'a Clients,
) -> BoxFuture<'a, Result<(), StageError>> {
    Box::pin(async move {
        let ec2 = clients.in_region(&r.region).ec2;
        let mut ids: Vec<String> = Vec::new();
        match r.rtype {
            ResourceType::Image => {
                let images = if r.id.starts_with("ami-") {
                    api::image(&ec2, &r.id).await?.into_iter().collect()
                } else {
                    api::images_named(&ec2, &r.id).await?
                };
                for i in images {
                    ids.extend(i.snapshots.into_iter().map(|s| s.1));
                    ids.push(i.id);
                }
            }
            ResourceType::Snapshot if r.id.starts_with("snap-") => ids.push(r.id.clone()),
            ResourceType::Snapshot => {
                ids.extend(
                    api::snapshots_named(&ec2, &r.id)
                        .await?
                        .into_iter()
                        .map(|s| s.id),
                );
            }
            ResourceType::Volume if r.id.starts_with("vol-") => ids.push(r.id.clone()),
            ResourceType::Volume => {
                ids.extend(
                    api::volumes_named(&ec2, &r.id)
                        .await?
                        .into_iter()
                        .map(|v| v.id),
                );
            }
            _ => {}
        }
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let tag = super::retained_tag(why);
        api::create_tags(&ec2, &refs, &[tag]).await?;
        Ok(())
    })
}
