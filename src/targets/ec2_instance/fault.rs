//! The `ec2-instance` faults: stop, reboot, terminate the instance, or
//! detach one of its volumes.

use super::InstanceTarget;
use firedrill_core::{Service, StageError, StageOutput};

use super::options::Fault;
use crate::aws::ec2::{self as api, wait};
use crate::targets::StageContext;

impl InstanceTarget {
    pub(super) async fn run_fault(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
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
}
