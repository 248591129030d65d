//! The `postgres` faults: drop or truncate a table, delete rows, or stop
//! the server. Each is recorded in the ledger before it runs, with the dump
//! that holds the pre-fault data and how to undo the damage (see `undo`).

use firedrill_core::{StageError, StageOutput, UndoPlan};

use super::canary::sql_err;
use super::options::Fault;
use super::restore::restored_marker;
use super::undo::{Damage, PgUndo};
use super::{KIND, PgTarget, scratch_db};
use crate::ledger::FaultRecord;
use crate::sql;
use crate::targets::{StageContext, Target};

impl PgTarget {
    pub(super) async fn run_fault(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let recorded = self.record_fault(cx).await?;
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
            Fault::StopServer { command, .. } => {
                super::undo::run_shell(command).await?;
                StageOutput::new(format!("stopped the server with `{command}`"))
            }
        };
        if let Some(id) = recorded {
            cx.fault_done(id)?;
        }
        Ok(out)
    }

    /// What the fault damages, for its undo record.
    fn damage(&self) -> Option<Damage> {
        match &self.fault {
            Fault::None => None,
            Fault::DropTable(t) => Some(Damage::DroppedTable { table: t.clone() }),
            Fault::Truncate(t) => Some(Damage::Rows {
                table: t.clone(),
                predicate: None,
            }),
            Fault::DeleteRows { table, predicate } => Some(Damage::Rows {
                table: table.clone(),
                predicate: Some(predicate.clone()),
            }),
            Fault::StopServer { start_command, .. } => start_command
                .clone()
                .map(|c| Damage::StoppedServer { start_command: c }),
        }
    }

    async fn record_fault(&self, cx: &StageContext) -> Result<Option<u64>, StageError> {
        if self.fault == Fault::None {
            return Ok(None);
        }
        let manifest = self
            .state
            .manifest
            .as_ref()
            .ok_or_else(|| StageError::Failed("no dump protects the database".into()))?;
        let undo = self.damage().filter(|_| self.revert).map(|damage| PgUndo {
            source: self.source.url(),
            restore_server: self.restore.url(),
            damage,
            scratch_db: scratch_db(cx),
            restored_marker: restored_marker(&self.name),
            undo_db: cx.scratch_name("undo").replace('-', "_"),
            dump_bucket: manifest.bucket.clone(),
            dump_key: manifest.key.clone(),
        });
        let restore = format!(
            "aws s3 cp s3://{}/{} - | pg_restore --no-owner --dbname={} (restore only what the fault touched with --table)",
            manifest.bucket,
            manifest.key,
            self.source.url()
        );
        // A stopped server keeps its data: nothing to protect.
        let protects = if matches!(self.fault, Fault::StopServer { .. }) {
            Vec::new()
        } else {
            self.state.dump_entry.into_iter().collect()
        };
        let record = FaultRecord::new(KIND.name, self.fault.action().as_str(), self.resource())
            .protecting(protects)
            .with_undo(undo.as_ref())?
            .restore_with(restore);
        cx.fault_intent(record).await.map(Some)
    }

    /// How the fault is undone, or what is kept.
    pub(super) fn undo_plan(&self) -> UndoPlan {
        let db = self.resource();
        match (&self.fault, self.revert) {
            (Fault::None, _) => UndoPlan::Nothing("no fault configured".into()),
            (
                Fault::StopServer {
                    start_command: None,
                    ..
                },
                _,
            ) => UndoPlan::Nothing(format!(
                "the server of {db} is left stopped (its data is intact); give `start_command` to start it again"
            )),
            (
                Fault::StopServer {
                    start_command: Some(c),
                    ..
                },
                true,
            ) => UndoPlan::Revert(format!("start the server again with `{c}`")),
            (Fault::StopServer { .. }, false) => UndoPlan::Nothing(format!(
                "revert = false: the server of {db} is left stopped (its data is intact)"
            )),
            (_, false) => UndoPlan::Retain(
                "revert = false: the damage stays and the dump is retained, tagged firedrill:retained"
                    .to_string(),
            ),
            (Fault::DropTable(t), true) => UndoPlan::Revert(format!(
                "bring table {t} back into {db} (rows, indexes, constraints) from the restored copy or the dump, unless it exists again"
            )),
            (Fault::Truncate(t), true) => UndoPlan::Revert(format!(
                "put the rows of {t} back from the restored copy or the dump; rows written after the fault are kept"
            )),
            (Fault::DeleteRows { table, predicate }, true) => UndoPlan::Revert(format!(
                "put the rows of {table} where {predicate} back from the restored copy or the dump; rows written after the fault are kept"
            )),
        }
    }
}
