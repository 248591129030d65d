//! The `ec2-instance` restore: a scratch instance launched from the AMI,
//! in the source's zone, another one, or the disaster-recovery region.

use super::{InstanceTarget, KIND};
use crate::aws::ec2::{self as api, wait};
use crate::targets::StageContext;
use crate::targets::common::ec2::{scratch_tags, user_tags};
use firedrill_core::{ResourceType, Service, StageError, StageOutput};

impl InstanceTarget {
    pub(super) async fn run_restore(
        &mut self,
        cx: &StageContext,
    ) -> Result<StageOutput, StageError> {
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
}
