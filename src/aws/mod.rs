//! AWS clients: one shared client per service and region, with per-service
//! endpoints (`LocalStack` for S3/EC2, moto for RDS), the retry policy of
//! [`retry`], a count of every request per service ([`stats`]), and a
//! domain error that keeps the AWS error code, message and request id.

pub mod ec2;
mod error;
pub mod http;
pub mod rate;
pub mod rds;
pub mod refused;
pub mod retry;
pub mod s3;
pub mod s3_stream;
pub mod stats;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::{RetryConfig, RetryMode};
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_runtime_api::client::http::SharedHttpClient;

pub use error::FromSdk;
use firedrill_core::{ApiCallStats, AwsError};

use firedrill_core::timing::Clock;
use firedrill_core::{Environment, Service};

/// The clients for one region.
#[derive(Clone, Debug)]
pub struct RegionClients {
    pub s3: aws_sdk_s3::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub rds: aws_sdk_rds::Client,
    pub sts: aws_sdk_sts::Client,
}

/// Shared clients for a run. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Clients {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    env: Environment,
    sdk: SdkConfig,
    home: RegionClients,
    others: Mutex<HashMap<String, RegionClients>>,
    transport: Transport,
}

/// What every region's clients share: one HTTP client per emulator endpoint,
/// the clock the API rate limits of real AWS run on, and the request counts.
#[derive(Clone, Debug)]
struct Transport {
    emulators: Arc<http::EmulatorClients>,
    time: SharedTimeSource,
    sleep: SharedAsyncSleep,
    counters: stats::ApiCounters,
}

impl Transport {
    fn new(sdk: &SdkConfig) -> Self {
        Self {
            emulators: Arc::new(http::EmulatorClients::default()),
            time: sdk.time_source().unwrap_or_default(),
            sleep: sdk
                .sleep_impl()
                .unwrap_or_else(|| SharedAsyncSleep::new(TokioSleep::new())),
            counters: stats::ApiCounters::default(),
        }
    }
}

/// Credentials used when every endpoint is a local emulator and the
/// environment provides none: `LocalStack` and moto accept any.
const EMULATOR_KEY: &str = "test";

impl Clients {
    /// Build clients for an environment, retrying as [`retry::policy`] says.
    /// Loads credentials lazily: the first call that needs them fails with
    /// an environment error if there are none.
    pub async fn new(env: &Environment, clock: &Clock) -> Self {
        Self::with_retry(env, clock, retry::policy()).await
    }

    /// Build clients with an explicit retry configuration (tests use few attempts).
    pub async fn with_retry(env: &Environment, clock: &Clock, retry: RetryConfig) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(env.region.clone()))
            .retry_config(retry)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .read_timeout(Duration::from_mins(2))
                    .build(),
            )
            .time_source(clock.time_source())
            .sleep_impl(clock.async_sleep());
        if let Some(profile) = &env.profile {
            loader = loader.profile_name(profile);
        }
        // Emulator credentials only when every configured endpoint is local:
        // a real endpoint gets the real credential chain.
        let configured: Vec<&str> = Service::ALL
            .iter()
            .filter_map(|s| env.endpoint(*s))
            .collect();
        let all_emulated = !configured.is_empty()
            && configured
                .iter()
                .all(|u| firedrill_core::service::is_loopback_url(u));
        if all_emulated && env.profile.is_none() && std::env::var_os("AWS_ACCESS_KEY_ID").is_none()
        {
            loader = loader.credentials_provider(Credentials::new(
                EMULATOR_KEY,
                EMULATOR_KEY,
                None,
                None,
                "firedrill-emulator",
            ));
        }
        let sdk = loader.load().await;
        Self::from_sdk_config(env, sdk)
    }

    /// Clients whose STS client is replaced (guard tests mock `GetCallerIdentity`).
    #[cfg(test)]
    pub(crate) fn with_sts(env: &Environment, sdk: SdkConfig, sts: aws_sdk_sts::Client) -> Self {
        let transport = Transport::new(&sdk);
        let mut home = build_region(env, &sdk, &env.region, &transport);
        home.sts = sts;
        Self {
            inner: Arc::new(Inner {
                env: env.clone(),
                sdk,
                home,
                others: Mutex::new(HashMap::new()),
                transport,
            }),
        }
    }

    /// Build clients from a ready SDK config (tests inject mocked HTTP here).
    pub fn from_sdk_config(env: &Environment, sdk: SdkConfig) -> Self {
        let transport = Transport::new(&sdk);
        let home = build_region(env, &sdk, &env.region, &transport);
        Self {
            inner: Arc::new(Inner {
                env: env.clone(),
                sdk,
                home,
                others: Mutex::new(HashMap::new()),
                transport,
            }),
        }
    }

    /// The environment these clients serve.
    pub fn environment(&self) -> &Environment {
        &self.inner.env
    }

    /// The home region.
    pub fn region(&self) -> &str {
        &self.inner.env.region
    }

    pub fn s3(&self) -> &aws_sdk_s3::Client {
        &self.inner.home.s3
    }

    pub fn ec2(&self) -> &aws_sdk_ec2::Client {
        &self.inner.home.ec2
    }

    pub fn rds(&self) -> &aws_sdk_rds::Client {
        &self.inner.home.rds
    }

    pub fn sts(&self) -> &aws_sdk_sts::Client {
        &self.inner.home.sts
    }

    /// Clients for another region (a disaster-recovery region), cached.
    pub fn in_region(&self, region: &str) -> RegionClients {
        if region == self.inner.env.region {
            return self.inner.home.clone();
        }
        let mut others = self
            .inner
            .others
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        others
            .entry(region.to_string())
            .or_insert_with(|| {
                build_region(
                    &self.inner.env,
                    &self.inner.sdk,
                    region,
                    &self.inner.transport,
                )
            })
            .clone()
    }

    /// Requests, retries and throttling answers so far, per service called
    /// (every region's clients together).
    pub fn api_stats(&self) -> BTreeMap<Service, ApiCallStats> {
        self.inner.transport.counters.snapshot()
    }

    /// Whether a service is served by an emulator on this machine.
    pub fn is_emulated(&self, service: Service) -> bool {
        self.inner.env.is_emulated(service)
    }

    /// The account id the credentials belong to (STS `GetCallerIdentity`).
    pub async fn account_id(&self) -> Result<String, AwsError> {
        let out = self
            .sts()
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sts:GetCallerIdentity", e))?;
        Ok(out.account().unwrap_or_default().to_string())
    }
}

/// The retry settings for one service: real AWS gets adaptive retries, whose
/// client-side rate limiter slows every request of that client down after a
/// throttling error (`SlowDown`, `Throttling`), so hundreds of targets drilled
/// at once back off together instead of retrying into the limit. Emulators do
/// not throttle; there the token bucket would only add latency.
fn retry_for(
    env: &Environment,
    service: Service,
    base: Option<&RetryConfig>,
) -> Option<RetryConfig> {
    let base = base?;
    if env.is_emulated(service) || base.mode() == RetryMode::Adaptive {
        return None;
    }
    Some(base.clone().with_retry_mode(RetryMode::Adaptive))
}

/// The HTTP client for one service in one region: for a local emulator,
/// keep-alive and a cap on requests in flight (see [`http`]); for real EC2
/// and RDS, the SDK's default client behind the account's API rate limits
/// (see [`rate`]; built once per region, as the client is). `None` keeps the
/// SDK default, as do tests that inject their own HTTP client into the SDK
/// config.
fn http_for(
    env: &Environment,
    sdk: &SdkConfig,
    service: Service,
    transport: &Transport,
) -> Option<SharedHttpClient> {
    if sdk.http_client().is_some() {
        return None;
    }
    if env.is_emulated(service) {
        return env
            .endpoint(service)
            .map(|url| transport.emulators.for_endpoint(url));
    }
    match service {
        Service::Ec2 | Service::Rds => Some(SharedHttpClient::new(rate::RateLimited::new(
            http::aws_https_client(),
            rate::Limits::new(
                service,
                env.api_quota_percent,
                transport.time.clone(),
                transport.sleep.clone(),
            ),
        ))),
        Service::S3 | Service::Sts => None,
    }
}

/// What every service's client gets, whatever the type of its config
/// builder: its endpoint, its retry settings and partition, the classifier
/// that never retries a refused connection, the call deadline, the request
/// count, and its HTTP client.
macro_rules! client_settings {
    ($builder:expr, $service:expr, $env:expr, $sdk:expr, $region:expr, $transport:expr) => {{
        let mut b = $builder
            .region($region.clone())
            .retry_partition(retry::partition($service, $region.as_ref()))
            .retry_classifier(refused::RefusedIsFinal)
            .interceptor(retry::RetryDeadline::new(retry::CALL_DEADLINE))
            .interceptor($transport.counters.interceptor($service));
        if let Some(url) = $env.endpoint($service) {
            b = b.endpoint_url(url);
        }
        if let Some(r) = retry_for($env, $service, $sdk.retry_config()) {
            b = b.retry_config(r);
        }
        if let Some(c) = http_for($env, $sdk, $service, $transport) {
            b = b.http_client(c);
        }
        b
    }};
}

fn build_region(
    env: &Environment,
    sdk: &SdkConfig,
    region: &str,
    transport: &Transport,
) -> RegionClients {
    let region = Region::new(region.to_string());
    let mut s3 = client_settings!(
        aws_sdk_s3::config::Builder::from(sdk),
        Service::S3,
        env,
        sdk,
        region,
        transport
    );
    if env.endpoint(Service::S3).is_some() {
        // Emulators and most S3-compatible endpoints want path-style URLs.
        s3 = s3.force_path_style(true);
    }
    let ec2 = client_settings!(
        aws_sdk_ec2::config::Builder::from(sdk),
        Service::Ec2,
        env,
        sdk,
        region,
        transport
    );
    let rds = client_settings!(
        aws_sdk_rds::config::Builder::from(sdk),
        Service::Rds,
        env,
        sdk,
        region,
        transport
    );
    let sts = client_settings!(
        aws_sdk_sts::config::Builder::from(sdk),
        Service::Sts,
        env,
        sdk,
        region,
        transport
    );
    RegionClients {
        s3: aws_sdk_s3::Client::from_conf(s3.build()),
        ec2: aws_sdk_ec2::Client::from_conf(ec2.build()),
        rds: aws_sdk_rds::Client::from_conf(rds.build()),
        sts: aws_sdk_sts::Client::from_conf(sts.build()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(text: &str) -> Environment {
        crate::scenario::validate::parse(std::path::Path::new("t.toml"), text)
            .unwrap()
            .environment
    }

    const TARGET: &str = "[objectives]\nrto = \"1m\"\nrpo = \"1m\"\n[[targets]]\nname = \"d\"\nkind = \"s3-bucket\"\nbucket = \"bkt-test\"\n";

    #[tokio::test]
    async fn real_ec2_and_rds_wait_for_the_api_rate_limits_emulators_and_s3_do_not() {
        let http = |c: Option<SharedHttpClient>| format!("{:?}", c.expect("an http client"));
        let real = env(&format!(
            "name = \"r\"\n[environment]\nregion = \"us-east-1\"\napi_quota_percent = 20\n{TARGET}"
        ));
        assert_eq!(real.api_quota_percent, Some(20));
        let clients = Clients::new(&real, &Clock::system()).await;
        assert!(http(clients.ec2().config().http_client()).contains("RateLimited"));
        assert!(http(clients.rds().config().http_client()).contains("RateLimited"));
        assert!(
            clients
                .s3()
                .config()
                .http_client()
                .is_none_or(|c| !format!("{c:?}").contains("RateLimited")),
            "S3's limits are per prefix: no client-side limit"
        );
        let dr = clients.in_region("us-west-2");
        assert!(http(dr.ec2.config().http_client()).contains("RateLimited"));

        let emulated = env(&format!(
            "name = \"e\"\n[environment]\nregion = \"us-east-1\"\nendpoint_url = \"http://127.0.0.1:4566\"\n{TARGET}"
        ));
        let clients = Clients::new(&emulated, &Clock::system()).await;
        let ec2 = http(clients.ec2().config().http_client());
        assert!(
            ec2.contains("EmulatorClient") && !ec2.contains("RateLimited"),
            "{ec2}"
        );
    }

    #[tokio::test]
    async fn every_client_gets_the_retry_policy_in_every_region() {
        use aws_smithy_runtime_api::client::interceptors::Intercept;
        use aws_smithy_runtime_api::client::retries::classifiers::ClassifyRetry;
        let emulated = env(&format!(
            "name = \"e\"\n[environment]\nregion = \"us-east-1\"\nendpoint_url = \"http://127.0.0.1:4566\"\n{TARGET}"
        ));
        let clients = Clients::new(&emulated, &Clock::system()).await;
        let dr = clients.in_region("us-west-2");
        let checks = [
            (
                clients.s3().config().retry_partition(),
                "firedrill-s3-us-east-1",
            ),
            (
                clients.rds().config().retry_partition(),
                "firedrill-rds-us-east-1",
            ),
            (dr.ec2.config().retry_partition(), "firedrill-ec2-us-west-2"),
        ];
        for (partition, name) in checks {
            assert_eq!(partition.expect("a partition of its own").to_string(), name);
        }
        let s3 = clients.s3().config();
        assert_eq!(
            s3.retry_config().unwrap().max_attempts(),
            retry::MAX_ATTEMPTS
        );
        assert!(
            s3.retry_classifiers()
                .any(|c| c.name() == refused::RefusedIsFinal.name())
        );
        let interceptors: Vec<&str> = dr.sts.config().interceptors().map(|i| i.name()).collect();
        for name in ["RetryDeadline", "CountCalls"] {
            assert!(interceptors.contains(&name), "{interceptors:?}");
        }
        assert!(clients.api_stats().is_empty(), "nothing called yet");
    }

    #[tokio::test]
    async fn real_endpoints_retry_adaptively_emulators_do_not() {
        let real = env(&format!(
            "name = \"r\"\n[environment]\nregion = \"us-east-1\"\n{TARGET}"
        ));
        let clients = Clients::new(&real, &Clock::system()).await;
        let s3 = clients.s3().config().retry_config().unwrap().clone();
        assert_eq!(s3.mode(), RetryMode::Adaptive);
        assert_eq!(s3.max_attempts(), retry::MAX_ATTEMPTS, "attempts are kept");
        assert_eq!(
            clients.sts().config().retry_config().unwrap().mode(),
            RetryMode::Adaptive
        );

        let mixed = env(&format!(
            "name = \"m\"\n[environment]\nregion = \"us-east-1\"\n[environment.endpoints]\ns3 = \"http://127.0.0.1:4566\"\n{TARGET}"
        ));
        let clients = Clients::new(&mixed, &Clock::system()).await;
        assert_eq!(
            clients.s3().config().retry_config().unwrap().mode(),
            RetryMode::Standard,
            "loopback S3 does not throttle"
        );
        assert_eq!(
            clients.rds().config().retry_config().unwrap().mode(),
            RetryMode::Adaptive,
            "RDS is still real AWS"
        );
    }
}
