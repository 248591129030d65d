//! Why a stage did not complete, with typed causes: an AWS call (keeping
//! its error code, message and request id), the ledger, the environment,
//! the drill itself, a deadline, or cancellation.

use std::fmt;
use std::path::PathBuf;

use crate::timing::{PollError, human};

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

impl AwsErrorKind {
    /// Classify a service error by its AWS error code and HTTP status.
    pub fn classify(code: Option<&str>, status: Option<u16>) -> Self {
        let c = code.unwrap_or("");
        if NOT_FOUND.contains(&c) || (c.is_empty() && status == Some(404)) {
            AwsErrorKind::NotFound
        } else if THROTTLED.contains(&c) || (c.is_empty() && matches!(status, Some(429 | 503))) {
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
        }
    }
}

impl AwsError {
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

/// Why the ledger could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot {op} ledger {}: {message} (hint: firedrill creates nothing it cannot record; check the reports directory is writable)", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        message: String,
    },
    #[error("ledger {}:{line} is corrupt: {message}", path.display())]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

impl LedgerError {
    pub fn io(path: &std::path::Path, op: &'static str, e: &std::io::Error) -> Self {
        LedgerError::Io {
            path: path.to_path_buf(),
            op,
            message: e.to_string(),
        }
    }
}

/// Why a stage did not complete.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// An AWS call failed; the kind says whether it is the environment's fault.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The ledger could not be written: nothing may be created without it.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The named resource or environment is not usable (exit code 3).
    #[error("{0}")]
    Environment(String),
    /// The stage ran and failed.
    #[error("{0}")]
    Failed(String),
    /// A wait passed its deadline.
    #[error("{0}")]
    TimedOut(String),
    /// The run was cancelled before or during the stage.
    #[error("cancelled")]
    Cancelled,
}

impl StageError {
    /// Whether the failure lies with the environment (exit code 3), not the drill.
    pub fn is_environment(&self) -> bool {
        match self {
            StageError::Aws(e) => e.is_environment(),
            StageError::Ledger(_) | StageError::Environment(_) => true,
            StageError::Failed(_) | StageError::TimedOut(_) | StageError::Cancelled => false,
        }
    }

    /// A kind asked to delete a resource type it never creates (a ledger
    /// written by another firedrill, or edited by hand).
    pub fn not_deletable(kind: &str, rtype: crate::resource::ResourceType) -> Self {
        StageError::Failed(format!("{kind} cannot delete a `{rtype}`"))
    }

    /// The AWS request id, when an AWS call failed.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            StageError::Aws(e) => e.request_id.as_deref(),
            _ => None,
        }
    }
}

impl<E> From<PollError<E>> for StageError
where
    E: Into<StageError>,
{
    fn from(e: PollError<E>) -> Self {
        match e {
            PollError::TimedOut { after, last_state } => StageError::TimedOut(format!(
                "stage timed out after {} (last state: {last_state})",
                human(after)
            )),
            PollError::Failed(state) => StageError::Failed(state),
            PollError::Probe(inner) => inner.into(),
        }
    }
}
