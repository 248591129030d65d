//! The `s3-bucket` point-in-time backup: no copy is made; the bucket's
//! version listing says which version of every key was current at time T
//! (keys whose newest version by T is a delete marker, or that did not
//! exist yet, are absent). Those versions are hashed into the manifest, so
//! the restore copies exactly them and validation diffs the restored
//! bucket against the listing at T.

use std::collections::HashMap;

use futures::stream::{FuturesOrdered, StreamExt};
use time::OffsetDateTime;

use super::manifest::{self, Entry};
use super::options::RestoreTime;
use super::{PARALLEL, S3Target, io_err};
use crate::aws::s3 as api;
use crate::targets::common::point_in_time as pitr;
use crate::targets::{StageContext, Target};
use firedrill_core::point_in_time::{self, Restorable, Versions};
use firedrill_core::recovery::{BackupSource, Prefer, SourceSpec, rfc3339};
use firedrill_core::{Service, StageError, StageOutput};

/// The newest version of a key at or before T (`None`: deleted by T).
#[derive(Clone, Debug, PartialEq, Eq)]
struct AtT {
    at: OffsetDateTime,
    version: Option<String>,
}

/// Pick, per key, the version current at `t` from a version listing. S3
/// keeps whole seconds: a version stamped in T's second counts as before
/// T; within one second a delete marker wins (a delete follows the write).
fn current_at(best: &mut HashMap<String, AtT>, versions: Vec<api::VersionInfo>, t: OffsetDateTime) {
    for v in versions {
        let Some(at) = v.last_modified else { continue };
        if at > t || S3Target::is_canary(&v.key) {
            continue;
        }
        let candidate = AtT {
            at,
            version: (!v.is_delete_marker).then_some(v.version_id),
        };
        let replace = best.get(&v.key).is_none_or(|old| {
            at > old.at || (at == old.at && candidate.version.is_none() && old.version.is_some())
        });
        if replace {
            best.insert(v.key, candidate);
        }
    }
}

impl S3Target {
    /// When the oldest object version under the prefix was written (a
    /// random T before it would find nothing to restore) and when the
    /// newest change was made (every later T holds the same contents).
    async fn versions(&self, s3: &aws_sdk_s3::Client) -> Result<Versions, StageError> {
        let (mut oldest, mut newest): (Option<OffsetDateTime>, Option<OffsetDateTime>) =
            (None, None);
        api::list_version_pages(s3, &self.bucket, self.prefix(), |page| {
            for v in page {
                let Some(at) = v.last_modified.filter(|_| !S3Target::is_canary(&v.key)) else {
                    continue;
                };
                newest = Some(newest.map_or(at, |n| n.max(at)));
                if !v.is_delete_marker {
                    oldest = Some(oldest.map_or(at, |o| o.min(at)));
                }
            }
            async { Ok(()) }
        })
        .await?;
        oldest.zip(newest).map(|(oldest, newest)| Versions { oldest, newest }).ok_or_else(|| {
            StageError::Failed(format!(
                "{} has no object versions: there is no point in time to restore (hint: check that versioning is on and `prefix`)",
                self.resource()
            ))
        })
    }

    pub(super) async fn point_in_time_backup(
        &mut self,
        cx: &StageContext,
        mut out: StageOutput,
    ) -> Result<StageOutput, StageError> {
        let s3 = cx.clients.s3().clone();
        let now = cx.clock.now().utc;
        let t = match self.restore_time {
            RestoreTime::Latest => now,
            RestoreTime::At(t) => {
                point_in_time::restore_time(Some(t), Restorable::default(), now, &self.resource())
                    .map_err(|e| pitr::refused(&e))?
            }
            RestoreTime::Random(window) => {
                let versions = self.versions(&s3).await?;
                out.request("s3:ListObjectVersions", None);
                point_in_time::random_time(
                    window,
                    versions,
                    now,
                    cx.recovery.seed,
                    &self.resource(),
                )
                .map_err(|e| pitr::refused(&e))?
            }
        };
        let mut best = HashMap::new();
        api::list_version_pages(&s3, &self.bucket, self.prefix(), |page| {
            current_at(&mut best, page, t);
            async { Ok(()) }
        })
        .await?;
        out.request("s3:ListObjectVersions", None);
        let mut keys: Vec<(String, String)> = best
            .into_iter()
            .filter_map(|(k, v)| v.version.map(|v| (k, v)))
            .collect();
        if keys.is_empty() {
            return Err(StageError::Failed(format!(
                "no object of {} existed at {t}: there is nothing to restore (hint: check `restore_time` and that versioning was on then)",
                self.resource()
            )));
        }
        keys.sort();
        let path = self.file(cx, "manifest");
        let mut writer = manifest::Writer::create(&path).map_err(|e| io_err("the manifest", &e))?;
        let mut pending = keys.into_iter();
        let mut in_flight = FuturesOrdered::new();
        loop {
            while in_flight.len() < PARALLEL {
                let Some((key, version)) = pending.next() else {
                    break;
                };
                let (s3, bucket) = (s3.clone(), self.bucket.clone());
                in_flight.push_back(async move {
                    let d = api::object_digests(&s3, &bucket, &key, Some(&version)).await?;
                    Ok::<Entry, firedrill_core::AwsError>(Entry {
                        key,
                        size: d.size,
                        sha256: d.sha256,
                        md5: Some(d.md5),
                        version_id: Some(version),
                    })
                });
            }
            let Some(entry) = in_flight.next().await else {
                break;
            };
            cx.check_cancelled()?;
            writer
                .push(&entry?)
                .map_err(|e| io_err("the manifest", &e))?;
        }
        let (count, bytes) = (writer.count, writer.bytes);
        writer.finish().map_err(|e| io_err("the manifest", &e))?;
        self.state.manifest = Some(path.clone());
        self.state.manifest_count = count;
        self.state.point_in_time = Some(t);
        let spec = match self.restore_time {
            RestoreTime::Latest => pitr::requested_spec(None, t),
            RestoreTime::At(_) => pitr::requested_spec(Some(t), t),
            RestoreTime::Random(window) => SourceSpec {
                source: BackupSource::Random,
                window: Some(window),
                prefer: Prefer::Any,
            },
        };
        pitr::record(cx, t, &spec);
        let seeded = match self.restore_time {
            RestoreTime::Random(w) => format!(
                " (random within {}, seed {})",
                firedrill_core::recovery::days(w),
                cx.recovery.seed
            ),
            _ => String::new(),
        };
        out.detail = format!(
            "point in time {}{seeded}: {count} object version(s) ({bytes} bytes) current then in {}",
            rfc3339(t),
            self.resource()
        );
        Ok(out
            .emulated(cx.emulated(Service::S3))
            .fact("objects", count)
            .fact("bytes", bytes)
            .fact("point_in_time", t)
            .fact("manifest", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn v(key: &str, id: &str, at: OffsetDateTime, marker: bool) -> api::VersionInfo {
        api::VersionInfo {
            key: key.into(),
            version_id: id.into(),
            is_delete_marker: marker,
            last_modified: Some(at),
            size: 1,
        }
    }

    #[test]
    fn every_key_at_its_version_current_at_t() {
        let t = datetime!(2026-01-01 12:00:00 UTC);
        let before = t - time::Duration::seconds(10);
        let after = t + time::Duration::seconds(10);
        let mut best = HashMap::new();
        current_at(
            &mut best,
            vec![
                // overwritten after T: v1 at T
                v("a", "a2", after, false),
                v("a", "a1", before, false),
                // deleted after T: present at T
                v("b", "b1", before, false),
                v("b", "bx", after, true),
                // deleted before T: absent
                v("c", "c1", before - time::Duration::seconds(5), false),
                v("c", "cx", before, true),
                // created after T: absent
                v("d", "d1", after, false),
                // written in T's own second: counts
                v("e", "e1", t, false),
            ],
            t,
        );
        let mut got: Vec<(String, Option<String>)> =
            best.into_iter().map(|(k, v)| (k, v.version)).collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("a".into(), Some("a1".into())),
                ("b".into(), Some("b1".into())),
                ("c".into(), None),
                ("e".into(), Some("e1".into())),
            ]
        );
    }
}
