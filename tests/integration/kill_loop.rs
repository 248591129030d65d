//! `kill -9` at every stage boundary of an S3 drill, then `firedrill reap`:
//! nothing is left in `LocalStack`, the ledger marks every resource deleted
//! and the run finished, and a second reap has nothing to do.
//!
//! Timing is deterministic: the test polls the run's fsync'd ledger (and, for
//! validate, the listing file validate writes first) for the record that
//! marks the boundary, then kills. A small latency proxy (30 ms a response)
//! keeps each stage open long enough to land inside it.

use std::path::Path;
use std::time::Duration;

use crate::chaos_proxy::{FaultPlan, Proxy};
use crate::signals::{
    Running, environment_via, ledger_state, ledger_text, run_dir, s3_scenario, signal, wait_until,
};
use crate::support::{
    Workspace, buckets_containing, drop_bucket, keys, s3, s3_endpoint, seed_bucket, unique,
};

/// Where to kill the run.
#[derive(Clone, Copy, Debug)]
enum Boundary {
    BackupBucketCreated,
    CanaryPrefixRecorded,
    FaultDone,
    RestoreBucketCreated,
    DuringValidate,
    DuringCleanup,
}

fn status_of(run_dir: &Path, name_suffix: &str) -> Option<String> {
    ledger_state(run_dir)
        .0
        .into_values()
        .find(|(_, name, _)| name.ends_with(name_suffix))
        .map(|(_, _, status)| status)
}

impl Boundary {
    /// Whether the run has reached this point.
    fn reached(self, dir: &Path) -> bool {
        match self {
            Self::BackupBucketCreated => status_of(dir, "-backup").is_some_and(|s| s != "intent"),
            Self::CanaryPrefixRecorded => ledger_state(dir)
                .0
                .values()
                .any(|(rtype, _, s)| rtype == "object-prefix" && s != "intent"),
            // The restore bucket's intent is the first record after the fault.
            Self::FaultDone => status_of(dir, "-restore").is_some(),
            Self::RestoreBucketCreated => status_of(dir, "-restore").is_some_and(|s| s != "intent"),
            // Validate writes the restored listing before anything else.
            Self::DuringValidate => dir.join("data.restored.jsonl").exists(),
            Self::DuringCleanup => ledger_text(dir).contains("\"record\":\"deleted\""),
        }
    }
}

async fn kill_at(boundary: Boundary) {
    let s3 = s3().await;
    let bucket = unique("fd-kill9");
    seed_bucket(&s3, &bucket, 40).await;
    let proxy = Proxy::start(&s3_endpoint(), FaultPlan::slow(Duration::from_millis(30))).await;
    let ws = Workspace::new();
    let name = "kill9";
    let file = ws.scenario(
        name,
        &s3_scenario(
            name,
            &environment_via(&proxy.url),
            &bucket,
            "[targets.canary]\ninterval = \"300ms\"\n[targets.fault]\naction = \"delete-share\"\nshare = 0.5\n",
        ),
    );
    let mut run = Running::start(&ws, &file, &[]);
    wait_until(&format!("{boundary:?}"), Duration::from_secs(90), || {
        run_dir(&ws, name).is_some_and(|d| boundary.reached(&d))
    });
    signal(&run.child, "KILL");
    let (code, _) = run.wait(Duration::from_secs(10));
    assert_eq!(code, -1, "killed by a signal, not exited");

    let dir = run_dir(&ws, name).unwrap();
    let run_id = dir.file_name().unwrap().to_str().unwrap().to_string();
    let (before, finished) = ledger_state(&dir);
    assert!(
        !finished,
        "{boundary:?}: the run was killed before it finished"
    );
    assert!(!before.is_empty());

    let reaped = ws.firedrill().arg("reap").run();
    reaped.code(0);
    assert!(
        reaped.stdout.contains(&run_id) || before.values().all(|r| r.2 == "deleted"),
        "{boundary:?}: reap did not touch run {run_id}:\n{}",
        reaped.stdout
    );
    let (after, finished) = ledger_state(&dir);
    assert!(finished, "{boundary:?}: {}", ledger_text(&dir));
    assert_eq!(after.len(), before.len());
    assert!(
        after.values().all(|r| r.2 == "deleted"),
        "{boundary:?}: {after:?}"
    );
    assert!(
        buckets_containing(&s3, &run_id).await.is_empty(),
        "{boundary:?}: scratch buckets survived reap"
    );
    assert!(
        keys(&s3, &bucket)
            .await
            .iter()
            .all(|k| !k.contains(".firedrill/canary/")),
        "{boundary:?}: canaries survived reap"
    );
    let again = ws.firedrill().arg("reap").run();
    again.code(0);
    assert!(
        again
            .stdout
            .contains("removed 0 resource(s), 0 already gone, 0 failed"),
        "{boundary:?}: second reap did something:\n{}",
        again.stdout
    );
    drop(proxy);
    drop_bucket(&s3, &bucket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_after_backup_bucket_created_is_reaped() {
    kill_at(Boundary::BackupBucketCreated).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_after_canary_prefix_recorded_is_reaped() {
    kill_at(Boundary::CanaryPrefixRecorded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_after_fault_is_reaped() {
    kill_at(Boundary::FaultDone).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_after_restore_bucket_created_is_reaped() {
    kill_at(Boundary::RestoreBucketCreated).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_validate_is_reaped() {
    kill_at(Boundary::DuringValidate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_cleanup_is_reaped() {
    kill_at(Boundary::DuringCleanup).await;
}
