//! `s3-bucket`: back up a bucket (SHA-256 manifest plus a copy, or its
//! versions), delete or corrupt objects, restore into a scratch bucket named
//! after the run, and diff the restored bucket against the manifest.

mod backup;
mod canary;
mod cleanup;
mod fault;
mod iam;
mod manifest;
mod options;
mod pitr;
mod plan;
mod restore;
mod revert;
mod runbook;
mod validate;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use time::OffsetDateTime;

use self::options::{BackupMethod, Fault, RawS3, RestoreTime};
use super::{KindSpec, StageContext, Target};
use crate::aws::s3 as api;
use crate::canary::CanarySink;
use firedrill_core::ResourceType;
use firedrill_core::canary::CanaryPlan;
use firedrill_core::options::TargetInput;
use firedrill_core::{Diagnostic, Service};
use firedrill_core::{
    FaultSpec, PlannedAction, Preflight, StageError, StageOutput, UndoPlan, Validation,
};

/// `select = { tags = ... }`: the region's buckets, matched by their tags.
pub const SELECT: super::select::Selectable = super::select::Selectable {
    kind: "s3-bucket",
    id_key: "bucket",
    placeholder: "selected-by-tag",
    noun: "buckets",
    list: |clients, tags| {
        Box::pin(async move {
            Ok(api::buckets_with_tags(clients.s3(), clients.region())
                .await?
                .into_iter()
                .filter(|(name, have)| {
                    firedrill_core::select::matches(
                        name,
                        have.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                        tags,
                    )
                })
                .map(|(name, _)| name)
                .collect())
        })
    },
};

/// Registry entry.
pub const KIND: KindSpec = KindSpec {
    name: "s3-bucket",
    summary: "An S3 bucket: manifest + copy (or versions), delete/corrupt objects, restore into a scratch bucket.",
    parse,
    schema: |g| RawS3::json_schema(g),
    delete: cleanup::delete,
    find_tagged: cleanup::find_tagged,
    revert: Some(revert::revert),
    retain: cleanup::retain,
};

/// Objects hashed or copied at once.
const PARALLEL: usize = 16;
/// Keys listed in a finding before "and N more".
const LIST_IN_FINDING: usize = 20;

fn parse(input: TargetInput<'_>, diags: &mut Vec<Diagnostic>) -> Option<Box<dyn Target>> {
    let name = input.name.to_string();
    let raw: RawS3 = firedrill_core::options::deserialize_kind_options(input, diags)?;
    firedrill_core::validate::bucket_name(&raw.bucket, diags);
    let backup = options::backup_method(&raw.backup, diags);
    let fault = options::fault(raw.fault.as_ref(), diags);
    options::check_data_loss(raw.fault.as_ref(), fault, backup, diags);
    let restore_time = options::restore_time(&raw.backup, backup, diags);
    // Canaries are written during the drill: a point in time before it
    // cannot hold them, so the recovery point's age is the RPO instead.
    let canary = firedrill_core::validate::canary_plan(&raw.canary, diags)
        .filter(|_| backup != BackupMethod::PointInTime);
    Some(Box::new(S3Target {
        restore_time,
        name,
        bucket: raw.bucket.into_inner(),
        prefix: raw.prefix.filter(|p| !p.is_empty()),
        backup,
        canary,
        fault,
        checksums: raw.validate.checksums.unwrap_or(true),
        always_download: raw.validate.always_download.unwrap_or(false),
        revert: raw.fault.as_ref().and_then(|f| f.revert).unwrap_or(true),
        accept_data_loss: raw
            .fault
            .as_ref()
            .and_then(|f| f.accept_data_loss)
            .unwrap_or(false),
        state: State::default(),
    }))
}

#[derive(Debug, Default)]
struct State {
    manifest: Option<PathBuf>,
    manifest_count: u64,
    backup_bucket: Option<String>,
    /// The backup bucket's ledger id: it protects the fault.
    backup_ledger_id: Option<u64>,
    restore_bucket: Option<String>,
    /// The restored bucket's URL (path-style on an emulator).
    restore_url: Option<String>,
    fault_at: Option<OffsetDateTime>,
    run_id: String,
    /// For `point-in-time`: the time T the bucket is restored to.
    point_in_time: Option<OffsetDateTime>,
}

/// A validated `s3-bucket` target.
#[derive(Debug)]
pub struct S3Target {
    /// For `point-in-time`: when the bucket is restored to.
    restore_time: RestoreTime,
    name: String,
    bucket: String,
    prefix: Option<String>,
    backup: BackupMethod,
    canary: Option<CanaryPlan>,
    fault: Fault,
    checksums: bool,
    /// Download every restored object, even where its `ETag` proves the MD5.
    always_download: bool,
    /// Put the faulted objects back after validation (default true).
    revert: bool,
    /// A fault without any copy was asked for (emulators only).
    accept_data_loss: bool,
    state: State,
}

impl S3Target {
    fn canary_prefix(&self, run_id: &str) -> String {
        format!(
            "{}.firedrill/canary/{run_id}/",
            self.prefix.as_deref().unwrap_or("")
        )
    }

    fn is_canary(key: &str) -> bool {
        key.contains(".firedrill/canary/")
    }

    fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    /// Create a scratch bucket, recording it in the ledger first.
    async fn scratch_bucket(
        &self,
        cx: &StageContext,
        suffix: &str,
        out: &mut StageOutput,
    ) -> Result<(String, u64), StageError> {
        let name = cx.scratch_name(suffix);
        let id = cx.intend(cx.resource(KIND.name, ResourceType::Bucket, &name, Service::S3))?;
        let request_id =
            api::create_bucket(cx.clients.s3(), &name, cx.clients.region(), &cx.tags()).await?;
        cx.created(id, request_id.as_deref())?;
        out.request("s3:CreateBucket", request_id.as_deref());
        Ok((name, id))
    }

    fn file(&self, cx: &StageContext, what: &str) -> PathBuf {
        cx.run_dir.join(format!(
            "{}.{what}.jsonl",
            firedrill_core::select::file_stem(&self.name)
        ))
    }
}

fn io_err(what: &str, e: &std::io::Error) -> StageError {
    StageError::Environment(format!("cannot write {what}: {e}"))
}

#[async_trait]
impl Target for S3Target {
    fn runbook_steps(&self) -> Vec<firedrill_core::runbook::RunbookStep> {
        runbook::steps(self)
    }

    fn resource(&self) -> String {
        match &self.prefix {
            Some(p) => format!("s3://{}/{p}", self.bucket),
            None => format!("s3://{}", self.bucket),
        }
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
        let s3 = cx.clients.s3();
        if !api::bucket_exists(s3, &self.bucket).await? {
            return Err(StageError::Environment(format!(
                "bucket `{}` does not exist in {} (hint: check `bucket` in target `{}` and the S3 endpoint)",
                self.bucket,
                cx.clients.region(),
                self.name
            )));
        }
        if matches!(
            self.backup,
            BackupMethod::Versioning | BackupMethod::PointInTime
        ) && !api::versioning_enabled(s3, &self.bucket).await?
        {
            return Err(StageError::Environment(format!(
                "bucket `{}` does not have versioning enabled, but the backup method is `{}` (hint: enable versioning or use `method = \"copy\"`)",
                self.bucket,
                self.backup.as_str()
            )));
        }
        let tags: BTreeMap<String, String> = api::bucket_tags(s3, &self.bucket)
            .await?
            .into_iter()
            .collect();
        Ok(Preflight {
            detail: format!("bucket {} exists", self.resource()),
            tags,
        })
    }

    fn canary_sink(&self, cx: &StageContext) -> Option<Arc<dyn CanarySink>> {
        Some(Arc::new(canary::S3Canary {
            cx: cx.clone(),
            bucket: self.bucket.clone(),
            prefix: self.canary_prefix(&cx.run_id),
            recorded: tokio::sync::OnceCell::new(),
        }))
    }
    async fn backup(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        self.run_backup(cx).await
    }
    async fn inject(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        self.run_fault(cx).await
    }
    /// A versioned bucket is recoverable to any time up to now (every
    /// overwritten or deleted object keeps its versions), so its newest
    /// recovery point is continuous: now. Without versioning there is none.
    async fn recovery_points(
        &self,
        clients: &crate::aws::Clients,
    ) -> Result<firedrill_core::coverage::Listing, StageError> {
        use firedrill_core::coverage::Listing;
        let s3 = clients.s3();
        if !api::versioning_enabled(s3, &self.bucket).await? {
            return Ok(Listing::NotListed(
                "no recovery point: versioning is off".into(),
            ));
        }
        let sse = api::bucket_encryption(s3, &self.bucket).await?;
        let point = firedrill_core::recovery::RecoveryPoint::new(
            "point-in-time",
            OffsetDateTime::now_utc(),
            "point-in-time",
        )
        .with_encryption(sse.is_some(), sse);
        Ok(Listing::Listed(vec![point]))
    }

    async fn restore(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        self.run_restore(cx).await
    }

    fn permissions(
        &self,
        arn: &firedrill_core::iam::ArnContext,
    ) -> Vec<firedrill_core::iam::Permission> {
        self.iam_permissions(arn)
    }

    fn undo(&self) -> UndoPlan {
        self.undo_plan()
    }
    async fn validate(&mut self, cx: &StageContext) -> Result<Validation, StageError> {
        self.run_validate(cx).await
    }

    fn restored_fields(&self) -> &'static [&'static str] {
        &["bucket", "source_bucket", "url"]
    }

    fn restored(&self) -> super::Restored {
        super::Restored::default()
            .with(
                "bucket",
                self.state.restore_bucket.as_deref().unwrap_or_default(),
            )
            .with("source_bucket", &self.bucket)
            .with("url", self.state.restore_url.as_deref().unwrap_or_default())
    }
}
