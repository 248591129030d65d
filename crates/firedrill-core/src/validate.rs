//! The validators every target kind shares, written once: a value from a
//! fixed set, AWS region and zone names, S3 bucket names, EC2 ids, RDS
//! identifiers and canary settings. Each pushes a diagnostic pointing at the
//! value, with a fix, and never stops at the first error.

use std::time::Duration;

use crate::canary::CanaryPlan;
use crate::diagnostics::Diagnostic;
use crate::input::{HumanDuration, Spanned, clip};
use crate::options::{RawCanary, backquoted};
use crate::suggest::did_you_mean;

/// Push "unknown X" with a did-you-mean or the list of choices.
pub fn one_of(value: &Spanned<String>, what: &str, allowed: &[&str], diags: &mut Vec<Diagnostic>) {
    let v = value.get_ref();
    let d = Diagnostic::new(format!("unknown {what} `{}`", clip(v)))
        .at(value.span())
        .label(format!("unknown {what}"));
    diags.push(match did_you_mean(v, allowed) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help(format!("expected one of {}", backquoted(allowed))),
    });
}

/// "`key` does not apply to fault `action`": a key the chosen action ignores.
pub fn misplaced(key: &str, span: std::ops::Range<usize>, action: &str) -> Diagnostic {
    Diagnostic::new(format!("`{key}` does not apply to fault `{action}`"))
        .at(span)
        .label("not used by this action")
        .help(format!("remove `{key}`, or use an action that takes it"))
}

/// Whether `r` is an AWS region name: lowercase words joined by `-`, then a
/// number (`us-east-1`, `ap-southeast-4`, `us-gov-west-1`).
pub fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Check a region name, for `[environment] region` and every kind's
/// `dr_region` alike.
pub fn region(value: &Spanned<String>, diags: &mut Vec<Diagnostic>) -> bool {
    let ok = is_region(value.get_ref());
    if !ok {
        diags.push(
            Diagnostic::new(format!("invalid region `{}`", clip(value.get_ref())))
                .at(value.span())
                .label("not an AWS region name")
                .help("write a region name such as `us-west-2`"),
        );
    }
    ok
}

/// Check a disaster-recovery region: a region, and not the scenario's own
/// (`home`), where a copy would prove nothing about losing that region.
pub fn dr_region(value: &Spanned<String>, home: Option<&str>, diags: &mut Vec<Diagnostic>) {
    if region(value, diags) && home == Some(value.get_ref().as_str()) {
        diags.push(
            Diagnostic::new(format!(
                "`dr_region` is `{}`, the scenario's own region",
                value.get_ref()
            ))
            .at(value.span())
            .label("same region as the source")
            .help("name another region, or remove `dr_region` to restore in place"),
        );
    }
}

/// Check an availability zone name: a region and a letter (`us-east-1b`).
pub fn zone(value: &Spanned<String>, diags: &mut Vec<Diagnostic>) {
    let z = value.get_ref();
    let ok = z.len() > 1
        && z.as_bytes().last().is_some_and(u8::is_ascii_lowercase)
        && z.is_char_boundary(z.len() - 1)
        && is_region(&z[..z.len() - 1]);
    if !ok {
        diags.push(
            Diagnostic::new(format!("invalid availability zone `{}`", clip(z)))
                .at(value.span())
                .label("not an availability zone")
                .help("write a zone name such as `us-east-1b`"),
        );
    }
}

/// Check a bucket name against S3's rules.
pub fn bucket_name(name: &Spanned<String>, diags: &mut Vec<Diagnostic>) {
    let n = name.get_ref();
    let ok = (3..=63).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && n.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && n.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
    if !ok {
        diags.push(
            Diagnostic::new(format!("invalid bucket name `{}`", clip(n)))
                .at(name.span())
                .label("not a valid S3 bucket name")
                .help("bucket names are 3-63 lowercase letters, digits, `-` or `.`, starting and ending with a letter or digit"),
        );
    }
}

/// Whether `id` is `<prefix>-` followed by 8 or 17 lowercase hex digits.
pub fn is_ec2_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            (hex.len() == 8 || hex.len() == 17)
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// Check an EC2 id (`i`, `vol`, `subnet`, `sg`).
pub fn ec2_id(value: &Spanned<String>, prefix: &str, what: &str, diags: &mut Vec<Diagnostic>) {
    if !is_ec2_id(value.get_ref(), prefix) {
        diags.push(
            Diagnostic::new(format!("invalid {what} `{}`", clip(value.get_ref())))
                .at(value.span())
                .label(format!("not a valid {what}"))
                .help(format!(
                    "{what}s look like `{prefix}-0123456789abcdef0`: `{prefix}-` and 8 or 17 lowercase hex digits"
                )),
        );
    }
}

/// Check a DB instance or cluster identifier against RDS's rules.
pub fn db_identifier(name: &Spanned<String>, what: &str, diags: &mut Vec<Diagnostic>) {
    let n = name.get_ref();
    let ok = (1..=63).contains(&n.len())
        && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && n.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && !n.ends_with('-')
        && !n.contains("--");
    if !ok {
        diags.push(
            Diagnostic::new(format!("invalid DB {what} identifier `{}`", clip(n)))
                .at(name.span())
                .label(format!("not a valid DB {what} identifier"))
                .help("identifiers are 1-63 letters, digits or hyphens, start with a letter, and have no trailing or double hyphen"),
        );
    }
}

/// The canary settings every kind with canaries takes: `None` when
/// disabled, else the interval (default 1 s) and the writes after the
/// backup (default 1, at most 1000).
pub fn canary_plan(raw: &RawCanary, diags: &mut Vec<Diagnostic>) -> Option<CanaryPlan> {
    canary_settings(
        raw.enabled,
        raw.interval,
        raw.writes_after_backup.as_ref(),
        diags,
    )
}

/// [`canary_plan`] from the keys themselves, for kinds whose canary table
/// has keys of its own.
pub fn canary_settings(
    enabled: Option<bool>,
    interval: Option<HumanDuration>,
    writes_after_backup: Option<&Spanned<u32>>,
    diags: &mut Vec<Diagnostic>,
) -> Option<CanaryPlan> {
    if !enabled.unwrap_or(true) {
        return None;
    }
    let writes_after_backup = match writes_after_backup {
        Some(n) if *n.get_ref() > 1000 => {
            diags.push(
                Diagnostic::new(format!("`writes_after_backup` is {}", n.get_ref()))
                    .at(n.span())
                    .help("use at most 1000; each write waits one interval"),
            );
            1
        }
        Some(n) => *n.get_ref(),
        None => 1,
    };
    Some(CanaryPlan {
        interval: interval.map_or(Duration::from_secs(1), |d| d.0),
        writes_after_backup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names() {
        for ok in [
            "us-west-2",
            "ap-southeast-1",
            "us-gov-west-1",
            "eu-central-2",
            "us-isob-east-1",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "us-west",
            "US-west-2",
            "us-west-2a",
            "local",
            "us-east-",
            "-east-1",
            "us--east-1",
            "eu-west-1 ",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    #[test]
    fn ec2_ids_need_prefix_and_8_or_17_hex_digits() {
        assert!(is_ec2_id("i-0123456789abcdef0", "i"));
        assert!(is_ec2_id("i-12345678", "i"));
        assert!(!is_ec2_id("i-0123456789ABCDEF0", "i"));
        assert!(!is_ec2_id("i-123", "i"));
        assert!(!is_ec2_id("vol-12345678", "i"));
        assert!(!is_ec2_id("i12345678", "i"));
        assert!(is_ec2_id("sg-12345678", "sg"));
    }
}
