//! Validated scenario types: what the rest of firedrill works with.
//!
//! Everything here has passed validation; no other module re-checks a
//! scenario. Kind-specific options live with their target kind, behind
//! [`crate::targets::Target`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::targets::Target;

/// A validated scenario file.
#[derive(Debug)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub owner: String,
    pub source: ScenarioSource,
    pub environment: Environment,
    pub objectives: Objectives,
    pub run: RunSettings,
    /// Compliance control ids this drill gives evidence for.
    pub controls: Vec<String>,
    pub targets: Vec<TargetSpec>,
}

/// The file a scenario came from, kept for provenance.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioSource {
    pub path: PathBuf,
    pub text: String,
    pub sha256: String,
}

/// An AWS service firedrill talks to; each can have its own endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    S3,
    Ec2,
    Rds,
    Sts,
}

impl Service {
    pub const ALL: [Service; 4] = [Service::S3, Service::Ec2, Service::Rds, Service::Sts];

    pub fn as_str(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Ec2 => "ec2",
            Service::Rds => "rds",
            Service::Sts => "sts",
        }
    }
}

/// Where and as whom the drill runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    pub region: String,
    pub profile: Option<String>,
    /// Default endpoint for every service without its own.
    pub endpoint_url: Option<String>,
    pub endpoints: Endpoints,
    /// Account ids a destructive fault may run in (real AWS only).
    pub allowed_accounts: Vec<String>,
    /// Percent of the documented API quotas used on real AWS (`None`: 50).
    pub api_quota_percent: Option<u8>,
}

/// Per-service endpoint overrides.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    pub s3: Option<String>,
    pub ec2: Option<String>,
    pub rds: Option<String>,
    pub sts: Option<String>,
}

impl Environment {
    /// The endpoint a service's client should use, if not AWS's own.
    pub fn endpoint(&self, service: Service) -> Option<&str> {
        let specific = match service {
            Service::S3 => &self.endpoints.s3,
            Service::Ec2 => &self.endpoints.ec2,
            Service::Rds => &self.endpoints.rds,
            Service::Sts => &self.endpoints.sts,
        };
        specific.as_deref().or(self.endpoint_url.as_deref())
    }

    /// Whether a service is served by an emulator on this machine. Only
    /// loopback endpoints count: anything else may be real AWS.
    pub fn is_emulated(&self, service: Service) -> bool {
        self.endpoint(service).is_some_and(is_loopback_url)
    }
}

/// Whether a URL's host is a loopback address or `localhost`.
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(stripped) = authority.strip_prefix('[') {
        stripped.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Recovery objectives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Objectives {
    #[serde(with = "crate::timing::millis", rename = "rto_ms")]
    pub rto: Duration,
    #[serde(with = "crate::timing::millis", rename = "rpo_ms")]
    pub rpo: Duration,
}

/// How the run as a whole behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSettings {
    /// Abort the drill (and clean up) past this wall time.
    pub max_duration: Option<Duration>,
    /// Targets drilled at once.
    pub max_concurrency: usize,
    /// Scratch resources carry `firedrill:expires-at` = start + this.
    pub scratch_ttl: Duration,
    /// Deadline for any single wait (restore becoming available, ...).
    pub stage_timeout: Duration,
    /// Abort the whole drill as soon as one target fails.
    pub abort_on_failure: bool,
    /// Warn when RTO grew by more than this share over the median of the
    /// last runs of the scenario.
    pub regression_threshold: f64,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            max_duration: None,
            max_concurrency: 4,
            scratch_ttl: Duration::from_hours(6),
            stage_timeout: Duration::from_hours(1),
            abort_on_failure: false,
            regression_threshold: 0.5,
        }
    }
}

/// One target: common settings plus its kind's validated options.
#[derive(Debug)]
pub struct TargetSpec {
    pub name: String,
    pub kind: &'static str,
    /// Per-target objectives; the scenario's when absent.
    pub objectives: Objectives,
    pub target: Box<dyn Target>,
}
