//! Drilling existing recovery points: snapshots the test creates beforehand
//! (several, seconds apart: the emulators stamp them with the current time),
//! restored by `source = "latest"`, `"random"` (seeded, repeatable) or by
//! id; the recovery-point RPO against the objective; and the organisation's
//! snapshots never deleted by cleanup or reap.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use aws_sdk_ec2::Client;
use firedrill_core::recovery::{self, BackupSource, Prefer, RecoveryPoint, SourceSpec};
use time::OffsetDateTime;

use crate::ec2::{create_source_volume, ec2, example, leftovers, volume_exists};
use crate::support::{Ran, Workspace};

/// Snapshot `volume` `n` times, a second or more apart; ids oldest first.
pub(crate) async fn snapshots(ec2: &Client, volume: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        let out = ec2
            .create_snapshot()
            .volume_id(volume)
            .description(format!("nightly {i}"))
            .send()
            .await
            .unwrap();
        ids.push(out.snapshot_id().unwrap().to_string());
    }
    ids
}

/// The snapshot's start time as the emulator recorded it.
async fn start_times(ec2: &Client, ids: &[String]) -> Vec<RecoveryPoint> {
    let out = ec2
        .describe_snapshots()
        .set_snapshot_ids(Some(ids.to_vec()))
        .send()
        .await
        .unwrap();
    out.snapshots()
        .iter()
        .map(|s| {
            let t = s.start_time().unwrap();
            RecoveryPoint::new(
                s.snapshot_id().unwrap(),
                OffsetDateTime::from_unix_timestamp_nanos(t.as_nanos()).unwrap(),
                "snapshot",
            )
        })
        .collect()
}

pub(crate) async fn snapshot_exists(ec2: &Client, id: &str) -> bool {
    ec2.describe_snapshots()
        .snapshot_ids(id)
        .send()
        .await
        .is_ok_and(|o| !o.snapshots().is_empty())
}

pub(crate) async fn cleanup_snapshots(ec2: &Client, ids: &[String]) {
    for id in ids {
        let _ = ec2.delete_snapshot().snapshot_id(id).send().await;
    }
}

pub(crate) async fn run(ws: &Workspace, file: &Path, seed: Option<u64>) -> Ran {
    let mut f = ws.firedrill().args(["run", "--yes"]);
    if let Some(s) = seed {
        f = f.args(["--seed", &s.to_string()]);
    }
    let f = f.arg(file);
    tokio::task::spawn_blocking(move || f.run()).await.unwrap()
}

/// The report of the run that printed `ran`'s output.
fn report_of(ran: &Ran) -> serde_json::Value {
    let path = ran
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .unwrap_or_else(|| panic!("no report line: {}", ran.stdout));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn stage<'a>(t: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    t["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == name)
        .unwrap_or_else(|| panic!("no stage {name}: {t}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ebs_volume_latest_restores_the_newest_snapshot_and_never_deletes_it() {
    let ec2 = ec2("us-east-1");
    let volume = create_source_volume(&ec2, "fd-existing").await;
    let snaps = snapshots(&ec2, &volume, 3).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "existing",
        &example(
            "ebs-volume-existing.toml",
            "vol-0123456789abcdef0",
            &volume,
            |t| t,
        ),
    );
    let ran = run(&ws, &file, Some(11)).await;
    ran.code(0);
    let report = &report_of(&ran);
    crate::iam::assert_policy_allows_the_run(&ws, &file, report);
    let t = &report["targets"][0];
    assert_eq!(t["recovery_point"]["id"], snaps[2].as_str(), "{t:#}");
    assert_eq!(t["recovery_point"]["source"], "latest");
    assert_eq!(t["recovery_point"]["candidates"], 3);
    assert_eq!(t["rpo"]["method"], "recovery-point", "{t:#}");
    assert_eq!(report["seed"], 11);
    assert!(
        ran.stdout.contains(&format!(
            "data: {} (snapshot; latest of 3 within 7d)",
            snaps[2]
        )),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout
            .contains("data: last proven: never (before this run)"),
        "{}",
        ran.stdout
    );
    let backup = stage(t, "backup");
    assert!(
        backup["detail"]
            .as_str()
            .unwrap()
            .starts_with(&format!("chose existing completed snapshot {}", snaps[2])),
        "{backup}"
    );
    // The fault deleted the volume; what protects it is the existing snapshot,
    // which the fault journal names and nothing deleted or tagged.
    assert!(!volume_exists(&ec2, &volume).await);
    let ledger = std::fs::read_to_string(
        ws.reports()
            .join("ebs-volume-existing")
            .join(report["run_id"].as_str().unwrap())
            .join("ledger.jsonl"),
    )
    .unwrap();
    assert!(
        ledger.contains(&format!("\"protected_by\":[\"{}\"]", snaps[2])),
        "{ledger}"
    );
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
    let reaped = ws.firedrill().arg("reap").run();
    reaped.code(0);
    for s in &snaps {
        assert!(snapshot_exists(&ec2, s).await, "{s} was deleted");
    }
    let tagged = ec2
        .describe_snapshots()
        .snapshot_ids(&snaps[2])
        .send()
        .await
        .unwrap();
    assert!(
        tagged.snapshots()[0].tags().is_empty(),
        "the organisation's snapshot is not tagged: {tagged:?}"
    );
    // The history records the point as proven.
    let history = std::fs::read_to_string(ws.reports().join("history.jsonl")).unwrap();
    assert!(
        history.contains(&format!(
            "\"proven\":{{\"resource\":\"ebs:{volume}\",\"id\":\"{}\"",
            snaps[2]
        )),
        "{history}"
    );
    cleanup_snapshots(&ec2, &snaps).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ebs_volume_random_is_repeated_by_its_seed_and_prefers_unproven() {
    let ec2 = ec2("us-east-1");
    let volume = create_source_volume(&ec2, "fd-random").await;
    let snaps = snapshots(&ec2, &volume, 4).await;
    let points = start_times(&ec2, &snaps).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "random",
        &example(
            "ebs-volume-random.toml",
            "vol-0123456789abcdef0",
            &volume,
            |t| t.replace("prefer = \"unproven\"\n", ""),
        ),
    );
    let spec = SourceSpec {
        source: BackupSource::Random,
        window: Some(Duration::from_hours(30 * 24)),
        prefer: Prefer::Any,
    };
    let mut chosen = Vec::new();
    for seed in [5_u64, 5, 6] {
        let ran = run(&ws, &file, Some(seed)).await;
        ran.code(0);
        let r = report_of(&ran);
        let t = &r["targets"][0];
        let want = recovery::choose(
            &points,
            &spec,
            OffsetDateTime::now_utc(),
            recovery::target_seed(seed, "data"),
            &BTreeMap::new(),
            "",
            "",
        )
        .unwrap()
        .point
        .id;
        assert_eq!(
            t["recovery_point"]["id"],
            want.as_str(),
            "seed {seed}: {t:#}"
        );
        assert_eq!(
            t["recovery_point"]["seed"],
            recovery::target_seed(seed, "data")
        );
        assert!(
            ran.stdout.contains(&format!("--seed {seed}")),
            "{}",
            ran.stdout
        );
        chosen.push(want);
    }
    assert_eq!(chosen[0], chosen[1], "the same seed repeats the choice");
    // Every point the runs proved is now avoided by `prefer = "unproven"`.
    let file = ws.scenario(
        "unproven",
        &example(
            "ebs-volume-random.toml",
            "vol-0123456789abcdef0",
            &volume,
            |t| t,
        ),
    );
    let ran = run(&ws, &file, Some(5)).await;
    ran.code(0);
    let r = report_of(&ran);
    let id = r["targets"][0]["recovery_point"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!chosen.contains(&id), "{id} was proven already: {chosen:?}");
    assert!(r["targets"][0]["last_proven"]["id"].is_string(), "{r:#}");
    assert!(
        volume_exists(&ec2, &volume).await,
        "no fault: volume untouched"
    );
    for s in &snaps {
        assert!(snapshot_exists(&ec2, s).await, "{s} was deleted");
    }
    cleanup_snapshots(&ec2, &snaps).await;
    let _ = ec2.delete_volume().volume_id(&volume).send().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ebs_volume_recovery_point_older_than_the_rpo_fails_with_its_age() {
    let ec2 = ec2("us-east-1");
    let volume = create_source_volume(&ec2, "fd-stale").await;
    let snaps = snapshots(&ec2, &volume, 1).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "stale",
        &example(
            "ebs-volume-existing.toml",
            "vol-0123456789abcdef0",
            &volume,
            |t| {
                t.replace("rpo = \"1d\"", "rpo = \"2s\"")
                    .replace("action = \"delete\"", "action = \"none\"")
            },
        ),
    );
    let ran = run(&ws, &file, None).await;
    ran.code(1);
    let r = &report_of(&ran);
    let t = &r["targets"][0];
    assert_eq!(t["verdict"], "failed", "{t:#}");
    let f = t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "recovery-point.too-old")
        .unwrap_or_else(|| panic!("{t:#}"));
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains(&snaps[0]) && msg.contains("older than the RPO objective of 2.0s"),
        "{msg}"
    );
    assert!(t["recovery_point"]["age_at_fault_ms"].as_u64().unwrap() > 2000);
    assert!(ran.stdout.contains("MISSED"), "{}", ran.stdout);
    assert!(snapshot_exists(&ec2, &snaps[0]).await);
    cleanup_snapshots(&ec2, &snaps).await;
    let _ = ec2.delete_volume().volume_id(&volume).send().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ebs_volume_unknown_id_or_no_snapshot_fails_before_any_fault() {
    let ec2 = ec2("us-east-1");
    let volume = create_source_volume(&ec2, "fd-none").await;
    let ws = Workspace::new();
    for (name, edit) in [
        ("none", "source = \"latest\""),
        ("unknown", "source = \"snap-0123456789abcdef0\""),
    ] {
        let file = ws.scenario(
            name,
            &example(
                "ebs-volume-existing.toml",
                "vol-0123456789abcdef0",
                &volume,
                |t| {
                    t.replace("source = \"latest\"", edit)
                        .replace("window = \"7d\"\n", "")
                },
            ),
        );
        let ran = run(&ws, &file, None).await;
        // A missing recovery point fails the drill: it is not the environment's fault.
        ran.code(1);
        let r = report_of(&ran);
        let t = &r["targets"][0];
        let backup = stage(t, "backup");
        assert_eq!(backup["outcome"], "failed", "{t:#}");
        let detail = backup["detail"].as_str().unwrap();
        match name {
            "none" => assert!(
                detail.contains("has no completed snapshot to restore"),
                "{detail}"
            ),
            _ => assert!(
                detail.contains("completed snapshot `snap-0123456789abcdef0` of")
                    && detail.contains("does not exist (0 found"),
                "{detail}"
            ),
        }
        assert_eq!(stage(t, "fault")["outcome"], "skipped", "{t:#}");
        assert!(
            volume_exists(&ec2, &volume).await,
            "no fault without a backup"
        );
    }
    let _ = ec2.delete_volume().volume_id(&volume).send().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_instance_latest_and_random_ami_found_by_name_and_tags() {
    let ec2 = ec2("us-east-1");
    let source = crate::ec2::launch_source(&ec2, "fd-ami-src").await;
    let prefix = crate::support::unique("fd-nightly");
    let mut amis = Vec::new();
    for i in 0..3 {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        let out = ec2
            .create_image()
            .instance_id(&source)
            .name(format!("{prefix}-{i}"))
            .no_reboot(true)
            .send()
            .await
            .unwrap();
        let id = out.image_id().unwrap().to_string();
        ec2.create_tags()
            .resources(&id)
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("app")
                    .value(&prefix)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        amis.push(id);
    }
    // An AMI of the same name pattern without the tag is not the instance's.
    let stranger = ec2
        .create_image()
        .instance_id(&source)
        .name(format!("{prefix}-stranger"))
        .no_reboot(true)
        .send()
        .await
        .unwrap()
        .image_id()
        .unwrap()
        .to_string();
    let ws = Workspace::new();
    let scenario = |src: &str| {
        example(
            "ec2-instance-existing.toml",
            "i-0123456789abcdef0",
            &source,
            |t| {
                t.replace("web-nightly-*", &format!("{prefix}-*"))
                    .replace("app = \"web\"", &format!("app = \"{prefix}\""))
                    .replace("source = \"latest\"", &format!("source = \"{src}\""))
            },
        )
    };
    let file = ws.scenario("latest", &scenario("latest"));
    let ran = run(&ws, &file, None).await;
    ran.code(0);
    let r = report_of(&ran);
    crate::iam::assert_policy_allows_the_run(&ws, &file, &r);
    let t = &r["targets"][0];
    assert_eq!(t["recovery_point"]["id"], amis[2].as_str(), "{t:#}");
    assert_eq!(t["recovery_point"]["label"], "ami");
    assert_eq!(
        t["recovery_point"]["candidates"], 3,
        "the untagged AMI is not a candidate"
    );
    let file = ws.scenario("random", &scenario("random"));
    let mut picks = Vec::new();
    for _ in 0..2 {
        let ran = run(&ws, &file, Some(99)).await;
        ran.code(0);
        let r = report_of(&ran);
        picks.push(
            r["targets"][0]["recovery_point"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(picks[0], picks[1], "seed 99 repeats its choice");
    assert!(amis.contains(&picks[0]), "{picks:?}");
    assert_eq!(
        crate::ec2::instance_state(&ec2, &source).await.as_deref(),
        Some("running"),
        "stopped and started again"
    );
    let all: Vec<String> = amis.iter().chain([&stranger]).cloned().collect();
    let left = ec2
        .describe_images()
        .set_image_ids(Some(all.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        left.images().len(),
        4,
        "no AMI of the organisation was deregistered"
    );
    for id in &all {
        let _ = ec2.deregister_image().image_id(id).send().await;
    }
    crate::ec2::terminate(&ec2, &source).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rds_instance_latest_and_random_snapshot_are_restored_and_kept() {
    let rds = crate::rds::rds("us-east-1");
    let source = crate::support::unique("fd-src");
    crate::rds::create_source_instance(&rds, &source).await;
    let mut manual = Vec::new();
    for i in 0..3 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let id = format!("{source}-nightly-{i}");
        rds.create_db_snapshot()
            .db_instance_identifier(&source)
            .db_snapshot_identifier(&id)
            .send()
            .await
            .unwrap();
        manual.push(id);
    }
    let ws = Workspace::new();
    let file = ws.scenario(
        "latest",
        &crate::rds::example("rds-instance-existing.toml", "instance", &source, &[]),
    );
    let ran = run(&ws, &file, None).await;
    ran.code(0);
    let r = report_of(&ran);
    crate::iam::assert_policy_allows_the_run(&ws, &file, &r);
    let t = &r["targets"][0];
    assert_eq!(t["recovery_point"]["id"], manual[2].as_str(), "{t:#}");
    assert_eq!(t["recovery_point"]["label"], "manual");
    assert_eq!(stage(t, "restore")["outcome"], "passed", "{t:#}");
    let file = ws.scenario(
        "random",
        &crate::rds::example(
            "rds-instance-existing.toml",
            "instance",
            &source,
            &[("source = \"latest\"", "source = \"random\"")],
        ),
    );
    let mut picks = Vec::new();
    for _ in 0..2 {
        let ran = run(&ws, &file, Some(2026)).await;
        ran.code(0);
        let r = report_of(&ran);
        picks.push(
            r["targets"][0]["recovery_point"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        assert_eq!(r["seed"], 2026);
    }
    assert_eq!(picks[0], picks[1], "seed 2026 repeats its choice");
    for id in &manual {
        let out = rds
            .describe_db_snapshots()
            .db_snapshot_identifier(id)
            .send()
            .await;
        assert!(
            out.is_ok_and(|o| o.db_snapshots().len() == 1),
            "{id} was deleted"
        );
    }
    for id in &manual {
        let _ = rds
            .delete_db_snapshot()
            .db_snapshot_identifier(id)
            .send()
            .await;
    }
    crate::rds::delete_source_instance(&rds, &source).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rds_cluster_random_snapshot_is_repeated_by_its_seed() {
    let rds = crate::rds::rds("us-east-1");
    let source = crate::support::unique("fd-aurora");
    crate::rds::create_source_cluster(&rds, &source).await;
    let mut manual = Vec::new();
    for i in 0..3 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let id = format!("{source}-nightly-{i}");
        rds.create_db_cluster_snapshot()
            .db_cluster_identifier(&source)
            .db_cluster_snapshot_identifier(&id)
            .send()
            .await
            .unwrap();
        manual.push(id);
    }
    let ws = Workspace::new();
    let file = ws.scenario(
        "random",
        &crate::rds::example(
            "rds-cluster-existing.toml",
            "cluster",
            &source,
            &[("prefer = \"unproven\"\n", "")],
        ),
    );
    let mut picks = Vec::new();
    for _ in 0..2 {
        let ran = run(&ws, &file, Some(3)).await;
        ran.code(0);
        let r = report_of(&ran);
        crate::iam::assert_policy_allows_the_run(&ws, &file, &r);
        let t = &r["targets"][0];
        assert_eq!(t["recovery_point"]["source"], "random", "{t:#}");
        picks.push(t["recovery_point"]["id"].as_str().unwrap().to_string());
    }
    assert_eq!(picks[0], picks[1], "seed 3 repeats its choice");
    let file = ws.scenario(
        "latest",
        &crate::rds::example(
            "rds-cluster-existing.toml",
            "cluster",
            &source,
            &[
                ("source = \"random\"", "source = \"latest\""),
                ("prefer = \"unproven\"\n", ""),
            ],
        ),
    );
    let ran = run(&ws, &file, None).await;
    ran.code(0);
    assert_eq!(
        report_of(&ran)["targets"][0]["recovery_point"]["id"],
        manual[2].as_str()
    );
    for id in &manual {
        let out = rds
            .describe_db_cluster_snapshots()
            .db_cluster_snapshot_identifier(id)
            .send()
            .await;
        assert!(
            out.is_ok_and(|o| o.db_cluster_snapshots().len() == 1),
            "{id} was deleted"
        );
        let _ = rds
            .delete_db_cluster_snapshot()
            .db_cluster_snapshot_identifier(id)
            .send()
            .await;
    }
    crate::rds::delete_source_cluster(&rds, &source).await;
}

/// Put `body` at `key`; returns nothing (the version id is the bucket's).
async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &str) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
}

async fn drop_versioned(s3: &aws_sdk_s3::Client, bucket: &str) {
    let out = s3
        .list_object_versions()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    for v in out.versions() {
        let _ = s3
            .delete_object()
            .bucket(bucket)
            .key(v.key().unwrap())
            .version_id(v.version_id().unwrap())
            .send()
            .await;
    }
    for m in out.delete_markers() {
        let _ = s3
            .delete_object()
            .bucket(bucket)
            .key(m.key().unwrap())
            .version_id(m.version_id().unwrap())
            .send()
            .await;
    }
    let _ = s3.delete_bucket().bucket(bucket).send().await;
}

fn sha256(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_point_in_time_restores_every_key_as_it_was_at_t() {
    let s3 = crate::support::s3().await;
    let bucket = crate::support::unique("fd-pitr");
    create_versioned(&s3, &bucket).await;
    for k in ["a", "b", "c", "gone-before"] {
        put(&s3, &bucket, k, &format!("{k} as it was at T")).await;
    }
    s3.delete_object()
        .bucket(&bucket)
        .key("gone-before")
        .send()
        .await
        .unwrap();
    // S3 keeps whole seconds: T lies a clear second after the writes above
    // and a clear second before the damage below.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    put(&s3, &bucket, "a", "a overwritten after T").await;
    s3.delete_object()
        .bucket(&bucket)
        .key("b")
        .send()
        .await
        .unwrap();
    put(&s3, &bucket, "new-after", "written after T").await;
    let t_text = t
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let ws = Workspace::new();
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/s3-point-in-time.toml"),
    )
    .unwrap()
    .replace("orders-versioned", &bucket)
    .replace("2026-01-31T12:00:00Z", &t_text);
    let file = ws.scenario("pitr", &text);
    let ran = run(&ws, &file, None).await;
    ran.code(0);
    let r = report_of(&ran);
    crate::iam::assert_policy_allows_the_run(&ws, &file, &r);
    let t_report = &r["targets"][0];
    assert_eq!(
        stage(t_report, "validate")["outcome"],
        "passed",
        "{t_report:#}"
    );
    assert_eq!(t_report["recovery_point"]["id"], t_text.as_str());
    assert_eq!(t_report["recovery_point"]["label"], "point-in-time");
    assert_eq!(t_report["rpo"]["method"], "recovery-point");
    // The restored bucket matched the listing at T, object by object: read
    // that listing back from the run's manifest.
    let manifest = std::fs::read_to_string(
        ws.reports()
            .join("s3-point-in-time")
            .join(r["run_id"].as_str().unwrap())
            .join("orders.manifest.jsonl"),
    )
    .unwrap();
    let entries: Vec<serde_json::Value> = manifest
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["key"].as_str().unwrap(), e["sha256"].as_str().unwrap()))
        .collect();
    let want: Vec<(String, String)> = ["a", "b", "c"]
        .iter()
        .map(|k| ((*k).to_string(), sha256(&format!("{k} as it was at T"))))
        .collect();
    assert_eq!(
        got,
        want.iter()
            .map(|(k, h)| (k.as_str(), h.as_str()))
            .collect::<Vec<_>>(),
        "a and b as at T, c unchanged, keys deleted before or written after T absent"
    );
    let checks = t_report["checks"].as_array().unwrap();
    assert!(
        !checks.is_empty() && checks.iter().all(|c| c["status"] != "failed"),
        "{checks:?}"
    );
    // The bucket itself is untouched: a is still overwritten, b deleted.
    let a = s3
        .get_object()
        .bucket(&bucket)
        .key("a")
        .send()
        .await
        .unwrap();
    let body = a.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"a overwritten after T");
    drop_versioned(&s3, &bucket).await;
}

/// `pg_dump -Fc` of `db`, as the organisation's own job would write it.
fn pg_dump(db: &str) -> Vec<u8> {
    let s = crate::postgres::server();
    let out = std::process::Command::new("pg_dump")
        .args([
            "-Fc",
            "-h",
            &s.host,
            "-p",
            &s.port.to_string(),
            "-U",
            &s.user,
            "-d",
            db,
        ])
        .env("PGPASSWORD", crate::postgres::pg_password())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Three dumps of `db` under `nightly/`, a second or more apart: the
/// oldest with a sidecar SHA-256, the next with it in its metadata, the
/// newest with none. Keys oldest first.
async fn seed_dumps(s3: &aws_sdk_s3::Client, bucket: &str, db: &str) -> Vec<String> {
    let mut dumps = Vec::new();
    for i in 0..3 {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        let bytes = pg_dump(db);
        let digest = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&bytes))
        };
        let key = format!("nightly/orders-{i}.dump");
        let mut put = s3.put_object().bucket(bucket).key(&key).body(bytes.into());
        if i == 1 {
            put = put.metadata("sha256", &digest);
        }
        put.send().await.unwrap();
        if i == 0 {
            s3.put_object()
                .bucket(bucket)
                .key(format!("{key}.sha256"))
                .body(format!("{digest}  orders-0.dump\n").into_bytes().into())
                .send()
                .await
                .unwrap();
        }
        dumps.push(key);
    }
    dumps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_existing_dumps_are_restored_and_their_sha256_checked_when_declared() {
    let source = crate::postgres::SourceDb::seed(200);
    let bucket = crate::postgres::bucket().await;
    let s3 = crate::support::s3().await;
    let dumps = seed_dumps(&s3, &bucket, &source.name).await;
    let ws = Workspace::new();
    let scenario = |source_line: &str| {
        crate::postgres::scenario(
            "pg-existing",
            &source.name,
            &bucket,
            "1d",
            &format!(
                "{source_line}\n\n[[targets.check]]\nname = \"orders restored\"\nquery = \"SELECT count(*) FROM orders\"\nexpect = {{ min = 1 }}\n"
            ),
        )
    };
    // latest: the newest dump, which declares no SHA-256 (reported).
    let file = ws.scenario(
        "latest",
        &scenario("source = \"latest\"\nprefix = \"nightly/\""),
    );
    let ran = run(&ws, &file, None).await;
    ran.code(0);
    let r = report_of(&ran);
    crate::iam::assert_policy_allows_the_run(&ws, &file, &r);
    let t = &r["targets"][0];
    assert_eq!(t["recovery_point"]["id"], dumps[2].as_str(), "{t:#}");
    assert_eq!(t["recovery_point"]["label"], "dump");
    assert!(
        t["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "postgres.dump-unverified"),
        "{t:#}"
    );
    assert_eq!(stage(t, "validate")["outcome"], "passed", "{t:#}");
    // By id: the SHA-256 from the metadata, then from the sidecar, verified.
    for (i, from) in [(1, "object metadata"), (0, "sidecar file")] {
        let file = ws.scenario("by-id", &scenario(&format!("source = \"{}\"", dumps[i])));
        let ran = run(&ws, &file, None).await;
        ran.code(0);
        let r = report_of(&ran);
        let t = &r["targets"][0];
        assert_eq!(t["recovery_point"]["id"], dumps[i].as_str());
        assert_eq!(stage(t, "backup")["facts"]["sha256_from"], from, "{t:#}");
        assert!(
            stage(t, "restore")["detail"]
                .as_str()
                .unwrap()
                .contains("SHA-256 verified"),
            "{t:#}"
        );
    }
    // A sidecar that disagrees with the bytes fails the restore.
    s3.put_object()
        .bucket(&bucket)
        .key(format!("{}.sha256", dumps[0]))
        .body("0".repeat(64).into_bytes().into())
        .send()
        .await
        .unwrap();
    let file = ws.scenario("bad-sum", &scenario(&format!("source = \"{}\"", dumps[0])));
    let ran = run(&ws, &file, None).await;
    ran.code(1);
    let r = report_of(&ran);
    let restore = stage(&r["targets"][0], "restore");
    assert_eq!(restore["outcome"], "failed");
    assert!(
        restore["detail"]
            .as_str()
            .unwrap()
            .contains("differs from the backup"),
        "{restore}"
    );
    // The organisation's dumps are all still there.
    let mut left = crate::support::keys(&s3, &bucket).await;
    left.sort();
    assert_eq!(
        left,
        [
            "nightly/orders-0.dump",
            "nightly/orders-0.dump.sha256",
            "nightly/orders-1.dump",
            "nightly/orders-2.dump"
        ],
        "nothing of the organisation's was deleted"
    );
    for k in left {
        s3.delete_object()
            .bucket(&bucket)
            .key(k)
            .send()
            .await
            .unwrap();
    }
    s3.delete_bucket().bucket(&bucket).send().await.unwrap();
    // A fault whose undo would put the dump's older rows back is refused.
    let file = ws.scenario(
        "refused",
        &scenario("source = \"latest\"\nprefix = \"nightly/\"\n\n[targets.fault]\naction = \"truncate\"\ntable = \"orders\""),
    );
    let ran = ws.firedrill().arg("validate").arg(&file).run();
    ran.code(2);
    assert!(
        ran.stderr.contains("this fault needs `source = \"new\"`"),
        "{}",
        ran.stderr
    );
}

/// An `ebs-volume` target table for a coverage scenario.
pub(crate) fn volume_target(name: &str, volume: &str, extra: &str) -> String {
    format!(
        "\n[[targets]]\nname = \"{name}\"\nkind = \"ebs-volume\"\nvolume_id = \"{volume}\"\n{extra}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coverage_of_a_mixed_fleet_gives_each_row_and_exit_code() {
    let ec2 = ec2("us-east-1");
    let mut volumes = Vec::new();
    for n in ["none", "stale", "proven", "never"] {
        volumes.push(create_source_volume(&ec2, &format!("fd-cov-{n}")).await);
    }
    let mut snaps = Vec::new();
    for v in &volumes[1..] {
        snaps.extend(snapshots(&ec2, v, 1).await);
    }
    let ws = Workspace::new();
    let header = format!(
        "name = \"fleet\"\n{}\n[objectives]\nrto = \"5m\"\nrpo = \"1d\"\n",
        crate::support::emulator_environment()
    );
    // Prove the third volume's snapshot with a drill.
    let drill = ws.scenario(
        "prove",
        &format!(
            "{header}{}",
            volume_target(
                "proven",
                &volumes[2],
                "[targets.backup]\nsource = \"latest\"\n"
            )
        ),
    );
    run(&ws, &drill, None).await.code(0);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let fleet = format!(
        "{header}{}{}{}{}",
        volume_target("none", &volumes[0], ""),
        volume_target("stale", &volumes[1], "[targets.objectives]\nrpo = \"2s\"\n"),
        volume_target("proven", &volumes[2], ""),
        volume_target("never", &volumes[3], ""),
    );
    let file = ws.scenario("fleet", &fleet);
    let started = std::time::Instant::now();
    let ran = ws
        .firedrill()
        .args(["coverage", "--format", "json"])
        .arg(&file)
        .run();
    eprintln!("coverage of 4 volumes: {:?}", started.elapsed());
    ran.code(1);
    let rows: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    let problems = |i: usize| -> Vec<String> {
        rows[i]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        problems(0),
        ["no recovery point", "never proven"],
        "{rows:#}"
    );
    assert!(
        problems(1)[0].starts_with("newest recovery point is"),
        "{rows:#}"
    );
    assert!(
        problems(1)[0].ends_with("older than the RPO of 2.0s"),
        "{rows:#}"
    );
    assert!(problems(2).is_empty(), "{rows:#}");
    assert_eq!(rows[2]["newest"], snaps[1].as_str());
    assert_eq!(rows[2]["last_proven"]["id"], snaps[1].as_str());
    assert_eq!(problems(3), ["never proven"], "{rows:#}");
    // The table says the same; only the proven resource alone passes.
    let table = ws.firedrill().arg("coverage").arg(&file).run();
    table.code(1);
    assert!(
        table.stdout.contains("3 of 4 resource(s) need attention"),
        "{}",
        table.stdout
    );
    let alone = ws.scenario(
        "alone",
        &format!("{header}{}", volume_target("proven", &volumes[2], "")),
    );
    ws.firedrill()
        .args(["coverage", "--format", "markdown"])
        .arg(&alone)
        .run()
        .code(0);
    // Read-only: every volume and snapshot is still there.
    for v in &volumes {
        assert!(volume_exists(&ec2, v).await);
        let _ = ec2.delete_volume().volume_id(v).send().await;
    }
    for s in &snaps {
        assert!(snapshot_exists(&ec2, s).await);
    }
    cleanup_snapshots(&ec2, &snaps).await;
}

async fn create_versioned(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// The whole seconds of the oldest write and the newest change in a
/// versioned bucket, as the emulator stamped them, and of the last of the
/// first writes of `first` keys.
async fn version_span(s3: &aws_sdk_s3::Client, bucket: &str, first: &[&str]) -> (i64, i64, i64) {
    let out = s3
        .list_object_versions()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let writes = out
        .versions()
        .iter()
        .map(|v| v.last_modified().unwrap().secs());
    let deletes = out
        .delete_markers()
        .iter()
        .map(|m| m.last_modified().unwrap().secs());
    let oldest = writes.clone().min().unwrap();
    let first_done = first
        .iter()
        .map(|k| {
            out.versions()
                .iter()
                .filter(|v| v.key() == Some(k))
                .map(|v| v.last_modified().unwrap().secs())
                .min()
                .unwrap()
        })
        .max()
        .unwrap();
    (oldest, writes.chain(deletes).max().unwrap(), first_done)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_point_in_time_random_restores_the_seeded_time_and_repeats_it() {
    let s3 = crate::support::s3().await;
    let bucket = crate::support::unique("fd-pitr-rand");
    create_versioned(&s3, &bucket).await;
    // Three generations, each in its own whole second (S3 keeps seconds):
    // the first, a second that overwrites two keys and adds one, then the
    // damage.
    for k in ["a", "b", "c"] {
        put(&s3, &bucket, k, &format!("{k} first")).await;
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for k in ["a", "b", "d"] {
        put(&s3, &bucket, k, &format!("{k} second")).await;
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    put(&s3, &bucket, "a", "a damaged").await;
    for k in ["b", "c"] {
        s3.delete_object()
            .bucket(&bucket)
            .key(k)
            .send()
            .await
            .unwrap();
    }
    // The first generation is whole from the second of its last write
    // until the second generation starts, two seconds later at least.
    let (oldest, newest, first_done) = version_span(&s3, &bucket, &["a", "b", "c"]).await;
    let at = |s: i64| OffsetDateTime::from_unix_timestamp(s).unwrap();
    // The run seed whose T lands in the first generation, after its last
    // write and before anything was overwritten or deleted.
    let (seed, t) = (0..1000_u64)
        .find_map(|s| {
            let t = firedrill_core::point_in_time::random_time(
                Duration::from_hours(7 * 24),
                firedrill_core::point_in_time::Versions {
                    oldest: at(oldest),
                    newest: at(newest),
                },
                OffsetDateTime::now_utc(),
                recovery::target_seed(s, "orders"),
                "",
            )
            .unwrap();
            (t >= at(first_done) && t <= at(first_done + 1)).then_some((s, t))
        })
        .unwrap();
    let t_text = recovery::rfc3339(t);
    let ws = Workspace::new();
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/s3-point-in-time-random.toml"),
    )
    .unwrap()
    .replace("orders-versioned", &bucket);
    let file = ws.scenario("pitr-random", &text);
    let mut times = Vec::new();
    for _ in 0..2 {
        let started = std::time::Instant::now();
        let ran = run(&ws, &file, Some(seed)).await;
        eprintln!(
            "s3 point-in-time random drill: {:?} wall",
            started.elapsed()
        );
        ran.code(0);
        let r = report_of(&ran);
        crate::iam::assert_policy_allows_the_run(&ws, &file, &r);
        let tr = &r["targets"][0];
        assert_eq!(stage(tr, "validate")["outcome"], "passed", "{tr:#}");
        let point = &tr["recovery_point"];
        assert_eq!(point["label"], "point-in-time", "{point:#}");
        assert_eq!(point["source"], "random");
        assert_eq!(point["window"], "7d");
        assert_eq!(point["seed"], recovery::target_seed(seed, "orders"));
        assert!(
            stage(tr, "backup")["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("seed {}", recovery::target_seed(seed, "orders"))),
            "{tr:#}"
        );
        times.push(point["id"].as_str().unwrap().to_string());
        // The restored bucket held the first generation: a and b before
        // they were overwritten, c before it was deleted, d not yet written.
        let manifest = std::fs::read_to_string(
            ws.reports()
                .join("s3-point-in-time-random")
                .join(r["run_id"].as_str().unwrap())
                .join("orders.manifest.jsonl"),
        )
        .unwrap();
        let got: Vec<(String, String)> = manifest
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|e| {
                (
                    e["key"].as_str().unwrap().to_string(),
                    e["sha256"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = ["a", "b", "c"]
            .iter()
            .map(|k| ((*k).to_string(), sha256(&format!("{k} first"))))
            .collect();
        assert_eq!(got, want, "the bucket as it was at {t_text}");
    }
    assert_eq!(times, [t_text.clone(), t_text], "seed {seed} repeats T");
    drop_versioned(&s3, &bucket).await;
}
