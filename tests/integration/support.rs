//! Test harness: run the CLI fluently, reach the emulators, make scenarios.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Endpoints of the emulators `make test` starts (`localstack/env`).
pub fn s3_endpoint() -> String {
    std::env::var("FIREDRILL_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:4566".into())
}

pub fn ec2_endpoint() -> String {
    std::env::var("FIREDRILL_EC2_ENDPOINT").unwrap_or_else(|_| s3_endpoint())
}

pub fn rds_endpoint() -> String {
    std::env::var("FIREDRILL_RDS_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:5001".into())
}

/// Panics with the fix when an emulator is down: a test that needs one
/// must fail, never skip.
pub fn require(endpoint: &str) {
    let addr = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let ok = addr
        .parse::<std::net::SocketAddr>()
        .ok()
        .and_then(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).ok())
        .is_some();
    assert!(
        ok,
        "emulator at {endpoint} is not running: start it with `make emulators` (or run `make test`)"
    );
}

/// A unique, DNS-safe name for this test process.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{n}-{:x}", std::process::id(), nanos & 0xffff)
}

/// The `[environment]` block pointing at the emulators.
pub fn emulator_environment() -> String {
    format!(
        "[environment]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n\n[environment.endpoints]\nec2 = \"{}\"\nrds = \"{}\"\n",
        s3_endpoint(),
        ec2_endpoint(),
        rds_endpoint()
    )
}

/// An example scenario from `scenarios/` on the test's emulators (its
/// `[environment]` block replaced), with `edits` (from, to) applied.
pub fn example(file: &str, edits: &[(&str, &str)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let (start, end) = (
        text.find("[environment]").unwrap(),
        text.find("[objectives]").unwrap(),
    );
    let text = format!(
        "{}{}\n{}",
        &text[..start],
        emulator_environment(),
        &text[end..]
    );
    edited(file, text, edits)
}

/// `text` (of `file`) with every (from, to) replaced; each must be there.
pub fn edited(file: &str, mut text: String, edits: &[(&str, &str)]) -> String {
    for (from, to) in edits {
        assert!(text.contains(from), "{file} has no `{from}`");
        text = text.replace(from, to);
    }
    text
}

/// A scratch directory holding scenarios and reports for one test.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn reports(&self) -> PathBuf {
        self.dir.path().join("reports")
    }

    /// Write a scenario file and return its path.
    pub fn scenario(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A `firedrill` command with this workspace's reports directory.
    pub fn firedrill(&self) -> Firedrill {
        let mut f = firedrill();
        f.cmd.env("FIREDRILL_REPORTS_DIR", self.reports());
        f
    }

    /// The single run directory of `scenario` (panics unless exactly one).
    pub fn run_dir(&self, scenario: &str) -> PathBuf {
        let mut runs: Vec<PathBuf> = std::fs::read_dir(self.reports().join(scenario))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(runs.len(), 1, "expected one run of {scenario}: {runs:?}");
        runs.pop().unwrap()
    }

    /// `report.json` of the single run of `scenario`.
    pub fn report(&self, scenario: &str) -> serde_json::Value {
        let p = self.run_dir(scenario).join("report.json");
        serde_json::from_slice(
            &std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        )
        .unwrap()
    }
}

/// The CLI under test.
pub struct Firedrill {
    pub cmd: Command,
}

pub fn firedrill() -> Firedrill {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_firedrill"));
    cmd.env("CI", "true")
        .env("NO_COLOR", "1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null());
    Firedrill { cmd }
}

/// What a CLI run printed and returned.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    fn from(out: Output) -> Self {
        Self {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Assert the exit code, showing the output when it differs.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "exit code {} (expected {expected})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

impl Firedrill {
    pub fn arg(mut self, a: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(a);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    pub fn env_remove(mut self, k: &str) -> Self {
        self.cmd.env_remove(k);
        self
    }

    /// Run to completion.
    pub fn run(mut self) -> Ran {
        Ran::from(self.cmd.output().expect("firedrill binary runs"))
    }

    /// Start without waiting (for kill tests).
    pub fn spawn(mut self) -> std::process::Child {
        self.cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("firedrill binary starts")
    }
}

/// An S3 client for the emulator.
pub async fn s3() -> aws_sdk_s3::Client {
    require(&s3_endpoint());
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(s3_endpoint())
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// Create a bucket with `n` deterministic objects; returns their keys.
pub async fn seed_bucket(s3: &aws_sdk_s3::Client, bucket: &str, n: usize) -> Vec<String> {
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let mut keys = Vec::new();
    for i in 0..n {
        let key = format!("data/item-{i:04}.txt");
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .body(format!("item {i}\n").repeat(20).into_bytes().into())
            .send()
            .await
            .unwrap();
        keys.push(key);
    }
    keys
}

/// Every key in a bucket.
pub async fn keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(p) = pages.next().await {
        out.extend(
            p.unwrap()
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
    }
    out
}

/// Every bucket whose name contains `needle`.
pub async fn buckets_containing(s3: &aws_sdk_s3::Client, needle: &str) -> Vec<String> {
    s3.list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_string))
        .filter(|n| n.contains(needle))
        .collect()
}

/// Delete a test's own source bucket and everything in it.
pub async fn drop_bucket(s3: &aws_sdk_s3::Client, bucket: &str) {
    let keys = keys(s3, bucket).await;
    for k in keys {
        s3.delete_object()
            .bucket(bucket)
            .key(k)
            .send()
            .await
            .unwrap();
    }
    s3.delete_bucket().bucket(bucket).send().await.unwrap();
}

/// Every file under a directory, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
