//! `firedrill coverage`: for each resource, whether its newest recovery
//! point meets the RPO and whether a drill proved one recently. One pure
//! function, table-tested; the command only lists and prints.

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::recovery::{ProvenPoint, RecoveryPoint, age, long, rfc3339};

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
    /// The last drill that proved a point of this resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_proven: Option<ProvenPoint>,
    /// A drill proved a point within `proven_within`.
    pub proven_recently: bool,
    /// Why the row fails, for people; empty when it passes.
    pub problems: Vec<String>,
}

impl CoverageRow {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Judge one resource. `points` is `None` when its kind cannot list them.
pub fn assess(
    target: &str,
    resource: &str,
    points: Option<&[RecoveryPoint]>,
    rpo: Duration,
    last_proven: Option<ProvenPoint>,
    proven_within: Duration,
    now: OffsetDateTime,
) -> CoverageRow {
    let newest = points.and_then(|p| p.iter().max_by_key(|p| (p.created_at, p.id.clone())));
    let newest_age = newest.map(|p| age(p, now));
    let rpo_met = newest_age.is_some_and(|a| a <= rpo);
    let proven_recently = last_proven
        .as_ref()
        .is_some_and(|p| Duration::try_from(now - p.at).unwrap_or_default() <= proven_within);
    let mut problems = Vec::new();
    match (points, newest_age) {
        (None, _) => problems.push("recovery points not listed for this kind".to_string()),
        (Some(_), None) => problems.push("no recovery point".to_string()),
        (Some(_), Some(a)) if a > rpo => problems.push(format!(
            "newest recovery point is {} old, older than the RPO of {}",
            long(a),
            long(rpo)
        )),
        _ => {}
    }
    match &last_proven {
        None => problems.push("never proven".to_string()),
        Some(p) if !proven_recently => problems.push(format!(
            "last proven {} ago, longer than {}",
            long(Duration::try_from(now - p.at).unwrap_or_default()),
            long(proven_within)
        )),
        Some(_) => {}
    }
    CoverageRow {
        target: target.to_string(),
        resource: resource.to_string(),
        newest: newest.map(|p| p.id.clone()),
        newest_created_at: newest.map(|p| rfc3339(p.created_at)),
        newest_age_ms: newest_age.map(|a| u64::try_from(a.as_millis()).unwrap_or(u64::MAX)),
        rpo_ms: u64::try_from(rpo.as_millis()).unwrap_or(u64::MAX),
        rpo_met,
        points: points.map(<[RecoveryPoint]>::len),
        last_proven,
        proven_recently,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-06-30 12:00 UTC);

    /// (points, last proven, ok, first problem)
    type Row<'a> = (
        Option<&'a [RecoveryPoint]>,
        Option<ProvenPoint>,
        bool,
        &'a str,
    );

    #[test]
    fn a_mixed_fleet_is_judged_row_by_row() {
        let fresh = [RecoveryPoint::new(
            "snap-new",
            NOW - Duration::from_hours(2),
            "snapshot",
        )];
        let stale = [RecoveryPoint::new(
            "snap-old",
            NOW - Duration::from_hours(50),
            "snapshot",
        )];
        let proven = |days: u64| {
            Some(ProvenPoint {
                resource: "r".into(),
                id: "snap-x".into(),
                at: NOW - Duration::from_hours(24 * days),
            })
        };
        let day = Duration::from_hours(24);
        let within = Duration::from_hours(24 * 90);
        // (points, last proven, ok, problem)
        let table: &[Row<'_>] = &[
            (Some(&fresh), proven(10), true, ""),
            (Some(&fresh), None, false, "never proven"),
            (
                Some(&fresh),
                proven(120),
                false,
                "last proven 120d 0h ago, longer than 90d 0h",
            ),
            (
                Some(&stale),
                proven(1),
                false,
                "newest recovery point is 2d 2h old, older than the RPO of 1d 0h",
            ),
            (Some(&[]), proven(1), false, "no recovery point"),
            (
                None,
                proven(1),
                false,
                "recovery points not listed for this kind",
            ),
        ];
        for (points, last, ok, problem) in table {
            let row = assess("t", "r", *points, day, last.clone(), within, NOW);
            assert_eq!(row.ok(), *ok, "{row:?}");
            if !ok {
                assert_eq!(row.problems[0], *problem, "{row:?}");
            }
        }
    }
}
