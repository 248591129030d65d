//! The two data paths: `pg_dump -Fc` stdout → S3 multipart upload, and S3
//! object body → `pg_restore` stdin. Both hash the bytes as they pass and
//! hold at most a few parts in memory; neither writes a temporary file.

use std::collections::VecDeque;
use std::process::Stdio;

use bytes::BytesMut;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::aws::s3_stream::{self as api, Multipart};
use crate::sql::ConnSpec;
use firedrill_core::AwsError;
use firedrill_core::StageError;

/// Size of one uploaded part.
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts uploading at once while the next one fills.
const IN_FLIGHT: usize = 2;
/// Bytes of a child's stderr kept for error messages.
const STDERR_KEEP: usize = 8 * 1024;

/// What passed through a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Streamed {
    pub bytes: u64,
    pub sha256: String,
    pub parts: usize,
}

/// Start a `PostgreSQL` client tool; the password goes into its environment only.
pub fn spawn_tool(
    program: &str,
    args: &[String],
    conn: &ConnSpec,
    stdin: bool,
) -> Result<Child, StageError> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_remove("PGPASSWORD")
        .env_remove("PGSERVICE")
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in conn
        .child_env()
        .map_err(|e| StageError::Environment(e.to_string()))?
    {
        cmd.env(k, v);
    }
    cmd.spawn().map_err(|e| {
        StageError::Environment(format!(
            "cannot start `{program}`: {e} (hint: install the PostgreSQL client tools, e.g. `apt-get install postgresql-client`, and put them on PATH)"
        ))
    })
}

/// Collect a child's stderr in the background (tail only).
pub fn collect_stderr(child: &mut Child) -> JoinHandle<String> {
    let stderr = child.stderr.take();
    tokio::spawn(async move {
        let Some(mut s) = stderr else {
            return String::new();
        };
        let mut keep: Vec<u8> = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
            keep.extend_from_slice(&buf[..n]);
            if keep.len() > 2 * STDERR_KEEP {
                keep.drain(..keep.len() - STDERR_KEEP);
            }
        }
        String::from_utf8_lossy(&keep).trim().to_string()
    })
}

/// Read into `buf` until it holds `PART_SIZE` bytes or the input ends.
async fn fill<R: AsyncRead + Unpin>(r: &mut R, buf: &mut BytesMut) -> std::io::Result<bool> {
    while buf.len() < PART_SIZE {
        if r.read_buf(buf).await? == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Upload everything `input` yields as the parts of `up`; does not
/// complete or abort the upload.
pub async fn upload_parts<R: AsyncRead + Unpin>(
    s3: &aws_sdk_s3::Client,
    up: &Multipart,
    mut input: R,
) -> Result<(Streamed, Vec<aws_sdk_s3::types::CompletedPart>), StageError> {
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut in_flight: VecDeque<JoinHandle<Result<_, AwsError>>> = VecDeque::new();
    let mut done = Vec::new();
    let mut number = 0i32;
    loop {
        let mut buf = BytesMut::with_capacity(PART_SIZE);
        let more = fill(&mut input, &mut buf)
            .await
            .map_err(|e| StageError::Failed(format!("reading pg_dump output: {e}")))?;
        if !buf.is_empty() || number == 0 {
            hasher.update(&buf);
            total += buf.len() as u64;
            number += 1;
            while in_flight.len() >= IN_FLIGHT {
                done.push(join(in_flight.pop_front()).await?);
            }
            let (s3, up, body) = (s3.clone(), up.clone(), buf.freeze());
            in_flight.push_back(tokio::spawn(async move {
                api::upload_part(&s3, &up, number, body).await
            }));
        }
        if !more {
            break;
        }
    }
    while let Some(h) = in_flight.pop_front() {
        done.push(join(Some(h)).await?);
    }
    Ok((
        Streamed {
            bytes: total,
            sha256: hex::encode(hasher.finalize()),
            parts: done.len(),
        },
        done,
    ))
}

async fn join<T>(h: Option<JoinHandle<Result<T, AwsError>>>) -> Result<T, StageError> {
    match h {
        Some(h) => match h.await {
            Ok(r) => Ok(r?),
            Err(e) => Err(StageError::Failed(format!("part upload crashed: {e}"))),
        },
        None => Err(StageError::Failed("no part in flight".into())),
    }
}

/// Stream an S3 object into a child's stdin, hashing it; closes stdin at the end.
pub async fn download_into(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    child: &mut Child,
) -> Result<Streamed, StageError> {
    let (_, mut body) = api::open(s3, bucket, key).await?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| StageError::Failed("pg_restore has no stdin".into()))?;
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut chunks = 0usize;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| api::body_error(&e))?;
        hasher.update(&chunk);
        total += chunk.len() as u64;
        chunks += 1;
        if let Err(e) = stdin.write_all(&chunk).await {
            return Err(StageError::Failed(format!(
                "pg_restore stopped reading its input after {total} bytes: {e}"
            )));
        }
    }
    stdin
        .shutdown()
        .await
        .map_err(|e| StageError::Failed(format!("closing pg_restore's input: {e}")))?;
    drop(stdin);
    Ok(Streamed {
        bytes: total,
        sha256: hex::encode(hasher.finalize()),
        parts: chunks,
    })
}
