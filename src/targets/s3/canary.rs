//! `s3-bucket` canaries: small JSON objects under the run's canary prefix.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::aws::s3 as api;
use crate::canary::CanarySink;
use crate::targets::StageContext;
use firedrill_core::ResourceType;
use firedrill_core::Service;
use firedrill_core::StageError;
use firedrill_core::canary::RecoveredCanary;

use super::KIND;

/// Canaries as small JSON objects under the run's canary prefix.
pub(super) struct S3Canary {
    pub(super) cx: StageContext,
    pub(super) bucket: String,
    pub(super) prefix: String,
    pub(super) recorded: tokio::sync::OnceCell<()>,
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
