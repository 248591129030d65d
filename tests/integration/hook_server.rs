//! A webhook receiver for tests: a plain `std` TCP server on 127.0.0.1
//! that records every request, checks `X-Firedrill-Signature` against the
//! secret it was given (401 when it does not match), and answers with a
//! scripted sequence of statuses (then 200).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Header names lowercased.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// The status answered.
    pub status: u16,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// A running receiver; stops with the test process.
pub struct HookServer {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

/// `sha256=<hex>` of HMAC-SHA256 over `body`, computed independently of
/// firedrill's code.
pub fn expected_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl HookServer {
    /// Start; each request to a path whose signature checks out gets the
    /// next status of `script` (200 once it is used up). With `secret`, a
    /// missing or wrong signature gets 401.
    pub fn start(secret: Option<&str>, script: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let (log, secret) = (received.clone(), secret.map(str::to_string));
        let mut script: std::collections::VecDeque<u16> = script.iter().copied().collect();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(mut req) = read_request(&mut stream) else {
                    continue;
                };
                let signed_ok = secret.as_deref().is_none_or(|s| {
                    req.headers.get("x-firedrill-signature")
                        == Some(&expected_signature(s, &req.body))
                });
                req.status = if signed_ok {
                    script.pop_front().unwrap_or(200)
                } else {
                    401
                };
                let answer = format!(
                    "HTTP/1.1 {} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    req.status
                );
                let _ = stream.write_all(answer.as_bytes());
                log.lock().unwrap().push(req);
            }
        });
        Self { url, received }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        method,
        path,
        headers,
        body,
        status: 0,
    })
}
