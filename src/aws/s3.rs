//! The S3 calls firedrill makes, returning domain types and [`AwsError`].
//! Listings are streamed page by page; object bodies are hashed as they
//! arrive and never held whole.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete,
    ObjectIdentifier, Tag, Tagging,
};
use sha2::{Digest, Sha256};

use super::FromSdk;
use firedrill_core::AwsError;

/// An object as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// The `ETag` without its quotes.
    pub etag: Option<String>,
    pub last_modified: Option<time::OffsetDateTime>,
}

/// The MD5 hex digest an `ETag` carries, if it is one: S3 sets a single-part
/// object's `ETag` to the MD5 of its bytes (SSE-S3 and unencrypted objects);
/// multipart `ETag`s end in `-N`, and SSE-KMS/SSE-C `ETag`s are not MD5s of the
/// content at all (they cannot be told apart by shape, so two copies of one
/// such object simply fail to match and are downloaded instead).
pub fn etag_md5(etag: &str) -> Option<&str> {
    (etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())).then_some(etag)
}

/// One version of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    pub key: String,
    pub version_id: String,
    pub is_delete_marker: bool,
    pub last_modified: Option<time::OffsetDateTime>,
    pub size: u64,
}

/// Whether a bucket exists; `NotFound` maps to `Ok(false)`.
pub async fn bucket_exists(s3: &Client, bucket: &str) -> Result<bool, AwsError> {
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(true),
        Err(e) => {
            let e = AwsError::from_sdk("s3:HeadBucket", e);
            if e.is_not_found() { Ok(false) } else { Err(e) }
        }
    }
}

/// Whether versioning is enabled on a bucket.
pub async fn versioning_enabled(s3: &Client, bucket: &str) -> Result<bool, AwsError> {
    let out = s3
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:GetBucketVersioning", e))?;
    Ok(out.status() == Some(&BucketVersioningStatus::Enabled))
}

/// A bucket's tags (empty when it has none).
pub async fn bucket_tags(s3: &Client, bucket: &str) -> Result<Vec<(String, String)>, AwsError> {
    match s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(out) => Ok(out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()),
        Err(e) => {
            let e = AwsError::from_sdk("s3:GetBucketTagging", e);
            if e.is_not_found() || e.code.as_deref() == Some("NoSuchTagSet") {
                Ok(Vec::new())
            } else {
                Err(e)
            }
        }
    }
}

/// Create a bucket and tag it; returns the request id of the create call.
pub async fn create_bucket(
    s3: &Client,
    bucket: &str,
    region: &str,
    tags: &[(String, String)],
) -> Result<Option<String>, AwsError> {
    let mut req = s3.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    let out = req
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:CreateBucket", e))?;
    let request_id = aws_types::request_id::RequestId::request_id(&out).map(str::to_string);
    put_bucket_tags(s3, bucket, tags).await?;
    Ok(request_id)
}

/// Replace a bucket's tags.
pub async fn put_bucket_tags(
    s3: &Client,
    bucket: &str,
    tags: &[(String, String)],
) -> Result<(), AwsError> {
    let mut tagging = Tagging::builder();
    for (k, v) in tags {
        tagging = tagging.tag_set(
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| build_error("s3:PutBucketTagging", &e))?,
        );
    }
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(
            tagging
                .build()
                .map_err(|e| build_error("s3:PutBucketTagging", &e))?,
        )
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:PutBucketTagging", e))?;
    Ok(())
}

fn build_error(operation: &'static str, e: &dyn std::fmt::Display) -> AwsError {
    AwsError {
        operation,
        kind: firedrill_core::AwsErrorKind::Service,
        code: None,
        message: e.to_string(),
        request_id: None,
    }
}

/// Stream a bucket's listing one page (≤1000 keys) at a time, in key order.
pub async fn list_pages<F, Fut>(
    s3: &Client,
    bucket: &str,
    prefix: Option<&str>,
    mut page: F,
) -> Result<(), AwsError>
where
    F: FnMut(Vec<ObjectInfo>) -> Fut,
    Fut: std::future::Future<Output = Result<(), AwsError>>,
{
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .set_prefix(prefix.map(str::to_string))
        .into_paginator()
        .send();
    while let Some(p) = pages.next().await {
        let p = p.map_err(|e| AwsError::from_sdk("s3:ListObjectsV2", e))?;
        let objects = p
            .contents()
            .iter()
            .map(|o| ObjectInfo {
                key: o.key().unwrap_or_default().to_string(),
                size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                etag: o.e_tag().map(|t| t.trim_matches('"').to_ascii_lowercase()),
                last_modified: o.last_modified().and_then(to_time),
            })
            .collect();
        page(objects).await?;
    }
    Ok(())
}

/// Every version (and delete marker) under a prefix, one page at a time.
pub async fn list_version_pages<F, Fut>(
    s3: &Client,
    bucket: &str,
    prefix: Option<&str>,
    mut page: F,
) -> Result<(), AwsError>
where
    F: FnMut(Vec<VersionInfo>) -> Fut,
    Fut: std::future::Future<Output = Result<(), AwsError>>,
{
    let mut key_marker: Option<String> = None;
    let mut version_marker: Option<String> = None;
    loop {
        let out = s3
            .list_object_versions()
            .bucket(bucket)
            .set_prefix(prefix.map(str::to_string))
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("s3:ListObjectVersions", e))?;
        let mut items: Vec<VersionInfo> = out
            .versions()
            .iter()
            .map(|v| VersionInfo {
                key: v.key().unwrap_or_default().to_string(),
                version_id: v.version_id().unwrap_or("null").to_string(),
                is_delete_marker: false,
                last_modified: v.last_modified().and_then(to_time),
                size: v.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
            })
            .collect();
        items.extend(out.delete_markers().iter().map(|m| VersionInfo {
            key: m.key().unwrap_or_default().to_string(),
            version_id: m.version_id().unwrap_or("null").to_string(),
            is_delete_marker: true,
            last_modified: m.last_modified().and_then(to_time),
            size: 0,
        }));
        page(items).await?;
        if out.is_truncated() == Some(true) {
            key_marker = out.next_key_marker().map(str::to_string);
            version_marker = out.next_version_id_marker().map(str::to_string);
            if key_marker.is_none() {
                break;
            }
        } else {
            break;
        }
    }
    Ok(())
}

fn to_time(t: &aws_smithy_types::DateTime) -> Option<time::OffsetDateTime> {
    let nanos = i128::from(t.secs()) * 1_000_000_000 + i128::from(t.subsec_nanos());
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// Digests of an object's bytes, computed in one streamed read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectDigests {
    pub sha256: String,
    pub md5: String,
    pub size: u64,
    pub version_id: Option<String>,
}

/// SHA-256, MD5 and size of an object (optionally a given version), streamed.
pub async fn object_digests(
    s3: &Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<ObjectDigests, AwsError> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version_id.map(str::to_string))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:GetObject", e))?;
    let version = out.version_id().map(str::to_string);
    let mut body = out.body;
    let (mut sha256, mut md5) = (Sha256::new(), md5::Md5::new());
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| AwsError {
            operation: "s3:GetObject",
            kind: firedrill_core::AwsErrorKind::Unreachable,
            code: None,
            message: format!("reading the body: {e}"),
            request_id: None,
        })?;
        size += chunk.len() as u64;
        sha256.update(&chunk);
        md5.update(&chunk);
    }
    Ok(ObjectDigests {
        sha256: hex::encode(sha256.finalize()),
        md5: hex::encode(md5.finalize()),
        size,
        version_id: version,
    })
}

/// The size of an object, or `None` when it does not exist.
pub async fn object_size(s3: &Client, bucket: &str, key: &str) -> Result<Option<u64>, AwsError> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(Some(
            out.content_length()
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
        )),
        Err(e) => {
            let e = AwsError::from_sdk("s3:HeadObject", e);
            if e.is_not_found() { Ok(None) } else { Err(e) }
        }
    }
}

/// An object as a recovery point: its key, size and time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dated {
    pub key: String,
    pub size: u64,
    pub last_modified: Option<time::OffsetDateTime>,
}

/// Every object under `prefix` with its modification time (dumps).
pub async fn list_dated(
    s3: &Client,
    bucket: &str,
    prefix: Option<&str>,
) -> Result<Vec<Dated>, AwsError> {
    let mut out = Vec::new();
    list_pages(s3, bucket, prefix, |page| {
        out.extend(page.into_iter().map(|o| Dated {
            key: o.key,
            size: o.size,
            last_modified: o.last_modified,
        }));
        async { Ok(()) }
    })
    .await?;
    Ok(out)
}

/// `HeadObject` of the current version.
async fn head(
    s3: &Client,
    bucket: &str,
    key: &str,
) -> Result<aws_sdk_s3::operation::head_object::HeadObjectOutput, AwsError> {
    s3.head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:HeadObject", e))
}

/// The SHA-256 an object's metadata declares (`x-amz-meta-sha256`), if any.
pub async fn declared_sha256(
    s3: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<String>, AwsError> {
    let out = head(s3, bucket, key).await?;
    Ok(out
        .metadata()
        .and_then(|m| m.get("sha256"))
        .map(|v| v.trim().to_ascii_lowercase()))
}

/// Read a small object whole (canaries).
pub async fn get_small(s3: &Client, bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:GetObject", e))?;
    let data = out.body.collect().await.map_err(|e| AwsError {
        operation: "s3:GetObject",
        kind: firedrill_core::AwsErrorKind::Unreachable,
        code: None,
        message: format!("reading the body: {e}"),
        request_id: None,
    })?;
    Ok(data.into_bytes().to_vec())
}

/// Write a small object.
pub async fn put(s3: &Client, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), AwsError> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:PutObject", e))?;
    Ok(())
}

/// Server-side copy of one object (optionally a given version).
pub async fn copy(
    s3: &Client,
    from_bucket: &str,
    key: &str,
    version_id: Option<&str>,
    to_bucket: &str,
) -> Result<(), AwsError> {
    let mut source = format!("{from_bucket}/{}", encode_key(key));
    if let Some(v) = version_id {
        source.push_str("?versionId=");
        source.push_str(v);
    }
    s3.copy_object()
        .copy_source(source)
        .bucket(to_bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:CopyObject", e))?;
    Ok(())
}

/// Percent-encode a key for `x-amz-copy-source`, keeping `/`.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Delete up to 1000 keys (or key versions) in one call.
pub async fn delete_batch(
    s3: &Client,
    bucket: &str,
    items: &[(String, Option<String>)],
) -> Result<usize, AwsError> {
    if items.is_empty() {
        return Ok(0);
    }
    let mut objects = Vec::with_capacity(items.len());
    for (key, version) in items {
        objects.push(
            ObjectIdentifier::builder()
                .key(key)
                .set_version_id(version.clone())
                .build()
                .map_err(|e| build_error("s3:DeleteObjects", &e))?,
        );
    }
    let out = s3
        .delete_objects()
        .bucket(bucket)
        .delete(
            Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| build_error("s3:DeleteObjects", &e))?,
        )
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:DeleteObjects", e))?;
    if let Some(first) = out.errors().first() {
        return Err(AwsError {
            operation: "s3:DeleteObjects",
            kind: firedrill_core::AwsErrorKind::Service,
            code: first.code().map(str::to_string),
            message: format!(
                "{} of {} deletes failed, first: {} {}",
                out.errors().len(),
                items.len(),
                first.key().unwrap_or_default(),
                first.message().unwrap_or_default()
            ),
            request_id: None,
        });
    }
    Ok(items.len())
}

/// Delete every version under a prefix (the whole bucket for `None`).
pub async fn delete_all_versions(
    s3: &Client,
    bucket: &str,
    prefix: Option<&str>,
) -> Result<usize, AwsError> {
    let deleted = std::sync::atomic::AtomicUsize::new(0);
    let counter = &deleted;
    let delete_page = |items: Vec<(String, Option<String>)>| async move {
        for chunk in items.chunks(1000) {
            let n = delete_batch(s3, bucket, chunk).await?;
            counter.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    };
    // Current objects first, from the paginated object listing: some S3
    // implementations (LocalStack) answer ListObjectVersions on an
    // unversioned bucket with every object in one page, which for a scratch
    // bucket of 100k objects would be held whole. What is left after that
    // (older versions, delete markers) exists only in versioned buckets.
    list_pages(s3, bucket, prefix, |page| {
        delete_page(page.into_iter().map(|o| (o.key, None)).collect())
    })
    .await?;
    list_version_pages(s3, bucket, prefix, |page| {
        delete_page(
            page.into_iter()
                .map(|v| (v.key, Some(v.version_id)))
                .collect(),
        )
    })
    .await?;
    Ok(deleted.into_inner())
}

/// Delete the current version of every object under a prefix (a versioned
/// bucket keeps the old versions behind delete markers, as a real accident would).
pub async fn delete_current(
    s3: &Client,
    bucket: &str,
    prefix: Option<&str>,
) -> Result<usize, AwsError> {
    let mut keys = Vec::new();
    list_pages(s3, bucket, prefix, |page| {
        keys.extend(page.into_iter().map(|o| (o.key, None)));
        async { Ok(()) }
    })
    .await?;
    let mut n = 0;
    for chunk in keys.chunks(1000) {
        n += delete_batch(s3, bucket, chunk).await?;
    }
    Ok(n)
}

/// Empty and delete a bucket; `Ok(false)` when it did not exist.
pub async fn delete_bucket(s3: &Client, bucket: &str) -> Result<bool, AwsError> {
    match delete_all_versions(s3, bucket, None).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() => return Ok(false),
        Err(e) => return Err(e),
    }
    match s3.delete_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(true),
        Err(e) => {
            let e = AwsError::from_sdk("s3:DeleteBucket", e);
            if e.is_not_found() { Ok(false) } else { Err(e) }
        }
    }
}

/// Names of every bucket the credentials can see.
pub async fn list_buckets(s3: &Client) -> Result<Vec<String>, AwsError> {
    let out = s3
        .list_buckets()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:ListBuckets", e))?;
    Ok(out
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_string))
        .collect())
}

/// Names of every bucket in `region`, every page (read-only).
pub async fn all_buckets(s3: &Client, region: &str) -> Result<Vec<String>, AwsError> {
    let mut found = Vec::new();
    let mut pages = s3
        .list_buckets()
        .bucket_region(region)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("s3:ListBuckets", e))?;
        found.extend(
            page.buckets()
                .iter()
                // The filter is recent: a store that ignores it still says
                // where each bucket lives.
                .filter(|b| b.bucket_region().is_none_or(|r| r == region))
                .filter_map(|b| b.name().map(str::to_string)),
        );
    }
    Ok(found)
}

/// Every bucket in `region` with its tags (read-only); the tags are read a
/// few buckets at a time, since there is one call per bucket.
pub async fn buckets_with_tags(
    s3: &Client,
    region: &str,
) -> Result<Vec<(String, Vec<(String, String)>)>, AwsError> {
    use futures::{StreamExt, TryStreamExt};
    futures::stream::iter(all_buckets(s3, region).await?)
        .map(|name| async move {
            let tags = bucket_tags(s3, &name).await?;
            Ok::<_, AwsError>((name, tags))
        })
        .buffered(8)
        .try_collect()
        .await
}

/// A bucket's default encryption: the algorithm (`AES256`, `aws:kms`) and
/// KMS key of its first rule; `None` when it has none.
pub async fn bucket_encryption(s3: &Client, bucket: &str) -> Result<Option<String>, AwsError> {
    match s3.get_bucket_encryption().bucket(bucket).send().await {
        Ok(out) => Ok(out
            .server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default())
            .map(|d| match d.kms_master_key_id() {
                Some(k) => format!("{} {k}", d.sse_algorithm().as_str()),
                None => d.sse_algorithm().as_str().to_string(),
            })),
        Err(e) => {
            let e = AwsError::from_sdk("s3:GetBucketEncryption", e);
            if e.code.as_deref() == Some("ServerSideEncryptionConfigurationNotFoundError") {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

/// How one object is encrypted at rest (`AES256`, `aws:kms key`); `None`
/// when S3 reports no server-side encryption.
pub async fn object_encryption(
    s3: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<String>, AwsError> {
    let out = head(s3, bucket, key).await?;
    Ok(out
        .server_side_encryption()
        .map(|a| match out.ssekms_key_id() {
            Some(k) => format!("{} {k}", a.as_str()),
            None => a.as_str().to_string(),
        }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn copy_source_keys_are_encoded() {
        assert_eq!(super::encode_key("a b/ü+c.json"), "a%20b/%C3%BC%2Bc.json");
    }
}

/// Object Lock retention of an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockRetention {
    /// `true`: compliance mode (nobody can shorten or remove it, root
    /// included); `false`: governance mode (callers with
    /// `s3:BypassGovernanceRetention` can).
    pub compliance: bool,
    /// Until when the object version cannot be deleted or overwritten.
    pub until: std::time::SystemTime,
}

/// Write one object with its MD5 (S3 requires an integrity header for
/// Object Lock writes, and it catches corruption on the way) and, when
/// given, Object Lock retention. Returns the version id, if versioned.
pub async fn put_retained(
    s3: &Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    retention: Option<LockRetention>,
) -> Result<Option<String>, AwsError> {
    use aws_sdk_s3::primitives::DateTime;
    use aws_sdk_s3::types::ObjectLockMode;
    use base64::Engine;
    use md5::Md5;
    let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&body));
    let mut put = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_md5(md5)
        .body(ByteStream::from(body));
    if let Some(r) = retention {
        put = put
            .object_lock_mode(if r.compliance {
                ObjectLockMode::Compliance
            } else {
                ObjectLockMode::Governance
            })
            .object_lock_retain_until_date(DateTime::from(r.until));
    }
    let out = put
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:PutObject", e))?;
    Ok(out.version_id().map(str::to_string))
}
