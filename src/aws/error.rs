//! From the SDK's errors to firedrill's one error type for AWS calls
//! ([`AwsError`]: what failed, why, and the request id).

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;
use firedrill_core::error::{AwsError, AwsErrorKind};

/// Turning an SDK error into an [`AwsError`]: the SDK types stay here, in
/// the AWS layer; the error itself is shared vocabulary.
pub trait FromSdk {
    /// Classify an SDK error, keeping code, message and request id.
    fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static;
}

impl FromSdk for AwsError {
    fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let request_id = err.request_id().map(str::to_string);
        let status = err.raw_response().map(|r| r.status().as_u16());
        match &err {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                let text = DisplayErrorContext(&err).to_string();
                let kind = if text.contains("credential") {
                    AwsErrorKind::Credentials
                } else {
                    AwsErrorKind::Unreachable
                };
                let message = if kind == AwsErrorKind::Unreachable {
                    unreachable_reason(&text, matches!(err, SdkError::TimeoutError(_)))
                } else {
                    concise(&text)
                };
                Self {
                    operation,
                    kind,
                    code: None,
                    message,
                    request_id,
                }
            }
            SdkError::ConstructionFailure(_) => {
                let text = DisplayErrorContext(&err).to_string();
                Self {
                    operation,
                    kind: if text.contains("credential") {
                        AwsErrorKind::Credentials
                    } else {
                        AwsErrorKind::Service
                    },
                    code: None,
                    message: concise(&text),
                    request_id,
                }
            }
            _ => {
                let code = err.code().map(str::to_string);
                let message = err.message().map_or_else(
                    || {
                        status.map_or_else(
                            || concise(&DisplayErrorContext(&err).to_string()),
                            // HEAD responses carry no error body: S3's
                            // throttling then shows only as a bare 503.
                            |s| match s {
                                503 => "HTTP 503: the service is throttling (SlowDown) or unavailable, and retries did not get through".to_string(),
                                s => format!("HTTP {s}"),
                            },
                        )
                    },
                    str::to_string,
                );
                let kind = AwsErrorKind::classify(code.as_deref(), status);
                Self {
                    operation,
                    kind,
                    code,
                    message,
                    request_id,
                }
            }
        }
    }
}

/// A plain reason for a connection failure, from the SDK's nested chain.
fn unreachable_reason(text: &str, timeout: bool) -> String {
    let lower = text.to_ascii_lowercase();
    let reason = if lower.contains("connection refused") {
        "connection refused"
    } else if lower.contains("dns error") || lower.contains("failed to lookup") {
        "host name not found"
    } else if timeout || lower.contains("timed out") || lower.contains("timeout") {
        "timed out"
    } else if lower.contains("connection reset") {
        "connection reset"
    } else if lower.contains("certificate") || lower.contains("tls") {
        "TLS handshake failed"
    } else {
        return format!("cannot connect: {}", concise(text));
    };
    format!("cannot connect to the endpoint: {reason}")
}

/// The SDK's error chains repeat themselves; keep the last two causes.
fn concise(text: &str) -> String {
    let parts: Vec<&str> = text.split(": ").collect();
    let n = parts.len();
    if n <= 3 {
        text.to_string()
    } else {
        parts[n - 2..].join(": ")
    }
}
