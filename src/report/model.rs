//! The report model: one value every format renders from, and the schema of
//! `report.json` (`schema_version` bumps on any incompatible change).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use firedrill_core::canary::CanaryReport;
use firedrill_core::recovery::{ProvenPoint, RecoveryPointReport};
use firedrill_core::timing::millis;
use firedrill_core::{
    ApiCallStats, Check, CheckStatus, Finding, Measured, Objectives, RetainedCopy, Severity, Stage,
    StageRecord, Verdict,
};

/// Version of the `report.json` layout.
pub const SCHEMA_VERSION: u32 = 1;

/// A whole drill run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub firedrill_version: String,
    pub run_id: String,
    pub scenario: ScenarioInfo,
    pub environment: EnvironmentInfo,
    pub objectives: Objectives,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    #[serde(with = "millis", rename = "duration_ms")]
    pub duration: Duration,
    pub verdict: Verdict,
    pub exit_code: u8,
    /// Why the run was aborted, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<String>,
    pub targets: Vec<TargetReport>,
    /// Findings about the run as a whole (guards, environment, cleanup).
    pub findings: Vec<Finding>,
    pub cleanup: CleanupReport,
    /// Who ran what, where, from which file: for auditors.
    #[serde(default)]
    pub provenance: Provenance,
    /// Requests, retries and throttling answers per service (`s3`, `ec2`,
    /// `rds`, `sts`), for the services the run called.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub api_calls: BTreeMap<String, ApiCallStats>,
    /// Compliance control ids (catalogue ids) this drill gives evidence for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<String>,
    /// The seed of the run's recovery point choices (`--seed` repeats
    /// them); set when a target restored an existing recovery point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The recovery order by target name, when targets depend on others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<Vec<String>>,
    /// Targets that selected their resources by tag: how many matched and
    /// which were drilled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selections: Vec<firedrill_core::select::SelectionReport>,
    /// Checks of the recovered application (`[[gates]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<super::gates::GateReport>,
    /// Scenario hooks (`[[hooks]]`), each a timed record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<StageRecord>,
    /// First fault → every critical gate passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_rto: Option<super::gates::AppRtoReport>,
}

/// Where a report came from. Never holds secrets: endpoint URLs have their
/// userinfo removed and no environment value is copied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// `user@host` of whoever ran the drill.
    pub operator: String,
    /// The scenario file exactly as it was read (its SHA-256 is in `scenario`).
    pub scenario_text: String,
    /// `real`, `emulated` or `mixed`: how the timings were measured.
    pub timing_source: String,
    /// True when URL userinfo (`user:password@`) was removed from
    /// `scenario_text`; the SHA-256 is that of the file as read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scenario_text_redacted: bool,
}

impl Provenance {
    /// `user@host` for this process: `USER` (or `LOGNAME`) and the kernel's
    /// host name. Only these two values are read, never other variables.
    pub fn operator_here() -> String {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".to_string());
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown-host".to_string());
        format!("{user}@{host}")
    }
}

impl Report {
    /// The account the drill ran in, for people: the id, or `emulator`.
    pub fn account_label(&self) -> String {
        match (&self.environment.account_id, self.environment.emulated) {
            (_, true) => "emulator".to_string(),
            (Some(id), false) => id.clone(),
            (None, false) => "unknown".to_string(),
        }
    }
}

/// Remove `user:password@` from every URL in a text (a scenario file).
/// Returns the text and whether anything was removed.
pub fn redact_userinfo(text: &str) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let end = rest
            .find(['/', '?', '#', '"', '\'', ' ', '\n', '\r', '\t'])
            .unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            out.push_str("***@");
            rest = &rest[at + 1..];
            changed = true;
        }
    }
    out.push_str(rest);
    (out, changed)
}

/// Remove `user:password@` from a URL so it can be shown.
pub fn strip_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}{tail}")
}

#[cfg(test)]
mod tests {
    use super::strip_userinfo;

    #[test]
    fn userinfo_is_stripped_from_endpoints() {
        assert_eq!(
            strip_userinfo("http://key:secret@127.0.0.1:4566/x?y"),
            "http://127.0.0.1:4566/x?y"
        );
        assert_eq!(
            strip_userinfo("http://127.0.0.1:4566"),
            "http://127.0.0.1:4566"
        );
        assert_eq!(strip_userinfo("no-scheme"), "no-scheme");
    }

    #[test]
    fn userinfo_is_redacted_from_scenario_text() {
        let text = "endpoint_url = \"http://AKIA:s3cret@10.0.0.1:4566/x\"\nrds = \"http://127.0.0.1:5001\"\n";
        let (red, changed) = super::redact_userinfo(text);
        assert!(changed);
        assert!(!red.contains("s3cret") && !red.contains("AKIA"));
        assert!(red.contains("http://***@10.0.0.1:4566/x"));
        assert_eq!(
            super::redact_userinfo("owner = \"a@b.c\""),
            ("owner = \"a@b.c\"".to_string(), false)
        );
    }
}

/// Which scenario ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub name: String,
    pub description: String,
    pub owner: String,
    pub path: String,
    pub sha256: String,
}

/// Where it ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentInfo {
    pub region: String,
    /// True when every service used was a local emulator.
    pub emulated: bool,
    /// Endpoint per service, for the services that have one.
    pub endpoints: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// One target's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetReport {
    pub name: String,
    pub kind: String,
    pub resource: String,
    pub objectives: Objectives,
    pub verdict: Verdict,
    pub stages: Vec<StageRecord>,
    pub checks: Vec<Check>,
    pub findings: Vec<Finding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto: Option<Measured>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo: Option<Measured>,
    /// Copies kept because the fault was not undone: they may be the last
    /// copy of the damaged data.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retained: Vec<RetainedCopy>,
    /// The existing recovery point restored (none: the drill took a new
    /// backup), with its age at the fault: the recovery-point RPO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_point: Option<RecoveryPointReport>,
    /// The last recovery point of this resource an earlier drill proved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_proven: Option<ProvenPoint>,
    /// `critical = false`: reported without deciding the run's verdict.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub critical: bool,
}

fn yes() -> bool {
    true
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_true(b: &bool) -> bool {
    *b
}

impl TargetReport {
    /// The record of a stage, if it ran.
    pub fn stage(&self, stage: Stage) -> Option<&StageRecord> {
        self.stages.iter().find(|s| s.stage == stage)
    }

    /// Checks that failed.
    pub fn failed_checks(&self) -> impl Iterator<Item = &Check> {
        self.checks
            .iter()
            .filter(|c| c.status == CheckStatus::Failed)
    }

    /// Findings of error severity.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }
}

/// What cleanup did across the run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupReport {
    pub complete: bool,
    pub created: usize,
    pub deleted: usize,
    /// Scratch resources that could not be deleted, with the reason.
    pub remaining: Vec<String>,
    /// Copies kept on purpose (every target's `retained`), by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retained: Vec<String>,
}
