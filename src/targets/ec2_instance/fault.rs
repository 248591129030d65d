//! The `ec2-instance` faults: stop, reboot, terminate the instance, or
//! detach one of its volumes. A fault that damages something is recorded
//! in the ledger before its API call: a stop or a detach with how to undo
//! it, a terminate with the AMI that is the copy to keep.

use firedrill_core::{Service, StageError, StageOutput, UndoPlan};

use super::options::Fault;
use super::{InstanceTarget, KIND};
use crate::aws::ec2::{self as api, wait};
use crate::ledger::FaultRecord;
use crate::targets::common::ec2_undo::Ec2Undo;
use crate::targets::{StageContext, Target};

impl InstanceTarget {
    pub(super) async fn run_fault(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let ec2 = cx.clients.ec2();
        let mut out = StageOutput::default().emulated(cx.emulated(Service::Ec2));
        let id = self.instance_id.clone();
        let recorded = self.record_fault(cx).await?;
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
                let (vol, device) = self.detached()?;
                let rid = api::detach_volume(ec2, &vol, &id, &device).await?;
                out.request("ec2:DetachVolume", rid.as_deref());
                let polled =
                    wait::volume_state(&cx.clock, cx.poll_policy(), ec2, &vol, "available").await?;
                out.record_wait(&polled, Service::Ec2);
                out.detail = format!("detached volume {vol} ({device}) from {id}");
            }
        }
        if let Some(fault) = recorded {
            cx.fault_done(fault)?;
        }
        Ok(out)
    }

    fn detached(&self) -> Result<(String, String), StageError> {
        self.state
            .detach
            .clone()
            .ok_or_else(|| StageError::Failed("preflight found no volume to detach".into()))
    }

    /// Record a fault that damages something; a reboot heals by itself.
    async fn record_fault(&self, cx: &StageContext) -> Result<Option<u64>, StageError> {
        let region = cx.clients.region().to_string();
        let id = &self.instance_id;
        let (undo, protects, restore) = match &self.fault {
            Fault::None | Fault::Reboot => return Ok(None),
            Fault::Stop { restart_after } => (
                restart_after.then(|| Ec2Undo::Start {
                    instance: id.clone(),
                    region: region.clone(),
                }),
                Vec::new(),
                format!("aws ec2 start-instances --instance-ids {id} --region {region}"),
            ),
            Fault::DetachVolume(_) => {
                let (volume, device) = self.detached()?;
                let restore = format!(
                    "aws ec2 attach-volume --volume-id {volume} --instance-id {id} --device {device} --region {region}"
                );
                (
                    restart_or_revert(self).then(|| Ec2Undo::Attach {
                        volume,
                        instance: id.clone(),
                        device,
                        region: region.clone(),
                    }),
                    Vec::new(),
                    restore,
                )
            }
            Fault::Terminate => (
                None,
                self.state.backup_ids.clone(),
                self.relaunch_command(&region),
            ),
        };
        // An existing AMI (not in the ledger) protects a terminate instead.
        let existing = match (&self.fault, self.source.is_existing(), &self.state.image) {
            (Fault::Terminate, true, Some(image)) => vec![image.id.clone()],
            _ => Vec::new(),
        };
        let fault = FaultRecord::new(KIND.name, self.fault.action().as_str(), self.resource())
            .protecting(protects)
            .protected_by_existing(existing)
            .with_undo(undo.as_ref())?
            .restore_with(restore);
        cx.fault_intent(fault).await.map(Some)
    }

    /// `aws ec2 run-instances` from the AMI with the source's settings.
    fn relaunch_command(&self, region: &str) -> String {
        let image = self
            .state
            .image
            .as_ref()
            .map_or("<the retained AMI>", |i| i.id.as_str());
        let mut cmd = format!("aws ec2 run-instances --image-id {image} --region {region}");
        if let Some(src) = &self.state.source {
            cmd.push_str(&format!(" --instance-type {}", src.instance_type));
            if let Some(subnet) = &src.subnet_id {
                cmd.push_str(&format!(" --subnet-id {subnet}"));
            }
            if !src.security_group_ids.is_empty() {
                cmd.push_str(&format!(
                    " --security-group-ids {}",
                    src.security_group_ids.join(" ")
                ));
            }
        }
        cmd
    }

    /// How the fault is undone, or what is kept.
    pub(super) fn undo_plan(&self) -> UndoPlan {
        let id = &self.instance_id;
        match &self.fault {
            Fault::None => UndoPlan::Nothing("no fault configured".into()),
            Fault::Reboot => {
                UndoPlan::Nothing(format!("instance {id} comes back from a reboot by itself"))
            }
            Fault::Stop {
                restart_after: true,
            } => UndoPlan::Revert(format!("start instance {id} again after validation")),
            Fault::Stop {
                restart_after: false,
            } => UndoPlan::Nothing(format!(
                "revert = false: instance {id} is left stopped (its volumes are intact)"
            )),
            Fault::DetachVolume(_) if restart_or_revert(self) => UndoPlan::Revert(format!(
                "attach the volume to {id} again at the same device"
            )),
            Fault::DetachVolume(_) => UndoPlan::Nothing(format!(
                "revert = false: the volume is left detached from {id} (its data is intact)"
            )),
            Fault::Terminate => UndoPlan::Retain(format!(
                "the AMI of {id} and its snapshots are retained, tagged firedrill:retained; the reports give the run-instances command"
            )),
        }
    }
}

/// Whether a detach is undone (the `revert` key, default true).
fn restart_or_revert(t: &InstanceTarget) -> bool {
    t.revert
}
