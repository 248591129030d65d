//! The IAM permissions an `rds-cluster` drill needs.

use firedrill_core::iam::{Action as A, ArnContext, Permission, Scope};

use super::RdsCluster;
use super::options::Backup;
use crate::targets::common::rds_iam::{base, placement, scratch};

impl RdsCluster {
    pub(super) fn iam_permissions(&self, arn: &ArnContext) -> Vec<Permission> {
        let cluster = arn.rds(&format!("cluster:{}", self.cluster));
        let snapshot = scratch(arn, "cluster-snapshot");
        let mut out = base(
            arn,
            &[
                A::RdsDescribeDbClusters,
                A::RdsDescribeDbInstances,
                A::RdsDescribeDbClusterSnapshots,
            ],
            &["cluster", "db", "cluster-snapshot"],
        );
        let point_in_time = matches!(self.backup, Backup::PointInTime(_));
        if !point_in_time {
            out.push(Permission::new(
                A::RdsCreateDbClusterSnapshot,
                Scope::CreateTagged(vec![cluster.clone(), snapshot.clone()]),
            ));
        }
        if self.dr_region.is_some() {
            out.push(Permission::new(
                A::RdsCopyDbClusterSnapshot,
                Scope::CreateTagged(vec![snapshot.clone()]),
            ));
        }
        // A point-in-time restore reads the source cluster's backups
        // instead of a snapshot.
        let (action, from) = if point_in_time {
            (A::RdsRestoreDbClusterToPointInTime, cluster.clone())
        } else {
            (A::RdsRestoreDbClusterFromSnapshot, snapshot.clone())
        };
        let mut restore = vec![scratch(arn, "cluster"), from];
        restore.extend(placement(arn));
        out.push(Permission::new(action, Scope::CreateTagged(restore)));
        let mut writer = vec![scratch(arn, "db"), scratch(arn, "cluster")];
        writer.extend(placement(arn));
        out.push(Permission::new(
            A::RdsCreateDbInstance,
            Scope::CreateTagged(writer),
        ));
        out.extend(Permission::all(
            &[
                A::RdsDeleteDbInstance,
                A::RdsDeleteDbCluster,
                A::RdsDeleteDbClusterSnapshot,
            ],
            &Scope::Scratch(vec![scratch(arn, "db"), scratch(arn, "cluster"), snapshot]),
        ));
        if self.failover {
            out.push(Permission::new(
                A::RdsFailoverDbCluster,
                Scope::FaultAllowed(vec![cluster]),
            ));
        }
        out
    }
}
