//! What an `ec2-instance` drill will touch, for `firedrill plan`, and how
//! its fault reads in the plan and the guards.

use super::InstanceTarget;
use firedrill_core::{Effect, FaultSpec, PlannedAction, Service, Stage};
use std::time::Duration;

use super::options::{Fault, VolumeRef};
use crate::targets::Target;

impl InstanceTarget {
    pub(super) fn fault_spec(&self) -> Option<FaultSpec> {
        let description = match &self.fault {
            Fault::None => return None,
            Fault::Stop { restart_after } => format!(
                "stop instance {}{}",
                self.instance_id,
                if *restart_after {
                    " (started again after validation)"
                } else {
                    " (left stopped)"
                }
            ),
            Fault::Reboot => format!("reboot instance {}", self.instance_id),
            Fault::Terminate => format!(
                "terminate instance {} (irreversible; volumes with DeleteOnTermination are deleted)",
                self.instance_id
            ),
            Fault::DetachVolume(v) => format!(
                "detach {} from instance {}",
                match v {
                    VolumeRef::Device(d) => format!("the volume at {d}"),
                    VolumeRef::Id(id) => format!("volume {id}"),
                },
                self.instance_id
            ),
        };
        Some(FaultSpec {
            action: self.fault.action().as_str(),
            description,
            destructive: true,
            loses_data: false,
            service: Service::Ec2,
            endpoint: None,
        })
    }

    pub(super) fn planned(&self, run_id: &str, index: usize) -> Vec<PlannedAction> {
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
            if self.source.is_existing() {
                action(
                    Stage::Backup,
                    Effect::Read,
                    "ec2:DescribeImages",
                    self.source
                        .describe(&format!("AMI of {}", self.instance_id)),
                    None,
                )
            } else {
                action(
                    Stage::Backup,
                    Effect::Create,
                    "ec2:CreateImage (+ its EBS snapshots)",
                    format!("AMI {}", scratch("image")),
                    life,
                )
            },
        ];
        if !self.no_reboot && !self.source.is_existing() {
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
}
