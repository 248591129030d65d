//! `ec2-instance`: back up an instance as an AMI covering its EBS volumes,
//! stop/reboot/terminate it or detach a volume, launch a scratch instance
//! from the AMI (optionally copied to a disaster-recovery region), and
//! compare it with the source.
//!
//! Scratch resources in the ledger: `image` (id = the AMI name firedrill
//! chose, known before the create call), `snapshot` (the AMI's snapshots,
//! parent = the AMI name) and `instance` (id = its `Name` tag). Deleting an
//! instance also deletes the volumes it created that carry its name.

mod backup;
mod cleanup;
mod fault;
mod iam;
mod options;
mod plan;
mod restore;
mod runbook;
mod validate;

use async_trait::async_trait;
use schemars::JsonSchema;

use firedrill_core::options::TargetInput;
use firedrill_core::validate::ec2_id;
use firedrill_core::{
    Diagnostic, FaultSpec, PlannedAction, Preflight, ResourceType, Service, StageError,
    StageOutput, UndoPlan, Validation,
};

use self::options::{Fault, ImageFilter, RawInstance, Restore, VolumeRef};
use super::common::ec2_undo;
use super::{KindSpec, StageContext, Target};
use crate::aws::Clients;
use crate::aws::ec2::{self as api, ImageInfo, InstanceInfo};
use firedrill_core::coverage::Listing;
use firedrill_core::recovery::{RecoveryPoint, SourceSpec};
use firedrill_core::resource::TAG_RUN_ID;

/// `select = { tags = ... }`: instances (not terminated) listed by tag.
pub const SELECT: super::select::Selectable = super::select::Selectable {
    kind: "ec2-instance",
    id_key: "instance_id",
    placeholder: "i-00000000",
    noun: "instances",
    list: |clients, tags| {
        Box::pin(async move {
            let found = api::instances_with_tags(clients.ec2(), tags).await?;
            // A restored instance carries the source's tags: never select one.
            Ok(found
                .into_iter()
                .filter(|i| !i.tags.contains_key(firedrill_core::resource::TAG_RUN_ID))
                .map(|i| i.id)
                .collect())
        })
    },
};

/// Registry entry.
pub const KIND: KindSpec = KindSpec {
    name: "ec2-instance",
    summary: "An EC2 instance: AMI backup, stop/reboot/terminate/detach-volume, launch a scratch instance from the AMI.",
    parse,
    schema: |g| RawInstance::json_schema(g),
    delete: cleanup::delete,
    find_tagged: cleanup::find_tagged,
    revert: Some(ec2_undo::revert),
    retain: ec2_undo::retain,
};

fn parse(input: TargetInput<'_>, diags: &mut Vec<Diagnostic>) -> Option<Box<dyn Target>> {
    let home = input.home_region;
    let raw: RawInstance = firedrill_core::options::deserialize_kind_options(input, diags)?;
    ec2_id(&raw.instance_id, "i", "instance id", diags);
    let fault = options::fault(raw.fault.as_ref(), diags);
    let restore = options::restore(&raw.restore, home, diags);
    let (source, images) = options::source(&raw.backup, diags);
    Some(Box::new(InstanceTarget {
        source,
        images,
        instance_id: raw.instance_id.into_inner(),
        no_reboot: raw.backup.no_reboot.unwrap_or(true),
        revert: raw.fault.as_ref().and_then(|f| f.revert).unwrap_or(true),
        fault,
        restore,
        state: State::default(),
    }))
}

#[derive(Debug, Default)]
struct State {
    source: Option<InstanceInfo>,
    /// The volume `detach-volume` detaches: `(volume id, device)`.
    detach: Option<(String, String)>,
    image: Option<ImageInfo>,
    dr_image: Option<ImageInfo>,
    restored: Option<(String, String)>,
    /// Ledger ids of the AMI and its snapshots in the home region: the copy
    /// a `terminate` leaves.
    backup_ids: Vec<u64>,
}

/// A validated `ec2-instance` target.
#[derive(Debug)]
pub struct InstanceTarget {
    instance_id: String,
    /// A new AMI, or an existing one chosen in the backup stage.
    source: SourceSpec,
    /// Which AMIs are the instance's, for an existing source.
    images: ImageFilter,
    no_reboot: bool,
    fault: Fault,
    /// Undo the fault after validation (default true).
    revert: bool,
    restore: Restore,
    state: State,
}

fn sizes(volumes: &[api::AttachedVolume]) -> String {
    let mut s: Vec<i32> = volumes.iter().map(|v| v.size_gib.unwrap_or(0)).collect();
    s.sort_unstable();
    s.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl InstanceTarget {
    fn source(&self) -> Result<&InstanceInfo, StageError> {
        self.state
            .source
            .as_ref()
            .ok_or_else(|| StageError::Failed("preflight did not describe the instance".into()))
    }

    /// Record the snapshots of an AMI in the ledger, children of the AMI.
    fn record_snapshots(
        cx: &StageContext,
        image: &ImageInfo,
        image_name: &str,
        region: &str,
    ) -> Result<Vec<u64>, StageError> {
        let mut ids = Vec::new();
        for (_, snap, _) in &image.snapshots {
            let mut r = cx.resource(KIND.name, ResourceType::Snapshot, snap, Service::Ec2);
            r.parent = Some(image_name.to_string());
            r.region = region.to_string();
            let id = cx.intend(r)?;
            cx.created(id, None)?;
            ids.push(id);
        }
        Ok(ids)
    }
}

#[async_trait]
impl Target for InstanceTarget {
    fn runbook_steps(&self) -> Vec<firedrill_core::runbook::RunbookStep> {
        runbook::steps(self)
    }

    fn resource(&self) -> String {
        format!("ec2:{}", self.instance_id)
    }

    fn services(&self) -> &'static [Service] {
        &[Service::Ec2]
    }
    fn fault(&self) -> Option<FaultSpec> {
        self.fault_spec()
    }

    fn dr_region(&self) -> Option<&str> {
        self.restore.dr_region.as_deref()
    }
    fn plan(&self, run_id: &str, index: usize) -> Vec<PlannedAction> {
        self.planned(run_id, index)
    }

    async fn preflight(&mut self, cx: &StageContext) -> Result<Preflight, StageError> {
        let ec2 = cx.clients.ec2();
        let Some(src) = api::instance(ec2, &self.instance_id).await? else {
            return Err(StageError::Environment(format!(
                "instance {} does not exist in {} (hint: check `instance_id` and `[environment] region`)",
                self.instance_id,
                cx.clients.region()
            )));
        };
        if matches!(src.state.as_str(), "terminated" | "shutting-down") {
            return Err(StageError::Environment(format!(
                "instance {} is {}: there is nothing to back up",
                self.instance_id, src.state
            )));
        }
        if let Fault::DetachVolume(v) = &self.fault {
            let found = src.volumes.iter().find(|a| match v {
                VolumeRef::Device(d) => a.device == *d,
                VolumeRef::Id(id) => a.volume_id == *id,
            });
            let Some(a) = found else {
                return Err(StageError::Environment(format!(
                    "fault `detach-volume`: {} is not attached to {} (attached: {})",
                    match v {
                        VolumeRef::Device(d) => format!("no volume at {d}"),
                        VolumeRef::Id(id) => format!("volume {id}"),
                    },
                    self.instance_id,
                    src.volumes
                        .iter()
                        .map(|a| format!("{} at {}", a.volume_id, a.device))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            if src.root_device.as_deref() == Some(a.device.as_str()) {
                return Err(StageError::Environment(format!(
                    "fault `detach-volume`: {} is the root volume of {}, which EC2 does not detach from a running instance (hint: name a data volume)",
                    a.volume_id, self.instance_id
                )));
            }
            self.state.detach = Some((a.volume_id.clone(), a.device.clone()));
        }
        let detail = format!(
            "{}: {} {} in {}, {} volume(s) ({} GiB)",
            self.instance_id,
            src.state,
            src.instance_type,
            src.availability_zone,
            src.volumes.len(),
            sizes(&src.volumes)
        );
        let tags = src.tags.clone();
        self.state.source = Some(src);
        Ok(Preflight { detail, tags })
    }
    async fn backup(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        self.run_backup(cx).await
    }
    async fn copy(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        self.run_copy(cx).await
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

    async fn inject(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        self.run_fault(cx).await
    }
    async fn recovery_points(&self, clients: &Clients) -> Result<Listing, StageError> {
        // An account's AMIs are not all this instance's: without the
        // scenario's filter, any guess could count another's backups.
        if self.images.name.is_none() && self.images.tags.is_empty() {
            return Ok(Listing::NotListed(
                "recovery points not listed: no image filter in the scenario".into(),
            ));
        }
        let images = api::images_matching(
            clients.ec2(),
            self.images.name.as_deref(),
            &self.images.tags,
        )
        .await?;
        Ok(Listing::Listed(backup::image_points(&images)))
    }

    async fn copy_in(
        &self,
        clients: &Clients,
        region: &str,
        point: &RecoveryPoint,
    ) -> Option<Result<Option<String>, StageError>> {
        let ec2 = clients.in_region(region).ec2;
        Some(
            api::images_copied_from(&ec2, &point.id)
                .await
                .map(|copies| {
                    copies
                        .into_iter()
                        .find(|c| !c.tags.contains_key(TAG_RUN_ID))
                        .map(|c| c.id)
                })
                .map_err(Into::into),
        )
    }

    async fn restore(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        self.run_restore(cx).await
    }
    async fn validate(&mut self, cx: &StageContext) -> Result<Validation, StageError> {
        self.run_validate(cx).await
    }
}
