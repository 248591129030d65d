use std::collections::BTreeMap;
use std::path::Path;

use time::macros::datetime;

use super::*;
use crate::history::TargetHistory;
use firedrill_core::Verdict;

const SCENARIO: &str = r#"
name = "shop"
description = "Bring the shop back: orders database, data volume, site."
owner = "platform-sre@example.com"

[environment]
region = "us-east-1"

[objectives]
rto = "2m"
rpo = "30s"
app_rto = "5m"

[[targets]]
name = "orders-db"
kind = "postgres"
host = "db.internal"
port = 5432
user = "firedrill"
database = "orders"
password_env = "ORDERS_PG_PASSWORD"

[targets.backup]
bucket = "shop-pgdumps"

[targets.fault]
action = "delete-rows"
table = "orders"
where = "id % 10 = 0"

[[targets.check]]
name = "orders total"
query = "SELECT sum(amount) FROM orders"
expect = "baseline"

[[targets]]
name = "data"
kind = "ebs-volume"
volume_id = "vol-0123456789abcdef0"
depends_on = ["orders-db"]

[targets.fault]
action = "delete"

[targets.restore]
availability_zone = "us-east-1b"
volume_type = "gp3"

[[targets]]
name = "site"
kind = "s3-bucket"
bucket = "shop-site"
depends_on = ["orders-db"]

[targets.backup]
method = "versioning"

[targets.fault]
action = "delete-share"
share = 0.5

[[gates]]
name = "orders in the restored database"
kind = "sql"
target = "orders-db"
after = ["orders-db"]
query = "SELECT count(*) FROM orders"
expect = 120000

[[gates]]
name = "site home page"
kind = "http"
url = "{{ targets.site.url }}/index.html"
status = 200
body_contains = "Orders"

[[gates]]
name = "orders API"
kind = "http"
url = "https://shop.example.com/api/orders"
json_pointer = "/count"
json_equals = 120000
"#;

fn scenario() -> Scenario {
    crate::scenario::validate::parse(Path::new("shop.toml"), SCENARIO).expect("scenario parses")
}

fn run(scenario: &str, day: u8, verdict: Verdict, restore_ms: &[(&str, u64)]) -> HistoryEntry {
    HistoryEntry {
        scenario: scenario.into(),
        run_id: format!("run-{day}"),
        time: datetime!(2026-11-01 3:00 UTC).replace_day(day).unwrap(),
        verdict,
        targets: restore_ms
            .iter()
            .map(|(name, ms)| TargetHistory {
                name: (*name).into(),
                rto_ms: Some(ms + 500),
                rpo_ms: Some(1000),
                rto_objective_ms: 120_000,
                rpo_objective_ms: 30_000,
                proven: None,
                stages_ms: BTreeMap::from([(Stage::Restore, *ms), (Stage::Validate, ms / 10)]),
            })
            .collect(),
    }
}

/// Three drills of the shop (the last one failed), one of another scenario.
fn history() -> Vec<HistoryEntry> {
    vec![
        run(
            "shop",
            1,
            Verdict::Passed,
            &[("orders-db", 3000), ("site", 800)],
        ),
        run("other", 2, Verdict::Passed, &[("orders-db", 90_000)]),
        run(
            "shop",
            3,
            Verdict::Passed,
            &[("orders-db", 5000), ("site", 1200)],
        ),
        run("shop", 4, Verdict::Failed, &[("orders-db", 4000)]),
    ]
}

fn markdown(book: &Runbook) -> String {
    let mut out = Vec::new();
    write(book, Format::Markdown, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn runbook_markdown_snapshot() {
    let book = build(&scenario(), &history());
    insta::assert_snapshot!(markdown(&book));
}

#[test]
fn runbook_levels_follow_depends_on() {
    let book = build(&scenario(), &history());
    let names: Vec<Vec<&str>> = book
        .levels
        .iter()
        .map(|l| l.targets.iter().map(|t| t.name.as_str()).collect())
        .collect();
    assert_eq!(names, [vec!["orders-db"], vec!["data", "site"]]);
    let gates = |l: &Level| l.gates.iter().map(|g| g.name.clone()).collect::<Vec<_>>();
    assert_eq!(gates(&book.levels[0]), ["orders in the restored database"]);
    assert_eq!(gates(&book.levels[1]), ["site home page"]);
    assert_eq!(book.app_gates[0].name, "orders API");
    assert_eq!(book.app_gates.len(), 1);
}

#[test]
fn runbook_durations_are_the_median_and_worst_of_the_history() {
    let h = history();
    // orders-db restored in 3s, 5s, 4s in the shop's drills; the 90s of
    // another scenario does not count.
    assert_eq!(
        expected(&h, "shop", "orders-db", Stage::Restore),
        Some(Expected {
            median_ms: 4000,
            worst_ms: 5000,
            drills: 3
        })
    );
    assert_eq!(
        expected(&h, "shop", "site", Stage::Restore),
        Some(Expected {
            median_ms: 1000,
            worst_ms: 1200,
            drills: 2
        })
    );
    assert_eq!(expected(&h, "shop", "data", Stage::Restore), None);
    let book = build(&scenario(), &h);
    assert_eq!(
        book.last_success.as_deref(),
        Some("2026-11-03T03:00:00.000Z")
    );
    let pg = &book.levels[0].targets[0];
    let restore = pg.steps.iter().find(|s| s.tool == "pg_restore").unwrap();
    assert_eq!(restore.expected_text, "median 4.0s, worst 5.0s (3 drills)");
    let data = &book.levels[1].targets[0];
    let create = data
        .steps
        .iter()
        .find(|s| s.sets == Some("VOLUME_ID"))
        .unwrap();
    assert_eq!(create.expected_text, "no drill recorded");
    let empty = build(&scenario(), &[]);
    assert_eq!(empty.last_success, None);
    assert!(markdown(&empty).contains("**Last successful drill:** no drill recorded"));
}

#[test]
fn runbook_history_records_stage_durations() {
    let report = crate::report::fixture::report();
    let entry = HistoryEntry::from_report(&report);
    let (t, h) = report.targets.iter().zip(&entry.targets).next().unwrap();
    let restore = t.stage(Stage::Restore).unwrap();
    assert_eq!(
        h.stages_ms.get(&Stage::Restore).copied(),
        Some(u64::try_from(restore.timing.as_ref().unwrap().duration.as_millis()).unwrap())
    );
}

#[test]
fn runbook_html_is_self_contained_and_escaped() {
    let book = build(&scenario(), &history());
    let mut out = Vec::new();
    write(&book, Format::Html, &mut out).unwrap();
    let html = String::from_utf8(out).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(!html.contains("<script") && !html.contains("<link"));
    assert_eq!(html.matches("class=\"level\"").count(), 2);
    // The ebs step's `&StartTime` is shown as text, escaped.
    assert!(html.contains("sort_by(Snapshots,&amp;StartTime)"));
}
