//! The AWS services firedrill calls, and the environment that says where
//! each one is (`LocalStack`, moto, a VPC endpoint or AWS itself).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

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

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
