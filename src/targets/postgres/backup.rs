//! The `postgres` backup: `pg_dump -Fc` streamed to an S3 multipart upload,
//! with the baseline (row counts, checksums, custom checks) taken from the
//! same exported snapshot, so what is counted is what is dumped.

use super::canary::sql_err;
use crate::aws::s3_stream;
use crate::sql::{self, SqlError};
use crate::targets::{StageContext, Target};
use firedrill_core::ResourceType;
use firedrill_core::Service;
use firedrill_core::resource::TAG_TARGET;
use firedrill_core::{StageError, StageOutput};

use super::{KIND, Manifest, PgTarget, dump_key, human_bytes, stream};

impl PgTarget {
    pub(super) async fn run_backup(
        &mut self,
        cx: &StageContext,
    ) -> Result<StageOutput, StageError> {
        let s3 = cx.clients.s3().clone();
        let mut out = StageOutput::default().emulated(cx.emulated(Service::S3));
        if self.dump.is_existing() {
            return self.choose_dump(cx, out).await;
        }
        // One snapshot for the dump and the baseline: what is counted is what is dumped.
        let client = self.source.connect().await.map_err(sql_err)?;
        let snapshot = export_snapshot(&client).await?;
        let tables = self.tables(&client).await.map_err(sql_err)?;
        let key = dump_key(&cx.run_id, cx.target_index, &self.source.database);
        let up = self.start_upload(cx, &s3, &key).await?;
        out.request("s3:CreateMultipartUpload", up.request_id.as_deref());

        let args = vec![
            "--format=custom".to_string(),
            format!("--snapshot={snapshot}"),
            "--no-password".to_string(),
        ];
        let dumped = async {
            let started = std::time::Instant::now();
            let mut child = stream::spawn_tool("pg_dump", &args, &self.source, false)?;
            let stderr = stream::collect_stderr(&mut child);
            let stdout = child
                .stdout
                .take()
                .ok_or_else(|| StageError::Failed("pg_dump has no stdout".into()))?;
            let uploaded = stream::upload_parts(&s3, &up, stdout).await;
            let status = child
                .wait()
                .await
                .map_err(|e| StageError::Failed(format!("waiting for pg_dump: {e}")))?;
            let err_text = stderr.await.unwrap_or_default();
            if !status.success() {
                return Err(StageError::Failed(format!(
                    "pg_dump exited with {status}: {}",
                    self.source.redact(&err_text)
                )));
            }
            uploaded.map(|u| (u, started.elapsed()))
        };
        let baseline = async {
            let started = std::time::Instant::now();
            sql::capture(&client, &tables, &self.checks)
                .await
                .map_err(sql_err)
                .map(|b| (b, started.elapsed()))
        };
        let (dumped, baseline) = tokio::join!(dumped, baseline);
        let _ = client.batch_execute("COMMIT").await;
        let (streamed, parts) = match (dumped, baseline) {
            (Ok(d), Ok(b)) => (d, b),
            (Err(e), _) | (_, Err(e)) => {
                let _ = s3_stream::abort(&s3, &up.bucket, &up.key, &up.upload_id).await;
                return Err(e);
            }
        };
        let ((streamed, completed), dump_time) = streamed;
        let (parts, baseline_time) = parts;
        if let Err(e) = s3_stream::complete(&s3, &up, completed).await {
            let _ = s3_stream::abort(&s3, &up.bucket, &up.key, &up.upload_id).await;
            return Err(e.into());
        }
        let baseline = parts;
        let rows: u64 = baseline.tables.iter().map(|t| t.rows).sum();
        let manifest = Manifest {
            bucket: self.bucket.clone(),
            key: key.clone(),
            size: streamed.bytes,
            sha256: Some(streamed.sha256.clone()),
            parts: streamed.parts,
            snapshot,
            dumped_at: cx.clock.now().utc,
            source: self.source.url(),
            baseline,
        };
        let path = self.manifest_path(cx);
        std::fs::write(
            &path,
            serde_json::to_vec_pretty(&manifest).map_err(|e| StageError::Failed(e.to_string()))?,
        )
        .map_err(|e| StageError::Environment(format!("cannot write {}: {e}", path.display())))?;
        out.detail = format!(
            "pg_dump of {} ({} table(s), {rows} row(s)) streamed to s3://{}/{key}: {} in {} part(s)",
            self.resource(),
            manifest.baseline.tables.len(),
            self.bucket,
            human_bytes(streamed.bytes),
            streamed.parts
        );
        let out = out
            .fact("bucket", &self.bucket)
            .fact("key", &key)
            .fact("size", streamed.bytes)
            .fact("sha256", &streamed.sha256)
            .fact("parts", streamed.parts)
            .fact("tables", manifest.baseline.tables.len())
            .fact("rows", rows)
            .fact("dump_ms", dump_time.as_millis())
            .fact("baseline_ms", baseline_time.as_millis())
            .fact("manifest", path.display());
        self.state.manifest = Some(manifest);
        Ok(out)
    }

    /// Start the multipart upload of the dump, ledgered first. A kept dump
    /// is ledgered as an upload (a crash aborts it, cleanup keeps the
    /// finished object) and carries no run tags, so reap by tag leaves it
    /// alone.
    async fn start_upload(
        &mut self,
        cx: &StageContext,
        s3: &aws_sdk_s3::Client,
        key: &str,
    ) -> Result<s3_stream::Multipart, StageError> {
        let (rtype, tags) = if self.keep {
            (
                ResourceType::S3Upload,
                vec![(TAG_TARGET.to_string(), cx.target_name.clone())],
            )
        } else {
            (ResourceType::S3Object, cx.tags())
        };
        let mut r = cx.resource(KIND.name, rtype, key, Service::S3);
        r.parent = Some(self.bucket.clone());
        let ledger_id = cx.intend(r)?;
        let up = s3_stream::start(s3, &self.bucket, key, &tags).await?;
        cx.created(ledger_id, up.request_id.as_deref())?;
        self.state.dump_entry = Some(ledger_id);
        Ok(up)
    }
}

/// Open a read-only repeatable-read transaction and export its snapshot,
/// for `pg_dump --snapshot` and the baseline to share.
async fn export_snapshot(client: &tokio_postgres::Client) -> Result<String, StageError> {
    client
        .simple_query(
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT pg_export_snapshot()",
        )
        .await
        .map_err(|e| sql_err(SqlError::query("exporting a snapshot", &e)))?
        .into_iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .ok_or_else(|| StageError::Failed("pg_export_snapshot returned nothing".into()))
}
