//! Waits on EC2 and EBS states, shared by `ec2-instance` and `ebs-volume`.
//! Every wait goes through [`poll_until`] (never the SDK waiters), maps
//! throttling to [`Probe::Throttled`], and hands its observed moment and
//! error bound to the stage output.

use std::future::Future;

use aws_sdk_ec2::Client;

use crate::aws::AwsError;
use crate::aws::ec2::{self as api, ImageInfo, InstanceInfo, SnapshotInfo, VolumeInfo};
use crate::targets::{StageContext, StageError, StageOutput};
use crate::timing::{Clock, PollPolicy, Polled, Probe, poll_until};

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
        async move {
            match probe(fut.await)? {
                // A state the awaited one can no longer follow.
                Probe::Pending(s) if s.starts_with('!') => Err(StageError::Failed(format!(
                    "reached state `{}` instead",
                    &s[1..]
                ))),
                p => Ok(p),
            }
        }
    })
    .await?)
}

/// Put a wait's timing into a stage output.
pub(crate) fn record<T>(out: &mut StageOutput, polled: &Polled<T>) {
    out.observed = Some(polled.observed);
    out.error_bound = polled.error_bound;
    out.facts.insert("probes".into(), polled.probes.to_string());
    if !polled.states.is_empty() {
        let states: Vec<&str> = polled.states.iter().map(|(_, s)| s.as_str()).collect();
        out.facts.insert("states_seen".into(), states.join(" → "));
    }
    if polled.throttled {
        out.facts.insert("throttled".into(), "true".into());
    }
}

/// Wait until an image is `available`.
pub(crate) async fn image_available(
    cx: &StageContext,
    ec2: &Client,
    id: &str,
) -> Result<Polled<ImageInfo>, StageError> {
    wait(&cx.clock, cx.poll_policy(), || async {
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
                Probe::Pending(format!("!{}", i.state))
            }
            Some(i) => Probe::Pending(i.state),
        })
    })
    .await
}

/// Wait until a snapshot is `completed`.
pub(crate) async fn snapshot_completed(
    cx: &StageContext,
    ec2: &Client,
    id: &str,
) -> Result<Polled<SnapshotInfo>, StageError> {
    wait(&cx.clock, cx.poll_policy(), || async {
        Ok(match api::snapshot(ec2, id).await? {
            None => Probe::Pending("not visible yet".into()),
            Some(s) if s.state == "completed" => Probe::Ready(s),
            Some(s) if s.state == "error" => Probe::Pending("!error".into()),
            Some(s) => Probe::Pending(s.state),
        })
    })
    .await
}

/// Wait until a volume reaches `want` (`available`).
pub(crate) async fn volume_state(
    cx: &StageContext,
    ec2: &Client,
    id: &str,
    want: &str,
) -> Result<Polled<VolumeInfo>, StageError> {
    wait(&cx.clock, cx.poll_policy(), || async {
        Ok(match api::volume(ec2, id).await? {
            None => Probe::Pending("not visible yet".into()),
            Some(v) if v.state == want => Probe::Ready(v),
            Some(v) if v.state == "error" || v.state == "deleted" => {
                Probe::Pending(format!("!{}", v.state))
            }
            Some(v) => Probe::Pending(v.state),
        })
    })
    .await
}

/// Wait until a volume no longer exists (or is `deleted`).
pub(crate) async fn volume_gone(
    cx: &StageContext,
    ec2: &Client,
    id: &str,
) -> Result<Polled<()>, StageError> {
    wait(&cx.clock, cx.poll_policy(), || async {
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
pub(crate) async fn instance_state(
    cx: &StageContext,
    ec2: &Client,
    id: &str,
    want: &str,
    dead_ends: &[&str],
) -> Result<Polled<InstanceInfo>, StageError> {
    wait(&cx.clock, cx.poll_policy(), || async {
        Ok(match api::instance(ec2, id).await? {
            None if want == "terminated" => Probe::Ready(gone_instance(id)),
            None => Probe::Pending("not visible yet".into()),
            Some(i) if i.state == want => Probe::Ready(i),
            Some(i) if dead_ends.contains(&i.state.as_str()) => {
                Probe::Pending(format!("!{}", i.state))
            }
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
pub(crate) fn client_clock(ec2: &Client) -> Clock {
    let conf = ec2.config();
    match (conf.time_source(), conf.sleep_impl()) {
        (Some(t), Some(s)) => Clock::virtual_time(t, s),
        _ => Clock::system(),
    }
}

/// Wait (in a delete function) until an instance is terminated or gone.
pub(crate) async fn until_terminated(ec2: &Client, id: &str) -> Result<(), StageError> {
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
pub(crate) async fn until_volume_free(ec2: &Client, id: &str) -> Result<bool, StageError> {
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
