//! The `firedrill coverage` table: terminal, JSON and Markdown, from the
//! rows `firedrill_core::coverage::assess` judged.

use std::io::{self, Write};
use std::time::Duration;

use firedrill_core::coverage::CoverageRow;
use firedrill_core::recovery::long;
use tabled::builder::Builder;
use tabled::settings::Style;

fn cells(r: &CoverageRow) -> [String; 8] {
    let age = r
        .newest_age_ms
        .map_or_else(|| "-".to_string(), |a| long(Duration::from_millis(a)));
    [
        r.target.clone(),
        r.resource.clone(),
        match (&r.newest, r.points) {
            (Some(id), Some(n)) => format!("{id} ({n} in all)"),
            (None, Some(_)) => "none".to_string(),
            (_, None) => "not listed".to_string(),
        },
        format!(
            "{age} / {} {}",
            long(Duration::from_millis(r.rpo_ms)),
            if r.rpo_met { "met" } else { "MISSED" }
        ),
        r.dr_copy.cell(),
        r.encryption_cell(),
        r.last_proven.as_ref().map_or_else(
            || "never proven".to_string(),
            |p| format!("{} on {}", p.id, super::view::time(p.at)),
        ),
        if r.ok() {
            "ok".to_string()
        } else {
            r.problems.join("; ")
        },
    ]
}

const HEADER: [&str; 8] = [
    "target",
    "resource",
    "newest recovery point",
    "age / RPO",
    "DR copy",
    "encrypted",
    "last proven",
    "status",
];

/// The terminal table.
pub fn terminal<W: Write>(rows: &[CoverageRow], mut out: W) -> io::Result<()> {
    let mut b = Builder::default();
    b.push_record(HEADER);
    for r in rows {
        b.push_record(cells(r));
    }
    writeln!(out, "{}", b.build().with(Style::rounded()))?;
    let failing = rows.iter().filter(|r| !r.ok()).count();
    writeln!(
        out,
        "{failing} of {} resource(s) need attention",
        rows.len()
    )
}

/// `report.json`-style JSON: the rows.
pub fn json<W: Write>(rows: &[CoverageRow], mut out: W) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut out, rows)?;
    writeln!(out)
}

/// A Markdown table.
pub fn markdown<W: Write>(rows: &[CoverageRow], mut out: W) -> io::Result<()> {
    writeln!(out, "| {} |", HEADER.join(" | "))?;
    writeln!(out, "|{}", "---|".repeat(HEADER.len()))?;
    for r in rows {
        let c = cells(r).map(|c| c.replace('|', "\\|"));
        writeln!(out, "| {} |", c.join(" | "))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use firedrill_core::coverage::{DEFAULT_PROVEN_WITHIN, DrCopy, Listing, Resource, assess};
    use firedrill_core::recovery::{ProvenPoint, RecoveryPoint};
    use std::time::Duration;
    use time::macros::datetime;

    #[test]
    fn every_format_shows_each_row() {
        let now = datetime!(2026-06-30 12:00 UTC);
        let fresh = Listing::Listed(vec![
            RecoveryPoint::new("snap-new", now - Duration::from_hours(2), "snapshot")
                .with_encryption(true, Some("alias/backup".into())),
        ]);
        let none = Listing::Listed(Vec::new());
        let rows = vec![
            assess(
                Resource {
                    target: "data",
                    resource: "ebs:vol-1",
                    listing: &fresh,
                    dr_copy: DrCopy::Present {
                        region: "us-west-2".into(),
                        id: "snap-copy".into(),
                    },
                    rpo: Duration::from_hours(24),
                    last_proven: Some(ProvenPoint {
                        resource: "ebs:vol-1".into(),
                        id: "snap-x".into(),
                        at: now - Duration::from_hours(48),
                    }),
                    proven_within: DEFAULT_PROVEN_WITHIN,
                },
                now,
            ),
            assess(
                Resource {
                    target: "logs",
                    resource: "ebs:vol-2",
                    listing: &none,
                    dr_copy: DrCopy::NoDrRegion,
                    rpo: Duration::from_hours(24),
                    last_proven: None,
                    proven_within: DEFAULT_PROVEN_WITHIN,
                },
                now,
            ),
        ];
        let mut t = Vec::new();
        super::terminal(&rows, &mut t).unwrap();
        let t = String::from_utf8(t).unwrap();
        insta::assert_snapshot!("coverage_terminal", t);
        let mut m = Vec::new();
        super::markdown(&rows, &mut m).unwrap();
        insta::assert_snapshot!("coverage_markdown", String::from_utf8(m).unwrap());
        let mut j = Vec::new();
        super::json(&rows, &mut j).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&j).unwrap();
        assert_eq!(v[1]["problems"][0], "no recovery point");
        assert_eq!(v[0]["encrypted"], true);
        assert_eq!(v[0]["dr_copy"]["id"], "snap-copy");
        assert_eq!(v[1]["dr_copy"]["state"], "no-dr-region");
    }
}
