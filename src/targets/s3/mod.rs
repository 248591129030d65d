//! `s3-bucket`: back up a bucket (SHA-256 manifest plus a copy, or its
//! versions), delete or corrupt objects, restore into a scratch bucket named
//! after the run, and diff the restored bucket against the manifest.

mod manifest;
mod options;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::stream::{self, FuturesOrdered, StreamExt, TryStreamExt};
use schemars::JsonSchema;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use self::manifest::{Difference, Entry, Listed, Step};
use self::options::{BackupMethod, Fault, RawS3};
use super::{KindSpec, StageContext, Target};
use crate::aws::{Clients, s3 as api};
use crate::canary::CanarySink;
use firedrill_core::AwsError;
use firedrill_core::ResourceType;
use firedrill_core::ScratchResource;
use firedrill_core::canary::CanaryPlan;
use firedrill_core::canary::RecoveredCanary;
use firedrill_core::options::TargetInput;
use firedrill_core::resource::{TAG_EXPIRES_AT, TAG_RUN_ID};
use firedrill_core::{
    Check, CheckStatus, DeleteOutcome, FaultSpec, Finding, PlannedAction, Preflight, StageError,
    StageOutput, Tagged, Validation,
};
use firedrill_core::{Diagnostic, Service};
use firedrill_core::{Effect, Stage};

/// Registry entry.
pub const KIND: KindSpec = KindSpec {
    name: "s3-bucket",
    summary: "An S3 bucket: manifest + copy (or versions), delete/corrupt objects, restore into a scratch bucket.",
    parse,
    schema: |g| RawS3::json_schema(g),
    delete,
    find_tagged,
};

/// Objects hashed or copied at once.
const PARALLEL: usize = 16;
/// Keys listed in a finding before "and N more".
const LIST_IN_FINDING: usize = 20;

fn parse(input: TargetInput<'_>, diags: &mut Vec<Diagnostic>) -> Option<Box<dyn Target>> {
    let name = input.name.to_string();
    let raw: RawS3 = firedrill_core::options::deserialize_kind_options(input, diags)?;
    firedrill_core::validate::bucket_name(&raw.bucket, diags);
    let backup = options::backup_method(&raw.backup, diags);
    let fault = options::fault(raw.fault.as_ref(), diags);
    let canary = firedrill_core::validate::canary_plan(&raw.canary, diags);
    Some(Box::new(S3Target {
        name,
        bucket: raw.bucket.into_inner(),
        prefix: raw.prefix.filter(|p| !p.is_empty()),
        backup,
        canary,
        fault,
        checksums: raw.validate.checksums.unwrap_or(true),
        always_download: raw.validate.always_download.unwrap_or(false),
        revert: raw.fault.as_ref().and_then(|f| f.revert).unwrap_or(true),
        state: State::default(),
    }))
}

#[derive(Debug, Default)]
struct State {
    manifest: Option<PathBuf>,
    manifest_count: u64,
    backup_bucket: Option<String>,
    restore_bucket: Option<String>,
    fault_at: Option<OffsetDateTime>,
    run_id: String,
    /// Keys the fault deleted or overwrote (canaries excluded unless delete-all).
    victims: Vec<String>,
}

/// A validated `s3-bucket` target.
#[derive(Debug)]
pub struct S3Target {
    name: String,
    bucket: String,
    prefix: Option<String>,
    backup: BackupMethod,
    canary: Option<CanaryPlan>,
    fault: Fault,
    checksums: bool,
    /// Download every restored object, even where its `ETag` proves the MD5.
    always_download: bool,
    /// Put the faulted objects back after validation (default true).
    revert: bool,
    state: State,
}

impl S3Target {
    fn canary_prefix(&self, run_id: &str) -> String {
        format!(
            "{}.firedrill/canary/{run_id}/",
            self.prefix.as_deref().unwrap_or("")
        )
    }

    fn is_canary(key: &str) -> bool {
        key.contains(".firedrill/canary/")
    }

    fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    /// Create a scratch bucket, recording it in the ledger first.
    async fn scratch_bucket(
        &self,
        cx: &StageContext,
        suffix: &str,
        out: &mut StageOutput,
    ) -> Result<String, StageError> {
        let name = cx.scratch_name(suffix);
        let id = cx.intend(cx.resource(KIND.name, ResourceType::Bucket, &name, Service::S3))?;
        let request_id =
            api::create_bucket(cx.clients.s3(), &name, cx.clients.region(), &cx.tags()).await?;
        cx.created(id, request_id.as_deref())?;
        out.request("s3:CreateBucket", request_id.as_deref());
        Ok(name)
    }

    fn file(&self, cx: &StageContext, what: &str) -> PathBuf {
        cx.run_dir.join(format!("{}.{what}.jsonl", self.name))
    }
}

/// Aborts a spawned task when the stage's future is dropped (an error, a
/// cancellation): the lister must not outlive the backup.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn io_err(what: &str, e: &std::io::Error) -> StageError {
    StageError::Environment(format!("cannot write {what}: {e}"))
}

/// Seeded order of keys: stable across runs, unrelated to key order.
fn seeded_order(keys: &mut [String], seed: u64) {
    keys.sort_by_cached_key(|k| {
        Sha256::new()
            .chain_update(seed.to_le_bytes())
            .chain_update(k.as_bytes())
            .finalize()
    });
}

/// The keys a `delete-share` fault deletes: exactly `share` of them, rounded,
/// and at least one when there is any (a fault that deletes nothing proves
/// nothing), picked in seeded order.
fn pick_share(mut keys: Vec<String>, seed: u64, share: f64) -> Vec<String> {
    if keys.is_empty() {
        return keys;
    }
    #[allow(clippy::cast_precision_loss)]
    let wanted = ((keys.len() as f64) * share).round() as usize;
    seeded_order(&mut keys, seed);
    keys.truncate(wanted.clamp(1, keys.len()));
    keys
}

#[async_trait]
impl Target for S3Target {
    fn resource(&self) -> String {
        match &self.prefix {
            Some(p) => format!("s3://{}/{p}", self.bucket),
            None => format!("s3://{}", self.bucket),
        }
    }

    fn services(&self) -> &'static [Service] {
        &[Service::S3]
    }

    fn fault(&self) -> Option<FaultSpec> {
        let (action, description) = match self.fault {
            Fault::None => return None,
            Fault::DeleteShare { share, .. } => (
                "delete-share",
                format!(
                    "delete {:.0}% of the objects in {}",
                    share * 100.0,
                    self.resource()
                ),
            ),
            Fault::Corrupt { count, .. } => (
                "corrupt",
                format!(
                    "overwrite {count} object(s) in {} with garbage",
                    self.resource()
                ),
            ),
            Fault::DeleteAll => (
                "delete-all",
                format!("delete every object in {}", self.resource()),
            ),
        };
        Some(FaultSpec {
            action,
            description,
            destructive: true,
            service: Service::S3,
            endpoint: None,
        })
    }

    fn canary_plan(&self) -> Option<CanaryPlan> {
        self.canary
    }

    fn plan(&self, run_id: &str, index: usize) -> Vec<PlannedAction> {
        let scratch = |s: &str| format!("s3://firedrill-{run_id}-{index}-{s}");
        let life = Some(Duration::from_mins(10));
        let mut p = vec![PlannedAction {
            stage: Stage::Preflight,
            effect: Effect::Read,
            api_call: "s3:HeadBucket, s3:GetBucketTagging".into(),
            resource: self.resource(),
            scratch_lifetime: None,
        }];
        if self.canary.is_some() {
            p.push(PlannedAction {
                stage: Stage::Backup,
                effect: Effect::Create,
                api_call: "s3:PutObject (canaries)".into(),
                resource: format!("s3://{}/{}", self.bucket, self.canary_prefix(run_id)),
                scratch_lifetime: life,
            });
        }
        p.push(PlannedAction {
            stage: Stage::Backup,
            effect: Effect::Read,
            api_call: "s3:ListObjectsV2, s3:GetObject (SHA-256 manifest)".into(),
            resource: self.resource(),
            scratch_lifetime: None,
        });
        if self.backup == BackupMethod::Copy {
            p.push(PlannedAction {
                stage: Stage::Backup,
                effect: Effect::Create,
                api_call: "s3:CreateBucket, s3:PutBucketTagging, s3:CopyObject".into(),
                resource: scratch("backup"),
                scratch_lifetime: life,
            });
        }
        if let Some(f) = self.fault() {
            let (effect, call) = match self.fault {
                Fault::Corrupt { .. } => (Effect::Change, "s3:PutObject"),
                _ => (Effect::Delete, "s3:DeleteObjects"),
            };
            p.push(PlannedAction::new(
                Stage::Fault,
                effect,
                call,
                f.description,
            ));
        }
        if self.reverts() {
            p.push(PlannedAction {
                stage: Stage::Revert,
                effect: Effect::Change,
                api_call: "s3:CopyObject (faulted objects back from the backup)".into(),
                resource: self.resource(),
                scratch_lifetime: None,
            });
        }
        p.push(PlannedAction {
            stage: Stage::Restore,
            effect: Effect::Create,
            api_call: "s3:CreateBucket, s3:PutBucketTagging, s3:CopyObject".into(),
            resource: scratch("restore"),
            scratch_lifetime: life,
        });
        p.push(PlannedAction {
            stage: Stage::Validate,
            effect: Effect::Read,
            api_call: "s3:ListObjectsV2, s3:GetObject".into(),
            resource: scratch("restore"),
            scratch_lifetime: None,
        });
        p.push(PlannedAction {
            stage: Stage::Cleanup,
            effect: Effect::Delete,
            api_call: "s3:ListObjectVersions, s3:DeleteObjects, s3:DeleteBucket".into(),
            resource: "every scratch bucket and canary above".into(),
            scratch_lifetime: None,
        });
        p
    }

    async fn preflight(&mut self, cx: &StageContext) -> Result<Preflight, StageError> {
        let s3 = cx.clients.s3();
        if !api::bucket_exists(s3, &self.bucket).await? {
            return Err(StageError::Environment(format!(
                "bucket `{}` does not exist in {} (hint: check `bucket` in target `{}` and the S3 endpoint)",
                self.bucket,
                cx.clients.region(),
                self.name
            )));
        }
        if self.backup == BackupMethod::Versioning
            && !api::versioning_enabled(s3, &self.bucket).await?
        {
            return Err(StageError::Environment(format!(
                "bucket `{}` does not have versioning enabled, but the backup method is `versioning` (hint: enable versioning or use `method = \"copy\"`)",
                self.bucket
            )));
        }
        let tags: BTreeMap<String, String> = api::bucket_tags(s3, &self.bucket)
            .await?
            .into_iter()
            .collect();
        Ok(Preflight {
            detail: format!("bucket {} exists", self.resource()),
            tags,
        })
    }

    fn canary_sink(&self, cx: &StageContext) -> Option<Arc<dyn CanarySink>> {
        Some(Arc::new(S3Canary {
            cx: cx.clone(),
            bucket: self.bucket.clone(),
            prefix: self.canary_prefix(&cx.run_id),
            recorded: tokio::sync::OnceCell::new(),
        }))
    }

    async fn backup(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        self.state.run_id.clone_from(&cx.run_id);
        let s3 = cx.clients.s3().clone();
        let mut out = StageOutput::default().emulated(cx.emulated(Service::S3));
        let backup_bucket = match self.backup {
            BackupMethod::Copy => Some(self.scratch_bucket(cx, "backup", &mut out).await?),
            BackupMethod::Versioning | BackupMethod::None => None,
        };
        let path = self.file(cx, "manifest");
        let mut writer = manifest::Writer::create(&path).map_err(|e| io_err("the manifest", &e))?;
        let mut copied = 0u64;
        let bucket = self.bucket.clone();
        // Listing runs ahead by at most two pages while objects are hashed
        // (and copied) PARALLEL at a time in one continuous stream: memory
        // stays bounded whatever the bucket's size, and there is no stall at
        // page boundaries.
        let (tx, rx) = tokio::sync::mpsc::channel::<Vec<api::ObjectInfo>>(2);
        let lister = {
            let (s3, bucket, prefix) = (s3.clone(), bucket.clone(), self.prefix.clone());
            tokio::spawn(async move {
                api::list_pages(&s3, &bucket, prefix.as_deref(), |page| {
                    let tx = tx.clone();
                    // A closed channel means hashing stopped; the task is aborted.
                    async move {
                        let _ = tx.send(page).await;
                        Ok(())
                    }
                })
                .await
            })
        };
        let _abort_lister = AbortOnDrop(lister.abort_handle());
        let mut rx = rx;
        let mut page = Vec::<api::ObjectInfo>::new().into_iter();
        let mut listed_all = false;
        let mut in_flight = FuturesOrdered::new();
        loop {
            while in_flight.len() < PARALLEL {
                if let Some(o) = page.next() {
                    in_flight.push_back(hash_and_copy(
                        s3.clone(),
                        bucket.clone(),
                        o.key,
                        backup_bucket.clone(),
                    ));
                } else if listed_all {
                    break;
                } else if let Some(next) = rx.recv().await {
                    cx.check_cancelled()?;
                    page = next.into_iter();
                } else {
                    listed_all = true;
                }
            }
            let Some(result) = in_flight.next().await else {
                break;
            };
            let (entry, was_copied) = result?;
            if let Some(e) = entry {
                writer.push(&e).map_err(|e| io_err("the manifest", &e))?;
            }
            copied += u64::from(was_copied);
        }
        lister
            .await
            .map_err(|e| StageError::Failed(format!("listing task failed: {e}")))??;
        let (count, bytes) = (writer.count, writer.bytes);
        writer.finish().map_err(|e| io_err("the manifest", &e))?;
        self.state.manifest = Some(path.clone());
        self.state.manifest_count = count;
        self.state.backup_bucket.clone_from(&backup_bucket);
        out.detail = match &backup_bucket {
            Some(b) => format!(
                "manifest of {count} object(s) ({bytes} bytes); copied {copied} to s3://{b}"
            ),
            None if self.backup == BackupMethod::Versioning => {
                format!(
                    "manifest of {count} object version(s) ({bytes} bytes); relying on versioning"
                )
            }
            None => format!(
                "manifest of {count} object(s) ({bytes} bytes); no backup copy (method = none)"
            ),
        };
        Ok(out
            .fact("objects", count)
            .fact("bytes", bytes)
            .fact("manifest", path.display()))
    }

    async fn inject(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let s3 = cx.clients.s3().clone();
        self.state.fault_at = Some(cx.clock.now().utc);
        let mut out = StageOutput::default().emulated(cx.emulated(Service::S3));
        let bucket = self.bucket.clone();
        if self.fault == Fault::None {
            out.detail = "no fault injected".into();
            return Ok(out);
        }
        let mut keys = Vec::new();
        let all = self.fault == Fault::DeleteAll;
        api::list_pages(&s3, &bucket, self.prefix(), |page| {
            keys.extend(
                page.into_iter()
                    .filter(|o| all || !Self::is_canary(&o.key))
                    .map(|o| o.key),
            );
            async { Ok(()) }
        })
        .await?;
        match self.fault {
            Fault::None => {}
            Fault::DeleteAll | Fault::DeleteShare { .. } => {
                if let Fault::DeleteShare { share, seed } = self.fault {
                    keys = pick_share(keys, seed, share);
                }
                // Recorded before the deletes, so a revert knows the damage
                // even if the deletes fail half-way.
                self.state.victims.clone_from(&keys);
                let batch: Vec<(String, Option<String>)> =
                    keys.iter().map(|k| (k.clone(), None)).collect();
                for chunk in batch.chunks(1000) {
                    api::delete_batch(&s3, &bucket, chunk).await?;
                }
                out.detail = match self.fault {
                    Fault::DeleteShare { share, .. } => format!(
                        "deleted {} object(s) ({:.0}% share) in {}",
                        keys.len(),
                        share * 100.0,
                        self.resource()
                    ),
                    _ => format!(
                        "deleted all {} object(s) in {}",
                        keys.len(),
                        self.resource()
                    ),
                };
                out = out.fact("deleted", keys.len());
            }
            Fault::Corrupt { count, seed } => {
                // Seeded choice, stable across runs.
                seeded_order(&mut keys, seed);
                keys.truncate(usize::try_from(count).unwrap_or(usize::MAX));
                self.state.victims.clone_from(&keys);
                for key in &keys {
                    api::put(
                        &s3,
                        &bucket,
                        key,
                        format!("firedrill corrupted this object during run {}\n", cx.run_id)
                            .into_bytes(),
                    )
                    .await?;
                }
                out.detail = format!(
                    "overwrote {} object(s) in {} with garbage",
                    keys.len(),
                    self.resource()
                );
                out = out.fact("corrupted", keys.len());
            }
        }
        Ok(out)
    }

    async fn restore(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let s3 = cx.clients.s3().clone();
        let mut out = StageOutput::default().emulated(cx.emulated(Service::S3));
        let restore_bucket = self.scratch_bucket(cx, "restore", &mut out).await?;
        self.state.restore_bucket = Some(restore_bucket.clone());
        // Copies run page by page as the listing arrives, PARALLEL at a
        // time: memory stays bounded whatever the bucket's size.
        let copied = std::sync::atomic::AtomicU64::new(0);
        let copy_all = |items: Vec<(String, String, Option<String>)>| {
            let (s3, rb, copied) = (&s3, &restore_bucket, &copied);
            async move {
                let n = items.len() as u64;
                stream::iter(items)
                    .map(|(from, key, version)| async move {
                        api::copy(s3, &from, &key, version.as_deref(), rb).await
                    })
                    .buffer_unordered(PARALLEL)
                    .try_collect::<Vec<()>>()
                    .await?;
                copied.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                Ok::<(), AwsError>(())
            }
        };
        let source_desc;
        match self.backup {
            BackupMethod::Copy => {
                let b = self
                    .state
                    .backup_bucket
                    .clone()
                    .ok_or_else(|| StageError::Failed("no backup bucket".into()))?;
                api::list_pages(&s3, &b, None, |page| {
                    copy_all(page.into_iter().map(|o| (b.clone(), o.key, None)).collect())
                })
                .await?;
                source_desc = format!("s3://{b}");
            }
            BackupMethod::None => {
                api::list_pages(&s3, &self.bucket, self.prefix(), |page| {
                    copy_all(
                        page.into_iter()
                            .map(|o| (self.bucket.clone(), o.key, None))
                            .collect(),
                    )
                })
                .await?;
                source_desc = format!("what survived in {}", self.resource());
            }
            BackupMethod::Versioning => {
                // Newest version written before the fault's second: S3 keeps
                // whole-second modification times, so anything stamped in the
                // fault's own second counts as after it (conservative RPO).
                // Versions of a key may span pages, so the choice is made
                // over the whole listing (one entry per key).
                let fault = self.state.fault_at.unwrap_or_else(OffsetDateTime::now_utc);
                let cutoff = fault.replace_nanosecond(0).unwrap_or(fault);
                let mut best: HashMap<String, (OffsetDateTime, Option<String>)> = HashMap::new();
                api::list_version_pages(&s3, &self.bucket, self.prefix(), |page| {
                    for v in page {
                        let Some(at) = v.last_modified else { continue };
                        if at >= cutoff {
                            continue;
                        }
                        let newer = best.get(&v.key).is_none_or(|(t, _)| at > *t);
                        if newer {
                            best.insert(v.key, (at, (!v.is_delete_marker).then_some(v.version_id)));
                        }
                    }
                    async { Ok(()) }
                })
                .await?;
                let mut keys: Vec<(String, String)> = best
                    .into_iter()
                    .filter_map(|(k, (_, v))| v.map(|v| (k, v)))
                    .collect();
                keys.sort();
                for chunk in keys.chunks(1000) {
                    copy_all(
                        chunk
                            .iter()
                            .map(|(k, v)| (self.bucket.clone(), k.clone(), Some(v.clone())))
                            .collect(),
                    )
                    .await?;
                }
                source_desc = format!("versions of {} before the fault", self.resource());
            }
        }
        let n = copied.into_inner();
        out.detail = format!("copied {n} object(s) from {source_desc} into s3://{restore_bucket}");
        Ok(out
            .fact("objects", n)
            .fact("restore_bucket", &restore_bucket))
    }

    fn reverts(&self) -> bool {
        self.revert && self.fault != Fault::None
    }

    async fn revert(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let s3 = cx.clients.s3().clone();
        let mut out = StageOutput::default().emulated(cx.emulated(Service::S3));
        let victims: std::collections::HashSet<&str> = self
            .state
            .victims
            .iter()
            .map(String::as_str)
            .filter(|k| !Self::is_canary(k))
            .collect();
        let manifest_path = self
            .state
            .manifest
            .clone()
            .ok_or_else(|| StageError::Failed("no manifest".into()))?;
        let mut sources: Vec<(String, Option<String>)> = Vec::new();
        for entry in manifest::read(&manifest_path).map_err(|e| io_err("the manifest", &e))? {
            let entry = entry.map_err(|e| io_err("the manifest", &e))?;
            if victims.contains(entry.key.as_str()) {
                sources.push((entry.key, entry.version_id));
            }
        }
        let unrecoverable = victims.len() - sources.len();
        let from = match self.backup {
            BackupMethod::Copy => self.state.backup_bucket.clone(),
            BackupMethod::Versioning => Some(self.bucket.clone()),
            BackupMethod::None => None,
        };
        let Some(from) = from else {
            out.detail = format!(
                "cannot revert: no backup copy (method = none); {} object(s) stay deleted or corrupted",
                victims.len()
            );
            out.findings.push(Finding::warning(
                "s3.revert-impossible",
                format!(
                    "{} object(s) in {} stay damaged: the backup method `none` keeps no copy",
                    victims.len(),
                    self.resource()
                ),
            ));
            return Ok(out);
        };
        let versioned = self.backup == BackupMethod::Versioning;
        let (s3c, to) = (&s3, &self.bucket);
        let n = sources.len();
        stream::iter(sources)
            .map(|(key, version)| {
                let from = from.clone();
                async move {
                    let version = if versioned { version } else { None };
                    api::copy(s3c, &from, &key, version.as_deref(), to).await
                }
            })
            .buffer_unordered(PARALLEL)
            .try_collect::<Vec<()>>()
            .await?;
        out.detail = format!(
            "put back {n} object(s) in {} from {}",
            self.resource(),
            if versioned {
                "their pre-fault versions".to_string()
            } else {
                format!("s3://{from}")
            }
        );
        if unrecoverable > 0 {
            out.findings.push(Finding::warning(
                "s3.revert-partial",
                format!("{unrecoverable} object(s) written after the backup were deleted by the fault and cannot be put back"),
            ));
        }
        Ok(out.fact("reverted", n))
    }

    async fn validate(&mut self, cx: &StageContext) -> Result<Validation, StageError> {
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
        {
            let mut w =
                BufWriter::new(File::create(&listing_path).map_err(|e| io_err("the listing", &e))?);
            let mut err = None;
            api::list_pages(&s3, &restore_bucket, self.prefix(), |page| {
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
            w.flush().map_err(|e| io_err("the listing", &e))?;
        }
        let expected = manifest::read(&manifest_path)
            .map_err(|e| io_err("the manifest", &e))?
            .map_while(Result::ok);
        let actual =
            BufReader::new(File::open(&listing_path).map_err(|e| io_err("the listing", &e))?)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| serde_json::from_str::<Listed>(&l).ok());

        let diff_path = self.file(cx, "diff");
        let mut diff =
            BufWriter::new(File::create(&diff_path).map_err(|e| io_err("the diff", &e))?);
        let mut differences: BTreeMap<&'static str, (u64, Vec<String>)> = BTreeMap::new();
        let mut note = |d: &Difference, diff: &mut BufWriter<File>| -> Result<(), StageError> {
            serde_json::to_writer(&mut *diff, d)
                .map_err(|e| StageError::Environment(e.to_string()))?;
            diff.write_all(b"\n").map_err(|e| io_err("the diff", &e))?;
            let kind = match d {
                Difference::Missing { .. } => "missing",
                Difference::Unexpected { .. } => "unexpected",
                Difference::SizeMismatch { .. } | Difference::Corrupted { .. } => "corrupted",
            };
            let e = differences.entry(kind).or_default();
            e.0 += 1;
            if e.1.len() < LIST_IN_FINDING {
                e.1.push(d.key().to_string());
            }
            Ok(())
        };
        let mut present = 0u64;
        let mut by_etag = 0u64;
        let mut compare: Vec<Entry> = Vec::new();
        for step in manifest::merge(expected, actual) {
            match step {
                Step::Missing(e) => note(
                    &Difference::Missing {
                        key: e.key,
                        size: e.size,
                    },
                    &mut diff,
                )?,
                Step::Unexpected(Listed { key, size, .. }) => {
                    note(&Difference::Unexpected { key, size }, &mut diff)?;
                }
                Step::Both(e, listed) => {
                    present += 1;
                    let size = listed.size;
                    if size == e.size {
                        if self.checksums {
                            if !self.always_download && e.md5.is_some() && listed.md5 == e.md5 {
                                // S3 computed this MD5 from the restored
                                // bytes; firedrill computed the same one from
                                // the bytes it hashed at backup.
                                by_etag += 1;
                            } else {
                                compare.push(e);
                            }
                        }
                    } else {
                        note(
                            &Difference::SizeMismatch {
                                key: e.key,
                                expected: e.size,
                                actual: size,
                            },
                            &mut diff,
                        )?;
                    }
                }
            }
            if compare.len() >= 256 {
                for d in hash_compare(&s3, &restore_bucket, std::mem::take(&mut compare)).await? {
                    note(&d, &mut diff)?;
                }
            }
        }
        for d in hash_compare(&s3, &restore_bucket, compare).await? {
            note(&d, &mut diff)?;
        }
        diff.flush().map_err(|e| io_err("the diff", &e))?;
        let _ = std::fs::remove_file(&listing_path);

        let expected_n = self.state.manifest_count;
        let count = |k: &str| differences.get(k).map_or(0, |d| d.0);
        let mut checks = vec![Check::compare("objects restored", expected_n, present)];
        let mut corrupted = Check::compare("object contents match manifest", 0, count("corrupted"));
        corrupted.detail = if count("corrupted") == 0 {
            if self.checksums {
                content_detail(present, by_etag)
            } else {
                format!("{present} object(s) match size (checksums disabled)")
            }
        } else {
            format!("{} object(s) differ from the manifest", count("corrupted"))
        };
        checks.push(corrupted);
        let mut unexpected = Check::compare("no unexpected objects", 0, count("unexpected"));
        unexpected.detail = format!("{} object(s) not in the manifest", count("unexpected"));
        checks.push(unexpected);
        for (kind, (n, keys)) in &differences {
            let more = if *n as usize > keys.len() {
                format!(" and {} more", *n as usize - keys.len())
            } else {
                String::new()
            };
            let (code, what) = match *kind {
                "missing" => ("s3.objects-lost", "lost (missing from the restored copy)"),
                "unexpected" => (
                    "s3.objects-unexpected",
                    "in the restored copy but not in the manifest",
                ),
                _ => ("s3.objects-corrupted", "restored with different contents"),
            };
            out.findings.push(Finding::error(
                code,
                format!(
                    "{n} object(s) {what}: {}{more} (full list: {})",
                    keys.join(", "),
                    diff_path.display()
                ),
            ));
        }

        // The newest canary that came back.
        let mut canary = None;
        if self.canary.is_some() {
            let prefix = self.canary_prefix(&cx.run_id);
            let mut newest: Option<String> = None;
            api::list_pages(&s3, &restore_bucket, Some(&prefix), |page| {
                if let Some(last) = page.into_iter().map(|o| o.key).max()
                    && newest.as_ref().is_none_or(|n| last > *n)
                {
                    newest = Some(last);
                }
                async { Ok(()) }
            })
            .await?;
            if let Some(key) = newest {
                let body = api::get_small(&s3, &restore_bucket, &key).await?;
                match serde_json::from_slice::<RecoveredCanary>(&body) {
                    Ok(c) => {
                        checks.push(Check::new(
                            "canary recovered",
                            CheckStatus::Passed,
                            format!("newest canary #{} written {}", c.seq, c.written_at),
                        ));
                        canary = Some(c);
                    }
                    Err(e) => checks.push(Check::new(
                        "canary recovered",
                        CheckStatus::Failed,
                        format!("canary {key} is unreadable: {e}"),
                    )),
                }
            } else {
                checks.push(Check::new(
                    "canary recovered",
                    CheckStatus::Failed,
                    "no canary object in the restored copy",
                ));
            }
        }
        if cx.emulated(Service::S3) {
            out.findings.push(Finding::info(
                "s3.emulated",
                "S3 served by an emulator: timings are not evidence about AWS",
            ));
        }
        out.detail = format!(
            "{present}/{expected_n} object(s) restored; {} missing, {} corrupted, {} unexpected",
            count("missing"),
            count("corrupted"),
            count("unexpected")
        );
        out = out.fact("diff", diff_path.display());
        Ok(Validation {
            output: out,
            checks,
            canary,
        })
    }
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

/// Hash one source object for the manifest (canaries are not part of it)
/// and copy it into the backup bucket, if there is one.
async fn hash_and_copy(
    s3: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    backup_bucket: Option<String>,
) -> Result<(Option<Entry>, bool), AwsError> {
    let entry = if S3Target::is_canary(&key) {
        None
    } else {
        let d = api::object_digests(&s3, &bucket, &key, None).await?;
        Some(Entry {
            key: key.clone(),
            size: d.size,
            sha256: d.sha256,
            md5: Some(d.md5),
            version_id: d.version_id,
        })
    };
    if let Some(b) = &backup_bucket {
        api::copy(&s3, &bucket, &key, None, b).await?;
    }
    Ok((entry, backup_bucket.is_some()))
}

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

/// Canaries as small JSON objects under the run's canary prefix.
struct S3Canary {
    cx: StageContext,
    bucket: String,
    prefix: String,
    recorded: tokio::sync::OnceCell<()>,
}

#[async_trait]
impl CanarySink for S3Canary {
    fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    async fn write(&self, seq: u64, at: OffsetDateTime) -> Result<(), StageError> {
        // The prefix goes into the ledger before the first canary exists.
        self.recorded
            .get_or_try_init(|| async {
                let mut r = self.cx.resource(
                    KIND.name,
                    ResourceType::ObjectPrefix,
                    &self.prefix,
                    Service::S3,
                );
                r.parent = Some(self.bucket.clone());
                let id = self.cx.intend(r)?;
                self.cx.created(id, None)?;
                Ok::<(), StageError>(())
            })
            .await?;
        let body = serde_json::to_vec(&RecoveredCanary {
            seq,
            written_at: at,
        })
        .map_err(|e| StageError::Failed(e.to_string()))?;
        api::put(
            self.cx.clients.s3(),
            &self.bucket,
            &format!("{}{seq:010}.json", self.prefix),
            body,
        )
        .await?;
        Ok(())
    }
}

fn delete<'a>(
    r: &'a ScratchResource,
    clients: &'a Clients,
) -> BoxFuture<'a, Result<DeleteOutcome, StageError>> {
    Box::pin(async move {
        let s3 = clients.in_region(&r.region).s3;
        match r.rtype {
            ResourceType::Bucket => Ok(if api::delete_bucket(&s3, &r.id).await? {
                DeleteOutcome::Deleted
            } else {
                DeleteOutcome::AlreadyGone
            }),
            ResourceType::ObjectPrefix => {
                let bucket = r
                    .parent
                    .as_deref()
                    .ok_or_else(|| StageError::Failed("object prefix without bucket".into()))?;
                match api::delete_all_versions(&s3, bucket, Some(&r.id)).await {
                    Ok(0) => Ok(DeleteOutcome::AlreadyGone),
                    Ok(_) => Ok(DeleteOutcome::Deleted),
                    Err(e) if e.is_not_found() => Ok(DeleteOutcome::AlreadyGone),
                    Err(e) => Err(e.into()),
                }
            }
            other => Err(StageError::Failed(format!(
                "s3-bucket cannot delete a `{other}`"
            ))),
        }
    })
}

fn find_tagged(clients: &Clients) -> BoxFuture<'_, Result<Vec<Tagged>, StageError>> {
    Box::pin(async move {
        let s3 = clients.s3();
        let mut found = Vec::new();
        for bucket in api::list_buckets(s3).await? {
            // Every scratch bucket firedrill creates starts so; the tag decides.
            if !bucket.starts_with("firedrill-") {
                continue;
            }
            let tags: BTreeMap<String, String> =
                api::bucket_tags(s3, &bucket).await?.into_iter().collect();
            let Some(run_id) = tags.get(TAG_RUN_ID) else {
                continue;
            };
            let expires_at = tags.get(TAG_EXPIRES_AT).and_then(|t| {
                OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            });
            found.push(Tagged {
                resource: ScratchResource {
                    kind: KIND.name.to_string(),
                    rtype: ResourceType::Bucket,
                    id: bucket.clone(),
                    region: clients.region().to_string(),
                    parent: None,
                    target: tags
                        .get(firedrill_core::resource::TAG_TARGET)
                        .cloned()
                        .unwrap_or_default(),
                    service: Some(Service::S3),
                },
                run_id: run_id.clone(),
                expires_at,
            });
        }
        Ok(found)
    })
}

#[cfg(test)]
mod tests {
    use super::pick_share;

    fn keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("k{i}")).collect()
    }

    #[test]
    fn delete_share_picks_exactly_the_share_deterministically() {
        let picked = pick_share(keys(2000), 7, 0.25);
        assert_eq!(picked.len(), 500);
        assert_eq!(
            picked,
            pick_share(keys(2000), 7, 0.25),
            "same seed, same keys"
        );
        assert_ne!(
            picked,
            pick_share(keys(2000), 8, 0.25),
            "another seed, other keys"
        );
        assert_eq!(pick_share(keys(5), 7, 0.5).len(), 3, "2.5 rounds to 3");
        assert_eq!(pick_share(keys(10), 7, 1.0).len(), 10);
    }

    #[test]
    fn delete_share_of_a_small_bucket_deletes_at_least_one_object() {
        // Regression: a probabilistic pick deleted 0 of 5 objects at share
        // 0.5, and the drill "proved" a restore of nothing.
        assert_eq!(pick_share(keys(3), 1, 0.01).len(), 1);
        assert!(pick_share(Vec::new(), 1, 0.5).is_empty());
    }
}
