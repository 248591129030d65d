//! SQL validation of a restored RDS instance or cluster running `PostgreSQL`: per-table row counts
//! and checksums against a baseline captured from the source at backup time,
//! plus the scenario's custom checks. Where an endpoint cannot be reached
//! (moto has no database behind its instances) every check is reported as
//! not verified, with the reason, and never as passed.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::sql::{self, Baseline, ConnSpec, Password, RawCheck, SqlCheck, TableRef, checks};
use firedrill_core::Check;
use firedrill_core::CheckStatus;
use firedrill_core::Diagnostic;
use firedrill_core::input::Spanned;

/// `[targets.sql]`: how to log in to the source and the restored instance.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSql {
    pub user: Spanned<String>,
    pub database: Spanned<String>,
    /// Environment variable holding the password (never the password itself).
    pub password_env: Spanned<String>,
    /// Tables compared by row count and checksum (default: all user tables).
    #[serde(default)]
    pub tables: Vec<String>,
}

/// Validated SQL settings.
#[derive(Clone, Debug)]
pub struct SqlConfig {
    user: String,
    database: String,
    password_env: String,
    tables: Vec<TableRef>,
    checks: Vec<SqlCheck>,
}

/// Validate `[targets.sql]` and `[[targets.check]]`.
pub fn parse(
    raw: Option<RawSql>,
    raw_checks: &[RawCheck],
    diags: &mut Vec<Diagnostic>,
) -> Option<SqlConfig> {
    let checks = checks(raw_checks, diags);
    let Some(raw) = raw else {
        if let Some(first) = raw_checks.first() {
            diags.push(
                Diagnostic::new("SQL checks need `[targets.sql]` to log in")
                    .at(first.name.span())
                    .help("add `[targets.sql]` with `user`, `database` and `password_env`"),
            );
        }
        return None;
    };
    sql::password_env(&raw.password_env, diags);
    Some(SqlConfig {
        user: raw.user.into_inner(),
        database: raw.database.into_inner(),
        password_env: raw.password_env.into_inner(),
        tables: raw.tables.iter().map(|t| TableRef::parse(t)).collect(),
        checks,
    })
}

/// The data checks of a restored RDS resource (`what`: "instance" or
/// "cluster"): the SQL checks when configured, otherwise one not-verified
/// `data` check saying why.
pub async fn data_checks(
    sql: Option<&SqlConfig>,
    baseline: Option<&Result<Baseline, String>>,
    endpoint: Option<&str>,
    emulated: bool,
    what: &str,
) -> Vec<Check> {
    match (sql, baseline) {
        (Some(sql), Some(baseline)) => sql.validate(baseline, endpoint).await,
        _ => vec![Check::new(
            "data",
            CheckStatus::NotVerified,
            if emulated {
                format!("the emulator has no database behind the {what}: data not checked")
            } else {
                "no data checks configured for this target (add `[targets.sql]`)".to_string()
            },
        )],
    }
}

/// How long to try an RDS endpoint before calling it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl SqlConfig {
    fn conn(&self, endpoint: Option<&str>) -> Result<ConnSpec, String> {
        let endpoint = endpoint.ok_or("the instance reports no endpoint")?;
        let (host, port) = endpoint.rsplit_once(':').unwrap_or((endpoint, "5432"));
        Ok(ConnSpec {
            host: host.to_string(),
            port: port
                .parse()
                .map_err(|_| format!("bad endpoint `{endpoint}`"))?,
            user: self.user.clone(),
            database: self.database.clone(),
            password: Password::Env(self.password_env.clone()),
            sslmode: None,
        })
    }

    /// Capture the baseline from the source; the error says why not.
    pub async fn capture(&self, engine: &str, endpoint: Option<&str>) -> Result<Baseline, String> {
        if !engine.contains("postgres") {
            return Err(format!(
                "engine `{engine}` is not PostgreSQL; only PostgreSQL endpoints can be checked"
            ));
        }
        let conn = self.conn(endpoint)?;
        let client = tokio::time::timeout(CONNECT_TIMEOUT, conn.connect())
            .await
            .map_err(|_| format!("cannot connect to {}: timed out", conn.endpoint()))?
            .map_err(|e| e.to_string())?;
        let tables = if self.tables.is_empty() {
            sql::list_user_tables(&client, &[])
                .await
                .map_err(|e| e.to_string())?
        } else {
            self.tables.clone()
        };
        sql::capture(&client, &tables, &self.checks)
            .await
            .map_err(|e| e.to_string())
    }

    /// Check the restored instance.
    pub async fn validate(
        &self,
        baseline: &Result<Baseline, String>,
        endpoint: Option<&str>,
    ) -> Vec<Check> {
        let reason = match (baseline, self.conn(endpoint)) {
            (Err(why), _) => format!("no baseline from the source: {why}"),
            (Ok(_), Err(why)) => why,
            (Ok(b), Ok(conn)) => {
                return match tokio::time::timeout(
                    CONNECT_TIMEOUT,
                    sql::validate(&conn, b, &self.checks),
                )
                .await
                {
                    Ok(checks) => checks,
                    Err(_) => self
                        .not_verified(&format!("cannot connect to {}: timed out", conn.endpoint())),
                };
            }
        };
        self.not_verified(&reason)
    }

    fn not_verified(&self, reason: &str) -> Vec<Check> {
        let mut out = vec![Check::new(
            "data: table row counts and checksums",
            CheckStatus::NotVerified,
            format!("not verified: {reason}"),
        )];
        out.extend(self.checks.iter().map(|c| {
            Check::new(
                format!("check {}", c.name),
                CheckStatus::NotVerified,
                format!("not verified: {reason}"),
            )
        }));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reachable path, against the database server `make test` starts
    /// (an RDS `PostgreSQL` endpoint speaks the same protocol).
    #[tokio::test]
    async fn reachable_endpoints_are_checked_for_real() {
        let port = std::env::var("FIREDRILL_PG_PORT").unwrap_or_else(|_| "55432".into());
        assert!(
            std::env::var_os("FIREDRILL_PG_PASSWORD").is_some(),
            "FIREDRILL_PG_PASSWORD is not set: run `make test` (it starts PostgreSQL and sets it)"
        );
        let endpoint = format!("127.0.0.1:{port}");
        let table = format!("fd_rds_sql_{}", std::process::id());
        let config = SqlConfig {
            user: "firedrill".into(),
            database: "firedrill".into(),
            password_env: "FIREDRILL_PG_PASSWORD".into(),
            tables: vec![TableRef::parse(&table)],
            checks: vec![
                SqlCheck {
                    name: "three rows".into(),
                    query: format!("SELECT count(*) FROM {table}"),
                    expect: sql::Expect::Range {
                        min: Some(3.0),
                        max: Some(3.0),
                    },
                },
                SqlCheck {
                    name: "sum".into(),
                    query: format!("SELECT sum(n) FROM {table}"),
                    expect: sql::Expect::Baseline,
                },
            ],
        };
        let conn = config.conn(Some(&endpoint)).unwrap();
        let client = conn
            .connect()
            .await
            .expect("PostgreSQL from `make test` is reachable");
        client
            .batch_execute(&format!(
                "CREATE TABLE {table} (n int); INSERT INTO {table} VALUES (1), (2), (3);"
            ))
            .await
            .unwrap();
        let baseline = config.capture("postgres", Some(&endpoint)).await;
        let checks = config.validate(&baseline, Some(&endpoint)).await;
        client
            .batch_execute(&format!("DROP TABLE {table}"))
            .await
            .unwrap();
        assert!(baseline.is_ok(), "{baseline:?}");
        assert_eq!(checks.len(), 4, "{checks:#?}");
        assert!(
            checks.iter().all(|c| c.status == CheckStatus::Passed),
            "{checks:#?}"
        );

        let mysql = config.capture("mysql", Some(&endpoint)).await.unwrap_err();
        assert!(mysql.contains("not PostgreSQL"), "{mysql}");
        let gone = config.validate(&baseline, Some("127.0.0.1:9")).await;
        assert!(
            gone.iter().all(|c| c.status == CheckStatus::NotVerified),
            "{gone:#?}"
        );
    }
}
