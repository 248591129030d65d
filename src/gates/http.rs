//! One attempt of an `http` gate: send the request, judge the answer
//! (status, body contains / regex / JSON pointer equals).

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::Attempt;
use crate::scenario::gates::HttpGate;

/// Most of an answer's body read and kept.
pub const MAX_BODY: usize = 1024 * 1024;

pub type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client for gates: http and https (system roots), no proxy.
pub fn client() -> Result<HttpsClient, String> {
    // The provider is named: with more than one compiled in, rustls
    // would not pick one by itself.
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| format!("cannot load the system's TLS roots: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// The request as rendered from the templates.
pub struct Request {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// Send the request once and judge the answer.
pub async fn attempt(client: &HttpsClient, gate: &HttpGate, req: &Request) -> Attempt {
    let mut builder = hyper::Request::builder()
        .method(gate.method.as_str())
        .uri(&req.url);
    for (k, v) in &req.headers {
        builder = builder.header(k, v);
    }
    let body = Full::new(Bytes::from(req.body.clone().unwrap_or_default()));
    let request = match builder.body(body) {
        Ok(r) => r,
        Err(e) => return Attempt::failed(format!("invalid request to {}: {e}", req.url)),
    };
    let response = match client.request(request).await {
        Ok(r) => r,
        Err(e) => {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            return Attempt::failed(format!("{} {}: {msg}", gate.method.as_str(), req.url));
        }
    };
    let status = response.status().as_u16();
    let body = match Limited::new(response.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Attempt::failed(format!("reading the answer of {}: {e}", req.url)),
    };
    let text = String::from_utf8_lossy(&body);
    match judge(gate, status, &text) {
        Ok(detail) => Attempt::passed(format!("{} {}: {detail}", gate.method.as_str(), req.url)),
        Err(why) => Attempt::failed(format!("{} {}: {why}", gate.method.as_str(), req.url)),
    }
}

/// Whether an answer passes: every expectation the gate sets, in order.
pub fn judge(gate: &HttpGate, status: u16, body: &str) -> Result<String, String> {
    if status != gate.status {
        return Err(format!(
            "status {status}, expected {} (body: {})",
            gate.status,
            firedrill_core::input::clip(body.trim())
        ));
    }
    let mut proven = vec![format!("status {status}")];
    if let Some(needle) = &gate.body_contains {
        if !body.contains(needle.as_str()) {
            return Err(format!("the body does not contain {needle:?}"));
        }
        proven.push(format!("body contains {needle:?}"));
    }
    if let Some(re) = &gate.body_regex {
        if !re.is_match(body) {
            return Err(format!("the body does not match /{}/", re.as_str()));
        }
        proven.push(format!("body matches /{}/", re.as_str()));
    }
    if let Some((pointer, want)) = &gate.json {
        let value: serde_json::Value =
            serde_json::from_str(body).map_err(|e| format!("the body is not JSON ({e})"))?;
        match value.pointer(pointer) {
            Some(v) if json_equal(v, want) => proven.push(format!("{pointer} = {v}")),
            Some(v) => return Err(format!("{pointer} is {v}, expected {want}")),
            None => return Err(format!("the JSON answer has nothing at {pointer}")),
        }
    }
    Ok(proven.join(", "))
}

/// JSON equality where `42` and `42.0` are the same number.
fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < f64::EPSILON,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::gates::HttpMethod;
    use crate::scenario::template::Template;

    fn gate() -> HttpGate {
        HttpGate {
            url: Template::literal("http://x/"),
            method: HttpMethod::Get,
            headers: Vec::new(),
            body: None,
            status: 200,
            body_contains: None,
            body_regex: None,
            json: None,
        }
    }

    #[test]
    fn answers_are_judged_by_every_expectation() {
        let mut g = gate();
        g.body_contains = Some("orders".into());
        g.body_regex = Some(regex::Regex::new(r"count: \d+").unwrap());
        assert!(judge(&g, 200, "orders count: 3").is_ok());
        assert_eq!(
            judge(&g, 503, "starting").unwrap_err(),
            "status 503, expected 200 (body: starting)"
        );
        assert!(
            judge(&g, 200, "count: 3")
                .unwrap_err()
                .contains("does not contain")
        );
        assert!(
            judge(&g, 200, "orders count: x")
                .unwrap_err()
                .contains("does not match")
        );

        let mut g = gate();
        g.json = Some(("/orders/0/id".into(), serde_json::json!(42)));
        assert_eq!(
            judge(&g, 200, r#"{"orders":[{"id":42.0}]}"#).unwrap(),
            "status 200, /orders/0/id = 42.0"
        );
        assert!(
            judge(&g, 200, r#"{"orders":[{"id":7}]}"#)
                .unwrap_err()
                .contains("is 7, expected 42")
        );
        assert!(
            judge(&g, 200, r#"{"orders":[]}"#)
                .unwrap_err()
                .contains("nothing at")
        );
        assert!(judge(&g, 200, "<html>").unwrap_err().contains("not JSON"));
    }
}
