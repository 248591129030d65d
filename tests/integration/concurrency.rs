//! `max_concurrency` bounds how many targets are drilled at once, from the
//! scenario or `--max-concurrency`, and targets under the limit overlap.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::{Workspace, drop_bucket, emulator_environment, s3, seed_bucket, unique};

const TARGETS: usize = 6;

fn scenario(name: &str, buckets: &[String], max_concurrency: usize) -> String {
    let mut text = format!(
        "name = \"{name}\"\n{}\n[objectives]\nrto = \"2m\"\nrpo = \"30s\"\n[run]\nmax_concurrency = {max_concurrency}\n",
        emulator_environment()
    );
    for (i, b) in buckets.iter().enumerate() {
        // Each target spends at least one canary interval between backup
        // and fault, so targets drilled together visibly overlap.
        text.push_str(&format!(
            "\n[[targets]]\nname = \"t{i}\"\nkind = \"s3-bucket\"\nbucket = \"{b}\"\n[targets.canary]\ninterval = \"400ms\"\n[targets.fault]\naction = \"delete-share\"\nshare = 0.5\n"
        ));
    }
    text
}

/// Each target's drill span (first stage after preflight to its last stage).
fn spans(report: &serde_json::Value) -> Vec<(OffsetDateTime, OffsetDateTime)> {
    let parse =
        |v: &serde_json::Value| OffsetDateTime::parse(v.as_str().unwrap(), &Rfc3339).unwrap();
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let timed: Vec<&serde_json::Value> = t["stages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["stage"] != "preflight" && !s["timing"].is_null())
                .collect();
            let start = timed
                .iter()
                .map(|s| parse(&s["timing"]["started_at"]))
                .min();
            let end = timed
                .iter()
                .map(|s| parse(&s["timing"]["finished_at"]))
                .max();
            (start.unwrap(), end.unwrap())
        })
        .collect()
}

/// Most spans open at one moment (half-open intervals).
fn peak_overlap(spans: &[(OffsetDateTime, OffsetDateTime)]) -> usize {
    let mut edges: Vec<(OffsetDateTime, i32)> = spans
        .iter()
        .flat_map(|(s, e)| [(*s, 1), (*e, -1)])
        .collect();
    // At equal times an end comes before a start.
    edges.sort();
    let (mut now, mut peak) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        peak = peak.max(now);
    }
    peak as usize
}

#[tokio::test]
async fn max_concurrency_bounds_targets_in_flight_and_the_cli_overrides_it() {
    let s3 = s3().await;
    let mut buckets = Vec::new();
    for _ in 0..TARGETS {
        let b = unique("fd-conc");
        seed_bucket(&s3, &b, 3).await;
        buckets.push(b);
    }
    let ws = Workspace::new();

    let file = ws.scenario("conc-two", &scenario("conc-two", &buckets, 2));
    ws.firedrill()
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(0);
    let report = ws.report("conc-two");
    let peak = peak_overlap(&spans(&report));
    assert_eq!(peak, 2, "max_concurrency = 2 in the scenario");

    let file = ws.scenario("conc-cli", &scenario("conc-cli", &buckets, 2));
    ws.firedrill()
        .args(["run", "--yes", "--max-concurrency", "6"])
        .arg(&file)
        .run()
        .code(0);
    let report = ws.report("conc-cli");
    let peak = peak_overlap(&spans(&report));
    assert_eq!(
        peak, TARGETS,
        "--max-concurrency 6 drills every target at once"
    );
    assert_eq!(report["cleanup"]["complete"], true);

    for b in &buckets {
        drop_bucket(&s3, b).await;
    }
}
