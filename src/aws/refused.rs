//! A refused connection is final. When nothing listens on the endpoint (an
//! emulator that is not running, a wrong port) the refusal comes back at
//! once and will come back the same on every retry; retrying it only made
//! a run with every endpoint down take ten seconds to say so. A timeout is
//! different (the network or the service may be slow) and is left to the
//! SDK's classifiers, as are resets of a connection that was accepted.
//!
//! A host name that does not resolve is final in the same way (a typo in an
//! endpoint, or a machine with no DNS for AWS, as in an offline CI job): the
//! resolver's answer is definite. A temporary resolver failure ("try
//! again") is retried.

use std::error::Error;
use std::io;

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};

/// Forbids retrying a call whose connection was refused.
#[derive(Debug, Default)]
pub struct RefusedIsFinal;

impl ClassifyRetry for RefusedIsFinal {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let refused = matches!(
            ctx.output_or_error(),
            Some(Err(e)) if e.as_connector_error().is_some_and(|c| is_refused(c) || is_unresolvable(c))
        );
        if refused {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "connection refused is final"
    }

    /// After the SDK's transient-error classifier, which calls every I/O
    /// error retryable, so this verdict is the one that stands.
    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// Whether an error, or any error beneath it, is an I/O error of kind
/// `ConnectionRefused`.
pub fn is_refused(err: &(dyn Error + 'static)) -> bool {
    chain(err).any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::ConnectionRefused)
    })
}

/// Whether an error, or any error beneath it, says the host name does not
/// resolve (glibc "Name or service not known", "No address associated with
/// hostname"; BSD "nodename nor servname provided"), as opposed to a
/// temporary resolver failure.
pub fn is_unresolvable(err: &(dyn Error + 'static)) -> bool {
    chain(err).any(|e| {
        let text = e.to_string();
        text.contains("failed to lookup address information")
            && !text.contains("Temporary failure")
            && !text.contains("try again")
    })
}

/// An error and every error beneath it. `io::Error::source` skips the
/// error an `io::Error` wraps (it returns that error's source), so the
/// wrapped error is taken from `get_ref` instead.
fn chain<'a>(err: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(err), |&e| match e.downcast_ref::<io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn Error + 'static)),
        None => e.source(),
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use aws_sdk_s3::config::retry::RetryConfig;
    use aws_sdk_s3::config::timeout::TimeoutConfig;
    use aws_smithy_runtime_api::client::interceptors::context::{Input, InterceptorContext};
    use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
    use aws_smithy_runtime_api::client::result::ConnectorError;

    use super::*;

    fn classify(err: ConnectorError) -> RetryAction {
        let mut ctx = InterceptorContext::new(Input::erase(()));
        ctx.set_output_or_error(Err(OrchestratorError::connector(err)));
        RefusedIsFinal.classify_retry(&ctx)
    }

    fn io_error(kind: io::ErrorKind) -> Box<dyn Error + Send + Sync> {
        Box::new(io::Error::from(kind))
    }

    #[test]
    fn refused_is_forbidden_timeouts_and_resets_are_left_alone() {
        assert_eq!(
            classify(ConnectorError::io(io_error(
                io::ErrorKind::ConnectionRefused
            ))),
            RetryAction::RetryForbidden
        );
        assert_eq!(
            classify(ConnectorError::timeout(io_error(io::ErrorKind::TimedOut))),
            RetryAction::NoActionIndicated
        );
        assert_eq!(
            classify(ConnectorError::io(io_error(io::ErrorKind::ConnectionReset))),
            RetryAction::NoActionIndicated
        );
        let ctx = InterceptorContext::new(Input::erase(()));
        assert_eq!(
            RefusedIsFinal.classify_retry(&ctx),
            RetryAction::NoActionIndicated,
            "no result yet"
        );
    }

    #[test]
    fn refused_is_found_deep_in_the_chain() {
        // The shape hyper gives: a client error whose source is a connect
        // error wrapping the OS error.
        #[derive(Debug, thiserror::Error)]
        #[error("client error (Connect)")]
        struct Wrapper(#[source] io::Error);
        let nested = io::Error::other(Wrapper(io::Error::from(io::ErrorKind::ConnectionRefused)));
        assert!(is_refused(&Wrapper(nested)));
        assert!(!is_refused(&Wrapper(io::Error::other("tcp connect error"))));
    }

    #[test]
    fn an_unknown_host_is_final_a_temporary_resolver_failure_is_not() {
        let dns = |m: &str| {
            classify(ConnectorError::io(Box::new(io::Error::other(format!(
                "failed to lookup address information: {m}"
            )))))
        };
        assert_eq!(
            dns("Name or service not known"),
            RetryAction::RetryForbidden
        );
        assert_eq!(
            dns("nodename nor servname provided, or not known"),
            RetryAction::RetryForbidden
        );
        assert_eq!(
            dns("Temporary failure in name resolution"),
            RetryAction::NoActionIndicated
        );
    }

    /// An S3 client with few, short retries, its attempts counted.
    fn client(
        endpoint: &str,
        read_timeout: Duration,
    ) -> (aws_sdk_s3::Client, super::super::stats::ApiCounters) {
        let counters = super::super::stats::ApiCounters::default();
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::for_tests())
            .endpoint_url(endpoint)
            .force_path_style(true)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(1)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .read_timeout(read_timeout)
                    .build(),
            )
            .retry_classifier(RefusedIsFinal)
            .interceptor(counters.interceptor(firedrill_core::Service::S3))
            .build();
        (aws_sdk_s3::Client::from_conf(conf), counters)
    }

    #[tokio::test]
    async fn a_refused_endpoint_is_tried_once() {
        // Port 1 (tcpmux): nothing listens there, and unlike a port bound
        // and dropped it is never handed to a concurrent test's server.
        let port = 1;
        let (s3, counters) = client(&format!("http://127.0.0.1:{port}"), Duration::from_secs(5));
        let started = Instant::now();
        let err = s3.head_bucket().bucket("b").send().await.unwrap_err();
        assert!(
            aws_smithy_types::error::display::DisplayErrorContext(&err)
                .to_string()
                .to_lowercase()
                .contains("connection refused"),
            "{err:?}"
        );
        let stats = counters.snapshot()[&firedrill_core::Service::S3].clone();
        assert_eq!((stats.requests, stats.retries), (1, 0));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_silent_endpoint_waits_for_its_timeout_and_is_retried() {
        // Accepts connections and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                open.push(conn);
            }
        });
        let (s3, counters) = client(&format!("http://{addr}"), Duration::from_millis(200));
        let started = Instant::now();
        let _ = s3.head_bucket().bucket("b").send().await.unwrap_err();
        let stats = counters.snapshot()[&firedrill_core::Service::S3].clone();
        assert_eq!(
            (stats.requests, stats.retries),
            (3, 2),
            "every attempt timed out and was retried"
        );
        assert!(started.elapsed() >= Duration::from_millis(600));
        held.abort();
    }
}
