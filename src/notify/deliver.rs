//! Delivery with retries: exponential backoff between attempts, every
//! attempt and wait within one deadline. Server errors, 408, 425 and 429
//! are retried; other answers are final.

use std::time::Duration;

use firedrill_core::timing::human;
use tokio::time::Instant;

use super::http::{Http, Request};
use crate::scenario::notify::DeliveryPolicy;

/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_mins(1);

/// The wait after attempt `attempt` (1-based): `initial`, then doubled.
pub fn backoff(initial: Duration, attempt: u32) -> Duration {
    let factor = 1u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    initial.saturating_mul(factor).min(MAX_BACKOFF)
}

/// Whether an HTTP status is worth another attempt.
pub fn retryable(status: u16) -> bool {
    matches!(status, 408 | 425 | 429 | 500..=599)
}

/// Delivered: after how many attempts.
#[derive(Debug, PartialEq, Eq)]
pub struct Delivered {
    pub attempts: u32,
    pub status: u16,
}

/// Not delivered: after how many attempts, and why.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason} after {attempts} attempt(s)")]
pub struct Undelivered {
    pub attempts: u32,
    pub reason: String,
}

/// Send `req` until a 2xx answer, a final answer, the last attempt or the
/// deadline, whichever comes first.
pub async fn deliver(
    http: &Http,
    req: &Request,
    policy: &DeliveryPolicy,
) -> Result<Delivered, Undelivered> {
    let deadline = Instant::now() + policy.deadline;
    let mut last = String::from("not attempted");
    for attempt in 1..=policy.attempts {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Undelivered {
                attempts: attempt - 1,
                reason: format!("deadline {} reached ({last})", human(policy.deadline)),
            });
        }
        match http.send(req, policy.timeout.min(remaining)).await {
            Ok(r) if (200..300).contains(&r.status) => {
                return Ok(Delivered {
                    attempts: attempt,
                    status: r.status,
                });
            }
            Ok(r) => {
                last = format!("HTTP {} {}", r.status, r.body.trim());
                if !retryable(r.status) {
                    return Err(Undelivered {
                        attempts: attempt,
                        reason: format!("{} (not retried)", last.trim()),
                    });
                }
            }
            Err(e) => last = e,
        }
        if attempt < policy.attempts {
            let wait = backoff(policy.backoff, attempt);
            if Instant::now() + wait >= deadline {
                return Err(Undelivered {
                    attempts: attempt,
                    reason: format!(
                        "deadline {} reached ({})",
                        human(policy.deadline),
                        last.trim()
                    ),
                });
            }
            tokio::time::sleep(wait).await;
        }
    }
    Err(Undelivered {
        attempts: policy.attempts,
        reason: last.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let s = Duration::from_secs(1);
        let cases = [(1, 1), (2, 2), (3, 4), (4, 8), (7, 60), (40, 60)];
        for (attempt, secs) in cases {
            assert_eq!(backoff(s, attempt), Duration::from_secs(secs), "{attempt}");
        }
        assert_eq!(backoff(Duration::ZERO, 3), Duration::ZERO);
    }

    #[test]
    fn which_answers_are_retried() {
        for (status, retry) in [
            (500, true),
            (502, true),
            (503, true),
            (429, true),
            (408, true),
            (400, false),
            (401, false),
            (404, false),
            (410, false),
        ] {
            assert_eq!(retryable(status), retry, "{status}");
        }
    }

    /// A request to a port nobody listens on.
    fn refused_request() -> Request {
        // Port 1 (tcpmux): nothing listens there, and unlike a port bound
        // and dropped it is never handed to a concurrent test's server.
        let port = 1;
        Request {
            method: hyper::Method::POST,
            url: format!("http://127.0.0.1:{port}/hook"),
            headers: Vec::new(),
            body: bytes::Bytes::from_static(b"{}"),
        }
    }

    #[tokio::test]
    async fn the_deadline_stops_retries_before_the_attempts_run_out() {
        let policy = DeliveryPolicy {
            attempts: 10,
            backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(2),
            deadline: Duration::from_millis(500),
        };
        let started = Instant::now();
        let e = deliver(&Http::new(), &refused_request(), &policy)
            .await
            .unwrap_err();
        // Attempt 1, wait 200 ms, attempt 2; a 400 ms wait would pass 500 ms.
        assert_eq!(e.attempts, 2, "{e}");
        assert!(e.reason.starts_with("deadline 500ms reached"), "{e}");
        assert!(started.elapsed() < Duration::from_millis(500));
    }

    #[tokio::test]
    async fn unreachable_endpoint_gives_up_after_every_attempt() {
        let req = refused_request();
        let policy = DeliveryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(10),
            timeout: Duration::from_secs(2),
            deadline: Duration::from_secs(5),
        };
        let e = deliver(&Http::new(), &req, &policy).await.unwrap_err();
        assert_eq!(e.attempts, 3, "{e}");
        assert!(e.reason.to_lowercase().contains("refused"), "{e}");
    }
}
