//! Undoing an `s3-bucket` fault: the objects it deleted or overwrote are
//! put back from the backup, so the drill leaves the bucket as it found it.

use futures::stream::{self, StreamExt, TryStreamExt};

use crate::aws::s3 as api;
use crate::targets::{StageContext, Target};
use firedrill_core::Service;
use firedrill_core::{Finding, StageError, StageOutput};

use super::manifest;
use super::options::BackupMethod;
use super::{PARALLEL, S3Target, io_err};

impl S3Target {
    pub(super) async fn run_revert(
        &mut self,
        cx: &StageContext,
    ) -> Result<StageOutput, StageError> {
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
}
