//! Deleting what a `postgres` drill creates, for cleanup and `reap` alike:
//! the scratch database (connections terminated first), the dump object in
//! S3 (with any unfinished multipart upload; with `keep = true` only the
//! unfinished upload), and the run's canary table.
//!
//! Ledger entries carry the connection settings as a URL without the
//! password (`postgresql://user@host:port/db?password_env=VAR`); the
//! password is read from that variable at delete time.
//!
//! Reap by tag covers the dump objects only: every bucket the credentials
//! can list is searched under `firedrill/` for objects tagged with a run
//! id. Scratch databases and canary tables are found through ledgers, since
//! firedrill cannot know which servers to search without a scenario.

use futures::future::BoxFuture;

use super::KIND;
use super::canary::{marker, parse_ledger_id, sql_err};
use crate::aws::{Clients, s3 as s3api, s3_stream};
use crate::sql::{ConnSpec, SqlError, quote_ident};
use crate::targets::common::with_retained_tag;
use firedrill_core::ResourceType;
use firedrill_core::ScratchResource;
use firedrill_core::Service;
use firedrill_core::{DeleteOutcome, StageError, Tagged};

/// Key prefix of every dump firedrill uploads.
pub const KEY_PREFIX: &str = "firedrill/";

fn conn_of(r: &ScratchResource) -> Result<ConnSpec, StageError> {
    r.parent
        .as_deref()
        .and_then(ConnSpec::parse_url)
        .ok_or_else(|| StageError::Failed(format!("no connection settings recorded for {}", r.id)))
}

/// Drop a scratch database after terminating its sessions.
pub async fn drop_database(admin: &ConnSpec, name: &str) -> Result<DeleteOutcome, StageError> {
    let client = admin.connect().await.map_err(sql_err)?;
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .map_err(|e| sql_err(SqlError::query("looking up the scratch database", &e)))?
        .is_some();
    if !exists {
        return Ok(DeleteOutcome::AlreadyGone);
    }
    client
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&name],
        )
        .await
        .map_err(|e| sql_err(SqlError::query("terminating sessions", &e)))?;
    client
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(name)
        ))
        .await
        .map_err(|e| sql_err(SqlError::query(format!("dropping database {name}"), &e)))?;
    Ok(DeleteOutcome::Deleted)
}

/// Drop a canary table, but only if its comment names the run.
async fn drop_canary(r: &ScratchResource) -> Result<DeleteOutcome, StageError> {
    let conn = conn_of(r)?;
    let (table, run_id) = parse_ledger_id(&r.id)
        .ok_or_else(|| StageError::Failed(format!("bad canary table id `{}`", r.id)))?;
    let client = match conn.connect().await {
        Ok(c) => c,
        // The source database itself is gone: so is the table.
        Err(SqlError::Connect { message, .. }) if message.contains("does not exist") => {
            return Ok(DeleteOutcome::AlreadyGone);
        }
        Err(e) => return Err(sql_err(e)),
    };
    let comment: Option<String> = client
        .query_one(
            "SELECT obj_description(to_regclass($1), 'pg_class')",
            &[&table.sql()],
        )
        .await
        .map_err(|e| sql_err(SqlError::query("reading the canary table's comment", &e)))?
        .get(0);
    if comment.as_deref() != Some(marker(&run_id).as_str()) {
        // Missing, or not ours (never drop a table firedrill did not create).
        return Ok(DeleteOutcome::AlreadyGone);
    }
    client
        .batch_execute(&format!("DROP TABLE {}", table.sql()))
        .await
        .map_err(|e| sql_err(SqlError::query(format!("dropping {table}"), &e)))?;
    Ok(DeleteOutcome::Deleted)
}

pub fn delete<'a>(
    r: &'a ScratchResource,
    clients: &'a Clients,
) -> BoxFuture<'a, Result<DeleteOutcome, StageError>> {
    Box::pin(async move {
        match r.rtype {
            ResourceType::Database => drop_database(&conn_of(r)?, &r.id).await,
            ResourceType::CanaryTable => drop_canary(r).await,
            ResourceType::S3Upload => {
                let s3 = clients.in_region(&r.region).s3;
                let bucket = r
                    .parent
                    .as_deref()
                    .ok_or_else(|| StageError::Failed("dump upload without bucket".into()))?;
                Ok(DeleteOutcome::existed(
                    s3_stream::abort_all(&s3, bucket, &r.id).await? > 0,
                ))
            }
            ResourceType::S3Object => {
                let s3 = clients.in_region(&r.region).s3;
                let bucket = r
                    .parent
                    .as_deref()
                    .ok_or_else(|| StageError::Failed("dump object without bucket".into()))?;
                let aborted = s3_stream::abort_all(&s3, bucket, &r.id).await?;
                let deleted = s3_stream::delete(&s3, bucket, &r.id).await?;
                Ok(DeleteOutcome::existed(deleted || aborted > 0))
            }
            other => Err(StageError::not_deletable(KIND.name, other)),
        }
    })
}

pub fn find_tagged(clients: &Clients) -> BoxFuture<'_, Result<Vec<Tagged>, StageError>> {
    Box::pin(async move {
        let s3 = clients.s3();
        let mut found = Vec::new();
        for bucket in s3api::list_buckets(s3).await? {
            let mut keys = Vec::new();
            let listed = s3api::list_pages(s3, &bucket, Some(KEY_PREFIX), |page| {
                keys.extend(page.into_iter().map(|o| o.key));
                async { Ok(()) }
            })
            .await;
            // Buckets we may not list (or that vanished) are not ours to reap.
            if listed.is_err() {
                continue;
            }
            for key in keys {
                let Ok(tags) = s3_stream::object_tags(s3, &bucket, &key).await else {
                    continue;
                };
                let resource = ScratchResource {
                    kind: KIND.name.to_string(),
                    rtype: ResourceType::S3Object,
                    id: key.clone(),
                    region: clients.region().to_string(),
                    parent: Some(bucket.clone()),
                    target: String::new(),
                    service: Some(Service::S3),
                };
                found.extend(Tagged::from_tags(resource, tags));
            }
        }
        Ok(found)
    })
}

/// Mark the dump retained: a tag on the object saying why (only the dump is
/// ever retained; databases and canary tables are scratch only).
pub fn retain<'a>(
    r: &'a ScratchResource,
    why: &'a str,
    clients: &'a Clients,
) -> BoxFuture<'a, Result<(), StageError>> {
    Box::pin(async move {
        let (ResourceType::S3Object | ResourceType::S3Upload, Some(bucket)) = (r.rtype, &r.parent)
        else {
            return Ok(());
        };
        let s3 = clients.in_region(&r.region).s3;
        if !s3_stream::exists(&s3, bucket, &r.id).await? {
            // An upload not finished yet: the tag goes on once it is.
            return Ok(());
        }
        let tags = with_retained_tag(s3_stream::object_tags(&s3, bucket, &r.id).await?, why);
        s3_stream::put_object_tags(&s3, bucket, &r.id, &tags).await?;
        Ok(())
    })
}
