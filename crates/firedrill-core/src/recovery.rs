//! Drilling the backups that exist: where a target's backup comes from
//! (`[targets.backup] source`), the recovery points a kind lists, the seeded
//! choice among them (like AWS Backup restore testing: the latest, or a
//! random one within a window), and the recovery-point RPO each report
//! shows. Every kind shares these types; the choice is one pure function.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::finding::Finding;
use crate::timing::human;

/// The longest `window` AWS Backup restore testing accepts, and firedrill.
pub const MAX_WINDOW: Duration = Duration::from_hours(365 * 24);
/// The shortest `window`.
pub const MIN_WINDOW: Duration = Duration::from_hours(24);

/// One existing backup of a resource: a snapshot, an AMI, a dump object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryPoint {
    /// The id a restore takes: `snap-…`, `ami-…`, a DB snapshot identifier,
    /// an S3 key.
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// What kind of recovery point, for people: `snapshot`, `automated`,
    /// `manual`, `awsbackup`, `ami`, `dump`.
    pub label: String,
    /// Whether the point is encrypted at rest, when the kind can tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
    /// How: a KMS key id, or an S3 algorithm (`AES256`, `aws:kms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
}

impl RecoveryPoint {
    pub fn new(id: impl Into<String>, created_at: OffsetDateTime, label: &str) -> Self {
        Self {
            id: id.into(),
            created_at,
            label: label.to_string(),
            encrypted: None,
            encryption: None,
        }
    }

    /// The point with its encryption at rest (`how`: key id or algorithm).
    #[must_use]
    pub fn with_encryption(mut self, encrypted: bool, how: Option<String>) -> Self {
        self.encrypted = Some(encrypted);
        self.encryption = how.filter(|h| !h.is_empty());
        self
    }
}

/// Where a target's backup comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackupSource {
    /// A fresh backup taken by the drill (the default).
    New,
    /// The newest existing recovery point (within the window, if any).
    Latest,
    /// A seeded random recovery point within the window.
    Random,
    /// One named recovery point.
    Id(String),
}

impl BackupSource {
    /// The keyword values of `source`, as the scenario writes them.
    pub const KEYWORDS: &'static [&'static str] = &["new", "latest", "random"];

    /// `new`, `latest`, `random` or `id`: how the report names the choice.
    pub fn as_str(&self) -> &'static str {
        match self {
            BackupSource::New => "new",
            BackupSource::Latest => "latest",
            BackupSource::Random => "random",
            BackupSource::Id(_) => "id",
        }
    }

    /// Whether the drill restores an existing recovery point.
    pub fn is_existing(&self) -> bool {
        !matches!(self, BackupSource::New)
    }
}

/// Which recovery points `random` prefers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Prefer {
    /// Any point in the window.
    #[default]
    Any,
    /// A point not yet proven by an earlier drill, when one exists.
    Unproven,
}

/// The validated `[targets.backup]` source keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSpec {
    pub source: BackupSource,
    /// Only points created within this long before now count.
    pub window: Option<Duration>,
    pub prefer: Prefer,
}

impl Default for SourceSpec {
    fn default() -> Self {
        Self {
            source: BackupSource::New,
            window: None,
            prefer: Prefer::Any,
        }
    }
}

impl SourceSpec {
    pub fn is_existing(&self) -> bool {
        self.source.is_existing()
    }

    /// For the plan: "the latest existing snapshot within 7d".
    pub fn describe(&self, what: &str) -> String {
        let window = self
            .window
            .map(|w| format!(" created within {}", days(w)))
            .unwrap_or_default();
        match &self.source {
            BackupSource::New => format!("a new {what}"),
            BackupSource::Latest => format!("the latest existing {what}{window}"),
            BackupSource::Random => format!(
                "a random existing {what}{window} (seeded){}",
                if self.prefer == Prefer::Unproven {
                    ", preferring one not yet proven"
                } else {
                    ""
                }
            ),
            BackupSource::Id(id) => format!("the existing {what} {id}"),
        }
    }
}

/// `7d`, `36h`: a window as people write it.
pub fn days(d: Duration) -> String {
    let h = d.as_secs() / 3600;
    if h.is_multiple_of(24) {
        format!("{}d", h / 24)
    } else {
        format!("{h}h")
    }
}

/// The chosen recovery point and what it was chosen from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chosen {
    pub point: RecoveryPoint,
    /// Points the choice was made among (after the window).
    pub candidates: usize,
    /// Points the kind listed in all.
    pub listed: usize,
}

/// Why no recovery point could be chosen: the drill fails (not an
/// environment error: the backups the organisation relies on are missing).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChooseError {
    #[error(
        "{resource} has no {what} to restore (hint: check the backup schedule, or use `source = \"new\"`)"
    )]
    NoPoints { resource: String, what: String },
    #[error(
        "{resource} has no {what} created within the last {} ({listed} older; the newest is {} old) (hint: the backup schedule may have stopped; widen `window` only if that is expected)",
        days(*window), long(*newest_age)
    )]
    EmptyWindow {
        resource: String,
        what: String,
        window: Duration,
        listed: usize,
        newest_age: Duration,
    },
    #[error(
        "{what} `{id}` of {resource} does not exist ({listed} found; hint: list them, or use `source = \"latest\"`)"
    )]
    UnknownId {
        resource: String,
        what: String,
        id: String,
        listed: usize,
    },
}

/// Choose a recovery point. Pure: `now`, `seed` and the proven ids are all
/// given, so the same inputs always give the same point.
///
/// - `latest`: the newest point in the window (ties: the greatest id).
/// - `random`: points in the window ordered by (time, id), one picked by
///   the seed; with `prefer = unproven`, among the unproven ones if any.
/// - an id: that point, whatever its age (the age is judged later).
pub fn choose(
    points: &[RecoveryPoint],
    spec: &SourceSpec,
    now: OffsetDateTime,
    seed: u64,
    proven: &BTreeMap<String, OffsetDateTime>,
    resource: &str,
    what: &str,
) -> Result<Chosen, ChooseError> {
    let listed = points.len();
    if let BackupSource::Id(id) = &spec.source {
        return points
            .iter()
            .find(|p| &p.id == id)
            .map(|p| Chosen {
                point: p.clone(),
                candidates: 1,
                listed,
            })
            .ok_or_else(|| ChooseError::UnknownId {
                resource: resource.into(),
                what: what.into(),
                id: id.clone(),
                listed,
            });
    }
    if points.is_empty() {
        return Err(ChooseError::NoPoints {
            resource: resource.into(),
            what: what.into(),
        });
    }
    let mut inside: Vec<&RecoveryPoint> = points
        .iter()
        .filter(|p| spec.window.is_none_or(|w| age(p, now) <= w))
        .collect();
    inside.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let Some(newest) = inside.last() else {
        let newest_age = points.iter().map(|p| age(p, now)).min().unwrap_or_default();
        return Err(ChooseError::EmptyWindow {
            resource: resource.into(),
            what: what.into(),
            window: spec.window.unwrap_or_default(),
            listed,
            newest_age,
        });
    };
    let candidates = inside.len();
    let point = match spec.source {
        BackupSource::Random => {
            let unproven: Vec<&RecoveryPoint> = inside
                .iter()
                .copied()
                .filter(|p| !proven.contains_key(&p.id))
                .collect();
            let pool = if spec.prefer == Prefer::Unproven && !unproven.is_empty() {
                unproven
            } else {
                inside.clone()
            };
            let i = (mix(seed) % pool.len() as u64) as usize;
            pool[i].clone()
        }
        _ => (*newest).clone(),
    };
    Ok(Chosen {
        point,
        candidates,
        listed,
    })
}

/// How old a point is at `at` (zero when it is in the future: clock skew).
pub fn age(p: &RecoveryPoint, at: OffsetDateTime) -> Duration {
    Duration::try_from(at - p.created_at).unwrap_or_default()
}

/// splitmix64: a fixed, documented mixer, so a seed repeats its choice
/// across firedrill versions and platforms.
pub fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of one target: the run's seed mixed with the target's name, so
/// targets choose independently and each repeats with the run's seed.
pub fn target_seed(run_seed: u64, target: &str) -> u64 {
    // FNV-1a of the name.
    let h = target.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    mix(run_seed ^ h)
}

/// What a target's choice of recovery point may use, and where the kind
/// leaves its choice for the runner's report. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct ChoiceInputs {
    /// The target's seed ([`target_seed`] of the run's).
    pub seed: u64,
    /// Recovery point ids of this resource that earlier drills restored and
    /// validated, with when.
    pub proven: Arc<BTreeMap<String, OffsetDateTime>>,
    chosen: Arc<Mutex<Option<(Chosen, SourceSpec)>>>,
}

impl ChoiceInputs {
    pub fn new(seed: u64, proven: BTreeMap<String, OffsetDateTime>) -> Self {
        Self {
            seed,
            proven: Arc::new(proven),
            chosen: Arc::default(),
        }
    }

    /// Record the point the kind chose (the backup stage does).
    pub fn record(&self, chosen: Chosen, spec: &SourceSpec) {
        *self
            .chosen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((chosen, spec.clone()));
    }

    /// The report of the point the kind chose, aged at `fault_at`, if the
    /// drill restored an existing one.
    pub fn report(&self, fault_at: OffsetDateTime) -> Option<RecoveryPointReport> {
        let (chosen, spec) = self.chosen()?;
        let mut r = RecoveryPointReport::new(&chosen, &spec, self.seed, fault_at);
        r.proven_before = self.proven.get(&r.id).copied();
        Some(r)
    }

    /// The newest point of this resource an earlier drill proved.
    pub fn last_proven(&self, resource: &str) -> Option<ProvenPoint> {
        last_proven(resource, &self.proven)
    }

    /// The point the kind chose and the source it was chosen by.
    pub fn chosen(&self) -> Option<(Chosen, SourceSpec)> {
        self.chosen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The recovery point a drill restored, as every report shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryPointReport {
    pub id: String,
    pub label: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// `latest`, `random` or `id`.
    pub source: String,
    /// The window the choice was made in, in days or hours (`7d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// The target's seed, for `random`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Points the choice was made among.
    pub candidates: usize,
    /// Recovery-point RPO: fault time − creation time (the data a real
    /// disaster at the fault time would lose).
    #[serde(with = "crate::timing::millis", rename = "age_at_fault_ms")]
    pub age_at_fault: Duration,
    /// When an earlier drill last restored and validated this point.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub proven_before: Option<OffsetDateTime>,
}

impl RecoveryPointReport {
    /// The report of `chosen`, aged at the fault time.
    pub fn new(chosen: &Chosen, spec: &SourceSpec, seed: u64, fault_at: OffsetDateTime) -> Self {
        Self {
            id: chosen.point.id.clone(),
            label: chosen.point.label.clone(),
            created_at: chosen.point.created_at,
            source: spec.source.as_str().to_string(),
            window: spec.window.map(days),
            seed: (spec.source == BackupSource::Random).then_some(seed),
            candidates: chosen.candidates,
            age_at_fault: age(&chosen.point, fault_at),
            proven_before: None,
        }
    }

    /// The finding when the point is older than the RPO objective: a real
    /// disaster at the fault time would lose more than the objective allows.
    pub fn too_old(&self, objective: Duration) -> Option<Finding> {
        (self.age_at_fault > objective).then(|| {
            Finding::error(
                "recovery-point.too-old",
                format!(
                    "recovery point {} was {} old at the fault (created {}), older than the RPO objective of {}",
                    self.id,
                    long(self.age_at_fault),
                    rfc3339(self.created_at),
                    long(objective)
                ),
            )
        })
    }
}

/// A recovery point a drill restored and validated: the history keeps
/// one per target and run, and reports show the last one per resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenPoint {
    /// The resource, as reports name it (`ebs:vol-…`).
    pub resource: String,
    /// The recovery point id.
    pub id: String,
    /// When the drill that proved it started.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A time as reports write it: RFC 3339, UTC.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// A duration for people at day scales: `3d 4h`, `2h 5m`, `40s`.
pub fn long(d: Duration) -> String {
    let s = d.as_secs();
    let (dd, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    match (dd, h, m) {
        (0, 0, 0) => human(d),
        (0, 0, m) => format!("{m}m {}s", s % 60),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

impl fmt::Display for RecoveryPointReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, {} of {}), created {}, {} old at the fault",
            self.id,
            self.label,
            self.source,
            self.candidates,
            rfc3339(self.created_at),
            long(self.age_at_fault)
        )
    }
}

/// The newest of `resource`'s points an earlier drill proved, from its
/// proven points by id (the history's `proven_points`).
pub fn last_proven(
    resource: &str,
    proven: &BTreeMap<String, OffsetDateTime>,
) -> Option<ProvenPoint> {
    proven
        .iter()
        .max_by_key(|(id, at)| (**at, (*id).clone()))
        .map(|(id, at)| ProvenPoint {
            resource: resource.to_string(),
            id: id.clone(),
            at: *at,
        })
}
#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-06-30 12:00 UTC);

    fn points() -> Vec<RecoveryPoint> {
        vec![
            RecoveryPoint::new("snap-a", datetime!(2026-06-01 03:00 UTC), "snapshot"),
            RecoveryPoint::new("snap-b", datetime!(2026-06-25 03:00 UTC), "snapshot"),
            RecoveryPoint::new("snap-c", datetime!(2026-06-28 03:00 UTC), "snapshot"),
            RecoveryPoint::new("snap-d", datetime!(2026-06-29 03:00 UTC), "snapshot"),
            RecoveryPoint::new("snap-e", datetime!(2026-06-30 03:00 UTC), "snapshot"),
        ]
    }

    fn spec(source: BackupSource, window_days: Option<u64>, prefer: Prefer) -> SourceSpec {
        SourceSpec {
            source,
            window: window_days.map(|d| Duration::from_hours(24 * d)),
            prefer,
        }
    }

    fn pick(s: &SourceSpec, seed: u64, proven: &[&str]) -> Result<String, ChooseError> {
        let proven = proven.iter().map(|s| ((*s).to_string(), NOW)).collect();
        choose(&points(), s, NOW, seed, &proven, "ebs:vol-1", "snapshot").map(|c| c.point.id)
    }

    #[test]
    fn the_choice_follows_the_source_window_and_seed() {
        use BackupSource::{Id, Latest, Random};
        let table: &[(SourceSpec, u64, &[&str], &str)] = &[
            (spec(Latest, None, Prefer::Any), 1, &[], "snap-e"),
            (spec(Latest, Some(7), Prefer::Any), 1, &[], "snap-e"),
            (
                spec(Id("snap-a".into()), None, Prefer::Any),
                1,
                &[],
                "snap-a",
            ),
            // Window 2d holds d and e; the seed picks one of them.
            (spec(Random, Some(2), Prefer::Any), 1, &[], "snap-e"),
            (spec(Random, Some(2), Prefer::Any), 2, &[], "snap-d"),
            // Unproven preferred: seed 1 would pick e, which is proven: d.
            (
                spec(Random, Some(2), Prefer::Unproven),
                1,
                &["snap-e"],
                "snap-d",
            ),
            // Everything proven: the seed's choice again.
            (
                spec(Random, Some(2), Prefer::Unproven),
                1,
                &["snap-d", "snap-e"],
                "snap-e",
            ),
        ];
        for (s, seed, proven, want) in table {
            assert_eq!(pick(s, *seed, proven).unwrap(), *want, "{s:?} seed {seed}");
        }
    }

    #[test]
    fn the_same_seed_repeats_the_choice_and_seeds_spread() {
        let s = spec(BackupSource::Random, Some(365), Prefer::Any);
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..64 {
            let a = pick(&s, seed, &[]).unwrap();
            assert_eq!(a, pick(&s, seed, &[]).unwrap());
            seen.insert(a);
        }
        assert_eq!(seen.len(), 5, "64 seeds reach every point: {seen:?}");
        assert_ne!(target_seed(7, "data"), target_seed(7, "logs"));
        assert_eq!(target_seed(7, "data"), target_seed(7, "data"));
    }

    #[test]
    fn an_empty_window_and_an_unknown_id_say_why() {
        let mut old = points();
        old.truncate(1);
        let e = choose(
            &old,
            &spec(BackupSource::Latest, Some(7), Prefer::Any),
            NOW,
            0,
            &BTreeMap::new(),
            "ebs:vol-1",
            "snapshot",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "ebs:vol-1 has no snapshot created within the last 7d (1 older; the newest is 29d 9h old) (hint: the backup schedule may have stopped; widen `window` only if that is expected)"
        );
        let e = pick(
            &spec(BackupSource::Id("snap-zz".into()), None, Prefer::Any),
            0,
            &[],
        )
        .unwrap_err();
        assert!(matches!(e, ChooseError::UnknownId { listed: 5, .. }), "{e}");
        let e = choose(
            &[],
            &spec(BackupSource::Latest, None, Prefer::Any),
            NOW,
            0,
            &BTreeMap::new(),
            "ebs:vol-1",
            "snapshot",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("ebs:vol-1 has no snapshot to restore")
        );
    }

    #[test]
    fn age_against_the_objective_at_day_scales() {
        let table: &[(&str, u64, bool)] = &[
            // (point, objective in hours, too old)
            ("snap-e", 24, false), // 9h old
            ("snap-e", 8, true),
            ("snap-d", 24, true),       // 33h old
            ("snap-a", 24 * 30, false), // 29d 9h old
            ("snap-a", 24 * 29, true),
        ];
        for (id, hours, too_old) in table {
            let p = points().into_iter().find(|p| p.id == *id).unwrap();
            let chosen = Chosen {
                point: p,
                candidates: 5,
                listed: 5,
            };
            let r = RecoveryPointReport::new(
                &chosen,
                &spec(BackupSource::Latest, None, Prefer::Any),
                0,
                NOW,
            );
            let f = r.too_old(Duration::from_hours(*hours));
            assert_eq!(f.is_some(), *too_old, "{id} against {hours}h");
            if let Some(f) = f {
                assert!(f.message.contains(&long(r.age_at_fault)), "{}", f.message);
                assert!(f.message.contains(&long(Duration::from_hours(*hours))));
            }
        }
        assert_eq!(long(Duration::from_hours(29 * 24 + 9)), "29d 9h");
        assert_eq!(long(Duration::from_mins(125)), "2h 5m");
    }
}
