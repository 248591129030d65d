//! Validating a `postgres` restore: row counts and checksums against the
//! baseline, the custom checks, and the newest canary row.
use crate::sql::{self};
use crate::targets::StageContext;
use firedrill_core::Service;
use firedrill_core::{Check, CheckStatus, Finding, StageError, StageOutput, Validation};

use super::{PgTarget, canary};

impl PgTarget {
    pub(super) async fn run_validate(
        &mut self,
        cx: &StageContext,
    ) -> Result<Validation, StageError> {
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
