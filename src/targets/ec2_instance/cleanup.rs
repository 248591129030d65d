//! Deleting `ec2-instance` scratch resources (for cleanup and `reap` alike)
//! and finding them by tag.
use super::KIND;
use firedrill_core::resource::TAG_RUN_ID;

use crate::aws::Clients;
use crate::aws::ec2::{self as api, wait};
use crate::targets::common::ec2::{delete_volumes, tagged};
use firedrill_core::{DeleteOutcome, ResourceType, ScratchResource, StageError, Tagged};
use futures::future::BoxFuture;

/// Terminate scratch instances named `name_or_id` (and the volumes they
/// created), waiting until they are terminated.
async fn delete_instance(ec2: &aws_sdk_ec2::Client, name_or_id: &str) -> Result<bool, StageError> {
    let mut ids = Vec::new();
    if name_or_id.starts_with("i-") {
        ids.push(name_or_id.to_string());
    } else {
        ids.extend(
            api::instances_named(ec2, name_or_id)
                .await?
                .into_iter()
                .filter(|i| i.tags.contains_key(TAG_RUN_ID))
                .map(|i| i.id),
        );
    }
    let mut any = false;
    for id in &ids {
        let (known, _) = api::terminate_instance(ec2, id).await?;
        any |= known;
        wait::until_terminated(ec2, id).await?;
    }
    // Volumes the launch created that outlive the instance (DeleteOnTermination false).
    if !name_or_id.starts_with("i-") {
        for v in api::volumes_named(ec2, name_or_id).await? {
            if v.tags.contains_key(TAG_RUN_ID) && wait::until_volume_free(ec2, &v.id).await? {
                any |= api::delete_volume(ec2, &v.id).await?;
            }
        }
    }
    Ok(any)
}

/// Deregister scratch AMIs named `name_or_id` and delete their snapshots.
async fn delete_image(ec2: &aws_sdk_ec2::Client, name_or_id: &str) -> Result<bool, StageError> {
    let images = if name_or_id.starts_with("ami-") {
        api::image(ec2, name_or_id).await?.into_iter().collect()
    } else {
        api::images_named(ec2, name_or_id).await?
    };
    let mut any = false;
    for image in images {
        any |= api::deregister_image(ec2, &image.id).await?;
        for (_, snap, _) in &image.snapshots {
            api::delete_snapshot(ec2, snap).await?;
        }
    }
    Ok(any)
}

pub(super) fn delete<'a>(
    r: &'a ScratchResource,
    clients: &'a Clients,
) -> BoxFuture<'a, Result<DeleteOutcome, StageError>> {
    Box::pin(async move {
        let ec2 = clients.in_region(&r.region).ec2;
        match r.rtype {
            ResourceType::Instance => {
                Ok(DeleteOutcome::existed(delete_instance(&ec2, &r.id).await?))
            }
            ResourceType::Image => Ok(DeleteOutcome::existed(delete_image(&ec2, &r.id).await?)),
            ResourceType::Snapshot => {
                // An AMI's snapshot is in use until the AMI is deregistered.
                if let Some(image) = &r.parent {
                    for i in api::images_named(&ec2, image).await? {
                        api::deregister_image(&ec2, &i.id).await?;
                    }
                }
                Ok(DeleteOutcome::existed(
                    api::delete_snapshot(&ec2, &r.id).await?,
                ))
            }
            ResourceType::Volume => Ok(DeleteOutcome::existed(delete_volumes(&ec2, &r.id).await?)),
            other => Err(StageError::not_deletable(KIND.name, other)),
        }
    })
}

pub(super) fn find_tagged(clients: &Clients) -> BoxFuture<'_, Result<Vec<Tagged>, StageError>> {
    Box::pin(async move {
        let ec2 = clients.ec2();
        let region = clients.region();
        let k = KIND.name;
        let mut found = Vec::new();
        // Dependants first: instances, then images (with their snapshots).
        for i in api::instances_tagged(ec2, TAG_RUN_ID).await? {
            found.extend(tagged(k, ResourceType::Instance, &i.id, &i.tags, region));
        }
        for i in api::images_tagged(ec2, TAG_RUN_ID).await? {
            found.extend(tagged(k, ResourceType::Image, &i.id, &i.tags, region));
        }
        for s in api::snapshots_tagged(ec2, TAG_RUN_ID).await? {
            found.extend(tagged(k, ResourceType::Snapshot, &s.id, &s.tags, region));
        }
        for v in api::volumes_tagged(ec2, TAG_RUN_ID).await? {
            found.extend(tagged(k, ResourceType::Volume, &v.id, &v.tags, region));
        }
        Ok(found)
    })
}

#[cfg(test)]
mod tests {

    mod deletes {
        use aws_sdk_ec2::Client;
        use aws_sdk_ec2::config::retry::RetryConfig;
        use aws_sdk_ec2::operation::delete_snapshot::DeleteSnapshotOutput;
        use aws_sdk_ec2::operation::delete_volume::DeleteVolumeOutput;
        use aws_sdk_ec2::operation::deregister_image::DeregisterImageOutput;
        use aws_sdk_ec2::operation::describe_images::DescribeImagesOutput;
        use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
        use aws_sdk_ec2::operation::describe_volumes::DescribeVolumesOutput;
        use aws_sdk_ec2::operation::terminate_instances::TerminateInstancesOutput;
        use aws_sdk_ec2::types::{
            BlockDeviceMapping, EbsBlockDevice, Image, ImageState, Instance, InstanceState,
            InstanceStateName, Reservation, Tag, Volume, VolumeState,
        };
        use aws_smithy_mocks::{RuleMode, mock, mock_client};

        use super::super::{delete_image, delete_instance};
        use firedrill_core::resource::TAG_RUN_ID;

        fn no_retries(c: aws_sdk_ec2::config::Builder) -> aws_sdk_ec2::config::Builder {
            c.retry_config(RetryConfig::disabled())
        }

        fn run_tag() -> Tag {
            Tag::builder().key(TAG_RUN_ID).value("r1").build()
        }

        fn instances(state: InstanceStateName) -> DescribeInstancesOutput {
            DescribeInstancesOutput::builder()
                .reservations(
                    Reservation::builder()
                        .instances(
                            Instance::builder()
                                .instance_id("i-12345678")
                                .state(InstanceState::builder().name(state).build())
                                .tags(run_tag())
                                .build(),
                        )
                        .build(),
                )
                .build()
        }

        fn volumes(state: VolumeState) -> DescribeVolumesOutput {
            DescribeVolumesOutput::builder()
                .volumes(
                    Volume::builder()
                        .volume_id("vol-12345678")
                        .state(state)
                        .tags(run_tag())
                        .build(),
                )
                .build()
        }

        /// Terminate, wait through `shutting-down`, then delete the volume
        /// the launch left once it is free: in this order and no other.
        #[tokio::test]
        async fn instance_is_terminated_before_its_leftover_volume_is_deleted() {
            let find = mock!(Client::describe_instances)
                .then_output(|| instances(InstanceStateName::Running));
            let terminate = mock!(Client::terminate_instances)
                .match_requests(|r| r.instance_ids() == ["i-12345678"])
                .then_output(|| TerminateInstancesOutput::builder().build());
            let wait = mock!(Client::describe_instances)
                .sequence()
                .output(|| instances(InstanceStateName::ShuttingDown))
                .output(|| instances(InstanceStateName::Terminated))
                .build();
            let vols = mock!(Client::describe_volumes)
                .sequence()
                .output(|| volumes(VolumeState::InUse))
                .times(2)
                .output(|| volumes(VolumeState::Available))
                .build();
            let delete = mock!(Client::delete_volume)
                .match_requests(|r| r.volume_id() == Some("vol-12345678"))
                .then_output(|| DeleteVolumeOutput::builder().build());
            let ec2 = mock_client!(
                aws_sdk_ec2,
                RuleMode::Sequential,
                [&find, &terminate, &wait, &vols, &delete],
                no_retries
            );
            assert!(
                delete_instance(&ec2, "firedrill-r1-0-restore")
                    .await
                    .unwrap()
            );
            assert_eq!(wait.num_calls(), 2);
            assert_eq!(vols.num_calls(), 3);
            assert_eq!(delete.num_calls(), 1);
        }

        /// An AMI's snapshots are in use until it is deregistered.
        #[tokio::test]
        async fn image_is_deregistered_before_its_snapshots_are_deleted() {
            let find = mock!(Client::describe_images).then_output(|| {
                DescribeImagesOutput::builder()
                    .images(
                        Image::builder()
                            .image_id("ami-12345678")
                            .name("firedrill-r1-0-image")
                            .state(ImageState::Available)
                            .set_block_device_mappings(Some(
                                ["snap-11111111", "snap-22222222"]
                                    .iter()
                                    .map(|s| {
                                        BlockDeviceMapping::builder()
                                            .device_name("/dev/xvda")
                                            .ebs(EbsBlockDevice::builder().snapshot_id(*s).build())
                                            .build()
                                    })
                                    .collect(),
                            ))
                            .build(),
                    )
                    .build()
            });
            let deregister = mock!(Client::deregister_image)
                .match_requests(|r| r.image_id() == Some("ami-12345678"))
                .then_output(|| DeregisterImageOutput::builder().build());
            let snaps = mock!(Client::delete_snapshot)
                .sequence()
                .output(|| DeleteSnapshotOutput::builder().build())
                .times(2)
                .build();
            let ec2 = mock_client!(
                aws_sdk_ec2,
                RuleMode::Sequential,
                [&find, &deregister, &snaps],
                no_retries
            );
            assert!(delete_image(&ec2, "firedrill-r1-0-image").await.unwrap());
            assert_eq!(deregister.num_calls(), 1);
            assert_eq!(snaps.num_calls(), 2);
        }
    }
}
