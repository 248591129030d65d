//! Every format rendered from the fixed report: insta snapshots, the `JUnit`
//! output parsed back, the HTML checked for self-containment and one
//! timeline bar per timed stage.

use super::fixture;
use super::view::ArtifactRef;
use super::{artifacts, html, json, junit, markdown, terminal};

fn render(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    f(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn evidence() -> Vec<ArtifactRef> {
    vec![
        ArtifactRef {
            name: "ledger.jsonl".into(),
            size: Some(1234),
        },
        ArtifactRef {
            name: "report.json".into(),
            size: None,
        },
        ArtifactRef {
            name: "manifest.json".into(),
            size: None,
        },
    ]
}

#[test]
fn terminal_snapshot() {
    let r = fixture::report();
    insta::assert_snapshot!(render(|o| terminal::write(&r, o)));
}

#[test]
fn json_snapshot_and_round_trip() {
    let r = fixture::report();
    let text = render(|o| json::write(&r, o));
    insta::assert_snapshot!(text);
    let back: super::Report = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
}

#[test]
fn junit_snapshot() {
    let r = fixture::report();
    insta::assert_snapshot!(render(|o| junit::write(&r, o)));
}

#[test]
fn markdown_snapshot() {
    let r = fixture::report();
    insta::assert_snapshot!(render(|o| markdown::write(&r, &evidence(), o)));
}

#[test]
fn html_snapshot() {
    let r = fixture::report();
    insta::assert_snapshot!(render(|o| html::write(&r, &evidence(), o)));
}

#[test]
fn junit_parses_back_with_one_suite_per_target() {
    let r = fixture::report();
    let xml = render(|o| junit::write(&r, o));
    let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(parsed.test_suites.len(), 2);
    for (suite, target) in parsed.test_suites.iter().zip(&r.targets) {
        assert_eq!(suite.name.as_str(), target.name);
        // One case per stage record, plus RTO and RPO.
        assert_eq!(suite.test_cases.len(), target.stages.len() + 2);
    }
    let orders = &parsed.test_suites[0];
    assert_eq!(orders.failures, 0);
    let archive = &parsed.test_suites[1];
    // validate failed, RTO missed, RPO not measured.
    assert_eq!(archive.failures, 3);
    assert_eq!(archive.skipped, 1);
    let rto = archive
        .test_cases
        .iter()
        .find(|c| c.name.as_str() == "RTO")
        .unwrap();
    match &rto.status {
        quick_junit::TestCaseStatus::NonSuccess {
            message,
            description,
            ..
        } => {
            assert!(
                message
                    .as_ref()
                    .unwrap()
                    .as_str()
                    .contains("exceeds the objective")
            );
            assert!(
                description
                    .as_ref()
                    .unwrap()
                    .as_str()
                    .contains("rto.missed")
            );
        }
        other => panic!("RTO should fail: {other:?}"),
    }
}

#[test]
fn html_is_self_contained_with_one_bar_per_timed_stage() {
    let r = fixture::report();
    let page = render(|o| html::write(&r, &evidence(), o));
    let timed: usize = r
        .targets
        .iter()
        .map(|t| t.stages.iter().filter(|s| s.timing.is_some()).count())
        .sum();
    assert_eq!(page.matches("class=\"stage-bar ").count(), timed);
    assert_eq!(page.matches("class=\"fault-mark\"").count(), 2);
    assert_eq!(page.matches("class=\"rto-span\"").count(), 2);
    for external in ["<script", "src=\"http", "href=\"http", "@import", "url("] {
        assert!(
            !page.contains(external),
            "page must be self-contained: {external}"
        );
    }
    assert!(page.contains("@media print"));
    assert!(page.contains("id=\"control-SOC2-A1.3\""));
    assert!(page.contains("REQ-DELETE-0003"));
    assert!(page.contains(&r.scenario.sha256));
}

#[test]
fn markdown_escapes_table_cells() {
    let mut r = fixture::report();
    r.targets[0].stages[0].detail = "a | b".into();
    let md = render(|o| markdown::write(&r, &[], o));
    assert!(md.contains("a \\| b"));
}

#[test]
fn html_escapes_report_text() {
    let mut r = fixture::report();
    r.targets[0].stages[0].detail = "<img src=x onerror=alert(1)>".into();
    r.targets[0].name = "<b>".into();
    let page = render(|o| html::write(&r, &[], o));
    assert!(!page.contains("<img src=x"));
    assert!(!page.contains("<b>"));
}

#[test]
fn every_format_renders_into_a_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let r = fixture::report();
    std::fs::write(dir.path().join("ledger.jsonl"), "{}\n").unwrap();
    let all = [
        artifacts::Format::Json,
        artifacts::Format::Junit,
        artifacts::Format::Markdown,
        artifacts::Format::Html,
    ];
    artifacts::write_formats(dir.path(), &r, &all).unwrap();
    let files = artifacts::list_files(dir.path()).unwrap();
    assert_eq!(
        files,
        [
            "junit.xml",
            "ledger.jsonl",
            "report.html",
            "report.json",
            "report.md"
        ]
    );
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("ledger.jsonl"));
    assert!(html.contains("manifest.json"));
}

#[test]
fn regression_warning_when_rto_grows_past_the_threshold() {
    use crate::history::{HistoryEntry, regressions_in};
    let r = fixture::report();
    let mut past = HistoryEntry::from_report(&r);
    past.targets[0].rto_ms = Some(2_000);
    let history = vec![past.clone(), past.clone(), past];
    // orders: 3.9s against a median of 2.0s: +95% > 50%.
    let found = regressions_in(&history, "orders-drill", &r.targets, 0.5, 5);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].code, "rto.regression");
    assert!(found[0].message.contains("orders"));
    // A 100% threshold lets it pass; another scenario's runs do not count.
    assert!(regressions_in(&history, "orders-drill", &r.targets, 1.0, 5).is_empty());
    assert!(regressions_in(&history, "other", &r.targets, 0.5, 5).is_empty());
}

#[test]
fn regressions_read_the_history_file() {
    use crate::history::{HistoryEntry, append, read, regressions};
    let dir = tempfile::tempdir().unwrap();
    let r = fixture::report();
    assert!(regressions(dir.path(), "orders-drill", &r.targets, 0.5, 5).is_empty());
    for rto in [1_000, 1_100, 900] {
        let mut e = HistoryEntry::from_report(&r);
        e.targets[0].rto_ms = Some(rto);
        append(dir.path(), &e).unwrap();
    }
    // A torn last line (crash mid-write) is skipped, not fatal.
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join(crate::history::FILE))
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"scenario\":"))
        .unwrap();
    assert_eq!(read(dir.path()).unwrap().len(), 3);
    let found = regressions(dir.path(), "orders-drill", &r.targets, 0.5, 5);
    assert_eq!(found.len(), 1);
    assert!(
        found[0]
            .message
            .contains("median 1.0s of the last 3 run(s)"),
        "{}",
        found[0].message
    );
}
