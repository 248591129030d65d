//! Telling people and systems about a finished run: `[[notify]]` webhooks
//! (generic JSON signed with HMAC-SHA256, or Slack), and the Pushgateway.
//! A notification that cannot be delivered is a warning finding; it never
//! changes the run's verdict or exit code.

mod deliver;
mod http;
mod payload;
pub mod pushgateway;
mod sign;
mod trigger;

use std::path::Path;

use bytes::Bytes;
use firedrill_core::Finding;
use hyper::Method;

pub use deliver::{Delivered, Undelivered, backoff, deliver, retryable};
pub use http::{Http, Request, display_url};
pub use payload::{WEBHOOK_FORMAT, report_links, slack, webhook};
pub use sign::{SIGNATURE_HEADER, signature};
pub use trigger::should_send;

use crate::report::Report;
use crate::scenario::notify::{NotifyKind, NotifySpec, NotifyUrl};

/// Finding code of a notification that was not delivered.
pub const UNDELIVERABLE: &str = "notify.undeliverable";
/// Finding code of a delivered notification.
pub const SENT: &str = "notify.sent";

/// What the notifications of a run know about it.
#[derive(Clone, Copy, Debug)]
pub struct RunContext<'a> {
    pub report: &'a Report,
    pub run_dir: &'a Path,
    /// Objectives worse than the previous run's (see `history::regressed`).
    pub regression: bool,
}

/// Send every notification whose `on` matches, at once; one finding per
/// notification sent or attempted.
pub async fn notify_all(specs: &[NotifySpec], cx: RunContext<'_>, http: &Http) -> Vec<Finding> {
    let sends = specs
        .iter()
        .filter(|s| should_send(&s.on, cx.report.verdict, cx.regression))
        .map(|s| notify_one(s, cx, http));
    futures::future::join_all(sends).await
}

fn env_value(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The request of one notification, or why it cannot be made.
fn request(spec: &NotifySpec, cx: RunContext<'_>) -> Result<Request, String> {
    let url = match &spec.url {
        NotifyUrl::Literal(u) => u.clone(),
        NotifyUrl::Env(name) => env_value(name)
            .ok_or_else(|| format!("the environment variable `{name}` (url_env) is not set"))?,
    };
    let links = report_links(cx.report, cx.run_dir, spec.report_base_url.as_deref());
    let mut headers = vec![
        ("content-type", "application/json".to_string()),
        ("x-firedrill-run-id", cx.report.run_id.clone()),
    ];
    let body = match spec.kind {
        NotifyKind::Webhook => {
            let body = serde_json::to_vec(&webhook(cx.report, cx.regression, links))
                .map_err(|e| format!("cannot encode the payload: {e}"))?;
            if let Some(name) = &spec.secret_env {
                // Never fall back to an unsigned message: the receiver
                // would have to accept unsigned ones too.
                let secret = env_value(name).ok_or_else(|| {
                    format!("the environment variable `{name}` (secret_env) is not set; not sent unsigned")
                })?;
                headers.push((SIGNATURE_HEADER, signature(secret.as_bytes(), &body)));
            }
            body
        }
        NotifyKind::Slack => serde_json::to_vec(&slack(cx.report, cx.regression, &links))
            .map_err(|e| format!("cannot encode the message: {e}"))?,
    };
    Ok(Request {
        method: Method::POST,
        url,
        headers,
        body: Bytes::from(body),
    })
}

async fn notify_one(spec: &NotifySpec, cx: RunContext<'_>, http: &Http) -> Finding {
    let what = spec.kind.as_str();
    let req = match request(spec, cx) {
        Ok(r) => r,
        Err(why) => {
            return Finding::warning(
                UNDELIVERABLE,
                format!("{what} notification not sent: {why}; the verdict is unchanged"),
            );
        }
    };
    let to = display_url(&req.url);
    match deliver(http, &req, &spec.policy).await {
        Ok(d) => Finding::info(
            SENT,
            format!(
                "{what} notification delivered to {to} (HTTP {}, {} attempt(s))",
                d.status, d.attempts
            ),
        ),
        Err(e) => Finding::warning(
            UNDELIVERABLE,
            format!("{what} notification to {to} not delivered: {e}; the verdict is unchanged"),
        ),
    }
}
