//! `postgres`: a self-managed `PostgreSQL` database. Backup is `pg_dump -Fc`
//! streamed into an S3 multipart upload (SHA-256 on the way) in the same
//! snapshot as the baseline of row counts and checksums; the fault drops,
//! truncates or deletes rows (or stops the server); restore streams the dump
//! from S3 into `pg_restore` for a scratch database named after the run;
//! validation compares it with the baseline and runs the custom checks.
//!
//! The password is read from the variable `password_env` names and only
//! ever handed to a connection or a child's environment.

mod backup;
mod canary;
mod cleanup;
mod existing;
mod fault;
mod iam;
pub(crate) mod options;
mod plan;
mod restore;
mod runbook;
mod stream;
mod undo;
mod validate;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use self::canary::PgCanary;
use self::options::{Fault, RawPostgres};
use super::{KindSpec, StageContext, Target};
use crate::aws::s3 as s3api;
use crate::canary::CanarySink;
use crate::sql::{self, Baseline, ConnSpec, SqlCheck, SqlError, TableRef};
use firedrill_core::canary::CanaryPlan;
use firedrill_core::input::Spanned;
use firedrill_core::options::TargetInput;
use firedrill_core::recovery::SourceSpec;
use firedrill_core::resource::TAG_ALLOW_FAULTS;
use firedrill_core::{Diagnostic, Service};
use firedrill_core::{FaultSpec, PlannedAction, Preflight, StageError, StageOutput, Validation};

/// Registry entry.
pub const KIND: KindSpec = KindSpec {
    name: "postgres",
    summary: "A self-managed PostgreSQL database: pg_dump to S3, drop/truncate/delete rows, pg_restore into a scratch database, row counts + checksums + SQL checks.",
    parse,
    schema: |g| RawPostgres::json_schema(g),
    delete: cleanup::delete,
    find_tagged: cleanup::find_tagged,
    revert: Some(undo::revert),
    retain: cleanup::retain,
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
    let dump = options::dump_source(
        &raw.backup,
        &fault,
        raw.fault.as_ref().map(|f| f.action.span()),
        diags,
    );
    let checks = crate::sql::checks(&raw.check, diags);
    // Canaries are written during the drill: an existing dump cannot hold them.
    let canary = firedrill_core::validate::canary_settings(
        raw.canary.enabled,
        raw.canary.interval,
        raw.canary.writes_after_backup.as_ref(),
        diags,
    )
    .filter(|_| !dump.is_existing());
    let canary_table = TableRef::parse(
        raw.canary
            .table
            .as_ref()
            .map_or("firedrill_canary", |t| t.get_ref().as_str()),
    );
    Some(Box::new(PgTarget {
        dump,
        dump_prefix: raw.backup.prefix.map(Spanned::into_inner),
        name,
        source,
        restore,
        bucket: raw.backup.bucket.into_inner(),
        keep: raw.backup.keep.unwrap_or(false),
        canary,
        canary_table,
        revert: raw.fault.as_ref().and_then(|f| f.revert).unwrap_or(true),
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
    /// The dump's ledger id: the copy a fault's undo needs.
    dump_entry: Option<u64>,
}

/// What the backup wrote, also saved as `<target>.pg-manifest.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Manifest {
    bucket: String,
    key: String,
    size: u64,
    /// The dump's SHA-256: computed while dumping, or declared by an
    /// existing dump's metadata or sidecar; `None` when nothing declares it.
    sha256: Option<String>,
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
    /// A new dump, or an existing one chosen in the backup stage.
    dump: SourceSpec,
    /// Where the organisation's dump job writes, for `latest` and `random`.
    dump_prefix: Option<String>,
    name: String,
    source: ConnSpec,
    /// The restore server's maintenance database.
    restore: ConnSpec,
    bucket: String,
    keep: bool,
    canary: Option<CanaryPlan>,
    canary_table: TableRef,
    fault: Fault,
    /// Undo the fault after validation (default true).
    revert: bool,
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
    async fn recovery_points(
        &self,
        clients: &crate::aws::Clients,
    ) -> Result<firedrill_core::coverage::Listing, StageError> {
        self.dump_listing(clients.s3()).await
    }

    fn runbook_steps(&self) -> Vec<firedrill_core::runbook::RunbookStep> {
        runbook::steps(self)
    }

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
        self.fault_spec()
    }

    fn canary_plan(&self) -> Option<CanaryPlan> {
        self.canary
    }
    fn plan(&self, run_id: &str, index: usize) -> Vec<PlannedAction> {
        self.planned(run_id, index)
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
        self.run_backup(cx).await
    }
    fn permissions(
        &self,
        arn: &firedrill_core::iam::ArnContext,
    ) -> Vec<firedrill_core::iam::Permission> {
        self.iam_permissions(arn)
    }

    fn undo(&self) -> firedrill_core::UndoPlan {
        self.undo_plan()
    }

    fn restored_fields(&self) -> &'static [&'static str] {
        &[
            "host",
            "port",
            "user",
            "database",
            "endpoint",
            "url",
            "password_env",
        ]
    }

    fn queryable(&self) -> bool {
        true
    }

    fn restored(&self) -> super::Restored {
        let Some(db) = &self.state.restore_db else {
            return super::Restored::default();
        };
        let conn = self.restore.with_database(db);
        let password_env = match &conn.password {
            crate::sql::Password::Env(v) => v.clone(),
            _ => String::new(),
        };
        super::Restored {
            database: Some(conn.clone()),
            ..Default::default()
        }
        .with("host", &conn.host)
        .with("port", conn.port)
        .with("user", &conn.user)
        .with("database", db)
        .with("endpoint", format!("{}:{}", conn.host, conn.port))
        .with("url", conn.url())
        .with("password_env", password_env)
    }

    async fn inject(&mut self, _cx: &StageContext) -> Result<StageOutput, StageError> {
        self.run_fault(_cx).await
    }
    async fn restore(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        self.run_restore(cx).await
    }
    async fn validate(&mut self, cx: &StageContext) -> Result<Validation, StageError> {
        self.run_validate(cx).await
    }
}

fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / 1_048_576.0)
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}
