//! Validating an `s3-bucket` restore: a streaming merge of the restored
//! listing against the manifest (missing, unexpected, corrupted objects,
//! proven by `ETag` or by download), and the newest canary that came back.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use firedrill_core::canary::RecoveredCanary;
use firedrill_core::{
    AwsError, Check, CheckStatus, Finding, Service, StageError, StageOutput, Validation,
};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::manifest::{self, Difference, Entry, Listed, Step};
use super::{LIST_IN_FINDING, PARALLEL, S3Target, io_err};
use crate::aws::s3 as api;
use crate::targets::StageContext;

/// Objects whose contents are compared by download in one batch.
const DOWNLOAD_BATCH: usize = 256;

/// The differences found, by class (`missing`, `unexpected`, `corrupted`):
/// how many, and the first keys for the finding.
#[derive(Default)]
struct Tally {
    classes: BTreeMap<&'static str, (u64, Vec<String>)>,
    /// Objects present in both the manifest and the restored copy.
    present: u64,
    /// Of those, proven by S3's MD5 `ETag` without a download.
    by_etag: u64,
}

impl Tally {
    fn count(&self, class: &str) -> u64 {
        self.classes.get(class).map_or(0, |d| d.0)
    }
}

/// Writes every difference to the diff file and tallies it.
struct DiffWriter {
    path: PathBuf,
    file: BufWriter<File>,
    tally: Tally,
}

impl DiffWriter {
    fn create(path: PathBuf) -> Result<Self, StageError> {
        let file = BufWriter::new(File::create(&path).map_err(|e| io_err("the diff", &e))?);
        Ok(Self {
            path,
            file,
            tally: Tally::default(),
        })
    }

    fn note(&mut self, d: &Difference) -> Result<(), StageError> {
        serde_json::to_writer(&mut self.file, d)
            .map_err(|e| StageError::Environment(e.to_string()))?;
        self.file
            .write_all(b"\n")
            .map_err(|e| io_err("the diff", &e))?;
        let class = match d {
            Difference::Missing { .. } => "missing",
            Difference::Unexpected { .. } => "unexpected",
            Difference::SizeMismatch { .. } | Difference::Corrupted { .. } => "corrupted",
        };
        let e = self.tally.classes.entry(class).or_default();
        e.0 += 1;
        if e.1.len() < LIST_IN_FINDING {
            e.1.push(d.key().to_string());
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(PathBuf, Tally), StageError> {
        self.file.flush().map_err(|e| io_err("the diff", &e))?;
        Ok((self.path, self.tally))
    }
}

impl S3Target {
    pub(super) async fn run_validate(
        &mut self,
        cx: &StageContext,
    ) -> Result<Validation, StageError> {
        let s3 = cx.clients.s3().clone();
        let restore_bucket = self
            .state
            .restore_bucket
            .clone()
            .ok_or_else(|| StageError::Failed("nothing restored".into()))?;
        let manifest_path = self
            .state
            .manifest
            .clone()
            .ok_or_else(|| StageError::Failed("no manifest".into()))?;
        let mut out = StageOutput::default().emulated(cx.emulated(Service::S3));

        // The restored listing goes to a file so both sides stream.
        let listing_path = self.file(cx, "restored");
        self.write_listing(&s3, &restore_bucket, &listing_path)
            .await?;
        let diff = DiffWriter::create(self.file(cx, "diff"))?;
        let (diff_path, tally) = self
            .compare(&s3, &restore_bucket, &manifest_path, &listing_path, diff)
            .await?;
        let _ = std::fs::remove_file(&listing_path);

        let expected_n = self.state.manifest_count;
        let mut checks = self.content_checks(expected_n, &tally);
        out.findings.extend(difference_findings(&tally, &diff_path));
        let canary = if self.canary.is_some() {
            let (check, canary) = self.newest_canary(cx, &s3, &restore_bucket).await?;
            checks.push(check);
            canary
        } else {
            None
        };
        if cx.emulated(Service::S3) {
            out.findings.push(Finding::info(
                "s3.emulated",
                "S3 served by an emulator: timings are not evidence about AWS",
            ));
        }
        out.detail = format!(
            "{}/{expected_n} object(s) restored; {} missing, {} corrupted, {} unexpected",
            tally.present,
            tally.count("missing"),
            tally.count("corrupted"),
            tally.count("unexpected")
        );
        out = out.fact("diff", diff_path.display());
        Ok(Validation {
            output: out,
            checks,
            canary,
        })
    }

    /// List the restored bucket (canaries left out) into a JSON-lines file.
    async fn write_listing(
        &self,
        s3: &aws_sdk_s3::Client,
        restore_bucket: &str,
        path: &Path,
    ) -> Result<(), StageError> {
        let mut w = BufWriter::new(File::create(path).map_err(|e| io_err("the listing", &e))?);
        let mut err = None;
        api::list_pages(s3, restore_bucket, self.prefix(), |page| {
            for o in page.into_iter().filter(|o| !Self::is_canary(&o.key)) {
                let listed = Listed {
                    md5: o
                        .etag
                        .as_deref()
                        .and_then(api::etag_md5)
                        .map(str::to_string),
                    key: o.key,
                    size: o.size,
                };
                if let Err(e) = serde_json::to_writer(&mut w, &listed)
                    .and_then(|()| w.write_all(b"\n").map_err(serde_json::Error::io))
                {
                    err.get_or_insert(e);
                }
            }
            async { Ok(()) }
        })
        .await?;
        if let Some(e) = err {
            return Err(StageError::Environment(format!(
                "cannot write the listing: {e}"
            )));
        }
        w.flush().map_err(|e| io_err("the listing", &e))
    }

    /// Merge the manifest with the restored listing, both sorted by key:
    /// every difference goes to the diff file, contents are proven by
    /// `ETag` or compared by download in batches.
    async fn compare(
        &self,
        s3: &aws_sdk_s3::Client,
        restore_bucket: &str,
        manifest_path: &Path,
        listing_path: &Path,
        mut diff: DiffWriter,
    ) -> Result<(PathBuf, Tally), StageError> {
        let expected = manifest::read(manifest_path)
            .map_err(|e| io_err("the manifest", &e))?
            .map_while(Result::ok);
        let actual =
            BufReader::new(File::open(listing_path).map_err(|e| io_err("the listing", &e))?)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| serde_json::from_str::<Listed>(&l).ok());
        let mut download: Vec<Entry> = Vec::new();
        for step in manifest::merge(expected, actual) {
            match step {
                Step::Missing(e) => diff.note(&Difference::Missing {
                    key: e.key,
                    size: e.size,
                })?,
                Step::Unexpected(Listed { key, size, .. }) => {
                    diff.note(&Difference::Unexpected { key, size })?;
                }
                Step::Both(e, listed) => {
                    diff.tally.present += 1;
                    if listed.size != e.size {
                        diff.note(&Difference::SizeMismatch {
                            key: e.key,
                            expected: e.size,
                            actual: listed.size,
                        })?;
                    } else if self.checksums {
                        if !self.always_download && e.md5.is_some() && listed.md5 == e.md5 {
                            // S3 computed this MD5 from the restored bytes;
                            // firedrill computed the same one from the bytes
                            // it hashed at backup.
                            diff.tally.by_etag += 1;
                        } else {
                            download.push(e);
                        }
                    }
                }
            }
            if download.len() >= DOWNLOAD_BATCH {
                for d in hash_compare(s3, restore_bucket, std::mem::take(&mut download)).await? {
                    diff.note(&d)?;
                }
            }
        }
        for d in hash_compare(s3, restore_bucket, download).await? {
            diff.note(&d)?;
        }
        diff.finish()
    }

    /// The object-count, content and unexpected-object checks.
    fn content_checks(&self, expected_n: u64, tally: &Tally) -> Vec<Check> {
        let corrupted_n = tally.count("corrupted");
        let mut corrupted = Check::compare("object contents match manifest", 0, corrupted_n);
        corrupted.detail = if corrupted_n > 0 {
            format!("{corrupted_n} object(s) differ from the manifest")
        } else if self.checksums {
            content_detail(tally.present, tally.by_etag)
        } else {
            format!(
                "{} object(s) match size (checksums disabled)",
                tally.present
            )
        };
        let mut unexpected = Check::compare("no unexpected objects", 0, tally.count("unexpected"));
        unexpected.detail = format!(
            "{} object(s) not in the manifest",
            tally.count("unexpected")
        );
        vec![
            Check::compare("objects restored", expected_n, tally.present),
            corrupted,
            unexpected,
        ]
    }

    /// The newest canary in the restored copy, and the check saying so.
    async fn newest_canary(
        &self,
        cx: &StageContext,
        s3: &aws_sdk_s3::Client,
        restore_bucket: &str,
    ) -> Result<(Check, Option<RecoveredCanary>), StageError> {
        let prefix = self.canary_prefix(&cx.run_id);
        let mut newest: Option<String> = None;
        api::list_pages(s3, restore_bucket, Some(&prefix), |page| {
            if let Some(last) = page.into_iter().map(|o| o.key).max()
                && newest.as_ref().is_none_or(|n| last > *n)
            {
                newest = Some(last);
            }
            async { Ok(()) }
        })
        .await?;
        let name = "canary recovered";
        let Some(key) = newest else {
            let check = Check::new(
                name,
                CheckStatus::Failed,
                "no canary object in the restored copy",
            );
            return Ok((check, None));
        };
        let body = api::get_small(s3, restore_bucket, &key).await?;
        Ok(match serde_json::from_slice::<RecoveredCanary>(&body) {
            Ok(c) => (
                Check::new(
                    name,
                    CheckStatus::Passed,
                    format!("newest canary #{} written {}", c.seq, c.written_at),
                ),
                Some(c),
            ),
            Err(e) => (
                Check::new(
                    name,
                    CheckStatus::Failed,
                    format!("canary {key} is unreadable: {e}"),
                ),
                None,
            ),
        })
    }
}

/// One error finding per class of difference, naming the first keys.
fn difference_findings(tally: &Tally, diff_path: &Path) -> Vec<Finding> {
    tally
        .classes
        .iter()
        .map(|(class, (n, keys))| {
            let n = usize::try_from(*n).unwrap_or(usize::MAX);
            let more = if n > keys.len() {
                format!(" and {} more", n - keys.len())
            } else {
                String::new()
            };
            let (code, what) = match *class {
                "missing" => ("s3.objects-lost", "lost (missing from the restored copy)"),
                "unexpected" => (
                    "s3.objects-unexpected",
                    "in the restored copy but not in the manifest",
                ),
                _ => ("s3.objects-corrupted", "restored with different contents"),
            };
            Finding::error(
                code,
                format!(
                    "{n} object(s) {what}: {}{more} (full list: {})",
                    keys.join(", "),
                    diff_path.display()
                ),
            )
        })
        .collect()
}

/// How the contents of `present` matching objects were confirmed.
fn content_detail(present: u64, by_etag: u64) -> String {
    let downloaded = present - by_etag.min(present);
    match (by_etag, downloaded) {
        (0, _) => {
            format!("{present} object(s) match size and SHA-256 (each downloaded and hashed)")
        }
        (_, 0) => format!(
            "{present} object(s) match size and MD5: S3's ETag of each restored object equals the MD5 firedrill computed at backup"
        ),
        _ => format!(
            "{present} object(s) match: {by_etag} by S3's MD5 ETag against the MD5 computed at backup, {downloaded} downloaded and SHA-256 hashed"
        ),
    }
}

/// Download and hash each restored object; the ones whose SHA-256 differs.
async fn hash_compare(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    entries: Vec<Entry>,
) -> Result<Vec<Difference>, AwsError> {
    let results: Vec<Option<Difference>> = stream::iter(entries)
        .map(|e| async move {
            let sha = api::object_digests(s3, bucket, &e.key, None).await?.sha256;
            Ok::<_, AwsError>((sha != e.sha256).then_some(Difference::Corrupted {
                key: e.key,
                expected_sha256: e.sha256,
                actual_sha256: sha,
            }))
        })
        .buffered(PARALLEL)
        .try_collect()
        .await?;
    Ok(results.into_iter().flatten().collect())
}
