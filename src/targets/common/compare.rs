//! Comparing a restored copy with its source, shared by every kind that
//! checks configuration: which tags count, how they read, and how a check
//! made against an emulator is marked.

use std::collections::BTreeMap;

use firedrill_core::{Check, CheckStatus, Finding};

/// Tags a person set: firedrill's own and AWS-reserved keys left out.
pub fn user_tags<'a>(
    tags: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> BTreeMap<String, String> {
    tags.into_iter()
        .filter(|(k, _)| !k.starts_with("firedrill:") && !k.starts_with("aws:"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Tags for people: `env=prod, team=data`, or `(none)`.
pub fn tags_text(tags: &BTreeMap<String, String>) -> String {
    if tags.is_empty() {
        "(none)".to_string()
    } else {
        tags.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Mark a passed check as emulator-only evidence.
pub fn mark_emulated(mut c: Check, emulated: bool) -> Check {
    if emulated && c.status == CheckStatus::Passed {
        c.status = CheckStatus::Emulated;
        c.detail.push_str(" (emulator)");
    }
    c
}

/// Field checks of a restored copy: each failed one also becomes an error
/// finding `<prefix>.<slug>-mismatch` reading "<differs>: <field>: <detail>";
/// passed ones are marked when the service is emulated.
pub fn field_checks(
    fields: Vec<(&str, Check)>,
    prefix: &str,
    differs: &str,
    emulated: bool,
    findings: &mut Vec<Finding>,
) -> Vec<Check> {
    fields
        .into_iter()
        .map(|(slug, c)| {
            if c.status == CheckStatus::Failed {
                findings.push(Finding::error(
                    &format!("{prefix}.{slug}-mismatch"),
                    format!("{differs}: {}: {}", c.name, c.detail),
                ));
            }
            mark_emulated(c, emulated)
        })
        .collect()
}
