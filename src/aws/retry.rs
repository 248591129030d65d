//! How firedrill retries AWS calls, so that a drill rides out a throttling
//! storm (just slower) instead of failing on the one call that ran out of
//! attempts.
//!
//! - **What is retried**: what the SDK's classifiers call retryable
//!   (throttling such as `SlowDown`, `Throttling` and `RequestLimitExceeded`,
//!   HTTP 5xx, connection resets, timeouts), except a refused connection
//!   (see [`super::refused`]): nothing listens there, and asking again
//!   cannot change that.
//! - **Backoff**: exponential with full jitter, uniform in
//!   `[0, min(MAX_BACKOFF, INITIAL_BACKOFF × 2^(n-1))]` before retry `n`, so
//!   concurrent calls that were throttled together do not come back
//!   together.
//! - **Bounds**: at most [`MAX_ATTEMPTS`] attempts and no retry started more
//!   than [`CALL_DEADLINE`] after the call's first attempt ([`RetryDeadline`]
//!   narrows the backoff to what is left, then stops).
//! - **No retry quota**: the SDK's client-side retry token bucket (shared
//!   per retry partition, 500 tokens) would, in a long storm, run dry and
//!   fail calls that still had attempts left: between a fault and its
//!   revert that would leave the damage in place. Each client gets a
//!   partition of its own with an unlimited bucket; the attempt cap, the
//!   deadline, the API rate limits of [`super::rate`] and, on real AWS,
//!   adaptive retries keep retries in check instead.

use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_sdk_s3::config::retry::{RetryPartition, TokenBucket};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextMut, FinalizerInterceptorContextMut,
};
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

use firedrill_core::Service;

/// Attempts per call, the first one included. At a 40% failure rate (30%
/// throttled, 10% reset) a call fails all 20 with probability 1e-8; in
/// practice [`CALL_DEADLINE`] ends a call that keeps failing first.
pub const MAX_ATTEMPTS: u32 = 20;

/// Upper bound of the first retry's jittered backoff (then doubling).
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);

/// Upper bound of any one backoff. Below the SDK's 20 s so that a call
/// under a long storm still gets about 15 attempts within its deadline.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// No retry is started later than this after a call's first attempt. A call
/// failing for a minute is not in a storm but facing an outage; an attempt
/// already under way is never cut short (long copies and uploads keep their
/// own timeouts).
pub const CALL_DEADLINE: Duration = Duration::from_mins(1);

/// The retry settings of every client unless a run overrides them.
pub fn policy() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF)
}

/// A retry partition for one client alone, whose retry quota cannot run dry.
pub fn partition(service: Service, region: &str) -> RetryPartition {
    RetryPartition::custom(format!("firedrill-{service}-{region}"))
        .token_bucket(TokenBucket::unlimited())
        .build()
}

/// The retry settings for what is left of a call's deadline: the same
/// backoff no longer than the time left, or no further attempt when none is.
pub fn within_deadline(
    initial: &RetryConfig,
    deadline: Duration,
    elapsed: Duration,
    attempts: u32,
) -> RetryConfig {
    let left = deadline.saturating_sub(elapsed);
    if left.is_zero() {
        return initial.clone().with_max_attempts(attempts.max(1));
    }
    initial
        .clone()
        .with_max_backoff(initial.max_backoff().min(left))
}

/// When a call's first attempt began, on the drill's clock.
#[derive(Clone, Debug)]
struct CallStarted(SystemTime);

impl Storable for CallStarted {
    type Storer = StoreReplace<Self>;
}

/// The retry settings a call began with, before its deadline narrowed them.
#[derive(Clone, Debug)]
struct InitialRetry(RetryConfig);

impl Storable for InitialRetry {
    type Storer = StoreReplace<Self>;
}

/// Ends a call's retries at its deadline. After every attempt it hands the
/// SDK's retry strategy the settings of [`within_deadline`] for that call
/// (the call's own configuration layer, so other calls are not touched).
#[derive(Debug)]
pub struct RetryDeadline {
    deadline: Duration,
}

impl RetryDeadline {
    pub fn new(deadline: Duration) -> Self {
        Self { deadline }
    }
}

impl Intercept for RetryDeadline {
    fn name(&self) -> &'static str {
        "RetryDeadline"
    }

    fn modify_before_retry_loop(
        &self,
        _context: &mut BeforeTransmitInterceptorContextMut<'_>,
        runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let now = runtime_components.time_source().unwrap_or_default().now();
        let initial = cfg.load::<RetryConfig>().cloned();
        let state = cfg.interceptor_state();
        state.store_put(CallStarted(now));
        if let Some(initial) = initial {
            state.store_put(InitialRetry(initial));
        }
        Ok(())
    }

    fn modify_before_attempt_completion(
        &self,
        _context: &mut FinalizerInterceptorContextMut<'_>,
        runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (Some(started), Some(initial)) =
            (cfg.load::<CallStarted>(), cfg.load::<InitialRetry>())
        else {
            return Ok(());
        };
        let now = runtime_components.time_source().unwrap_or_default().now();
        // A wall clock stepped backwards counts as no time passed.
        let elapsed = now.duration_since(started.0).unwrap_or_default();
        let attempts = cfg
            .load::<RequestAttempts>()
            .map_or(1, RequestAttempts::attempts);
        let narrowed = within_deadline(&initial.0, self.deadline, elapsed, attempts);
        cfg.interceptor_state().store_put(narrowed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aws_smithy_async::test_util::{ManualTimeSource, instant_time_and_sleep};
    use aws_smithy_async::time::TimeSource;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    use super::*;

    #[test]
    fn the_deadline_narrows_the_backoff_then_stops() {
        let base = policy();
        let d = Duration::from_mins(1);
        let early = within_deadline(&base, d, Duration::from_secs(5), 2);
        assert_eq!(early.max_backoff(), MAX_BACKOFF);
        assert_eq!(early.max_attempts(), MAX_ATTEMPTS);
        let late = within_deadline(&base, d, Duration::from_secs(57), 9);
        assert_eq!(late.max_backoff(), Duration::from_secs(3));
        assert_eq!(late.max_attempts(), MAX_ATTEMPTS);
        let over = within_deadline(&base, d, Duration::from_secs(61), 11);
        assert_eq!(over.max_attempts(), 11, "no attempt after the 11th");
        let first = within_deadline(&base, d, Duration::from_secs(61), 0);
        assert_eq!(first.max_attempts(), 1);
    }

    #[test]
    fn the_policy_allows_many_jittered_attempts() {
        let p = policy();
        assert_eq!(p.max_attempts(), 20);
        assert_eq!(p.initial_backoff(), Duration::from_millis(500));
        assert_eq!(p.max_backoff(), Duration::from_secs(10));
        assert!(!p.use_static_exponential_base(), "backoff is jittered");
    }

    /// An S3 client on virtual time that answers every request with 503
    /// `SlowDown`; the rule counts the requests.
    fn throttled_client(
        retry: RetryConfig,
        deadline: Duration,
    ) -> (aws_sdk_s3::Client, Rule, ManualTimeSource) {
        let (time, sleep) = instant_time_and_sleep(SystemTime::UNIX_EPOCH);
        let rule = mock!(aws_sdk_s3::Client::list_buckets)
            .sequence()
            .http_status(
                503,
                Some("<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".into()),
            )
            .repeatedly()
            .build();
        let s3 = mock_client!(aws_sdk_s3, RuleMode::Sequential, &[&rule], |c| c
            .time_source(time.clone())
            .sleep_impl(sleep.clone())
            .retry_config(retry.clone())
            .retry_partition(partition(Service::S3, "us-east-1"))
            .interceptor(RetryDeadline::new(deadline)));
        (s3, rule, time)
    }

    #[tokio::test]
    async fn endless_throttling_is_retried_until_the_deadline_and_no_longer() {
        let deadline = Duration::from_mins(1);
        let retry = policy().with_max_attempts(1000);
        let (s3, sent, time) = throttled_client(retry, deadline);
        let err = s3.list_buckets().send().await.unwrap_err();
        let took = time.now().duration_since(SystemTime::UNIX_EPOCH).unwrap();
        let n = sent.num_calls();
        // The last attempt starts by the deadline; an attempt takes 100 ms
        // of virtual time here (the SDK sleeps that long once per attempt).
        assert!(
            took <= deadline + Duration::from_millis(100),
            "no retry started past the deadline: {took:?} after {n} attempts"
        );
        assert!(took >= deadline, "ended by the deadline: {took:?}");
        assert!(n > 5, "retried many times: {n}");
        assert!(n < 1000, "ended by the deadline, not the cap: {n}");
        assert!(format!("{err:?}").contains("SlowDown"), "{err:?}");
    }

    #[tokio::test]
    async fn the_retry_quota_does_not_run_dry() {
        // The SDK's default bucket holds 500 tokens at 5 per retry: 100
        // calls of 19 retries each would empty it after about 26 calls.
        let retry = policy()
            .with_initial_backoff(Duration::from_millis(1))
            .with_max_backoff(Duration::from_millis(1));
        let (s3, sent, _) = throttled_client(retry, Duration::from_hours(1));
        for _ in 0..100 {
            let _ = s3.list_buckets().send().await;
        }
        assert_eq!(sent.num_calls(), 100 * MAX_ATTEMPTS as usize);
    }
}
