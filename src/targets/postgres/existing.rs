//! The `postgres` backup from an existing dump: the newest (or a random)
//! `pg_dump -Fc` object the organisation's own job wrote under a prefix,
//! its SHA-256 taken from the object's metadata (`x-amz-meta-sha256`) or a
//! `<key>.sha256` sidecar when either declares one (checked as the restore
//! streams it), and its absence reported. Nothing is created or deleted.
//! The dump is older than the source, so there is no baseline to compare
//! with: validation runs the custom checks on what came back.

use firedrill_core::coverage::{Listing, newest};
use firedrill_core::recovery::{BackupSource, RecoveryPoint};
use firedrill_core::{Finding, Service, StageError, StageOutput};

use super::{Manifest, PgTarget, human_bytes};
use crate::aws::s3 as api;
use crate::sql::Baseline;
use crate::targets::common::source::choose;
use crate::targets::{StageContext, Target};

/// Suffix of the file next to a dump that holds its SHA-256.
const SIDECAR: &str = ".sha256";

/// The SHA-256 a sidecar's text declares: its first word, if it is one.
fn sidecar_digest(text: &str) -> Option<String> {
    let word = text.split_whitespace().next()?.to_ascii_lowercase();
    (word.len() == 64 && word.bytes().all(|b| b.is_ascii_hexdigit())).then_some(word)
}

/// The dumps among listed objects (not sidecars, not folder markers).
fn dump_points(objects: &[api::Dated]) -> Vec<RecoveryPoint> {
    objects
        .iter()
        .filter(|o| !o.key.ends_with(SIDECAR) && !o.key.ends_with('/'))
        .filter_map(|o| Some(RecoveryPoint::new(&o.key, o.last_modified?, "dump")))
        .collect()
}

impl PgTarget {
    /// Where the organisation's dumps are listed: the named key, or the prefix.
    fn dump_listing_prefix(&self) -> Option<&str> {
        match &self.dump.source {
            BackupSource::Id(key) => Some(key.as_str()),
            _ => self.dump_prefix.as_deref(),
        }
    }

    /// The organisation's dumps for `firedrill coverage`, the newest with
    /// its server-side encryption; not listed when the drill takes its own.
    pub(super) async fn dump_listing(
        &self,
        s3: &aws_sdk_s3::Client,
    ) -> Result<Listing, StageError> {
        if !self.dump.is_existing() {
            return Ok(Listing::NotListed(
                "recovery points not listed: the backup source is `new` (name the organisation's dumps with `source` and `prefix`)".into(),
            ));
        }
        let objects = api::list_dated(s3, &self.bucket, self.dump_listing_prefix()).await?;
        let mut points = dump_points(&objects);
        let newest = newest(&points).map(|p| p.id.clone());
        if let Some(key) = newest {
            let sse = api::object_encryption(s3, &self.bucket, &key).await?;
            for p in points.iter_mut().filter(|p| p.id == key) {
                *p = p.clone().with_encryption(sse.is_some(), sse.clone());
            }
        }
        Ok(Listing::Listed(points))
    }

    pub(super) async fn choose_dump(
        &mut self,
        cx: &StageContext,
        mut out: StageOutput,
    ) -> Result<StageOutput, StageError> {
        let s3 = cx.clients.s3();
        let objects = api::list_dated(s3, &self.bucket, self.dump_listing_prefix()).await?;
        out.request("s3:ListObjectsV2", None);
        let points = dump_points(&objects);
        let chosen = choose(
            cx,
            &self.dump,
            &points,
            &self.resource(),
            "dump object",
            &mut out,
        )?;
        let key = chosen.point.id.clone();
        let size = objects.iter().find(|o| o.key == key).map_or(0, |o| o.size);
        let declared = match api::declared_sha256(s3, &self.bucket, &key).await? {
            Some(d) => Some((d, "object metadata")),
            None => match api::get_small(s3, &self.bucket, &format!("{key}{SIDECAR}")).await {
                Ok(bytes) => {
                    sidecar_digest(&String::from_utf8_lossy(&bytes)).map(|d| (d, "sidecar file"))
                }
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e.into()),
            },
        };
        match &declared {
            Some((d, from)) => {
                out = out.fact("declared_sha256", d).fact("sha256_from", from);
            }
            None => out.findings.push(Finding::warning(
                "postgres.dump-unverified",
                format!(
                    "s3://{}/{key} declares no SHA-256 (no `sha256` metadata, no `{key}{SIDECAR}`): its integrity cannot be checked; have the dump job record one",
                    self.bucket
                ),
            )),
        }
        out.detail.push_str(&format!(
            "; {}{}",
            human_bytes(size),
            if declared.is_some() {
                ", SHA-256 declared"
            } else {
                ", no SHA-256 declared"
            }
        ));
        self.state.manifest = Some(Manifest {
            bucket: self.bucket.clone(),
            key: key.clone(),
            size,
            sha256: declared.map(|(d, _)| d),
            parts: 0,
            snapshot: String::new(),
            dumped_at: chosen.point.created_at,
            source: self.source.url(),
            baseline: Baseline::default(),
        });
        Ok(out
            .emulated(cx.emulated(Service::S3))
            .fact("bucket", &self.bucket)
            .fact("key", &key)
            .fact("size", size))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sidecar_declares_its_first_word_when_it_is_a_digest() {
        let d = "a".repeat(64);
        assert_eq!(
            super::sidecar_digest(&format!("{d}  orders.dump\n")),
            Some(d.clone())
        );
        assert_eq!(super::sidecar_digest(&d.to_uppercase()), Some(d));
        assert_eq!(super::sidecar_digest("not-a-digest orders.dump"), None);
        assert_eq!(super::sidecar_digest(""), None);
    }
}
