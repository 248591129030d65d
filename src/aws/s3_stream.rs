//! Streaming S3 calls: multipart uploads fed part by part, object bodies
//! read chunk by chunk, and the single-object deletes and tag reads that go
//! with them. Nothing here holds a whole object in memory.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::RequestChecksumCalculation;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;

use super::FromSdk;
use firedrill_core::{AwsError, AwsErrorKind};

/// A multipart upload in progress.
#[derive(Clone, Debug)]
pub struct Multipart {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub request_id: Option<String>,
}

/// Percent-encode a tag set for the `x-amz-tagging` header.
fn tagging_header(tags: &[(String, String)]) -> String {
    let enc = |s: &str| {
        let mut out = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    };
    tags.iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Start a multipart upload whose object carries `tags`.
pub async fn start(
    s3: &Client,
    bucket: &str,
    key: &str,
    tags: &[(String, String)],
) -> Result<Multipart, AwsError> {
    let out = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .content_type("application/octet-stream")
        .tagging(tagging_header(tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:CreateMultipartUpload", e))?;
    let request_id = aws_types::request_id::RequestId::request_id(&out).map(str::to_string);
    let upload_id = out.upload_id().unwrap_or_default().to_string();
    if upload_id.is_empty() {
        return Err(AwsError {
            operation: "s3:CreateMultipartUpload",
            kind: AwsErrorKind::Service,
            code: None,
            message: "no upload id in the response".into(),
            request_id,
        });
    }
    Ok(Multipart {
        bucket: bucket.to_string(),
        key: key.to_string(),
        upload_id,
        request_id,
    })
}

/// Upload part `number` (1-based); returns its completed-part record.
pub async fn upload_part(
    s3: &Client,
    up: &Multipart,
    number: i32,
    body: Bytes,
) -> Result<CompletedPart, AwsError> {
    // SigV4 already signs each part's SHA-256 and the caller hashes the
    // whole stream; the SDK's extra CRC32 costs throughput (about 30% on
    // LocalStack) and adds no integrity here.
    let out = s3
        .upload_part()
        .bucket(&up.bucket)
        .key(&up.key)
        .upload_id(&up.upload_id)
        .part_number(number)
        .body(ByteStream::from(body))
        .customize()
        .config_override(
            aws_sdk_s3::config::Builder::default()
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired),
        )
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:UploadPart", e))?;
    Ok(CompletedPart::builder()
        .part_number(number)
        .set_e_tag(out.e_tag().map(str::to_string))
        .build())
}

/// Complete the upload from its parts, in part order.
pub async fn complete(
    s3: &Client,
    up: &Multipart,
    mut parts: Vec<CompletedPart>,
) -> Result<(), AwsError> {
    parts.sort_by_key(CompletedPart::part_number);
    s3.complete_multipart_upload()
        .bucket(&up.bucket)
        .key(&up.key)
        .upload_id(&up.upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:CompleteMultipartUpload", e))?;
    Ok(())
}

/// Abort an upload; already-gone uploads count as aborted.
pub async fn abort(s3: &Client, bucket: &str, key: &str, upload_id: &str) -> Result<(), AwsError> {
    match s3
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = AwsError::from_sdk("s3:AbortMultipartUpload", e);
            if e.is_not_found() || e.code.as_deref() == Some("NoSuchUpload") {
                Ok(())
            } else {
                Err(e)
            }
        }
    }
}

/// Abort every unfinished upload of exactly `key`; returns how many.
pub async fn abort_all(s3: &Client, bucket: &str, key: &str) -> Result<usize, AwsError> {
    let out = match s3
        .list_multipart_uploads()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            let e = AwsError::from_sdk("s3:ListMultipartUploads", e);
            return if e.is_not_found() { Ok(0) } else { Err(e) };
        }
    };
    let mut n = 0;
    for u in out.uploads() {
        if u.key() == Some(key)
            && let Some(id) = u.upload_id()
        {
            abort(s3, bucket, key, id).await?;
            n += 1;
        }
    }
    Ok(n)
}

/// Open an object for streaming; returns its size and body.
pub async fn open(s3: &Client, bucket: &str, key: &str) -> Result<(u64, ByteStream), AwsError> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:GetObject", e))?;
    let size = out
        .content_length()
        .and_then(|s| u64::try_from(s).ok())
        .unwrap_or(0);
    Ok((size, out.body))
}

/// A read error in the middle of a body.
pub fn body_error(e: &dyn std::fmt::Display) -> AwsError {
    AwsError {
        operation: "s3:GetObject",
        kind: AwsErrorKind::Unreachable,
        code: None,
        message: format!("reading the body: {e}"),
        request_id: None,
    }
}

/// Whether an object exists.
pub async fn exists(s3: &Client, bucket: &str, key: &str) -> Result<bool, AwsError> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => Ok(true),
        Err(e) => {
            let e = AwsError::from_sdk("s3:HeadObject", e);
            if e.is_not_found() { Ok(false) } else { Err(e) }
        }
    }
}

/// Delete one object; `Ok(false)` when it (or its bucket) did not exist.
pub async fn delete(s3: &Client, bucket: &str, key: &str) -> Result<bool, AwsError> {
    let existed = match exists(s3, bucket, key).await {
        Ok(e) => e,
        Err(e) if e.is_not_found() => return Ok(false),
        Err(e) => return Err(e),
    };
    if existed {
        s3.delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("s3:DeleteObject", e))?;
    }
    Ok(existed)
}

/// An object's tags.
pub async fn object_tags(
    s3: &Client,
    bucket: &str,
    key: &str,
) -> Result<Vec<(String, String)>, AwsError> {
    let out = s3
        .get_object_tagging()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:GetObjectTagging", e))?;
    Ok(out
        .tag_set()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect())
}

/// Replace an object's tags.
pub async fn put_object_tags(
    s3: &Client,
    bucket: &str,
    key: &str,
    tags: &[(String, String)],
) -> Result<(), AwsError> {
    let mut tagging = aws_sdk_s3::types::Tagging::builder();
    for (k, v) in tags {
        let tag = aws_sdk_s3::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .map_err(|e| body_error(&e))?;
        tagging = tagging.tag_set(tag);
    }
    s3.put_object_tagging()
        .bucket(bucket)
        .key(key)
        .tagging(tagging.build().map_err(|e| body_error(&e))?)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:PutObjectTagging", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn tagging_header_is_url_encoded() {
        let tags = vec![
            ("firedrill:run-id".to_string(), "r1".to_string()),
            ("a b".to_string(), "x+y".to_string()),
        ];
        assert_eq!(
            super::tagging_header(&tags),
            "firedrill%3Arun-id=r1&a%20b=x%2By"
        );
    }
}
