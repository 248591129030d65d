//! The IAM permissions an `ebs-volume` drill needs.

use firedrill_core::iam::{Action as A, ArnContext, Permission, Scope};

use super::VolumeTarget;
use super::options::Fault;
use crate::targets::common::ec2_iam;

impl VolumeTarget {
    pub(super) fn iam_permissions(&self, arn: &ArnContext) -> Vec<Permission> {
        let volume = arn.ec2(&format!("volume/{}", self.volume_id));
        let snapshots = arn.ec2_any_region("snapshot/*");
        let mut out = ec2_iam::base(arn);
        // The snapshot of the named volume, and the scratch volume restored
        // from it (in the DR region when asked, from a copy).
        out.push(Permission::new(
            A::Ec2CreateSnapshot,
            Scope::CreateTagged(vec![volume.clone(), snapshots.clone()]),
        ));
        out.push(Permission::new(
            A::Ec2CreateVolume,
            Scope::CreateTagged(vec![arn.ec2_any_region("volume/*"), snapshots.clone()]),
        ));
        if self.restore.dr_region.is_some() {
            out.push(Permission::new(
                A::Ec2CopySnapshot,
                Scope::CreateTagged(vec![snapshots]),
            ));
        }
        let fault = Scope::FaultAllowed(vec![volume, arn.ec2("instance/*")]);
        match self.fault {
            Fault::None => {}
            Fault::Detach => out.extend(Permission::all(
                &[A::Ec2DetachVolume, A::Ec2AttachVolume],
                &fault,
            )),
            Fault::Delete => out.push(Permission::new(A::Ec2DeleteVolume, fault)),
        }
        out
    }
}
