//! Validating an `ec2-instance` restore: running, and the same type,
//! volumes and tags as the source.

use super::{InstanceTarget, sizes};
use crate::aws::ec2::{self as api};
use crate::targets::StageContext;
use crate::targets::common::ec2::compare_restored;
use firedrill_core::{Check, Service, StageError, StageOutput, Validation};

impl InstanceTarget {
    pub(super) async fn run_validate(
        &mut self,
        cx: &StageContext,
    ) -> Result<Validation, StageError> {
        let src = self.source()?.clone();
        let (id, region) = self
            .state
            .restored
            .clone()
            .ok_or_else(|| StageError::Failed("nothing restored".into()))?;
        let ec2 = cx.clients.in_region(&region).ec2;
        let emulated = cx.emulated(Service::Ec2);
        let mut out = StageOutput::default().emulated(emulated);
        let inst = api::instance(&ec2, &id)
            .await?
            .ok_or_else(|| StageError::Failed(format!("restored instance {id} vanished")))?;
        let raw = vec![
            (
                "state",
                Check::compare("instance running", "running", &inst.state),
            ),
            (
                "instance-type",
                Check::compare("instance type", &src.instance_type, &inst.instance_type),
            ),
            (
                "volume-count",
                Check::compare("volume count", src.volumes.len(), inst.volumes.len()),
            ),
            (
                "volume-sizes",
                Check::compare(
                    "volume sizes (GiB)",
                    sizes(&src.volumes),
                    sizes(&inst.volumes),
                ),
            ),
        ];
        let (checks, failed) = compare_restored(
            raw,
            &src.tags,
            &inst.tags,
            "ec2",
            &format!("restored instance {id} differs from {}", self.instance_id),
            "EC2 served by an emulator: AMI contents, volume sizes and timings are not evidence about AWS",
            &mut out,
        );
        out.detail = format!(
            "{id}: {} {} with {} volume(s); {failed} check(s) failed",
            inst.state,
            inst.instance_type,
            inst.volumes.len()
        );
        Ok(Validation {
            output: out,
            checks,
            canary: None,
        })
    }
}
