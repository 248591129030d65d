//! Canaries in the source database: a table created for the run (ledgered
//! first, marked with a comment naming the run, dropped at cleanup) with one
//! row per canary. A table that already exists is never adopted: preflight
//! refuses the run instead, so cleanup can only ever drop firedrill's own.

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::sync::OnceCell;
use tokio_postgres::Client;

use super::KIND;
use crate::canary::CanarySink;
use crate::sql::{ConnSpec, SqlError, TableRef};
use crate::targets::StageContext;
use firedrill_core::ResourceType;
use firedrill_core::Service;
use firedrill_core::StageError;

/// The comment that marks a canary table as this run's.
pub fn marker(run_id: &str) -> String {
    format!("firedrill canary table, run {run_id}")
}

/// Ledger id of a canary table: `<schema.table>#<run id>`.
pub fn ledger_id(table: &TableRef, run_id: &str) -> String {
    format!("{}.{}#{run_id}", table.schema, table.name)
}

/// Split a ledger id back into table and run id.
pub fn parse_ledger_id(id: &str) -> Option<(TableRef, String)> {
    let (t, run) = id.rsplit_once('#')?;
    Some((TableRef::parse(t), run.to_string()))
}

pub fn sql_err(e: SqlError) -> StageError {
    match e {
        SqlError::Connect { .. } | SqlError::MissingPassword(_) => {
            StageError::Environment(e.to_string())
        }
        SqlError::Query { .. } => StageError::Failed(e.to_string()),
    }
}

/// Writes canaries into the source database.
pub struct PgCanary {
    pub cx: StageContext,
    pub conn: ConnSpec,
    pub table: TableRef,
    pub client: OnceCell<Client>,
}

impl PgCanary {
    async fn client(&self) -> Result<&Client, StageError> {
        self.client
            .get_or_try_init(|| async {
                let client = self.conn.connect().await.map_err(sql_err)?;
                let mut r = self.cx.resource(
                    KIND.name,
                    ResourceType::CanaryTable,
                    ledger_id(&self.table, &self.cx.run_id),
                    Service::S3,
                );
                r.service = None;
                r.parent = Some(self.conn.url());
                let id = self.cx.intend(r)?;
                let t = self.table.sql();
                let comment = marker(&self.cx.run_id).replace('\'', "''");
                client
                    .batch_execute(&format!(
                        "BEGIN; CREATE TABLE {t} (seq bigint PRIMARY KEY, written_at timestamptz NOT NULL); \
                         COMMENT ON TABLE {t} IS '{comment}'; COMMIT;"
                    ))
                    .await
                    .map_err(|e| sql_err(SqlError::query(format!("creating canary table {}", self.table), &e)))?;
                self.cx.created(id, None)?;
                Ok::<Client, StageError>(client)
            })
            .await
    }
}

#[async_trait]
impl CanarySink for PgCanary {
    fn location(&self) -> String {
        format!("{} table {}", self.conn.url(), self.table)
    }

    async fn write(&self, seq: u64, at: OffsetDateTime) -> Result<(), StageError> {
        let client = self.client().await?;
        let micros = (at.unix_timestamp_nanos() / 1000) as i64;
        client
            .execute(
                &format!(
                    "INSERT INTO {} (seq, written_at) VALUES ($1, 'epoch'::timestamptz + $2::bigint * interval '1 microsecond')",
                    self.table.sql()
                ),
                &[&(seq as i64), &micros],
            )
            .await
            .map_err(|e| sql_err(SqlError::query("writing a canary", &e)))?;
        Ok(())
    }
}

/// The newest canary in a database's canary table, if any.
pub async fn newest(
    client: &Client,
    table: &TableRef,
) -> Result<Option<firedrill_core::canary::RecoveredCanary>, SqlError> {
    let exists: Option<String> = client
        .query_one("SELECT to_regclass($1)::text", &[&table.sql()])
        .await
        .map_err(|e| SqlError::query("looking for the canary table", &e))?
        .get(0);
    if exists.is_none() {
        return Ok(None);
    }
    let row = client
        .query_opt(
            &format!(
                "SELECT seq, (extract(epoch FROM written_at) * 1000000)::bigint FROM {} ORDER BY seq DESC LIMIT 1",
                table.sql()
            ),
            &[],
        )
        .await
        .map_err(|e| SqlError::query("reading the canary table", &e))?;
    Ok(row.and_then(|r| {
        let seq: i64 = r.get(0);
        let micros: i64 = r.get(1);
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
            .ok()
            .map(|written_at| firedrill_core::canary::RecoveredCanary {
                seq: seq as u64,
                written_at,
            })
    }))
}
