//! The IAM permissions an `rds-instance` drill needs.

use firedrill_core::iam::{Action as A, ArnContext, Permission, Scope};

use super::RdsInstance;
use super::options::{BackupMethod, Fault};
use crate::targets::common::rds_iam::{base, placement, scratch};

impl RdsInstance {
    pub(super) fn iam_permissions(&self, arn: &ArnContext) -> Vec<Permission> {
        let db = arn.rds(&format!("db:{}", self.instance));
        let mut out = base(
            arn,
            &[A::RdsDescribeDbInstances, A::RdsDescribeDbSnapshots],
            &["db", "snapshot"],
        );
        let created = |mut r: Vec<String>| {
            r.extend(placement(arn));
            Scope::CreateTagged(r)
        };
        let snapshot = scratch(arn, "snapshot");
        match self.backup {
            BackupMethod::Snapshot => out.push(Permission::new(
                A::RdsCreateDbSnapshot,
                Scope::CreateTagged(vec![db.clone(), snapshot.clone()]),
            )),
            BackupMethod::LatestAutomated | BackupMethod::Existing => {}
            BackupMethod::PointInTime(_) => out.push(Permission::new(
                A::RdsRestoreDbInstanceToPointInTime,
                created(vec![db.clone(), scratch(arn, "db")]),
            )),
        }
        if !matches!(self.backup, BackupMethod::PointInTime(_)) {
            // Automated snapshots are named `rds:<instance>-<time>`.
            let automated = arn.rds(&format!("snapshot:rds:{}-*", self.instance));
            let mut from = vec![scratch(arn, "db"), snapshot.clone(), automated.clone()];
            if matches!(self.backup, BackupMethod::Existing) {
                // The recovery point is chosen at run time among the
                // instance's manual, automated and AWS Backup snapshots.
                from.push(arn.rds("snapshot:*"));
            }
            if self.restore_source {
                from.push(db.clone());
            }
            out.push(Permission::new(
                A::RdsRestoreDbInstanceFromDbSnapshot,
                created(from),
            ));
            if self.dr_region.is_some() {
                out.push(Permission::new(
                    A::RdsCopyDbSnapshot,
                    Scope::CreateTagged(vec![snapshot.clone(), automated]),
                ));
            }
        }
        out.extend(Permission::all(
            &[A::RdsDeleteDbInstance, A::RdsDeleteDbSnapshot],
            &Scope::Scratch(vec![scratch(arn, "db"), snapshot]),
        ));
        let on_db = Scope::FaultAllowed(vec![db]);
        match self.fault {
            Fault::None => {}
            Fault::Reboot | Fault::RebootFailover => {
                out.push(Permission::new(A::RdsRebootDbInstance, on_db));
            }
            Fault::Stop => out.extend(Permission::all(
                &[A::RdsStopDbInstance, A::RdsStartDbInstance],
                &on_db,
            )),
            Fault::Delete => out.push(Permission::new(A::RdsDeleteDbInstance, on_db)),
        }
        out
    }
}
