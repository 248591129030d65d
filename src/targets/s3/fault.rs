//! The `s3-bucket` faults: delete a seeded share of the objects, delete
//! them all, or overwrite some with garbage.
use sha2::{Digest, Sha256};

use crate::aws::s3 as api;
use crate::targets::{StageContext, Target};
use firedrill_core::Service;
use firedrill_core::{StageError, StageOutput};

use super::S3Target;
use super::options::Fault;

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
        match self.fault {
            Fault::None => {}
            Fault::DeleteAll | Fault::DeleteShare { .. } => {
                if let Fault::DeleteShare { share, seed } = self.fault {
                    keys = pick_share(keys, seed, share);
                }
                // Recorded before the deletes, so a revert knows the damage
                // even if the deletes fail half-way.
                self.state.victims.clone_from(&keys);
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
            Fault::Corrupt { count, seed } => {
                // Seeded choice, stable across runs.
                seeded_order(&mut keys, seed);
                keys.truncate(usize::try_from(count).unwrap_or(usize::MAX));
                self.state.victims.clone_from(&keys);
                for key in &keys {
                    api::put(
                        &s3,
                        &bucket,
                        key,
                        format!("firedrill corrupted this object during run {}\n", cx.run_id)
                            .into_bytes(),
                    )
                    .await?;
                }
                out.detail = format!(
                    "overwrote {} object(s) in {} with garbage",
                    keys.len(),
                    self.resource()
                );
                out = out.fact("corrupted", keys.len());
            }
        }
        Ok(out)
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
