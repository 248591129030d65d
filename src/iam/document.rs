//! The IAM policy grammar: `Version`, and `Statement`s with `Sid`,
//! `Effect`, `Action`, `Resource` (or `NotResource`) and `Condition`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The only policy language version IAM accepts for conditions with tags.
pub const VERSION: &str = "2012-10-17";

/// An IAM policy document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PolicyDocument {
    pub version: String,
    pub statement: Vec<Statement>,
}

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// `{"StringLike": {"aws:RequestTag/firedrill:run-id": ["?*"]}}`: operator →
/// condition key → values.
pub type Condition = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// One statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Statement {
    pub sid: String,
    pub effect: Effect,
    pub action: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_resource: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub condition: Condition,
}

impl PolicyDocument {
    /// Pretty JSON, one newline at the end.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// The size IAM counts against its quotas (6,144 characters for a
    /// managed policy): the JSON without whitespace.
    pub fn compact_size(&self) -> usize {
        serde_json::to_string(self).map_or(0, |s| s.len())
    }
}

/// One condition: `operator` → `key` → `values`.
pub fn condition(op: &str, key: &str, values: &[&str]) -> Condition {
    let mut c = Condition::new();
    c.entry(op.to_string()).or_default().insert(
        key.to_string(),
        values.iter().map(|v| (*v).to_string()).collect(),
    );
    c
}

/// Both conditions (IAM ands every key of every operator).
pub fn and(mut a: Condition, b: Condition) -> Condition {
    for (op, keys) in b {
        a.entry(op).or_default().extend(keys);
    }
    a
}
