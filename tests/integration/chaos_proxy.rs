//! A fault-injecting HTTP/1.1 proxy for tests: forwards to an emulator and,
//! for a deterministic share of requests (by request number), answers with
//! 503 `SlowDown`, 500 `InternalError`, delays the real response, or closes
//! the connection without answering. Faults that replace a response are
//! injected before the request is forwarded, so the emulator never sees it.
//!
//! Framing: requests carry `Content-Length` or chunked bodies (an `Expect:
//! 100-continue` is answered by the proxy); responses are `Content-Length`,
//! chunked, bodiless (HEAD, 1xx, 204, 304) or end at close.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Which requests get which fault: request `n` (counted from 0 across all
/// connections) gets the fault whose slot equals `n % cycle`.
#[derive(Clone, Copy, Debug)]
pub struct FaultPlan {
    pub cycle: usize,
    pub slow_down: Option<usize>,
    pub internal_error: Option<usize>,
    pub delay: Option<usize>,
    pub reset: Option<usize>,
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
            slow_down: None,
            internal_error: None,
            delay: None,
            reset: None,
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

    fn pick(&self, n: usize) -> Injected {
        let slot = Some(n % self.cycle.max(1));
        if slot == self.slow_down {
            Injected::SlowDown
        } else if slot == self.internal_error {
            Injected::InternalError
        } else if slot == self.delay {
            Injected::Delay
        } else if slot == self.reset {
            Injected::Reset
        } else {
            Injected::None
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Injected {
    None,
    SlowDown,
    InternalError,
    Delay,
    Reset,
}

/// What the proxy did.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicUsize,
    pub forwarded: AtomicUsize,
    pub slow_down: AtomicUsize,
    pub internal_error: AtomicUsize,
    pub delayed: AtomicUsize,
    pub resets: AtomicUsize,
}

impl Stats {
    pub fn get(n: &AtomicUsize) -> usize {
        n.load(Ordering::SeqCst)
    }

    pub fn summary(&self) -> String {
        format!(
            "{} request(s): {} forwarded, {} SlowDown, {} InternalError, {} delayed, {} reset",
            Self::get(&self.requests),
            Self::get(&self.forwarded),
            Self::get(&self.slow_down),
            Self::get(&self.internal_error),
            Self::get(&self.delayed),
            Self::get(&self.resets)
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
}

fn error_response(status: u16, code: &str, message: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>chaos-proxy</RequestId><HostId>chaos</HostId></Error>"
    );
    let reason = if status == 503 {
        "Service Unavailable"
    } else {
        "Internal Server Error"
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/xml\r\nx-amz-request-id: chaos-proxy\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
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
        let n = stats.requests.fetch_add(1, Ordering::SeqCst);
        let injected = plan.pick(n);
        match injected {
            Injected::Reset => {
                stats.resets.fetch_add(1, Ordering::SeqCst);
                // Close without a response; the request never reaches upstream.
                return Ok(());
            }
            Injected::SlowDown => {
                stats.slow_down.fetch_add(1, Ordering::SeqCst);
                client
                    .get_mut()
                    .write_all(&error_response(
                        503,
                        "SlowDown",
                        "Please reduce your request rate.",
                    ))
                    .await?;
                continue;
            }
            Injected::InternalError => {
                stats.internal_error.fetch_add(1, Ordering::SeqCst);
                client
                    .get_mut()
                    .write_all(&error_response(
                        500,
                        "InternalError",
                        "We encountered an internal error. Please try again.",
                    ))
                    .await?;
                continue;
            }
            Injected::Delay | Injected::None => {}
        }
        if up.is_none() {
            up = Some(BufReader::new(TcpStream::connect(upstream).await?));
        }
        let conn = up.as_mut().expect("connected above");
        conn.get_mut().write_all(&req.raw).await?;
        let Some(resp) = read_message(conn, Some(&req.method)).await? else {
            return Ok(());
        };
        stats.forwarded.fetch_add(1, Ordering::SeqCst);
        if injected == Injected::Delay {
            stats.delayed.fetch_add(1, Ordering::SeqCst);
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
            "expect" if request_method.is_none() => {
                // The proxy says "continue" itself and forwards without it.
                expect_continue = value.eq_ignore_ascii_case("100-continue");
                continue;
            }
            _ => {}
        }
        raw.extend_from_slice(&line);
    }
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
    Ok(Some(Message { raw, method, close }))
}
