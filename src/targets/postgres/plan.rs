//! What a `postgres` drill will touch, for `firedrill plan`, and how its
//! fault reads in the plan and the guards.
use super::options::Fault;
use crate::targets::Target;
use firedrill_core::Service;
use firedrill_core::{Effect, Stage};
use firedrill_core::{FaultSpec, PlannedAction};
use std::time::Duration;

use super::{PgTarget, dump_key};

impl PgTarget {
    pub(super) fn fault_spec(&self) -> Option<FaultSpec> {
        let db = self.resource();
        let description = match &self.fault {
            Fault::None => return None,
            Fault::DropTable(t) => format!("DROP TABLE {t} in {db}"),
            Fault::Truncate(t) => format!("TRUNCATE {t} in {db}"),
            Fault::DeleteRows { table, predicate } => {
                format!("DELETE FROM {table} WHERE {predicate} in {db}")
            }
            Fault::StopServer { command, .. } => {
                format!("stop the server of {db} with `{command}`")
            }
        };
        Some(FaultSpec {
            action: self.fault.action().as_str(),
            description,
            destructive: true,
            loses_data: false,
            // PostgreSQL is not an AWS service; the dump lives in S3.
            service: Service::S3,
            endpoint: Some(self.source.url()),
        })
    }

    pub(super) fn planned(&self, run_id: &str, index: usize) -> Vec<PlannedAction> {
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
        if self.dump.is_existing() {
            p.push(action(
                Stage::Backup,
                Effect::Read,
                "s3:ListObjectsV2, s3:HeadObject (declared SHA-256)",
                self.dump.describe(&format!(
                    "dump in s3://{}/{}",
                    self.bucket,
                    self.dump_prefix.as_deref().unwrap_or("")
                )),
                None,
            ));
        } else {
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
        }
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
}
