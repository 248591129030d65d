//! `[[gates]]`: checks of the recovered application, run once the targets
//! they name are restored and validated, retried until their deadline.
//!
//! Three kinds: `http` (a request and what its answer must be), `sql` (a
//! query on a restored database target, with `expect` as the SQL checks
//! have it) and `command` (a program; exit 0 passes). URLs, headers,
//! arguments and environment values are templates filled from the restored
//! resources (`{{ targets.<name>.<field> }}`), checked here.

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
use crate::sql::{self, RawCheck, SqlCheck};

/// Default time a gate has to pass, from when its targets are recovered.
pub const DEFAULT_DEADLINE: Duration = Duration::from_mins(2);
/// Default pause between two attempts of a gate.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// `[[gates]]` as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGate {
    pub name: Spanned<String>,
    /// `http`, `sql` or `command`.
    pub kind: Spanned<String>,
    /// Targets restored and validated before the first attempt (default:
    /// those the gate's templates or `target` name; every target if none).
    pub after: Option<Vec<Spanned<String>>>,
    /// A non-critical gate is reported but does not decide the verdict or
    /// the application RTO (default true).
    pub critical: Option<bool>,
    /// Give up this long after the first attempt (default 2m).
    pub deadline: Option<HumanDuration>,
    /// Pause between attempts (default 1s); part of the application RTO's error bound.
    pub interval: Option<HumanDuration>,
    // http
    pub url: Option<Spanned<String>>,
    /// `GET` (default), `HEAD`, `POST`, `PUT` or `DELETE`.
    pub method: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    /// Request body (templated).
    pub body: Option<Spanned<String>>,
    /// Expected status (default 200).
    pub status: Option<Spanned<u16>>,
    pub body_contains: Option<Spanned<String>>,
    pub body_regex: Option<Spanned<String>>,
    /// A JSON pointer into the answer (`/orders/0/id`) and the value it must equal.
    pub json_pointer: Option<Spanned<String>>,
    #[schemars(with = "serde_json::Value")]
    pub json_equals: Option<Spanned<toml::Value>>,
    // sql
    /// The database target the query runs on.
    pub target: Option<Spanned<String>>,
    pub query: Option<Spanned<String>>,
    #[schemars(with = "serde_json::Value")]
    pub expect: Option<Spanned<toml::Value>>,
    // command
    pub program: Option<Spanned<String>>,
    #[serde(default)]
    pub args: Vec<Spanned<String>>,
    /// Extra environment (templated); restored resources are always passed.
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
}

/// The kinds of gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GateKindName {
    Http,
    Sql,
    Command,
}

impl GateKindName {
    pub const ALL: [Self; 3] = [Self::Http, Self::Sql, Self::Command];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Sql => "sql",
            Self::Command => "command",
        }
    }

    /// The keys only this kind takes.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Self::Http => &[
                "url",
                "method",
                "headers",
                "body",
                "status",
                "body_contains",
                "body_regex",
                "json_pointer",
                "json_equals",
            ],
            Self::Sql => &["target", "query", "expect"],
            Self::Command => &["program", "args", "env"],
        }
    }
}

/// HTTP methods a gate may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Head,
    Post,
    Put,
    Delete,
}

impl HttpMethod {
    pub const ALL: [Self; 5] = [Self::Get, Self::Head, Self::Post, Self::Put, Self::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
        }
    }
}

/// What an HTTP gate sends and expects.
#[derive(Clone, Debug)]
pub struct HttpGate {
    pub url: Template,
    pub method: HttpMethod,
    pub headers: Vec<(String, Template)>,
    pub body: Option<Template>,
    pub status: u16,
    pub body_contains: Option<String>,
    pub body_regex: Option<regex::Regex>,
    pub json: Option<(String, serde_json::Value)>,
}

/// A query on a restored database target.
#[derive(Clone, Debug)]
pub struct SqlGate {
    pub target: String,
    pub check: SqlCheck,
}

/// A program run with the restored resources in its environment.
#[derive(Clone, Debug)]
pub struct CommandGate {
    pub program: Template,
    pub args: Vec<Template>,
    pub env: Vec<(String, Template)>,
}

/// What a gate does.
#[derive(Clone, Debug)]
pub enum GateCheck {
    Http(HttpGate),
    Sql(SqlGate),
    Command(CommandGate),
}

/// A validated gate.
#[derive(Clone, Debug)]
pub struct GateSpec {
    pub name: String,
    pub check: GateCheck,
    /// Targets recovered before the first attempt.
    pub after: Vec<String>,
    pub critical: bool,
    pub deadline: Duration,
    pub interval: Duration,
}

impl GateSpec {
    pub fn kind(&self) -> GateKindName {
        match self.check {
            GateCheck::Http(_) => GateKindName::Http,
            GateCheck::Sql(_) => GateKindName::Sql,
            GateCheck::Command(_) => GateKindName::Command,
        }
    }
}

/// A target a gate may name: its fields, and whether it has a database.
#[derive(Clone, Debug)]
pub struct GateTarget {
    pub referable: Referable,
    pub database: bool,
}

/// Parse `[[gates]]`.
pub fn parse(
    value: TomlSpanned<DeValue<'_>>,
    targets: &[GateTarget],
    diags: &mut Vec<Diagnostic>,
) -> Vec<GateSpec> {
    let span = value.span();
    let DeValue::Array(items) = value.into_inner() else {
        diags.push(
            Diagnostic::new("`gates` must be a list of tables")
                .at(span)
                .label("not a list")
                .help("write each gate as a `[[gates]]` table"),
        );
        return Vec::new();
    };
    let mut out: Vec<GateSpec> = Vec::new();
    for item in items {
        let Some(raw) = section::<RawGate>(item, diags) else {
            continue;
        };
        if out.iter().any(|g| &g.name == raw.name.get_ref()) {
            diags.push(
                Diagnostic::new(format!("duplicate gate name `{}`", raw.name.get_ref()))
                    .at(raw.name.span())
                    .label("used twice")
                    .help("give every gate its own name: reports refer to it"),
            );
        }
        if let Some(g) = gate(raw, targets, diags) {
            out.push(g);
        }
    }
    out
}

fn gate(raw: RawGate, targets: &[GateTarget], diags: &mut Vec<Diagnostic>) -> Option<GateSpec> {
    let names: Vec<&str> = GateKindName::ALL.iter().map(|k| k.as_str()).collect();
    let Some(kind) = GateKindName::ALL
        .into_iter()
        .find(|k| k.as_str() == raw.kind.get_ref())
    else {
        let d = Diagnostic::new(format!("unknown gate kind `{}`", raw.kind.get_ref()))
            .at(raw.kind.span())
            .label("unknown kind");
        diags.push(match did_you_mean(raw.kind.get_ref(), &names) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help("gate kinds: http, sql, command"),
        });
        return None;
    };
    foreign_keys(&raw, kind, diags);
    let referable: Vec<Referable> = targets.iter().map(|t| t.referable.clone()).collect();
    let before = diags.len();
    let check = match kind {
        GateKindName::Http => http(&raw, &referable, diags).map(GateCheck::Http),
        GateKindName::Sql => sql_gate(&raw, targets, diags).map(GateCheck::Sql),
        GateKindName::Command => command(&raw, &referable, diags).map(GateCheck::Command),
    };
    let after = after(&raw, check.as_ref(), targets, diags);
    let interval = raw.interval.map_or(DEFAULT_INTERVAL, |d| d.0);
    let deadline = raw.deadline.map_or(DEFAULT_DEADLINE, |d| d.0);
    if interval.is_zero() || interval > deadline {
        diags.push(
            Diagnostic::new(format!(
                "gate `{}`: `interval` must be above zero and at most the deadline",
                raw.name.get_ref()
            ))
            .at(raw.name.span())
            .help("e.g. `deadline = \"30s\"` with `interval = \"500ms\"`"),
        );
    }
    if diags.len() > before {
        return None;
    }
    Some(GateSpec {
        name: raw.name.into_inner(),
        check: check?,
        after,
        critical: raw.critical.unwrap_or(true),
        deadline,
        interval,
    })
}

/// Keys of another kind are errors, not silently ignored.
fn foreign_keys(raw: &RawGate, kind: GateKindName, diags: &mut Vec<Diagnostic>) {
    let set: [(&str, Option<std::ops::Range<usize>>); 15] = [
        ("url", raw.url.as_ref().map(Spanned::span)),
        ("method", raw.method.as_ref().map(Spanned::span)),
        ("headers", raw.headers.values().next().map(Spanned::span)),
        ("body", raw.body.as_ref().map(Spanned::span)),
        ("status", raw.status.as_ref().map(Spanned::span)),
        (
            "body_contains",
            raw.body_contains.as_ref().map(Spanned::span),
        ),
        ("body_regex", raw.body_regex.as_ref().map(Spanned::span)),
        ("json_pointer", raw.json_pointer.as_ref().map(Spanned::span)),
        ("json_equals", raw.json_equals.as_ref().map(Spanned::span)),
        ("target", raw.target.as_ref().map(Spanned::span)),
        ("query", raw.query.as_ref().map(Spanned::span)),
        ("expect", raw.expect.as_ref().map(Spanned::span)),
        ("program", raw.program.as_ref().map(Spanned::span)),
        ("args", raw.args.first().map(Spanned::span)),
        ("env", raw.env.values().next().map(Spanned::span)),
    ];
    for (key, span) in set {
        let Some(span) = span else { continue };
        if kind.keys().contains(&key) {
            continue;
        }
        let owner = GateKindName::ALL
            .into_iter()
            .find(|k| k.keys().contains(&key))
            .map_or("another", GateKindName::as_str);
        diags.push(
            Diagnostic::new(format!(
                "gate `{}`: `{key}` belongs to `{owner}` gates, not `{}` ones",
                raw.name.get_ref(),
                kind.as_str()
            ))
            .at(span)
            .label("not a key of this kind")
            .help(format!(
                "remove it, or set `kind = \"{owner}\"`; `{}` gates take {}",
                kind.as_str(),
                kind.keys().join(", ")
            )),
        );
    }
}

fn required<'a, T>(
    raw: &RawGate,
    key: &str,
    v: Option<&'a Spanned<T>>,
    example: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'a Spanned<T>> {
    if v.is_none() {
        diags.push(
            Diagnostic::new(format!("gate `{}` has no `{key}`", raw.name.get_ref()))
                .at(raw.name.span())
                .label("in this gate")
                .help(format!("add {example}")),
        );
    }
    v
}

fn http(raw: &RawGate, targets: &[Referable], diags: &mut Vec<Diagnostic>) -> Option<HttpGate> {
    let url = required(
        raw,
        "url",
        raw.url.as_ref(),
        "`url = \"http://127.0.0.1:8080/health\"`",
        diags,
    )?;
    let url_t = template::parse(url, targets, diags);
    // A URL may start with a placeholder (`{{ targets.site.url }}`): its
    // value is a URL the target builds.
    let u = url.get_ref();
    if !(u.starts_with("http://") || u.starts_with("https://") || u.starts_with("{{")) {
        diags.push(
            Diagnostic::new("a gate's `url` must start with http:// or https://")
                .at(url.span())
                .label("not an http(s) URL")
                .help("write e.g. \"http://127.0.0.1:8080/health\""),
        );
    }
    let method = match &raw.method {
        None => HttpMethod::Get,
        Some(m) => {
            if let Some(m) = HttpMethod::ALL
                .into_iter()
                .find(|x| x.as_str().eq_ignore_ascii_case(m.get_ref()))
            {
                m
            } else {
                let all: Vec<&str> = HttpMethod::ALL.iter().map(|m| m.as_str()).collect();
                diags.push(
                    Diagnostic::new(format!("unsupported HTTP method `{}`", m.get_ref()))
                        .at(m.span())
                        .help(format!("use one of {}", all.join(", "))),
                );
                HttpMethod::Get
            }
        }
    };
    let headers = raw
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), template::parse(v, targets, diags)?)))
        .collect();
    let body = raw
        .body
        .as_ref()
        .and_then(|b| template::parse(b, targets, diags));
    let status = match &raw.status {
        Some(s) if !(100..=599).contains(s.get_ref()) => {
            diags.push(
                Diagnostic::new(format!("`status` {} is not an HTTP status", s.get_ref()))
                    .at(s.span())
                    .help("use a status from 100 to 599, e.g. `status = 200`"),
            );
            200
        }
        Some(s) => *s.get_ref(),
        None => 200,
    };
    let body_regex = raw.body_regex.as_ref().and_then(|r| {
        regex::Regex::new(r.get_ref())
            .map_err(|e| {
                diags.push(
                    Diagnostic::new("invalid `body_regex`")
                        .at(r.span())
                        .label("not a regular expression")
                        .help(
                            e.to_string()
                                .lines()
                                .last()
                                .unwrap_or("")
                                .trim()
                                .to_string(),
                        ),
                );
            })
            .ok()
    });
    let json = json_check(raw, diags);
    Some(HttpGate {
        url: url_t?,
        method,
        headers,
        body,
        status,
        body_contains: raw.body_contains.as_ref().map(|s| s.get_ref().clone()),
        body_regex,
        json,
    })
}

/// `json_pointer` and `json_equals` come together.
fn json_check(raw: &RawGate, diags: &mut Vec<Diagnostic>) -> Option<(String, serde_json::Value)> {
    match (&raw.json_pointer, &raw.json_equals) {
        (None, None) => None,
        (Some(p), Some(v)) => {
            if !(p.get_ref().is_empty() || p.get_ref().starts_with('/')) {
                diags.push(
                    Diagnostic::new(format!(
                        "`json_pointer` `{}` is not a JSON pointer",
                        p.get_ref()
                    ))
                    .at(p.span())
                    .help("a JSON pointer starts with `/`, e.g. \"/orders/0/id\""),
                );
            }
            let value = serde_json::to_value(v.get_ref()).unwrap_or(serde_json::Value::Null);
            Some((p.get_ref().clone(), value))
        }
        (Some(p), None) => {
            diags.push(
                Diagnostic::new("`json_pointer` without `json_equals`")
                    .at(p.span())
                    .help("add the value it must equal, e.g. `json_equals = \"ok\"`"),
            );
            None
        }
        (None, Some(v)) => {
            diags.push(
                Diagnostic::new("`json_equals` without `json_pointer`")
                    .at(v.span())
                    .help("add where to look, e.g. `json_pointer = \"/status\"`"),
            );
            None
        }
    }
}

fn sql_gate(raw: &RawGate, targets: &[GateTarget], diags: &mut Vec<Diagnostic>) -> Option<SqlGate> {
    let target = required(
        raw,
        "target",
        raw.target.as_ref(),
        "`target = \"orders-db\"`",
        diags,
    );
    let query = required(
        raw,
        "query",
        raw.query.as_ref(),
        "`query = \"SELECT count(*) FROM orders\"`",
        diags,
    );
    let expect = required(raw, "expect", raw.expect.as_ref(), "`expect = 42`", diags);
    let (target, query, expect) = (target?, query?, expect?);
    match targets
        .iter()
        .find(|t| &t.referable.name == target.get_ref())
    {
        // No selectable kind is a database yet; one that is would be ambiguous.
        Some(t) if t.database && t.referable.selects.is_some() => diags.push(
            Diagnostic::new(format!(
                "gate `{}` queries `{}`, which selects its resources by tag ({}): there is no single database to query",
                raw.name.get_ref(),
                target.get_ref(),
                t.referable.selects.as_deref().unwrap_or_default()
            ))
            .at(target.span())
            .label("ambiguous: one database per selected resource")
            .help("name one resource by its id in a separate target and query that one"),
        ),
        Some(t) if t.database => {}
        Some(_) => diags.push(
            Diagnostic::new(format!(
                "gate `{}`: target `{}` is not a database",
                raw.name.get_ref(),
                target.get_ref()
            ))
            .at(target.span())
            .label("no database to query")
            .help("name a `postgres` target, or use an `http` or `command` gate"),
        ),
        None => {
            let names: Vec<&str> = targets.iter().map(|t| t.referable.name.as_str()).collect();
            let d = Diagnostic::new(format!(
                "gate `{}` queries `{}`, which is not a target of this scenario",
                raw.name.get_ref(),
                target.get_ref()
            ))
            .at(target.span())
            .label("unknown target");
            diags.push(match did_you_mean(target.get_ref(), &names) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("targets of this scenario: {}", names.join(", "))),
            });
        }
    }
    if matches!(expect.get_ref(), toml::Value::String(s) if s == "baseline") {
        diags.push(
            Diagnostic::new("a gate cannot expect `\"baseline\"`")
                .at(expect.span())
                .help("gates have no backup-time value: write the value or range the application must show"),
        );
        return None;
    }
    let check = RawCheck {
        name: raw.name.clone(),
        query: query.clone(),
        expect: expect.clone(),
    };
    let mut checks = sql::checks(std::slice::from_ref(&check), diags);
    Some(SqlGate {
        target: target.get_ref().clone(),
        check: checks.pop()?,
    })
}

fn command(
    raw: &RawGate,
    targets: &[Referable],
    diags: &mut Vec<Diagnostic>,
) -> Option<CommandGate> {
    let program = required(
        raw,
        "program",
        raw.program.as_ref(),
        "`program = \"curl\"`",
        diags,
    )?;
    let program = template::parse(program, targets, diags);
    let args: Vec<Option<Template>> = raw
        .args
        .iter()
        .map(|a| template::parse(a, targets, diags))
        .collect();
    let mut env = Vec::new();
    for (k, v) in &raw.env {
        let ok = !k.is_empty()
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !k.as_bytes()[0].is_ascii_digit();
        if !ok {
            diags.push(
                Diagnostic::new(format!("`{k}` is not an environment variable name"))
                    .at(v.span())
                    .help("use letters, digits and `_`, not starting with a digit"),
            );
        }
        env.push((k.clone(), template::parse(v, targets, diags)));
    }
    Some(CommandGate {
        program: program?,
        args: args.into_iter().collect::<Option<Vec<_>>>()?,
        env: env
            .into_iter()
            .map(|(k, v)| Some((k, v?)))
            .collect::<Option<Vec<_>>>()?,
    })
}

/// The targets a gate waits for: `after` as written (checked), else those
/// it names, else every target.
fn after(
    raw: &RawGate,
    check: Option<&GateCheck>,
    targets: &[GateTarget],
    diags: &mut Vec<Diagnostic>,
) -> Vec<String> {
    let names: Vec<&str> = targets.iter().map(|t| t.referable.name.as_str()).collect();
    if let Some(list) = &raw.after {
        for a in list {
            if !names.contains(&a.get_ref().as_str()) {
                let d = Diagnostic::new(format!(
                    "gate `{}` runs after `{}`, which is not a target of this scenario",
                    raw.name.get_ref(),
                    a.get_ref()
                ))
                .at(a.span())
                .label("unknown target");
                diags.push(match did_you_mean(a.get_ref(), &names) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!("targets of this scenario: {}", names.join(", "))),
                });
            }
        }
        return list.iter().map(|a| a.get_ref().clone()).collect();
    }
    let named = match check {
        Some(GateCheck::Http(h)) => template::named_targets(
            std::iter::once(&h.url)
                .chain(h.headers.iter().map(|(_, t)| t))
                .chain(h.body.iter()),
        ),
        Some(GateCheck::Command(c)) => template::named_targets(
            std::iter::once(&c.program)
                .chain(c.args.iter())
                .chain(c.env.iter().map(|(_, t)| t)),
        ),
        Some(GateCheck::Sql(s)) => std::iter::once(s.target.clone()).collect(),
        None => return Vec::new(),
    };
    if named.is_empty() {
        names.iter().map(|n| (*n).to_string()).collect()
    } else {
        // Scenario order, not alphabetical.
        names
            .iter()
            .filter(|n| named.contains(**n))
            .map(|n| (*n).to_string())
            .collect()
    }
}

/// What the gates of a scenario may name: each target's fields.
pub fn referable<'a>(targets: impl IntoIterator<Item = &'a super::TargetSpec>) -> Vec<GateTarget> {
    targets
        .into_iter()
        .map(|t| GateTarget {
            referable: Referable {
                name: t.name.clone(),
                fields: template::COMMON_FIELDS
                    .iter()
                    .chain(t.target.restored_fields())
                    .copied()
                    .collect(),
                selects: t.select.as_ref().map(super::select::TargetSelect::describe),
            },
            database: t.target.queryable(),
        })
        .collect()
}
