//! Stopping a real S3 drill from outside: SIGTERM and SIGINT stop it before
//! the fault, clean up within the 30 s budget and report `aborted`; a second
//! SIGINT exits 130 at once and `reap` removes the rest; `[run] max_duration`
//! aborts with its reason. Also the helpers the kill and secrets tests share.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::chaos_proxy::{FaultPlan, Proxy};
use crate::support::{
    Workspace, buckets_containing, drop_bucket, emulator_environment, keys, s3, s3_endpoint,
    seed_bucket, unique,
};

/// A one-target S3 scenario; `extra` is appended to the target table.
pub(crate) fn s3_scenario(name: &str, environment: &str, bucket: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\n{environment}\n[objectives]\nrto = \"2m\"\nrpo = \"30s\"\n\n[[targets]]\nname = \"data\"\nkind = \"s3-bucket\"\nbucket = \"{bucket}\"\n{extra}"
    )
}

/// `environment` with the S3 endpoint replaced (e.g. by a proxy).
pub(crate) fn environment_via(s3_url: &str) -> String {
    emulator_environment().replace(&s3_endpoint(), s3_url)
}

/// Poll until `f` holds, panicking with `what` after `timeout`.
pub(crate) fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The run directory of the (single) run of `scenario`, once it exists.
pub(crate) fn run_dir(ws: &Workspace, scenario: &str) -> Option<PathBuf> {
    std::fs::read_dir(ws.reports().join(scenario))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
}

pub(crate) fn ledger_text(run_dir: &Path) -> String {
    std::fs::read_to_string(run_dir.join("ledger.jsonl")).unwrap_or_default()
}

/// The ledger read back: every resource id's `(rtype, name, latest record)`
/// and whether the run was marked finished.
pub(crate) fn ledger_state(run_dir: &Path) -> (BTreeMap<u64, (String, String, String)>, bool) {
    let mut resources = BTreeMap::new();
    let mut finished = false;
    for line in ledger_text(run_dir).lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("ledger line is not JSON ({e}): {line}"));
        let record = v["record"].as_str().unwrap().to_string();
        match record.as_str() {
            "intent" => {
                let r = &v["resource"];
                resources.insert(
                    v["id"].as_u64().unwrap(),
                    (
                        r["rtype"].as_str().unwrap().to_string(),
                        r["id"].as_str().unwrap().to_string(),
                        record,
                    ),
                );
            }
            "finished" => finished = true,
            // Faults have their own lives (see `fault_states`).
            "run" | "fault-intent" | "fault-done" | "revert-intent" | "revert-done"
            | "revert-failed" => {}
            _ => {
                let id = v["id"].as_u64().unwrap();
                resources
                    .get_mut(&id)
                    .unwrap_or_else(|| panic!("record for unknown id {id}: {line}"))
                    .2 = record;
            }
        }
    }
    (resources, finished)
}

/// Every fault in a run's ledger: id → (action, last record).
pub(crate) fn fault_states(run_dir: &Path) -> BTreeMap<u64, (String, String)> {
    let mut faults = BTreeMap::new();
    for line in ledger_text(run_dir).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let record = v["record"].as_str().unwrap().to_string();
        let id = v["id"].as_u64();
        match record.as_str() {
            "fault-intent" => {
                let action = v["fault"]["action"].as_str().unwrap().to_string();
                faults.insert(id.unwrap(), (action, record));
            }
            "fault-done" | "revert-intent" | "revert-done" | "revert-failed" => {
                if let Some(f) = faults.get_mut(&id.unwrap()) {
                    f.1 = record;
                }
            }
            _ => {}
        }
    }
    faults
}

/// Send a signal by name (`TERM`, `INT`, `KILL`) to a child.
pub(crate) fn signal(child: &Child, name: &str) {
    let ok = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name} {} failed", child.id());
}

/// A spawned drill whose stderr is collected line by line as it comes.
pub(crate) struct Running {
    pub child: Child,
    pub stderr: Arc<Mutex<Vec<String>>>,
    stdout: Option<std::thread::JoinHandle<String>>,
}

impl Running {
    pub fn start(ws: &Workspace, file: &Path, extra_args: &[&str]) -> Self {
        let mut child = ws
            .firedrill()
            .args(["run", "--yes"])
            .args(extra_args)
            .arg(file)
            .spawn();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = stderr.clone();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut out, &mut s);
            s
        });
        Self {
            child,
            stderr,
            stdout: Some(stdout),
        }
    }

    pub fn stderr_has(&self, needle: &str) -> bool {
        self.stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(needle))
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Wait for exit (at most `timeout`): exit code and stdout.
    pub fn wait(&mut self, timeout: Duration) -> (i32, String) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "the run did not exit within {timeout:?}; stderr:\n{}",
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let stdout = self.stdout.take().unwrap().join().unwrap();
        (status.code().unwrap_or(-1), stdout)
    }
}

/// Canaries every 3 s, five after the backup: the run sits ~15 s between
/// backup and fault, where the signal lands.
const SLOW_CANARIES: &str = "[targets.canary]\ninterval = \"3s\"\nwrites_after_backup = 5\n[targets.fault]\naction = \"delete-all\"\n";

async fn interrupted_between_backup_and_fault(sig: &str) {
    let s3 = s3().await;
    let bucket = unique(&format!("fd-sig{}", sig.to_lowercase()));
    let mut seeded = seed_bucket(&s3, &bucket, 20).await;
    seeded.sort();
    let ws = Workspace::new();
    let name = format!("sig-{}", sig.to_lowercase());
    let file = ws.scenario(
        &name,
        &s3_scenario(&name, &emulator_environment(), &bucket, SLOW_CANARIES),
    );
    let mut run = Running::start(&ws, &file, &[]);
    wait_until("the backup to finish", Duration::from_mins(1), || {
        run.stderr_has("] data backup: ")
    });
    signal(&run.child, sig);
    let sent = Instant::now();
    let (code, stdout) = run.wait(Duration::from_secs(40));
    let took = sent.elapsed();
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{}", run.stderr_text());
    assert!(took < Duration::from_secs(30), "stopping took {took:?}");
    assert!(
        run.stderr_has("interrupted: stopping"),
        "{}",
        run.stderr_text()
    );

    let report = ws.report(&name);
    assert_eq!(report["verdict"], "aborted", "{report:#}");
    assert_eq!(report["aborted"], "interrupted by signal");
    assert_eq!(report["exit_code"], 1);
    let stages = report["targets"][0]["stages"].as_array().unwrap();
    let fault = stages.iter().find(|s| s["stage"] == "fault").unwrap();
    assert_ne!(fault["outcome"], "passed", "the fault ran: {stages:#?}");
    assert_eq!(report["cleanup"]["complete"], true, "{report:#}");
    assert!(report["cleanup"]["created"].as_u64().unwrap() >= 2);

    // The source is exactly as seeded: the fault never ran, canaries are gone.
    let mut left = keys(&s3, &bucket).await;
    left.sort();
    assert_eq!(left, seeded);
    let run_id = report["run_id"].as_str().unwrap();
    assert!(buckets_containing(&s3, run_id).await.is_empty());
    let (resources, finished) = ledger_state(&ws.run_dir(&name));
    assert!(finished);
    assert!(
        resources.values().all(|r| r.2 == "deleted"),
        "{resources:?}"
    );
    drop_bucket(&s3, &bucket).await;
}

#[tokio::test]
async fn sigterm_between_backup_and_fault_aborts_cleans_up_and_reports() {
    interrupted_between_backup_and_fault("TERM").await;
}

#[tokio::test]
async fn sigint_between_backup_and_fault_aborts_cleans_up_and_reports() {
    interrupted_between_backup_and_fault("INT").await;
}

// The proxy runs on this runtime while the test thread blocks: multi-thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_sigint_exits_at_once_and_reap_removes_the_rest() {
    let s3 = s3().await;
    let bucket = unique("fd-sig2");
    let mut seeded = seed_bucket(&s3, &bucket, 20).await;
    seeded.sort();
    // Every response held back 150 ms: cleanup is still running when the
    // second interrupt arrives.
    let proxy = Proxy::start(&s3_endpoint(), FaultPlan::slow(Duration::from_millis(150))).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "sig-twice",
        &s3_scenario(
            "sig-twice",
            &environment_via(&proxy.url),
            &bucket,
            SLOW_CANARIES,
        ),
    );
    let mut run = Running::start(&ws, &file, &[]);
    wait_until("the backup to finish", Duration::from_mins(1), || {
        run.stderr_has("] data backup: ")
    });
    signal(&run.child, "INT");
    wait_until("the first interrupt", Duration::from_secs(10), || {
        run.stderr_has("interrupt again to exit at once")
    });
    // Let the handler re-arm for the second interrupt.
    std::thread::sleep(Duration::from_millis(50));
    signal(&run.child, "INT");
    let sent = Instant::now();
    let (code, _) = run.wait(Duration::from_secs(10));
    assert_eq!(code, 130, "stderr:\n{}", run.stderr_text());
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "exit took {:?}",
        sent.elapsed()
    );
    assert!(
        run.stderr_has("run `firedrill reap`"),
        "{}",
        run.stderr_text()
    );

    let dir = run_dir(&ws, "sig-twice").unwrap();
    let run_id = dir.file_name().unwrap().to_str().unwrap().to_string();
    let (before, finished) = ledger_state(&dir);
    assert!(!finished, "the run was cut short");
    assert!(
        before.values().any(|r| r.2 != "deleted"),
        "something must be left for reap: {before:?}"
    );

    let reaped = ws.firedrill().arg("reap").run();
    reaped.code(0);
    assert!(reaped.stdout.contains("removed "), "{}", reaped.stdout);
    let (after, finished) = ledger_state(&dir);
    assert!(finished, "{}", ledger_text(&dir));
    assert_eq!(after.len(), before.len());
    assert!(after.values().all(|r| r.2 == "deleted"), "{after:?}");
    assert!(buckets_containing(&s3, &run_id).await.is_empty());
    let mut left = keys(&s3, &bucket).await;
    left.sort();
    assert_eq!(left, seeded, "source intact, canaries reaped");
    ws.firedrill()
        .arg("reap")
        .run()
        .code(0)
        .stdout
        .contains("removed 0 resource(s)")
        .then_some(())
        .expect("a second reap is a no-op");
    drop_bucket(&s3, &bucket).await;
}

#[tokio::test]
async fn max_duration_aborts_with_its_reason() {
    let s3 = s3().await;
    let bucket = unique("fd-maxdur");
    let mut seeded = seed_bucket(&s3, &bucket, 8).await;
    seeded.sort();
    let ws = Workspace::new();
    let text = s3_scenario("max-dur", &emulator_environment(), &bucket, SLOW_CANARIES).replace(
        "[objectives]",
        "[run]\nmax_duration = \"2s\"\n\n[objectives]",
    );
    let file = ws.scenario("max-dur", &text);
    let started = Instant::now();
    let ran = ws.firedrill().args(["run", "--yes"]).arg(&file).run();
    ran.code(1);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    let report = ws.report("max-dur");
    assert_eq!(report["verdict"], "aborted");
    assert_eq!(report["aborted"], "maximum drill duration 2.0s reached");
    assert!(
        ran.stderr
            .contains("aborting: maximum drill duration 2.0s reached"),
        "{}",
        ran.stderr
    );
    assert_eq!(report["cleanup"]["complete"], true);
    let mut left = keys(&s3, &bucket).await;
    left.sort();
    assert_eq!(left, seeded);
    let run_id = report["run_id"].as_str().unwrap();
    assert!(buckets_containing(&s3, run_id).await.is_empty());
    drop_bucket(&s3, &bucket).await;
}
