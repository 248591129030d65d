//! Waiting for RDS resources to reach a status, through the adaptive
//! [`poll_until`] (never the SDK waiters, whose 30 s spacing would be the
//! error of every RDS timing). Used by every RDS-family kind.

use std::future::Future;

use firedrill_core::timing::{Clock, PollPolicy, Polled, Probe, poll_until};
use firedrill_core::{AwsError, StageError};

use super::{self as api, DbCluster, DbInstance, Snapshot};

/// Statuses from which a resource never becomes available by itself.
const FAILED: &[&str] = &[
    "failed",
    "incompatible-restore",
    "incompatible-parameters",
    "incompatible-network",
    "incompatible-option-group",
    "inaccessible-encryption-credentials",
    "restore-error",
    "storage-full",
    "error",
];

/// Poll `describe` until the status is one of `want`.
///
/// `describe` returns `None` while the resource is not visible yet (RDS is
/// eventually consistent right after a create call). Throttling after the
/// SDK's own retries slows the poller down instead of failing the stage.
pub async fn until_status<T, F, Fut>(
    clock: &Clock,
    policy: PollPolicy,
    what: &str,
    want: &[&str],
    mut describe: F,
) -> Result<Polled<T>, StageError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<(String, T)>, AwsError>>,
{
    let polled = poll_until(clock, policy, || {
        let fut = describe();
        async move {
            match fut.await {
                Ok(Some((status, value))) => {
                    if want.contains(&status.as_str()) {
                        Ok(Probe::Ready(value))
                    } else if FAILED.contains(&status.as_str()) {
                        Ok(Probe::Failed(format!(
                            "{what} is `{status}`: it will not become {} by itself",
                            want.join(" or ")
                        )))
                    } else {
                        Ok(Probe::Pending(status))
                    }
                }
                Ok(None) => Ok(Probe::Pending("not visible yet".into())),
                Err(e) if e.is_throttled() => Ok(Probe::Throttled),
                Err(e) => Err(StageError::Aws(e)),
            }
        }
    })
    .await?;
    Ok(polled)
}

/// Wait for a DB instance to reach one of `want`.
pub async fn instance(
    rds: &aws_sdk_rds::Client,
    clock: &Clock,
    policy: PollPolicy,
    id: &str,
    want: &[&str],
) -> Result<Polled<DbInstance>, StageError> {
    until_status(
        clock,
        policy,
        &format!("DB instance `{id}`"),
        want,
        || async {
            Ok(api::describe_instance(rds, id)
                .await?
                .map(|i| (i.status.clone(), i)))
        },
    )
    .await
}

/// Wait for a DB cluster to reach one of `want`.
pub async fn cluster(
    rds: &aws_sdk_rds::Client,
    clock: &Clock,
    policy: PollPolicy,
    id: &str,
    want: &[&str],
) -> Result<Polled<DbCluster>, StageError> {
    until_status(
        clock,
        policy,
        &format!("DB cluster `{id}`"),
        want,
        || async {
            Ok(api::describe_cluster(rds, id)
                .await?
                .map(|c| (c.status.clone(), c)))
        },
    )
    .await
}

/// Wait for a DB snapshot to become available.
pub async fn snapshot(
    rds: &aws_sdk_rds::Client,
    clock: &Clock,
    policy: PollPolicy,
    id: &str,
) -> Result<Polled<Snapshot>, StageError> {
    until_status(
        clock,
        policy,
        &format!("DB snapshot `{id}`"),
        &["available"],
        || async {
            Ok(api::describe_snapshot(rds, id)
                .await?
                .map(|s| (s.status.clone(), s)))
        },
    )
    .await
}

/// Wait for a DB cluster snapshot to become available.
pub async fn cluster_snapshot(
    rds: &aws_sdk_rds::Client,
    clock: &Clock,
    policy: PollPolicy,
    id: &str,
) -> Result<Polled<Snapshot>, StageError> {
    until_status(
        clock,
        policy,
        &format!("DB cluster snapshot `{id}`"),
        &["available"],
        || async {
            Ok(api::describe_cluster_snapshot(rds, id)
                .await?
                .map(|s| (s.status.clone(), s)))
        },
    )
    .await
}

/// Wait until a DB instance no longer exists (a cluster cannot be deleted
/// while a member instance is still `deleting`).
pub async fn instance_gone(
    rds: &aws_sdk_rds::Client,
    clock: &Clock,
    policy: PollPolicy,
    id: &str,
) -> Result<(), StageError> {
    poll_until(clock, policy, || async {
        match api::describe_instance(rds, id).await {
            Ok(None) => Ok(Probe::Ready(())),
            Ok(Some(i)) => Ok(Probe::Pending(i.status)),
            Err(e) if e.is_throttled() => Ok(Probe::Throttled),
            Err(e) => Err(StageError::Aws(e)),
        }
    })
    .await?;
    Ok(())
}
