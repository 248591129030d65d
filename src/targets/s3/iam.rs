//! The IAM permissions an `s3-bucket` drill needs. S3 object actions cannot
//! be conditioned on bucket tags, so the source bucket is named (its
//! `firedrill:allow-faults` tag is checked by the guards before a fault) and
//! scratch buckets are matched by firedrill's name pattern.

use firedrill_core::iam::{Action as A, ArnContext, Permission, SCRATCH_PATTERN, Scope};

use super::S3Target;
use super::options::Fault;

impl S3Target {
    pub(super) fn iam_permissions(&self, arn: &ArnContext) -> Vec<Permission> {
        let bucket = arn.s3(&self.bucket);
        let objects = arn.s3(&format!("{}/{}*", self.bucket, self.prefix().unwrap_or("")));
        let named = Scope::Named(vec![bucket.clone(), objects.clone()]);
        let scratch = Scope::Scratch(vec![
            arn.s3(SCRATCH_PATTERN),
            arn.s3(&format!("{SCRATCH_PATTERN}/*")),
        ]);
        // Preflight, manifest, validation, coverage (the bucket's default
        // encryption); reap lists buckets by tag.
        let mut out = vec![Permission::new(A::S3ListAllMyBuckets, Scope::Any)];
        out.extend(Permission::all(
            &[
                A::S3ListBucket,
                A::S3ListBucketVersions,
                A::S3GetBucketTagging,
                A::S3GetBucketVersioning,
                A::S3GetEncryptionConfiguration,
                A::S3GetObject,
                A::S3GetObjectVersion,
                A::S3GetObjectTagging,
                A::S3GetObjectVersionTagging,
            ],
            &named,
        ));
        // Scratch buckets: the copy, the restore; created, tagged, emptied.
        out.extend(Permission::all(
            &[
                A::S3CreateBucket,
                A::S3PutBucketTagging,
                A::S3GetBucketTagging,
                A::S3ListBucket,
                A::S3ListBucketVersions,
                A::S3GetObject,
                A::S3GetObjectVersion,
                A::S3PutObject,
                A::S3PutObjectTagging,
                A::S3DeleteObject,
                A::S3DeleteObjectVersion,
                A::S3DeleteBucket,
            ],
            &scratch,
        ));
        if self.canary.is_some() {
            let canaries = Scope::Named(vec![arn.s3(&format!(
                "{}/{}.firedrill/canary/*",
                self.bucket,
                self.prefix().unwrap_or("")
            ))]);
            out.extend(Permission::all(
                &[A::S3PutObject, A::S3DeleteObject, A::S3DeleteObjectVersion],
                &canaries,
            ));
        }
        // S3 cannot condition object actions on the bucket's tags: faults
        // are allowed on the named bucket, whose `firedrill:allow-faults`
        // tag the guards check before injecting.
        let fault = Scope::Named(vec![bucket, objects]);
        let faulted: &[A] = match self.fault {
            Fault::None => &[],
            // Deleted objects come back by removing the delete markers
            // (versioning) or by copying them back from the scratch copy.
            Fault::DeleteShare { .. } | Fault::DeleteAll => &[
                A::S3DeleteObject,
                A::S3DeleteObjectVersion,
                A::S3PutObject,
                A::S3PutObjectTagging,
            ],
            Fault::Corrupt { .. } => &[
                A::S3PutObject,
                A::S3PutObjectTagging,
                A::S3DeleteObjectVersion,
            ],
        };
        out.extend(Permission::all(faulted, &fault));
        out
    }
}
