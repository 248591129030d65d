//! Undoing an `s3-bucket` fault from its ledger record alone, so that a run
//! and a `reap` after a crash put objects back the same way: every object
//! the fault damaged that is still damaged (deleted, or still holding the
//! garbage the fault wrote) is copied back from the backup bucket or from
//! its pre-fault version. An object written again since the fault is left
//! as it is: firedrill never overwrites data it did not damage.

use std::io::{BufRead, BufReader};

use firedrill_core::{AwsError, Finding, Service, StageError, StageOutput};
use futures::future::BoxFuture;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::{PARALLEL, S3Target, io_err};
use crate::aws::s3 as api;
use crate::ledger::FaultRecord;
use crate::targets::RevertContext;

/// Where the pre-fault bytes are.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum Source {
    /// A scratch backup bucket holding a copy of every object.
    Backup(String),
    /// The bucket's own object versions.
    Versions,
}

/// How to undo an `s3-bucket` fault: written to the ledger with the fault.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct S3Undo {
    pub bucket: String,
    pub from: Source,
    /// File in the run directory listing the damaged objects.
    pub victims: String,
    /// For `corrupt`: the bytes the fault wrote into each object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrupt_marker: Option<String>,
}

/// One damaged object, with the version the backup manifest recorded.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Victim {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

/// What happened to one damaged object.
enum Put {
    Back,
    /// Written again since the fault: left as it is.
    Changed,
    /// Not in the backup (written after it): cannot be put back.
    NotInBackup,
}

/// The kind's revert function (see `KindSpec::revert`).
pub(super) fn revert<'a>(
    fault: &'a FaultRecord,
    rcx: &'a RevertContext<'a>,
) -> BoxFuture<'a, Result<StageOutput, StageError>> {
    Box::pin(async move {
        let undo: S3Undo = fault.undo_as()?;
        let victims = read_victims(&rcx.run_dir.join(&undo.victims))?;
        let s3 = rcx.clients.s3().clone();
        let results: Vec<Put> = stream::iter(victims)
            .map(|v| put_back(&s3, &undo, v))
            .buffer_unordered(PARALLEL)
            .try_collect()
            .await?;
        let count = |p: fn(&Put) -> bool| results.iter().filter(|r| p(r)).count();
        let (back, changed, missing) = (
            count(|r| matches!(r, Put::Back)),
            count(|r| matches!(r, Put::Changed)),
            count(|r| matches!(r, Put::NotInBackup)),
        );
        let from = match &undo.from {
            Source::Backup(b) => format!("s3://{b}"),
            Source::Versions => "their pre-fault versions".to_string(),
        };
        let mut out = StageOutput::new(format!(
            "put back {back} object(s) in {} from {from}{}",
            fault.resource,
            if changed > 0 {
                format!("; {changed} written again since the fault left as they are")
            } else {
                String::new()
            }
        ))
        .emulated(rcx.clients.is_emulated(Service::S3));
        if missing > 0 {
            out.findings.push(Finding::warning(
                "s3.revert-partial",
                format!("{missing} object(s) written after the backup were damaged by the fault and cannot be put back"),
            ));
        }
        Ok(out
            .fact("reverted", back)
            .fact("left_as_written_since", changed))
    })
}

fn read_victims(path: &std::path::Path) -> Result<Vec<Victim>, StageError> {
    let file = std::fs::File::open(path).map_err(|e| io_err("the victims list", &e))?;
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Victim>(&l)
                .map_err(|e| StageError::Failed(format!("victims list: {e}")))
        })
        .filter(|v| v.as_ref().map_or(true, |v| !S3Target::is_canary(&v.key)))
        .collect()
}

/// Put one object back if it is still damaged.
async fn put_back(s3: &aws_sdk_s3::Client, undo: &S3Undo, v: Victim) -> Result<Put, AwsError> {
    let size = api::object_size(s3, &undo.bucket, &v.key).await?;
    // Deleted by the fault and still missing, or still holding its garbage;
    // anything else was written (or removed) since and is left alone.
    let damaged = match (&undo.corrupt_marker, size) {
        (None, None) => true,
        (None, Some(_)) | (Some(_), None) => false,
        (Some(marker), Some(n)) => {
            n == marker.len() as u64
                && api::get_small(s3, &undo.bucket, &v.key).await? == marker.as_bytes()
        }
    };
    if !damaged {
        return Ok(Put::Changed);
    }
    let copied = match &undo.from {
        Source::Backup(b) => api::copy(s3, b, &v.key, None, &undo.bucket).await,
        Source::Versions => match &v.version_id {
            Some(id) => api::copy(s3, &undo.bucket, &v.key, Some(id), &undo.bucket).await,
            None => return Ok(Put::NotInBackup),
        },
    };
    match copied {
        Ok(()) => Ok(Put::Back),
        Err(e) if e.is_not_found() => Ok(Put::NotInBackup),
        Err(e) => Err(e),
    }
}
