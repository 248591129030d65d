//! IAM vocabulary: every AWS action firedrill may need, in one table with
//! its service and kind of access, and what a target kind asks for (an
//! action on a scope). `firedrill iam-policy` turns these into a policy
//! document; the list shown to users is derived from the same table.

use crate::Service;

/// What an action does, for grouping and `--read-only`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// Describe, list, get: preflight, plan, coverage, validation.
    Read,
    /// Creates a resource (a snapshot, a scratch bucket, an instance).
    Create,
    /// Adds tags.
    Tag,
    /// Changes or deletes a resource or its data.
    Write,
}

macro_rules! actions {
    ($( $variant:ident = $service:ident $name:literal $access:ident, )*) => {
        /// An IAM action firedrill can call.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Action { $( $variant, )* }

        impl Action {
            /// Every action, in table order.
            pub const ALL: &'static [Action] = &[$( Action::$variant, )*];

            /// The service prefix of the action.
            pub fn service(self) -> Service {
                match self { $( Action::$variant => Service::$service, )* }
            }

            /// The action name without its prefix: `DescribeInstances`.
            pub fn name(self) -> &'static str {
                match self { $( Action::$variant => $name, )* }
            }

            /// What kind of access the action is.
            pub fn access(self) -> Access {
                match self { $( Action::$variant => Access::$access, )* }
            }
        }
    };
}

actions! {
    StsGetCallerIdentity = Sts "GetCallerIdentity" Read,

    S3ListAllMyBuckets = S3 "ListAllMyBuckets" Read,
    S3ListBucket = S3 "ListBucket" Read,
    S3ListBucketVersions = S3 "ListBucketVersions" Read,
    S3ListBucketMultipartUploads = S3 "ListBucketMultipartUploads" Read,
    S3GetBucketTagging = S3 "GetBucketTagging" Read,
    S3GetBucketVersioning = S3 "GetBucketVersioning" Read,
    S3GetEncryptionConfiguration = S3 "GetEncryptionConfiguration" Read,
    S3GetObject = S3 "GetObject" Read,
    S3GetObjectVersion = S3 "GetObjectVersion" Read,
    S3GetObjectTagging = S3 "GetObjectTagging" Read,
    S3GetObjectVersionTagging = S3 "GetObjectVersionTagging" Read,
    S3CreateBucket = S3 "CreateBucket" Create,
    S3PutBucketTagging = S3 "PutBucketTagging" Tag,
    S3PutBucketVersioning = S3 "PutBucketVersioning" Write,
    S3PutObject = S3 "PutObject" Write,
    S3PutObjectTagging = S3 "PutObjectTagging" Write,
    S3PutObjectRetention = S3 "PutObjectRetention" Write,
    S3AbortMultipartUpload = S3 "AbortMultipartUpload" Write,
    S3DeleteObject = S3 "DeleteObject" Write,
    S3DeleteObjectVersion = S3 "DeleteObjectVersion" Write,
    S3DeleteBucket = S3 "DeleteBucket" Write,

    Ec2DescribeInstances = Ec2 "DescribeInstances" Read,
    Ec2DescribeVolumes = Ec2 "DescribeVolumes" Read,
    Ec2DescribeSnapshots = Ec2 "DescribeSnapshots" Read,
    Ec2DescribeImages = Ec2 "DescribeImages" Read,
    Ec2DescribeAvailabilityZones = Ec2 "DescribeAvailabilityZones" Read,
    Ec2CreateSnapshot = Ec2 "CreateSnapshot" Create,
    Ec2CopySnapshot = Ec2 "CopySnapshot" Create,
    Ec2CreateImage = Ec2 "CreateImage" Create,
    Ec2CopyImage = Ec2 "CopyImage" Create,
    Ec2CreateVolume = Ec2 "CreateVolume" Create,
    Ec2RunInstances = Ec2 "RunInstances" Create,
    Ec2CreateTags = Ec2 "CreateTags" Tag,
    Ec2AttachVolume = Ec2 "AttachVolume" Write,
    Ec2DetachVolume = Ec2 "DetachVolume" Write,
    Ec2StopInstances = Ec2 "StopInstances" Write,
    Ec2StartInstances = Ec2 "StartInstances" Write,
    Ec2RebootInstances = Ec2 "RebootInstances" Write,
    Ec2TerminateInstances = Ec2 "TerminateInstances" Write,
    Ec2DeleteVolume = Ec2 "DeleteVolume" Write,
    Ec2DeleteSnapshot = Ec2 "DeleteSnapshot" Write,
    Ec2DeregisterImage = Ec2 "DeregisterImage" Write,

    RdsDescribeDbInstances = Rds "DescribeDBInstances" Read,
    RdsDescribeDbClusters = Rds "DescribeDBClusters" Read,
    RdsDescribeDbSnapshots = Rds "DescribeDBSnapshots" Read,
    RdsDescribeDbClusterSnapshots = Rds "DescribeDBClusterSnapshots" Read,
    RdsCreateDbSnapshot = Rds "CreateDBSnapshot" Create,
    RdsCopyDbSnapshot = Rds "CopyDBSnapshot" Create,
    RdsCreateDbClusterSnapshot = Rds "CreateDBClusterSnapshot" Create,
    RdsCopyDbClusterSnapshot = Rds "CopyDBClusterSnapshot" Create,
    RdsRestoreDbInstanceFromDbSnapshot = Rds "RestoreDBInstanceFromDBSnapshot" Create,
    RdsRestoreDbInstanceToPointInTime = Rds "RestoreDBInstanceToPointInTime" Create,
    RdsRestoreDbClusterFromSnapshot = Rds "RestoreDBClusterFromSnapshot" Create,
    RdsRestoreDbClusterToPointInTime = Rds "RestoreDBClusterToPointInTime" Create,
    RdsCreateDbInstance = Rds "CreateDBInstance" Create,
    RdsAddTagsToResource = Rds "AddTagsToResource" Tag,
    RdsRebootDbInstance = Rds "RebootDBInstance" Write,
    RdsStopDbInstance = Rds "StopDBInstance" Write,
    RdsStartDbInstance = Rds "StartDBInstance" Write,
    RdsFailoverDbCluster = Rds "FailoverDBCluster" Write,
    RdsDeleteDbInstance = Rds "DeleteDBInstance" Write,
    RdsDeleteDbCluster = Rds "DeleteDBCluster" Write,
    RdsDeleteDbSnapshot = Rds "DeleteDBSnapshot" Write,
    RdsDeleteDbClusterSnapshot = Rds "DeleteDBClusterSnapshot" Write,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.service().as_str(), self.name())
    }
}

/// Which resources an action is allowed on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Any resource: listings and describes, which have no resource-level
    /// permissions, and reap's search by tag.
    Any,
    /// The resources the scenario names (ARNs built from it).
    Named(Vec<String>),
    /// Resources firedrill names itself (`firedrill-<run-id>-…`), for
    /// services that cannot condition on tags (S3 buckets and objects) or
    /// that tag after creating (RDS takes tags in the create call but
    /// authorizes them against the new name).
    Scratch(Vec<String>),
    /// Resources created by the call, allowed only when the request tags
    /// them with `firedrill:run-id`.
    CreateTagged(Vec<String>),
    /// Resources carrying `firedrill:run-id`: firedrill's own.
    RunTagged(Vec<String>),
    /// Resources tagged `firedrill:allow-faults=true` among these.
    FaultAllowed(Vec<String>),
}

impl Scope {
    /// The ARNs of this scope, if it lists any.
    pub fn arns_mut(&mut self) -> Option<&mut Vec<String>> {
        match self {
            Scope::Any => None,
            Scope::Named(a)
            | Scope::Scratch(a)
            | Scope::CreateTagged(a)
            | Scope::RunTagged(a)
            | Scope::FaultAllowed(a) => Some(a),
        }
    }
}

/// One thing a target needs: an action on a scope.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    pub action: Action,
    pub scope: Scope,
}

impl Permission {
    pub fn new(action: Action, scope: Scope) -> Self {
        Self { action, scope }
    }

    /// The same scope for several actions.
    pub fn all(actions: &[Action], scope: &Scope) -> Vec<Self> {
        actions
            .iter()
            .map(|a| Self::new(*a, scope.clone()))
            .collect()
    }
}

/// What ARNs are built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArnContext {
    pub partition: String,
    pub region: String,
}

impl ArnContext {
    /// The partition of a region: `aws`, `aws-cn` or `aws-us-gov`.
    pub fn for_region(region: &str) -> Self {
        let partition = if region.starts_with("cn-") {
            "aws-cn"
        } else if region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        Self {
            partition: partition.to_string(),
            region: region.to_string(),
        }
    }

    /// `arn:aws:s3:::bucket` (`path` = `bucket` or `bucket/*`).
    pub fn s3(&self, path: &str) -> String {
        format!("arn:{}:s3:::{path}", self.partition)
    }

    /// `arn:aws:ec2:region:*:type/id`, or `region` = `*` for any region.
    pub fn ec2(&self, resource: &str) -> String {
        format!("arn:{}:ec2:{}:*:{resource}", self.partition, self.region)
    }

    /// An EC2 ARN in any region (AMIs and snapshots copied to a DR region).
    pub fn ec2_any_region(&self, resource: &str) -> String {
        format!("arn:{}:ec2:*:*:{resource}", self.partition)
    }

    /// `arn:aws:rds:region:*:type:name`, any region.
    pub fn rds(&self, resource: &str) -> String {
        format!("arn:{}:rds:*:*:{resource}", self.partition)
    }
}

/// The name pattern of every resource firedrill creates:
/// `firedrill-<run-id>-<index>-<suffix>`, the run id being
/// `YYYYMMDD-HHMMSS-xxxxxx` (so that a bucket of the user's called
/// `firedrill-demo-orders` is not taken for firedrill's own).
pub const SCRATCH_PATTERN: &str = "firedrill-????????-??????-??????-*";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_unique_and_named_without_its_prefix() {
        let mut seen = std::collections::BTreeSet::new();
        for a in Action::ALL {
            assert!(seen.insert(a.to_string()), "{a} twice");
            assert!(
                !a.name().contains(':') && a.name().chars().next().unwrap().is_ascii_uppercase()
            );
        }
        assert_eq!(Action::Ec2CreateTags.to_string(), "ec2:CreateTags");
        assert_eq!(
            Action::RdsDescribeDbInstances.to_string(),
            "rds:DescribeDBInstances"
        );
    }

    #[test]
    fn arns_carry_the_partition_of_the_region() {
        let cn = ArnContext::for_region("cn-north-1");
        assert_eq!(cn.s3("b/*"), "arn:aws-cn:s3:::b/*");
        let us = ArnContext::for_region("us-east-1");
        assert_eq!(
            us.ec2("volume/vol-1"),
            "arn:aws:ec2:us-east-1:*:volume/vol-1"
        );
        assert_eq!(us.rds("db:orders"), "arn:aws:rds:*:*:db:orders");
    }
}
