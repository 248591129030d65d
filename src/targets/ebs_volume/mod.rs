//! `ebs-volume`: snapshot a volume, detach or delete it, restore the
//! snapshot (optionally copied to a disaster-recovery region) into a scratch
//! volume, and compare size, type, IOPS, encryption and tags with the source.
//!
//! Scratch resources in the ledger are recorded by their `Name` tag, which
//! firedrill chooses before the create call: `snapshot` and `volume`.

mod fault;
mod iam;
mod options;
mod runbook;

use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use schemars::JsonSchema;

use firedrill_core::coverage::Listing;
use firedrill_core::options::{RawFaultAction, TargetInput};
use firedrill_core::recovery::{RecoveryPoint, SourceSpec};
use firedrill_core::resource::TAG_RUN_ID;
use firedrill_core::validate;
use firedrill_core::{
    Check, DeleteOutcome, Diagnostic, Effect, FaultSpec, PlannedAction, Preflight, ResourceType,
    ScratchResource, Service, Stage, StageError, StageOutput, Tagged, UndoPlan, Validation,
};

use self::options::{Fault, IOPS_TYPES, RawVolume, Restore};
use super::common::ec2::{
    compare_restored, delete_snapshots, delete_volumes, scratch_tags, tagged, user_tags,
};
use super::common::ec2_undo;
use super::common::source::choose;
use super::{KindSpec, StageContext, Target};
use crate::aws::Clients;
use crate::aws::ec2::{self as api, SnapshotInfo, VolumeInfo, wait};

/// Registry entry.
pub const KIND: KindSpec = KindSpec {
    name: "ebs-volume",
    summary: "An EBS volume: snapshot, detach/delete, restore the snapshot into a scratch volume.",
    parse,
    schema: |g| RawVolume::json_schema(g),
    delete,
    find_tagged,
    revert: Some(ec2_undo::revert),
    retain: ec2_undo::retain,
};

/// `select = { tags = ... }`: volumes listed by tag.
pub const SELECT: super::select::Selectable = super::select::Selectable {
    kind: "ebs-volume",
    id_key: "volume_id",
    placeholder: "vol-00000000",
    noun: "volumes",
    list: |clients, tags| {
        Box::pin(async move {
            let found = api::volumes_with_tags(clients.ec2(), tags).await?;
            // A volume firedrill restored carries the source's tags: never
            // select a scratch volume.
            Ok(found
                .into_iter()
                .filter(|v| !v.tags.contains_key(TAG_RUN_ID))
                .map(|v| v.id)
                .collect())
        })
    },
};

fn parse(input: TargetInput<'_>, diags: &mut Vec<Diagnostic>) -> Option<Box<dyn Target>> {
    let home = input.home_region;
    let raw: RawVolume = firedrill_core::options::deserialize_kind_options(input, diags)?;
    validate::ec2_id(&raw.volume_id, "vol", "volume id", diags);
    let fault = options::fault(raw.fault.as_ref(), diags);
    let restore = options::restore(&raw.restore, home, diags);
    let source = options::source(&raw.backup, diags);
    Some(Box::new(VolumeTarget {
        source,
        volume_id: raw.volume_id.into_inner(),
        revert: raw.fault.as_ref().is_none_or(RawFaultAction::revert),
        restore_source: raw
            .fault
            .as_ref()
            .is_some_and(RawFaultAction::restore_source),
        fault,
        restore,
        state: State::default(),
    }))
}

#[derive(Debug, Default)]
struct State {
    source: Option<VolumeInfo>,
    snapshot: Option<SnapshotInfo>,
    dr_snapshot: Option<SnapshotInfo>,
    restored: Option<(String, String)>,
    /// The snapshot's `Name` and ledger id: the copy a `delete` leaves.
    snapshot_entry: Option<(String, u64)>,
}

/// A validated `ebs-volume` target.
#[derive(Debug)]
pub struct VolumeTarget {
    volume_id: String,
    /// A new snapshot, or an existing one chosen in the backup stage.
    source: SourceSpec,
    fault: Fault,
    /// Attach a detached volume again after validation (default true).
    revert: bool,
    /// Replace a deleted volume from its snapshot as the revert stage.
    restore_source: bool,
    restore: Restore,
    state: State,
}

fn iops_text(v: Option<i32>) -> String {
    v.map_or_else(|| "none".into(), |i| i.to_string())
}

impl VolumeTarget {
    fn source(&self) -> Result<&VolumeInfo, StageError> {
        self.state
            .source
            .as_ref()
            .ok_or_else(|| StageError::Failed("preflight did not describe the volume".into()))
    }

    /// The IOPS the scratch volume is created with and expected to have.
    fn expected_iops(&self, src: &VolumeInfo) -> Option<i32> {
        let vtype = self
            .restore
            .volume_type
            .as_deref()
            .unwrap_or(&src.volume_type);
        // The source's IOPS carry over only to a volume of the same type.
        self.restore
            .iops
            .or(src.iops.filter(|_| vtype == src.volume_type))
            .filter(|_| IOPS_TYPES.contains(&vtype))
    }
}

#[async_trait]
impl Target for VolumeTarget {
    fn runbook_steps(&self) -> Vec<firedrill_core::runbook::RunbookStep> {
        runbook::steps(self)
    }

    fn resource(&self) -> String {
        format!("ebs:{}", self.volume_id)
    }

    fn services(&self) -> &'static [Service] {
        &[Service::Ec2]
    }

    fn fault(&self) -> Option<FaultSpec> {
        let description = match self.fault {
            Fault::None => return None,
            Fault::Detach => format!("detach volume {} from its instance", self.volume_id),
            Fault::Delete => format!("delete volume {} (irreversible)", self.volume_id),
        };
        Some(FaultSpec {
            action: self.fault.as_str(),
            description,
            destructive: true,
            loses_data: false,
            service: Service::Ec2,
            endpoint: None,
        })
    }

    fn dr_region(&self) -> Option<&str> {
        self.restore.dr_region.as_deref()
    }

    fn plan(&self, run_id: &str, index: usize) -> Vec<PlannedAction> {
        let scratch = |s: &str| format!("firedrill-{run_id}-{index}-{s}");
        let life = Some(Duration::from_mins(20));
        let action =
            |stage: Stage, effect: Effect, call: &str, resource: String, lifetime| PlannedAction {
                stage,
                effect,
                api_call: call.into(),
                resource,
                scratch_lifetime: lifetime,
            };
        let mut p = vec![
            action(
                Stage::Preflight,
                Effect::Read,
                "ec2:DescribeVolumes",
                self.resource(),
                None,
            ),
            if self.source.is_existing() {
                action(
                    Stage::Backup,
                    Effect::Read,
                    "ec2:DescribeSnapshots",
                    self.source
                        .describe(&format!("snapshot of {}", self.volume_id)),
                    None,
                )
            } else {
                action(
                    Stage::Backup,
                    Effect::Create,
                    "ec2:CreateSnapshot",
                    format!("snapshot {}", scratch("snapshot")),
                    life,
                )
            },
        ];
        if let Some(f) = self.fault() {
            let (effect, call) = match self.fault {
                Fault::Delete => (Effect::Delete, "ec2:DeleteVolume"),
                _ => (Effect::Change, "ec2:DetachVolume"),
            };
            p.push(action(Stage::Fault, effect, call, f.description, None));
        }
        if let Some(dr) = &self.restore.dr_region {
            p.push(action(
                Stage::Copy,
                Effect::Create,
                "ec2:CopySnapshot",
                format!("snapshot {} in {dr}", scratch("dr-snapshot")),
                life,
            ));
        }
        p.push(action(
            Stage::Restore,
            Effect::Create,
            "ec2:CreateVolume",
            format!(
                "volume {}{}",
                scratch("restore"),
                self.restore
                    .dr_region
                    .as_ref()
                    .map(|r| format!(" in {r}"))
                    .unwrap_or_default()
            ),
            life,
        ));
        p.push(action(
            Stage::Cleanup,
            Effect::Delete,
            "ec2:DeleteVolume, ec2:DeleteSnapshot",
            "every scratch resource above".into(),
            None,
        ));
        p
    }

    async fn preflight(&mut self, cx: &StageContext) -> Result<Preflight, StageError> {
        let Some(src) = api::volume(cx.clients.ec2(), &self.volume_id).await? else {
            return Err(StageError::Environment(format!(
                "volume {} does not exist in {} (hint: check `volume_id` and `[environment] region`)",
                self.volume_id,
                cx.clients.region()
            )));
        };
        if matches!(src.state.as_str(), "deleting" | "deleted" | "error") {
            return Err(StageError::Environment(format!(
                "volume {} is {}: there is nothing to snapshot",
                self.volume_id, src.state
            )));
        }
        match self.fault {
            Fault::Detach if src.attachments.is_empty() => {
                return Err(StageError::Environment(format!(
                    "fault `detach`: volume {} is not attached to an instance (hint: use `delete` or `none`)",
                    self.volume_id
                )));
            }
            Fault::Delete if !src.attachments.is_empty() => {
                return Err(StageError::Environment(format!(
                    "fault `delete`: volume {} is attached to {}; EC2 deletes only detached volumes (hint: use `detach`)",
                    self.volume_id, src.attachments[0].instance_id
                )));
            }
            _ => {}
        }
        let detail = format!(
            "{}: {} {} GiB {}{} in {}{}",
            self.volume_id,
            src.state,
            src.size_gib,
            src.volume_type,
            if src.encrypted { " encrypted" } else { "" },
            src.availability_zone,
            src.attachments
                .first()
                .map(|a| format!(", attached to {} at {}", a.instance_id, a.device))
                .unwrap_or_default()
        );
        let tags = src.tags.clone();
        self.state.source = Some(src);
        Ok(Preflight { detail, tags })
    }

    async fn backup(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let ec2 = cx.clients.ec2();
        let mut out = StageOutput::default().emulated(cx.emulated(Service::Ec2));
        if self.source.is_existing() {
            return self.choose_existing(cx, out).await;
        }
        let name = cx.scratch_name("snapshot");
        let tags = scratch_tags(cx, &name, KIND.name);
        let ledger_id =
            cx.intend(cx.resource(KIND.name, ResourceType::Snapshot, &name, Service::Ec2))?;
        let created = api::create_snapshot(
            ec2,
            &self.volume_id,
            &format!("firedrill backup of {}", self.volume_id),
            &tags,
        )
        .await?;
        cx.created(ledger_id, created.request_id.as_deref())?;
        out.request("ec2:CreateSnapshot", created.request_id.as_deref());
        let polled =
            wait::snapshot_completed(&cx.clock, cx.poll_policy(), ec2, &created.id).await?;
        out.record_wait(&polled, Service::Ec2);
        out.detail = format!("snapshot {} ({name}) completed", created.id);
        out = out.fact("snapshot_id", &created.id);
        self.state.snapshot_entry = Some((name, ledger_id));
        self.state.snapshot = Some(polled.value);
        Ok(out)
    }

    async fn copy(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let (Some(dr), Some(snap)) = (self.restore.dr_region.clone(), self.state.snapshot.clone())
        else {
            return Err(StageError::Failed("no snapshot to copy".into()));
        };
        let ec2 = cx.clients.in_region(&dr).ec2;
        let mut out = StageOutput::default().emulated(cx.emulated(Service::Ec2));
        let name = cx.scratch_name("dr-snapshot");
        let tags = scratch_tags(cx, &name, KIND.name);
        let mut r = cx.resource(KIND.name, ResourceType::Snapshot, &name, Service::Ec2);
        r.region.clone_from(&dr);
        let ledger_id = cx.intend(r)?;
        let created = api::copy_snapshot(
            &ec2,
            cx.clients.region(),
            &snap.id,
            &format!("firedrill copy of {} from {}", snap.id, cx.clients.region()),
            &tags,
        )
        .await?;
        cx.created(ledger_id, created.request_id.as_deref())?;
        out.request("ec2:CopySnapshot", created.request_id.as_deref());
        let polled =
            wait::snapshot_completed(&cx.clock, cx.poll_policy(), &ec2, &created.id).await?;
        out.record_wait(&polled, Service::Ec2);
        out.detail = format!("copied snapshot {} to {dr} as {}", snap.id, created.id);
        out = out
            .fact("dr_snapshot_id", &created.id)
            .fact("dr_region", &dr);
        self.state.dr_snapshot = Some(polled.value);
        Ok(out)
    }

    async fn inject(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        self.run_fault(cx).await
    }

    fn permissions(
        &self,
        arn: &firedrill_core::iam::ArnContext,
    ) -> Vec<firedrill_core::iam::Permission> {
        self.iam_permissions(arn)
    }

    fn undo(&self) -> UndoPlan {
        self.undo_plan()
    }

    async fn restore(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let src = self.source()?.clone();
        let (region, snap) = match &self.restore.dr_region {
            Some(dr) => (dr.clone(), self.state.dr_snapshot.clone()),
            None => (cx.clients.region().to_string(), self.state.snapshot.clone()),
        };
        let snap = snap.ok_or_else(|| StageError::Failed("no snapshot to restore".into()))?;
        let ec2 = cx.clients.in_region(&region).ec2;
        let mut out = StageOutput::default().emulated(cx.emulated(Service::Ec2));
        let availability_zone = match (&self.restore.availability_zone, &self.restore.dr_region) {
            (Some(z), _) => z.clone(),
            (None, None) => src.availability_zone.clone(),
            (None, Some(dr)) => api::first_zone(&ec2).await?.ok_or_else(|| {
                StageError::Environment(format!(
                    "no available zone in {dr} (hint: set `[targets.restore] availability_zone`)"
                ))
            })?,
        };
        let name = cx.scratch_name("restore");
        let mut tags: Vec<(String, String)> = user_tags(&src.tags).into_iter().collect();
        tags.extend(scratch_tags(cx, &name, KIND.name));
        let spec = api::VolumeSpec {
            snapshot_id: snap.id.clone(),
            availability_zone,
            volume_type: Some(
                self.restore
                    .volume_type
                    .clone()
                    .unwrap_or_else(|| src.volume_type.clone()),
            ),
            iops: self.expected_iops(&src),
            tags,
        };
        let mut res = cx.resource(KIND.name, ResourceType::Volume, &name, Service::Ec2);
        res.region.clone_from(&region);
        let ledger_id = cx.intend(res)?;
        let created = api::create_volume(&ec2, &spec).await?;
        cx.created(ledger_id, created.request_id.as_deref())?;
        out.request("ec2:CreateVolume", created.request_id.as_deref());
        self.state.restored = Some((created.id.clone(), region.clone()));
        let polled =
            wait::volume_state(&cx.clock, cx.poll_policy(), &ec2, &created.id, "available").await?;
        out.record_wait(&polled, Service::Ec2);
        let v = polled.value;
        out.detail = format!(
            "created volume {} ({name}) from snapshot {} in {}: available",
            v.id, snap.id, v.availability_zone
        );
        Ok(out
            .fact("restored_volume", &v.id)
            .fact("region", &region)
            .fact("availability_zone", &v.availability_zone))
    }

    async fn recovery_points(&self, clients: &Clients) -> Result<Listing, StageError> {
        let snaps = api::snapshots_of_volume(clients.ec2(), &self.volume_id).await?;
        Ok(Listing::Listed(points_of(&snaps)))
    }

    async fn copy_in(
        &self,
        clients: &Clients,
        region: &str,
        point: &RecoveryPoint,
    ) -> Option<Result<Option<String>, StageError>> {
        let ec2 = clients.in_region(region).ec2;
        Some(
            api::snapshots_copied_from(&ec2, &point.id)
                .await
                .map(|copies| {
                    copies
                        .into_iter()
                        .find(|c| c.state == "completed" && !c.tags.contains_key(TAG_RUN_ID))
                        .map(|c| c.id)
                })
                .map_err(Into::into),
        )
    }

    async fn validate(&mut self, cx: &StageContext) -> Result<Validation, StageError> {
        let src = self.source()?.clone();
        let (id, region) = self
            .state
            .restored
            .clone()
            .ok_or_else(|| StageError::Failed("nothing restored".into()))?;
        let ec2 = cx.clients.in_region(&region).ec2;
        let emulated = cx.emulated(Service::Ec2);
        let mut out = StageOutput::default().emulated(emulated);
        let v = api::volume(&ec2, &id)
            .await?
            .ok_or_else(|| StageError::Failed(format!("restored volume {id} vanished")))?;
        let src_iops = src
            .iops
            .filter(|_| IOPS_TYPES.contains(&src.volume_type.as_str()));
        let got_iops = v
            .iops
            .filter(|_| IOPS_TYPES.contains(&v.volume_type.as_str()));
        let raw = vec![
            (
                "state",
                Check::compare("volume available", "available", &v.state),
            ),
            (
                "size",
                Check::compare("size (GiB)", src.size_gib, v.size_gib),
            ),
            (
                "volume-type",
                Check::compare("volume type", &src.volume_type, &v.volume_type),
            ),
            (
                "iops",
                Check::compare("iops", iops_text(src_iops), iops_text(got_iops)),
            ),
            (
                "encryption",
                Check::compare("encrypted", src.encrypted, v.encrypted),
            ),
        ];
        let (checks, failed) = compare_restored(
            raw,
            &src.tags,
            &v.tags,
            "ebs",
            &format!("restored volume {id} differs from {}", self.volume_id),
            "EBS served by an emulator: snapshot contents and timings are not evidence about AWS",
            &mut out,
        );
        out.detail = format!(
            "{id}: {} GiB {}{}; {failed} check(s) failed",
            v.size_gib,
            v.volume_type,
            if v.encrypted { " encrypted" } else { "" }
        );
        Ok(Validation {
            output: out,
            checks,
            canary: None,
        })
    }
}

/// The organisation's snapshots among a volume's (not firedrill's own).
fn points_of(snaps: &[SnapshotInfo]) -> Vec<RecoveryPoint> {
    snaps
        .iter()
        .filter(|s| !s.tags.contains_key(TAG_RUN_ID))
        .filter_map(|s| {
            Some(
                RecoveryPoint::new(&s.id, s.start_time?, "snapshot")
                    .with_encryption(s.encrypted, s.kms_key_id.clone()),
            )
        })
        .collect()
}

impl VolumeTarget {
    /// The backup stage for an existing snapshot: list the volume's
    /// completed snapshots (not firedrill's own scratch ones) and choose.
    async fn choose_existing(
        &mut self,
        cx: &StageContext,
        mut out: StageOutput,
    ) -> Result<StageOutput, StageError> {
        let snaps = api::snapshots_of_volume(cx.clients.ec2(), &self.volume_id).await?;
        out.request("ec2:DescribeSnapshots", None);
        let points = points_of(&snaps);
        let chosen = choose(
            cx,
            &self.source,
            &points,
            &self.resource(),
            "completed snapshot",
            &mut out,
        )?;
        self.state.snapshot = snaps.into_iter().find(|s| s.id == chosen.point.id);
        Ok(out.fact("snapshot_id", &chosen.point.id))
    }
}

fn delete<'a>(
    r: &'a ScratchResource,
    clients: &'a Clients,
) -> BoxFuture<'a, Result<DeleteOutcome, StageError>> {
    Box::pin(async move {
        let ec2 = clients.in_region(&r.region).ec2;
        let existed = match r.rtype {
            ResourceType::Snapshot => delete_snapshots(&ec2, &r.id).await?,
            ResourceType::Volume => delete_volumes(&ec2, &r.id).await?,
            other => {
                return Err(StageError::not_deletable(KIND.name, other));
            }
        };
        Ok(DeleteOutcome::existed(existed))
    })
}

fn find_tagged(clients: &Clients) -> BoxFuture<'_, Result<Vec<Tagged>, StageError>> {
    Box::pin(async move {
        let ec2 = clients.ec2();
        let region = clients.region();
        let mut found = Vec::new();
        for v in api::volumes_tagged(ec2, TAG_RUN_ID).await? {
            found.extend(tagged(
                KIND.name,
                ResourceType::Volume,
                &v.id,
                &v.tags,
                region,
            ));
        }
        for s in api::snapshots_tagged(ec2, TAG_RUN_ID).await? {
            found.extend(tagged(
                KIND.name,
                ResourceType::Snapshot,
                &s.id,
                &s.tags,
                region,
            ));
        }
        Ok(found)
    })
}
