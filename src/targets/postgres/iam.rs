//! The IAM permissions a `postgres` drill needs: only its dump in the S3
//! bucket the scenario names (the database itself is reached over SQL).

use firedrill_core::iam::{Action as A, ArnContext, Permission, Scope};

use super::PgTarget;
use super::cleanup::KEY_PREFIX;

impl PgTarget {
    pub(super) fn iam_permissions(&self, arn: &ArnContext) -> Vec<Permission> {
        let mut out = vec![Permission::new(A::S3ListAllMyBuckets, Scope::Any)];
        out.extend(Permission::all(
            &[A::S3ListBucket, A::S3ListBucketMultipartUploads],
            &Scope::Named(vec![arn.s3(&self.bucket)]),
        ));
        out.extend(Permission::all(
            &[
                A::S3PutObject,
                A::S3GetObject,
                A::S3GetObjectTagging,
                A::S3PutObjectTagging,
                A::S3AbortMultipartUpload,
                A::S3DeleteObject,
            ],
            &Scope::Named(vec![arn.s3(&format!("{}/{KEY_PREFIX}*", self.bucket))]),
        ));
        out
    }
}
