//! IAM permissions shared by the EC2-family kinds: the describes reap and
//! preflight use, tagging, and deleting what carries the run id.

use firedrill_core::iam::{Action as A, ArnContext, Permission, Scope};

/// Reads, retain tags and cleanup of firedrill's own EC2 resources.
pub(crate) fn base(arn: &ArnContext) -> Vec<Permission> {
    let mut out = Permission::all(
        &[
            A::Ec2DescribeInstances,
            A::Ec2DescribeVolumes,
            A::Ec2DescribeSnapshots,
            A::Ec2DescribeImages,
            A::Ec2DescribeAvailabilityZones,
        ],
        &Scope::Any,
    );
    // `retain` tags a scratch resource `firedrill:retained`; cleanup and reap
    // delete only what carries the run id.
    out.extend(Permission::all(
        &[A::Ec2CreateTags, A::Ec2DeleteVolume, A::Ec2DeleteSnapshot],
        &Scope::RunTagged(vec![
            arn.ec2_any_region("volume/*"),
            arn.ec2_any_region("snapshot/*"),
        ]),
    ));
    out
}
