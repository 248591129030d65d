//! `[[notify]]`: who is told about a run, when, and how hard firedrill
//! tries. Parsed here; sent by `crate::notify`.
//!
//! ```toml
//! [[notify]]
//! kind = "webhook"              # or "slack" (incoming webhook)
//! url_env = "DRILL_WEBHOOK_URL" # or url = "https://…"
//! secret_env = "DRILL_WEBHOOK_SECRET" # HMAC-SHA256 key (webhook only)
//! on = ["failure", "regression"]
//! ```

use std::time::Duration;

use firedrill_core::diagnostics::Diagnostic;
use firedrill_core::input::{HumanDuration, Spanned};
use firedrill_core::options::section;
use firedrill_core::validate::one_of;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_spanned::Spanned as TomlSpanned;
use toml::de::DeValue;

/// One `[[notify]]` table as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    /// `webhook` (JSON, signed with HMAC-SHA256) or `slack` (incoming webhook).
    pub kind: Spanned<String>,
    /// The URL to POST to. Prefer `url_env` when the URL is a secret (Slack's are).
    pub url: Option<Spanned<String>>,
    /// Environment variable holding the URL.
    pub url_env: Option<Spanned<String>>,
    /// Environment variable holding the HMAC key for `X-Firedrill-Signature` (webhook only).
    pub secret_env: Option<Spanned<String>>,
    /// When to send: `failure`, `success`, `regression`, `always` (default `["failure", "regression"]`).
    #[serde(default)]
    pub on: Vec<Spanned<String>>,
    /// Attempts before giving up (default 4).
    pub attempts: Option<Spanned<u32>>,
    /// Wait before the first retry, doubled after each (default 1s).
    pub backoff: Option<HumanDuration>,
    /// Limit for one attempt (default 10s).
    pub timeout: Option<HumanDuration>,
    /// Limit for every attempt and wait together (default 60s).
    pub deadline: Option<HumanDuration>,
    /// Where the reports directory is published (e.g. `https://drills.example.com/reports`):
    /// report links become `<base>/<scenario>/<run id>/<file>` instead of local paths.
    pub report_base_url: Option<Spanned<String>>,
}

/// The message format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyKind {
    Webhook,
    Slack,
}

impl NotifyKind {
    pub const ALL: [NotifyKind; 2] = [NotifyKind::Webhook, NotifyKind::Slack];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyKind::Webhook => "webhook",
            NotifyKind::Slack => "slack",
        }
    }
}

/// A condition for sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyOn {
    /// The run did not pass (failed, aborted or environment error).
    Failure,
    /// The run passed.
    Success,
    /// Objectives are worse than in the previous run of the scenario.
    Regression,
    /// Every run.
    Always,
}

impl NotifyOn {
    pub const ALL: [NotifyOn; 4] = [
        NotifyOn::Failure,
        NotifyOn::Success,
        NotifyOn::Regression,
        NotifyOn::Always,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyOn::Failure => "failure",
            NotifyOn::Success => "success",
            NotifyOn::Regression => "regression",
            NotifyOn::Always => "always",
        }
    }
}

/// Where the URL comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotifyUrl {
    Literal(String),
    /// Read from this environment variable when sending.
    Env(String),
}

/// Retries with exponential backoff, bounded by a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryPolicy {
    pub attempts: u32,
    pub backoff: Duration,
    pub timeout: Duration,
    pub deadline: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            deadline: Duration::from_mins(1),
        }
    }
}

/// One validated notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifySpec {
    pub kind: NotifyKind,
    pub url: NotifyUrl,
    /// Environment variable holding the HMAC key.
    pub secret_env: Option<String>,
    pub on: Vec<NotifyOn>,
    pub policy: DeliveryPolicy,
    pub report_base_url: Option<String>,
}

fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| name(*v)).collect()
}

/// Parse the `notify` array of tables.
pub(super) fn parse(
    value: TomlSpanned<DeValue<'_>>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<NotifySpec> {
    let span = value.span();
    let DeValue::Array(items) = value.into_inner() else {
        diags.push(
            Diagnostic::new("`notify` must be a list of tables")
                .at(span)
                .label("not a list")
                .help("write each notification as a `[[notify]]` table"),
        );
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let span = item.span();
            let raw = section::<RawNotify>(item, diags)?;
            validate(raw, span, diags)
        })
        .collect()
}

fn http_url(u: &Spanned<String>, key: &str, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let text = u.get_ref().trim();
    let ok = (text.starts_with("http://") || text.starts_with("https://"))
        && text
            .split_once("://")
            .is_some_and(|(_, rest)| !rest.is_empty() && !rest.contains(char::is_whitespace));
    if ok {
        return Some(text.to_string());
    }
    diags.push(
        Diagnostic::new(format!("`{key}` is not an http(s) URL"))
            .at(u.span())
            .label("not an http(s) URL")
            .help(format!(
                "write it like `{key} = \"https://hooks.example.com/drills\"`"
            )),
    );
    None
}

fn validate(
    raw: RawNotify,
    span: std::ops::Range<usize>,
    diags: &mut Vec<Diagnostic>,
) -> Option<NotifySpec> {
    let before = diags.len();
    let kind = NotifyKind::ALL
        .into_iter()
        .find(|k| k.as_str() == raw.kind.get_ref());
    if kind.is_none() {
        one_of(
            &raw.kind,
            "notification kind",
            &names(&NotifyKind::ALL, NotifyKind::as_str),
            diags,
        );
    }
    let url = match (&raw.url, &raw.url_env) {
        (Some(u), None) => http_url(u, "url", diags).map(NotifyUrl::Literal),
        (None, Some(e)) => {
            crate::sql::env_var_name(e, "url_env", "the webhook URL", "DRILL_WEBHOOK_URL", diags);
            Some(NotifyUrl::Env(e.get_ref().clone()))
        }
        (Some(u), Some(_)) => {
            diags.push(
                Diagnostic::new("both `url` and `url_env` are set")
                    .at(u.span())
                    .label("one of the two")
                    .help("keep `url_env` when the URL is a secret, else `url`"),
            );
            None
        }
        (None, None) => {
            diags.push(
                Diagnostic::new("missing `url` or `url_env` in `[[notify]]`")
                    .at(span)
                    .label("in this table")
                    .help("add `url_env = \"DRILL_WEBHOOK_URL\"` (or `url = \"https://…\"`)"),
            );
            None
        }
    };
    if let Some(s) = &raw.secret_env {
        crate::sql::env_var_name(
            s,
            "secret_env",
            "the HMAC key",
            "DRILL_WEBHOOK_SECRET",
            diags,
        );
        if kind == Some(NotifyKind::Slack) {
            diags.push(
                Diagnostic::new("`secret_env` does not apply to `kind = \"slack\"`")
                    .at(s.span())
                    .label("Slack incoming webhooks are not signed")
                    .help("remove `secret_env`, or use `kind = \"webhook\"`"),
            );
        }
    }
    let mut on = Vec::new();
    for o in &raw.on {
        match NotifyOn::ALL
            .into_iter()
            .find(|v| v.as_str() == o.get_ref())
        {
            Some(v) if !on.contains(&v) => on.push(v),
            Some(_) => {}
            None => one_of(
                o,
                "`on` condition",
                &names(&NotifyOn::ALL, NotifyOn::as_str),
                diags,
            ),
        }
    }
    if raw.on.is_empty() {
        on = vec![NotifyOn::Failure, NotifyOn::Regression];
    }
    let policy = policy(&raw, diags);
    let report_base_url = raw
        .report_base_url
        .as_ref()
        .and_then(|u| http_url(u, "report_base_url", diags))
        .map(|u| u.trim_end_matches('/').to_string());
    if diags.len() > before {
        return None;
    }
    Some(NotifySpec {
        kind: kind?,
        url: url?,
        secret_env: raw.secret_env.map(Spanned::into_inner),
        on,
        policy,
        report_base_url,
    })
}

fn policy(raw: &RawNotify, diags: &mut Vec<Diagnostic>) -> DeliveryPolicy {
    let defaults = DeliveryPolicy::default();
    let attempts = match &raw.attempts {
        Some(n) if !(1..=20).contains(n.get_ref()) => {
            diags.push(
                Diagnostic::new(format!("`attempts` is {}", n.get_ref()))
                    .at(n.span())
                    .label("out of range")
                    .help("use a number from 1 to 20"),
            );
            defaults.attempts
        }
        Some(n) => *n.get_ref(),
        None => defaults.attempts,
    };
    DeliveryPolicy {
        attempts,
        backoff: raw.backoff.as_ref().map_or(defaults.backoff, |d| d.0),
        timeout: raw.timeout.as_ref().map_or(defaults.timeout, |d| d.0),
        deadline: raw.deadline.as_ref().map_or(defaults.deadline, |d| d.0),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn scenario(notify: &str) -> String {
        format!(
            "name = \"n\"\n[environment]\nregion = \"us-east-1\"\n[objectives]\nrto = \"1m\"\nrpo = \"1m\"\n[[targets]]\nname = \"data\"\nkind = \"s3-bucket\"\nbucket = \"some-bucket\"\n{notify}"
        )
    }

    #[test]
    fn notify_tables_parse_with_defaults() {
        let s = crate::scenario::parse(
            Path::new("n.toml"),
            &scenario(
                "[[notify]]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\nsecret_env = \"HOOK_SECRET\"\non = [\"always\"]\nbackoff = \"50ms\"\n[[notify]]\nkind = \"slack\"\nurl_env = \"SLACK_URL\"\n",
            ),
        )
        .unwrap();
        assert_eq!(s.notify.len(), 2);
        assert_eq!(s.notify[0].on, [NotifyOn::Always]);
        assert_eq!(s.notify[0].secret_env.as_deref(), Some("HOOK_SECRET"));
        assert_eq!(s.notify[0].policy.backoff, Duration::from_millis(50));
        assert_eq!(s.notify[1].kind, NotifyKind::Slack);
        assert_eq!(s.notify[1].url, NotifyUrl::Env("SLACK_URL".into()));
        assert_eq!(s.notify[1].on, [NotifyOn::Failure, NotifyOn::Regression]);
        assert_eq!(s.notify[1].policy, DeliveryPolicy::default());
    }

    #[test]
    fn bad_notify_tables_give_every_error_with_a_fix() {
        let e = crate::scenario::parse(
            Path::new("n.toml"),
            &scenario(
                "[[notify]]\nkind = \"slak\"\nurl = \"ftp://x\"\non = [\"failur\"]\n[[notify]]\nkind = \"slack\"\nsecret_env = \"X\"\nattempts = 0\n",
            ),
        )
        .unwrap_err();
        let text = format!("{e:?}");
        for needle in [
            "unknown notification kind `slak`",
            "did you mean `slack`?",
            "`url` is not an http(s) URL",
            "did you mean `failure`?",
            "missing `url` or `url_env`",
            "`secret_env` does not apply",
            "`attempts` is 0",
        ] {
            assert!(text.contains(needle), "{needle} not in {text}");
        }
    }
}
