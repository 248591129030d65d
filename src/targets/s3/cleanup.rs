//! Deleting `s3-bucket` scratch resources (for cleanup and `reap` alike)
//! and finding them by tag.

use futures::future::BoxFuture;

use crate::aws::{Clients, s3 as api};
use crate::targets::common::with_retained_tag;
use firedrill_core::ResourceType;
use firedrill_core::ScratchResource;
use firedrill_core::Service;
use firedrill_core::{DeleteOutcome, StageError, Tagged};

use super::KIND;

pub(super) fn delete<'a>(
    r: &'a ScratchResource,
    clients: &'a Clients,
) -> BoxFuture<'a, Result<DeleteOutcome, StageError>> {
    Box::pin(async move {
        let s3 = clients.in_region(&r.region).s3;
        match r.rtype {
            ResourceType::Bucket => Ok(DeleteOutcome::existed(
                api::delete_bucket(&s3, &r.id).await?,
            )),
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
            other => Err(StageError::not_deletable(KIND.name, other)),
        }
    })
}

pub(super) fn find_tagged(clients: &Clients) -> BoxFuture<'_, Result<Vec<Tagged>, StageError>> {
    Box::pin(async move {
        let s3 = clients.s3();
        let mut found = Vec::new();
        for bucket in api::list_buckets(s3).await? {
            // Every scratch bucket firedrill creates starts so; the tag decides.
            if !bucket.starts_with("firedrill-") {
                continue;
            }
            let resource = ScratchResource {
                kind: KIND.name.to_string(),
                rtype: ResourceType::Bucket,
                id: bucket.clone(),
                region: clients.region().to_string(),
                parent: None,
                target: String::new(),
                service: Some(Service::S3),
            };
            found.extend(Tagged::from_tags(
                resource,
                api::bucket_tags(s3, &bucket).await?,
            ));
        }
        Ok(found)
    })
}

/// Mark a scratch bucket retained: its tags keep theirs, plus
/// `firedrill:retained` saying why.
pub(super) fn retain<'a>(
    r: &'a ScratchResource,
    why: &'a str,
    clients: &'a Clients,
) -> BoxFuture<'a, Result<(), StageError>> {
    Box::pin(async move {
        if r.rtype != ResourceType::Bucket {
            return Ok(());
        }
        let s3 = clients.in_region(&r.region).s3;
        let tags = with_retained_tag(api::bucket_tags(&s3, &r.id).await?, why);
        api::put_bucket_tags(&s3, &r.id, &tags).await?;
        Ok(())
    })
}
