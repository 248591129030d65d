//! Status sequences, throttling and timing of RDS waits, with mocked RDS
//! responses and virtual time: an emulator makes everything available at
//! once, so only here can a slow restore be measured against a known truth.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use aws_sdk_rds::Client;
use aws_sdk_rds::config::retry::RetryConfig;
use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
use aws_sdk_rds::types::DbInstance as SdkInstance;
use aws_smithy_async::rt::sleep::SharedAsyncSleep;
use aws_smithy_async::test_util::{ManualTimeSource, instant_time_and_sleep};
use aws_smithy_async::time::{SharedTimeSource, TimeSource};
use aws_smithy_mocks::{RuleMode, mock, mock_client};

use super::wait;
use firedrill_core::StageError;
use firedrill_core::timing::{Clock, PollPolicy};

/// Virtual latency of every mocked call.
const LATENCY: Duration = Duration::from_millis(120);

const THROTTLING: &str = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
<Message>Rate exceeded</Message></Error><RequestId>throttled-1</RequestId></ErrorResponse>";

fn virtual_time() -> (ManualTimeSource, Clock, SharedTimeSource, SharedAsyncSleep) {
    let (time, sleep) = instant_time_and_sleep(SystemTime::UNIX_EPOCH);
    let shared_time = SharedTimeSource::new(time.clone());
    let shared_sleep = SharedAsyncSleep::new(sleep);
    let clock = Clock::virtual_time(shared_time.clone(), shared_sleep.clone());
    (time, clock, shared_time, shared_sleep)
}

fn described(status: &str) -> DescribeDbInstancesOutput {
    DescribeDbInstancesOutput::builder()
        .db_instances(
            SdkInstance::builder()
                .db_instance_identifier("firedrill-r-0-restore")
                .db_instance_status(status)
                .engine("postgres")
                .db_instance_class("db.t3.micro")
                .build(),
        )
        .build()
}

/// The status a restore shows `at` after it started: `creating` for 95 s,
/// `backing-up` until 7 min 20 s, then `available`.
fn status_at(at: Duration) -> &'static str {
    if at < Duration::from_secs(95) {
        "creating"
    } else if at < Duration::from_secs(440) {
        "backing-up"
    } else {
        "available"
    }
}

const TRUE_READY: Duration = Duration::from_secs(440);

fn elapsed(time: &ManualTimeSource) -> Duration {
    time.now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
}

/// A mocked RDS client on the virtual clock, with the standard retries.
/// Stalled-stream protection is off: its watchdog sleep would be logged by
/// the instant sleep as 100 ms of virtual time on every call.
macro_rules! rds_client {
    ($rules:expr, $time:expr, $sleep:expr) => {{
        let (time, sleep) = ($time.clone(), $sleep.clone());
        mock_client!(aws_sdk_rds, RuleMode::Sequential, $rules, |conf| conf
            .time_source(time.clone())
            .sleep_impl(sleep.clone())
            .retry_config(RetryConfig::standard().with_max_attempts(5))
            .stalled_stream_protection(
                aws_sdk_rds::config::StalledStreamProtectionConfig::disabled()
            ))
    }};
}

/// Wait for a restore whose describe calls take `latency` of virtual time;
/// returns the measured duration and the wait's result.
async fn measure_restore(
    latency: Duration,
) -> (
    Duration,
    firedrill_core::timing::Polled<crate::aws::rds::DbInstance>,
) {
    let (time, clock, shared_time, shared_sleep) = virtual_time();
    let t = time.clone();
    let rule = mock!(Client::describe_db_instances)
        .sequence()
        .output(move || {
            let status = status_at(elapsed(&t));
            t.advance(latency);
            described(status)
        })
        .repeatedly()
        .build();
    let rds: Client = rds_client!([&rule], shared_time, shared_sleep);
    let start = clock.now();
    let polled = wait::instance(
        &rds,
        &clock,
        PollPolicy::default(),
        "firedrill-r-0-restore",
        &["available"],
    )
    .await
    .unwrap();
    let measured = polled.observed.since(start);
    assert!(measured >= TRUE_READY, "{measured:?}");
    assert!(
        measured.saturating_sub(polled.error_bound) <= TRUE_READY,
        "measured {measured:?} ± {:?} misses the true {TRUE_READY:?}",
        polled.error_bound
    );
    let seen: Vec<&str> = polled.states.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(seen, ["creating", "backing-up"]);
    assert!(!polled.throttled);
    // Seconds of polling, not the SDK waiters' 30 s steps.
    assert!(polled.probes > 60, "{} probes", polled.probes);
    (measured, polled)
}

#[tokio::test]
async fn restore_wait_measures_true_virtual_time_within_error_bound() {
    let (measured, polled) = measure_restore(Duration::ZERO).await;
    let budget = Duration::from_secs(1).max(measured / 100);
    assert!(
        polled.error_bound <= budget,
        "bound {:?} over budget {budget:?}",
        polled.error_bound
    );
}

#[tokio::test]
async fn slow_describe_calls_stay_within_the_budget() {
    // The bound spans the last two probes; the poller shortens its sleep by
    // their latency so the whole bound keeps to max(1 s, 1%).
    let (measured, polled) = measure_restore(LATENCY).await;
    let budget = Duration::from_secs(1).max(measured / 100);
    assert!(
        polled.error_bound <= budget,
        "bound {:?} over budget {budget:?}",
        polled.error_bound
    );
}

#[tokio::test]
async fn restore_that_never_becomes_available_times_out() {
    let (time, clock, shared_time, shared_sleep) = virtual_time();
    let t = time.clone();
    let rule = mock!(Client::describe_db_instances)
        .sequence()
        .output(move || {
            t.advance(LATENCY);
            described("creating")
        })
        .repeatedly()
        .build();
    let rds: Client = rds_client!([&rule], shared_time, shared_sleep);
    let err = wait::instance(
        &rds,
        &clock,
        PollPolicy::with_deadline(Duration::from_mins(20)),
        "firedrill-r-0-restore",
        &["available"],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StageError::TimedOut(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with("stage timed out after 20m 0s"), "{text}");
    assert!(text.contains("creating"), "{text}");
    let waited = elapsed(&time);
    assert!(
        waited >= Duration::from_mins(20) && waited < Duration::from_mins(21),
        "{waited:?}"
    );
}

#[tokio::test]
async fn failed_restore_status_fails_at_once() {
    let (_time, clock, shared_time, shared_sleep) = virtual_time();
    let rule = mock!(Client::describe_db_instances)
        .sequence()
        .output(|| described("creating"))
        .output(|| described("incompatible-parameters"))
        .build();
    let rds: Client = rds_client!([&rule], shared_time, shared_sleep);
    let err = wait::instance(&rds, &clock, PollPolicy::default(), "x", &["available"])
        .await
        .unwrap_err();
    assert!(matches!(err, StageError::Failed(_)), "{err:?}");
    assert!(err.to_string().contains("incompatible-parameters"), "{err}");
}

#[tokio::test]
async fn throttling_burst_is_retried_by_the_sdk_and_the_wait_succeeds() {
    let (_time, clock, shared_time, shared_sleep) = virtual_time();
    let rule = mock!(Client::describe_db_instances)
        .sequence()
        .output(|| described("creating"))
        .http_status(400, Some(THROTTLING.to_string()))
        .times(3)
        .output(|| described("available"))
        .build();
    let rds: Client = rds_client!([&rule], shared_time, shared_sleep);
    let polled = wait::instance(&rds, &clock, PollPolicy::default(), "x", &["available"])
        .await
        .unwrap();
    assert_eq!(polled.value.status, "available");
    // Two probes; the three throttled attempts were the SDK's retries.
    assert_eq!(polled.probes, 2);
    assert_eq!(rule.num_calls(), 5);
}

#[tokio::test]
async fn throttling_past_the_sdk_retries_slows_the_poller_but_the_wait_succeeds() {
    let (_time, clock, shared_time, shared_sleep) = virtual_time();
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    // Seven throttles: the SDK gives up after five attempts, the poller
    // backs off and probes again.
    let rule = mock!(Client::describe_db_instances)
        .sequence()
        .http_status(400, Some(THROTTLING.to_string()))
        .times(7)
        .output(move || {
            c.fetch_add(1, Ordering::Relaxed);
            described("available")
        })
        .build();
    let rds: Client = rds_client!([&rule], shared_time, shared_sleep);
    let polled = wait::instance(&rds, &clock, PollPolicy::default(), "x", &["available"])
        .await
        .unwrap();
    assert_eq!(polled.value.status, "available");
    assert!(polled.throttled, "throttling is recorded");
    assert_eq!(polled.probes, 2);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert_eq!(rule.num_calls(), 8);
}
