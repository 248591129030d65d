//! The `s3-bucket` restore: copy the backup (or the versions current just
//! before the fault, or what survived) into a scratch bucket.

use std::collections::HashMap;

use futures::stream::{self, StreamExt, TryStreamExt};
use time::OffsetDateTime;

use crate::aws::s3 as api;
use crate::targets::{StageContext, Target};
use firedrill_core::AwsError;
use firedrill_core::Service;
use firedrill_core::{StageError, StageOutput};

use super::options::BackupMethod;
use super::{PARALLEL, S3Target};

impl S3Target {
    pub(super) async fn run_restore(
        &mut self,
        cx: &StageContext,
    ) -> Result<StageOutput, StageError> {
        let s3 = cx.clients.s3().clone();
        let mut out = StageOutput::default().emulated(cx.emulated(Service::S3));
        let (restore_bucket, _) = self.scratch_bucket(cx, "restore", &mut out).await?;
        self.state.restore_bucket = Some(restore_bucket.clone());
        self.state.restore_url = Some(bucket_url(cx, &restore_bucket));
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
            BackupMethod::PointInTime => {
                // The versions the backup stage found current at T, from
                // its manifest (in key order).
                let path = self
                    .state
                    .manifest
                    .clone()
                    .ok_or_else(|| StageError::Failed("no manifest".into()))?;
                let entries: Vec<(String, String)> = super::manifest::read(&path)
                    .map_err(|e| StageError::Failed(format!("cannot read the manifest: {e}")))?
                    .filter_map(|e| e.ok().and_then(|e| Some((e.key, e.version_id?))))
                    .collect();
                for chunk in entries.chunks(1000) {
                    copy_all(
                        chunk
                            .iter()
                            .map(|(k, v)| (self.bucket.clone(), k.clone(), Some(v.clone())))
                            .collect(),
                    )
                    .await?;
                }
                source_desc = format!(
                    "versions of {} current at {}",
                    self.resource(),
                    self.state
                        .point_in_time
                        .map_or_else(String::new, |t| t.to_string())
                );
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
}

/// Where the restored bucket answers: on the emulator's endpoint, or AWS's
/// virtual-hosted address.
fn bucket_url(cx: &StageContext, bucket: &str) -> String {
    match cx.clients.environment().endpoint(Service::S3) {
        Some(e) => format!("{}/{bucket}", e.trim_end_matches('/')),
        None => format!("https://{bucket}.s3.{}.amazonaws.com", cx.clients.region()),
    }
}
