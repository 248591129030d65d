//! The crash matrix's subjects: every kind with a fault that damages its
//! named resource, each with a fresh source per run and its own check that
//! the source came back (or a retained copy of it exists).

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;

use super::{Crashed, Subject, run_matrix};
use crate::postgres::{SourceDb, databases_of_run, summary, table_exists};
use crate::support::{
    buckets_containing, drop_bucket, emulator_environment, keys, s3, seed_bucket, unique,
};
use crate::{ec2, postgres, rds};

const REGION: &str = "us-east-1";
const RETAINED_TAG: &str = "firedrill:retained";

/// Every object of a bucket, body included.
async fn bodies(bucket: &str) -> BTreeMap<String, Vec<u8>> {
    let s3 = s3().await;
    let mut out = BTreeMap::new();
    for k in keys(&s3, bucket).await {
        let o = s3.get_object().bucket(bucket).key(&k).send().await.unwrap();
        out.insert(k, o.body.collect().await.unwrap().into_bytes().to_vec());
    }
    out
}

/// An S3 bucket: objects deleted or overwritten.
struct S3Bucket {
    name: &'static str,
    fault: &'static str,
    bucket: String,
    before: BTreeMap<String, Vec<u8>>,
}

impl Subject for S3Bucket {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn fresh(&mut self) -> String {
        self.bucket = unique("fd-crash");
        seed_bucket(&s3().await, &self.bucket, 30).await;
        self.before = bodies(&self.bucket).await;
        crate::signals::s3_scenario(
            self.name,
            &emulator_environment(),
            &self.bucket,
            &format!(
                "[targets.canary]\ninterval = \"200ms\"\n[targets.fault]\n{}\n",
                self.fault
            ),
        )
    }

    async fn verify(&mut self, c: &Crashed) {
        let now = bodies(&self.bucket).await;
        assert!(
            now == self.before,
            "{} after {}: the bucket differs from before the run ({} objects, {} before)",
            self.name,
            c.point,
            now.len(),
            self.before.len()
        );
        assert!(c.retained.is_empty(), "{c:?}");
        let left = buckets_containing(&s3().await, &c.run_id).await;
        assert!(left.is_empty(), "{}: {left:?}", c.point);
    }

    async fn discard(&mut self, _: &Crashed) {
        drop_bucket(&s3().await, &self.bucket).await;
    }
}

/// A self-managed `PostgreSQL` database: a table dropped, truncated, or rows
/// deleted.
struct Postgres {
    name: &'static str,
    fault: &'static str,
    source: Option<SourceDb>,
    bucket: String,
    before: Vec<(String, i64, String)>,
}

impl Subject for Postgres {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn fresh(&mut self) -> String {
        let source = SourceDb::seed(2_000);
        self.before = summary(&source.name).await;
        self.bucket = postgres::bucket().await;
        let text = postgres::scenario(
            self.name,
            &source.name,
            &self.bucket,
            "30s",
            &format!(
                "[targets.canary]\ninterval = \"200ms\"\n\n[targets.fault]\n{}\n",
                self.fault
            ),
        );
        self.source = Some(source);
        text
    }

    async fn verify(&mut self, c: &Crashed) {
        let db = &self.source.as_ref().unwrap().name;
        assert_eq!(
            summary(db).await,
            self.before,
            "{} after {}: row counts or checksums differ from before the run",
            self.name,
            c.point
        );
        assert!(!table_exists(db, "firedrill_canary").await, "{}", c.point);
        assert!(databases_of_run(&c.run_id).await.is_empty(), "{}", c.point);
        let left = keys(&s3().await, &self.bucket).await;
        assert_eq!(left.len(), c.retained.len(), "{}: {left:?} {c:?}", c.point);
    }

    async fn discard(&mut self, _: &Crashed) {
        self.source = None;
        drop_bucket(&s3().await, &self.bucket).await;
    }
}

/// An RDS instance (moto): stopped or deleted.
struct RdsInstance {
    name: &'static str,
    action: &'static str,
    instance: String,
}

impl Subject for RdsInstance {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn fresh(&mut self) -> String {
        self.instance = unique("fd-crash");
        rds::create_source_instance(&rds::rds(REGION), &self.instance).await;
        let action = format!("action = \"{}\"", self.action);
        rds::example(
            "rds-instance.toml",
            "instance",
            &self.instance,
            &[("action = \"reboot\"", action.as_str())],
        )
    }

    async fn verify(&mut self, c: &Crashed) {
        let client = rds::rds(REGION);
        let status = client
            .describe_db_instances()
            .db_instance_identifier(&self.instance)
            .send()
            .await
            .ok()
            .and_then(|o| {
                o.db_instances()
                    .first()?
                    .db_instance_status()
                    .map(str::to_string)
            });
        let left = rds::leftovers(REGION, &c.run_id).await;
        if status.as_deref() == Some("available") {
            // Intact; a delete recorded but not yet sent still keeps its
            // snapshot, as reap cannot know the call never went out.
            assert!(left.len() == c.retained.len(), "{}: {left:?}", c.point);
            return;
        }
        assert_eq!(
            status, None,
            "{}: the instance is neither up nor gone",
            c.point
        );
        assert_eq!(c.retained.len(), 1, "{}: {c:?}", c.point);
        let snapshot = &c.retained[0].1;
        assert_eq!(left, vec![format!("snapshot {snapshot}")], "{}", c.point);
        assert!(
            rds::snapshot_is_retained(&client, snapshot).await,
            "{}: the snapshot is not tagged retained",
            c.point
        );
    }

    async fn discard(&mut self, c: &Crashed) {
        let client = rds::rds(REGION);
        for (_, snapshot, _) in &c.retained {
            let _ = client
                .delete_db_snapshot()
                .db_snapshot_identifier(snapshot)
                .send()
                .await;
        }
        let _ = client
            .delete_db_instance()
            .db_instance_identifier(&self.instance)
            .skip_final_snapshot(true)
            .send()
            .await;
        rds::delete_automated(&client, &self.instance).await;
    }
}

/// Attach a volume where the faults and the checks expect it.
async fn attach_at_sdf(client: &aws_sdk_ec2::Client, volume: &str, instance: &str) {
    client
        .attach_volume()
        .volume_id(volume)
        .instance_id(instance)
        .device("/dev/sdf")
        .send()
        .await
        .unwrap();
}

/// Where a volume is attached, if it is.
async fn attachment(client: &aws_sdk_ec2::Client, volume: &str) -> Option<(String, String)> {
    let out = client
        .describe_volumes()
        .volume_ids(volume)
        .send()
        .await
        .ok()?;
    let a = out.volumes().first()?.attachments().first()?;
    Some((a.instance_id()?.to_string(), a.device()?.to_string()))
}

/// Retained EC2 copies carry the retained tag; nothing else of the run is
/// left.
async fn ec2_copies_are_tagged(c: &Crashed) {
    let left = ec2::leftovers(REGION, &c.run_id).await;
    if c.retained.is_empty() {
        assert!(left.is_empty(), "{}: {left:?}", c.point);
        return;
    }
    assert!(
        left.iter()
            .all(|l| l.starts_with("image") || l.starts_with("snapshot")),
        "{}: only the copies stay: {left:?}",
        c.point
    );
    let client = ec2::ec2(REGION);
    let run = Filter::builder()
        .name("tag:firedrill:run-id")
        .values(&c.run_id)
        .build();
    let snaps = client
        .describe_snapshots()
        .owner_ids("self")
        .filters(run)
        .send()
        .await
        .unwrap();
    assert!(
        !snaps.snapshots().is_empty(),
        "{}: no snapshot kept",
        c.point
    );
    for s in snaps.snapshots() {
        assert!(
            s.tags().iter().any(|t| t.key() == Some(RETAINED_TAG)),
            "{}: {s:?} is not tagged retained",
            c.point
        );
    }
}

/// An EC2 instance: stopped, terminated, or a volume detached.
struct Ec2Instance {
    name: &'static str,
    fault: &'static str,
    instance: String,
    volume: Option<String>,
}

impl Subject for Ec2Instance {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn fresh(&mut self) -> String {
        let client = ec2::ec2(REGION);
        self.instance = ec2::launch_source(&client, "fd-crash").await;
        self.volume = None;
        if self.fault.contains("detach-volume") {
            let v = ec2::create_source_volume(&client, "fd-crash-data").await;
            attach_at_sdf(&client, &v, &self.instance).await;
            self.volume = Some(v);
        }
        ec2::example(
            "ec2-instance.toml",
            "i-0123456789abcdef0",
            &self.instance,
            |t| t.replace("action = \"stop\"", self.fault),
        )
    }

    async fn verify(&mut self, c: &Crashed) {
        let client = ec2::ec2(REGION);
        let state = ec2::instance_state(&client, &self.instance).await;
        if state.as_deref() != Some("running") {
            assert_eq!(state.as_deref(), Some("terminated"), "{}", c.point);
            assert!(
                !c.retained.is_empty(),
                "{}: terminated and nothing kept",
                c.point
            );
        }
        if let Some(v) = &self.volume {
            assert_eq!(
                attachment(&client, v).await,
                Some((self.instance.clone(), "/dev/sdf".to_string())),
                "{}: the volume is attached again where it was",
                c.point
            );
        }
        ec2_copies_are_tagged(c).await;
    }

    async fn discard(&mut self, c: &Crashed) {
        let client = ec2::ec2(REGION);
        ec2::terminate(&client, &self.instance).await;
        if let Some(v) = &self.volume {
            let _ = client.detach_volume().volume_id(v).force(true).send().await;
            ec2::delete_volume(&client, v).await;
        }
        discard_ec2_copies(c).await;
    }
}

/// Deregister retained images and delete retained snapshots of a run.
async fn discard_ec2_copies(c: &Crashed) {
    let client = ec2::ec2(REGION);
    let images = client
        .describe_images()
        .owners("self")
        .send()
        .await
        .unwrap();
    for i in images.images() {
        if i.name().is_some_and(|n| n.contains(&c.run_id)) {
            let _ = client
                .deregister_image()
                .image_id(i.image_id().unwrap())
                .send()
                .await;
        }
    }
    let run = Filter::builder()
        .name("tag:firedrill:run-id")
        .values(&c.run_id)
        .build();
    let snaps = client
        .describe_snapshots()
        .owner_ids("self")
        .filters(run)
        .send()
        .await
        .unwrap();
    for s in snaps.snapshots() {
        let _ = client
            .delete_snapshot()
            .snapshot_id(s.snapshot_id().unwrap())
            .send()
            .await;
    }
}

/// An EBS volume: detached or deleted.
struct EbsVolume {
    name: &'static str,
    action: &'static str,
    volume: String,
    instance: Option<String>,
}

impl Subject for EbsVolume {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn fresh(&mut self) -> String {
        let client = ec2::ec2(REGION);
        self.volume = ec2::create_source_volume(&client, "fd-crash-vol").await;
        self.instance = None;
        if self.action == "detach" {
            let i = ec2::launch_source(&client, "fd-crash-host").await;
            attach_at_sdf(&client, &self.volume, &i).await;
            self.instance = Some(i);
        }
        ec2::example(
            "ebs-volume.toml",
            "vol-0123456789abcdef0",
            &self.volume,
            |t| {
                t.replace(
                    "action = \"delete\"",
                    &format!("action = \"{}\"", self.action),
                )
            },
        )
    }

    async fn verify(&mut self, c: &Crashed) {
        let client = ec2::ec2(REGION);
        let exists = ec2::volume_exists(&client, &self.volume).await;
        if !exists {
            assert!(
                !c.retained.is_empty(),
                "{}: deleted and nothing kept",
                c.point
            );
        }
        if let Some(i) = &self.instance {
            assert_eq!(
                attachment(&client, &self.volume).await,
                Some((i.clone(), "/dev/sdf".to_string())),
                "{}: attached again where it was",
                c.point
            );
        }
        ec2_copies_are_tagged(c).await;
    }

    async fn discard(&mut self, c: &Crashed) {
        let client = ec2::ec2(REGION);
        if let Some(i) = &self.instance {
            ec2::terminate(&client, i).await;
            let _ = client
                .detach_volume()
                .volume_id(&self.volume)
                .force(true)
                .send()
                .await;
        }
        ec2::delete_volume(&client, &self.volume).await;
        discard_ec2_copies(c).await;
    }
}

fn s3_bucket(name: &'static str, fault: &'static str) -> S3Bucket {
    S3Bucket {
        name,
        fault,
        bucket: String::new(),
        before: BTreeMap::new(),
    }
}

fn pg(name: &'static str, fault: &'static str) -> Postgres {
    Postgres {
        name,
        fault,
        source: None,
        bucket: String::new(),
        before: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_matrix_s3_delete_share() {
    run_matrix(&mut s3_bucket(
        "crash-s3-delete",
        "action = \"delete-share\"\nshare = 0.5",
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_matrix_s3_corrupt() {
    run_matrix(&mut s3_bucket(
        "crash-s3-corrupt",
        "action = \"corrupt\"\ncount = 10",
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_matrix_postgres_drop_table() {
    run_matrix(&mut pg(
        "crash-pg-drop",
        "action = \"drop-table\"\ntable = \"orders\"",
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_matrix_postgres_truncate() {
    run_matrix(&mut pg(
        "crash-pg-truncate",
        "action = \"truncate\"\ntable = \"orders\"",
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_matrix_postgres_delete_rows() {
    run_matrix(&mut pg(
        "crash-pg-rows",
        "action = \"delete-rows\"\ntable = \"orders\"\nwhere = \"id % 3 = 0\"",
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_matrix_rds_instance_stop() {
    let mut s = RdsInstance {
        name: "crash-rds-stop",
        action: "stop",
        instance: String::new(),
    };
    run_matrix(&mut s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_matrix_rds_instance_delete() {
    let mut s = RdsInstance {
        name: "crash-rds-delete",
        action: "delete",
        instance: String::new(),
    };
    run_matrix(&mut s).await;
}

fn ec2_instance(name: &'static str, fault: &'static str) -> Ec2Instance {
    Ec2Instance {
        name,
        fault,
        instance: String::new(),
        volume: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_matrix_ec2_instance_stop() {
    run_matrix(&mut ec2_instance("crash-ec2-stop", "action = \"stop\"")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_matrix_ec2_instance_terminate() {
    run_matrix(&mut ec2_instance(
        "crash-ec2-terminate",
        "action = \"terminate\"",
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_matrix_ec2_instance_detach_volume() {
    run_matrix(&mut ec2_instance(
        "crash-ec2-detach",
        "action = \"detach-volume\"\ndevice = \"/dev/sdf\"",
    ))
    .await;
}

fn ebs(name: &'static str, action: &'static str) -> EbsVolume {
    EbsVolume {
        name,
        action,
        volume: String::new(),
        instance: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_matrix_ebs_volume_detach() {
    run_matrix(&mut ebs("crash-ebs-detach", "detach")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_matrix_ebs_volume_delete() {
    run_matrix(&mut ebs("crash-ebs-delete", "delete")).await;
}

/// `reap --dry-run` after a crash between fault and revert: it names the
/// fault it would undo and the scratch it would delete, and changes nothing
/// (the objects stay deleted, the backup stays, the ledger is unchanged).
/// The real reap then does exactly that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reap_dry_run_lists_what_it_would_undo_and_delete_and_changes_nothing() {
    let mut s = s3_bucket("crash-dry-run", "action = \"delete-share\"\nshare = 0.5");
    let ws = crate::support::Workspace::new();
    let file = ws.scenario(s.name, &s.fresh().await);
    let ran = ws
        .firedrill()
        .env("FIREDRILL_CRASH_AFTER", "fault-done")
        .args(["run", "--yes"])
        .arg(&file)
        .run();
    assert_eq!(ran.code, -1, "{}", ran.stderr);
    let dir = crate::signals::run_dir(&ws, s.name).unwrap();
    let run_id = dir.file_name().unwrap().to_string_lossy().into_owned();
    let ledger = crate::signals::ledger_text(&dir);
    let damaged = bodies(&s.bucket).await;
    assert!(damaged.len() < s.before.len(), "the fault deleted objects");

    let dry = ws.firedrill().args(["reap", "--dry-run"]).run();
    dry.code(0);
    assert!(
        dry.stdout.contains("dry run: nothing changed"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains(&format!(
            "would undo fault `delete-share` on s3://{}",
            s.bucket
        )),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains(&format!("would remove bucket firedrill-{run_id}-0-backup")),
        "{}",
        dry.stdout
    );
    assert_eq!(
        crate::signals::ledger_text(&dir),
        ledger,
        "the ledger is untouched"
    );
    assert_eq!(bodies(&s.bucket).await, damaged, "the bucket is untouched");
    assert_eq!(
        buckets_containing(&s3().await, &run_id).await,
        vec![format!("firedrill-{run_id}-0-backup")],
        "the backup bucket is still there"
    );

    let reap = ws.firedrill().arg("reap").run();
    reap.code(0);
    assert!(reap.stdout.contains("1 fault(s) undone"), "{}", reap.stdout);
    assert!(
        bodies(&s.bucket).await == s.before,
        "the bucket is whole again"
    );
    assert!(buckets_containing(&s3().await, &run_id).await.is_empty());
    drop_bucket(&s3().await, &s.bucket).await;
}
