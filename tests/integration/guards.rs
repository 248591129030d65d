//! Blast-radius guards and `firedrill plan`: refusals happen before any API
//! call, real AWS (unreachable here) fails as an environment error with
//! nothing created, emulators are exempt and the report says so, and `plan`
//! never touches the network.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::{
    Workspace, buckets_containing, drop_bucket, emulator_environment, s3, seed_bucket, unique,
};

/// A listener that counts every connection made to it: pointing the SDK's
/// default endpoint (`AWS_ENDPOINT_URL`) here proves no API call was made.
struct Tripwire {
    url: String,
    hits: Arc<AtomicUsize>,
}

impl Tripwire {
    fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(conn);
            }
        });
        Self { url, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A scenario for real AWS (no endpoint) with a destructive fault.
fn real_aws(name: &str) -> String {
    format!(
        "name = \"{name}\"\n[environment]\nregion = \"us-east-1\"\nallowed_accounts = [\"123456789012\"]\n[objectives]\nrto = \"1m\"\nrpo = \"1m\"\n[[targets]]\nname = \"orders\"\nkind = \"s3-bucket\"\nbucket = \"prod-orders-bucket\"\n[targets.fault]\naction = \"delete-share\"\nshare = 0.5\n"
    )
}

#[test]
fn destructive_fault_on_real_aws_is_refused_before_any_api_call() {
    let ws = Workspace::new();
    let file = ws.scenario("guard-refused", &real_aws("guard-refused"));
    let wire = Tripwire::new();
    let started = Instant::now();
    let ran = ws
        .firedrill()
        .env("AWS_ENDPOINT_URL", &wire.url)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["run", "--yes"])
        .arg(&file)
        .run();
    ran.code(3);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "refusal took {:?}",
        started.elapsed()
    );
    assert_eq!(wire.hits(), 0, "an API call was made before the refusal");
    let all = format!("{}\n{}", ran.stdout, ran.stderr);
    for needle in [
        "guard.refused",
        "`--allow-destructive`",
        "firedrill:allow-faults=true",
        "allowed_accounts",
        "delete-share",
    ] {
        assert!(all.contains(needle), "`{needle}` not named:\n{all}");
    }
    let report = ws.report("guard-refused");
    assert_eq!(report["verdict"], "error");
    assert_eq!(report["exit_code"], 3);
    assert_eq!(report["cleanup"]["created"], 0);
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["code"] == "guard.refused"
            && f["message"]
                .as_str()
                .unwrap()
                .contains("--allow-destructive")),
        "{findings:#?}"
    );
    let ledger = std::fs::read_to_string(ws.run_dir("guard-refused").join("ledger.jsonl"))
        .unwrap_or_default();
    assert!(
        !ledger.contains("\"record\":\"intent\""),
        "nothing may be intended: {ledger}"
    );
}

#[test]
fn allowed_destructive_run_without_network_is_an_environment_error() {
    // `--allow-destructive` passes the network-free guard; real AWS cannot be
    // reached from here, so preflight fails and nothing is created.
    let ws = Workspace::new();
    let file = ws.scenario("guard-offline", &real_aws("guard-offline"));
    let started = Instant::now();
    let ran = ws
        .firedrill()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["run", "--yes", "--allow-destructive"])
        .arg(&file)
        .run();
    ran.code(3);
    // A host name that does not resolve is final, not retried for a minute.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
    let report = ws.report("guard-offline");
    assert_eq!(report["verdict"], "error");
    assert_eq!(report["cleanup"]["created"], 0, "nothing may be created");
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["code"] == "preflight.environment"
            && f["message"].as_str().unwrap().contains("the AWS default")),
        "{findings:#?}"
    );
    let stages = report["targets"][0]["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 1, "only preflight ran: {stages:#?}");
}

#[tokio::test]
async fn emulator_endpoints_are_exempt_and_the_report_says_so() {
    let s3 = s3().await;
    let bucket = unique("fd-guard");
    seed_bucket(&s3, &bucket, 4).await;
    let ws = Workspace::new();
    let text = format!(
        "name = \"guard-emu\"\n{}\n[objectives]\nrto = \"2m\"\nrpo = \"30s\"\n[[targets]]\nname = \"data\"\nkind = \"s3-bucket\"\nbucket = \"{bucket}\"\n[targets.canary]\ninterval = \"100ms\"\n[targets.fault]\naction = \"delete-all\"\n",
        emulator_environment()
    );
    let file = ws.scenario("guard-emu", &text);
    // No --allow-destructive, no tag, no allow list: loopback is exempt.
    ws.firedrill()
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(0);
    let report = ws.report("guard-emu");
    let notes: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "guard.note")
        .collect();
    assert_eq!(notes.len(), 1, "{:#?}", report["findings"]);
    let note = notes[0]["message"].as_str().unwrap();
    assert!(
        note.contains("emulator on loopback") && note.contains("guards do not apply"),
        "{note}"
    );
    assert!(report["environment"]["account_id"].is_null());
    let run_id = report["run_id"].as_str().unwrap();
    assert!(buckets_containing(&s3, run_id).await.is_empty());
    drop_bucket(&s3, &bucket).await;
}

fn assert_plan_lists_everything(out: &str, guard: &str) {
    for needle in [
        "target orders (s3-bucket) s3://prod-orders-bucket",
        "s3:HeadBucket, s3:GetBucketTagging",
        "s3:PutObject (canaries)",
        "s3:ListObjectsV2, s3:GetObject (SHA-256 manifest)",
        "s3:CreateBucket, s3:PutBucketTagging, s3:CopyObject",
        "s3:DeleteObjects",
        "s3:ListObjectVersions, s3:DeleteObjects, s3:DeleteBucket",
        "-backup",
        "-restore",
        "[scratch,",
        guard,
        "estimated scratch usage",
    ] {
        assert!(out.contains(needle), "plan lacks `{needle}`:\n{out}");
    }
}

#[test]
fn plan_calls_no_api_and_lists_resources_calls_and_guards() {
    let ws = Workspace::new();
    // A closed port: any API call would fail (or hang in retries).
    let closed = real_aws("plan-closed").replace(
        "region = \"us-east-1\"",
        "region = \"us-east-1\"\nendpoint_url = \"http://127.0.0.1:9\"",
    );
    let file = ws.scenario("plan-closed", &closed);
    let started = Instant::now();
    let ran = ws.firedrill().arg("plan").arg(&file).run();
    ran.code(0);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "plan took {:?}",
        started.elapsed()
    );
    assert_plan_lists_everything(
        &format!("{}{}", ran.stdout, ran.stderr),
        "hits an emulator on loopback: guards exempt",
    );

    // Real AWS, with the SDK's default endpoint on a tripwire: no connection.
    let wire = Tripwire::new();
    let file = ws.scenario("plan-real", &real_aws("plan-real"));
    let ran = ws
        .firedrill()
        .env("AWS_ENDPOINT_URL", &wire.url)
        .arg("plan")
        .arg(&file)
        .run();
    ran.code(0);
    assert_plan_lists_everything(
        &format!("{}{}", ran.stdout, ran.stderr),
        "needs tag firedrill:allow-faults=true, the account in allowed_accounts, and --allow-destructive",
    );
    let json = ws
        .firedrill()
        .env("AWS_ENDPOINT_URL", &wire.url)
        .args(["plan", "--json"])
        .arg(&file)
        .run();
    json.code(0);
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let actions = plan["targets"][0]["actions"].as_array().unwrap();
    assert!(actions.len() >= 6, "{actions:#?}");
    assert!(
        actions
            .iter()
            .all(|a| !a["api_call"].as_str().unwrap().is_empty())
    );
    assert_eq!(wire.hits(), 0, "plan made a network call");
    assert!(
        !ws.reports().exists(),
        "plan must not create a run directory"
    );
}
