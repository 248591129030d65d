//! The `ebs-volume` faults: detach the volume, or delete it. Each is
//! recorded in the ledger before its API call: a detach with how to attach
//! it again, a delete with the snapshot that is then the only copy (kept,
//! or used to replace the volume when `restore_source = true`).

use firedrill_core::{Service, StageError, StageOutput, UndoPlan};

use super::options::Fault;
use super::{KIND, VolumeTarget};
use crate::aws::ec2::{self as api, wait};
use crate::ledger::FaultRecord;
use crate::targets::common::ec2_undo::Ec2Undo;
use crate::targets::{StageContext, Target};

impl VolumeTarget {
    pub(super) async fn run_fault(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let ec2 = cx.clients.ec2();
        let mut out = StageOutput::default().emulated(cx.emulated(Service::Ec2));
        let id = self.volume_id.clone();
        if self.fault == Fault::None {
            out.detail = "no fault injected".into();
            return Ok(out);
        }
        let recorded = self.record_fault(cx).await?;
        if self.fault == Fault::Detach {
            let (instance, device) = self.attachment()?;
            let rid = api::detach_volume(ec2, &id, &instance, &device).await?;
            out.request("ec2:DetachVolume", rid.as_deref());
            let polled =
                wait::volume_state(&cx.clock, cx.poll_policy(), ec2, &id, "available").await?;
            out.record_wait(&polled, Service::Ec2);
            out.detail = format!("detached volume {id} from {instance} ({device})");
        } else {
            api::delete_volume(ec2, &id).await?;
            let polled = wait::volume_gone(&cx.clock, cx.poll_policy(), ec2, &id).await?;
            out.record_wait(&polled, Service::Ec2);
            out.detail = format!("deleted volume {id}");
        }
        cx.fault_done(recorded)?;
        Ok(out)
    }

    /// The instance and device the volume is attached at.
    fn attachment(&self) -> Result<(String, String), StageError> {
        self.source()?
            .attachments
            .first()
            .map(|a| (a.instance_id.clone(), a.device.clone()))
            .ok_or_else(|| StageError::Failed(format!("volume {} is not attached", self.volume_id)))
    }

    async fn record_fault(&self, cx: &StageContext) -> Result<u64, StageError> {
        let region = cx.clients.region().to_string();
        let id = &self.volume_id;
        let (undo, protects, restore, after_crash) = if self.fault == Fault::Detach {
            let (instance, device) = self.attachment()?;
            let restore = format!(
                "aws ec2 attach-volume --volume-id {id} --instance-id {instance} --device {device} --region {region}"
            );
            let undo = self.revert.then(|| Ec2Undo::Attach {
                volume: id.clone(),
                instance,
                device,
                region: region.clone(),
            });
            (undo, Vec::new(), restore, true)
        } else {
            // The snapshot to replace the volume from: the drill's own
            // (ledger id, protected) or the existing one it chose (named).
            let (snapshot, protects) = match &self.state.snapshot_entry {
                Some((name, ledger_id)) => (name.clone(), vec![*ledger_id]),
                None => (
                    self.state
                        .snapshot
                        .as_ref()
                        .map(|s| s.id.clone())
                        .ok_or_else(|| {
                            StageError::Failed("no snapshot to protect the volume".into())
                        })?,
                    Vec::new(),
                ),
            };
            let undo = self
                .restore_source
                .then(|| self.replacement(&snapshot, &region))
                .transpose()?;
            (undo, protects, self.recreate_command(&region)?, false)
        };
        let existing = if self.state.snapshot_entry.is_none() && self.fault == Fault::Delete {
            self.state.snapshot.iter().map(|s| s.id.clone()).collect()
        } else {
            Vec::new()
        };
        let record = FaultRecord::new(KIND.name, self.fault.as_str(), self.resource())
            .protecting(protects)
            .protected_by_existing(existing)
            .with_undo(undo.as_ref())?
            .undo_after_crash(after_crash)
            .restore_with(restore);
        cx.fault_intent(record).await
    }

    /// The volume that replaces the deleted one: same zone, type, IOPS and
    /// tags, attached where it was.
    fn replacement(&self, snapshot: &str, region: &str) -> Result<Ec2Undo, StageError> {
        let src = self.source()?;
        Ok(Ec2Undo::ReplaceVolume {
            snapshot: snapshot.to_string(),
            zone: src.availability_zone.clone(),
            volume_type: src.volume_type.clone(),
            iops: src.iops,
            tags: src
                .tags
                .iter()
                .filter(|(k, _)| !k.starts_with("aws:"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            attach: self.attachment().ok(),
            region: region.to_string(),
        })
    }

    /// The commands that recreate the deleted volume from the snapshot.
    fn recreate_command(&self, region: &str) -> Result<String, StageError> {
        let src = self.source()?;
        let snap = self
            .state
            .snapshot
            .as_ref()
            .map_or("<the retained snapshot>", |s| s.id.as_str());
        let mut cmd = format!(
            "aws ec2 create-volume --snapshot-id {snap} --availability-zone {} --volume-type {} --region {region}",
            src.availability_zone, src.volume_type
        );
        if let Ok((instance, device)) = self.attachment() {
            cmd.push_str(&format!(
                " && aws ec2 attach-volume --volume-id <the new volume> --instance-id {instance} --device {device} --region {region}"
            ));
        }
        Ok(cmd)
    }

    /// How the fault is undone, or what is kept.
    pub(super) fn undo_plan(&self) -> UndoPlan {
        let id = &self.volume_id;
        match (self.fault, self.revert, self.restore_source) {
            (Fault::None, ..) => UndoPlan::Nothing("no fault configured".into()),
            (Fault::Detach, true, _) => UndoPlan::Revert(format!(
                "attach volume {id} again to its instance at the same device"
            )),
            (Fault::Detach, false, _) => UndoPlan::Nothing(format!(
                "revert = false: volume {id} is left detached (its data is intact)"
            )),
            (Fault::Delete, _, true) => UndoPlan::RestoreSource(format!(
                "create a volume from the snapshot in {id}'s zone with its type and tags, attached where it was; the snapshot is retained if that fails"
            )),
            (Fault::Delete, _, false) => UndoPlan::Retain(format!(
                "the snapshot of {id} is retained, tagged firedrill:retained; the reports give the create-volume command"
            )),
        }
    }
}
