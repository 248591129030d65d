//! Waits on EC2 and EBS states, kept with the EC2 wrapper (as the AWS SDK
//! examples keep waits with their service) and used by every EC2-family
//! kind. Every wait goes through [`poll_until`] (never the SDK waiters,
//! whose spacing would be the error of every timing), maps throttling to
//! [`Probe::Throttled`], and a dead-end state to [`Probe::Failed`].

use std::future::Future;

use aws_sdk_ec2::Client;

use firedrill_core::timing::{Clock, PollPolicy, Polled, Probe, poll_until};
use firedrill_core::{AwsError, StageError};

use super::{self as api, ImageInfo, InstanceInfo, SnapshotInfo, VolumeInfo};

/// A probe's AWS result: throttling becomes [`Probe::Throttled`].
fn probe<T>(r: Result<Probe<T>, AwsError>) -> Result<Probe<T>, StageError> {
    match r {
        Ok(p) => Ok(p),
        Err(e) if e.is_throttled() => Ok(Probe::Throttled),
        Err(e) => Err(e.into()),
    }
}

async fn wait<T, F, Fut>(
    clock: &Clock,
    policy: PollPolicy,
    mut f: F,
) -> Result<Polled<T>, StageError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Probe<T>, AwsError>>,
{
    Ok(poll_until(clock, policy, || {
        let fut = f();
        async move { probe(fut.await) }
    })
    .await?)
}

/// A state the awaited one can no longer follow.
fn dead_end<T>(state: &str) -> Probe<T> {
    Probe::Failed(format!("reached state `{state}` instead"))
}

/// Wait until an image is `available`.
pub async fn image_available(
    clock: &Clock,
    policy: PollPolicy,
    ec2: &Client,
    id: &str,
) -> Result<Polled<ImageInfo>, StageError> {
    wait(clock, policy, || async {
        Ok(match api::image(ec2, id).await? {
            // Eventual consistency: a new id may not be visible yet.
            None => Probe::Pending("not visible yet".into()),
            Some(i) if i.state == "available" => Probe::Ready(i),
            Some(i)
                if matches!(
                    i.state.as_str(),
                    "failed" | "invalid" | "error" | "deregistered"
                ) =>
            {
                dead_end(&i.state)
            }
            Some(i) => Probe::Pending(i.state),
        })
    })
    .await
}

/// Wait until a snapshot is `completed`.
pub async fn snapshot_completed(
    clock: &Clock,
    policy: PollPolicy,
    ec2: &Client,
    id: &str,
) -> Result<Polled<SnapshotInfo>, StageError> {
    wait(clock, policy, || async {
        Ok(match api::snapshot(ec2, id).await? {
            None => Probe::Pending("not visible yet".into()),
            Some(s) if s.state == "completed" => Probe::Ready(s),
            Some(s) if s.state == "error" => dead_end("error"),
            Some(s) => Probe::Pending(s.state),
        })
    })
    .await
}

/// Wait until a volume reaches `want` (`available`).
pub async fn volume_state(
    clock: &Clock,
    policy: PollPolicy,
    ec2: &Client,
    id: &str,
    want: &str,
) -> Result<Polled<VolumeInfo>, StageError> {
    wait(clock, policy, || async {
        Ok(match api::volume(ec2, id).await? {
            None => Probe::Pending("not visible yet".into()),
            Some(v) if v.state == want => Probe::Ready(v),
            Some(v) if v.state == "error" || v.state == "deleted" => dead_end(&v.state),
            Some(v) => Probe::Pending(v.state),
        })
    })
    .await
}

/// Wait until a volume no longer exists (or is `deleted`).
pub async fn volume_gone(
    clock: &Clock,
    policy: PollPolicy,
    ec2: &Client,
    id: &str,
) -> Result<Polled<()>, StageError> {
    wait(clock, policy, || async {
        Ok(match api::volume(ec2, id).await? {
            None => Probe::Ready(()),
            Some(v) if v.state == "deleted" => Probe::Ready(()),
            Some(v) => Probe::Pending(v.state),
        })
    })
    .await
}

/// Wait until an instance is in state `want`; the states in `dead_ends`
/// fail the wait.
pub async fn instance_state(
    clock: &Clock,
    policy: PollPolicy,
    ec2: &Client,
    id: &str,
    want: &str,
    dead_ends: &[&str],
) -> Result<Polled<InstanceInfo>, StageError> {
    wait(clock, policy, || async {
        Ok(match api::instance(ec2, id).await? {
            None if want == "terminated" => Probe::Ready(gone_instance(id)),
            None => Probe::Pending("not visible yet".into()),
            Some(i) if i.state == want => Probe::Ready(i),
            Some(i) if dead_ends.contains(&i.state.as_str()) => dead_end(&i.state),
            Some(i) => Probe::Pending(i.state),
        })
    })
    .await
}

fn gone_instance(id: &str) -> InstanceInfo {
    InstanceInfo {
        id: id.to_string(),
        state: "terminated".into(),
        instance_type: String::new(),
        availability_zone: String::new(),
        subnet_id: None,
        security_group_ids: Vec::new(),
        root_device: None,
        volumes: Vec::new(),
        tags: api::Tags::new(),
    }
}

/// A clock sharing the client's time source and sleep, for the waits of
/// `delete` functions, which get no stage context.
pub fn client_clock(ec2: &Client) -> Clock {
    let conf = ec2.config();
    match (conf.time_source(), conf.sleep_impl()) {
        (Some(t), Some(s)) => Clock::virtual_time(t, s),
        _ => Clock::system(),
    }
}

/// Wait (in a delete function) until an instance is terminated or gone.
pub async fn until_terminated(ec2: &Client, id: &str) -> Result<(), StageError> {
    let clock = client_clock(ec2);
    let policy = PollPolicy::with_deadline(std::time::Duration::from_mins(15));
    wait(&clock, policy, || async {
        Ok(match api::instance(ec2, id).await? {
            None => Probe::Ready(()),
            Some(i) if i.state == "terminated" => Probe::Ready(()),
            Some(i) => Probe::Pending(i.state),
        })
    })
    .await
    .map(|_| ())
}

/// Wait (in a delete function) until a volume can be deleted: `available`
/// or gone. Returns whether it still exists.
pub async fn until_volume_free(ec2: &Client, id: &str) -> Result<bool, StageError> {
    let clock = client_clock(ec2);
    let policy = PollPolicy::with_deadline(std::time::Duration::from_mins(5));
    wait(&clock, policy, || async {
        Ok(match api::volume(ec2, id).await? {
            None => Probe::Ready(false),
            Some(v) if v.state == "deleted" => Probe::Ready(false),
            Some(v) if v.state == "available" || v.state == "error" => Probe::Ready(true),
            Some(v) => Probe::Pending(v.state),
        })
    })
    .await
    .map(|p| p.value)
}

/// Wait (in a delete function) until a deleted volume is gone, so that the
/// snapshot it was created from can be deleted next.
pub async fn until_volume_gone(ec2: &Client, id: &str) -> Result<(), StageError> {
    let clock = client_clock(ec2);
    let policy = PollPolicy::with_deadline(std::time::Duration::from_mins(5));
    wait(&clock, policy, || async {
        Ok(match api::volume(ec2, id).await? {
            None => Probe::Ready(()),
            Some(v) if v.state == "deleted" => Probe::Ready(()),
            Some(v) => Probe::Pending(v.state),
        })
    })
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use aws_sdk_ec2::operation::describe_images::{DescribeImagesError, DescribeImagesOutput};
    use aws_sdk_ec2::operation::describe_snapshots::DescribeSnapshotsOutput;
    use aws_sdk_ec2::types::{
        BlockDeviceMapping, EbsBlockDevice, Image, ImageState, Snapshot, SnapshotState,
    };
    use aws_sdk_ec2::{Client, config::retry::RetryConfig};
    use aws_smithy_async::rt::sleep::SharedAsyncSleep;
    use aws_smithy_async::test_util::instant_time_and_sleep;
    use aws_smithy_async::time::SharedTimeSource;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn virtual_clock() -> Clock {
        let (time, sleep) = instant_time_and_sleep(SystemTime::UNIX_EPOCH);
        Clock::virtual_time(SharedTimeSource::new(time), SharedAsyncSleep::new(sleep))
    }

    fn image(state: ImageState) -> DescribeImagesOutput {
        DescribeImagesOutput::builder()
            .images(
                Image::builder()
                    .image_id("ami-12345678")
                    .name("firedrill-r-0-image")
                    .state(state)
                    .block_device_mappings(
                        BlockDeviceMapping::builder()
                            .device_name("/dev/xvda")
                            .ebs(
                                EbsBlockDevice::builder()
                                    .snapshot_id("snap-12345678")
                                    .volume_size(8)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
    }

    fn error(code: &str) -> DescribeImagesError {
        DescribeImagesError::generic(ErrorMetadata::builder().code(code).message(code).build())
    }

    fn no_retries(c: aws_sdk_ec2::config::Builder) -> aws_sdk_ec2::config::Builder {
        c.retry_config(RetryConfig::disabled())
    }

    #[tokio::test]
    async fn image_wait_rides_out_throttling_and_eventual_consistency() {
        let rule = mock!(Client::describe_images)
            .sequence()
            .error(|| error("InvalidAMIID.NotFound"))
            .output(|| image(ImageState::Pending))
            .times(3)
            .error(|| error("RequestLimitExceeded"))
            .output(|| image(ImageState::Available))
            .build();
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::Sequential, [&rule], no_retries);
        let clock = virtual_clock();
        let start = clock.now();
        let polled = image_available(&clock, PollPolicy::default(), &ec2, "ami-12345678")
            .await
            .unwrap();
        assert_eq!(polled.value.state, "available");
        assert_eq!(
            polled.value.snapshots,
            vec![("/dev/xvda".into(), "snap-12345678".into(), Some(8))]
        );
        assert_eq!(polled.probes, 6);
        assert!(polled.throttled);
        let states: Vec<&str> = polled.states.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(states, ["not visible yet", "pending"]);
        // The transition lies between the last pending probe and the ready one.
        assert!(polled.error_bound > Duration::ZERO);
        assert!(polled.error_bound <= polled.observed.since(start));
        let mut out = firedrill_core::StageOutput::default();
        out.record_wait(&polled, firedrill_core::Service::Ec2);
        assert_eq!(out.observed, Some(polled.observed));
        assert_eq!(out.error_bound, polled.error_bound);
        assert_eq!(out.facts["throttled"], "true");
        assert!(
            out.facts["states"].starts_with("not visible yet@0ms → pending@"),
            "{}",
            out.facts["states"]
        );
        assert_eq!(out.findings[0].code, "ec2.throttled");
    }

    #[tokio::test]
    async fn failed_image_ends_the_wait_with_its_state() {
        let rule = mock!(Client::describe_images)
            .sequence()
            .output(|| image(ImageState::Pending))
            .output(|| image(ImageState::Failed))
            .build();
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::Sequential, [&rule], no_retries);
        let err = image_available(
            &virtual_clock(),
            PollPolicy::default(),
            &ec2,
            "ami-12345678",
        )
        .await
        .unwrap_err();
        assert!(matches!(err, StageError::Failed(_)), "{err:?}");
        assert_eq!(err.to_string(), "reached state `failed` instead");
    }

    #[tokio::test]
    async fn slow_snapshot_times_out_with_its_last_state() {
        let rule = mock!(Client::describe_snapshots).then_output(|| {
            DescribeSnapshotsOutput::builder()
                .snapshots(
                    Snapshot::builder()
                        .snapshot_id("snap-12345678")
                        .state(SnapshotState::Pending)
                        .progress("40%")
                        .build(),
                )
                .build()
        });
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&rule], no_retries);
        let clock = virtual_clock();
        let err = snapshot_completed(
            &clock,
            PollPolicy::with_deadline(Duration::from_mins(10)),
            &ec2,
            "snap-12345678",
        )
        .await
        .unwrap_err();
        assert!(matches!(err, StageError::TimedOut(_)), "{err:?}");
        assert!(err.to_string().contains("last state: pending"), "{err}");
    }

    #[tokio::test]
    async fn other_errors_end_the_wait() {
        let rule = mock!(Client::describe_images).then_error(|| error("UnauthorizedOperation"));
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&rule], no_retries);
        let err = image_available(
            &virtual_clock(),
            PollPolicy::default(),
            &ec2,
            "ami-12345678",
        )
        .await
        .unwrap_err();
        assert!(err.is_environment(), "{err:?}");
    }
}
