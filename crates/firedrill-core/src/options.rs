//! A target kind's keys, as the scenario hands them over: the kind's table
//! with the common keys removed, and one way for every kind to deserialise
//! it into its raw options, turning serde's complaints into diagnostics.

use std::ops::Range;

use serde::de::{DeserializeOwned, IntoDeserializer};
use serde_spanned::Spanned;
use toml::de::DeValue;

use crate::diagnostics::Diagnostic;
use crate::suggest::did_you_mean;

/// Keys every target table has, whatever its kind.
pub const COMMON_TARGET_KEYS: &[&str] = &[
    "name",
    "kind",
    "objectives",
    "depends_on",
    "critical",
    "hooks",
];

/// A kind's keys from one `[[targets]]` table, common keys removed.
pub struct TargetInput<'a> {
    pub name: &'a str,
    pub index: usize,
    /// The scenario's region, when valid: a `dr_region` must differ from it.
    pub home_region: Option<&'a str>,
    pub table: Spanned<DeValue<'a>>,
}

/// Deserialise one section of the file on its own, so that one bad section
/// does not hide the next.
pub fn section<T: DeserializeOwned>(
    value: Spanned<DeValue<'_>>,
    diags: &mut Vec<Diagnostic>,
) -> Option<T> {
    match T::deserialize(value.into_deserializer()) {
        Ok(v) => Some(v),
        Err(e) => {
            diags.push(Diagnostic::from_toml(&e));
            None
        }
    }
}

/// Deserialise a kind's own keys, turning serde errors into diagnostics
/// that name the target.
pub fn deserialize_kind_options<T: DeserializeOwned>(
    input: TargetInput<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<T> {
    let before = diags.len();
    let out = section::<T>(input.table, diags);
    // An unknown key in a target could also be a misspelt common key.
    for d in &mut diags[before..] {
        if d.message.starts_with("unknown key")
            && d.help
                .as_deref()
                .is_some_and(|h| !h.starts_with("did you mean"))
            && let Some(key) = d.message.split('`').nth(1)
            && let Some(s) = did_you_mean(key, COMMON_TARGET_KEYS)
        {
            d.help = Some(format!("did you mean `{s}`?"));
        }
        d.message = format!("{} in target `{}`", d.message, input.name);
    }
    out
}

/// "unknown key" with a did-you-mean or the list of known keys.
pub fn unknown_key(key: &str, span: Range<usize>, known: &[&str]) -> Diagnostic {
    let d = Diagnostic::new(format!("unknown key `{key}`"))
        .at(span)
        .label("unknown key");
    match did_you_mean(key, known) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help(format!("expected one of {}", backquoted(known))),
    }
}

/// `` `a`, `b`, `c` ``: choices as a message lists them.
pub fn backquoted(items: &[&str]) -> String {
    items
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `[targets.canary]`, for kinds whose canaries need nothing more.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCanary {
    /// Write canaries at all (default true).
    pub enabled: Option<bool>,
    /// Time between canary writes (default "1s").
    pub interval: Option<crate::input::HumanDuration>,
    /// Canaries written after the backup, before the fault (default 1).
    pub writes_after_backup: Option<crate::input::Spanned<u32>>,
}

/// `[targets.fault]` for kinds whose faults take an action and say how it
/// is undone.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFaultAction {
    /// What the fault does; the kind lists the actions it knows.
    pub action: crate::input::Spanned<String>,
    /// Undo the fault after validation (default true) where it can be
    /// undone: start what was stopped, attach what was detached.
    pub revert: Option<crate::input::Spanned<bool>>,
    /// For a fault that destroys the resource: restore it under its own
    /// name from the backup, as the revert stage (default false: the backup
    /// is retained instead).
    pub restore_source: Option<crate::input::Spanned<bool>>,
}

impl RawFaultAction {
    /// Push "does not apply" for `revert` and `restore_source` when the
    /// action takes neither (`takes_revert`, `takes_restore`).
    pub fn check_undo_keys(
        &self,
        takes_revert: bool,
        takes_restore: bool,
        diags: &mut Vec<Diagnostic>,
    ) {
        let action = self.action.get_ref();
        if !takes_revert && let Some(r) = &self.revert {
            diags.push(crate::validate::misplaced("revert", r.span(), action));
        }
        if !takes_restore && let Some(r) = &self.restore_source {
            diags.push(crate::validate::misplaced(
                "restore_source",
                r.span(),
                action,
            ));
        }
    }

    pub fn revert(&self) -> bool {
        self.revert.as_ref().is_none_or(|r| *r.get_ref())
    }

    pub fn restore_source(&self) -> bool {
        self.restore_source.as_ref().is_some_and(|r| *r.get_ref())
    }
}
