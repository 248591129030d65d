//! The `s3-bucket` backup: a SHA-256 and MD5 manifest of every object,
//! streamed while the listing arrives, plus a copy into a scratch bucket
//! (or the object versions).

use futures::stream::{FuturesOrdered, StreamExt};

use super::manifest::Entry;

use crate::aws::s3 as api;
use crate::targets::StageContext;
use firedrill_core::AwsError;
use firedrill_core::Service;
use firedrill_core::{StageError, StageOutput};

use super::manifest;
use super::options::BackupMethod;
use super::{PARALLEL, S3Target, io_err};

impl S3Target {
    pub(super) async fn run_backup(
        &mut self,
        cx: &StageContext,
    ) -> Result<StageOutput, StageError> {
        self.state.run_id.clone_from(&cx.run_id);
        let s3 = cx.clients.s3().clone();
        let mut out = StageOutput::default().emulated(cx.emulated(Service::S3));
        let backup_bucket = match self.backup {
            BackupMethod::Copy => {
                let (name, id) = self.scratch_bucket(cx, "backup", &mut out).await?;
                self.state.backup_ledger_id = Some(id);
                Some(name)
            }
            BackupMethod::PointInTime => return self.point_in_time_backup(cx, out).await,
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
}

/// Aborts a spawned task when the stage's future is dropped (an error, a
/// cancellation): the lister must not outlive the backup.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
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
