//! From text to a validated [`Scenario`], collecting every error.
//!
//! Step one parses the TOML into a spanned tree; step two deserialises each
//! section on its own (so one bad section does not hide the next) and checks
//! what serde cannot: names, URLs, ranges, and each target's kind-specific
//! options, which its kind validates.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use firedrill_core::diagnostics::{Diagnostic, ScenarioError};
use firedrill_core::input::{HumanDuration, Spanned};
use firedrill_core::options::{COMMON_TARGET_KEYS, TargetInput, backquoted, section, unknown_key};
use firedrill_core::suggest::did_you_mean;
use firedrill_core::validate;
use firedrill_core::{Endpoints, Environment, Objectives};
use serde_spanned::Spanned as TomlSpanned;
use sha2::{Digest, Sha256};
use toml::de::{DeTable, DeValue};

use super::model::{RunSettings, Scenario, ScenarioSource, TargetSpec};
use super::raw::{RawEnvironment, RawHeader, RawRun, RawTargetCommon, TOP_LEVEL_KEYS};
use crate::targets;

/// Largest scenario file accepted; anything bigger is not a hand-written drill.
pub const MAX_SCENARIO_BYTES: usize = 4 * 1024 * 1024;

/// Most targets one scenario may name.
pub const MAX_TARGETS: usize = 10_000;

/// Read and validate a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return Err(ScenarioError::new(
                path,
                "",
                vec![Diagnostic::new(format!("cannot read the file: {e}")).help(
                    "check the path; `firedrill validate scenarios/*.toml` lists what exists",
                )],
            ));
        }
    };
    parse_bytes(path, &bytes)
}

/// Validate raw bytes (which may not be UTF-8).
pub fn parse_bytes(path: &Path, bytes: &[u8]) -> Result<Scenario, ScenarioError> {
    if bytes.len() > MAX_SCENARIO_BYTES {
        return Err(ScenarioError::new(
            path,
            "",
            vec![
                Diagnostic::new(format!(
                    "file is {} bytes, larger than the {MAX_SCENARIO_BYTES}-byte limit",
                    bytes.len()
                ))
                .help("a scenario names resources; split very large ones into several files"),
            ],
        ));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(path, text),
        Err(e) => {
            let valid = e.valid_up_to();
            let text = String::from_utf8_lossy(bytes).into_owned();
            let (line, col) = firedrill_core::diagnostics::line_col(&text, valid);
            Err(ScenarioError::new(
                path,
                &text,
                vec![
                    Diagnostic::new(format!(
                        "the file is not valid UTF-8 (byte {valid}, line {line}, column {col})"
                    ))
                    .at(valid..valid + 1)
                    .label("invalid byte")
                    .help("save the file as UTF-8"),
                ],
            ))
        }
    }
}

/// Validate scenario text.
pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let mut diags = Vec::new();
    let scenario = parse_inner(path, text, &mut diags);
    match scenario {
        Some(s) if diags.is_empty() => Ok(s),
        _ => {
            if diags.is_empty() {
                diags.push(Diagnostic::new("the scenario is invalid"));
            }
            diags.sort_by_key(|d| d.span.as_ref().map_or(0, |s| s.start));
            Err(ScenarioError::new(path, text, diags))
        }
    }
}

fn parse_inner(path: &Path, text: &str, diags: &mut Vec<Diagnostic>) -> Option<Scenario> {
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => {
            let mut d = Diagnostic::new(format!("not valid TOML: {}", e.message().trim()));
            d.span = e.span();
            d.label = Some("here".into());
            diags.push(d.help("see scenarios/quickstart.toml for a working example"));
            return None;
        }
    };
    let root_span = root.span();
    let root = root.into_inner();

    let mut header = DeTable::new();
    let mut environment = None;
    let mut objectives = None;
    let mut run = None;
    let mut targets_value = None;
    let (mut notify, mut evidence) = (Vec::new(), super::evidence::EvidenceSettings::default());
    let (mut gates_value, mut hooks_value) = (None, None);
    for (key, value) in root {
        match key.get_ref().as_ref() {
            "notify" => notify = super::notify::parse(value, diags),
            "evidence" => evidence = super::evidence::parse(value, diags),
            "environment" => environment = Some(value),
            "objectives" => objectives = Some(value),
            "run" => run = Some(value),
            "targets" => targets_value = Some(value),
            "gates" => gates_value = Some(value),
            "hooks" => hooks_value = Some(value),
            k if TOP_LEVEL_KEYS.contains(&k) => {
                header.insert(key, value);
            }
            k => diags.push(unknown_key(k, key.span(), TOP_LEVEL_KEYS)),
        }
    }

    let header: Option<RawHeader> = section(
        TomlSpanned::new(root_span.clone(), DeValue::Table(header)),
        diags,
    );
    if let Some(h) = &header {
        check_header(h, diags);
    }

    let environment = if let Some(v) = environment {
        section::<RawEnvironment>(v, diags).map(|e| validate_environment(e, diags))
    } else {
        diags.push(
            Diagnostic::new("missing `[environment]` table")
                .help("add `[environment]` with at least `region = \"us-east-1\"`"),
        );
        None
    };
    let (mut app_rto, mut proven_within) = (None, None);
    let objectives = if let Some(v) = objectives {
        parse_objectives(v, [&mut app_rto, &mut proven_within], diags)
    } else {
        diags.push(
            Diagnostic::new("missing `[objectives]` table")
                .help("add `[objectives]` with `rto = \"15m\"` and `rpo = \"5m\"`"),
        );
        None
    };
    let run = match run {
        Some(v) => section::<RawRun>(v, diags).map(|r| validate_run(r, diags)),
        None => Some(RunSettings::default()),
    };

    let targets = if let Some(v) = targets_value {
        let home = environment
            .as_ref()
            .map(|e: &Environment| e.region.as_str())
            .filter(|r| validate::is_region(r));
        parse_targets(v, (objectives, proven_within), home, diags)
    } else {
        diags.push(
            Diagnostic::new("no targets: the scenario drills nothing").help(
                "add a `[[targets]]` table with `name` and `kind` (e.g. `kind = \"s3-bucket\"`)",
            ),
        );
        Vec::new()
    };

    let (targets, gates, hooks) = super::app::parse(targets, gates_value, hooks_value, diags);

    let header = header?;
    let source = ScenarioSource {
        path: path.to_path_buf(),
        text: text.to_string(),
        sha256: hex::encode(Sha256::digest(text.as_bytes())),
    };
    Some(Scenario {
        name: header.name.into_inner(),
        description: header.description,
        owner: header.owner,
        source,
        environment: environment?,
        objectives: objectives?,
        app_rto,
        proven_within,
        run: run?,
        controls: header
            .controls
            .into_iter()
            .map(|c| {
                crate::controls::lookup(c.get_ref())
                    .map_or_else(|| c.into_inner(), |k| k.id.to_string())
            })
            .collect(),
        targets,
        notify,
        evidence,
        gates,
        hooks,
    })
}

/// The top-level scalars: the format version, the name, the controls.
fn check_header(h: &RawHeader, diags: &mut Vec<Diagnostic>) {
    if let Some(v) = &h.version
        && *v.get_ref() != 1
    {
        diags.push(
            Diagnostic::new(format!("unsupported scenario version {}", v.get_ref()))
                .at(v.span())
                .label("this firedrill reads version 1")
                .help("write `version = 1` or leave it out"),
        );
    }
    check_name(&h.name, "scenario name", diags);
    check_controls(&h.controls, diags);
}

/// `[objectives]`, one key at a time so a bad `rto` does not hide a bad `rpo`.
/// `app_rto` and `proven_within` are optional and land in `optional`.
fn parse_objectives(
    value: TomlSpanned<DeValue<'_>>,
    optional: [&mut Option<Duration>; 2],
    diags: &mut Vec<Diagnostic>,
) -> Option<Objectives> {
    let [app_rto, proven_within] = optional;
    let span = value.span();
    let DeValue::Table(table) = value.into_inner() else {
        diags.push(
            Diagnostic::new("`objectives` must be a table")
                .at(span)
                .help("write `[objectives]` with `rto = \"15m\"` and `rpo = \"5m\"`"),
        );
        return None;
    };
    let (mut rto, mut rpo) = (None, None);
    let mut bad = false;
    for (key, v) in table {
        let slot = match key.get_ref().as_ref() {
            "rto" => &mut rto,
            "rpo" => &mut rpo,
            "app_rto" => {
                *app_rto = section::<HumanDuration>(v, diags).map(|d| d.0);
                continue;
            }
            "proven_within" => {
                *proven_within = section::<HumanDuration>(v, diags).map(|d| d.0);
                continue;
            }
            k => {
                diags.push(unknown_key(
                    k,
                    key.span(),
                    &["rto", "rpo", "app_rto", "proven_within"],
                ));
                continue;
            }
        };
        *slot = section::<HumanDuration>(v, diags).map(|d| d.0);
        bad |= slot.is_none();
        // Mark the key as seen even when its value was bad.
        if slot.is_none() {
            *slot = Some(std::time::Duration::ZERO);
        }
    }
    for (name, slot, example) in [("rto", &rto, "15m"), ("rpo", &rpo, "5m")] {
        if slot.is_none() {
            diags.push(
                Diagnostic::new(format!("missing required key `{name}` in `[objectives]`"))
                    .at(span.clone())
                    .label("in this table")
                    .help(format!("add `{name} = \"{example}\"`")),
            );
        }
    }
    if bad {
        return None;
    }
    Some(Objectives {
        rto: rto?,
        rpo: rpo?,
    })
}

/// Every control id must be in the built-in catalogue.
fn check_controls(controls: &[Spanned<String>], diags: &mut Vec<Diagnostic>) {
    let known = crate::controls::ids();
    for c in controls {
        if crate::controls::lookup(c.get_ref()).is_some() {
            continue;
        }
        let d = Diagnostic::new(format!("unknown control `{}`", c.get_ref()))
            .at(c.span())
            .label("not in the control catalogue");
        diags.push(match did_you_mean(c.get_ref(), &known) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help(format!("known controls: {}", known.join(", "))),
        });
    }
}

fn check_name(name: &Spanned<String>, what: &str, diags: &mut Vec<Diagnostic>) {
    let n = name.get_ref();
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        diags.push(
            Diagnostic::new(format!("invalid {what} `{n}`"))
                .at(name.span())
                .label("not a valid name")
                .help(
                    "use 1-64 letters, digits, `-` or `_`; the name becomes part of report paths",
                ),
        );
    }
}

fn check_url(url: &Spanned<String>, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let u = url.get_ref().trim();
    let ok = (u.starts_with("http://") || u.starts_with("https://"))
        && u.split_once("://")
            .is_some_and(|(_, rest)| !rest.is_empty() && !rest.contains(' '));
    if ok {
        Some(u.trim_end_matches('/').to_string())
    } else {
        diags.push(
            Diagnostic::new(format!("invalid endpoint URL `{u}`"))
                .at(url.span())
                .label("not an http(s) URL")
                .help("write it like \"http://127.0.0.1:4566\""),
        );
        None
    }
}

fn validate_environment(raw: RawEnvironment, diags: &mut Vec<Diagnostic>) -> Environment {
    validate::region(&raw.region, diags);
    let region = raw.region.get_ref().clone();
    let mut url = |u: &Option<Spanned<String>>| u.as_ref().and_then(|u| check_url(u, diags));
    let endpoint_url = url(&raw.endpoint_url);
    let endpoints = Endpoints {
        s3: url(&raw.endpoints.s3),
        ec2: url(&raw.endpoints.ec2),
        rds: url(&raw.endpoints.rds),
        sts: url(&raw.endpoints.sts),
    };
    let mut allowed_accounts = Vec::new();
    for a in raw.allowed_accounts {
        let id = a.get_ref();
        if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
            allowed_accounts.push(id.clone());
        } else {
            diags.push(
                Diagnostic::new(format!("invalid AWS account id `{id}`"))
                    .at(a.span())
                    .label("not a 12-digit account id")
                    .help("write account ids as 12-digit strings, e.g. \"123456789012\""),
            );
        }
    }
    let api_quota_percent = raw.api_quota_percent.and_then(|p| {
        if let Ok(n @ 1..=100) = u8::try_from(*p.get_ref()) {
            return Some(n);
        }
        diags.push(
            Diagnostic::new(format!("`api_quota_percent` is {}", p.get_ref()))
                .at(p.span())
                .label("out of range")
                .help("use a percent from 1 to 100 of the account's API request quotas"),
        );
        None
    });
    Environment {
        region,
        profile: raw.profile,
        endpoint_url,
        endpoints,
        allowed_accounts,
        api_quota_percent,
    }
}

fn validate_run(raw: RawRun, diags: &mut Vec<Diagnostic>) -> RunSettings {
    let defaults = RunSettings::default();
    let max_concurrency = match raw.max_concurrency {
        Some(n) if *n.get_ref() == 0 || *n.get_ref() > 1024 => {
            diags.push(
                Diagnostic::new(format!("`max_concurrency` is {}", n.get_ref()))
                    .at(n.span())
                    .label("out of range")
                    .help("use a number from 1 to 1024"),
            );
            defaults.max_concurrency
        }
        Some(n) => usize::try_from(*n.get_ref()).unwrap_or(defaults.max_concurrency),
        None => defaults.max_concurrency,
    };
    let regression_threshold = match raw.regression_threshold {
        Some(t) if !(t.get_ref().is_finite() && *t.get_ref() > 0.0 && *t.get_ref() <= 100.0) => {
            diags.push(
                Diagnostic::new(format!("`regression_threshold` is {}", t.get_ref()))
                    .at(t.span())
                    .label("out of range")
                    .help("use a share above 0, e.g. 0.5 to warn when RTO grows by more than 50%"),
            );
            defaults.regression_threshold
        }
        Some(t) => *t.get_ref(),
        None => defaults.regression_threshold,
    };
    let outage = match &raw.mode {
        None => false,
        Some(m) if m.get_ref() == "independent" => false,
        Some(m) if m.get_ref() == "outage" => true,
        Some(m) => {
            let d = Diagnostic::new(format!("unknown run mode `{}`", m.get_ref()))
                .at(m.span())
                .label("not a run mode");
            diags.push(match did_you_mean(m.get_ref(), &["independent", "outage"]) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help("use `independent` (each target on its own) or `outage` (every fault at one instant)"),
            });
            false
        }
    };
    RunSettings {
        outage,
        regression_threshold,
        max_duration: raw.max_duration.map(|d| d.0),
        max_concurrency,
        scratch_ttl: raw.scratch_ttl.map_or(defaults.scratch_ttl, |d| d.0),
        stage_timeout: raw.stage_timeout.map_or(defaults.stage_timeout, |d| d.0),
        abort_on_failure: raw.abort_on_failure.unwrap_or(false),
    }
}

fn parse_targets(
    value: TomlSpanned<DeValue<'_>>,
    (objectives, proven_within): (Option<Objectives>, Option<Duration>),
    home_region: Option<&str>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(TargetSpec, Vec<super::hooks::RawHook>)> {
    let span = value.span();
    let DeValue::Array(items) = value.into_inner() else {
        diags.push(
            Diagnostic::new("`targets` must be a list of tables")
                .at(span)
                .label("not a list")
                .help("write each target as a `[[targets]]` table"),
        );
        return Vec::new();
    };
    if items.is_empty() {
        diags.push(
            Diagnostic::new("no targets: the scenario drills nothing")
                .at(span.clone())
                .help("add a `[[targets]]` table with `name` and `kind`"),
        );
    }
    if items.len() > MAX_TARGETS {
        diags.push(
            Diagnostic::new(format!(
                "{} targets is more than the limit of {MAX_TARGETS}",
                items.len()
            ))
            .at(span)
            .help("split the drill into several scenarios"),
        );
        return Vec::new();
    }
    let fallback = objectives.unwrap_or(Objectives {
        rto: Duration::from_hours(1),
        rpo: Duration::from_hours(1),
    });
    let mut names = BTreeSet::new();
    let mut declared = Vec::new();
    let mut out = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let shared = Shared {
            index,
            fallback,
            proven_within,
            home_region,
        };
        if let Some(t) = parse_target(item, &shared, &mut names, &mut declared, diags) {
            out.push(t);
        }
    }
    super::depends::check(&declared, diags);
    out
}

/// What every target of the scenario is parsed with.
struct Shared<'a> {
    index: usize,
    /// The scenario's objectives, for targets without their own.
    fallback: Objectives,
    proven_within: Option<Duration>,
    home_region: Option<&'a str>,
}

/// One `[[targets]]` table: the common keys here, the rest by its kind.
fn parse_target(
    item: TomlSpanned<DeValue<'_>>,
    shared: &Shared<'_>,
    names: &mut BTreeSet<String>,
    declared: &mut Vec<super::depends::Declared>,
    diags: &mut Vec<Diagnostic>,
) -> Option<(TargetSpec, Vec<super::hooks::RawHook>)> {
    let item_span = item.span();
    let DeValue::Table(table) = item.into_inner() else {
        diags.push(
            Diagnostic::new("each target must be a table")
                .at(item_span)
                .help("write each target as a `[[targets]]` table"),
        );
        return None;
    };
    let mut common = DeTable::new();
    let mut rest = DeTable::new();
    for (k, v) in table {
        if COMMON_TARGET_KEYS.contains(&k.get_ref().as_ref()) {
            common.insert(k, v);
        } else {
            rest.insert(k, v);
        }
    }
    let common = section::<RawTargetCommon>(
        TomlSpanned::new(item_span.clone(), DeValue::Table(common)),
        diags,
    )?;
    check_name(&common.name, "target name", diags);
    if !names.insert(common.name.get_ref().clone()) {
        diags.push(
            Diagnostic::new(format!("duplicate target name `{}`", common.name.get_ref()))
                .at(common.name.span())
                .label("used twice")
                .help("give every target its own name; reports and scratch resources use it"),
        );
    }
    let depends_on: Vec<String> = common
        .depends_on
        .iter()
        .map(|d| d.get_ref().clone())
        .collect();
    declared.push(super::depends::Declared {
        name: common.name.get_ref().clone(),
        depends_on: common.depends_on,
    });
    let kind = kind_of(&common.kind, diags)?;
    let select = super::select::take(&mut rest, kind.name, shared.index, diags);
    let own = common.objectives.as_ref();
    let objectives = Objectives {
        rto: own.and_then(|o| o.rto).map_or(shared.fallback.rto, |d| d.0),
        rpo: own.and_then(|o| o.rpo).map_or(shared.fallback.rpo, |d| d.0),
    };
    let proven_within = own
        .and_then(|o| o.proven_within)
        .map(|d| d.0)
        .or(shared.proven_within);
    let input = TargetInput {
        name: common.name.get_ref(),
        index: shared.index,
        home_region: shared.home_region,
        table: TomlSpanned::new(item_span, DeValue::Table(rest)),
    };
    let target = (kind.parse)(input, diags)?;
    Some((
        TargetSpec {
            name: common.name.into_inner(),
            kind: kind.name,
            objectives,
            proven_within,
            depends_on,
            critical: common.critical.unwrap_or(true),
            hooks: Vec::new(),
            target,
            select,
        },
        common.hooks,
    ))
}

/// The registered kind a target names, or an "unknown kind" diagnostic.
fn kind_of(
    name: &Spanned<String>,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'static targets::KindSpec> {
    let kind_name = name.get_ref().as_str();
    let kind = targets::kind(kind_name);
    if kind.is_none() {
        let names: Vec<&str> = targets::REGISTRY.iter().map(|k| k.name).collect();
        let d = Diagnostic::new(format!("unknown target kind `{kind_name}`"))
            .at(name.span())
            .label("unknown kind");
        diags.push(match did_you_mean(kind_name, &names) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help(format!("known kinds: {}", backquoted(&names))),
        });
    }
    kind
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const VALID: &str = r#"name = "p"
[environment]
region = "us-east-1"
endpoint_url = "http://127.0.0.1:4566"
[objectives]
rto = "5m"
rpo = "30s"
[[targets]]
name = "t"
kind = "s3-bucket"
bucket = "some-bucket"
[targets.fault]
action = "delete-share"
share = 0.5
"#;

    fn check_spans(text: &str, result: Result<Scenario, ScenarioError>) {
        if let Err(e) = result {
            assert!(!e.diagnostics.is_empty());
            for d in &e.diagnostics {
                if let Some(s) = &d.span {
                    assert!(
                        s.start <= s.end && s.end <= text.len().max(s.start),
                        "{s:?} outside {}",
                        text.len()
                    );
                }
            }
            let _ = e.render();
        }
    }

    #[test]
    fn the_valid_example_parses() {
        let s = parse(Path::new("p.toml"), VALID).unwrap();
        assert_eq!(s.targets.len(), 1);
        assert_eq!(s.objectives.rpo, Duration::from_secs(30));
        assert!(s.environment.is_emulated(firedrill_core::Service::S3));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,400}") {
            check_spans(&text, parse(Path::new("x.toml"), &text));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let r = parse_bytes(Path::new("x.toml"), &bytes);
            if let Err(e) = &r {
                let _ = e.render();
            }
        }

        #[test]
        fn mutated_scenarios_never_panic(at in 0usize..VALID.len(), cut in 0usize..20, insert in "[ -~\n]{0,12}") {
            let mut text = VALID.to_string();
            let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            let end = (at + cut).min(text.len());
            let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
            text.replace_range(at..end, &insert);
            check_spans(&text, parse(Path::new("x.toml"), &text));
        }

        #[test]
        fn valid_durations_round_trip(secs in 1u64..86_400 * 30) {
            let text = VALID.replace("rto = \"5m\"", &format!("rto = \"{}\"", humantime::format_duration(Duration::from_secs(secs))));
            let s = parse(Path::new("x.toml"), &text).unwrap();
            prop_assert_eq!(s.objectives.rto, Duration::from_secs(secs));
        }
    }

    /// One region validator for `[environment] region` and every kind's
    /// `dr_region`: the same strings pass and fail everywhere.
    #[test]
    fn one_region_rule_for_the_environment_and_every_dr_region() {
        let table = [
            ("us-west-2", true),
            ("eu-central-2", true),
            ("ap-southeast-4", true),
            ("us-gov-west-1", true),
            ("us-west", false),
            ("US-west-2", false),
            ("us-west-2a", false),
            ("local", false),
            ("us--west-2", false),
            ("us-west-2 ", false),
            ("", false),
        ];
        let kinds = [
            ("ec2-instance", "instance_id = \"i-12345678\"", "restore"),
            ("ebs-volume", "volume_id = \"vol-12345678\"", "restore"),
            ("rds-instance", "instance = \"orders\"", "restore"),
            ("rds-cluster", "cluster = \"orders\"", "restore"),
        ];
        let head = |region: &str| {
            format!(
                "name = \"r\"\n[environment]\nregion = \"{region}\"\n[objectives]\nrto = \"5m\"\nrpo = \"5m\"\n"
            )
        };
        let invalid = |text: &str| match parse(Path::new("r.toml"), text) {
            Ok(_) => false,
            Err(e) => {
                let regions: Vec<_> = e
                    .diagnostics
                    .iter()
                    .filter(|d| d.message.starts_with("invalid region"))
                    .collect();
                assert_eq!(regions.len(), e.diagnostics.len(), "{}", e.render());
                true
            }
        };
        for (region, valid) in table {
            let env = format!(
                "{}[[targets]]\nname = \"t\"\nkind = \"s3-bucket\"\nbucket = \"some-bucket\"\n",
                head(region)
            );
            assert_eq!(invalid(&env), !valid, "environment region `{region}`");
            for (kind, id, table_name) in kinds {
                let text = format!(
                    "{}[[targets]]\nname = \"t\"\nkind = \"{kind}\"\n{id}\n[targets.{table_name}]\ndr_region = \"{region}\"\n",
                    head("eu-west-1")
                );
                assert_eq!(invalid(&text), !valid, "{kind} dr_region `{region}`");
            }
        }
    }

    #[test]
    fn a_dr_region_must_differ_from_the_scenario_region() {
        let text = "name = \"r\"\n[environment]\nregion = \"eu-west-1\"\n[objectives]\nrto = \"5m\"\nrpo = \"5m\"\n[[targets]]\nname = \"t\"\nkind = \"ebs-volume\"\nvolume_id = \"vol-12345678\"\n[targets.restore]\ndr_region = \"eu-west-1\"\n";
        let e = parse(Path::new("r.toml"), text).unwrap_err();
        assert!(
            e.diagnostics[0]
                .message
                .contains("the scenario's own region"),
            "{}",
            e.render()
        );
    }

    #[test]
    fn proven_within_is_scenario_wide_or_per_target() {
        let text = VALID
            .replace(
                "rpo = \"30s\"\n",
                "rpo = \"30s\"\nproven_within = \"30d\"\n",
            )
            .replace(
                "bucket = \"some-bucket\"\n",
                "bucket = \"some-bucket\"\n[targets.objectives]\nproven_within = \"7d\"\n",
            );
        let s = parse(Path::new("p.toml"), &text).unwrap();
        assert_eq!(s.proven_within, Some(Duration::from_hours(30 * 24)));
        assert_eq!(
            s.targets[0].proven_within,
            Some(Duration::from_hours(7 * 24))
        );
        let inherited = VALID.replace(
            "rpo = \"30s\"\n",
            "rpo = \"30s\"\nproven_within = \"30d\"\n",
        );
        let s = parse(Path::new("p.toml"), &inherited).unwrap();
        assert_eq!(s.targets[0].proven_within, s.proven_within);
        assert_eq!(
            parse(Path::new("p.toml"), VALID).unwrap().proven_within,
            None
        );
    }

    #[test]
    fn a_bad_proven_within_is_located() {
        // (value, message fragment)
        let table = [
            ("\"0s\"", "must be greater than zero"),
            ("\"soon\"", "invalid duration \"soon\""),
            ("\"2000d\"", "longer than a year"),
            ("90", "a bare number has no unit"),
        ];
        for (value, want) in table {
            let line = format!("proven_within = {value}");
            let text = VALID.replace("rpo = \"30s\"\n", &format!("rpo = \"30s\"\n{line}\n"));
            let e = parse(Path::new("p.toml"), &text).unwrap_err();
            let d = &e.diagnostics[0];
            assert!(d.message.contains(want), "{value}: {}", e.render());
            let span = d.span.clone().expect("a span");
            let at = text.find(&line).unwrap() + "proven_within = ".len();
            assert_eq!(span.start, at, "{value}: {}", e.render());
        }
    }

    #[test]
    fn api_quota_percent_must_be_a_percent() {
        for bad in ["0", "101", "100000"] {
            let text = VALID.replace(
                "region = \"us-east-1\"",
                &format!("region = \"us-east-1\"\napi_quota_percent = {bad}"),
            );
            let e = parse(Path::new("q.toml"), &text).unwrap_err();
            assert_eq!(
                e.diagnostics[0].message,
                format!("`api_quota_percent` is {bad}")
            );
        }
        let text = VALID.replace(
            "region = \"us-east-1\"",
            "region = \"us-east-1\"\napi_quota_percent = 25",
        );
        assert_eq!(
            parse(Path::new("q.toml"), &text)
                .unwrap()
                .environment
                .api_quota_percent,
            Some(25)
        );
    }

    #[test]
    fn huge_files_are_refused_without_parsing() {
        let big = vec![b'#'; MAX_SCENARIO_BYTES + 1];
        let e = parse_bytes(Path::new("big.toml"), &big).unwrap_err();
        assert!(e.diagnostics[0].message.contains("larger than"));
    }
}
