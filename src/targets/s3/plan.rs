//! What an `s3-bucket` drill will touch, for `firedrill plan`, and how its
//! fault reads in the plan and the guards.

use std::time::Duration;

use crate::targets::Target;
use firedrill_core::Service;
use firedrill_core::{Effect, Stage};
use firedrill_core::{FaultSpec, PlannedAction, UndoPlan};

use super::S3Target;
use super::options::{BackupMethod, Fault, RestoreTime};

impl S3Target {
    /// How the fault is undone, or what is kept.
    pub(super) fn undo_plan(&self) -> UndoPlan {
        let what = match self.fault {
            Fault::None => return UndoPlan::Nothing("no fault configured".into()),
            Fault::Corrupt { .. } => "the overwritten objects",
            _ => "the deleted objects",
        };
        match (self.backup, self.revert) {
            (BackupMethod::None, _) => UndoPlan::Nothing(format!(
                "backup `method = \"none\"` keeps no copy: {what} are lost for good (accept_data_loss = true)"
            )),
            (BackupMethod::Copy, true) => UndoPlan::Revert(format!(
                "put {what} still damaged back from the backup bucket; objects written since are left as they are"
            )),
            (BackupMethod::Versioning | BackupMethod::PointInTime, true) => {
                UndoPlan::Revert(format!(
                    "put {what} still damaged back from their pre-fault versions; objects written since are left as they are"
                ))
            }
            (BackupMethod::Copy, false) => UndoPlan::Retain(format!(
                "revert = false: {what} stay damaged and the backup bucket is retained, tagged firedrill:retained"
            )),
            (BackupMethod::Versioning | BackupMethod::PointInTime, false) => {
                UndoPlan::Nothing(format!(
                    "revert = false: {what} stay damaged; their pre-fault versions stay in the bucket's history"
                ))
            }
        }
    }

    /// The time a point-in-time restore goes back to, for the plan.
    fn restore_time_text(&self) -> String {
        match self.restore_time {
            RestoreTime::Latest => "the backup stage's time (latest)".into(),
            RestoreTime::At(t) => firedrill_core::recovery::rfc3339(t),
            RestoreTime::Random(window) => format!(
                "a time within the last {} drawn from the target's seed",
                firedrill_core::recovery::long(window)
            ),
        }
    }

    pub(super) fn fault_spec(&self) -> Option<FaultSpec> {
        let description = match self.fault {
            Fault::None => return None,
            Fault::DeleteShare { share, .. } => format!(
                "delete {:.0}% of the objects in {}",
                share * 100.0,
                self.resource()
            ),
            Fault::Corrupt { count, .. } => format!(
                "overwrite {count} object(s) in {} with garbage",
                self.resource()
            ),
            Fault::DeleteAll => format!("delete every object in {}", self.resource()),
        };
        Some(FaultSpec {
            action: self.fault.action().as_str(),
            description,
            destructive: true,
            loses_data: self.accept_data_loss && self.backup == BackupMethod::None,
            service: Service::S3,
            endpoint: None,
        })
    }

    pub(super) fn planned(&self, run_id: &str, index: usize) -> Vec<PlannedAction> {
        let scratch = |s: &str| format!("s3://firedrill-{run_id}-{index}-{s}");
        let life = Some(Duration::from_mins(10));
        let mut p = vec![PlannedAction {
            stage: Stage::Preflight,
            effect: Effect::Read,
            api_call: "s3:HeadBucket, s3:GetBucketTagging".into(),
            resource: self.resource(),
            scratch_lifetime: None,
        }];
        if self.canary.is_some() {
            p.push(PlannedAction {
                stage: Stage::Backup,
                effect: Effect::Create,
                api_call: "s3:PutObject (canaries)".into(),
                resource: format!("s3://{}/{}", self.bucket, self.canary_prefix(run_id)),
                scratch_lifetime: life,
            });
        }
        p.push(PlannedAction {
            stage: Stage::Backup,
            effect: Effect::Read,
            api_call: if self.backup == BackupMethod::PointInTime {
                format!(
                    "s3:ListObjectVersions, s3:GetObject (SHA-256 manifest of the versions current at {})",
                    self.restore_time_text()
                )
            } else {
                "s3:ListObjectsV2, s3:GetObject (SHA-256 manifest)".into()
            },
            resource: self.resource(),
            scratch_lifetime: None,
        });
        if self.backup == BackupMethod::Copy {
            p.push(PlannedAction {
                stage: Stage::Backup,
                effect: Effect::Create,
                api_call: "s3:CreateBucket, s3:PutBucketTagging, s3:CopyObject".into(),
                resource: scratch("backup"),
                scratch_lifetime: life,
            });
        }
        if let Some(f) = self.fault() {
            let (effect, call) = match self.fault {
                Fault::Corrupt { .. } => (Effect::Change, "s3:PutObject"),
                _ => (Effect::Delete, "s3:DeleteObjects"),
            };
            p.push(PlannedAction::new(
                Stage::Fault,
                effect,
                call,
                f.description,
            ));
        }
        if self.revert && self.backup != BackupMethod::None && self.fault != Fault::None {
            p.push(PlannedAction {
                stage: Stage::Revert,
                effect: Effect::Change,
                api_call: "s3:CopyObject (faulted objects back from the backup)".into(),
                resource: self.resource(),
                scratch_lifetime: None,
            });
        }
        p.push(PlannedAction {
            stage: Stage::Restore,
            effect: Effect::Create,
            api_call: "s3:CreateBucket, s3:PutBucketTagging, s3:CopyObject".into(),
            resource: scratch("restore"),
            scratch_lifetime: life,
        });
        p.push(PlannedAction {
            stage: Stage::Validate,
            effect: Effect::Read,
            api_call: "s3:ListObjectsV2, s3:GetObject".into(),
            resource: scratch("restore"),
            scratch_lifetime: None,
        });
        p.push(PlannedAction {
            stage: Stage::Cleanup,
            effect: Effect::Delete,
            api_call: "s3:ListObjectVersions, s3:DeleteObjects, s3:DeleteBucket".into(),
            resource: "every scratch bucket and canary above".into(),
            scratch_lifetime: None,
        });
        p
    }
}
