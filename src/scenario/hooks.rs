//! Hooks: commands run at fixed points of a drill, per target
//! (`[[targets.hooks]]`) or for the whole scenario (`[[hooks]]`), each a
//! timed stage with a timeout. A failing hook fails the drill with its
//! output. Arguments and environment are templates, like a gate's.

use std::collections::BTreeMap;
use std::time::Duration;

use firedrill_core::diagnostics::Diagnostic;
use firedrill_core::input::{HumanDuration, Spanned};
use firedrill_core::options::section;
use firedrill_core::suggest::did_you_mean;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_spanned::Spanned as TomlSpanned;
use toml::de::DeValue;

use super::template::{self, Referable, Template};

/// Default time a hook may run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_mins(1);

/// `[[hooks]]` or `[[targets.hooks]]` as written.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHook {
    /// `before_fault`, `after_restore`, `after_validate` or `before_cleanup`.
    pub when: Spanned<String>,
    pub program: Spanned<String>,
    #[serde(default)]
    pub args: Vec<Spanned<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
    /// Killed past this (default 1m).
    pub timeout: Option<HumanDuration>,
}

/// Where a hook runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookPoint {
    /// Per target: before its fault. Scenario: before any target's drill.
    BeforeFault,
    /// Per target: after its restore. Scenario: once every target is recovered.
    AfterRestore,
    /// Per target: after its validation, before its dependants and gates
    /// start. Scenario: once every target is recovered, before the gates.
    AfterValidate,
    /// Per target: before its revert and cleanup. Scenario: after the gates,
    /// before any cleanup.
    BeforeCleanup,
}

impl HookPoint {
    pub const ALL: [Self; 4] = [
        Self::BeforeFault,
        Self::AfterRestore,
        Self::AfterValidate,
        Self::BeforeCleanup,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BeforeFault => "before_fault",
            Self::AfterRestore => "after_restore",
            Self::AfterValidate => "after_validate",
            Self::BeforeCleanup => "before_cleanup",
        }
    }
}

/// A validated hook.
#[derive(Clone, Debug)]
pub struct HookSpec {
    pub when: HookPoint,
    pub program: Template,
    pub args: Vec<Template>,
    pub env: Vec<(String, Template)>,
    pub timeout: Duration,
}

/// Parse the scenario's `[[hooks]]`.
pub fn parse_list(value: TomlSpanned<DeValue<'_>>, diags: &mut Vec<Diagnostic>) -> Vec<RawHook> {
    section::<Vec<RawHook>>(value, diags).unwrap_or_default()
}

/// Validate hooks against the targets their templates may name.
pub fn validate(
    raw: &[RawHook],
    targets: &[Referable],
    diags: &mut Vec<Diagnostic>,
) -> Vec<HookSpec> {
    raw.iter().filter_map(|h| hook(h, targets, diags)).collect()
}

fn hook(raw: &RawHook, targets: &[Referable], diags: &mut Vec<Diagnostic>) -> Option<HookSpec> {
    let when = HookPoint::ALL
        .into_iter()
        .find(|p| p.as_str() == raw.when.get_ref());
    if when.is_none() {
        let names: Vec<&str> = HookPoint::ALL.iter().map(|p| p.as_str()).collect();
        let d = Diagnostic::new(format!("unknown hook point `{}`", raw.when.get_ref()))
            .at(raw.when.span())
            .label("not a hook point");
        diags.push(match did_you_mean(raw.when.get_ref(), &names) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help(format!("hook points: {}", names.join(", "))),
        });
    }
    let program = template::parse(&raw.program, targets, diags);
    let args: Option<Vec<Template>> = raw
        .args
        .iter()
        .map(|a| template::parse(a, targets, diags))
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    let env: Option<Vec<(String, Template)>> = raw
        .env
        .iter()
        .map(|(k, v)| Some((k.clone(), template::parse(v, targets, diags)?)))
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    let timeout = raw.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0);
    if timeout.is_zero() {
        diags.push(
            Diagnostic::new("a hook's `timeout` must be above zero")
                .at(raw.when.span())
                .help("e.g. `timeout = \"30s\"`"),
        );
        return None;
    }
    Some(HookSpec {
        when: when?,
        program: program?,
        args: args?,
        env: env?,
        timeout,
    })
}
