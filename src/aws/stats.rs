//! Counting the API traffic of a run per service: every request sent, the
//! retries among them and the throttling answers, so the report can say how
//! hard a drill had to push to get through (see
//! [`firedrill_core::ApiCallStats`]).
//!
//! One [`CountCalls`] interceptor sits on each client; the clients of every
//! region share one [`ApiCounters`]. Each call is also counted under its
//! operation name, so a report says which API operations the run made.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime::client::retries::classifiers::run_classifiers_on_ctx;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef, InterceptorContext,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::retries::classifiers::{RetryAction, RetryReason};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::ErrorKind;

use firedrill_core::{ApiCallStats, Service};

/// The counts of a run, per service. Cheap to clone; clones share counts.
#[derive(Clone, Debug, Default)]
pub struct ApiCounters {
    by_service: Arc<Mutex<BTreeMap<Service, ApiCallStats>>>,
}

impl ApiCounters {
    /// The interceptor counting one service's client into these counts.
    pub fn interceptor(&self, service: Service) -> CountCalls {
        CountCalls {
            service,
            counters: self.clone(),
        }
    }

    /// The counts so far of every service that was called.
    pub fn snapshot(&self) -> BTreeMap<Service, ApiCallStats> {
        self.lock().clone()
    }

    fn add(&self, service: Service, stats: ApiCallStats) {
        *self.lock().entry(service).or_default() += stats;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Service, ApiCallStats>> {
        self.by_service
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Counts one client's requests, retries and throttling answers.
#[derive(Debug)]
pub struct CountCalls {
    service: Service,
    counters: ApiCounters,
}

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let retry = cfg
            .load::<RequestAttempts>()
            .is_some_and(|a| a.attempts() > 1);
        // A retry is the same call again: the operation is counted once.
        let operations = cfg
            .load::<Metadata>()
            .filter(|_| !retry)
            .map(|m| (m.name().to_string(), 1))
            .into_iter()
            .collect();
        self.counters.add(
            self.service,
            ApiCallStats {
                requests: 1,
                retries: u64::from(retry),
                throttled: 0,
                operations,
            },
        );
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if is_throttling(self.service, context.inner(), runtime_components) {
            self.counters.add(
                self.service,
                ApiCallStats {
                    throttled: 1,
                    ..ApiCallStats::default()
                },
            );
        }
        Ok(())
    }
}

/// Whether an attempt was answered with throttling: what the SDK's own
/// retry classifiers call a throttling error (they know every service's
/// codes), an HTTP 429, or an S3 503, which is how S3 answers a `HEAD` it
/// throttles (no body, so no `SlowDown` code to read).
fn is_throttling(service: Service, ctx: &InterceptorContext, rc: &RuntimeComponents) -> bool {
    if !matches!(ctx.output_or_error(), Some(Err(_))) {
        return false;
    }
    let status = ctx.response().map(|r| r.status().as_u16());
    if status == Some(429) || (service == Service::S3 && status == Some(503)) {
        return true;
    }
    matches!(
        run_classifiers_on_ctx(rc.retry_classifiers(), ctx),
        RetryAction::RetryIndicated(RetryReason::RetryableError {
            kind: ErrorKind::ThrottlingError,
            ..
        })
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
    use aws_sdk_s3::operation::list_buckets::ListBucketsOutput;
    use aws_smithy_async::test_util::instant_time_and_sleep;
    use aws_smithy_async::time::TimeSource;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    const SLOW_DOWN: &str =
        "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
    const THROTTLING: &str = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r1</RequestId></ErrorResponse>";

    fn stats(requests: u64, retries: u64, throttled: u64, ops: &[(&str, u64)]) -> ApiCallStats {
        ApiCallStats {
            requests,
            retries,
            throttled,
            operations: ops.iter().map(|(o, n)| ((*o).to_string(), *n)).collect(),
        }
    }

    #[tokio::test]
    async fn retries_and_throttling_are_counted_per_service() {
        let counters = ApiCounters::default();
        let (time, sleep) = instant_time_and_sleep(SystemTime::UNIX_EPOCH);
        let retry = super::super::retry::policy();

        // S3: two SlowDown answers, then success; then a call that succeeds at once.
        let s3_rule = mock!(aws_sdk_s3::Client::list_buckets)
            .sequence()
            .http_status(503, Some(SLOW_DOWN.to_string()))
            .times(2)
            .output(|| ListBucketsOutput::builder().build())
            .repeatedly()
            .build();
        let s3 = mock_client!(aws_sdk_s3, RuleMode::Sequential, &[&s3_rule], |c| c
            .time_source(time.clone())
            .sleep_impl(sleep.clone())
            .retry_config(retry.clone())
            .interceptor(counters.interceptor(Service::S3)));
        s3.list_buckets().send().await.unwrap();
        s3.list_buckets().send().await.unwrap();

        // RDS: throttled once (HTTP 400 `Throttling`), then an answer.
        let rds_rule = mock!(aws_sdk_rds::Client::describe_db_instances)
            .sequence()
            .http_status(400, Some(THROTTLING.to_string()))
            .output(|| DescribeDbInstancesOutput::builder().build())
            .build();
        let rds = mock_client!(aws_sdk_rds, RuleMode::Sequential, &[&rds_rule], |c| c
            .time_source(time.clone())
            .sleep_impl(sleep.clone())
            .retry_config(retry.clone())
            .interceptor(counters.interceptor(Service::Rds)));
        rds.describe_db_instances().send().await.unwrap();

        let got = counters.snapshot();
        assert_eq!(got[&Service::S3], stats(4, 2, 2, &[("ListBuckets", 2)]));
        assert_eq!(
            got[&Service::Rds],
            stats(2, 1, 1, &[("DescribeDBInstances", 1)])
        );
        assert!(!got.contains_key(&Service::Ec2), "never called: not listed");
        let waited = time.now().duration_since(SystemTime::UNIX_EPOCH).unwrap();
        assert!(waited < Duration::from_secs(5), "backoff only: {waited:?}");
    }

    #[tokio::test]
    async fn a_failure_that_is_not_throttling_is_retried_but_not_counted_as_throttled() {
        let counters = ApiCounters::default();
        let (time, sleep) = instant_time_and_sleep(SystemTime::UNIX_EPOCH);
        let rule = mock!(aws_sdk_s3::Client::list_buckets)
            .sequence()
            .http_status(
                500,
                Some("<Error><Code>InternalError</Code></Error>".into()),
            )
            .output(|| ListBucketsOutput::builder().build())
            .build();
        let s3 = mock_client!(aws_sdk_s3, RuleMode::Sequential, &[&rule], |c| c
            .time_source(time.clone())
            .sleep_impl(sleep.clone())
            .retry_config(super::super::retry::policy())
            .interceptor(counters.interceptor(Service::S3)));
        s3.list_buckets().send().await.unwrap();
        assert_eq!(
            counters.snapshot()[&Service::S3],
            stats(2, 1, 0, &[("ListBuckets", 1)])
        );
    }
}
