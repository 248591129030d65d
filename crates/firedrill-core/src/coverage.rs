//! `firedrill coverage`: for each resource, whether its newest recovery
//! point meets the RPO, whether a copy of it sits in the disaster-recovery
//! region, its encryption, and whether a drill proved one recently. One
//! pure function, table-tested; the command only lists and prints.

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::recovery::{ProvenPoint, RecoveryPoint, age, long, rfc3339};

/// The default of `[objectives] proven_within` and `--proven-within`.
pub const DEFAULT_PROVEN_WITHIN: Duration = Duration::from_hours(90 * 24);

/// What a kind could list of a resource's recovery points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listing {
    /// Every existing recovery point (possibly none).
    Listed(Vec<RecoveryPoint>),
    /// No point could be listed, and why, as the row's problem (for people:
    /// "recovery points not listed: no image filter in the scenario").
    NotListed(String),
}

impl Listing {
    /// Kinds that cannot list recovery points at all.
    pub fn not_for_this_kind() -> Self {
        Listing::NotListed("recovery points not listed for this kind".into())
    }
}

/// Whether the newest recovery point has a copy in the disaster-recovery
/// region. Reported, never a failure: a DR copy is a choice of the
/// organisation, which the RPO and proof checks do not assume.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum DrCopy {
    /// The scenario names no DR region for this resource.
    NoDrRegion,
    /// A copy exists: its id in `region`.
    Present { region: String, id: String },
    /// No copy in `region`.
    Absent { region: String },
    /// Not looked for (no recovery point, or the lookup failed), and why.
    NotChecked { region: String, why: String },
}

impl DrCopy {
    /// For the tables.
    pub fn cell(&self) -> String {
        match self {
            DrCopy::NoDrRegion => "no DR region".into(),
            DrCopy::Present { region, id } => format!("yes: {id} in {region}"),
            DrCopy::Absent { region } => format!("no copy in {region}"),
            DrCopy::NotChecked { region, why } => format!("not checked ({region}: {why})"),
        }
    }
}

/// Everything `assess` judges one resource by.
#[derive(Clone, Debug)]
pub struct Resource<'a> {
    /// The scenario's target name (`-` for a resource outside the scenario).
    pub target: &'a str,
    pub resource: &'a str,
    pub listing: &'a Listing,
    pub dr_copy: DrCopy,
    pub rpo: Duration,
    pub last_proven: Option<ProvenPoint>,
    pub proven_within: Duration,
}

/// One resource's coverage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CoverageRow {
    pub target: String,
    pub resource: String,
    /// The newest recovery point's id, if any.
    pub newest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_created_at: Option<String>,
    /// Its age now, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_age_ms: Option<u64>,
    pub rpo_ms: u64,
    /// The newest point is no older than the RPO.
    pub rpo_met: bool,
    /// How many recovery points the resource has (`None`: not listed).
    pub points: Option<usize>,
    /// Why the points were not listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_listed: Option<String>,
    /// Whether the newest point is encrypted at rest (`None`: unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
    /// How it is encrypted: a KMS key id or an S3 algorithm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
    /// A copy of the newest point in the DR region.
    pub dr_copy: DrCopy,
    /// The last drill that proved a point of this resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_proven: Option<ProvenPoint>,
    pub proven_within_ms: u64,
    /// A drill proved a point within `proven_within`.
    pub proven_recently: bool,
    /// Why the row fails, for people; empty when it passes.
    pub problems: Vec<String>,
}

impl CoverageRow {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The encryption cell: `yes (key)`, `no`, or `-` when unknown.
    pub fn encryption_cell(&self) -> String {
        match (self.encrypted, &self.encryption) {
            (Some(true), Some(how)) => format!("yes ({how})"),
            (Some(true), None) => "yes".into(),
            (Some(false), _) => "no".into(),
            (None, _) => "-".into(),
        }
    }
}

/// The newest of `points` (ties: the greatest id).
pub fn newest(points: &[RecoveryPoint]) -> Option<&RecoveryPoint> {
    points.iter().max_by_key(|p| (p.created_at, p.id.clone()))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Judge one resource: it fails when its newest recovery point is older
/// than the RPO (or it has none, or none could be listed), or when no
/// drill proved one within `proven_within`. Encryption and the DR copy are
/// reported, not judged.
pub fn assess(r: Resource<'_>, now: OffsetDateTime) -> CoverageRow {
    let points = match r.listing {
        Listing::Listed(p) => Some(p.as_slice()),
        Listing::NotListed(_) => None,
    };
    let newest = points.and_then(newest);
    let newest_age = newest.map(|p| age(p, now));
    let rpo_met = newest_age.is_some_and(|a| a <= r.rpo);
    let proven_age = |p: &ProvenPoint| Duration::try_from(now - p.at).unwrap_or_default();
    let proven_recently = r
        .last_proven
        .as_ref()
        .is_some_and(|p| proven_age(p) <= r.proven_within);
    let mut problems = Vec::new();
    match (r.listing, newest_age) {
        (Listing::NotListed(why), _) => problems.push(why.clone()),
        (Listing::Listed(_), None) => problems.push("no recovery point".to_string()),
        (Listing::Listed(_), Some(a)) if a > r.rpo => problems.push(format!(
            "newest recovery point is {} old, older than the RPO of {}",
            long(a),
            long(r.rpo)
        )),
        _ => {}
    }
    match &r.last_proven {
        None => problems.push("never proven".to_string()),
        Some(p) if !proven_recently => problems.push(format!(
            "last proven {} ago, longer than {}",
            long(proven_age(p)),
            long(r.proven_within)
        )),
        Some(_) => {}
    }
    CoverageRow {
        target: r.target.to_string(),
        resource: r.resource.to_string(),
        newest: newest.map(|p| p.id.clone()),
        newest_created_at: newest.map(|p| rfc3339(p.created_at)),
        newest_age_ms: newest_age.map(millis),
        rpo_ms: millis(r.rpo),
        rpo_met,
        points: points.map(<[RecoveryPoint]>::len),
        not_listed: match r.listing {
            Listing::NotListed(why) => Some(why.clone()),
            Listing::Listed(_) => None,
        },
        encrypted: newest.and_then(|p| p.encrypted),
        encryption: newest.and_then(|p| p.encryption.clone()),
        dr_copy: r.dr_copy,
        last_proven: r.last_proven,
        proven_within_ms: millis(r.proven_within),
        proven_recently,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-06-30 12:00 UTC);

    fn point(id: &str, hours: u64) -> RecoveryPoint {
        RecoveryPoint::new(id, NOW - Duration::from_hours(hours), "snapshot")
    }

    fn proven(days: u64) -> ProvenPoint {
        ProvenPoint {
            resource: "r".into(),
            id: "snap-x".into(),
            at: NOW - Duration::from_hours(24 * days),
        }
    }

    fn row(listing: &Listing, last: Option<ProvenPoint>, dr: DrCopy) -> CoverageRow {
        assess(
            Resource {
                target: "t",
                resource: "r",
                listing,
                dr_copy: dr,
                rpo: Duration::from_hours(24),
                last_proven: last,
                proven_within: DEFAULT_PROVEN_WITHIN,
            },
            NOW,
        )
    }

    #[test]
    fn a_mixed_fleet_is_judged_row_by_row() {
        let fresh = Listing::Listed(vec![point("snap-old", 30), point("snap-new", 2)]);
        let stale = Listing::Listed(vec![point("snap-old", 50)]);
        let none = Listing::Listed(Vec::new());
        let no_filter = Listing::NotListed(
            "recovery points not listed: no image filter in the scenario".into(),
        );
        // (listing, last proven, ok, first problem)
        let table: &[(&Listing, Option<ProvenPoint>, bool, &str)] = &[
            (&fresh, Some(proven(10)), true, ""),
            (&fresh, None, false, "never proven"),
            (
                &fresh,
                Some(proven(120)),
                false,
                "last proven 120d 0h ago, longer than 90d 0h",
            ),
            (
                &stale,
                Some(proven(1)),
                false,
                "newest recovery point is 2d 2h old, older than the RPO of 1d 0h",
            ),
            (&none, Some(proven(1)), false, "no recovery point"),
            (
                &Listing::not_for_this_kind(),
                Some(proven(1)),
                false,
                "recovery points not listed for this kind",
            ),
            (
                &no_filter,
                Some(proven(1)),
                false,
                "recovery points not listed: no image filter in the scenario",
            ),
        ];
        for (listing, last, ok, problem) in table {
            let r = row(listing, last.clone(), DrCopy::NoDrRegion);
            assert_eq!(r.ok(), *ok, "{r:?}");
            if !ok {
                assert_eq!(r.problems[0], *problem, "{r:?}");
            }
        }
        assert_eq!(
            row(&fresh, None, DrCopy::NoDrRegion).newest.unwrap(),
            "snap-new"
        );
    }

    #[test]
    fn encryption_and_the_dr_copy_are_reported_not_judged() {
        let encrypted = Listing::Listed(vec![
            point("snap-a", 1).with_encryption(true, Some("alias/backup".into())),
        ]);
        let plain = Listing::Listed(vec![point("snap-b", 1).with_encryption(false, None)]);
        let unknown = Listing::Listed(vec![point("snap-c", 1)]);
        let west = || "us-west-2".to_string();
        // (listing, DR copy, encryption cell, DR cell)
        let table = [
            (
                &encrypted,
                DrCopy::Present {
                    region: west(),
                    id: "snap-z".into(),
                },
                "yes (alias/backup)",
                "yes: snap-z in us-west-2",
            ),
            (
                &plain,
                DrCopy::Absent { region: west() },
                "no",
                "no copy in us-west-2",
            ),
            (&unknown, DrCopy::NoDrRegion, "-", "no DR region"),
            (
                &unknown,
                DrCopy::NotChecked {
                    region: west(),
                    why: "no recovery point".into(),
                },
                "-",
                "not checked (us-west-2: no recovery point)",
            ),
        ];
        for (listing, dr, enc, cell) in table {
            let r = row(listing, Some(proven(1)), dr);
            assert!(r.ok(), "{r:?}");
            assert_eq!(r.encryption_cell(), enc);
            assert_eq!(r.dr_copy.cell(), cell);
        }
        let j = serde_json::to_value(row(
            &plain,
            Some(proven(1)),
            DrCopy::Absent { region: west() },
        ))
        .unwrap();
        assert_eq!(j["encrypted"], false);
        assert_eq!(j["dr_copy"]["state"], "absent");
        assert_eq!(j["proven_within_ms"], 90 * 24 * 3_600_000_u64);
    }
}
