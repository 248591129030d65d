//! Drills through a fault-injecting proxy in front of `LocalStack`: 503
//! `SlowDown`, 500 `InternalError`, slow responses and reset connections.
//! The drill passes or fails with a clear finding, and no scratch bucket is
//! left behind either way.

use std::time::{Duration, Instant};

use crate::chaos_proxy::{FaultPlan, Proxy, Stats};
use crate::signals::{environment_via, s3_scenario};
use crate::support::{
    Workspace, buckets_containing, drop_bucket, emulator_environment, keys, s3, s3_endpoint,
    seed_bucket, unique,
};

/// Make sure nothing of `run_id` survives: reap through the real endpoint
/// when the run could not clean up through the proxy.
async fn assert_nothing_left(ws: &Workspace, s3: &aws_sdk_s3::Client, bucket: &str, run_id: &str) {
    if !buckets_containing(s3, run_id).await.is_empty() {
        let direct = ws.scenario(
            "direct",
            &s3_scenario("direct", &emulator_environment(), bucket, ""),
        );
        ws.firedrill()
            .args(["reap", "--scenario"])
            .arg(&direct)
            .run()
            .code(0);
    }
    assert!(
        buckets_containing(s3, run_id).await.is_empty(),
        "scratch buckets of {run_id} remain"
    );
    assert!(
        keys(s3, bucket)
            .await
            .iter()
            .all(|k| !k.contains(".firedrill/canary/")),
        "canaries remain in {bucket}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_survives_throttling_errors_slow_responses_and_resets() {
    let s3 = s3().await;
    let bucket = unique("fd-chaos");
    seed_bucket(&s3, &bucket, 20).await;
    // One request in 12 each: SlowDown, InternalError, 800 ms late, reset.
    let plan = FaultPlan {
        cycle: 12,
        throttle: &[2],
        internal_error: &[5],
        delay: &[8],
        reset: &[11],
        delay_by: Duration::from_millis(800),
        latency: Duration::ZERO,
    };
    let proxy = Proxy::start(&s3_endpoint(), plan).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "chaos",
        &s3_scenario(
            "chaos",
            &environment_via(&proxy.url),
            &bucket,
            "[targets.canary]\ninterval = \"200ms\"\n[targets.fault]\naction = \"delete-share\"\nshare = 0.5\n",
        ),
    );
    let started = Instant::now();
    let ran = ws.firedrill().args(["run", "--yes"]).arg(&file).run();
    let took = started.elapsed();
    let stats = &proxy.stats;
    println!("chaos proxy: {} in {took:?}", stats.summary());
    for (what, n) in [
        ("SlowDown", &stats.throttled),
        ("InternalError", &stats.internal_error),
        ("delayed", &stats.delayed),
        ("reset", &stats.resets),
    ] {
        assert!(Stats::get(n) > 0, "no {what} injected: {}", stats.summary());
    }
    let report = ws.report("chaos");
    let run_id = report["run_id"].as_str().unwrap().to_string();
    match ran.code {
        0 => {
            assert_eq!(report["verdict"], "passed");
            assert_eq!(report["cleanup"]["complete"], true);
            let t = &report["targets"][0];
            assert_eq!(t["rto"]["met"], true, "{t:#}");
        }
        1 | 3 | 4 => {
            // A failure must say what went wrong.
            let mut findings: Vec<serde_json::Value> =
                report["findings"].as_array().unwrap().clone();
            findings.extend(report["targets"][0]["findings"].as_array().unwrap().clone());
            assert!(
                findings
                    .iter()
                    .any(|f| f["severity"] == "error" && !f["message"].as_str().unwrap().is_empty()),
                "failed without an error finding: {report:#}"
            );
            assert!(
                ran.stdout.contains("FAILED")
                    || ran.stdout.contains("ERROR")
                    || ran.stdout.contains("error"),
                "{}",
                ran.stdout
            );
        }
        other => panic!("unexpected exit {other}\n{}\n{}", ran.stdout, ran.stderr),
    }
    assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
    assert_nothing_left(&ws, &s3, &bucket, &run_id).await;
    drop(proxy);
    drop_bucket(&s3, &bucket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_throttling_fails_preflight_with_the_error_code_and_creates_nothing() {
    let s3 = s3().await;
    let bucket = unique("fd-throttle");
    seed_bucket(&s3, &bucket, 2).await;
    let plan = FaultPlan {
        cycle: 1,
        throttle: &[0],
        ..FaultPlan::pass_through()
    };
    let proxy = Proxy::start(&s3_endpoint(), plan).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "throttled",
        &s3_scenario("throttled", &environment_via(&proxy.url), &bucket, ""),
    );
    let started = Instant::now();
    let ran = ws.firedrill().args(["run", "--yes"]).arg(&file).run();
    let took = started.elapsed();
    println!(
        "endless throttling: exit {} in {took:?}; {}",
        ran.code,
        proxy.stats.summary()
    );
    ran.code(3);
    // Retried up to the call deadline (1 min), then given up: no retry
    // starts after it, so the run ends soon after.
    assert!(took < Duration::from_secs(75), "took {took:?}");
    let report = ws.report("throttled");
    assert_eq!(report["verdict"], "error");
    assert_eq!(report["cleanup"]["created"], 0);
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["code"] == "preflight.environment" || f["code"] == "preflight.failed"),
        "{findings:#?}"
    );
    let text = serde_json::to_string(findings).unwrap();
    // HeadBucket's 503 has no body, so the code cannot be read from it; the
    // message still says what a bare 503 from S3 means.
    assert!(
        text.contains("HTTP 503") && text.contains("throttling (SlowDown)"),
        "the throttling is named: {text}"
    );
    assert!(
        Stats::get(&proxy.stats.throttled) >= 5,
        "retried many times, not given up after a few: {}",
        proxy.stats.summary()
    );
    assert_eq!(
        report["api_calls"]["s3"]["throttled"],
        Stats::get(&proxy.stats.throttled)
    );
    let run_id = report["run_id"].as_str().unwrap().to_string();
    assert!(buckets_containing(&s3, &run_id).await.is_empty());
    drop(proxy);
    drop_bucket(&s3, &bucket).await;
}
