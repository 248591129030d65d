//! A small HTTP(S) client for webhooks and the Pushgateway: HTTP/1.1 over
//! hyper, TLS by rustls with the system's root certificates.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Method;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// One request, sent as many times as the delivery policy allows.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

/// What one attempt got back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The start of the body, for error messages.
    pub body: String,
}

/// Most of a response body kept for messages.
const BODY_SNIPPET: usize = 200;

/// The client, built once per run.
#[derive(Clone)]
pub struct Http {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http").finish_non_exhaustive()
    }
}

impl Http {
    /// A client trusting the system's root certificates. Without any,
    /// plain `http://` still works and `https://` fails per request.
    pub fn new() -> Self {
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match builder.with_provider_and_native_roots(provider.clone()) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("no system root certificates ({e}); https notifications will fail");
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .expect("the default provider supports the default versions")
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
            }
        };
        let connector = builder.https_or_http().enable_http1().build();
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    /// Send once, within `timeout`. Errors are messages (connection
    /// refused, timeout, invalid URL) that never contain the URL's path.
    pub async fn send(&self, req: &Request, timeout: Duration) -> Result<Response, String> {
        let mut builder = hyper::Request::builder()
            .method(req.method.clone())
            .uri(&req.url)
            .header(
                "user-agent",
                concat!("firedrill/", env!("CARGO_PKG_VERSION")),
            );
        for (k, v) in &req.headers {
            builder = builder.header(*k, v);
        }
        let request = builder
            .body(Full::new(req.body.clone()))
            .map_err(|e| format!("invalid request: {e}"))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| describe(&e))?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes)
                .unwrap_or_default();
            let mut body = String::from_utf8_lossy(&body).into_owned();
            body.truncate(body.floor_char_boundary(BODY_SNIPPET));
            Ok(Response { status, body })
        };
        tokio::time::timeout(timeout, exchange).await.map_err(|_| {
            format!(
                "no answer within {}",
                firedrill_core::timing::human(timeout)
            )
        })?
    }
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

/// The innermost cause of a client error (e.g. "Connection refused").
fn describe(e: &hyper_util::client::legacy::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut msg = e.to_string();
    while let Some(s) = source {
        msg = s.to_string();
        source = s.source();
    }
    msg
}

/// `scheme://host[:port]/…`: a URL as shown in findings and logs, without
/// its path, query or credentials (Slack webhook URLs are secrets).
pub fn display_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(invalid URL)".to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = rest[..end]
        .rsplit_once('@')
        .map_or(&rest[..end], |(_, h)| h);
    format!("{scheme}://{host}/…")
}

#[cfg(test)]
mod tests {
    #[test]
    fn display_url_hides_path_query_and_credentials() {
        assert_eq!(
            super::display_url("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            super::display_url("http://u:p@127.0.0.1:9091?x=1"),
            "http://127.0.0.1:9091/…"
        );
        assert_eq!(super::display_url("nonsense"), "(invalid URL)");
    }
}
