//! Raw serde structs that mirror the scenario file, before validation.
//!
//! Every struct denies unknown keys; the parser turns serde's complaint into
//! a "did you mean" diagnostic. Target tables are not here: each target kind
//! owns the raw struct for its keys (see `targets::*::options`).

use schemars::JsonSchema;
use serde::Deserialize;

use firedrill_core::input::{HumanDuration, Spanned};

/// Keys allowed at the top of a scenario file.
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "version",
    "name",
    "description",
    "owner",
    "controls",
    "environment",
    "objectives",
    "run",
    "targets",
    "notify",
    "evidence",
    "gates",
    "hooks",
];

/// Scalars at the top of the file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    /// Scenario format version; only 1 exists.
    pub version: Option<Spanned<u32>>,
    /// Short name, used in report paths: letters, digits, `-` and `_`.
    pub name: Spanned<String>,
    /// What this drill proves, in a sentence.
    #[serde(default)]
    pub description: String,
    /// Who answers for this drill (team or email).
    #[serde(default)]
    pub owner: String,
    /// Compliance control ids this drill gives evidence for.
    #[serde(default)]
    pub controls: Vec<Spanned<String>>,
}

/// `[environment]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEnvironment {
    /// AWS region, e.g. `us-east-1`.
    pub region: Spanned<String>,
    /// Named profile from `~/.aws/config`.
    pub profile: Option<String>,
    /// Default endpoint for every service (`LocalStack`, a VPC endpoint...).
    pub endpoint_url: Option<Spanned<String>>,
    /// Per-service endpoints; these win over `endpoint_url`.
    #[serde(default)]
    pub endpoints: RawEndpoints,
    /// AWS account ids in which destructive faults may run.
    #[serde(default)]
    pub allowed_accounts: Vec<Spanned<String>>,
    /// Percent of the account's documented EC2 and RDS API request quotas
    /// firedrill may use against real AWS (default 50; the rest is left to
    /// everything else that calls the API).
    pub api_quota_percent: Option<Spanned<u32>>,
}

/// `[environment.endpoints]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoints {
    pub s3: Option<Spanned<String>>,
    pub ec2: Option<Spanned<String>>,
    pub rds: Option<Spanned<String>>,
    pub sts: Option<Spanned<String>>,
}

/// `[objectives]`, also allowed per target.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawObjectives {
    /// Recovery time objective, e.g. `"15m"`.
    pub rto: HumanDuration,
    /// Recovery point objective, e.g. `"30s"`.
    pub rpo: HumanDuration,
    /// Application RTO: first fault → every critical gate passed.
    pub app_rto: Option<HumanDuration>,
    /// `firedrill coverage` fails a resource no drill proved within this
    /// long (default `"90d"`; `--proven-within` overrides it).
    pub proven_within: Option<HumanDuration>,
}

/// Per-target objectives: either may be left to the scenario's.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTargetObjectives {
    pub rto: Option<HumanDuration>,
    pub rpo: Option<HumanDuration>,
    /// This target's `proven_within`, for `firedrill coverage`.
    pub proven_within: Option<HumanDuration>,
}

/// `[run]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    /// Abort and clean up once the drill has run this long.
    pub max_duration: Option<HumanDuration>,
    /// How many targets are drilled at once (default 4).
    pub max_concurrency: Option<Spanned<u32>>,
    /// Scratch resources expire (for `firedrill reap`) this long after the start (default 6h).
    pub scratch_ttl: Option<HumanDuration>,
    /// Deadline for any single wait, e.g. a restore becoming available (default 1h).
    pub stage_timeout: Option<HumanDuration>,
    /// `independent` (default): each target drilled on its own; `outage`:
    /// every fault at one instant, then recovery in dependency order.
    pub mode: Option<Spanned<String>>,
    /// Abort the whole drill (no further faults, clean up) as soon as one target fails.
    pub abort_on_failure: Option<bool>,
    /// Warn when a target's RTO grew by more than this share over the median
    /// of its last runs (default 0.5 = 50%).
    pub regression_threshold: Option<Spanned<f64>>,
}

/// The common keys of a target table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTargetCommon {
    pub name: Spanned<String>,
    pub kind: Spanned<String>,
    pub objectives: Option<RawTargetObjectives>,
    /// Targets that must be restored and validated before this one's restore starts.
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    /// A non-critical target is reported without failing the application
    /// verdict (default true).
    pub critical: Option<bool>,
    /// Commands run at fixed points of this target's drill.
    #[serde(default)]
    pub hooks: Vec<super::hooks::RawHook>,
}
