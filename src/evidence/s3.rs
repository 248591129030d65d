//! Evidence in S3: a run directory uploaded under
//! `s3://bucket/prefix/<scenario>/<run-id>/` (the local layout, so one
//! bucket collects the runs of every runner), `manifest.json` last so that
//! a run whose manifest is there is complete; the chain link of a new run
//! read from the newest manifest of its scenario in S3 (chains survive
//! ephemeral runners); a run downloaded back for `verify`; the run history
//! of a whole prefix for the index page.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_s3::Client;
use sha2::{Digest, Sha256};

use super::manifest::{MANIFEST_FILE, Manifest, PreviousLink, SIGNATURE_FILE};
use crate::aws::s3::{self as s3api, LockRetention};
use crate::history::HistoryEntry;
use crate::report::artifacts::list_files;
use firedrill_core::AwsError;

/// `s3://bucket/prefix`: where evidence goes. The prefix has no leading or
/// trailing `/` and may be empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceUri {
    pub bucket: String,
    pub prefix: String,
}

impl FromStr for EvidenceUri {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| format!("`{s}` is not an S3 URI (hint: write s3://bucket/prefix)"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            return Err(format!(
                "`{bucket}` is not an S3 bucket name (hint: 3 to 63 lowercase letters, digits, `-` and `.`)"
            ));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|p| p == "." || p == "..") || prefix.contains("//") {
            return Err(format!(
                "`{prefix}` is not a plain key prefix (hint: no `.`, `..` or empty segments)"
            ));
        }
        Ok(Self {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

impl fmt::Display for EvidenceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

impl EvidenceUri {
    /// The URI one level down: `…/prefix/<name>`.
    #[must_use]
    pub fn join(&self, name: &str) -> Self {
        Self {
            bucket: self.bucket.clone(),
            prefix: self.key(name),
        }
    }

    /// The key of `rel` under the prefix.
    pub fn key(&self, rel: &str) -> String {
        if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.prefix)
        }
    }

    /// The listing prefix: every key under this URI starts with it.
    fn dir(&self) -> String {
        self.key("")
    }

    /// The last segment (a run id, for a run's URI) and the URI above it.
    fn split_last(&self) -> Option<(Self, &str)> {
        let (parent, last) = self.prefix.rsplit_once('/').unwrap_or(("", &self.prefix));
        (!last.is_empty()).then(|| {
            (
                Self {
                    bucket: self.bucket.clone(),
                    prefix: parent.to_string(),
                },
                last,
            )
        })
    }
}

/// Object Lock mode of uploaded evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RetentionMode {
    /// Users with `s3:BypassGovernanceRetention` can still delete.
    Governance,
    /// Nobody can delete before the date, the account root included.
    Compliance,
}

/// How long uploaded evidence is kept under Object Lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub mode: RetentionMode,
    pub period: Duration,
}

impl Retention {
    fn lock_from(&self, now: SystemTime) -> LockRetention {
        LockRetention {
            compliance: self.mode == RetentionMode::Compliance,
            until: now + self.period,
        }
    }
}

/// Why evidence could not be moved to or from S3.
#[derive(Debug, thiserror::Error)]
pub enum S3EvidenceError {
    #[error("{0}")]
    Aws(#[from] AwsError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no run under {0} (hint: the URI names a run: s3://bucket/prefix/<scenario>/<run-id>)")]
    NoRun(String),
    #[error("object key `{0}` is not a plain relative path under the run")]
    UnsafeKey(String),
    #[error(
        "bucket `{0}` does not exist (hint: create it with Object Lock enabled, or fix --evidence-uri)"
    )]
    NoBucket(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> S3EvidenceError + '_ {
    move |source| S3EvidenceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Check, before a drill, that the evidence bucket is there: a drill whose
/// evidence cannot be kept is not started.
pub async fn check(s3: &Client, base: &EvidenceUri) -> Result<(), S3EvidenceError> {
    if s3api::bucket_exists(s3, &base.bucket).await? {
        Ok(())
    } else {
        Err(S3EvidenceError::NoBucket(base.bucket.clone()))
    }
}

/// What an upload did.
#[derive(Clone, Debug)]
pub struct Uploaded {
    /// `s3://bucket/prefix/<scenario>/<run-id>`.
    pub uri: EvidenceUri,
    pub objects: usize,
    pub bytes: u64,
    pub elapsed: Duration,
    /// Object Lock retention date, when retained.
    pub retain_until: Option<SystemTime>,
}

/// The order files are uploaded in: every artifact, then the signature,
/// then the manifest, so a run whose manifest is in S3 is complete.
fn upload_order(mut files: Vec<String>) -> Vec<String> {
    let rank = |f: &str| match f {
        SIGNATURE_FILE => 1,
        MANIFEST_FILE => 2,
        _ => 0,
    };
    files.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    files
}

/// Upload a sealed run directory to `<base>/<scenario>/<run-id>/`.
pub async fn upload(
    s3: &Client,
    base: &EvidenceUri,
    run_dir: &Path,
    scenario: &str,
    run_id: &str,
    retention: Option<Retention>,
) -> Result<Uploaded, S3EvidenceError> {
    let started = Instant::now();
    let uri = base.join(scenario).join(run_id);
    let lock = retention.map(|r| r.lock_from(SystemTime::now()));
    let files = upload_order(list_files(run_dir).map_err(io_err(run_dir))?);
    let mut bytes = 0u64;
    for rel in &files {
        let path = run_dir.join(rel);
        let body = std::fs::read(&path).map_err(io_err(&path))?;
        bytes += body.len() as u64;
        s3api::put_retained(s3, &uri.bucket, &uri.key(rel), body, lock).await?;
    }
    Ok(Uploaded {
        uri,
        objects: files.len(),
        bytes,
        elapsed: started.elapsed(),
        retain_until: lock.map(|l| l.until),
    })
}

/// Every key under `uri/`, relative to it.
async fn list_relative(s3: &Client, uri: &EvidenceUri) -> Result<Vec<String>, AwsError> {
    let dir = uri.dir();
    let mut out = Vec::new();
    s3api::list_pages(s3, &uri.bucket, Some(&dir), |page| {
        out.extend(
            page.into_iter()
                .filter_map(|o| o.key.strip_prefix(&dir).map(str::to_string)),
        );
        async { Ok(()) }
    })
    .await?;
    Ok(out)
}

/// The run ids under a scenario's URI whose manifest is there (complete
/// uploads), oldest first.
async fn complete_runs(s3: &Client, scenario: &EvidenceUri) -> Result<Vec<String>, AwsError> {
    let mut runs: Vec<String> = list_relative(s3, scenario)
        .await?
        .into_iter()
        .filter_map(|k| {
            k.strip_suffix(&format!("/{MANIFEST_FILE}"))
                .filter(|r| !r.contains('/'))
                .map(str::to_string)
        })
        .collect();
    runs.sort();
    Ok(runs)
}

/// The chain link of a new run: the newest complete run of the scenario in
/// S3 that is older than `run_id` (run ids start with the UTC time), and the
/// SHA-256 of its manifest as stored.
pub async fn previous_link(
    s3: &Client,
    base: &EvidenceUri,
    scenario: &str,
    run_id: &str,
) -> Result<Option<PreviousLink>, S3EvidenceError> {
    let scenario_uri = base.join(scenario);
    let Some(prev) = complete_runs(s3, &scenario_uri)
        .await?
        .into_iter()
        .rfind(|r| r.as_str() < run_id)
    else {
        return Ok(None);
    };
    let bytes = s3api::get_small(
        s3,
        &scenario_uri.bucket,
        &scenario_uri.join(&prev).key(MANIFEST_FILE),
    )
    .await?;
    Ok(Some(PreviousLink {
        run_id: prev,
        manifest_sha256: hex::encode(Sha256::digest(&bytes)),
    }))
}

fn safe_relative(rel: &str) -> bool {
    !rel.is_empty()
        && rel
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

/// Download a run (`s3://…/<scenario>/<run-id>`) into `root/<run-id>/`,
/// and the previous run's manifest next to it, so that the local `verify`
/// checks the chain link as well. Returns the run directory.
pub async fn download(
    s3: &Client,
    run: &EvidenceUri,
    root: &Path,
) -> Result<PathBuf, S3EvidenceError> {
    let (scenario_uri, run_id) = run
        .split_last()
        .ok_or_else(|| S3EvidenceError::NoRun(run.to_string()))?;
    let run_dir = root.join(run_id);
    let keys = list_relative(s3, run).await?;
    if keys.is_empty() {
        return Err(S3EvidenceError::NoRun(run.to_string()));
    }
    for rel in &keys {
        if !safe_relative(rel) {
            return Err(S3EvidenceError::UnsafeKey(run.key(rel)));
        }
        let body = s3api::get_small(s3, &run.bucket, &run.key(rel)).await?;
        let path = run_dir.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        std::fs::write(&path, body).map_err(io_err(&path))?;
    }
    // The chain link names the previous run; verify reads its manifest from
    // the sibling directory. A name that is not plain is left for verify to
    // reject.
    let previous = std::fs::read(run_dir.join(MANIFEST_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
        .and_then(|m| m.previous)
        .filter(|p| safe_relative(&p.run_id) && !p.run_id.contains('/'));
    if let Some(p) = previous {
        let key = scenario_uri.join(&p.run_id).key(MANIFEST_FILE);
        match s3api::get_small(s3, &run.bucket, &key).await {
            Ok(body) => {
                let dir = root.join(&p.run_id);
                std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
                let path = dir.join(MANIFEST_FILE);
                std::fs::write(&path, body).map_err(io_err(&path))?;
            }
            // Missing: verify names it.
            Err(e) if e.code.as_deref() == Some("NoSuchKey") => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(run_dir)
}

/// The run history of every complete run under `base` (any scenario, any
/// runner), oldest first, read from each run's `report.json`.
pub async fn history(
    s3: &Client,
    base: &EvidenceUri,
) -> Result<Vec<HistoryEntry>, S3EvidenceError> {
    let keys = list_relative(s3, base).await?;
    let complete: std::collections::BTreeSet<&str> = keys
        .iter()
        .filter_map(|k| k.strip_suffix(&format!("/{MANIFEST_FILE}")))
        .collect();
    let mut entries = Vec::new();
    for run in complete {
        let key = base.key(&format!("{run}/{}", crate::report::json::FILE));
        let body = match s3api::get_small(s3, &base.bucket, &key).await {
            Ok(b) => b,
            Err(e) if e.code.as_deref() == Some("NoSuchKey") => continue,
            Err(e) => return Err(e.into()),
        };
        match serde_json::from_slice::<crate::report::Report>(&body) {
            Ok(r) => entries.push(HistoryEntry::from_report(&r)),
            Err(e) => tracing::warn!("s3://{}/{key}: skipped: {e}", base.bucket),
        }
    }
    entries.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.run_id.cmp(&b.run_id)));
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_into_bucket_and_plain_prefix() {
        let u: EvidenceUri = "s3://drills/evidence/prod/".parse().unwrap();
        assert_eq!(u.bucket, "drills");
        assert_eq!(u.prefix, "evidence/prod");
        assert_eq!(
            u.join("quickstart").key("r1/manifest.json"),
            "evidence/prod/quickstart/r1/manifest.json"
        );
        let root: EvidenceUri = "s3://drills".parse().unwrap();
        assert_eq!(root.key("a"), "a");
        assert_eq!(root.dir(), "");
        for bad in [
            "drills/x",
            "s3://",
            "s3://Drills/x",
            "s3://ddd/../x",
            "s3://ddd/a//b",
            "s3://ab",
        ] {
            assert!(bad.parse::<EvidenceUri>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_run_uri_splits_into_scenario_and_run_id() {
        let u: EvidenceUri = "s3://drills/ev/quickstart/20260101T000000Z-ab12"
            .parse()
            .unwrap();
        let (scenario, run) = u.split_last().unwrap();
        assert_eq!(run, "20260101T000000Z-ab12");
        assert_eq!(scenario.prefix, "ev/quickstart");
        let bare: EvidenceUri = "s3://drills".parse().unwrap();
        assert!(bare.split_last().is_none());
    }

    #[test]
    fn the_manifest_is_uploaded_last_and_its_signature_just_before() {
        let files = vec![
            MANIFEST_FILE.to_string(),
            "report.json".to_string(),
            SIGNATURE_FILE.to_string(),
            "ledger.jsonl".to_string(),
        ];
        assert_eq!(
            upload_order(files),
            ["ledger.jsonl", "report.json", SIGNATURE_FILE, MANIFEST_FILE]
        );
    }

    #[test]
    fn keys_that_escape_the_run_are_not_plain() {
        for bad in ["", "..", "a/../b", "a//b", "./a"] {
            assert!(!safe_relative(bad), "{bad}");
        }
        assert!(safe_relative("targets/orders/objects.json"));
    }
}
