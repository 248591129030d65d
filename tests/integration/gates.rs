//! Gates, hooks and outage mode in whole drills against `LocalStack` and
//! `PostgreSQL`: gates that pass, fail, time out and retry until a service
//! is ready; templates and the command environment; secrets redacted; a
//! failing hook; every fault of an outage at one instant.

use std::net::TcpListener;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::{
    Workspace, buckets_containing, drop_bucket, emulator_environment, s3, seed_bucket, unique,
};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn gate<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["gates"]
        .as_array()
        .unwrap_or_else(|| panic!("no gates in {report:#}"))
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no gate {name}"))
}

fn at(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().unwrap(), &Rfc3339).unwrap()
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// A scenario whose hook starts a service that answers 2 s after the
/// target is validated, with gates that pass, fail, time out and retry.
fn retry_scenario(bucket: &str, port: u16, pidfile: &std::path::Path) -> String {
    // The service answers only 2 s after the target is validated.
    let service = format!(
        "python3 -c 'import time, http.server as h; time.sleep(2); h.HTTPServer((\"127.0.0.1\", {port}), type(\"H\", (h.BaseHTTPRequestHandler,), {{\"do_GET\": lambda s: (s.send_response(200), s.end_headers(), s.wfile.write(b\"ready\")), \"log_message\": lambda *a: None}})).serve_forever()' >/dev/null 2>&1 & echo $! > {}",
        pidfile.display()
    );
    format!(
        r#"name = "gates"
{env}
[objectives]
rto = "2m"
rpo = "1m"
app_rto = "5m"

[[targets]]
name = "data"
kind = "s3-bucket"
bucket = "{bucket}"
[targets.fault]
action = "delete-share"
share = 0.5
[[targets.hooks]]
when = "after_validate"
program = "sh"
args = ["-c", {service}]

[[gates]]
name = "restored object served"
kind = "http"
url = "{{{{ targets.data.url }}}}/data/item-0000.txt"
body_contains = "item 0"
deadline = "20s"

[[gates]]
name = "slow service"
kind = "http"
url = "http://127.0.0.1:{port}/health"
body_regex = "^read[y]$"
deadline = "30s"
interval = "250ms"

[[gates]]
name = "wrong status"
kind = "http"
url = "{{{{ targets.data.url }}}}/no-such-object"
status = 200
critical = false
deadline = "2s"
interval = "500ms"

[[gates]]
name = "hung command"
kind = "command"
program = "sleep"
args = ["30"]
critical = false
deadline = "1s"

[[gates]]
name = "environment"
kind = "command"
program = "sh"
args = ["-c", "test \"$FIREDRILL_TARGET_DATA_SOURCE_BUCKET\" = \"$1\" && test \"$RESTORED\" = \"$FIREDRILL_TARGET_DATA_BUCKET\" && echo \"$RESTORED\"", "sh", "{{{{ targets.data.source_bucket }}}}"]
env = {{ RESTORED = "{{{{ targets.data.bucket }}}}" }}
deadline = "10s"

[[hooks]]
when = "before_cleanup"
program = "sh"
args = ["-c", "kill $(cat {pid})"]
"#,
        env = emulator_environment(),
        service = toml::Value::String(service),
        pid = pidfile.display(),
    )
}

#[tokio::test]
async fn gates_pass_fail_time_out_and_retry_until_ready() {
    let s3 = s3().await;
    let bucket = unique("fd-gate");
    seed_bucket(&s3, &bucket, 4).await;
    let port = free_port();
    let ws = Workspace::new();
    let pidfile = ws.path().join("service.pid");
    let text = retry_scenario(&bucket, port, &pidfile);
    let file = ws.scenario("gates", &text);
    let ran = ws.firedrill().args(["run", "--yes"]).arg(&file).run();
    let report = ws.report("gates");
    ran.code(0);
    assert_eq!(
        report["verdict"], "passed",
        "non-critical gates do not fail the run"
    );

    let served = gate(&report, "restored object served");
    assert_eq!(served["outcome"], "passed", "{served:#}");
    let restored_bucket = report["targets"][0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "restore")
        .unwrap()["facts"]["restore_bucket"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        served["attempts"][0]["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("/{restored_bucket}/data/item-0000.txt")),
        "the URL template was filled with the restored bucket: {served:#}"
    );

    let slow = gate(&report, "slow service");
    assert_eq!(slow["outcome"], "passed", "{slow:#}");
    let attempts = slow["attempts"].as_array().unwrap();
    assert!(attempts.len() >= 3, "retried until ready: {slow:#}");
    assert_eq!(attempts[0]["passed"], false);
    let waited = at(&slow["passed_at"]) - at(&slow["started_at"]);
    assert!(
        waited.as_seconds_f64() >= 1.5,
        "passed only once the service listened: {waited}"
    );

    let wrong = gate(&report, "wrong status");
    assert_eq!(wrong["outcome"], "failed", "{wrong:#}");
    assert!(wrong["attempt_count"].as_u64().unwrap() >= 2);
    assert!(
        wrong["detail"].as_str().unwrap().contains("expected 200"),
        "{wrong:#}"
    );

    let hung = gate(&report, "hung command");
    assert_eq!(hung["outcome"], "timed-out", "{hung:#}");
    assert!(hung["attempts"][0]["duration_ms"].as_u64().unwrap() < 5_000);

    let env = gate(&report, "environment");
    assert_eq!(env["outcome"], "passed", "{env:#}");
    assert_eq!(env["output"]["stdout"], format!("{restored_bucket}\n"));

    let findings: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(findings.contains(&"gate.failed"), "{findings:?}");
    let app = &report["app_rto"];
    assert_eq!(app["met"], true, "{report:#}");
    assert_eq!(app["gates"], 3);
    assert!(
        app["error_ms"].as_u64().unwrap() >= 250,
        "the slow gate's retry interval bounds the error: {app:#}"
    );
    assert!(ws.run_dir("gates").join("gates/slow-service.log").exists());
    assert!(
        !port_open(port),
        "the before_cleanup hook stopped the service"
    );
    assert_eq!(report["cleanup"]["complete"], true);
    let run_id = report["run_id"].as_str().unwrap();
    assert!(buckets_containing(&s3, run_id).await.is_empty());
    drop_bucket(&s3, &bucket).await;
}

#[tokio::test]
async fn gates_sql_and_command_env_keep_the_password_secret() {
    let source = crate::postgres::SourceDb::seed(2000);
    let bucket = crate::postgres::bucket().await;
    let password = crate::postgres::pg_password();
    let extra = r#"
[[gates]]
name = "orders restored"
kind = "sql"
target = "db"
query = "SELECT count(*) FROM orders"
expect = 2000

[[gates]]
name = "password only by password_env"
kind = "command"
program = "sh"
args = ["-c", "pw=$(printenv \"$FIREDRILL_TARGET_DB_PASSWORD_ENV\"); env | grep '^FIREDRILL_TARGET_' | grep -qF \"$pw\" && exit 1; test \"$FIREDRILL_TARGET_DB_DATABASE\" = \"{{ targets.db.database }}\" || exit 2; echo \"password is $pw\""]
"#;
    let ws = Workspace::new();
    let file = ws.scenario(
        "gate-sql",
        &crate::postgres::scenario("gate-sql", &source.name, &bucket, "1m", extra),
    );
    let ran = ws.firedrill().args(["run", "--yes"]).arg(&file).run();
    let report = ws.report("gate-sql");
    ran.code(0);
    let sql = gate(&report, "orders restored");
    assert_eq!(sql["outcome"], "passed", "{sql:#}");
    assert!(
        sql["detail"]
            .as_str()
            .unwrap()
            .contains("\"2000\" as expected")
            || sql["detail"].as_str().unwrap().contains("2000"),
        "{sql:#}"
    );
    let cmd = gate(&report, "password only by password_env");
    assert_eq!(cmd["outcome"], "passed", "{cmd:#}");
    assert_eq!(cmd["output"]["stdout"], "password is ***\n");
    let dir = ws.run_dir("gate-sql");
    for f in crate::support::files_under(&dir) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(
            !text.contains(&password),
            "the password is in {}",
            f.display()
        );
    }
    let run_id = report["run_id"].as_str().unwrap();
    assert!(crate::postgres::databases_of_run(run_id).await.is_empty());
    s3().await.delete_bucket().bucket(&bucket).send().await.ok();
}

#[tokio::test]
async fn gates_failing_hook_fails_the_drill_with_its_output() {
    let s3 = s3().await;
    let bucket = unique("fd-hook");
    let keys = {
        let mut k = seed_bucket(&s3, &bucket, 4).await;
        k.sort();
        k
    };
    let ws = Workspace::new();
    let text = format!(
        "name = \"hook-fail\"\n{}\n[objectives]\nrto = \"2m\"\nrpo = \"1m\"\n\n[[targets]]\nname = \"data\"\nkind = \"s3-bucket\"\nbucket = \"{bucket}\"\n[targets.fault]\naction = \"delete-share\"\nshare = 0.5\n[[targets.hooks]]\nwhen = \"after_restore\"\nprogram = \"sh\"\nargs = [\"-c\", \"echo warming {{{{ targets.data.name }}}}; echo 'cache refused to start' >&2; exit 4\"]\ntimeout = \"10s\"\n",
        emulator_environment()
    );
    let file = ws.scenario("hook-fail", &text);
    ws.firedrill()
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(1);
    let report = ws.report("hook-fail");
    assert_eq!(report["verdict"], "failed");
    let t = &report["targets"][0];
    let hook = t["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "hook")
        .expect("hook stage");
    assert_eq!(hook["outcome"], "failed", "{hook:#}");
    assert!(hook["timing"]["duration_ms"].is_u64());
    assert!(
        hook["detail"]
            .as_str()
            .unwrap()
            .contains("cache refused to start"),
        "{hook:#}"
    );
    let validate = t["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "validate")
        .unwrap();
    assert_eq!(validate["outcome"], "skipped");
    let log = ws
        .run_dir("hook-fail")
        .join("hooks/data.after_restore.0.log");
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("warming data"),
        "hook output kept"
    );
    assert_eq!(report["cleanup"]["complete"], true);
    let mut after = crate::support::keys(&s3, &bucket).await;
    after.sort();
    assert_eq!(after, keys, "the fault was undone");
    drop_bucket(&s3, &bucket).await;
}

#[tokio::test]
async fn gates_outage_mode_injects_every_fault_within_one_poll_interval() {
    let s3 = s3().await;
    let buckets: Vec<String> = (0..3).map(|i| unique(&format!("fd-out{i}"))).collect();
    for b in &buckets {
        seed_bucket(&s3, b, 4 + 8 * buckets.len()).await;
    }
    let ws = Workspace::new();
    let mut text = format!(
        "name = \"outage\"\n{}\n[objectives]\nrto = \"2m\"\nrpo = \"1m\"\n[run]\nmode = \"outage\"\nmax_concurrency = 1\n",
        emulator_environment()
    );
    for (i, b) in buckets.iter().enumerate() {
        let depends = if i == 0 {
            String::new()
        } else {
            format!("depends_on = [\"t{}\"]\n", i - 1)
        };
        text.push_str(&format!(
            "\n[[targets]]\nname = \"t{i}\"\nkind = \"s3-bucket\"\nbucket = \"{b}\"\n{depends}[targets.fault]\naction = \"delete-share\"\nshare = 0.5\n"
        ));
    }
    let file = ws.scenario("outage", &text);
    ws.firedrill()
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(0);
    let report = ws.report("outage");
    let stage = |t: &Value, name: &str| -> Value {
        t["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == name)
            .unwrap()
            .clone()
    };
    let targets = report["targets"].as_array().unwrap();
    let faults: Vec<OffsetDateTime> = targets
        .iter()
        .map(|t| at(&stage(t, "fault")["timing"]["started_at"]))
        .collect();
    let backups: Vec<OffsetDateTime> = targets
        .iter()
        .map(|t| at(&stage(t, "backup")["timing"]["finished_at"]))
        .collect();
    let spread = *faults.iter().max().unwrap() - *faults.iter().min().unwrap();
    assert!(
        spread.as_seconds_f64() < 1.0,
        "faults spread over {spread}: {faults:?}"
    );
    assert!(
        faults.iter().min().unwrap() >= backups.iter().max().unwrap(),
        "no fault before every backup was taken"
    );
    for i in 1..targets.len() {
        let dep_validated = at(&stage(&targets[i - 1], "validate")["timing"]["finished_at"]);
        let restore = at(&stage(&targets[i], "restore")["timing"]["started_at"]);
        assert!(restore >= dep_validated, "recovery in dependency order");
    }
    let levels = report["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 3);
    for b in &buckets {
        drop_bucket(&s3, b).await;
    }
}

/// `kill -9` while a gate runs (the restored resources in use), then
/// `firedrill reap`: nothing of the run is left and the fault is undone.
#[tokio::test]
async fn gates_kill_during_a_gate_then_reap_leaves_nothing_and_loses_nothing() {
    use crate::signals::{Running, ledger_state, run_dir, signal, wait_until};
    use std::time::Duration;

    let s3 = s3().await;
    let bucket = unique("fd-gkill");
    let mut seeded = seed_bucket(&s3, &bucket, 8).await;
    seeded.sort();
    let ws = Workspace::new();
    let marker = ws.path().join("gate-started");
    let text = format!(
        "name = \"gate-kill\"\n{}\n[objectives]\nrto = \"2m\"\nrpo = \"1m\"\n\n[[targets]]\nname = \"data\"\nkind = \"s3-bucket\"\nbucket = \"{bucket}\"\n[targets.fault]\naction = \"delete-share\"\nshare = 0.5\n\n[[gates]]\nname = \"slow check\"\nkind = \"command\"\nprogram = \"sh\"\nargs = [\"-c\", \"touch {}; sleep 15\"]\ndeadline = \"1m\"\n",
        emulator_environment(),
        marker.display()
    );
    let file = ws.scenario("gate-kill", &text);
    let mut run = Running::start(&ws, &file, &[]);
    wait_until("the gate started", Duration::from_mins(1), || {
        marker.exists()
    });
    signal(&run.child, "KILL");
    let (code, _) = run.wait(Duration::from_secs(10));
    assert_eq!(code, -1, "killed by a signal");
    let dir = run_dir(&ws, "gate-kill").unwrap();
    let run_id = dir.file_name().unwrap().to_str().unwrap().to_string();
    let (before, finished) = ledger_state(&dir);
    assert!(
        !finished && !before.is_empty(),
        "killed with scratch resources in use"
    );
    assert!(!buckets_containing(&s3, &run_id).await.is_empty());

    ws.firedrill().arg("reap").run().code(0);
    let (after, finished) = ledger_state(&dir);
    assert!(finished, "reap finished the run");
    assert!(after.values().all(|r| r.2 == "deleted"), "{after:?}");
    assert!(
        buckets_containing(&s3, &run_id).await.is_empty(),
        "scratch buckets survived reap"
    );
    let mut now = crate::support::keys(&s3, &bucket).await;
    now.sort();
    assert_eq!(now, seeded, "reap undid the fault: no data lost");
    drop_bucket(&s3, &bucket).await;
}
