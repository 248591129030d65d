//! The `rds-instance` faults: reboot (with or without a forced failover),
//! stop, delete. A stop and a delete are recorded in the ledger before the
//! API call: a stop with how to start the instance again, a delete with the
//! snapshot that is then the only copy of the data (kept, or used to
//! restore the instance under its own identifier when `restore_source =
//! true`).

use firedrill_core::{Service, StageError, StageOutput, UndoPlan};

use super::options::Fault;
use super::{KIND, RdsInstance};
use crate::aws::rds::{self as api, RestoreInstance};
use crate::ledger::FaultRecord;
use crate::targets::common::rds_compare::user_tags;
use crate::targets::common::rds_undo::RdsUndo;
use crate::targets::{StageContext, Target};

impl RdsInstance {
    pub(super) async fn run_fault(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let rds = cx.clients.rds();
        let mut out = StageOutput::default().emulated(cx.emulated(Service::Rds));
        if self.fault == Fault::None {
            out.detail = "no fault injected".into();
            return Ok(out);
        }
        let recorded = self.record_fault(cx).await?;
        let (op, request_id) = match self.fault {
            Fault::Reboot => (
                "rds:RebootDBInstance",
                api::reboot_instance(rds, &self.instance, false).await?,
            ),
            Fault::RebootFailover => (
                "rds:RebootDBInstance",
                api::reboot_instance(rds, &self.instance, true).await?,
            ),
            Fault::Stop => (
                "rds:StopDBInstance",
                api::stop_instance(rds, &self.instance).await?,
            ),
            Fault::Delete | Fault::None => {
                // Automated backups stay: they are the source's, not the drill's.
                api::delete_instance(rds, &self.instance, false).await?;
                ("rds:DeleteDBInstance", None)
            }
        };
        out.request(op, request_id.as_deref());
        if let Some(id) = recorded {
            cx.fault_done(id)?;
        }
        // The recovery starts now: the drill does not wait for the source.
        out.detail = match self.fault {
            Fault::Reboot => format!("rebooting DB instance {}", self.instance),
            Fault::RebootFailover => format!(
                "rebooting DB instance {} with a forced failover",
                self.instance
            ),
            Fault::Stop => format!("stopping DB instance {}", self.instance),
            Fault::Delete | Fault::None => format!("deleting DB instance {}", self.instance),
        };
        Ok(out)
    }

    /// Record a stop or a delete; a reboot heals by itself.
    async fn record_fault(&self, cx: &StageContext) -> Result<Option<u64>, StageError> {
        let region = cx.clients.region().to_string();
        let id = &self.instance;
        let (undo, protects, restore, after_crash) = match self.fault {
            Fault::None | Fault::Reboot | Fault::RebootFailover => return Ok(None),
            Fault::Stop => (
                self.revert.then(|| RdsUndo::Start {
                    instance: id.clone(),
                    region: region.clone(),
                }),
                Vec::new(),
                format!(
                    "aws rds start-db-instance --db-instance-identifier {id} --region {region}"
                ),
                true,
            ),
            Fault::Delete => {
                let snapshot = self
                    .state
                    .snapshot
                    .as_ref()
                    .map(|s| s.0.clone())
                    .ok_or_else(|| {
                        StageError::Failed("no snapshot protects the instance".into())
                    })?;
                let undo = self
                    .restore_source
                    .then(|| self.in_place(&snapshot, &region))
                    .transpose()?;
                let restore = format!(
                    "aws rds restore-db-instance-from-db-snapshot --db-instance-identifier {id} --db-snapshot-identifier {snapshot} --region {region}"
                );
                (
                    undo,
                    self.state.snapshot_entry.into_iter().collect(),
                    restore,
                    false,
                )
            }
        };
        let record = FaultRecord::new(KIND.name, self.fault.as_str(), self.resource())
            .protecting(protects)
            .with_undo(undo.as_ref())?
            .undo_after_crash(after_crash)
            .restore_with(restore);
        cx.fault_intent(record).await.map(Some)
    }

    /// The instance as it was, for a restore under its own identifier.
    fn in_place(&self, snapshot: &str, region: &str) -> Result<RdsUndo, StageError> {
        let src = self.source()?;
        Ok(RdsUndo::RestoreInPlace {
            snapshot: snapshot.to_string(),
            settings: RestoreInstance {
                id: self.instance.clone(),
                class: Some(src.class.clone()),
                subnet_group: src.subnet_group.clone(),
                parameter_group: src.parameter_group.clone(),
                security_groups: src.security_groups.clone(),
                storage_type: Some(src.storage_type.clone()).filter(|s| !s.is_empty()),
                iops: src.iops,
                multi_az: Some(src.multi_az),
                tags: user_tags(&src.tags).into_iter().collect(),
            },
            region: region.to_string(),
        })
    }

    /// How the fault is undone, or what is kept.
    pub(super) fn undo_plan(&self) -> UndoPlan {
        let id = &self.instance;
        match self.fault {
            Fault::None => UndoPlan::Nothing("no fault configured".into()),
            Fault::Reboot | Fault::RebootFailover => UndoPlan::Nothing(format!(
                "DB instance `{id}` comes back from a reboot by itself"
            )),
            Fault::Stop if self.revert => {
                UndoPlan::Revert(format!("start DB instance `{id}` again after validation"))
            }
            Fault::Stop => UndoPlan::Nothing(format!(
                "revert = false: DB instance `{id}` is left stopped (its storage is intact)"
            )),
            Fault::Delete if self.restore_source => UndoPlan::RestoreSource(format!(
                "restore DB instance `{id}` under its own identifier from the drill's snapshot, with its settings; the snapshot is retained if that fails"
            )),
            Fault::Delete if self.keep_snapshots => UndoPlan::Retain(format!(
                "the drill's snapshot of `{id}` is kept (keep_snapshots = true)"
            )),
            Fault::Delete => UndoPlan::Retain(format!(
                "the drill's snapshot of `{id}` is retained, tagged firedrill:retained; the reports give the restore command"
            )),
        }
    }
}
