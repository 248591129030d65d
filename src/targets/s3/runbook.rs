//! The bad-day recovery steps of an `s3-bucket` target.

use firedrill_core::Stage;
use firedrill_core::runbook::{RunbookStep, Tool, shell_quote};

use super::S3Target;
use super::options::BackupMethod;

pub(super) fn steps(t: &S3Target) -> Vec<RunbookStep> {
    let bucket = shell_quote(&t.bucket);
    let prefix = t
        .prefix
        .as_deref()
        .map(|p| format!(" --prefix {}", shell_quote(p)))
        .unwrap_or_default();
    let url = format!(
        "s3://{}/{}",
        t.bucket,
        t.prefix.as_deref().unwrap_or_default()
    );
    let count = RunbookStep::new(
        "count the objects back in the bucket",
        Tool::Aws,
        format!("aws s3 ls {} --recursive | wc -l", shell_quote(&url)),
    )
    .timed(Stage::Validate);
    match t.backup {
        BackupMethod::Copy | BackupMethod::None => vec![
            RunbookStep::new(
                "name the bucket that holds the copy of the data",
                Tool::Shell,
                "BACKUP_BUCKET=<the bucket your copy job writes>",
            )
            .setting("BACKUP_BUCKET"),
            RunbookStep::new(
                "copy every object back from the copy",
                Tool::Aws,
                format!("aws s3 sync \"s3://$BACKUP_BUCKET/\" {}", shell_quote(&url)),
            )
            .timed(Stage::Restore),
            count,
        ],
        BackupMethod::Versioning | BackupMethod::PointInTime => vec![
            RunbookStep::new(
                "list the deleted objects (their delete markers)",
                Tool::Aws,
                format!(
                    "aws s3api list-object-versions --bucket {bucket}{prefix} \\\n  --query 'DeleteMarkers[?IsLatest].[Key]' --output text"
                ),
            ),
            RunbookStep::new(
                "bring them back: remove each delete marker",
                Tool::Aws,
                format!(
                    "aws s3api list-object-versions --bucket {bucket}{prefix} \\\n  --query 'DeleteMarkers[?IsLatest].[Key,VersionId]' --output text |\nwhile IFS=\"$(printf '\\t')\" read -r key version; do\n  [ \"$key\" = None ] && continue\n  aws s3api delete-object --bucket {bucket} --key \"$key\" --version-id \"$version\" >/dev/null\ndone"
                ),
            )
            .timed(Stage::Restore),
            count,
        ],
    }
}
