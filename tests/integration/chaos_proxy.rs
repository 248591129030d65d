//! A fault-injecting HTTP/1.1 proxy for tests: forwards to an emulator and,
//! for a deterministic share of requests (by request number), answers with
//! the service's own throttling error, a 500 `InternalError`, delays the
//! real response, or resets the connection without answering. Faults that
//! replace a response are injected before the request is forwarded, so the
//! emulator never sees it.
//!
//! The throttling answer is the one the addressed service gives (see
//! `chaos_answers`). One proxy can stand in front of `LocalStack` (S3, EC2,
//! STS) and another in front of moto (RDS), each counting per service.
//!
//! Framing: requests carry `Content-Length` or chunked bodies (an `Expect:
//! 100-continue` is answered by the proxy); responses are `Content-Length`,
//! chunked, bodiless (HEAD, 1xx, 204, 304) or end at close.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::chaos_answers::{internal_error_response, service_of, throttle_response};

/// Which requests get which fault: a service's request `n` (counted from 0
/// per service, across all connections) gets the fault whose slots hold
/// `n % cycle`. Counting per service makes the share hold for each service
/// behind one proxy, however their requests interleave.
#[derive(Clone, Copy, Debug)]
pub struct FaultPlan {
    pub cycle: usize,
    /// Answered with the service's throttling error.
    pub throttle: &'static [usize],
    pub internal_error: &'static [usize],
    pub delay: &'static [usize],
    /// The connection is reset (RST) without an answer.
    pub reset: &'static [usize],
    /// How long a delayed response is held back.
    pub delay_by: Duration,
    /// Added to every forwarded response (slows the whole drill evenly).
    pub latency: Duration,
}

impl FaultPlan {
    /// Forward everything untouched.
    pub fn pass_through() -> Self {
        Self {
            cycle: 1,
            throttle: &[],
            internal_error: &[],
            delay: &[],
            reset: &[],
            delay_by: Duration::ZERO,
            latency: Duration::ZERO,
        }
    }

    /// Every response held back by `latency`.
    pub fn slow(latency: Duration) -> Self {
        Self {
            latency,
            ..Self::pass_through()
        }
    }

    /// A throttling storm: 3 requests in every 10 throttled, spread over
    /// the cycle so that back-to-back requests are not all hit; with
    /// `resets`, 1 more in every 10 reset.
    pub fn storm(resets: bool) -> Self {
        Self {
            cycle: 10,
            throttle: &[1, 4, 7],
            reset: if resets { &[9] } else { &[] },
            ..Self::pass_through()
        }
    }

    fn pick(&self, n: usize) -> Injected {
        let slot = n % self.cycle.max(1);
        if self.throttle.contains(&slot) {
            Injected::Throttle
        } else if self.internal_error.contains(&slot) {
            Injected::InternalError
        } else if self.delay.contains(&slot) {
            Injected::Delay
        } else if self.reset.contains(&slot) {
            Injected::Reset
        } else {
            Injected::None
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Injected {
    None,
    Throttle,
    InternalError,
    Delay,
    Reset,
}

/// What the proxy did to one service's requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceCounts {
    pub requests: usize,
    pub throttled: usize,
    pub resets: usize,
}

/// What the proxy did.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicUsize,
    pub forwarded: AtomicUsize,
    pub throttled: AtomicUsize,
    pub internal_error: AtomicUsize,
    pub delayed: AtomicUsize,
    pub resets: AtomicUsize,
    by_service: Mutex<BTreeMap<String, ServiceCounts>>,
}

impl Stats {
    pub fn get(n: &AtomicUsize) -> usize {
        n.load(Ordering::SeqCst)
    }

    /// The counts of one service (`s3`, `ec2`, `rds`, `sts`).
    pub fn service(&self, name: &str) -> ServiceCounts {
        self.by_service().get(name).copied().unwrap_or_default()
    }

    pub fn by_service(&self) -> BTreeMap<String, ServiceCounts> {
        self.lock().clone()
    }

    /// Count a request arriving for `service`; returns its number among
    /// that service's requests.
    fn arrive(&self, service: &str) -> usize {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let mut by_service = self.lock();
        let c = by_service.entry(service.to_string()).or_default();
        c.requests += 1;
        c.requests - 1
    }

    /// Count what was done to a request.
    fn count(&self, service: &str, injected: Injected) {
        let total = match injected {
            Injected::Throttle => Some(&self.throttled),
            Injected::InternalError => Some(&self.internal_error),
            Injected::Delay => Some(&self.delayed),
            Injected::Reset => Some(&self.resets),
            Injected::None => None,
        };
        if let Some(n) = total {
            n.fetch_add(1, Ordering::SeqCst);
        }
        let mut by_service = self.lock();
        let c = by_service.entry(service.to_string()).or_default();
        c.throttled += usize::from(injected == Injected::Throttle);
        c.resets += usize::from(injected == Injected::Reset);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ServiceCounts>> {
        self.by_service
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn summary(&self) -> String {
        let services: Vec<String> = self
            .by_service()
            .iter()
            .map(|(s, c)| {
                format!(
                    "{s} {} (throttled {}, reset {})",
                    c.requests, c.throttled, c.resets
                )
            })
            .collect();
        format!(
            "{} request(s): {} forwarded, {} throttled, {} InternalError, {} delayed, {} reset [{}]",
            Self::get(&self.requests),
            Self::get(&self.forwarded),
            Self::get(&self.throttled),
            Self::get(&self.internal_error),
            Self::get(&self.delayed),
            Self::get(&self.resets),
            services.join("; ")
        )
    }
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    pub url: String,
    pub stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Listen on 127.0.0.1:0 and forward to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str, plan: FaultPlan) -> Self {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("upstream is http://ip:port");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stats = Arc::new(Stats::default());
        let st = stats.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let st = st.clone();
                tokio::spawn(async move {
                    let _ = serve(conn, upstream, plan, &st).await;
                });
            }
        });
        Self { url, stats, task }
    }
}

/// One HTTP message as raw bytes plus what framing needs.
struct Message {
    raw: Vec<u8>,
    method: String,
    close: bool,
    /// For requests: the AWS service addressed (`s3` when unknown).
    service: String,
}

async fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    plan: FaultPlan,
    stats: &Stats,
) -> std::io::Result<()> {
    let mut client = BufReader::new(client);
    let mut up: Option<BufReader<TcpStream>> = None;
    loop {
        let Some(req) = read_message(&mut client, None).await? else {
            return Ok(());
        };
        let n = stats.arrive(&req.service);
        let injected = plan.pick(n);
        stats.count(&req.service, injected);
        let answer = match injected {
            Injected::Reset => {
                // RST instead of FIN: the client sees "connection reset";
                // the request never reaches upstream.
                client.get_ref().set_zero_linger()?;
                return Ok(());
            }
            Injected::Throttle => Some(throttle_response(&req.service, &req.method, n)),
            Injected::InternalError => Some(internal_error_response(&req.service, &req.method, n)),
            Injected::Delay | Injected::None => None,
        };
        if let Some(answer) = answer {
            client.get_mut().write_all(&answer).await?;
            continue;
        }
        let Some(resp) = forward(&mut up, upstream, &req).await? else {
            return Ok(());
        };
        stats.forwarded.fetch_add(1, Ordering::SeqCst);
        if injected == Injected::Delay {
            tokio::time::sleep(plan.delay_by).await;
        }
        if !plan.latency.is_zero() {
            tokio::time::sleep(plan.latency).await;
        }
        client.get_mut().write_all(&resp.raw).await?;
        if resp.close || req.close {
            return Ok(());
        }
    }
}

/// Send a request upstream and read the answer, on the kept connection or,
/// when the emulator closed that one while it was idle, on a new one (so the
/// client sees only the faults the plan injects).
async fn forward(
    up: &mut Option<BufReader<TcpStream>>,
    upstream: SocketAddr,
    req: &Message,
) -> std::io::Result<Option<Message>> {
    loop {
        let fresh = up.is_none();
        if fresh {
            *up = Some(BufReader::new(TcpStream::connect(upstream).await?));
        }
        let conn = up.as_mut().expect("connected above");
        let answer = match conn.get_mut().write_all(&req.raw).await {
            Ok(()) => read_message(conn, Some(&req.method)).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(Some(resp)) => return Ok(Some(resp)),
            _ if !fresh => *up = None,
            other => return other,
        }
    }
}

/// Read one message; `request_method` is `Some` when reading a response.
async fn read_message(
    r: &mut BufReader<TcpStream>,
    request_method: Option<&str>,
) -> std::io::Result<Option<Message>> {
    let mut raw = Vec::new();
    let mut line = Vec::new();
    if r.read_until(b'\n', &mut line).await? == 0 {
        return Ok(None);
    }
    let start = String::from_utf8_lossy(&line).trim_end().to_string();
    raw.extend_from_slice(&line);
    let mut length: Option<usize> = None;
    let (mut chunked, mut close, mut expect_continue) = (false, false, false);
    let mut authorization: Option<String> = None;
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        if text.is_empty() {
            raw.extend_from_slice(&line);
            break;
        }
        let (name, value) = text.split_once(':').unwrap_or((&text, ""));
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "content-length" => length = value.parse().ok(),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "connection" => close = value.eq_ignore_ascii_case("close"),
            "authorization" => authorization = Some(value.to_string()),
            "expect" if request_method.is_none() => {
                // The proxy says "continue" itself and forwards without it.
                expect_continue = value.eq_ignore_ascii_case("100-continue");
                continue;
            }
            _ => {}
        }
        raw.extend_from_slice(&line);
    }
    let head_len = raw.len();
    let mut parts = start.split_whitespace();
    let first = parts.next().unwrap_or_default().to_string();
    let second = parts.next().unwrap_or_default();
    let (method, status) = match request_method {
        None => (first, 0),
        Some(m) => (m.to_string(), second.parse().unwrap_or(0)),
    };
    if expect_continue {
        r.get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await?;
    }
    let bodiless = request_method.is_some()
        && (method.eq_ignore_ascii_case("HEAD")
            || (100..200).contains(&status)
            || status == 204
            || status == 304);
    if bodiless {
        // Nothing follows the head.
    } else if chunked {
        loop {
            line.clear();
            r.read_until(b'\n', &mut line).await?;
            raw.extend_from_slice(&line);
            let size_text = String::from_utf8_lossy(&line);
            let size =
                usize::from_str_radix(size_text.trim().split(';').next().unwrap_or("0").trim(), 16)
                    .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidData))?;
            if size == 0 {
                // Trailers up to the empty line.
                loop {
                    line.clear();
                    r.read_until(b'\n', &mut line).await?;
                    raw.extend_from_slice(&line);
                    if line == b"\r\n" || line == b"\n" || line.is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk).await?;
            raw.extend_from_slice(&chunk);
        }
    } else if let Some(n) = length {
        let mut body = vec![0; n];
        r.read_exact(&mut body).await?;
        raw.extend_from_slice(&body);
    } else if request_method.is_some() {
        r.read_to_end(&mut raw).await?;
        close = true;
    }
    let service = service_of(authorization.as_deref(), &raw[head_len..]);
    Ok(Some(Message {
        raw,
        method,
        close,
        service,
    }))
}
