//! The application part of a scenario: gates and hooks, validated once
//! every target is parsed (their templates may name any target).

use firedrill_core::diagnostics::Diagnostic;
use serde_spanned::Spanned as TomlSpanned;
use toml::de::DeValue;

use super::TargetSpec;
use super::gates::{self, GateSpec};
use super::hooks::{self, HookSpec, RawHook};

/// The targets with their hooks, the scenario's gates and hooks.
pub fn parse(
    mut targets: Vec<(TargetSpec, Vec<RawHook>)>,
    gates_value: Option<TomlSpanned<DeValue<'_>>>,
    hooks_value: Option<TomlSpanned<DeValue<'_>>>,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<TargetSpec>, Vec<GateSpec>, Vec<HookSpec>) {
    let referable = gates::referable(targets.iter().map(|(t, _)| t));
    let gates = gates_value.map_or_else(Vec::new, |v| gates::parse(v, &referable, diags));
    let named: Vec<_> = referable.into_iter().map(|r| r.referable).collect();
    let hooks = hooks_value.map_or_else(Vec::new, |v| {
        hooks::validate(&hooks::parse_list(v, diags), &named, diags)
    });
    for (t, raw) in &mut targets {
        t.hooks = hooks::validate(raw, &named, diags);
    }
    (targets.into_iter().map(|(t, _)| t).collect(), gates, hooks)
}
