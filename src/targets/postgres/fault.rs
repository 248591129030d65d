//! The `postgres` faults: drop or truncate a table, delete rows, or stop
//! the server.

use super::canary::sql_err;
use super::options::Fault;
use crate::sql::{self};
use crate::targets::StageContext;
use firedrill_core::{StageError, StageOutput};

use super::PgTarget;

impl PgTarget {
    pub(super) async fn run_fault(
        &mut self,
        _cx: &StageContext,
    ) -> Result<StageOutput, StageError> {
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
}
