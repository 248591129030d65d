//! The HTTP clients firedrill hands the SDK: the SDK's own default for real
//! AWS (to wrap in the API rate limits of [`super::rate`]), and one per
//! emulator endpoint.
//!
//! Two things make a drill against `LocalStack` or moto much faster when
//! hundreds of targets run at once:
//!
//! - **Keep-alive, asked for explicitly.** `LocalStack`'s hypercorn gateway
//!   answers `Connection: close` unless the request itself says
//!   `Connection: keep-alive`, so every call would otherwise pay a new TCP
//!   connection (measured: 239 GET/s with a connection per request, 503 GET/s
//!   over kept-alive connections, same emulator, same machine).
//! - **A cap on requests in flight per endpoint.** Two hundred targets starting
//!   together would open two hundred connections to one single-threaded
//!   emulator and queue in its accept backlog until connects time out. The cap
//!   queues them in firedrill instead, where no timeout runs.
//!
//! Real AWS endpoints keep connections alive anyway. Emulator clients take
//! no proxy from the environment: an `HTTPS_PROXY` meant for AWS must not
//! carry loopback traffic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{Builder, ConnectorBuilder, tls};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use tokio::sync::Semaphore;

/// Requests in flight to one emulator endpoint (`host:port`). `LocalStack`
/// serves requests on one Python thread: more than this only lengthens its
/// queue.
pub const EMULATOR_IN_FLIGHT: usize = 32;

/// Emulator clients, one per endpoint, so every service behind one emulator
/// (S3, EC2 and STS on `LocalStack`) shares its cap.
#[derive(Debug, Default)]
pub struct EmulatorClients {
    by_endpoint: Mutex<HashMap<String, SharedHttpClient>>,
}

impl EmulatorClients {
    /// The client for an emulator endpoint URL.
    pub fn for_endpoint(&self, url: &str) -> SharedHttpClient {
        let key = endpoint_key(url);
        let mut map = self
            .by_endpoint
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(key)
            .or_insert_with(|| {
                let inner = Builder::new().tls_provider(tls()).build_https();
                SharedHttpClient::new(EmulatorClient::new(inner, EMULATOR_IN_FLIGHT))
            })
            .clone()
    }
}

/// The SDK's TLS provider: rustls with aws-lc.
fn tls() -> tls::Provider {
    tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc)
}

/// The HTTP client the SDK would build by default for AWS: rustls with
/// aws-lc and the proxy settings from the environment.
pub fn aws_https_client() -> SharedHttpClient {
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut conn = ConnectorBuilder::default().tls_provider(tls());
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    })
}

/// `host:port` of a URL, the unit a cap applies to.
fn endpoint_key(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    authority
        .rsplit('@')
        .next()
        .unwrap_or(authority)
        .to_string()
}

/// An HTTP client that asks for keep-alive and caps requests in flight.
#[derive(Debug)]
pub struct EmulatorClient {
    inner: SharedHttpClient,
    permits: Arc<Semaphore>,
}

impl EmulatorClient {
    pub fn new(inner: SharedHttpClient, in_flight: usize) -> Self {
        Self {
            inner,
            permits: Arc::new(Semaphore::new(in_flight.max(1))),
        }
    }
}

impl HttpClient for EmulatorClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(EmulatorConnector {
            inner: self.inner.http_connector(settings, components),
            permits: self.permits.clone(),
        })
    }
}

#[derive(Debug)]
struct EmulatorConnector {
    inner: SharedHttpConnector,
    permits: Arc<Semaphore>,
}

impl HttpConnector for EmulatorConnector {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        request.headers_mut().insert("connection", "keep-alive");
        let (inner, permits) = (self.inner.clone(), self.permits.clone());
        HttpConnectorFuture::new(async move {
            // The semaphore is never closed, so acquiring cannot fail; if it
            // somehow did, sending uncapped is still correct.
            let _permit = permits.acquire_owned().await.ok();
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    /// A connector that records the headers it saw and how many calls were
    /// in flight at once.
    #[derive(Debug, Default)]
    struct Recording {
        now: AtomicUsize,
        peak: AtomicUsize,
        connection: Mutex<Vec<String>>,
    }

    #[derive(Debug, Clone, Default)]
    struct RecordingConnector(Arc<Recording>);

    impl HttpConnector for RecordingConnector {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let rec = self.0.clone();
            rec.connection.lock().unwrap().push(
                request
                    .headers()
                    .get("connection")
                    .unwrap_or("")
                    .to_string(),
            );
            HttpConnectorFuture::new(async move {
                let n = rec.now.fetch_add(1, Ordering::SeqCst) + 1;
                rec.peak.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                rec.now.fetch_sub(1, Ordering::SeqCst);
                Ok(HttpResponse::new(200.try_into().unwrap(), SdkBody::empty()))
            })
        }
    }

    fn request() -> HttpRequest {
        HttpRequest::get("http://127.0.0.1:4566/bucket").unwrap()
    }

    #[tokio::test]
    async fn asks_for_keep_alive_and_caps_requests_in_flight() {
        let rec = RecordingConnector::default();
        let conn = EmulatorConnector {
            inner: SharedHttpConnector::new(rec.clone()),
            permits: Arc::new(Semaphore::new(4)),
        };
        let calls: Vec<_> = (0..20).map(|_| conn.call(request())).collect();
        for r in futures::future::join_all(calls).await {
            assert_eq!(r.unwrap().status().as_u16(), 200);
        }
        assert_eq!(rec.0.peak.load(Ordering::SeqCst), 4, "at most 4 in flight");
        let seen = rec.0.connection.lock().unwrap().clone();
        assert_eq!(seen.len(), 20);
        assert!(seen.iter().all(|c| c == "keep-alive"), "{seen:?}");
    }

    #[test]
    fn one_cap_per_host_and_port() {
        assert_eq!(endpoint_key("http://127.0.0.1:4566"), "127.0.0.1:4566");
        assert_eq!(endpoint_key("http://127.0.0.1:4566/"), "127.0.0.1:4566");
        assert_eq!(
            endpoint_key("http://u:p@localhost:5001/x?y"),
            "localhost:5001"
        );
        let clients = EmulatorClients::default();
        let _ = clients.for_endpoint("http://127.0.0.1:4566");
        let _ = clients.for_endpoint("http://127.0.0.1:4566/");
        let _ = clients.for_endpoint("http://127.0.0.1:5001");
        assert_eq!(clients.by_endpoint.lock().unwrap().len(), 2);
    }
}
