//! Whole RDS drills against moto: the example scenarios with the test's own
//! source instance or cluster, a disaster-recovery copy, a configuration
//! mismatch, and a run killed during the restore then reaped.

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_rds::Client;
use aws_sdk_rds::types::Tag;

use crate::support::{Workspace, rds_endpoint, require, unique};

const DR_REGION: &str = "us-west-2";

pub(crate) fn rds(region: &str) -> Client {
    require(&rds_endpoint());
    let conf = aws_sdk_rds::config::Builder::new()
        .behavior_version(aws_sdk_rds::config::BehaviorVersion::latest())
        .region(aws_sdk_rds::config::Region::new(region.to_string()))
        .endpoint_url(rds_endpoint())
        .credentials_provider(aws_sdk_rds::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .build();
    Client::from_conf(conf)
}

fn team_tag() -> Tag {
    Tag::builder().key("team").value("data").build()
}

/// A source `postgres` instance in moto.
pub(crate) async fn create_source_instance(rds: &Client, id: &str) {
    rds.create_db_instance()
        .db_instance_identifier(id)
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("app")
        .master_user_password("change-me-please")
        .storage_encrypted(true)
        .tags(team_tag())
        .send()
        .await
        .unwrap();
}

/// A source Aurora cluster with a writer and a reader (failover needs both).
pub(crate) async fn create_source_cluster(rds: &Client, id: &str) {
    rds.create_db_cluster()
        .db_cluster_identifier(id)
        .engine("aurora-postgresql")
        .master_username("app")
        .master_user_password("change-me-please")
        .storage_encrypted(true)
        .tags(team_tag())
        .send()
        .await
        .unwrap();
    for n in 1..=2 {
        rds.create_db_instance()
            .db_instance_identifier(format!("{id}-{n}"))
            .db_cluster_identifier(id)
            .engine("aurora-postgresql")
            .db_instance_class("db.r5.large")
            .send()
            .await
            .unwrap();
    }
}

/// The source instance as a comparable summary.
async fn instance_summary(rds: &Client, id: &str) -> String {
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .unwrap();
    let i = &out.db_instances()[0];
    format!(
        "{:?} {:?} {:?} {:?} {:?}",
        i.db_instance_status(),
        i.engine(),
        i.db_instance_class(),
        i.storage_encrypted(),
        i.tag_list()
    )
}

async fn cluster_summary(rds: &Client, id: &str) -> String {
    let out = rds
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
        .unwrap();
    let c = &out.db_clusters()[0];
    format!(
        "{:?} {:?} {:?} {:?} {}",
        c.status(),
        c.engine(),
        c.storage_encrypted(),
        c.tag_list(),
        c.db_cluster_members().len()
    )
}

pub(crate) async fn delete_source_instance(rds: &Client, id: &str) {
    rds.delete_db_instance()
        .db_instance_identifier(id)
        .skip_final_snapshot(true)
        .delete_automated_backups(true)
        .send()
        .await
        .unwrap();
    delete_automated(rds, id).await;
}

pub(crate) async fn delete_source_cluster(rds: &Client, id: &str) {
    for n in 1..=2 {
        rds.delete_db_instance()
            .db_instance_identifier(format!("{id}-{n}"))
            .skip_final_snapshot(true)
            .send()
            .await
            .unwrap();
    }
    rds.delete_db_cluster()
        .db_cluster_identifier(id)
        .skip_final_snapshot(true)
        .send()
        .await
        .unwrap();
    delete_automated(rds, id).await;
}

/// moto keeps automated snapshots of deleted sources; the test made them.
pub(crate) async fn delete_automated(rds: &Client, source: &str) {
    let out = rds.describe_db_cluster_snapshots().send().await.unwrap();
    for s in out.db_cluster_snapshots() {
        if s.db_cluster_identifier() == Some(source) {
            let _ = rds
                .delete_db_cluster_snapshot()
                .db_cluster_snapshot_identifier(s.db_cluster_snapshot_identifier().unwrap())
                .send()
                .await;
        }
    }
    let out = rds.describe_db_snapshots().send().await.unwrap();
    for s in out.db_snapshots() {
        if s.db_instance_identifier() == Some(source) {
            let _ = rds
                .delete_db_snapshot()
                .db_snapshot_identifier(s.db_snapshot_identifier().unwrap())
                .send()
                .await;
        }
    }
}

/// Whether a DB snapshot carries the `firedrill:retained` tag.
pub(crate) async fn snapshot_is_retained(rds: &Client, snapshot: &str) -> bool {
    let arn = rds
        .describe_db_snapshots()
        .db_snapshot_identifier(snapshot)
        .send()
        .await
        .unwrap()
        .db_snapshots()[0]
        .db_snapshot_arn()
        .unwrap()
        .to_string();
    let tags = rds
        .list_tags_for_resource()
        .resource_name(&arn)
        .send()
        .await
        .unwrap();
    tags.tag_list()
        .iter()
        .any(|t| t.key() == Some("firedrill:retained"))
}

/// Every instance, cluster and snapshot (manual or automated) in `region`
/// whose identifier contains `needle`.
pub(crate) async fn leftovers(region: &str, needle: &str) -> Vec<String> {
    let rds = rds(region);
    let mut ids = Vec::new();
    let out = rds.describe_db_instances().send().await.unwrap();
    ids.extend(
        out.db_instances()
            .iter()
            .filter_map(|i| i.db_instance_identifier())
            .map(|i| format!("instance {i}")),
    );
    let out = rds.describe_db_clusters().send().await.unwrap();
    ids.extend(
        out.db_clusters()
            .iter()
            .filter_map(|c| c.db_cluster_identifier())
            .map(|c| format!("cluster {c}")),
    );
    let out = rds.describe_db_snapshots().send().await.unwrap();
    ids.extend(
        out.db_snapshots()
            .iter()
            .filter_map(|s| s.db_snapshot_identifier())
            .map(|s| format!("snapshot {s}")),
    );
    let out = rds.describe_db_cluster_snapshots().send().await.unwrap();
    ids.extend(
        out.db_cluster_snapshots()
            .iter()
            .filter_map(|s| s.db_cluster_snapshot_identifier())
            .map(|s| format!("cluster snapshot {s}")),
    );
    ids.retain(|i| i.contains(needle));
    ids
}

/// An example scenario from `scenarios/` with the test's environment and
/// source, and `edits` (from, to) applied.
pub(crate) fn example(
    file: &str,
    source_key: &str,
    source: &str,
    edits: &[(&str, &str)],
) -> String {
    let text = crate::support::example(file, &[]);
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{source_key} = ")))
        .unwrap()
        .to_string();
    let text = text.replace(&line, &format!("{source_key} = \"{source}\""));
    crate::support::edited(file, text, edits)
}

fn assert_emulated_timings(report: &serde_json::Value) {
    for stage in report["targets"][0]["stages"].as_array().unwrap() {
        assert_eq!(stage["emulated"], true, "{stage}");
    }
}

fn stage<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["targets"][0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == name)
        .unwrap_or_else(|| panic!("no stage {name}"))
}

#[tokio::test]
async fn rds_instance_drill_passes_and_leaves_nothing_behind() {
    let rds = rds("us-east-1");
    let source = unique("fd-db");
    create_source_instance(&rds, &source).await;
    let before = instance_summary(&rds, &source).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "rds-instance",
        &example("rds-instance.toml", "instance", &source, &[]),
    );
    let started = Instant::now();
    ws.firedrill()
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(0);
    eprintln!(
        "rds-instance drill against moto: {:?} wall",
        started.elapsed()
    );
    let report = ws.report("rds-instance");
    assert_eq!(report["verdict"], "passed");
    assert_emulated_timings(&report);
    let policy = crate::iam::assert_policy_allows_the_run(&ws, &file, &report);
    crate::iam::assert_no_terminate(&policy);
    let restore = stage(&report, "restore");
    eprintln!(
        "rds-instance restore: {} ms ± {} ms; backup ± {} ms",
        restore["timing"]["duration_ms"],
        restore["timing"]["error_ms"],
        stage(&report, "backup")["timing"]["error_ms"]
    );
    let checks = report["targets"][0]["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "instance class" && c["status"] == "emulated")
    );
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "data" && c["status"] == "not-verified")
    );
    let findings = report["targets"][0]["findings"].to_string();
    assert!(findings.contains("rds.emulated"), "{findings}");
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
    assert_eq!(report["cleanup"]["complete"], true);
    assert_eq!(instance_summary(&rds, &source).await, before);
    delete_source_instance(&rds, &source).await;
    assert!(leftovers("us-east-1", &source).await.is_empty());
}

#[tokio::test]
async fn rds_cluster_drill_passes_and_leaves_nothing_behind() {
    let rds = rds("us-east-1");
    let source = unique("fd-aurora");
    create_source_cluster(&rds, &source).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "rds-cluster",
        &example("rds-cluster.toml", "cluster", &source, &[]),
    );
    let started = Instant::now();
    ws.firedrill()
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(0);
    eprintln!(
        "rds-cluster drill against moto: {:?} wall",
        started.elapsed()
    );
    let report = ws.report("rds-cluster");
    assert_eq!(report["verdict"], "passed");
    assert_emulated_timings(&report);
    let policy = crate::iam::assert_policy_allows_the_run(&ws, &file, &report);
    crate::iam::assert_no_terminate(&policy);
    let restore = stage(&report, "restore");
    eprintln!(
        "rds-cluster restore: {} ms ± {} ms; backup ± {} ms",
        restore["timing"]["duration_ms"],
        restore["timing"]["error_ms"],
        stage(&report, "backup")["timing"]["error_ms"]
    );
    assert!(
        stage(&report, "fault")["detail"]
            .as_str()
            .unwrap()
            .contains("writer was")
    );
    // The failover moved the writer to the reader.
    let out = rds
        .describe_db_clusters()
        .db_cluster_identifier(&source)
        .send()
        .await
        .unwrap();
    let writer = out.db_clusters()[0]
        .db_cluster_members()
        .iter()
        .find(|m| m.is_cluster_writer() == Some(true))
        .and_then(|m| m.db_instance_identifier())
        .unwrap()
        .to_string();
    assert_eq!(writer, format!("{source}-2"));
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
    assert_eq!(report["cleanup"]["complete"], true);
    delete_source_cluster(&rds, &source).await;
    assert!(leftovers("us-east-1", &source).await.is_empty());
}

#[tokio::test]
async fn rds_instance_drill_restores_in_the_dr_region_and_cleans_both_regions() {
    let rds = rds("us-east-1");
    let source = unique("fd-dr");
    create_source_instance(&rds, &source).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "rds-dr",
        &example(
            "rds-instance.toml",
            "instance",
            &source,
            &[("# dr_region = \"us-west-2\"", "dr_region = \"us-west-2\"")],
        ),
    );
    let started = Instant::now();
    ws.firedrill()
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(0);
    eprintln!(
        "rds-instance DR drill against moto: {:?} wall",
        started.elapsed()
    );
    let report = ws.report("rds-instance");
    assert_eq!(report["verdict"], "passed");
    let copy = stage(&report, "copy");
    assert_eq!(copy["outcome"], "passed");
    assert_eq!(copy["emulated"], true);
    assert_eq!(copy["facts"]["dr_region"], DR_REGION);
    assert_eq!(stage(&report, "restore")["facts"]["region"], DR_REGION);
    let ledger = std::fs::read_to_string(ws.run_dir("rds-instance").join("ledger.jsonl")).unwrap();
    assert!(
        ledger.contains(&format!("\"region\":\"{DR_REGION}\"")),
        "{ledger}"
    );
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
    assert_eq!(leftovers(DR_REGION, run_id).await, Vec::<String>::new());
    delete_source_instance(&rds, &source).await;
}

#[tokio::test]
async fn overridden_instance_class_is_a_failed_check_and_exit_1() {
    let rds = rds("us-east-1");
    let source = unique("fd-mis");
    create_source_instance(&rds, &source).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "rds-mismatch",
        &example(
            "rds-instance.toml",
            "instance",
            &source,
            &[(
                "# instance_class = \"db.t3.small\"",
                "instance_class = \"db.t3.small\"",
            )],
        ),
    );
    let ran = ws.firedrill().args(["run", "--yes"]).arg(&file).run();
    ran.code(1);
    assert!(
        ran.stdout.contains("failed check") && ran.stdout.contains("instance class"),
        "{}",
        ran.stdout
    );
    let report = ws.report("rds-instance");
    assert_eq!(report["verdict"], "failed");
    let t = &report["targets"][0];
    let check = t["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "instance class")
        .unwrap();
    assert_eq!(check["status"], "failed");
    assert_eq!(check["expected"], "db.t3.micro");
    assert_eq!(check["actual"], "db.t3.small");
    let finding = t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "rds-instance.mismatch")
        .unwrap_or_else(|| panic!("no mismatch finding: {}", t["findings"]));
    assert_eq!(finding["severity"], "error");
    let message = finding["message"].as_str().unwrap();
    assert!(
        message.contains("db.t3.micro") && message.contains("db.t3.small"),
        "{message}"
    );
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
    delete_source_instance(&rds, &source).await;
}

/// Start a run of the scenario named `scenario`, SIGKILL it as soon as its ledger records the intent to
/// create `marker` (the restore), then `reap`. Returns the run id.
fn kill_during_restore(ws: &Workspace, scenario: &str, file: &Path, marker: &str) -> String {
    let mut child = ws.firedrill().args(["run", "--yes"]).arg(file).spawn();
    let deadline = Instant::now() + Duration::from_mins(1);
    let ledger = loop {
        let found = std::fs::read_dir(ws.reports().join(scenario))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(Result::ok)
            .map(|e| e.path().join("ledger.jsonl"))
            .and_then(|p| std::fs::read_to_string(&p).ok().map(|t| (p, t)));
        if let Some((path, text)) = found
            && text
                .lines()
                .any(|l| l.contains("\"intent\"") && l.contains(marker))
        {
            child.kill().unwrap();
            break path;
        }
        assert!(
            Instant::now() < deadline,
            "the run never reached the restore"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the restore"
        );
        std::thread::sleep(Duration::from_micros(500));
    };
    let status = child.wait().unwrap();
    assert!(
        status.code().is_none(),
        "killed by a signal, not {status:?}"
    );
    let text = std::fs::read_to_string(&ledger).unwrap();
    assert!(
        !text.contains("\"record\":\"finished\""),
        "the kill came after the run finished:\n{text}"
    );
    let restore_id = text
        .lines()
        .filter(|l| l.contains("\"intent\"") && l.contains(marker))
        .find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            v["id"].as_u64()
        })
        .unwrap();
    assert!(
        !text
            .lines()
            .any(|l| l.contains("\"deleted\"") && l.contains(&format!("\"id\":{restore_id},"))),
        "the restore was already cleaned up before the kill:\n{text}"
    );
    let run_id = text
        .lines()
        .next()
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|v| v["run_id"].as_str().map(str::to_string))
        .unwrap();
    let reaped = ws.firedrill().arg("reap").run();
    reaped.code(0);
    assert!(
        reaped.stdout.contains(&format!("{run_id}-0-restore")) && reaped.stdout.contains("-0-snap"),
        "reap did not remove the restore and the snapshot:\n{}",
        reaped.stdout
    );
    run_id
}

#[tokio::test]
async fn rds_instance_run_killed_during_restore_is_reaped() {
    let rds = rds("us-east-1");
    let source = unique("fd-kill");
    create_source_instance(&rds, &source).await;
    let before = instance_summary(&rds, &source).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "rds-kill",
        &example(
            "rds-instance.toml",
            "instance",
            &source,
            &[("action = \"reboot\"", "action = \"none\"")],
        ),
    );
    let run_id = kill_during_restore(&ws, "rds-instance", &file, "-0-restore\"");
    assert_eq!(leftovers("us-east-1", &run_id).await, Vec::<String>::new());
    assert_eq!(
        instance_summary(&rds, &source).await,
        before,
        "source untouched"
    );
    delete_source_instance(&rds, &source).await;
}

#[tokio::test]
async fn rds_cluster_run_killed_during_restore_is_reaped() {
    let rds = rds("us-east-1");
    let source = unique("fd-ckill");
    create_source_cluster(&rds, &source).await;
    let before = cluster_summary(&rds, &source).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "rds-ckill",
        &example(
            "rds-cluster.toml",
            "cluster",
            &source,
            &[("action = \"failover\"", "action = \"none\"")],
        ),
    );
    let run_id = kill_during_restore(&ws, "rds-cluster", &file, "-0-restore\"");
    assert_eq!(leftovers("us-east-1", &run_id).await, Vec::<String>::new());
    assert_eq!(
        cluster_summary(&rds, &source).await,
        before,
        "source untouched"
    );
    delete_source_cluster(&rds, &source).await;
}

fn scratch_tags(run_id: &str, expires_at: &str) -> Vec<Tag> {
    [
        ("firedrill:run-id", run_id),
        ("firedrill:expires-at", expires_at),
        ("firedrill:target", "db"),
    ]
    .into_iter()
    .map(|(k, v)| Tag::builder().key(k).value(v).build())
    .collect()
}

#[tokio::test]
async fn reap_finds_rds_scratch_resources_of_dead_runs_by_tag_and_keeps_kept_snapshots() {
    let rds = rds("us-east-1");
    let source = unique("fd-tag");
    create_source_instance(&rds, &source).await;
    create_source_cluster(&rds, &format!("{source}-c")).await;
    // A finished run in this reports directory: its ledger marks the run as
    // dead, so reap takes resources tagged with its id even before they
    // expire, while reaps in other directories (other tests sharing moto)
    // leave them alone.
    let ws = Workspace::new();
    let file = ws.scenario(
        "rds-instance",
        &example("rds-instance.toml", "instance", &source, &[]),
    );
    ws.firedrill()
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(0);
    let report = ws.report("rds-instance");
    let run_id = report["run_id"].as_str().unwrap().to_string();
    // What that run could have left behind had it crashed before its ledger
    // recorded them.
    let name = |s: &str| format!("firedrill-{run_id}-9-{s}");
    let expired = scratch_tags(&run_id, "2099-01-01T00:00:00Z");
    rds.create_db_snapshot()
        .db_instance_identifier(&source)
        .db_snapshot_identifier(name("snap"))
        .set_tags(Some(expired.clone()))
        .send()
        .await
        .unwrap();
    rds.restore_db_instance_from_db_snapshot()
        .db_snapshot_identifier(name("snap"))
        .db_instance_identifier(name("restore"))
        .set_tags(Some(expired.clone()))
        .send()
        .await
        .unwrap();
    let mut kept = expired.clone();
    kept.push(Tag::builder().key("firedrill:keep").value("true").build());
    rds.create_db_snapshot()
        .db_instance_identifier(&source)
        .db_snapshot_identifier(name("kept"))
        .set_tags(Some(kept))
        .send()
        .await
        .unwrap();
    rds.create_db_cluster_snapshot()
        .db_cluster_identifier(format!("{source}-c"))
        .db_cluster_snapshot_identifier(name("csnap"))
        .set_tags(Some(expired.clone()))
        .send()
        .await
        .unwrap();
    rds.restore_db_cluster_from_snapshot()
        .snapshot_identifier(name("csnap"))
        .db_cluster_identifier(name("crestore"))
        .engine("aurora-postgresql")
        .set_tags(Some(expired.clone()))
        .send()
        .await
        .unwrap();
    rds.create_db_instance()
        .db_instance_identifier(name("writer"))
        .db_cluster_identifier(name("crestore"))
        .engine("aurora-postgresql")
        .db_instance_class("db.r5.large")
        .set_tags(Some(expired))
        .send()
        .await
        .unwrap();

    let reaped = ws.firedrill().args(["reap", "--scenario"]).arg(&file).run();
    reaped.code(0);
    for s in ["snap", "restore", "csnap", "crestore", "writer"] {
        assert!(
            reaped.stdout.lines().any(|l| {
                l.contains(&format!("{} (us-east-1)", name(s))) && l.contains("found by tag")
            }),
            "{s} not reaped by tag:\n{}",
            reaped.stdout
        );
    }
    assert_eq!(
        leftovers("us-east-1", &run_id).await,
        vec![format!("snapshot {}", name("kept"))],
        "only the kept snapshot stays"
    );
    rds.delete_db_snapshot()
        .db_snapshot_identifier(name("kept"))
        .send()
        .await
        .unwrap();
    delete_source_instance(&rds, &source).await;
    delete_source_cluster(&rds, &format!("{source}-c")).await;
    assert!(leftovers("us-east-1", &source).await.is_empty());
}

#[tokio::test]
async fn point_in_time_and_latest_automated_backups_restore_and_pass() {
    let rds = rds("us-east-1");
    let source = unique("fd-pitr");
    create_source_instance(&rds, &source).await;
    for (method, extra) in [
        ("point-in-time", "restore_time = \"latest\"\n"),
        ("latest-automated", ""),
    ] {
        let ws = Workspace::new();
        let file = ws.scenario(
            "rds-instance",
            &example(
                "rds-instance.toml",
                "instance",
                &source,
                &[
                    (
                        "method = \"snapshot\"\n",
                        &format!("method = \"{method}\"\n{extra}"),
                    ),
                    ("action = \"reboot\"", "action = \"stop\""),
                ],
            ),
        );
        ws.firedrill()
            .args(["run", "--yes"])
            .arg(&file)
            .run()
            .code(0);
        let report = ws.report("rds-instance");
        assert_eq!(report["verdict"], "passed", "{method}");
        let backup = stage(&report, "backup")["detail"]
            .as_str()
            .unwrap()
            .to_string();
        match method {
            "point-in-time" => {
                assert!(backup.contains("point-in-time"), "{backup}");
                // The time restored to is the recovery point the RPO ages.
                let point = &report["targets"][0]["recovery_point"];
                assert_eq!(point["label"], "point-in-time", "{point:#}");
                assert_eq!(point["source"], "latest", "{point:#}");
                assert_eq!(report["targets"][0]["rpo"]["method"], "recovery-point");
            }
            _ => assert!(backup.contains("automated snapshot"), "{backup}"),
        }
        // The fault stopped the source; the revert started it again.
        let status = instance_summary(&rds, &source).await;
        assert!(status.contains("available"), "{status}");
        assert_eq!(
            stage(&report, "revert")["detail"],
            format!("started DB instance `{source}` again")
        );
        let run_id = report["run_id"].as_str().unwrap();
        assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
    }
    delete_source_instance(&rds, &source).await;
}

#[tokio::test]
async fn delete_fault_removes_the_source_and_the_snapshot_restores_it() {
    let rds = rds("us-east-1");
    let source = unique("fd-del");
    create_source_instance(&rds, &source).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "rds-instance",
        &example(
            "rds-instance.toml",
            "instance",
            &source,
            &[("action = \"reboot\"", "action = \"delete\"")],
        ),
    );
    let plan = ws.firedrill().arg("plan").arg(&file).run();
    plan.code(0);
    assert!(
        plan.stdout.contains("rds:DeleteDBInstance"),
        "{}",
        plan.stdout
    );
    ws.firedrill()
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(0);
    let report = ws.report("rds-instance");
    assert_eq!(report["verdict"], "passed");
    assert!(
        stage(&report, "fault")["detail"]
            .as_str()
            .unwrap()
            .contains("deleting")
    );
    let gone = rds
        .describe_db_instances()
        .db_instance_identifier(&source)
        .send()
        .await;
    assert!(gone.is_err(), "the source was deleted by the fault");
    // The drill's snapshot is now the only copy: it is kept, tagged, and the
    // report says how to restore from it.
    let retained = report["targets"][0]["retained"].as_array().unwrap();
    assert_eq!(retained.len(), 1, "{retained:?}");
    let snapshot = retained[0]["resource"]["id"].as_str().unwrap().to_string();
    assert!(
        retained[0]["restore"]
            .as_str()
            .unwrap()
            .contains(&format!("--db-snapshot-identifier {snapshot}")),
        "{retained:?}"
    );
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(
        leftovers("us-east-1", run_id).await,
        vec![format!("snapshot {snapshot}")],
        "only the retained snapshot is left"
    );
    assert!(snapshot_is_retained(&rds, &snapshot).await);
    // reap leaves a retained copy alone.
    ws.firedrill().arg("reap").run().code(0);
    assert_eq!(
        leftovers("us-east-1", run_id).await,
        vec![format!("snapshot {snapshot}")]
    );
    rds.delete_db_snapshot()
        .db_snapshot_identifier(&snapshot)
        .send()
        .await
        .unwrap();
    delete_automated(&rds, &source).await;
    assert!(leftovers("us-east-1", &source).await.is_empty());
}

#[tokio::test]
async fn delete_fault_with_restore_source_brings_the_instance_back_under_its_own_name() {
    let rds = rds("us-east-1");
    let source = unique("fd-rsrc");
    create_source_instance(&rds, &source).await;
    // moto names an instance's automated snapshot by the minute it was
    // created, so a restore under the same name within that minute collides.
    delete_automated(&rds, &source).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "rds-instance",
        &example(
            "rds-instance.toml",
            "instance",
            &source,
            &[(
                "action = \"reboot\"",
                "action = \"delete\"\nrestore_source = true",
            )],
        ),
    );
    let plan = ws.firedrill().arg("plan").arg(&file).run();
    plan.code(0);
    assert!(
        plan.stdout.contains("undo: restore in place"),
        "{}",
        plan.stdout
    );
    ws.firedrill()
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(0);
    let report = ws.report("rds-instance");
    assert_eq!(report["verdict"], "passed");
    assert_eq!(stage(&report, "revert")["outcome"], "passed");
    let back = rds
        .describe_db_instances()
        .db_instance_identifier(&source)
        .send()
        .await
        .unwrap();
    let back = &back.db_instances()[0];
    assert_eq!(back.db_instance_status(), Some("available"));
    assert_eq!(back.db_instance_class(), Some("db.t3.micro"));
    assert!(report["targets"][0].get("retained").is_none(), "{report}");
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
    delete_source_instance(&rds, &source).await;
    assert!(leftovers("us-east-1", &source).await.is_empty());
}

#[tokio::test]
async fn rds_cluster_drill_restores_in_the_dr_region_and_cleans_both_regions() {
    let rds = rds("us-east-1");
    let source = unique("fd-cdr");
    create_source_cluster(&rds, &source).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "rds-cluster",
        &example(
            "rds-cluster.toml",
            "cluster",
            &source,
            &[("# dr_region = \"us-west-2\"", "dr_region = \"us-west-2\"")],
        ),
    );
    ws.firedrill()
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(0);
    let report = ws.report("rds-cluster");
    assert_eq!(report["verdict"], "passed");
    assert_eq!(stage(&report, "copy")["outcome"], "passed");
    assert_eq!(stage(&report, "restore")["facts"]["region"], DR_REGION);
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
    assert_eq!(leftovers(DR_REGION, run_id).await, Vec::<String>::new());
    delete_source_cluster(&rds, &source).await;
    assert!(leftovers("us-east-1", &source).await.is_empty());
}

#[tokio::test]
async fn sql_checks_on_an_emulated_instance_are_not_verified_never_passed() {
    let rds = rds("us-east-1");
    let source = unique("fd-dbsql");
    create_source_instance(&rds, &source).await;
    let ws = Workspace::new();
    let sql = "[targets.validate]\ncompare_tags = true\n\n[targets.sql]\nuser = \"app\"\ndatabase = \"orders\"\npassword_env = \"FD_TEST_RDS_PASSWORD\"\n\n[[targets.check]]\nname = \"orders exist\"\nquery = \"SELECT count(*) FROM orders\"\nexpect = { min = 1, max = 1000000 }\n";
    let file = ws.scenario(
        "rds-sql",
        &example(
            "rds-instance.toml",
            "instance",
            &source,
            &[
                ("name = \"rds-instance\"", "name = \"rds-sql\""),
                ("[targets.validate]\ncompare_tags = true\n", sql),
            ],
        ),
    );
    let ran = ws
        .firedrill()
        .env("FD_TEST_RDS_PASSWORD", "not-a-real-password-7f3a")
        .args(["run", "--yes"])
        .arg(&file)
        .run();
    ran.code(0);
    assert!(!ran.stdout.contains("not-a-real-password-7f3a"));
    let report = ws.report("rds-sql");
    let checks = report["targets"][0]["checks"].as_array().unwrap();
    let data: Vec<&serde_json::Value> = checks
        .iter()
        .filter(|c| {
            c["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("data:") || n.starts_with("check "))
        })
        .collect();
    assert_eq!(data.len(), 2, "{checks:#?}");
    for c in data {
        assert_eq!(c["status"], "not-verified", "{c:#}");
        assert!(
            c["detail"]
                .as_str()
                .unwrap()
                .contains("not verified: no baseline from the source: cannot connect"),
            "{c:#}"
        );
    }
    let findings = report["targets"][0]["findings"].to_string();
    assert!(findings.contains("checks.not-verified"), "{findings}");
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
    delete_source_instance(&rds, &source).await;
}

/// The source cluster's restorable window as moto reports it.
async fn restorable(rds: &Client, id: &str) -> (time::OffsetDateTime, time::OffsetDateTime) {
    let out = rds
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
        .unwrap();
    let c = &out.db_clusters()[0];
    let t = |d: Option<&aws_smithy_types::DateTime>| {
        time::OffsetDateTime::from_unix_timestamp_nanos(d.unwrap().as_nanos()).unwrap()
    };
    (
        t(c.earliest_restorable_time()),
        t(c.latest_restorable_time()),
    )
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn rds_cluster_point_in_time_latest_and_at_a_time_restore_and_leave_nothing() {
    let rds = rds("us-east-1");
    let source = unique("fd-aurora-pit");
    create_source_cluster(&rds, &source).await;
    let (earliest, _) = restorable(&rds, &source).await;
    // A whole second inside the window: after the earliest restorable time
    // and before the latest (moto's is the current time).
    let at = earliest.replace_nanosecond(0).unwrap() + time::Duration::seconds(1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for restore_time in ["latest".to_string(), rfc3339(at)] {
        let ws = Workspace::new();
        let file = ws.scenario(
            "rds-cluster-point-in-time",
            &example(
                "rds-cluster-point-in-time.toml",
                "cluster",
                &source,
                &[(
                    "restore_time = \"latest\"",
                    &format!("restore_time = \"{restore_time}\""),
                )],
            ),
        );
        let before = time::OffsetDateTime::now_utc();
        let started = Instant::now();
        ws.firedrill()
            .args(["run", "--yes"])
            .arg(&file)
            .run()
            .code(0);
        eprintln!(
            "rds-cluster point-in-time ({restore_time}) drill against moto: {:?} wall",
            started.elapsed()
        );
        let report = ws.report("rds-cluster-point-in-time");
        assert_eq!(report["verdict"], "passed", "{report:#}");
        assert_emulated_timings(&report);
        crate::iam::assert_policy_allows_the_run(&ws, &file, &report);
        let t = &report["targets"][0];
        let point = &t["recovery_point"];
        assert_eq!(point["label"], "point-in-time", "{point:#}");
        assert_eq!(t["rpo"]["method"], "recovery-point", "{t:#}");
        if restore_time == "latest" {
            assert_eq!(point["source"], "latest");
            // moto's latest restorable time is the moment of the backup stage.
            let created = time::OffsetDateTime::parse(
                point["created_at"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap();
            assert!(created >= before - time::Duration::seconds(1), "{point:#}");
        } else {
            assert_eq!(point["id"], restore_time.as_str(), "{point:#}");
            assert_eq!(point["created_at"], restore_time.as_str());
        }
        let restore = stage(&report, "restore");
        assert!(
            restore
                .to_string()
                .contains("rds:RestoreDBClusterToPointInTime"),
            "{restore:#}"
        );
        assert!(
            restore["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("{source} at ")),
            "{restore:#}"
        );
        let run_id = report["run_id"].as_str().unwrap();
        assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
        assert_eq!(report["cleanup"]["complete"], true);
    }
    // Times the cluster cannot restore fail the drill before anything is
    // created or faulted.
    for (restore_time, says) in [
        (
            rfc3339(time::OffsetDateTime::now_utc() + time::Duration::days(1)),
            "is in the future",
        ),
        (
            rfc3339(earliest - time::Duration::hours(1)),
            "is before the earliest restorable time",
        ),
    ] {
        let ws = Workspace::new();
        let file = ws.scenario(
            "rds-cluster-point-in-time",
            &example(
                "rds-cluster-point-in-time.toml",
                "cluster",
                &source,
                &[(
                    "restore_time = \"latest\"",
                    &format!("restore_time = \"{restore_time}\""),
                )],
            ),
        );
        ws.firedrill()
            .args(["run", "--yes"])
            .arg(&file)
            .run()
            .code(1);
        let report = ws.report("rds-cluster-point-in-time");
        let backup = stage(&report, "backup");
        assert_eq!(backup["outcome"], "failed", "{backup:#}");
        let detail = backup["detail"].as_str().unwrap();
        assert!(
            detail.contains(says) && detail.contains("hint:"),
            "{detail}"
        );
        assert_eq!(stage(&report, "fault")["outcome"], "skipped");
        let run_id = report["run_id"].as_str().unwrap();
        assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
    }
    delete_source_cluster(&rds, &source).await;
    assert!(leftovers("us-east-1", &source).await.is_empty());
}
