//! The one error type for AWS calls: what failed, why, and the request id.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;

/// Broad class of an AWS failure; decides the exit code and retry policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// Could not connect or timed out: endpoint down or unreachable.
    Unreachable,
    /// No credentials, or they were rejected.
    Credentials,
    /// Permission denied.
    AccessDenied,
    /// The resource does not exist.
    NotFound,
    /// Rate limited after the SDK's own retries.
    Throttled,
    /// Any other service error.
    Service,
}

/// An AWS call that failed.
#[derive(Clone, Debug, thiserror::Error)]
pub struct AwsError {
    /// `service:Operation`, e.g. `s3:CreateBucket`.
    pub operation: &'static str,
    pub kind: AwsErrorKind,
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed", self.operation)?;
        if let Some(code) = &self.code {
            write!(f, ": {code}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        match self.kind {
            AwsErrorKind::Unreachable => write!(
                f,
                " (hint: is the endpoint running and reachable? for the emulators run `make emulators`)"
            ),
            AwsErrorKind::Credentials => write!(
                f,
                " (hint: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or `profile` in [environment])"
            ),
            _ => Ok(()),
        }
    }
}

const NOT_FOUND: &[&str] = &[
    "NoSuchBucket",
    "NotFound",
    "NoSuchKey",
    "NoSuchTagSet",
    "NoSuchTagSetError",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "DBSnapshotNotFound",
    "DBSnapshotNotFoundFault",
    "DBClusterNotFoundFault",
    "DBClusterSnapshotNotFoundFault",
    "InvalidInstanceID.NotFound",
    "InvalidVolume.NotFound",
    "InvalidSnapshot.NotFound",
    "InvalidAMIID.NotFound",
    "InvalidAMIID.Unavailable",
];

const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "TooManyRequestsException",
];

const CREDENTIALS: &[&str] = &[
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "AuthFailure",
    "UnrecognizedClientException",
];

impl AwsError {
    /// Classify an SDK error, keeping code, message and request id.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
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
                let c = code.as_deref().unwrap_or("");
                let kind = if NOT_FOUND.contains(&c) || (c.is_empty() && status == Some(404)) {
                    AwsErrorKind::NotFound
                } else if THROTTLED.contains(&c)
                    || (c.is_empty() && matches!(status, Some(429 | 503)))
                {
                    AwsErrorKind::Throttled
                } else if CREDENTIALS.contains(&c) {
                    AwsErrorKind::Credentials
                } else if c == "AccessDenied"
                    || c == "AccessDeniedException"
                    || c == "UnauthorizedOperation"
                    || status == Some(403)
                {
                    AwsErrorKind::AccessDenied
                } else {
                    AwsErrorKind::Service
                };
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

    /// Whether the environment is at fault (exit code 3) rather than the drill.
    pub fn is_environment(&self) -> bool {
        matches!(
            self.kind,
            AwsErrorKind::Unreachable | AwsErrorKind::Credentials | AwsErrorKind::AccessDenied
        )
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == AwsErrorKind::NotFound
    }

    pub fn is_throttled(&self) -> bool {
        self.kind == AwsErrorKind::Throttled
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
