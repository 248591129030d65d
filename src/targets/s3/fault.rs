//! The `s3-bucket` faults: delete a seeded share of the objects, delete
//! them all, or overwrite some with garbage. Before the first delete or
//! overwrite, the objects about to be damaged are written to a file in the
//! run directory and the fault to the ledger, with the backup that holds
//! their pre-fault bytes: from then on nothing deletes that backup until the
//! objects are back.

use std::collections::HashMap;
use std::io::{BufWriter, Write};

use firedrill_core::{Service, StageError, StageOutput};
use sha2::{Digest, Sha256};

use super::options::{BackupMethod, Fault};
use super::revert::{S3Undo, Source, Victim};
use super::{KIND, S3Target, io_err, manifest};
use crate::aws::s3 as api;
use crate::ledger::FaultRecord;
use crate::targets::{StageContext, Target};

impl S3Target {
    pub(super) async fn run_fault(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let s3 = cx.clients.s3().clone();
        self.state.fault_at = Some(cx.clock.now().utc);
        let mut out = StageOutput::default().emulated(cx.emulated(Service::S3));
        let bucket = self.bucket.clone();
        if self.fault == Fault::None {
            out.detail = "no fault injected".into();
            return Ok(out);
        }
        let mut keys = Vec::new();
        let all = self.fault == Fault::DeleteAll;
        api::list_pages(&s3, &bucket, self.prefix(), |page| {
            keys.extend(
                page.into_iter()
                    .filter(|o| all || !Self::is_canary(&o.key))
                    .map(|o| o.key),
            );
            async { Ok(()) }
        })
        .await?;
        let keys = match self.fault {
            Fault::None | Fault::DeleteAll => keys,
            Fault::DeleteShare { share, seed } => pick_share(keys, seed, share),
            Fault::Corrupt { count, seed } => {
                let mut keys = keys;
                seeded_order(&mut keys, seed);
                keys.truncate(usize::try_from(count).unwrap_or(usize::MAX));
                keys
            }
        };
        let marker = format!("firedrill corrupted this object during run {}\n", cx.run_id);
        let fault = self.record_fault(cx, &keys, &marker).await?;
        if let Fault::Corrupt { .. } = self.fault {
            for key in &keys {
                api::put(&s3, &bucket, key, marker.clone().into_bytes()).await?;
            }
            out.detail = format!(
                "overwrote {} object(s) in {} with garbage",
                keys.len(),
                self.resource()
            );
            out = out.fact("corrupted", keys.len());
        } else {
            let batch: Vec<(String, Option<String>)> =
                keys.iter().map(|k| (k.clone(), None)).collect();
            for chunk in batch.chunks(1000) {
                api::delete_batch(&s3, &bucket, chunk).await?;
            }
            out.detail = match self.fault {
                Fault::DeleteShare { share, .. } => format!(
                    "deleted {} object(s) ({:.0}% share) in {}",
                    keys.len(),
                    share * 100.0,
                    self.resource()
                ),
                _ => format!(
                    "deleted all {} object(s) in {}",
                    keys.len(),
                    self.resource()
                ),
            };
            out = out.fact("deleted", keys.len());
        }
        cx.fault_done(fault)?;
        Ok(out)
    }

    /// Write the victims (with the version the manifest recorded) to a file,
    /// fsync'd, then the fault to the ledger; returns the fault's id.
    async fn record_fault(
        &self,
        cx: &StageContext,
        keys: &[String],
        marker: &str,
    ) -> Result<u64, StageError> {
        let file = format!(
            "{}.victims.jsonl",
            firedrill_core::select::file_stem(&self.name)
        );
        self.write_victims(&cx.run_dir.join(&file), keys)?;
        let source = match self.backup {
            BackupMethod::Copy => self.state.backup_bucket.clone().map(Source::Backup),
            BackupMethod::Versioning | BackupMethod::PointInTime => Some(Source::Versions),
            BackupMethod::None => None,
        };
        let protects: Vec<u64> = self.state.backup_ledger_id.into_iter().collect();
        let restore = match &source {
            Some(Source::Backup(b)) => Some(format!(
                "aws s3 cp --recursive s3://{b}/ s3://{}/ --region {}",
                self.bucket,
                cx.clients.region()
            )),
            Some(Source::Versions) => Some(format!(
                "copy each object listed in {} back from its version id (aws s3api copy-object --copy-source '{}/<key>?versionId=<id>')",
                cx.run_dir.join(&file).display(),
                self.bucket
            )),
            None => None,
        };
        // No undo when the scenario asks to keep the damage: the backup
        // then stays, retained.
        let undo = source.filter(|_| self.revert).map(|from| S3Undo {
            bucket: self.bucket.clone(),
            from,
            victims: file,
            corrupt_marker: matches!(self.fault, Fault::Corrupt { .. }).then(|| marker.to_string()),
        });
        let mut fault = FaultRecord::new(KIND.name, self.fault.action().as_str(), self.resource())
            .protecting(protects)
            .with_undo(undo.as_ref())?;
        fault.restore = restore;
        cx.fault_intent(fault).await
    }

    /// The damaged keys with the version ids the manifest recorded.
    fn write_victims(&self, path: &std::path::Path, keys: &[String]) -> Result<(), StageError> {
        let mut versions: HashMap<&str, Option<String>> =
            keys.iter().map(|k| (k.as_str(), None)).collect();
        if let Some(m) = &self.state.manifest {
            for entry in manifest::read(m).map_err(|e| io_err("the manifest", &e))? {
                let entry = entry.map_err(|e| io_err("the manifest", &e))?;
                if let Some(v) = versions.get_mut(entry.key.as_str()) {
                    *v = entry.version_id;
                }
            }
        }
        let file = std::fs::File::create(path).map_err(|e| io_err("the victims list", &e))?;
        let mut w = BufWriter::new(file);
        for key in keys {
            let v = Victim {
                key: key.clone(),
                version_id: versions.get(key.as_str()).cloned().flatten(),
            };
            serde_json::to_writer(&mut w, &v).map_err(|e| StageError::Failed(e.to_string()))?;
            w.write_all(b"\n")
                .map_err(|e| io_err("the victims list", &e))?;
        }
        w.into_inner()
            .map_err(|e| io_err("the victims list", e.error()))?
            .sync_all()
            .map_err(|e| io_err("the victims list", &e))
    }
}

/// Seeded order of keys: stable across runs, unrelated to key order.
fn seeded_order(keys: &mut [String], seed: u64) {
    keys.sort_by_cached_key(|k| {
        Sha256::new()
            .chain_update(seed.to_le_bytes())
            .chain_update(k.as_bytes())
            .finalize()
    });
}

/// The keys a `delete-share` fault deletes: exactly `share` of them, rounded,
/// and at least one when there is any (a fault that deletes nothing proves
/// nothing), picked in seeded order.
fn pick_share(mut keys: Vec<String>, seed: u64, share: f64) -> Vec<String> {
    if keys.is_empty() {
        return keys;
    }
    #[allow(clippy::cast_precision_loss)]
    let wanted = ((keys.len() as f64) * share).round() as usize;
    seeded_order(&mut keys, seed);
    keys.truncate(wanted.clamp(1, keys.len()));
    keys
}
#[cfg(test)]
mod tests {
    use super::pick_share;

    fn keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("k{i}")).collect()
    }

    #[test]
    fn delete_share_picks_exactly_the_share_deterministically() {
        let picked = pick_share(keys(2000), 7, 0.25);
        assert_eq!(picked.len(), 500);
        assert_eq!(
            picked,
            pick_share(keys(2000), 7, 0.25),
            "same seed, same keys"
        );
        assert_ne!(
            picked,
            pick_share(keys(2000), 8, 0.25),
            "another seed, other keys"
        );
        assert_eq!(pick_share(keys(5), 7, 0.5).len(), 3, "2.5 rounds to 3");
        assert_eq!(pick_share(keys(10), 7, 1.0).len(), 10);
    }

    #[test]
    fn delete_share_of_a_small_bucket_deletes_at_least_one_object() {
        // Regression: a probabilistic pick deleted 0 of 5 objects at share
        // 0.5, and the drill "proved" a restore of nothing.
        assert_eq!(pick_share(keys(3), 1, 0.01).len(), 1);
        assert!(pick_share(Vec::new(), 1, 0.5).is_empty());
    }
}
