//! Undoing a `postgres` fault in the source database, from its ledger
//! record alone (a run and a `reap` after a crash undo it the same way):
//!
//! - `drop-table`: the table comes back (definition, rows, indexes and
//!   constraints) from a copy of the pre-fault database, unless a table of
//!   that name exists again;
//! - `truncate` and `delete-rows`: the rows the fault removed are inserted
//!   again from the copy (for `delete-rows`, only those matching its
//!   predicate), skipping any that conflict with a row written since: rows
//!   written after the fault are kept;
//! - `stop-server`: the scenario's `start_command` runs, when it gave one.
//!
//! The copy is the drill's restored scratch database when its restore
//! finished, otherwise a database restored from the dump for the undo
//! (ledgered like every scratch resource, so cleanup or reap drops it).

use firedrill_core::{ResourceType, ScratchResource, StageError, StageOutput};
use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt, pin_mut};
use serde::{Deserialize, Serialize};

use super::KIND;
use super::canary::sql_err;
use super::restore::restore_dump;
use super::stream;
use crate::ledger::FaultRecord;
use crate::sql::{self, ConnSpec, SqlError, TableRef};
use crate::targets::RevertContext;

/// What the fault damaged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "damage", rename_all = "kebab-case")]
pub(super) enum Damage {
    DroppedTable {
        table: TableRef,
    },
    /// Rows of `table` (those matching `predicate`, or all).
    Rows {
        table: TableRef,
        predicate: Option<String>,
    },
    StoppedServer {
        start_command: String,
    },
}

/// How to undo a `postgres` fault: written to the ledger with the fault.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct PgUndo {
    /// The source database (URL without the password).
    pub source: String,
    /// The restore server's maintenance database.
    pub restore_server: String,
    pub damage: Damage,
    /// The drill's restored database, and the file in the run directory
    /// that marks its restore finished.
    pub scratch_db: String,
    pub restored_marker: String,
    /// The database restored from the dump when the scratch one is not
    /// there.
    pub undo_db: String,
    pub dump_bucket: String,
    pub dump_key: String,
}

/// The kind's revert function (see `KindSpec::revert`).
pub(super) fn revert<'a>(
    fault: &'a FaultRecord,
    rcx: &'a RevertContext<'a>,
) -> BoxFuture<'a, Result<StageOutput, StageError>> {
    Box::pin(async move {
        let undo: PgUndo = fault.undo_as()?;
        let source = parse_url(&undo.source)?;
        let detail = match &undo.damage {
            Damage::StoppedServer { start_command } => run_start(start_command).await?,
            Damage::DroppedTable { table } => {
                let copy = copy_database(&undo, fault, rcx).await?;
                recreate_table(&copy, &source, table).await?
            }
            Damage::Rows { table, predicate } => {
                let copy = copy_database(&undo, fault, rcx).await?;
                let (copied, inserted) =
                    copy_rows(&copy, &source, table, predicate.as_deref()).await?;
                let skipped = copied - inserted;
                format!(
                    "put back {inserted} row(s) into {table} of {}{}",
                    source.url(),
                    if skipped > 0 {
                        format!("; {skipped} already there (written again since) left as they are")
                    } else {
                        String::new()
                    }
                )
            }
        };
        Ok(StageOutput::new(detail))
    })
}

fn parse_url(url: &str) -> Result<ConnSpec, StageError> {
    ConnSpec::parse_url(url)
        .ok_or_else(|| StageError::Failed(format!("unreadable connection settings `{url}`")))
}

/// A complete copy of the pre-fault database: the drill's restored one if
/// its restore finished, else one restored from the dump now.
async fn copy_database(
    undo: &PgUndo,
    fault: &FaultRecord,
    rcx: &RevertContext<'_>,
) -> Result<ConnSpec, StageError> {
    let server = parse_url(&undo.restore_server)?;
    if rcx.run_dir.join(&undo.restored_marker).exists() {
        return Ok(server.with_database(&undo.scratch_db));
    }
    let db = &undo.undo_db;
    let id = rcx.ledger.intend(ScratchResource {
        kind: KIND.name.to_string(),
        rtype: ResourceType::Database,
        id: db.clone(),
        region: rcx.clients.region().to_string(),
        parent: Some(server.url()),
        target: fault.target.clone(),
        service: None,
    })?;
    let admin = server.connect().await.map_err(sql_err)?;
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[db])
        .await
        .map_err(|e| sql_err(SqlError::query("looking up the undo database", &e)))?
        .is_some();
    if exists {
        // A crash during an earlier undo: start from a clean copy.
        super::cleanup::drop_database(&server, db).await?;
    }
    admin
        .batch_execute(&format!("CREATE DATABASE {}", sql::quote_ident(db)))
        .await
        .map_err(|e| sql_err(SqlError::query(format!("creating database {db}"), &e)))?;
    rcx.ledger.created(id, None)?;
    let target = server.with_database(db);
    restore_dump(
        rcx.clients.s3(),
        &undo.dump_bucket,
        &undo.dump_key,
        &target,
        db,
    )
    .await?;
    Ok(target)
}

/// Bring a dropped table back from the copy, unless it exists again.
async fn recreate_table(
    copy: &ConnSpec,
    source: &ConnSpec,
    table: &TableRef,
) -> Result<String, StageError> {
    let client = source.connect().await.map_err(sql_err)?;
    if table_exists(&client, table).await? {
        return Ok(format!(
            "table {table} exists again in {}: left as it is",
            source.url()
        ));
    }
    let dump_args = vec![
        "--format=custom".to_string(),
        format!("--table={}", table.sql()),
        "--no-password".to_string(),
    ];
    let restore_args = vec![
        "--no-owner".to_string(),
        "--no-acl".to_string(),
        "--no-password".to_string(),
        format!("--dbname={}", source.database),
    ];
    let mut dump = stream::spawn_tool("pg_dump", &dump_args, copy, false)?;
    let mut restore = stream::spawn_tool("pg_restore", &restore_args, source, true)?;
    let (dump_err, restore_err) = (
        stream::collect_stderr(&mut dump),
        stream::collect_stderr(&mut restore),
    );
    let (mut out, mut input) = (
        dump.stdout
            .take()
            .ok_or_else(|| StageError::Failed("pg_dump has no stdout".into()))?,
        restore
            .stdin
            .take()
            .ok_or_else(|| StageError::Failed("pg_restore has no stdin".into()))?,
    );
    let piped = tokio::io::copy(&mut out, &mut input).await;
    drop(input);
    let (d, r) = (dump.wait().await, restore.wait().await);
    let failed = |what: &str, status: std::io::Result<std::process::ExitStatus>, err: String| {
        let ok = status.as_ref().is_ok_and(std::process::ExitStatus::success);
        (!ok).then(|| format!("{what} failed ({status:?}): {}", source.redact(&err)))
    };
    let errors: Vec<String> = [
        failed("pg_dump", d, dump_err.await.unwrap_or_default()),
        failed("pg_restore", r, restore_err.await.unwrap_or_default()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !errors.is_empty() || piped.is_err() {
        return Err(StageError::Failed(format!(
            "bringing table {table} back: {}{}",
            errors.join("; "),
            piped.err().map_or(String::new(), |e| format!(" ({e})"))
        )));
    }
    let rows: i64 = client
        .query_one(&format!("SELECT count(*) FROM {}", table.sql()), &[])
        .await
        .map_err(|e| sql_err(SqlError::query("counting the rows put back", &e)))?
        .get(0);
    Ok(format!(
        "brought table {table} back into {} with {rows} row(s), its indexes and constraints",
        source.url()
    ))
}

async fn table_exists(
    client: &tokio_postgres::Client,
    table: &TableRef,
) -> Result<bool, StageError> {
    Ok(client
        .query_opt(
            "SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2",
            &[&table.schema, &table.name],
        )
        .await
        .map_err(|e| sql_err(SqlError::query("looking up the table", &e)))?
        .is_some())
}

/// Copy rows of `table` (matching `predicate`) from the copy into the
/// source, skipping rows that conflict with ones already there. Returns
/// (rows copied, rows inserted).
async fn copy_rows(
    copy: &ConnSpec,
    source: &ConnSpec,
    table: &TableRef,
    predicate: Option<&str>,
) -> Result<(u64, u64), StageError> {
    let q = |what: &str| {
        let what = what.to_string();
        move |e: tokio_postgres::Error| sql_err(SqlError::query(what.clone(), &e))
    };
    let from = copy.connect().await.map_err(sql_err)?;
    let mut to = source.connect().await.map_err(sql_err)?;
    let tx = to
        .transaction()
        .await
        .map_err(q("starting a transaction"))?;
    tx.batch_execute(&format!(
        "CREATE TEMP TABLE firedrill_undo (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP",
        table.sql()
    ))
    .await
    .map_err(q("creating the undo table"))?;
    let select = match predicate {
        Some(p) => format!("COPY (SELECT * FROM {} WHERE {p}) TO STDOUT", table.sql()),
        None => format!("COPY {} TO STDOUT", table.sql()),
    };
    let rows = from
        .copy_out(&select)
        .await
        .map_err(q("reading the copy"))?;
    let sink = tx
        .copy_in("COPY firedrill_undo FROM STDIN")
        .await
        .map_err(q("writing the undo table"))?;
    pin_mut!(rows);
    pin_mut!(sink);
    while let Some(chunk) = rows.next().await {
        let chunk = chunk.map_err(q("reading the copy"))?;
        sink.send(chunk)
            .await
            .map_err(q("writing the undo table"))?;
    }
    let copied = sink.finish().await.map_err(q("writing the undo table"))?;
    let inserted = tx
        .execute(
            &format!(
                "INSERT INTO {} OVERRIDING SYSTEM VALUE SELECT * FROM firedrill_undo ON CONFLICT DO NOTHING",
                table.sql()
            ),
            &[],
        )
        .await
        .map_err(q("putting the rows back"))?;
    tx.commit()
        .await
        .map_err(q("committing the rows put back"))?;
    Ok((copied, inserted))
}

/// Start a stopped server with the scenario's command.
async fn run_start(command: &str) -> Result<String, StageError> {
    run_shell(command).await?;
    Ok(format!("started the server again with `{command}`"))
}

/// Run one of the scenario's server commands with `sh -c`; its stderr is
/// the error when it fails.
pub(super) async fn run_shell(command: &str) -> Result<(), StageError> {
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
    Ok(())
}
