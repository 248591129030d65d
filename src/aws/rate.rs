//! Client-side request rates for real AWS endpoints, so that a drill of
//! hundreds of targets stays inside the account's API quotas instead of
//! discovering them through throttling errors.
//!
//! AWS documents these quotas as token buckets per account and region:
//!
//! - **EC2**, per API action: non-mutating actions (`Describe*`) hold 100
//!   tokens and refill 20 per second; mutating actions hold 200 and refill 5.
//! - **RDS**, all actions together: 300 requests in a burst, 12 per second
//!   sustained.
//!
//! The quota belongs to the whole account: consoles, infrastructure-as-code
//! and monitoring draw on it too. firedrill takes only a share of it
//! (`[environment] api_quota_percent`, default 50%). S3's limits apply per
//! key prefix (3,500 writes and 5,500 reads per second), far above what a
//! drill sends, and STS sees one call per run, so neither is limited here.
//! Adaptive retries still handle any throttling that gets through.
//!
//! There is one [`Limits`] per service and region, as there is one client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep};
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::time::SystemTime;

use firedrill_core::Service;

/// Share of the documented quotas used when the scenario sets none.
pub const DEFAULT_QUOTA_PERCENT: u8 = 50;

/// One documented token bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quota {
    pub burst: f64,
    pub per_second: f64,
}

/// The bucket a request draws on: its quota, and whether every action
/// shares it (RDS) or each action has its own (EC2).
fn bucket_for(service: Service, action: &str) -> Option<(Quota, bool)> {
    match service {
        Service::Ec2 => {
            let reads = ["Describe", "Get", "List"]
                .iter()
                .any(|p| action.starts_with(p));
            let quota = if reads {
                Quota {
                    burst: 100.0,
                    per_second: 20.0,
                }
            } else {
                Quota {
                    burst: 200.0,
                    per_second: 5.0,
                }
            };
            Some((quota, false))
        }
        Service::Rds => Some((
            Quota {
                burst: 300.0,
                per_second: 12.0,
            },
            true,
        )),
        Service::S3 | Service::Sts => None,
    }
}

/// The limit a service runs under, in words (for `firedrill plan`).
pub fn describe(service: Service, percent: Option<u8>) -> Option<String> {
    let percent = percent.unwrap_or(DEFAULT_QUOTA_PERCENT).clamp(1, 100);
    let share = f64::from(percent) / 100.0;
    let rate = |q: Quota| {
        format!(
            "{:.0} at once, then {:.1}/s",
            (q.burst * share).max(1.0),
            q.per_second * share
        )
    };
    match service {
        Service::Ec2 => {
            let (read, _) = bucket_for(service, "DescribeVolumes")?;
            let (write, _) = bucket_for(service, "CreateSnapshot")?;
            Some(format!(
                "ec2: per action, Describe* {}, mutating {} ({percent}% of the account quota)",
                rate(read),
                rate(write)
            ))
        }
        Service::Rds => {
            let (all, _) = bucket_for(service, "DescribeDBInstances")?;
            Some(format!(
                "rds: all actions together {} ({percent}% of the account quota)",
                rate(all)
            ))
        }
        Service::S3 | Service::Sts => None,
    }
}

/// The `Action` of a query-protocol request body (EC2, RDS):
/// `Action=DescribeVolumes&Version=...`.
fn action_of(request: &HttpRequest) -> Option<String> {
    let body = std::str::from_utf8(request.body().bytes()?).ok()?;
    body.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .map(str::to_string)
}

#[derive(Debug)]
struct Bucket {
    /// May go below zero: each waiting request has reserved its token.
    tokens: f64,
    capacity: f64,
    per_second: f64,
    updated: SystemTime,
}

/// The buckets of one service in one region.
#[derive(Debug)]
pub struct Limits {
    service: Service,
    /// The share of each documented quota, 0.01 to 1.
    share: f64,
    /// By action; one entry under `""` when every action shares the bucket.
    buckets: Mutex<HashMap<String, Bucket>>,
    /// The drill's clock (the SDK's time source and sleep), so tests run
    /// on virtual time.
    time: SharedTimeSource,
    sleep: SharedAsyncSleep,
}

impl Limits {
    pub fn new(
        service: Service,
        percent: Option<u8>,
        time: SharedTimeSource,
        sleep: SharedAsyncSleep,
    ) -> Self {
        let percent = percent.unwrap_or(DEFAULT_QUOTA_PERCENT).clamp(1, 100);
        Self {
            service,
            share: f64::from(percent) / 100.0,
            buckets: Mutex::new(HashMap::new()),
            time,
            sleep,
        }
    }

    /// Reserve a token for `action` and return how long to wait for it.
    fn reserve(&self, action: &str) -> Duration {
        let Some((quota, shared)) = bucket_for(self.service, action) else {
            return Duration::ZERO;
        };
        let key = if shared { "" } else { action };
        let now = self.time.now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !buckets.contains_key(key) {
            let capacity = (quota.burst * self.share).max(1.0);
            buckets.insert(
                key.to_string(),
                Bucket {
                    tokens: capacity,
                    capacity,
                    per_second: quota.per_second * self.share,
                    updated: now,
                },
            );
        }
        let Some(b) = buckets.get_mut(key) else {
            return Duration::ZERO;
        };
        // A wall clock stepped backwards refills nothing.
        let elapsed = now
            .duration_since(b.updated)
            .unwrap_or_default()
            .as_secs_f64();
        b.tokens = (b.tokens + elapsed * b.per_second).min(b.capacity);
        b.updated = now;
        b.tokens -= 1.0;
        if b.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.tokens / b.per_second)
        }
    }

    /// Wait until `action` may be sent.
    pub async fn acquire(&self, action: &str) {
        let wait = self.reserve(action);
        if !wait.is_zero() {
            tracing::debug!(service = ?self.service, action, ?wait, "waiting for the API rate limit");
            self.sleep.sleep(wait).await;
        }
    }
}

/// An HTTP client that waits for its service's rate limit before sending.
#[derive(Debug)]
pub struct RateLimited {
    inner: SharedHttpClient,
    limits: Arc<Limits>,
}

impl RateLimited {
    pub fn new(inner: SharedHttpClient, limits: Limits) -> Self {
        Self {
            inner,
            limits: Arc::new(limits),
        }
    }
}

impl HttpClient for RateLimited {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(RateLimitedConnector {
            inner: self.inner.http_connector(settings, components),
            limits: self.limits.clone(),
        })
    }
}

#[derive(Debug)]
struct RateLimitedConnector {
    inner: SharedHttpConnector,
    limits: Arc<Limits>,
}

impl HttpConnector for RateLimitedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let action = action_of(&request).unwrap_or_default();
        let (inner, limits) = (self.inner.clone(), self.limits.clone());
        HttpConnectorFuture::new(async move {
            limits.acquire(&action).await;
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_smithy_async::test_util::{ManualTimeSource, instant_time_and_sleep};
    use aws_smithy_async::time::TimeSource;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    /// Counts the requests that reached the network.
    #[derive(Debug, Default, Clone)]
    struct Counted(Arc<AtomicUsize>);

    impl HttpConnector for Counted {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            self.0.fetch_add(1, Ordering::SeqCst);
            HttpConnectorFuture::new(async {
                Ok(HttpResponse::new(200.try_into().unwrap(), SdkBody::empty()))
            })
        }
    }

    fn query(action: &str) -> HttpRequest {
        let mut r = HttpRequest::new(SdkBody::from(format!("Action={action}&Version=2016-11-15")));
        r.set_uri("https://ec2.us-east-1.amazonaws.com/").unwrap();
        r
    }

    /// A limited connector on virtual time; the time source tells how long
    /// the calls waited in all.
    fn connector(service: Service, percent: u8) -> (RateLimitedConnector, Counted, Elapsed) {
        let (time, sleep) = instant_time_and_sleep(SystemTime::UNIX_EPOCH);
        let rec = Counted::default();
        let limits = Limits::new(
            service,
            Some(percent),
            SharedTimeSource::new(time.clone()),
            SharedAsyncSleep::new(sleep),
        );
        let conn = RateLimitedConnector {
            inner: SharedHttpConnector::new(rec.clone()),
            limits: Arc::new(limits),
        };
        (conn, rec, Elapsed(time))
    }

    struct Elapsed(ManualTimeSource);

    impl Elapsed {
        fn get(&self) -> Duration {
            self.0.now().duration_since(SystemTime::UNIX_EPOCH).unwrap()
        }
    }

    #[tokio::test]
    async fn ec2_mutating_calls_keep_to_their_share_of_the_documented_bucket() {
        // 50% of 200 tokens, refilled at 2.5/s: 100 at once, then one every 0.4 s.
        let (conn, _, elapsed) = connector(Service::Ec2, 50);
        for _ in 0..110 {
            conn.call(query("CreateSnapshot")).await.unwrap();
        }
        let took = elapsed.get();
        assert!(
            (Duration::from_millis(3900)..=Duration::from_millis(4100)).contains(&took),
            "110 mutating calls took {took:?}, expected 10 x 0.4 s after the burst"
        );
    }

    #[tokio::test]
    async fn ec2_buckets_are_per_action_and_reads_refill_faster() {
        let (conn, _, elapsed) = connector(Service::Ec2, 100);
        // Exhaust CreateVolume's bucket: DescribeVolumes is not slowed by it.
        for _ in 0..200 {
            conn.call(query("CreateVolume")).await.unwrap();
        }
        for _ in 0..120 {
            conn.call(query("DescribeVolumes")).await.unwrap();
        }
        let took = elapsed.get();
        // 100 reads at once, 20 more at 20/s.
        assert!(
            (Duration::from_millis(950)..=Duration::from_millis(1050)).contains(&took),
            "{took:?}"
        );
    }

    #[tokio::test]
    async fn rds_shares_one_bucket_across_actions_and_s3_is_not_limited() {
        let (conn, rec, elapsed) = connector(Service::Rds, 10);
        // 10% of 300 = 30 at once, then 1.2/s across every action.
        for i in 0..36 {
            let action = if i % 2 == 0 {
                "DescribeDBInstances"
            } else {
                "CreateDBSnapshot"
            };
            conn.call(query(action)).await.unwrap();
        }
        let took = elapsed.get();
        assert!(
            (Duration::from_millis(4900)..=Duration::from_millis(5100)).contains(&took),
            "{took:?}"
        );
        assert_eq!(rec.0.load(Ordering::SeqCst), 36);

        let (s3, _, elapsed) = connector(Service::S3, 1);
        for _ in 0..1000 {
            s3.call(query("PutObject")).await.unwrap();
        }
        assert_eq!(elapsed.get(), Duration::ZERO);
    }

    #[test]
    fn limits_are_described_for_the_plan() {
        assert_eq!(
            describe(Service::Ec2, None).unwrap(),
            "ec2: per action, Describe* 50 at once, then 10.0/s, mutating 100 at once, then 2.5/s (50% of the account quota)"
        );
        assert_eq!(
            describe(Service::Rds, Some(10)).unwrap(),
            "rds: all actions together 30 at once, then 1.2/s (10% of the account quota)"
        );
        assert_eq!(describe(Service::S3, None), None);
    }

    #[test]
    fn the_action_is_read_from_a_query_body() {
        assert_eq!(
            action_of(&query("DescribeVolumes")).as_deref(),
            Some("DescribeVolumes")
        );
        let mut r = HttpRequest::new(SdkBody::from(
            "Version=2014-10-31&Action=RebootDBInstance&X=1",
        ));
        r.set_uri("https://rds.us-east-1.amazonaws.com/").unwrap();
        assert_eq!(action_of(&r).as_deref(), Some("RebootDBInstance"));
        let empty = HttpRequest::new(SdkBody::empty());
        assert_eq!(action_of(&empty), None);
    }
}
