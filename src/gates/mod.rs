//! Gates: checks of the recovered application, retried until their
//! deadline. The runner waits for the targets a gate names and hands over
//! what they restored; this module renders the templates, makes the
//! attempts (`http`, `sql`, `command`) and records each one.

pub mod command;
pub mod env;
pub mod http;
mod sql;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use firedrill_core::Outcome;
use firedrill_core::app_rto::GatePass;
use firedrill_core::timing::{Clock, Moment, human};
use tokio_util::sync::CancellationToken;

use crate::report::{CapturedOutput, GateAttempt, GateReport};
use crate::scenario::gates::{GateCheck, GateSpec};
use crate::targets::Restored;

/// Attempts kept in a report: the first and the last ones.
pub const KEPT_ATTEMPTS: usize = 20;

/// What the restored targets offer, by target name.
pub type RestoredMap = BTreeMap<String, Arc<Restored>>;

/// One attempt's result.
#[derive(Debug)]
pub struct Attempt {
    pub passed: bool,
    pub detail: String,
    pub output: Option<CapturedOutput>,
}

impl Attempt {
    pub fn passed(detail: String) -> Self {
        Self {
            passed: true,
            detail,
            output: None,
        }
    }

    pub fn failed(detail: String) -> Self {
        Self {
            passed: false,
            detail,
            output: None,
        }
    }
}

/// A gate run to its end, for the report and the application RTO.
#[derive(Debug)]
pub struct GateRun {
    pub report: GateReport,
    /// Set when the gate passed.
    pub pass: Option<GatePass>,
}

/// The report of a gate that never ran.
pub fn skipped(spec: &GateSpec, outcome: Outcome, why: String) -> GateRun {
    GateRun {
        report: report(spec, outcome, why, None, Vec::new(), 0, None, None),
        pass: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn report(
    spec: &GateSpec,
    outcome: Outcome,
    detail: String,
    started: Option<Moment>,
    attempts: Vec<GateAttempt>,
    attempt_count: usize,
    passed: Option<Moment>,
    output: Option<CapturedOutput>,
) -> GateReport {
    GateReport {
        name: spec.name.clone(),
        kind: spec.kind(),
        critical: spec.critical,
        after: spec.after.clone(),
        outcome,
        detail,
        started_at: started.map(|m| m.utc),
        passed_at: passed.map(|m| m.utc),
        interval: spec.interval,
        deadline: spec.deadline,
        attempt_count,
        attempts,
        output,
    }
}

/// Run a gate whose targets are recovered: attempt, pause `interval`,
/// again, until an attempt passes or the deadline is reached.
pub async fn run(
    spec: &GateSpec,
    restored: &RestoredMap,
    clock: &Clock,
    cancel: &CancellationToken,
) -> GateRun {
    let secrets = env::secrets(restored);
    let client = match &spec.check {
        GateCheck::Http(_) => match http::client() {
            Ok(c) => Some(c),
            Err(e) => return skipped(spec, Outcome::Failed, e),
        },
        _ => None,
    };
    let start = clock.now();
    let mut attempts: Vec<GateAttempt> = Vec::new();
    let mut count = 0usize;
    let mut last_failed_start: Option<Moment> = None;
    // Whether any attempt got an answer (a wrong one is still an answer).
    let mut answered: Option<String> = None;
    loop {
        let remaining = spec.deadline.saturating_sub(clock.now().since(start));
        let one = attempt(spec, restored, client.as_ref(), &secrets, remaining);
        let Some(Timed { a, hung, at, end }) = timed(one, remaining, spec, clock, cancel).await
        else {
            let detail = "the drill was aborted".to_string();
            return GateRun {
                report: report(
                    spec,
                    Outcome::Cancelled,
                    detail,
                    Some(start),
                    attempts,
                    count,
                    None,
                    None,
                ),
                pass: None,
            };
        };
        // A command killed at the deadline did not answer either.
        let hung = hung || a.output.as_ref().is_some_and(|o| o.timed_out);
        if !hung {
            answered = Some(a.detail.clone());
        }
        count += 1;
        keep(
            &mut attempts,
            count,
            GateAttempt {
                at: at.utc,
                duration: end.since(at),
                passed: a.passed,
                detail: a.detail.clone(),
            },
        );
        if a.passed {
            let detail = format!(
                "passed at attempt {count}, {} after its targets were recovered: {}",
                human(end.since(start)),
                a.detail
            );
            return GateRun {
                report: report(
                    spec,
                    Outcome::Passed,
                    detail,
                    Some(start),
                    attempts,
                    count,
                    Some(end),
                    a.output,
                ),
                pass: Some(GatePass {
                    passed: end,
                    earliest: last_failed_start.unwrap_or(at),
                }),
            };
        }
        last_failed_start = Some(at);
        let elapsed = clock.now().since(start);
        if hung || elapsed + spec.interval >= spec.deadline {
            // Timed out: not one answer; failed: answers, none right.
            let outcome = if answered.is_some() {
                Outcome::Failed
            } else {
                Outcome::TimedOut
            };
            let detail = format!(
                "did not pass within {} ({count} attempt(s)); last: {}",
                human(spec.deadline),
                answered.as_deref().unwrap_or(&a.detail)
            );
            return GateRun {
                report: report(
                    spec,
                    outcome,
                    detail,
                    Some(start),
                    attempts,
                    count,
                    None,
                    a.output,
                ),
                pass: None,
            };
        }
        tokio::select! {
            biased;
            () = cancel.cancelled() => {}
            () = clock.sleep(spec.interval) => {}
        }
    }
}

/// One attempt, raced against its remaining time and cancellation.
struct Timed {
    a: Attempt,
    /// No answer before the deadline.
    hung: bool,
    at: Moment,
    end: Moment,
}

async fn timed(
    one: impl std::future::Future<Output = Attempt>,
    remaining: Duration,
    spec: &GateSpec,
    clock: &Clock,
    cancel: &CancellationToken,
) -> Option<Timed> {
    let at = clock.now();
    let result = tokio::select! {
        biased;
        () = cancel.cancelled() => return None,
        r = tokio::time::timeout(remaining.max(Duration::from_millis(1)), one) => r,
    };
    let end = clock.now();
    Some(match result {
        Ok(a) => Timed {
            a,
            hung: false,
            at,
            end,
        },
        Err(_) => Timed {
            a: Attempt::failed(format!(
                "no answer within the {} deadline",
                human(spec.deadline)
            )),
            hung: true,
            at,
            end,
        },
    })
}

/// Keep the first attempts and a window of the latest ones.
fn keep(attempts: &mut Vec<GateAttempt>, count: usize, a: GateAttempt) {
    if count > KEPT_ATTEMPTS && attempts.len() >= KEPT_ATTEMPTS {
        attempts.remove(KEPT_ATTEMPTS / 2);
    }
    attempts.push(a);
}

/// One attempt of any kind.
async fn attempt(
    spec: &GateSpec,
    restored: &RestoredMap,
    client: Option<&http::HttpsClient>,
    secrets: &[String],
    remaining: Duration,
) -> Attempt {
    let fill = |t: &crate::scenario::template::Template| {
        t.render(|target, field| env::field(restored, target, field))
    };
    let mut a = match &spec.check {
        GateCheck::Http(h) => {
            let req = http::Request {
                url: fill(&h.url),
                headers: h
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), fill(v)))
                    .collect(),
                body: h.body.as_ref().map(fill),
            };
            match client {
                Some(c) => http::attempt(c, h, &req).await,
                None => Attempt::failed("no HTTP client".into()),
            }
        }
        GateCheck::Sql(s) => match restored.get(&s.target).and_then(|r| r.database.clone()) {
            Some(conn) => sql::attempt(&conn, &s.check).await,
            None => Attempt::failed(format!("target `{}` restored no database", s.target)),
        },
        GateCheck::Command(c) => {
            let inv = command::Invocation {
                program: fill(&c.program),
                args: c.args.iter().map(fill).collect(),
                env: env::variables(restored)
                    .into_iter()
                    .chain(c.env.iter().map(|(k, v)| (k.clone(), fill(v))))
                    .collect(),
            };
            match command::run(&inv, remaining, secrets).await {
                Ok(out) if out.exit_code == Some(0) => Attempt {
                    passed: true,
                    detail: format!("`{}` exited 0", inv.program),
                    output: Some(out),
                },
                Ok(out) => Attempt {
                    passed: false,
                    detail: match out.exit_code {
                        Some(code) => {
                            format!("`{}` exited {code}: {}", inv.program, last_line(&out))
                        }
                        None if out.timed_out => {
                            format!("`{}` was killed at the deadline", inv.program)
                        }
                        None => format!("`{}` was killed by a signal", inv.program),
                    },
                    output: Some(out),
                },
                Err(e) => Attempt::failed(e),
            }
        }
    };
    a.detail = command::redact(&a.detail, secrets);
    a
}

/// The last line a program printed (stderr first), for one-line details.
fn last_line(out: &CapturedOutput) -> String {
    let text = if out.stderr.trim().is_empty() {
        &out.stdout
    } else {
        &out.stderr
    };
    firedrill_core::input::clip(text.trim().lines().last().unwrap_or(""))
}
