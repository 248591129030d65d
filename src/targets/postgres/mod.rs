//! `postgres`: a self-managed `PostgreSQL` database. Backup is `pg_dump -Fc`
//! streamed into an S3 multipart upload (SHA-256 on the way) in the same
//! snapshot as the baseline of row counts and checksums; the fault drops,
//! truncates or deletes rows (or stops the server); restore streams the dump
//! from S3 into `pg_restore` for a scratch database named after the run;
//! validation compares it with the baseline and runs the custom checks.
//!
//! The password is read from the variable `password_env` names and only
//! ever handed to a connection or a child's environment.

mod canary;
mod cleanup;
pub(crate) mod options;
mod stream;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use self::canary::{PgCanary, sql_err};
use self::options::{Fault, RawPostgres};
use super::{KindSpec, StageContext, Target};
use crate::aws::{s3 as s3api, s3_stream};
use crate::canary::CanarySink;
use crate::sql::{self, Baseline, ConnSpec, SqlCheck, SqlError, TableRef};
use firedrill_core::ResourceType;
use firedrill_core::canary::CanaryPlan;
use firedrill_core::options::TargetInput;
use firedrill_core::resource::TAG_ALLOW_FAULTS;
use firedrill_core::{
    Check, CheckStatus, FaultSpec, Finding, PlannedAction, Preflight, StageError, StageOutput,
    Validation,
};
use firedrill_core::{Diagnostic, Service};
use firedrill_core::{Effect, Stage};

/// Registry entry.
pub const KIND: KindSpec = KindSpec {
    name: "postgres",
    summary: "A self-managed PostgreSQL database: pg_dump to S3, drop/truncate/delete rows, pg_restore into a scratch database, row counts + checksums + SQL checks.",
    parse,
    schema: |g| RawPostgres::json_schema(g),
    delete: cleanup::delete,
    find_tagged: cleanup::find_tagged,
};

fn parse(input: TargetInput<'_>, diags: &mut Vec<Diagnostic>) -> Option<Box<dyn Target>> {
    let name = input.name.to_string();
    let raw: RawPostgres = firedrill_core::options::deserialize_kind_options(input, diags)?;
    let source = options::source(&raw, diags);
    let restore = options::restore(raw.restore.as_ref(), &source, diags);
    firedrill_core::validate::bucket_name(&raw.backup.bucket, diags);
    let fault = options::fault(raw.fault.as_ref(), diags);
    if matches!(fault, Fault::StopServer { .. })
        && restore.host == source.host
        && restore.port == source.port
        && let Some(f) = &raw.fault
    {
        diags.push(
            Diagnostic::new("fault `stop-server` stops the server the restore would go to")
                .at(f.action.span())
                .label("restores need a running server")
                .help("add `[targets.restore]` with the `host` and `port` of another server"),
        );
    }
    let checks = crate::sql::checks(&raw.check, diags);
    let canary = firedrill_core::validate::canary_settings(
        raw.canary.enabled,
        raw.canary.interval,
        raw.canary.writes_after_backup.as_ref(),
        diags,
    );
    let canary_table = TableRef::parse(
        raw.canary
            .table
            .as_ref()
            .map_or("firedrill_canary", |t| t.get_ref().as_str()),
    );
    Some(Box::new(PgTarget {
        name,
        source,
        restore,
        bucket: raw.backup.bucket.into_inner(),
        keep: raw.backup.keep.unwrap_or(false),
        canary,
        canary_table,
        fault,
        checks,
        tables: raw
            .validate
            .tables
            .map(|ts| ts.iter().map(|t| TableRef::parse(t.get_ref())).collect()),
        state: State::default(),
    }))
}

#[derive(Debug, Default)]
struct State {
    manifest: Option<Manifest>,
    restore_db: Option<String>,
}

/// What the backup wrote, also saved as `<target>.pg-manifest.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Manifest {
    bucket: String,
    key: String,
    size: u64,
    sha256: String,
    parts: usize,
    /// The exported snapshot shared by the dump and the baseline.
    snapshot: String,
    #[serde(with = "time::serde::rfc3339")]
    dumped_at: OffsetDateTime,
    source: String,
    baseline: Baseline,
}

/// A validated `postgres` target.
#[derive(Debug)]
pub struct PgTarget {
    name: String,
    source: ConnSpec,
    /// The restore server's maintenance database.
    restore: ConnSpec,
    bucket: String,
    keep: bool,
    canary: Option<CanaryPlan>,
    canary_table: TableRef,
    fault: Fault,
    checks: Vec<SqlCheck>,
    /// `None`: every user table.
    tables: Option<Vec<TableRef>>,
    state: State,
}

fn env_err(e: SqlError) -> StageError {
    StageError::Environment(e.to_string())
}

fn scratch_db(cx: &StageContext) -> String {
    cx.scratch_name("restore").replace('-', "_")
}

fn dump_key(run_id: &str, index: usize, database: &str) -> String {
    format!("{}{run_id}/{index}/{database}.dump", cleanup::KEY_PREFIX)
}

impl PgTarget {
    fn manifest_path(&self, cx: &StageContext) -> PathBuf {
        cx.run_dir.join(format!("{}.pg-manifest.json", self.name))
    }

    /// The tables to baseline, read inside the snapshot.
    async fn tables(&self, client: &tokio_postgres::Client) -> Result<Vec<TableRef>, SqlError> {
        match &self.tables {
            Some(t) => Ok(t.clone()),
            None => sql::list_user_tables(client, std::slice::from_ref(&self.canary_table)).await,
        }
    }
}

async fn table_exists(client: &tokio_postgres::Client, t: &TableRef) -> Result<bool, SqlError> {
    let row = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&t.sql()])
        .await
        .map_err(|e| SqlError::query(format!("looking up table {t}"), &e))?;
    Ok(row.get(0))
}

/// Run a client tool to check it is installed.
async fn tool_version(program: &str) -> Result<String, StageError> {
    let out = tokio::process::Command::new(program)
        .arg("--version")
        .output()
        .await
        .map_err(|e| {
            StageError::Environment(format!(
                "cannot run `{program}`: {e} (hint: install the PostgreSQL client tools and put them on PATH)"
            ))
        })?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[async_trait]
impl Target for PgTarget {
    fn resource(&self) -> String {
        format!(
            "postgresql://{}:{}/{}",
            self.source.host, self.source.port, self.source.database
        )
    }

    fn services(&self) -> &'static [Service] {
        &[Service::S3]
    }

    fn fault(&self) -> Option<FaultSpec> {
        let db = self.resource();
        let (action, description) = match &self.fault {
            Fault::None => return None,
            Fault::DropTable(t) => ("drop-table", format!("DROP TABLE {t} in {db}")),
            Fault::Truncate(t) => ("truncate", format!("TRUNCATE {t} in {db}")),
            Fault::DeleteRows { table, predicate } => (
                "delete-rows",
                format!("DELETE FROM {table} WHERE {predicate} in {db}"),
            ),
            Fault::StopServer { command } => (
                "stop-server",
                format!("stop the server of {db} with `{command}`"),
            ),
        };
        Some(FaultSpec {
            action,
            description,
            destructive: true,
            // PostgreSQL is not an AWS service; the dump lives in S3.
            service: Service::S3,
            endpoint: Some(self.source.url()),
        })
    }

    fn canary_plan(&self) -> Option<CanaryPlan> {
        self.canary
    }

    fn plan(&self, run_id: &str, index: usize) -> Vec<PlannedAction> {
        let life = Some(Duration::from_mins(10));
        let db = self.resource();
        let key = dump_key(run_id, index, &self.source.database);
        let scratch = format!("firedrill_{}_{index}_restore", run_id.replace('-', "_"));
        let action = |stage: Stage, effect: Effect, call: &str, res: String, l| PlannedAction {
            stage,
            effect,
            api_call: call.into(),
            resource: res,
            scratch_lifetime: l,
        };
        let mut p = vec![action(
            Stage::Preflight,
            Effect::Read,
            "connect, pg_tables, s3:HeadBucket",
            db.clone(),
            None,
        )];
        if self.canary.is_some() {
            p.push(action(
                Stage::Backup,
                Effect::Create,
                "CREATE TABLE + INSERT (canaries)",
                format!("{db} table {}", self.canary_table),
                life,
            ));
        }
        p.push(action(
            Stage::Backup,
            Effect::Read,
            "pg_dump -Fc --snapshot (+ row counts, checksums)",
            db.clone(),
            None,
        ));
        p.push(action(
            Stage::Backup,
            Effect::Create,
            "s3:CreateMultipartUpload, s3:UploadPart, s3:CompleteMultipartUpload",
            format!("s3://{}/{key}", self.bucket),
            if self.keep { None } else { life },
        ));
        if let Some(f) = self.fault() {
            p.push(action(
                Stage::Fault,
                Effect::Change,
                &f.description,
                db.clone(),
                None,
            ));
        }
        let restore_server = format!("postgresql://{}:{}", self.restore.host, self.restore.port);
        p.push(action(
            Stage::Restore,
            Effect::Create,
            "CREATE DATABASE, s3:GetObject | pg_restore --no-owner",
            format!("{restore_server}/{scratch}"),
            life,
        ));
        p.push(action(
            Stage::Validate,
            Effect::Read,
            "row counts, checksums, SQL checks",
            format!("{restore_server}/{scratch}"),
            None,
        ));
        p
    }

    async fn preflight(&mut self, cx: &StageContext) -> Result<Preflight, StageError> {
        tool_version("pg_dump").await?;
        tool_version("pg_restore").await?;
        let client = self.source.connect().await.map_err(env_err)?;
        let row = client
            .query_one(
                "SELECT current_setting('server_version'), pg_database_size(current_database()), \
                 coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = current_database()",
                &[],
            )
            .await
            .map_err(|e| env_err(SqlError::query("reading the database", &e)))?;
        let (version, size, comment): (String, i64, String) = (row.get(0), row.get(1), row.get(2));
        // Opt-in tag for the guards: `firedrill:allow-faults=true` in the database comment.
        let mut tags = std::collections::BTreeMap::new();
        for word in comment.split_whitespace() {
            if let Some((k, v)) = word.split_once('=')
                && k == TAG_ALLOW_FAULTS
            {
                tags.insert(k.to_string(), v.to_string());
            }
        }
        if self.canary.is_some()
            && table_exists(&client, &self.canary_table)
                .await
                .map_err(env_err)?
        {
            return Err(StageError::Environment(format!(
                "canary table {} already exists in {} (hint: left by a killed run? run `firedrill reap`; otherwise drop it or set `[targets.canary] table` to an unused name)",
                self.canary_table,
                self.resource()
            )));
        }
        let mut must_exist: Vec<TableRef> = self.tables.clone().unwrap_or_default();
        match &self.fault {
            Fault::DropTable(t) | Fault::Truncate(t) | Fault::DeleteRows { table: t, .. } => {
                must_exist.push(t.clone());
            }
            Fault::None | Fault::StopServer { .. } => {}
        }
        for t in &must_exist {
            if !table_exists(&client, t).await.map_err(env_err)? {
                return Err(StageError::Environment(format!(
                    "table {t} does not exist in {}",
                    self.resource()
                )));
            }
        }
        if !s3api::bucket_exists(cx.clients.s3(), &self.bucket).await? {
            return Err(StageError::Environment(format!(
                "backup bucket s3://{} does not exist (hint: create it first)",
                self.bucket
            )));
        }
        self.restore.connect().await.map_err(|e| {
            StageError::Environment(format!("the restore server is not usable: {e}"))
        })?;
        Ok(Preflight {
            detail: format!(
                "{}: PostgreSQL {version}, {:.1} MiB",
                self.resource(),
                size as f64 / 1_048_576.0
            ),
            tags,
        })
    }

    fn canary_sink(&self, cx: &StageContext) -> Option<Arc<dyn CanarySink>> {
        Some(Arc::new(PgCanary {
            cx: cx.clone(),
            conn: self.source.clone(),
            table: self.canary_table.clone(),
            client: tokio::sync::OnceCell::new(),
        }))
    }

    async fn backup(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let s3 = cx.clients.s3().clone();
        let mut out = StageOutput::default().emulated(cx.emulated(Service::S3));
        // One snapshot for the dump and the baseline: what is counted is what is dumped.
        let client = self.source.connect().await.map_err(sql_err)?;
        let snapshot: String = client
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
            .ok_or_else(|| StageError::Failed("pg_export_snapshot returned nothing".into()))?;
        let tables = self.tables(&client).await.map_err(sql_err)?;

        let key = dump_key(&cx.run_id, cx.target_index, &self.source.database);
        // A kept dump is ledgered as an upload (a crash aborts it, cleanup
        // keeps the finished object) and carries no run tags, so reap by tag
        // leaves it alone.
        let (rtype, tags) = if self.keep {
            (
                ResourceType::S3Upload,
                vec![(
                    firedrill_core::resource::TAG_TARGET.to_string(),
                    cx.target_name.clone(),
                )],
            )
        } else {
            (ResourceType::S3Object, cx.tags())
        };
        let mut r = cx.resource(KIND.name, rtype, &key, Service::S3);
        r.parent = Some(self.bucket.clone());
        let ledger_id = cx.intend(r)?;
        let up = s3_stream::start(&s3, &self.bucket, &key, &tags).await?;
        cx.created(ledger_id, up.request_id.as_deref())?;
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
            sha256: streamed.sha256.clone(),
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

    async fn inject(&mut self, _cx: &StageContext) -> Result<StageOutput, StageError> {
        let source = self.source.clone();
        let sql_fault = |q: String| async move {
            let client = source.connect().await.map_err(sql_err)?;
            client.execute(&q, &[]).await.map_err(|e| {
                StageError::Failed(format!("fault `{q}` failed: {}", sql::pg_message(&e)))
            })
        };
        let out = match &self.fault {
            Fault::None => StageOutput::new("no fault injected"),
            Fault::DropTable(t) => {
                sql_fault(format!("DROP TABLE {}", t.sql())).await?;
                StageOutput::new(format!("dropped table {t}"))
            }
            Fault::Truncate(t) => {
                sql_fault(format!("TRUNCATE {}", t.sql())).await?;
                StageOutput::new(format!("truncated table {t}"))
            }
            Fault::DeleteRows { table, predicate } => {
                let n = sql_fault(format!("DELETE FROM {} WHERE {predicate}", table.sql())).await?;
                StageOutput::new(format!("deleted {n} row(s) from {table} where {predicate}"))
                    .fact("deleted", n)
            }
            Fault::StopServer { command } => {
                let o = tokio::process::Command::new("sh")
                    .arg("-c")
                    .arg(command)
                    .stdin(std::process::Stdio::null())
                    .output()
                    .await
                    .map_err(|e| StageError::Environment(format!("cannot run `{command}`: {e}")))?;
                if !o.status.success() {
                    return Err(StageError::Failed(format!(
                        "`{command}` exited with {}: {}",
                        o.status,
                        String::from_utf8_lossy(&o.stderr).trim()
                    )));
                }
                StageOutput::new(format!("stopped the server with `{command}`"))
            }
        };
        Ok(out)
    }

    async fn restore(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
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
        let args = vec![
            "--no-owner".to_string(),
            "--no-acl".to_string(),
            "--no-password".to_string(),
            format!("--dbname={db}"),
        ];
        let mut child = stream::spawn_tool("pg_restore", &args, &target, true)?;
        let stderr = stream::collect_stderr(&mut child);
        let streamed =
            stream::download_into(&s3, &manifest.bucket, &manifest.key, &mut child).await;
        let status = child
            .wait()
            .await
            .map_err(|e| StageError::Failed(format!("waiting for pg_restore: {e}")))?;
        let err_text = stderr.await.unwrap_or_default();
        if !status.success() {
            let integrity = match &streamed {
                Ok(s) if s.sha256 != manifest.sha256 => format!(
                    " (the dump read back has SHA-256 {}, the backup {}: the object changed in S3)",
                    s.sha256, manifest.sha256
                ),
                _ => String::new(),
            };
            return Err(StageError::Failed(format!(
                "pg_restore into {db} exited with {status}: {}{integrity}",
                target.redact(&err_text)
            )));
        }
        let streamed = streamed?;
        if streamed.sha256 != manifest.sha256 || streamed.bytes != manifest.size {
            return Err(StageError::Failed(format!(
                "the dump read back from s3://{}/{} differs from the backup: {} bytes with SHA-256 {}, expected {} bytes with {}",
                manifest.bucket,
                manifest.key,
                streamed.bytes,
                streamed.sha256,
                manifest.size,
                manifest.sha256
            )));
        }
        out.detail = format!(
            "streamed {} from s3://{}/{} into pg_restore for database {db} (SHA-256 verified)",
            human_bytes(streamed.bytes),
            manifest.bucket,
            manifest.key
        );
        Ok(out
            .fact("database", &db)
            .fact("size", streamed.bytes)
            .fact("sha256", &streamed.sha256))
    }

    async fn validate(&mut self, cx: &StageContext) -> Result<Validation, StageError> {
        let manifest = self
            .state
            .manifest
            .clone()
            .ok_or_else(|| StageError::Failed("no backup baseline".into()))?;
        let db = self
            .state
            .restore_db
            .clone()
            .ok_or_else(|| StageError::Failed("nothing restored".into()))?;
        let conn = self.restore.with_database(&db);
        let mut out = StageOutput::default().emulated(cx.emulated(Service::S3));
        let mut checks = sql::validate(&conn, &manifest.baseline, &self.checks).await;
        let mut canary = None;
        if self.canary.is_some() {
            match conn.connect().await {
                Ok(client) => match canary::newest(&client, &self.canary_table).await {
                    Ok(Some(c)) => {
                        checks.push(Check::new(
                            "canary recovered",
                            CheckStatus::Passed,
                            format!("newest canary #{} written {}", c.seq, c.written_at),
                        ));
                        canary = Some(c);
                    }
                    Ok(None) => checks.push(Check::new(
                        "canary recovered",
                        CheckStatus::Failed,
                        format!(
                            "no canary row in table {} of the restored database",
                            self.canary_table
                        ),
                    )),
                    Err(e) => checks.push(Check::new(
                        "canary recovered",
                        CheckStatus::Failed,
                        e.to_string(),
                    )),
                },
                Err(e) => checks.push(Check::new(
                    "canary recovered",
                    CheckStatus::NotVerified,
                    format!("not verified: {e}"),
                )),
            }
        }
        for c in checks.iter().filter(|c| c.status == CheckStatus::Failed) {
            out.findings.push(Finding::error(
                "postgres.check-failed",
                format!("{}: {}", c.name, c.detail),
            ));
        }
        let count = |s: CheckStatus| checks.iter().filter(|c| c.status == s).count();
        out.detail = format!(
            "database {db}: {} check(s) passed, {} failed, {} not verified",
            count(CheckStatus::Passed),
            count(CheckStatus::Failed),
            count(CheckStatus::NotVerified)
        );
        Ok(Validation {
            output: out,
            checks,
            canary,
        })
    }
}

fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / 1_048_576.0)
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}
