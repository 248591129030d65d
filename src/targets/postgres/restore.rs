//! The `postgres` restore: the dump streamed from S3 into `pg_restore`,
//! into a scratch database named after the run.

use super::canary::sql_err;
use crate::sql::{self, ConnSpec, SqlError};
use crate::targets::StageContext;
use firedrill_core::ResourceType;
use firedrill_core::Service;
use firedrill_core::{StageError, StageOutput};

use super::{KIND, PgTarget, human_bytes, scratch_db, stream};

impl PgTarget {
    pub(super) async fn run_restore(
        &mut self,
        cx: &StageContext,
    ) -> Result<StageOutput, StageError> {
        let manifest = self
            .state
            .manifest
            .clone()
            .ok_or_else(|| StageError::Failed("no backup to restore".into()))?;
        let s3 = cx.clients.s3().clone();
        let mut out = StageOutput::default().emulated(cx.emulated(Service::S3));
        let db = scratch_db(cx);
        let admin = self.restore.connect().await.map_err(sql_err)?;
        let mut r = cx.resource(KIND.name, ResourceType::Database, &db, Service::S3);
        r.service = None;
        r.parent = Some(self.restore.url());
        let id = cx.intend(r)?;
        admin
            .batch_execute(&format!("CREATE DATABASE {}", sql::quote_ident(&db)))
            .await
            .map_err(|e| sql_err(SqlError::query(format!("creating database {db}"), &e)))?;
        cx.created(id, None)?;
        self.state.restore_db = Some(db.clone());

        let target = self.restore.with_database(&db);
        let streamed = restore_dump(&s3, &manifest.bucket, &manifest.key, &target, &db).await?;
        let sha_differs = manifest
            .sha256
            .as_ref()
            .is_some_and(|want| *want != streamed.sha256);
        if sha_differs || streamed.bytes != manifest.size {
            return Err(StageError::Failed(format!(
                "the dump read back from s3://{}/{} differs from the backup: {} bytes with SHA-256 {}, expected {} bytes with {}",
                manifest.bucket,
                manifest.key,
                streamed.bytes,
                streamed.sha256,
                manifest.size,
                manifest.sha256.as_deref().unwrap_or("no SHA-256 declared")
            )));
        }
        // An undo after a crash uses this copy only if it is complete.
        let marker = cx.run_dir.join(restored_marker(&self.name));
        std::fs::write(&marker, db.as_bytes())
            .and_then(|()| std::fs::File::open(&marker)?.sync_all())
            .map_err(|e| {
                StageError::Environment(format!("cannot write {}: {e}", marker.display()))
            })?;
        out.detail = format!(
            "streamed {} from s3://{}/{} into pg_restore for database {db} ({})",
            human_bytes(streamed.bytes),
            manifest.bucket,
            manifest.key,
            if manifest.sha256.is_some() {
                "SHA-256 verified"
            } else {
                "no SHA-256 declared: integrity not verified"
            }
        );
        Ok(out
            .fact("database", &db)
            .fact("size", streamed.bytes)
            .fact("sha256", &streamed.sha256))
    }
}

/// The file in the run directory that marks a target's restore finished.
pub(super) fn restored_marker(target: &str) -> String {
    format!("{target}.restored")
}

/// Stream a dump from S3 into `pg_restore` for database `db`; the stream's
/// size and SHA-256 come back for comparison with the backup.
pub(super) async fn restore_dump(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    target: &ConnSpec,
    db: &str,
) -> Result<stream::Streamed, StageError> {
    let args = vec![
        "--no-owner".to_string(),
        "--no-acl".to_string(),
        "--no-password".to_string(),
        format!("--dbname={db}"),
    ];
    let mut child = stream::spawn_tool("pg_restore", &args, target, true)?;
    let stderr = stream::collect_stderr(&mut child);
    let streamed = stream::download_into(s3, bucket, key, &mut child).await;
    let status = child
        .wait()
        .await
        .map_err(|e| StageError::Failed(format!("waiting for pg_restore: {e}")))?;
    let err_text = stderr.await.unwrap_or_default();
    if !status.success() {
        return Err(StageError::Failed(format!(
            "pg_restore into {db} exited with {status}: {}{}",
            target.redact(&err_text),
            streamed
                .as_ref()
                .err()
                .map_or(String::new(), |e| format!(" ({e})"))
        )));
    }
    streamed
}
