//! Whole S3 drills against `LocalStack`.

use crate::support::{Workspace, drop_bucket, emulator_environment, s3, seed_bucket, unique};

fn scenario(name: &str, bucket: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\n{}\n[objectives]\nrto = \"2m\"\nrpo = \"30s\"\n\n[[targets]]\nname = \"data\"\nkind = \"s3-bucket\"\nbucket = \"{bucket}\"\n{extra}",
        emulator_environment()
    )
}

#[tokio::test]
async fn s3_drill_passes_and_leaves_nothing_behind() {
    let s3 = s3().await;
    let bucket = unique("fd-src");
    let seeded = seed_bucket(&s3, &bucket, 12).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "s3-pass",
        &scenario(
            "s3-pass",
            &bucket,
            "[targets.canary]\ninterval = \"200ms\"\n[targets.fault]\naction = \"delete-share\"\nshare = 0.5\n",
        ),
    );
    ws.firedrill()
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(0);
    let report = ws.report("s3-pass");
    assert_eq!(report["verdict"], "passed");
    assert_eq!(report["schema_version"], 1);
    let t = &report["targets"][0];
    assert_eq!(t["rto"]["met"], true);
    assert!(t["rpo"]["value_ms"].as_u64().unwrap() < 30_000);
    let run_id = report["run_id"].as_str().unwrap();
    assert!(
        crate::support::buckets_containing(&s3, run_id)
            .await
            .is_empty(),
        "scratch buckets left behind"
    );
    assert_eq!(report["cleanup"]["complete"], true);
    let revert = t["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "revert")
        .expect("revert stage");
    assert_eq!(revert["outcome"], "passed", "{revert:#}");
    let mut after = crate::support::keys(&s3, &bucket).await;
    after.sort();
    assert_eq!(
        after, seeded,
        "the fault was reverted and the canaries removed"
    );
    drop_bucket(&s3, &bucket).await;
}

#[tokio::test]
async fn unrecoverable_fault_fails_and_names_the_lost_objects() {
    let s3 = s3().await;
    let bucket = unique("fd-lost");
    let keys = seed_bucket(&s3, &bucket, 8).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "s3-lost",
        &scenario(
            "s3-lost",
            &bucket,
            "[targets.backup]\nmethod = \"none\"\n[targets.canary]\ninterval = \"100ms\"\n[targets.fault]\naction = \"delete-all\"\naccept_data_loss = true\n",
        ),
    );
    let ran = ws.firedrill().args(["run", "--yes"]).arg(&file).run();
    ran.code(1);
    let report = ws.report("s3-lost");
    assert_eq!(report["verdict"], "failed");
    let findings = report["targets"][0]["findings"].as_array().unwrap();
    let lost = findings
        .iter()
        .find(|f| f["code"] == "s3.objects-lost")
        .unwrap_or_else(|| panic!("no lost-objects finding in {findings:#?}"));
    let message = lost["message"].as_str().unwrap();
    assert!(message.starts_with("8 object(s) lost"), "{message}");
    for k in &keys {
        assert!(message.contains(k.as_str()), "{k} not named in {message}");
    }
    assert!(
        ran.stdout.contains("s3.objects-lost"),
        "terminal summary lists the finding:\n{}",
        ran.stdout
    );
    assert!(
        report["targets"][0]["rto"].is_null(),
        "no RTO when nothing was recovered"
    );
    let run_id = report["run_id"].as_str().unwrap();
    assert!(
        crate::support::buckets_containing(&s3, run_id)
            .await
            .is_empty()
    );
    drop_bucket(&s3, &bucket).await;
}

#[tokio::test]
async fn rpo_objective_shorter_than_canary_interval_is_missed() {
    let s3 = s3().await;
    let bucket = unique("fd-rpo");
    seed_bucket(&s3, &bucket, 4).await;
    let ws = Workspace::new();
    let text = scenario(
        "s3-rpo",
        &bucket,
        "[targets.canary]\ninterval = \"1s\"\nwrites_after_backup = 1\n[targets.fault]\naction = \"delete-share\"\nshare = 1.0\n",
    )
    .replace("rpo = \"30s\"", "rpo = \"500ms\"");
    let file = ws.scenario("s3-rpo", &text);
    let ran = ws.firedrill().args(["run", "--yes"]).arg(&file).run();
    ran.code(1);
    let report = ws.report("s3-rpo");
    let t = &report["targets"][0];
    assert_eq!(t["rpo"]["met"], false, "{t:#}");
    assert!(t["rpo"]["value_ms"].as_u64().unwrap() >= 900, "{t:#}");
    assert_eq!(t["rpo"]["method"], "canary");
    assert_eq!(t["rto"]["met"], true, "the restore itself worked");
    // The one write made after the backup is lost; a write still in flight
    // while the backup listed the bucket may be lost too (on a loaded
    // machine it often is), so the count is 1 or 2, never 0.
    let lost = t["canary"]["lost_writes"].as_u64().unwrap();
    assert!((1..=2).contains(&lost), "{t:#}");
    assert!(
        t["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "rpo.missed")
    );
    assert!(ran.stdout.contains("MISSED"), "{}", ran.stdout);
    drop_bucket(&s3, &bucket).await;
}

#[tokio::test]
async fn killed_run_is_reaped_and_source_untouched() {
    let s3 = s3().await;
    let bucket = unique("fd-kill");
    let keys = seed_bucket(&s3, &bucket, 6).await;
    let ws = Workspace::new();
    // Slow canaries keep the run between backup and fault long enough to kill it.
    let file = ws.scenario(
        "s3-kill",
        &scenario(
            "s3-kill",
            &bucket,
            "[targets.canary]\ninterval = \"3s\"\nwrites_after_backup = 5\n[targets.fault]\naction = \"delete-all\"\naccept_data_loss = true\n",
        ),
    );
    let mut child = ws.firedrill().args(["run", "--yes"]).arg(&file).spawn();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let ledger = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the scratch bucket never appeared in the ledger"
        );
        let dir = ws.reports().join("s3-kill");
        let found = std::fs::read_dir(&dir)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(Result::ok)
            .map(|e| e.path().join("ledger.jsonl"))
            .filter(|p| created_matching(p, "-backup"));
        if let Some(p) = found {
            break p;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let run_dir = ledger.parent().unwrap();
    let run_id = run_dir.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        !crate::support::buckets_containing(&s3, &run_id)
            .await
            .is_empty(),
        "scratch bucket exists before reap"
    );

    let ran = ws.firedrill().arg("reap").run();
    ran.code(0);
    assert!(ran.stdout.contains("removed bucket"), "{}", ran.stdout);
    assert!(
        crate::support::buckets_containing(&s3, &run_id)
            .await
            .is_empty(),
        "scratch buckets survived reap"
    );
    let mut left = crate::support::keys(&s3, &bucket).await;
    left.sort();
    assert_eq!(
        left, keys,
        "source bucket must hold exactly its own objects (canaries reaped)"
    );
    let ledger_text = std::fs::read_to_string(&ledger).unwrap();
    assert!(ledger_text.contains("\"by\":\"reap\""), "{ledger_text}");
    assert!(
        ledger_text.contains("\"record\":\"finished\""),
        "{ledger_text}"
    );

    // A second reap finds nothing to do.
    let again = ws.firedrill().arg("reap").run();
    again.code(0);
    assert!(
        again
            .stdout
            .contains("removed 0 resource(s), 0 already gone, 0 failed"),
        "{}",
        again.stdout
    );
    drop_bucket(&s3, &bucket).await;
}

#[test]
fn unreachable_endpoint_is_an_environment_error() {
    let ws = Workspace::new();
    let text = "name = \"down\"\n[environment]\nregion = \"us-east-1\"\nendpoint_url = \"http://127.0.0.1:9\"\n[objectives]\nrto = \"1m\"\nrpo = \"1m\"\n[[targets]]\nname = \"data\"\nkind = \"s3-bucket\"\nbucket = \"nowhere\"\n";
    let file = ws.scenario("down", text);
    let started = std::time::Instant::now();
    let ran = ws.firedrill().args(["run", "--yes"]).arg(&file).run();
    ran.code(3);
    assert!(
        started.elapsed() < std::time::Duration::from_mins(1),
        "took {:?}",
        started.elapsed()
    );
    assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
    assert!(ran.stdout.contains("connection refused"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("s3 at http://127.0.0.1:9"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("is the endpoint running"),
        "{}",
        ran.stdout
    );
    let report = ws.report("down");
    assert_eq!(report["verdict"], "error");
    assert_eq!(
        report["cleanup"]["created"], 0,
        "nothing may be created after a failed preflight"
    );
    assert_eq!(report["targets"][0]["stages"].as_array().unwrap().len(), 1);
}

/// Whether the ledger has a `created` record for a resource whose id contains `needle`.
fn created_matching(ledger: &std::path::Path, needle: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(ledger) else {
        return false;
    };
    let records: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    records.iter().any(|intent| {
        intent["record"] == "intent"
            && intent["resource"]["id"]
                .as_str()
                .is_some_and(|id| id.contains(needle))
            && records
                .iter()
                .any(|c| c["record"] == "created" && c["id"] == intent["id"])
    })
}
