//! The baseline: per-table row counts and content checksums (plus the
//! values of `expect = "baseline"` checks) captured at backup time, and the
//! comparison of a restored database against it.
//!
//! The checksum is order-independent: the sum over rows of the first 64
//! bits of `md5(row::text)`, as numeric. It needs one sequential scan and no
//! sort, so it stays quick for millions of rows; row order in the restored
//! copy does not matter, a changed, missing or extra row does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tokio_postgres::{Client, SimpleQueryMessage};

use super::check::{Expect, SqlCheck, evaluate, first_value};
use super::{ConnSpec, SqlError, TableRef};
use firedrill_core::{Check, CheckStatus};

/// One table at backup time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableBaseline {
    pub table: TableRef,
    pub rows: u64,
    pub checksum: String,
}

/// Everything captured at backup time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    pub tables: Vec<TableBaseline>,
    /// Values of `expect = "baseline"` checks, by check name.
    pub checks: BTreeMap<String, Option<String>>,
}

/// Every user table (not system schemas), minus `exclude`.
pub async fn list_user_tables(
    client: &Client,
    exclude: &[TableRef],
) -> Result<Vec<TableRef>, SqlError> {
    let rows = client
        .query(
            "SELECT schemaname::text, tablename::text FROM pg_catalog.pg_tables \
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema') \
             AND schemaname NOT LIKE 'pg_toast%' ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(|e| SqlError::query("listing tables", &e))?;
    Ok(rows
        .into_iter()
        .map(|r| TableRef {
            schema: r.get(0),
            name: r.get(1),
        })
        .filter(|t| !exclude.contains(t))
        .collect())
}

/// Row count and checksum of one table.
async fn table_summary(client: &Client, table: &TableRef) -> Result<(u64, String), SqlError> {
    let q = format!(
        "SELECT count(*)::text, coalesce(sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint::numeric), 0)::text FROM {} t",
        table.sql()
    );
    let msgs = client
        .simple_query(&q)
        .await
        .map_err(|e| SqlError::query(format!("reading table {table}"), &e))?;
    for m in msgs {
        if let SimpleQueryMessage::Row(row) = m {
            let rows = row.get(0).and_then(|s| s.parse().ok()).unwrap_or(0);
            let sum = row.get(1).unwrap_or("0").to_string();
            return Ok((rows, format!("md5sum64:{sum}")));
        }
    }
    Ok((0, "md5sum64:0".into()))
}

/// Capture the baseline over `client`'s current snapshot (run it inside
/// the transaction whose snapshot the dump uses).
pub async fn capture(
    client: &Client,
    tables: &[TableRef],
    checks: &[SqlCheck],
) -> Result<Baseline, SqlError> {
    let mut out = Baseline::default();
    for t in tables {
        let (rows, checksum) = table_summary(client, t).await?;
        out.tables.push(TableBaseline {
            table: t.clone(),
            rows,
            checksum,
        });
    }
    for c in checks.iter().filter(|c| c.expect == Expect::Baseline) {
        let v = first_value(client, &c.query).await.map_err(|e| match e {
            SqlError::Query { message, .. } => SqlError::Query {
                what: format!("baseline of check `{}`", c.name),
                message,
            },
            other => other,
        })?;
        out.checks.insert(c.name.clone(), v);
    }
    Ok(out)
}

/// Validate the database at `conn` against the baseline and checks. When it
/// cannot be reached, every check is `NotVerified` with the reason.
pub async fn validate(conn: &ConnSpec, baseline: &Baseline, checks: &[SqlCheck]) -> Vec<Check> {
    match conn.connect().await {
        Ok(client) => validate_with(&client, baseline, checks).await,
        Err(e) => not_verified(baseline, checks, &e.to_string()),
    }
}

fn not_verified(baseline: &Baseline, checks: &[SqlCheck], reason: &str) -> Vec<Check> {
    let mut out = Vec::new();
    for t in &baseline.tables {
        for what in ["row count", "checksum"] {
            out.push(Check::new(
                format!("table {}: {what}", t.table),
                CheckStatus::NotVerified,
                format!("not verified: {reason}"),
            ));
        }
    }
    for c in checks {
        out.push(Check::new(
            format!("check {}", c.name),
            CheckStatus::NotVerified,
            format!("not verified: {reason}"),
        ));
    }
    out
}

/// [`validate`] over an open connection.
pub async fn validate_with(
    client: &Client,
    baseline: &Baseline,
    checks: &[SqlCheck],
) -> Vec<Check> {
    let mut out = Vec::new();
    for t in &baseline.tables {
        let count_name = format!("table {}: row count", t.table);
        let sum_name = format!("table {}: checksum", t.table);
        match table_summary(client, &t.table).await {
            Ok((rows, checksum)) => {
                let mut c = Check::compare(&count_name, t.rows, rows);
                c.detail = if c.status == CheckStatus::Passed {
                    format!("table {}: {rows} row(s) as at backup time", t.table)
                } else {
                    format!(
                        "table {}: row count expected {}, found {rows}",
                        t.table, t.rows
                    )
                };
                out.push(c);
                let mut c = Check::compare(&sum_name, &t.checksum, &checksum);
                c.detail = if c.status == CheckStatus::Passed {
                    format!("table {}: content checksum matches the backup", t.table)
                } else {
                    format!(
                        "table {}: content checksum expected {}, found {checksum}",
                        t.table, t.checksum
                    )
                };
                out.push(c);
            }
            Err(e) => {
                for name in [count_name, sum_name] {
                    out.push(Check::new(
                        name,
                        CheckStatus::Failed,
                        format!("table {}: {e}", t.table),
                    ));
                }
            }
        }
    }
    for c in checks {
        let base = baseline.checks.get(&c.name).map(Option::as_deref);
        match first_value(client, &c.query).await {
            Ok(v) => out.push(evaluate(c, v.as_deref(), base)),
            Err(e) => out.push(Check::new(
                format!("check {}", c.name),
                CheckStatus::Failed,
                format!("check `{}` ({}): {e}", c.name, c.query.trim()),
            )),
        }
    }
    out
}
