//! `[[notify]]` through the real CLI: a drill against `LocalStack` tells a
//! local webhook receiver that checks the HMAC, retries through server
//! errors, sends Slack's format, and an undeliverable notification is a
//! warning that leaves the drill's own verdict and exit code alone.

use crate::hook_server::{HookServer, expected_signature};
use crate::support::{Workspace, drop_bucket, emulator_environment, s3, seed_bucket, unique};

fn scenario(name: &str, bucket: &str, rto: &str, notify: &str) -> String {
    format!(
        "name = \"{name}\"\nowner = \"dr-team\"\n{}\n[objectives]\nrto = \"{rto}\"\nrpo = \"30s\"\n\n[[targets]]\nname = \"data\"\nkind = \"s3-bucket\"\nbucket = \"{bucket}\"\n\n{notify}",
        emulator_environment()
    )
}

fn findings(report: &serde_json::Value, code: &str) -> Vec<serde_json::Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code)
        .cloned()
        .collect()
}

#[tokio::test]
async fn webhook_is_signed_retried_through_server_errors_and_slack_gets_its_format() {
    let s3 = s3().await;
    let bucket = unique("fd-hook");
    seed_bucket(&s3, &bucket, 4).await;
    let secret = "hook-secret-for-tests";
    // 500, 503, then 200: delivered on the third attempt.
    let hook = HookServer::start(Some(secret), &[500, 503]);
    // Checks the HMAC with the right secret; firedrill signs with another.
    let wrong = HookServer::start(Some(secret), &[]);
    let slack = HookServer::start(None, &[]);
    let notify = format!(
        "[[notify]]\nkind = \"webhook\"\nurl = \"{}/drills\"\nsecret_env = \"FD_TEST_HOOK_SECRET\"\non = [\"always\"]\nbackoff = \"100ms\"\n\n[[notify]]\nkind = \"webhook\"\nurl = \"{}/drills\"\nsecret_env = \"FD_TEST_WRONG_SECRET\"\non = [\"success\"]\nbackoff = \"100ms\"\n\n[[notify]]\nkind = \"slack\"\nurl_env = \"FD_TEST_SLACK_URL\"\non = [\"success\"]\nreport_base_url = \"https://drills.example.com/reports\"\n\n[[notify]]\nkind = \"webhook\"\nurl = \"{}/never\"\non = [\"failure\", \"regression\"]\n",
        hook.url, wrong.url, slack.url
    );
    let ws = Workspace::new();
    let name = "notify-pass";
    let file = ws.scenario(name, &scenario(name, &bucket, "2m", &notify));
    let ran = ws
        .firedrill()
        .args(["run", "--yes", "--quiet", "--format", "html"])
        .arg(&file)
        .env("FD_TEST_HOOK_SECRET", secret)
        .env("FD_TEST_WRONG_SECRET", "not-the-secret")
        .env(
            "FD_TEST_SLACK_URL",
            format!("{}/services/T0/B0/x", slack.url),
        )
        .run();
    ran.code(0);

    let got = hook.received();
    assert_eq!(
        got.iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 503, 200],
        "two server errors, then delivered"
    );
    for r in &got {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/drills"));
        assert_eq!(
            r.headers["x-firedrill-signature"],
            expected_signature(secret, &r.body)
        );
        assert_eq!(r.headers["content-type"], "application/json");
    }
    let body = got[2].json();
    let report = ws.report(name);
    assert_eq!(body["scenario"]["name"], name);
    assert_eq!(body["scenario"]["owner"], "dr-team");
    assert_eq!(body["run_id"], report["run_id"]);
    assert_eq!(body["verdict"], "passed");
    assert_eq!(body["exit_code"], 0);
    assert_eq!(body["regression"], false);
    assert_eq!(body["objectives"][0]["target"], "data");
    assert_eq!(body["objectives"][0]["rto_objective_ms"], 120_000);
    assert!(
        body["objectives"][0]["rto"]["value_ms"].is_u64(),
        "{body:#}"
    );
    assert!(body["findings"].is_array());
    let json_link = body["reports"]["json"].as_str().unwrap();
    assert!(std::path::Path::new(json_link).is_file(), "{json_link}");
    assert!(
        body["reports"]["html"]
            .as_str()
            .unwrap()
            .ends_with("report.html")
    );

    // The wrong secret: 401 from the receiver, not retried, a warning.
    let rejected = wrong.received();
    assert_eq!(rejected.len(), 1, "a 4xx answer is final");
    assert_eq!(rejected[0].status, 401);

    let msg = slack.received();
    assert_eq!(msg.len(), 1);
    assert_eq!(msg[0].path, "/services/T0/B0/x");
    assert!(!msg[0].headers.contains_key("x-firedrill-signature"));
    let m = msg[0].json();
    assert!(
        m["text"]
            .as_str()
            .unwrap()
            .contains(&format!("{name} PASSED")),
        "{m:#}"
    );
    let blocks = serde_json::to_string(&m["blocks"]).unwrap();
    assert!(
        blocks.contains(&format!(
            "<https://drills.example.com/reports/{name}/{}/report.html|html>",
            report["run_id"].as_str().unwrap()
        )),
        "{blocks}"
    );

    // What happened is in the report; the verdict is untouched.
    assert_eq!(report["verdict"], "passed");
    assert_eq!(report["exit_code"], 0);
    let sent = findings(&report, "notify.sent");
    assert_eq!(sent.len(), 2, "{:#}", report["findings"]);
    assert!(
        sent.iter()
            .any(|f| f["message"].as_str().unwrap().contains("3 attempt(s)"))
    );
    let warned = findings(&report, "notify.undeliverable");
    assert_eq!(warned.len(), 1, "{:#}", report["findings"]);
    assert_eq!(warned[0]["severity"], "warning");
    assert!(warned[0]["message"].as_str().unwrap().contains("HTTP 401"));
    // The HTML report was rewritten with the findings too.
    let html = std::fs::read_to_string(ws.run_dir(name).join("report.html")).unwrap();
    assert!(html.contains("notify.undeliverable"));
    // The secret never lands in the report.
    let text = std::fs::read_to_string(ws.run_dir(name).join("report.json")).unwrap();
    assert!(!text.contains(secret) && !text.contains("/services/T0/B0/x"));
    drop_bucket(&s3, &bucket).await;
}

#[tokio::test]
async fn unreachable_webhook_is_a_warning_and_the_drill_keeps_its_own_exit_code() {
    let s3 = s3().await;
    let bucket = unique("fd-hook-down");
    seed_bucket(&s3, &bucket, 4).await;
    // Port 1 (tcpmux): nothing listens there, and unlike a port bound
    // and dropped it is never handed to a concurrent test's server.
    let port = 1;
    let notify = format!(
        "[[notify]]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\non = [\"failure\"]\nattempts = 3\nbackoff = \"50ms\"\ndeadline = \"10s\"\n\n[[notify]]\nkind = \"slack\"\nurl_env = \"FD_TEST_UNSET_SLACK_URL\"\non = [\"always\"]\n"
    );
    let ws = Workspace::new();
    let name = "notify-down";
    // An RTO objective no restore meets: the drill fails with exit code 1.
    let file = ws.scenario(name, &scenario(name, &bucket, "1ms", &notify));
    let started = std::time::Instant::now();
    let ran = ws
        .firedrill()
        .args(["run", "--yes", "--quiet"])
        .arg(&file)
        .env_remove("FD_TEST_UNSET_SLACK_URL")
        .run();
    ran.code(1);
    assert!(started.elapsed() < std::time::Duration::from_mins(1));
    assert!(
        ran.stderr
            .contains("firedrill: warning: webhook notification"),
        "{}",
        ran.stderr
    );
    let report = ws.report(name);
    assert_eq!(report["verdict"], "failed");
    assert_eq!(report["exit_code"], 1);
    let warned = findings(&report, "notify.undeliverable");
    assert_eq!(warned.len(), 2, "{:#}", report["findings"]);
    let webhook = warned
        .iter()
        .find(|f| f["message"].as_str().unwrap().starts_with("webhook"))
        .unwrap();
    let msg = webhook["message"].as_str().unwrap();
    assert!(
        msg.contains("after 3 attempt(s)") && msg.contains("verdict is unchanged"),
        "{msg}"
    );
    assert!(!msg.contains("/hook"), "the URL path is not shown: {msg}");
    assert!(warned.iter().any(|f| {
        f["message"]
            .as_str()
            .unwrap()
            .contains("FD_TEST_UNSET_SLACK_URL")
    }));
    assert!(warned.iter().all(|f| f["severity"] == "warning"));
    drop_bucket(&s3, &bucket).await;
}

/// `on = ["regression"]`: silent on the first run (nothing to compare),
/// sent when a later run misses an objective the previous run met.
#[tokio::test]
async fn regression_is_notified_only_when_objectives_get_worse_than_the_previous_run() {
    let s3 = s3().await;
    let bucket = unique("fd-hook-regr");
    seed_bucket(&s3, &bucket, 4).await;
    let hook = HookServer::start(None, &[]);
    // Objectives only: a timing jitter on a loaded machine (RTO 0.2 s, then
    // 0.5 s) must not count as an RTO trend regression here.
    let notify = format!(
        "[run]\nregression_threshold = 100.0\n\n[[notify]]\nkind = \"webhook\"\nurl = \"{}/regressions\"\non = [\"regression\"]\n",
        hook.url
    );
    let ws = Workspace::new();
    let name = "notify-regression";
    let met = ws.scenario(name, &scenario(name, &bucket, "2m", &notify));
    ws.firedrill()
        .args(["run", "--yes", "--quiet"])
        .arg(&met)
        .run()
        .code(0);
    assert!(
        hook.received().is_empty(),
        "the first run has nothing to regress from"
    );
    ws.firedrill()
        .args(["run", "--yes", "--quiet"])
        .arg(&met)
        .run()
        .code(0);
    assert!(
        hook.received().is_empty(),
        "same objectives met again: no regression, but sent {:?}",
        hook.received()
    );

    // The same scenario with an RTO objective no restore meets.
    let missed = ws.scenario(name, &scenario(name, &bucket, "1ms", &notify));
    ws.firedrill()
        .args(["run", "--yes", "--quiet"])
        .arg(&missed)
        .run()
        .code(1);
    let got = hook.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let body = got[0].json();
    assert_eq!(body["regression"], true);
    assert_eq!(body["verdict"], "failed");
    assert_eq!(body["objectives"][0]["rto"]["met"], false);
    assert!(
        !got[0].headers.contains_key("x-firedrill-signature"),
        "no secret_env: unsigned"
    );
    drop_bucket(&s3, &bucket).await;
}

#[test]
fn bad_notify_and_evidence_tables_are_located_with_a_fix() {
    let ws = Workspace::new();
    let text = scenario(
        "bad-notify",
        "some-bucket",
        "2m",
        "[[notify]]\nkind = \"slak\"\nurl = \"ftp://hooks\"\non = [\"allways\"]\n\n[evidence]\nsigner = \"SHA256:abc\"\n",
    );
    let file = ws.scenario("bad-notify", &text);
    let out = ws.firedrill().arg("validate").arg(&file).run();
    out.code(2);
    let all = format!("{}{}", out.stdout, out.stderr);
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    for (message, at, fix) in [
        (
            "unknown notification kind `slak`",
            "kind = \"slak\"",
            "did you mean `slack`?",
        ),
        (
            "`url` is not an http(s) URL",
            "ftp://hooks",
            "https://hooks.example.com/drills",
        ),
        (
            "unknown `on` condition `allways`",
            "allways",
            "did you mean `always`?",
        ),
        (
            "invalid signer `SHA256:abc`",
            "SHA256:abc",
            "ed25519:SHA256:<64 hex digits>",
        ),
    ] {
        assert!(all.contains(message), "{message} missing:\n{all}");
        assert!(all.contains(fix), "{fix} missing:\n{all}");
        assert!(
            all.contains(&format!("bad-notify.toml:{}:", line_of(at))),
            "{message} not located at line {}:\n{all}",
            line_of(at)
        );
    }
}
