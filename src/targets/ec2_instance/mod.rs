//! `ec2-instance`: back up an instance as an AMI covering its EBS volumes,
//! stop/reboot/terminate it or detach a volume, launch a scratch instance
//! from the AMI (optionally copied to a disaster-recovery region), and
//! compare it with the source.
//!
//! Scratch resources in the ledger: `image` (id = the AMI name firedrill
//! chose, known before the create call), `snapshot` (the AMI's snapshots,
//! parent = the AMI name) and `instance` (id = its `Name` tag). Deleting an
//! instance also deletes the volumes it created that carry its name.

mod options;

use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use schemars::JsonSchema;

use firedrill_core::options::TargetInput;
use firedrill_core::resource::TAG_RUN_ID;
use firedrill_core::validate;
use firedrill_core::{
    Check, CheckStatus, DeleteOutcome, Diagnostic, Effect, FaultSpec, Finding, PlannedAction,
    Preflight, ResourceType, ScratchResource, Service, Stage, StageError, StageOutput, Tagged,
    Validation,
};

use self::options::{Fault, RawInstance, Restore, VolumeRef};
use super::common::compare::{field_checks, tags_text};
use super::common::ec2::{delete_volumes, scratch_tags, tagged, user_tags};
use super::{KindSpec, StageContext, Target};
use crate::aws::Clients;
use crate::aws::ec2::{self as api, ImageInfo, InstanceInfo, wait};

/// Registry entry.
pub const KIND: KindSpec = KindSpec {
    name: "ec2-instance",
    summary: "An EC2 instance: AMI backup, stop/reboot/terminate/detach-volume, launch a scratch instance from the AMI.",
    parse,
    schema: |g| RawInstance::json_schema(g),
    delete,
    find_tagged,
};

fn parse(input: TargetInput<'_>, diags: &mut Vec<Diagnostic>) -> Option<Box<dyn Target>> {
    let home = input.home_region;
    let raw: RawInstance = firedrill_core::options::deserialize_kind_options(input, diags)?;
    validate::ec2_id(&raw.instance_id, "i", "instance id", diags);
    let fault = options::fault(raw.fault.as_ref(), diags);
    let restore = options::restore(&raw.restore, home, diags);
    Some(Box::new(InstanceTarget {
        instance_id: raw.instance_id.into_inner(),
        no_reboot: raw.backup.no_reboot.unwrap_or(true),
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
}

/// A validated `ec2-instance` target.
#[derive(Debug)]
pub struct InstanceTarget {
    instance_id: String,
    no_reboot: bool,
    fault: Fault,
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
    ) -> Result<(), StageError> {
        for (_, snap, _) in &image.snapshots {
            let mut r = cx.resource(KIND.name, ResourceType::Snapshot, snap, Service::Ec2);
            r.parent = Some(image_name.to_string());
            r.region = region.to_string();
            let id = cx.intend(r)?;
            cx.created(id, None)?;
        }
        Ok(())
    }
}

#[async_trait]
impl Target for InstanceTarget {
    fn resource(&self) -> String {
        format!("ec2:{}", self.instance_id)
    }

    fn services(&self) -> &'static [Service] {
        &[Service::Ec2]
    }

    fn fault(&self) -> Option<FaultSpec> {
        let (action, description) = match &self.fault {
            Fault::None => return None,
            Fault::Stop { restart_after } => (
                "stop",
                format!(
                    "stop instance {}{}",
                    self.instance_id,
                    if *restart_after {
                        " (started again after validation)"
                    } else {
                        " (left stopped)"
                    }
                ),
            ),
            Fault::Reboot => ("reboot", format!("reboot instance {}", self.instance_id)),
            Fault::Terminate => (
                "terminate",
                format!(
                    "terminate instance {} (irreversible; volumes with DeleteOnTermination are deleted)",
                    self.instance_id
                ),
            ),
            Fault::DetachVolume(v) => (
                "detach-volume",
                format!(
                    "detach {} from instance {}",
                    match v {
                        VolumeRef::Device(d) => format!("the volume at {d}"),
                        VolumeRef::Id(id) => format!("volume {id}"),
                    },
                    self.instance_id
                ),
            ),
        };
        Some(FaultSpec {
            action,
            description,
            destructive: true,
            service: Service::Ec2,
            endpoint: None,
        })
    }

    fn dr_region(&self) -> Option<&str> {
        self.restore.dr_region.as_deref()
    }

    fn plan(&self, run_id: &str, index: usize) -> Vec<PlannedAction> {
        let scratch = |s: &str| format!("firedrill-{run_id}-{index}-{s}");
        let life = Some(Duration::from_mins(30));
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
                "ec2:DescribeInstances, ec2:DescribeVolumes",
                self.resource(),
                None,
            ),
            action(
                Stage::Backup,
                Effect::Create,
                "ec2:CreateImage (+ its EBS snapshots)",
                format!("AMI {}", scratch("image")),
                life,
            ),
        ];
        if !self.no_reboot {
            // `no_reboot = false` asks EC2 to reboot the instance for a
            // consistent image: a change to the named resource.
            p.push(action(
                Stage::Backup,
                Effect::Change,
                "ec2:CreateImage (NoReboot=false)",
                format!("reboot instance {} for the image", self.instance_id),
                None,
            ));
        }
        if let Some(f) = self.fault() {
            let call = match &self.fault {
                Fault::Stop { .. } => "ec2:StopInstances",
                Fault::Reboot => "ec2:RebootInstances",
                Fault::Terminate => "ec2:TerminateInstances",
                Fault::DetachVolume(_) => "ec2:DetachVolume",
                Fault::None => "",
            };
            let effect = if matches!(self.fault, Fault::Terminate) {
                Effect::Delete
            } else {
                Effect::Change
            };
            p.push(action(Stage::Fault, effect, call, f.description, None));
        }
        let region = self.restore.dr_region.clone();
        if let Some(dr) = &region {
            p.push(action(
                Stage::Copy,
                Effect::Create,
                "ec2:CopyImage",
                format!("AMI {} in {dr}", scratch("dr-image")),
                life,
            ));
        }
        p.push(action(
            Stage::Restore,
            Effect::Create,
            "ec2:RunInstances",
            format!(
                "instance {}{}",
                scratch("restore"),
                region.map(|r| format!(" in {r}")).unwrap_or_default()
            ),
            life,
        ));
        p.push(action(
            Stage::Cleanup,
            Effect::Delete,
            "ec2:TerminateInstances, ec2:DeregisterImage, ec2:DeleteSnapshot",
            "every scratch resource above".into(),
            None,
        ));
        p
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
        let ec2 = cx.clients.ec2();
        let emulated = cx.emulated(Service::Ec2);
        let mut out = StageOutput::default().emulated(emulated);
        let name = cx.scratch_name("image");
        let tags = scratch_tags(cx, &name, KIND.name);
        let ledger_id =
            cx.intend(cx.resource(KIND.name, ResourceType::Image, &name, Service::Ec2))?;
        // LocalStack rejects tag specifications on CreateImage; tag after.
        let created = api::create_image(
            ec2,
            &self.instance_id,
            &name,
            self.no_reboot,
            (!emulated).then_some(&tags[..]),
        )
        .await?;
        cx.created(ledger_id, created.request_id.as_deref())?;
        out.request("ec2:CreateImage", created.request_id.as_deref());
        if emulated {
            api::create_tags(ec2, &[&created.id], &tags).await?;
        }
        let polled = wait::image_available(&cx.clock, cx.poll_policy(), ec2, &created.id).await?;
        out.record_wait(&polled, Service::Ec2);
        let image = polled.value;
        Self::record_snapshots(cx, &image, &name, cx.clients.region())?;
        if emulated {
            let snaps: Vec<&str> = image.snapshots.iter().map(|s| s.1.as_str()).collect();
            api::create_tags(ec2, &snaps, &tags).await?;
        }
        out.detail = format!(
            "AMI {} ({name}) available with {} snapshot(s){}",
            image.id,
            image.snapshots.len(),
            if self.no_reboot {
                ", no reboot"
            } else {
                ", instance rebooted"
            }
        );
        out = out.fact("image_id", &image.id).fact(
            "snapshots",
            image
                .snapshots
                .iter()
                .map(|s| s.1.as_str())
                .collect::<Vec<_>>()
                .join(","),
        );
        self.state.image = Some(image);
        Ok(out)
    }

    async fn copy(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let (Some(dr), Some(image)) = (self.restore.dr_region.clone(), self.state.image.clone())
        else {
            return Err(StageError::Failed("no AMI to copy".into()));
        };
        let ec2 = cx.clients.in_region(&dr).ec2;
        let mut out = StageOutput::default().emulated(cx.emulated(Service::Ec2));
        let name = cx.scratch_name("dr-image");
        let tags = scratch_tags(cx, &name, KIND.name);
        let mut r = cx.resource(KIND.name, ResourceType::Image, &name, Service::Ec2);
        r.region.clone_from(&dr);
        let ledger_id = cx.intend(r)?;
        let created = api::copy_image(&ec2, cx.clients.region(), &image.id, &name).await?;
        cx.created(ledger_id, created.request_id.as_deref())?;
        out.request("ec2:CopyImage", created.request_id.as_deref());
        api::create_tags(&ec2, &[&created.id], &tags).await?;
        let polled = wait::image_available(&cx.clock, cx.poll_policy(), &ec2, &created.id).await?;
        out.record_wait(&polled, Service::Ec2);
        let copy = polled.value;
        Self::record_snapshots(cx, &copy, &name, &dr)?;
        let snaps: Vec<&str> = copy.snapshots.iter().map(|s| s.1.as_str()).collect();
        api::create_tags(&ec2, &snaps, &tags).await?;
        out.detail = format!("copied AMI {} to {dr} as {}", image.id, copy.id);
        out = out.fact("dr_image_id", &copy.id).fact("dr_region", &dr);
        self.state.dr_image = Some(copy);
        Ok(out)
    }

    async fn inject(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let ec2 = cx.clients.ec2();
        let mut out = StageOutput::default().emulated(cx.emulated(Service::Ec2));
        let id = self.instance_id.clone();
        match &self.fault {
            Fault::None => out.detail = "no fault injected".into(),
            Fault::Stop { .. } => {
                let rid = api::stop_instance(ec2, &id).await?;
                out.request("ec2:StopInstances", rid.as_deref());
                let polled = wait::instance_state(
                    &cx.clock,
                    cx.poll_policy(),
                    ec2,
                    &id,
                    "stopped",
                    &["terminated", "shutting-down"],
                )
                .await?;
                out.record_wait(&polled, Service::Ec2);
                out.detail = format!("stopped instance {id}");
            }
            Fault::Reboot => {
                let rid = api::reboot_instance(ec2, &id).await?;
                out.request("ec2:RebootInstances", rid.as_deref());
                out.detail = format!("rebooted instance {id}");
            }
            Fault::Terminate => {
                let (_, rid) = api::terminate_instance(ec2, &id).await?;
                out.request("ec2:TerminateInstances", rid.as_deref());
                let polled =
                    wait::instance_state(&cx.clock, cx.poll_policy(), ec2, &id, "terminated", &[])
                        .await?;
                out.record_wait(&polled, Service::Ec2);
                out.detail = format!("terminated instance {id}");
            }
            Fault::DetachVolume(_) => {
                let (vol, device) = self.state.detach.clone().ok_or_else(|| {
                    StageError::Failed("preflight found no volume to detach".into())
                })?;
                let rid = api::detach_volume(ec2, &vol, &id, &device).await?;
                out.request("ec2:DetachVolume", rid.as_deref());
                let polled =
                    wait::volume_state(&cx.clock, cx.poll_policy(), ec2, &vol, "available").await?;
                out.record_wait(&polled, Service::Ec2);
                out.detail = format!("detached volume {vol} ({device}) from {id}");
            }
        }
        Ok(out)
    }

    async fn restore(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let src = self.source()?.clone();
        let (region, image) = match &self.restore.dr_region {
            Some(dr) => (dr.clone(), self.state.dr_image.clone()),
            None => (cx.clients.region().to_string(), self.state.image.clone()),
        };
        let image = image.ok_or_else(|| StageError::Failed("no AMI to launch".into()))?;
        let home = self.restore.dr_region.is_none();
        let ec2 = cx.clients.in_region(&region).ec2;
        let mut out = StageOutput::default().emulated(cx.emulated(Service::Ec2));

        // Network placement: the source's unless overridden; in another
        // region the source's subnet and groups do not exist.
        let r = &self.restore;
        let subnet = r.subnet_id.clone().or_else(|| {
            (home && r.availability_zone.is_none())
                .then(|| src.subnet_id.clone())
                .flatten()
        });
        let security_group_ids = r.security_group_ids.clone().unwrap_or_else(|| {
            if home && subnet == src.subnet_id {
                src.security_group_ids.clone()
            } else {
                Vec::new()
            }
        });
        let availability_zone = r
            .availability_zone
            .clone()
            .or_else(|| (home && subnet.is_none()).then(|| src.availability_zone.clone()));
        let name = cx.scratch_name("restore");
        let mut tags: Vec<(String, String)> = user_tags(&src.tags).into_iter().collect();
        tags.extend(scratch_tags(cx, &name, KIND.name));
        let spec = api::LaunchSpec {
            image_id: image.id.clone(),
            instance_type: r
                .instance_type
                .clone()
                .unwrap_or_else(|| src.instance_type.clone()),
            availability_zone,
            subnet_id: subnet,
            security_group_ids,
            tags,
        };
        let mut res = cx.resource(KIND.name, ResourceType::Instance, &name, Service::Ec2);
        res.region.clone_from(&region);
        let ledger_id = cx.intend(res)?;
        let created = api::run_instance(&ec2, &spec).await?;
        cx.created(ledger_id, created.request_id.as_deref())?;
        out.request("ec2:RunInstances", created.request_id.as_deref());
        self.state.restored = Some((created.id.clone(), region.clone()));
        let polled = wait::instance_state(
            &cx.clock,
            cx.poll_policy(),
            &ec2,
            &created.id,
            "running",
            &["terminated", "shutting-down", "stopped", "stopping"],
        )
        .await?;
        out.record_wait(&polled, Service::Ec2);
        let inst = polled.value;
        out.detail = format!(
            "launched {} ({name}) from AMI {} in {}: running",
            inst.id, image.id, inst.availability_zone
        );
        Ok(out
            .fact("restored_instance", &inst.id)
            .fact("region", &region)
            .fact("instance_type", &inst.instance_type))
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
        let inst = api::instance(&ec2, &id)
            .await?
            .ok_or_else(|| StageError::Failed(format!("restored instance {id} vanished")))?;
        let raw = vec![
            (
                "state",
                Check::compare("instance running", "running", &inst.state),
            ),
            (
                "instance-type",
                Check::compare("instance type", &src.instance_type, &inst.instance_type),
            ),
            (
                "volume-count",
                Check::compare("volume count", src.volumes.len(), inst.volumes.len()),
            ),
            (
                "volume-sizes",
                Check::compare(
                    "volume sizes (GiB)",
                    sizes(&src.volumes),
                    sizes(&inst.volumes),
                ),
            ),
            (
                "tags",
                Check::compare(
                    "tags",
                    tags_text(&user_tags(&src.tags)),
                    tags_text(&user_tags(&inst.tags)),
                ),
            ),
        ];
        let checks = field_checks(
            raw,
            "ec2",
            &format!("restored instance {id} differs from {}", self.instance_id),
            emulated,
            &mut out.findings,
        );
        if emulated {
            out.findings.push(Finding::info(
                "ec2.emulated",
                "EC2 served by an emulator: AMI contents, volume sizes and timings are not evidence about AWS",
            ));
        }
        let failed = checks
            .iter()
            .filter(|c| c.status == CheckStatus::Failed)
            .count();
        out.detail = format!(
            "{id}: {} {} with {} volume(s); {failed} check(s) failed",
            inst.state,
            inst.instance_type,
            inst.volumes.len()
        );
        // Restarting the source is not part of the recovery: measure first.
        if let Fault::Stop {
            restart_after: true,
        } = self.fault
        {
            out.observed = Some(cx.clock.now());
            let home = cx.clients.ec2();
            let rid = api::start_instance(home, &self.instance_id).await?;
            out.request("ec2:StartInstances", rid.as_deref());
            wait::instance_state(
                &cx.clock,
                cx.poll_policy(),
                home,
                &self.instance_id,
                "running",
                &["terminated"],
            )
            .await?;
            out.findings.push(Finding::info(
                "ec2.source-restarted",
                format!("started {} again after validation", self.instance_id),
            ));
        }
        Ok(Validation {
            output: out,
            checks,
            canary: None,
        })
    }
}

/// Terminate scratch instances named `name_or_id` (and the volumes they
/// created), waiting until they are terminated.
async fn delete_instance(ec2: &aws_sdk_ec2::Client, name_or_id: &str) -> Result<bool, StageError> {
    let mut ids = Vec::new();
    if name_or_id.starts_with("i-") {
        ids.push(name_or_id.to_string());
    } else {
        ids.extend(
            api::instances_named(ec2, name_or_id)
                .await?
                .into_iter()
                .filter(|i| i.tags.contains_key(TAG_RUN_ID))
                .map(|i| i.id),
        );
    }
    let mut any = false;
    for id in &ids {
        let (known, _) = api::terminate_instance(ec2, id).await?;
        any |= known;
        wait::until_terminated(ec2, id).await?;
    }
    // Volumes the launch created that outlive the instance (DeleteOnTermination false).
    if !name_or_id.starts_with("i-") {
        for v in api::volumes_named(ec2, name_or_id).await? {
            if v.tags.contains_key(TAG_RUN_ID) && wait::until_volume_free(ec2, &v.id).await? {
                any |= api::delete_volume(ec2, &v.id).await?;
            }
        }
    }
    Ok(any)
}

/// Deregister scratch AMIs named `name_or_id` and delete their snapshots.
async fn delete_image(ec2: &aws_sdk_ec2::Client, name_or_id: &str) -> Result<bool, StageError> {
    let images = if name_or_id.starts_with("ami-") {
        api::image(ec2, name_or_id).await?.into_iter().collect()
    } else {
        api::images_named(ec2, name_or_id).await?
    };
    let mut any = false;
    for image in images {
        any |= api::deregister_image(ec2, &image.id).await?;
        for (_, snap, _) in &image.snapshots {
            api::delete_snapshot(ec2, snap).await?;
        }
    }
    Ok(any)
}

fn delete<'a>(
    r: &'a ScratchResource,
    clients: &'a Clients,
) -> BoxFuture<'a, Result<DeleteOutcome, StageError>> {
    Box::pin(async move {
        let ec2 = clients.in_region(&r.region).ec2;
        match r.rtype {
            ResourceType::Instance => {
                Ok(DeleteOutcome::existed(delete_instance(&ec2, &r.id).await?))
            }
            ResourceType::Image => Ok(DeleteOutcome::existed(delete_image(&ec2, &r.id).await?)),
            ResourceType::Snapshot => {
                // An AMI's snapshot is in use until the AMI is deregistered.
                if let Some(image) = &r.parent {
                    for i in api::images_named(&ec2, image).await? {
                        api::deregister_image(&ec2, &i.id).await?;
                    }
                }
                Ok(DeleteOutcome::existed(
                    api::delete_snapshot(&ec2, &r.id).await?,
                ))
            }
            ResourceType::Volume => Ok(DeleteOutcome::existed(delete_volumes(&ec2, &r.id).await?)),
            other => Err(StageError::Failed(format!(
                "{} cannot delete a `{other}`",
                KIND.name
            ))),
        }
    })
}

fn find_tagged(clients: &Clients) -> BoxFuture<'_, Result<Vec<Tagged>, StageError>> {
    Box::pin(async move {
        let ec2 = clients.ec2();
        let region = clients.region();
        let k = KIND.name;
        let mut found = Vec::new();
        // Dependants first: instances, then images (with their snapshots).
        for i in api::instances_tagged(ec2, TAG_RUN_ID).await? {
            found.extend(tagged(k, ResourceType::Instance, &i.id, &i.tags, region));
        }
        for i in api::images_tagged(ec2, TAG_RUN_ID).await? {
            found.extend(tagged(k, ResourceType::Image, &i.id, &i.tags, region));
        }
        for s in api::snapshots_tagged(ec2, TAG_RUN_ID).await? {
            found.extend(tagged(k, ResourceType::Snapshot, &s.id, &s.tags, region));
        }
        for v in api::volumes_tagged(ec2, TAG_RUN_ID).await? {
            found.extend(tagged(k, ResourceType::Volume, &v.id, &v.tags, region));
        }
        Ok(found)
    })
}

#[cfg(test)]
mod tests {

    mod deletes {
        use aws_sdk_ec2::Client;
        use aws_sdk_ec2::config::retry::RetryConfig;
        use aws_sdk_ec2::operation::delete_snapshot::DeleteSnapshotOutput;
        use aws_sdk_ec2::operation::delete_volume::DeleteVolumeOutput;
        use aws_sdk_ec2::operation::deregister_image::DeregisterImageOutput;
        use aws_sdk_ec2::operation::describe_images::DescribeImagesOutput;
        use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
        use aws_sdk_ec2::operation::describe_volumes::DescribeVolumesOutput;
        use aws_sdk_ec2::operation::terminate_instances::TerminateInstancesOutput;
        use aws_sdk_ec2::types::{
            BlockDeviceMapping, EbsBlockDevice, Image, ImageState, Instance, InstanceState,
            InstanceStateName, Reservation, Tag, Volume, VolumeState,
        };
        use aws_smithy_mocks::{RuleMode, mock, mock_client};

        use super::super::{TAG_RUN_ID, delete_image, delete_instance};

        fn no_retries(c: aws_sdk_ec2::config::Builder) -> aws_sdk_ec2::config::Builder {
            c.retry_config(RetryConfig::disabled())
        }

        fn run_tag() -> Tag {
            Tag::builder().key(TAG_RUN_ID).value("r1").build()
        }

        fn instances(state: InstanceStateName) -> DescribeInstancesOutput {
            DescribeInstancesOutput::builder()
                .reservations(
                    Reservation::builder()
                        .instances(
                            Instance::builder()
                                .instance_id("i-12345678")
                                .state(InstanceState::builder().name(state).build())
                                .tags(run_tag())
                                .build(),
                        )
                        .build(),
                )
                .build()
        }

        fn volumes(state: VolumeState) -> DescribeVolumesOutput {
            DescribeVolumesOutput::builder()
                .volumes(
                    Volume::builder()
                        .volume_id("vol-12345678")
                        .state(state)
                        .tags(run_tag())
                        .build(),
                )
                .build()
        }

        /// Terminate, wait through `shutting-down`, then delete the volume
        /// the launch left once it is free: in this order and no other.
        #[tokio::test]
        async fn instance_is_terminated_before_its_leftover_volume_is_deleted() {
            let find = mock!(Client::describe_instances)
                .then_output(|| instances(InstanceStateName::Running));
            let terminate = mock!(Client::terminate_instances)
                .match_requests(|r| r.instance_ids() == ["i-12345678"])
                .then_output(|| TerminateInstancesOutput::builder().build());
            let wait = mock!(Client::describe_instances)
                .sequence()
                .output(|| instances(InstanceStateName::ShuttingDown))
                .output(|| instances(InstanceStateName::Terminated))
                .build();
            let vols = mock!(Client::describe_volumes)
                .sequence()
                .output(|| volumes(VolumeState::InUse))
                .times(2)
                .output(|| volumes(VolumeState::Available))
                .build();
            let delete = mock!(Client::delete_volume)
                .match_requests(|r| r.volume_id() == Some("vol-12345678"))
                .then_output(|| DeleteVolumeOutput::builder().build());
            let ec2 = mock_client!(
                aws_sdk_ec2,
                RuleMode::Sequential,
                [&find, &terminate, &wait, &vols, &delete],
                no_retries
            );
            assert!(
                delete_instance(&ec2, "firedrill-r1-0-restore")
                    .await
                    .unwrap()
            );
            assert_eq!(wait.num_calls(), 2);
            assert_eq!(vols.num_calls(), 3);
            assert_eq!(delete.num_calls(), 1);
        }

        /// An AMI's snapshots are in use until it is deregistered.
        #[tokio::test]
        async fn image_is_deregistered_before_its_snapshots_are_deleted() {
            let find = mock!(Client::describe_images).then_output(|| {
                DescribeImagesOutput::builder()
                    .images(
                        Image::builder()
                            .image_id("ami-12345678")
                            .name("firedrill-r1-0-image")
                            .state(ImageState::Available)
                            .set_block_device_mappings(Some(
                                ["snap-11111111", "snap-22222222"]
                                    .iter()
                                    .map(|s| {
                                        BlockDeviceMapping::builder()
                                            .device_name("/dev/xvda")
                                            .ebs(EbsBlockDevice::builder().snapshot_id(*s).build())
                                            .build()
                                    })
                                    .collect(),
                            ))
                            .build(),
                    )
                    .build()
            });
            let deregister = mock!(Client::deregister_image)
                .match_requests(|r| r.image_id() == Some("ami-12345678"))
                .then_output(|| DeregisterImageOutput::builder().build());
            let snaps = mock!(Client::delete_snapshot)
                .sequence()
                .output(|| DeleteSnapshotOutput::builder().build())
                .times(2)
                .build();
            let ec2 = mock_client!(
                aws_sdk_ec2,
                RuleMode::Sequential,
                [&find, &deregister, &snaps],
                no_retries
            );
            assert!(delete_image(&ec2, "firedrill-r1-0-image").await.unwrap());
            assert_eq!(deregister.num_calls(), 1);
            assert_eq!(snaps.num_calls(), 2);
        }
    }
}
