//! Validation checks: what was compared, and whether it matched.

use serde::{Deserialize, Serialize};

/// Outcome of one validation check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    Passed,
    Failed,
    /// Could not be checked (e.g. no database behind an emulated endpoint).
    /// Never counts as passed.
    NotVerified,
    /// Checked against an emulator only; not evidence about real AWS.
    Emulated,
}

/// One validation check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub status: CheckStatus,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
}

impl Check {
    pub fn new(name: impl Into<String>, status: CheckStatus, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            status,
            detail: detail.into(),
            expected: None,
            actual: None,
        }
    }

    /// A check comparing an expected and an actual value.
    pub fn compare(
        name: impl Into<String>,
        expected: impl ToString,
        actual: impl ToString,
    ) -> Self {
        let (expected, actual) = (expected.to_string(), actual.to_string());
        let status = if expected == actual {
            CheckStatus::Passed
        } else {
            CheckStatus::Failed
        };
        let detail = if status == CheckStatus::Passed {
            format!("{actual} as expected")
        } else {
            format!("expected {expected}, found {actual}")
        };
        Self {
            name: name.into(),
            status,
            detail,
            expected: Some(expected),
            actual: Some(actual),
        }
    }
}
