//! The `ec2-instance` backup: an AMI of the instance and its EBS volumes
//! (without a reboot unless asked), and its copy to a disaster-recovery
//! region.

use super::{InstanceTarget, KIND};
use crate::aws::ec2::{self as api, ImageInfo, wait};
use crate::targets::StageContext;
use crate::targets::Target;
use crate::targets::common::ec2::scratch_tags;
use crate::targets::common::source::choose;
use firedrill_core::recovery::{BackupSource, RecoveryPoint};
use firedrill_core::resource::TAG_RUN_ID;
use firedrill_core::{ResourceType, Service, StageError, StageOutput};

impl InstanceTarget {
    pub(super) async fn run_backup(
        &mut self,
        cx: &StageContext,
    ) -> Result<StageOutput, StageError> {
        let ec2 = cx.clients.ec2();
        let emulated = cx.emulated(Service::Ec2);
        let mut out = StageOutput::default().emulated(emulated);
        if self.source.is_existing() {
            return self.choose_existing(cx, out).await;
        }
        let name = cx.scratch_name("image");
        let tags = scratch_tags(cx, &name, KIND.name);
        let ledger_id =
            cx.intend(cx.resource(KIND.name, ResourceType::Image, &name, Service::Ec2))?;
        // LocalStack rejects tag specifications on CreateImage; tag after.
        let created = api::create_image(
            ec2,
            &self.instance_id,
            &name,
            self.no_reboot,
            (!emulated).then_some(&tags[..]),
        )
        .await?;
        cx.created(ledger_id, created.request_id.as_deref())?;
        out.request("ec2:CreateImage", created.request_id.as_deref());
        if emulated {
            api::create_tags(ec2, &[&created.id], &tags).await?;
        }
        let polled = wait::image_available(&cx.clock, cx.poll_policy(), ec2, &created.id).await?;
        out.record_wait(&polled, Service::Ec2);
        let image = polled.value;
        let snapshot_ids = Self::record_snapshots(cx, &image, &name, cx.clients.region())?;
        self.state.backup_ids = std::iter::once(ledger_id).chain(snapshot_ids).collect();
        if emulated {
            let snaps: Vec<&str> = image.snapshots.iter().map(|s| s.1.as_str()).collect();
            api::create_tags(ec2, &snaps, &tags).await?;
        }
        out.detail = format!(
            "AMI {} ({name}) available with {} snapshot(s){}",
            image.id,
            image.snapshots.len(),
            if self.no_reboot {
                ", no reboot"
            } else {
                ", instance rebooted"
            }
        );
        out = out.fact("image_id", &image.id).fact(
            "snapshots",
            image
                .snapshots
                .iter()
                .map(|s| s.1.as_str())
                .collect::<Vec<_>>()
                .join(","),
        );
        self.state.image = Some(image);
        Ok(out)
    }

    /// The backup stage for an existing AMI: list the AMIs the filters
    /// match (not firedrill's own) and choose. Nothing is created.
    async fn choose_existing(
        &mut self,
        cx: &StageContext,
        mut out: StageOutput,
    ) -> Result<StageOutput, StageError> {
        let ec2 = cx.clients.ec2();
        let images = match &self.source.source {
            BackupSource::Id(id) => api::image(ec2, id).await?.into_iter().collect(),
            _ => api::images_matching(ec2, self.images.name.as_deref(), &self.images.tags).await?,
        };
        out.request("ec2:DescribeImages", None);
        let points = image_points(&images);
        let chosen = choose(cx, &self.source, &points, &self.resource(), "AMI", &mut out)?;
        let image = images
            .into_iter()
            .find(|i| i.id == chosen.point.id)
            .ok_or_else(|| StageError::Failed("the chosen AMI vanished".into()))?;
        out = out.fact("image_id", &image.id).fact(
            "snapshots",
            image
                .snapshots
                .iter()
                .map(|s| s.1.as_str())
                .collect::<Vec<_>>()
                .join(","),
        );
        self.state.image = Some(image);
        Ok(out)
    }

    pub(super) async fn run_copy(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let (Some(dr), Some(image)) = (self.restore.dr_region.clone(), self.state.image.clone())
        else {
            return Err(StageError::Failed("no AMI to copy".into()));
        };
        let ec2 = cx.clients.in_region(&dr).ec2;
        let mut out = StageOutput::default().emulated(cx.emulated(Service::Ec2));
        let name = cx.scratch_name("dr-image");
        let tags = scratch_tags(cx, &name, KIND.name);
        let mut r = cx.resource(KIND.name, ResourceType::Image, &name, Service::Ec2);
        r.region.clone_from(&dr);
        let ledger_id = cx.intend(r)?;
        let created = api::copy_image(&ec2, cx.clients.region(), &image.id, &name).await?;
        cx.created(ledger_id, created.request_id.as_deref())?;
        out.request("ec2:CopyImage", created.request_id.as_deref());
        api::create_tags(&ec2, &[&created.id], &tags).await?;
        let polled = wait::image_available(&cx.clock, cx.poll_policy(), &ec2, &created.id).await?;
        out.record_wait(&polled, Service::Ec2);
        let copy = polled.value;
        let _ = Self::record_snapshots(cx, &copy, &name, &dr)?;
        let snaps: Vec<&str> = copy.snapshots.iter().map(|s| s.1.as_str()).collect();
        api::create_tags(&ec2, &snaps, &tags).await?;
        out.detail = format!("copied AMI {} to {dr} as {}", image.id, copy.id);
        out = out.fact("dr_image_id", &copy.id).fact("dr_region", &dr);
        self.state.dr_image = Some(copy);
        Ok(out)
    }
}

/// The organisation's AMIs among `images` as recovery points: available
/// ones not made by firedrill, with their block devices' encryption.
pub(super) fn image_points(images: &[ImageInfo]) -> Vec<RecoveryPoint> {
    images
        .iter()
        .filter(|i| !i.tags.contains_key(TAG_RUN_ID) && i.state == "available")
        .filter_map(|i| {
            let p = RecoveryPoint::new(&i.id, i.created_at?, "ami");
            Some(match i.encrypted {
                Some(e) => p.with_encryption(e, None),
                None => p,
            })
        })
        .collect()
}
