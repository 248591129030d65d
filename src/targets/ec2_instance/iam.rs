//! The IAM permissions an `ec2-instance` drill needs.

use firedrill_core::iam::{Action as A, ArnContext, Permission, Scope};

use super::InstanceTarget;
use super::options::Fault;
use crate::targets::common::ec2_iam;

impl InstanceTarget {
    pub(super) fn iam_permissions(&self, arn: &ArnContext) -> Vec<Permission> {
        let instance = arn.ec2(&format!("instance/{}", self.instance_id));
        let images = arn.ec2_any_region("image/*");
        let snapshots = arn.ec2_any_region("snapshot/*");
        let mut out = ec2_iam::base(arn);
        // The AMI of the named instance (and its snapshots).
        out.push(Permission::new(
            A::Ec2CreateImage,
            Scope::CreateTagged(vec![instance.clone(), images.clone(), snapshots.clone()]),
        ));
        if self.restore.dr_region.is_some() {
            out.push(Permission::new(
                A::Ec2CopyImage,
                Scope::CreateTagged(vec![images.clone()]),
            ));
        }
        // The scratch instance launched from the AMI, in the subnet and
        // security groups the scenario names (or the default VPC's).
        let subnet = self.restore.subnet_id.as_ref().map_or_else(
            || arn.ec2_any_region("subnet/*"),
            |s| arn.ec2_any_region(&format!("subnet/{s}")),
        );
        let groups: Vec<String> = self.restore.security_group_ids.as_ref().map_or_else(
            || vec![arn.ec2_any_region("security-group/*")],
            |ids| {
                ids.iter()
                    .map(|g| arn.ec2_any_region(&format!("security-group/{g}")))
                    .collect()
            },
        );
        let mut launch = vec![
            arn.ec2_any_region("instance/*"),
            arn.ec2_any_region("volume/*"),
            arn.ec2_any_region("network-interface/*"),
            images.clone(),
            subnet,
        ];
        launch.extend(groups);
        out.push(Permission::new(
            A::Ec2RunInstances,
            Scope::CreateTagged(launch),
        ));
        out.extend(Permission::all(
            &[
                A::Ec2TerminateInstances,
                A::Ec2DeregisterImage,
                A::Ec2CreateTags,
            ],
            &Scope::RunTagged(vec![arn.ec2_any_region("instance/*"), images]),
        ));
        let on_instance = Scope::FaultAllowed(vec![instance.clone()]);
        match &self.fault {
            Fault::None => {}
            Fault::Stop { .. } => out.extend(Permission::all(
                &[A::Ec2StopInstances, A::Ec2StartInstances],
                &on_instance,
            )),
            Fault::Reboot => out.push(Permission::new(A::Ec2RebootInstances, on_instance)),
            Fault::Terminate => out.push(Permission::new(A::Ec2TerminateInstances, on_instance)),
            Fault::DetachVolume(_) => out.extend(Permission::all(
                &[A::Ec2DetachVolume, A::Ec2AttachVolume],
                &Scope::FaultAllowed(vec![instance, arn.ec2("volume/*")]),
            )),
        }
        out
    }
}
