//! `firedrill coverage` over a mixed fleet: DR copies present and absent,
//! encrypted and unencrypted recovery points, versioned and unversioned
//! buckets, an RDS snapshot copied to the DR region, `proven_within` from
//! the file and the flag, `--all` finding a resource the scenario does not
//! name, and the time coverage takes over 30 volumes.

use std::time::{Duration, Instant};

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::VolumeType;
use serde_json::Value;

use crate::ec2::{create_source_volume, ec2};
use crate::rds::{create_source_instance, delete_source_instance, rds};
use crate::sources::{cleanup_snapshots, run, snapshot_exists, snapshots, volume_target};
use crate::support::{Workspace, emulator_environment, unique};

const DR: &str = "us-west-2";

async fn plain_volume(ec2: &Client) -> String {
    let out = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(1)
        .volume_type(VolumeType::Gp3)
        .send()
        .await
        .unwrap();
    out.volume_id().unwrap().to_string()
}

/// Copy a snapshot into the DR region as EC2 describes a copy.
async fn copy_to_dr(snapshot: &str) -> String {
    let out = ec2(DR)
        .copy_snapshot()
        .source_region("us-east-1")
        .source_snapshot_id(snapshot)
        .description(format!("[Copied {snapshot} from us-east-1]"))
        .send()
        .await
        .unwrap();
    out.snapshot_id().unwrap().to_string()
}

fn rows_of(stdout: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn row<'a>(rows: &'a [Value], resource: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["resource"] == resource)
        .unwrap_or_else(|| panic!("no row for {resource}: {rows:#?}"))
}

fn header(extra: &str) -> String {
    format!(
        "name = \"coverage\"\n{}\n[objectives]\nrto = \"5m\"\nrpo = \"1d\"\n{extra}",
        emulator_environment()
    )
}

/// Ids, times and ages vary by run: the table with them replaced.
fn redacted(text: &str, ids: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (id, name) in ids {
        out = out.replace(id, name);
    }
    let time = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z").unwrap();
    // An age is the cell before " / <RPO>": "350ms", "2.1s", "1m 5s".
    let age = regex::Regex::new(r"\d[^│|/]* / ").unwrap();
    let out = time.replace_all(&out, "[time]");
    let out = age.replace_all(&out, "[age] / ");
    // Cell widths follow the ids: keep the cells, not the padding.
    let pad = regex::Regex::new(r" *│ *").unwrap();
    out.lines()
        .filter(|l| !l.starts_with(['╭', '├', '╰']))
        .map(|l| pad.replace_all(l, " │ ").trim().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)]
async fn coverage_reports_dr_copies_encryption_buckets_and_the_whole_region() {
    let ec2 = ec2("us-east-1");
    let enc = create_source_volume(&ec2, "fd-cov-enc").await;
    let plain = plain_volume(&ec2).await;
    let extra = plain_volume(&ec2).await;
    // A volume a drill restored: firedrill's own, never covered.
    let scratch = plain_volume(&ec2).await;
    ec2.create_tags()
        .resources(&scratch)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key(firedrill_core::resource::TAG_RUN_ID)
                .value("fd-cov-run")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut snaps = snapshots(&ec2, &enc, 1).await;
    snaps.extend(snapshots(&ec2, &plain, 1).await);
    let copy = copy_to_dr(&snaps[0]).await;
    let s3 = crate::support::s3().await;
    let (versioned, unversioned) = (unique("fd-cov-v"), unique("fd-cov-u"));
    for b in [&versioned, &unversioned] {
        s3.create_bucket().bucket(b.as_str()).send().await.unwrap();
    }
    s3.put_bucket_versioning()
        .bucket(&versioned)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (rds_home, rds_dr) = (rds("us-east-1"), rds(DR));
    let db = unique("fd-cov-db");
    create_source_instance(&rds_home, &db).await;
    let db_snap = format!("{db}-nightly");
    let made = rds_home
        .create_db_snapshot()
        .db_instance_identifier(&db)
        .db_snapshot_identifier(&db_snap)
        .send()
        .await
        .unwrap();
    let arn = made
        .db_snapshot()
        .unwrap()
        .db_snapshot_arn()
        .unwrap()
        .to_string();
    rds_dr
        .copy_db_snapshot()
        .source_db_snapshot_identifier(&arn)
        .target_db_snapshot_identifier(format!("{db}-dr"))
        .send()
        .await
        .unwrap();

    let ws = Workspace::new();
    // Prove the encrypted volume's snapshot with a real drill.
    let drill = ws.scenario(
        "coverage",
        &format!(
            "{}{}",
            header(""),
            volume_target("enc", &enc, "[targets.backup]\nsource = \"latest\"\n")
        ),
    );
    run(&ws, &drill, None).await.code(0);
    let dr = format!("[targets.restore]\ndr_region = \"{DR}\"\n");
    let fleet = format!(
        "{}{}{}\n[[targets]]\nname = \"db\"\nkind = \"rds-instance\"\ninstance = \"{db}\"\n[targets.restore]\ndr_region = \"{DR}\"\n\n[[targets]]\nname = \"versioned\"\nkind = \"s3-bucket\"\nbucket = \"{versioned}\"\n\n[[targets]]\nname = \"unversioned\"\nkind = \"s3-bucket\"\nbucket = \"{unversioned}\"\n",
        header(""),
        volume_target("enc", &enc, &dr),
        volume_target("plain", &plain, &dr),
    );
    let file = ws.scenario("fleet", &fleet);
    let ran = ws
        .firedrill()
        .args(["coverage", "--format", "json"])
        .arg(&file)
        .run();
    ran.code(1);
    let rows = rows_of(&ran.stdout);
    assert_eq!(rows.len(), 5, "{rows:#?}");
    let enc_row = row(&rows, &format!("ebs:{enc}"));
    assert_eq!(enc_row["newest"], snaps[0].as_str());
    assert_eq!(enc_row["encrypted"], true);
    assert_eq!(enc_row["dr_copy"]["state"], "present", "{enc_row:#}");
    assert_eq!(enc_row["dr_copy"]["id"], copy.as_str());
    assert_eq!(enc_row["last_proven"]["id"], snaps[0].as_str());
    assert_eq!(enc_row["problems"], serde_json::json!([]), "{enc_row:#}");
    let plain_row = row(&rows, &format!("ebs:{plain}"));
    assert_eq!(plain_row["encrypted"], false);
    assert_eq!(plain_row["dr_copy"]["state"], "absent");
    assert_eq!(plain_row["problems"], serde_json::json!(["never proven"]));
    let db_row = rows
        .iter()
        .find(|r| r["target"] == "db")
        .expect("the rds row");
    assert_eq!(db_row["newest"], db_snap.as_str());
    assert_eq!(db_row["dr_copy"]["id"], format!("{db}-dr"), "{db_row:#}");
    let v_row = rows.iter().find(|r| r["target"] == "versioned").unwrap();
    assert_eq!(v_row["newest"], "point-in-time");
    assert_eq!(v_row["rpo_met"], true);
    assert_eq!(
        v_row["encrypted"], true,
        "LocalStack encrypts with SSE-S3 by default: {v_row:#}"
    );
    let u_row = rows.iter().find(|r| r["target"] == "unversioned").unwrap();
    assert!(
        u_row["problems"][0]
            .as_str()
            .unwrap()
            .contains("no recovery point: versioning is off"),
        "{u_row:#}"
    );

    // The table and the Markdown say the same, row by row.
    let ids = [
        (enc.as_str(), "vol-enc"),
        (plain.as_str(), "vol-plain"),
        (snaps[0].as_str(), "snap-enc"),
        (snaps[1].as_str(), "snap-plain"),
        (copy.as_str(), "snap-copy"),
        (db.as_str(), "db"),
        (versioned.as_str(), "bucket-v"),
        (unversioned.as_str(), "bucket-u"),
    ];
    let table = ws.firedrill().arg("coverage").arg(&file).run();
    table.code(1);
    insta::assert_snapshot!("coverage_table", redacted(&table.stdout, &ids));
    let md = ws
        .firedrill()
        .args(["coverage", "--format", "markdown"])
        .arg(&file)
        .run();
    md.code(1);
    insta::assert_snapshot!("coverage_markdown", redacted(&md.stdout, &ids));

    // Proven alone passes; `proven_within` in the file fails it once the
    // proof is older, and the flag overrides the file.
    let alone = |within: &str| format!("{}{}", header(within), volume_target("enc", &enc, &dr));
    let ok = ws.scenario("coverage", &alone(""));
    ws.firedrill().arg("coverage").arg(&ok).run().code(0);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let strict = ws.scenario("coverage", &alone("proven_within = \"1s\"\n"));
    let ran = ws
        .firedrill()
        .args(["coverage", "--format", "json"])
        .arg(&strict)
        .run();
    ran.code(1);
    let problem = rows_of(&ran.stdout)[0]["problems"][0].clone();
    assert!(
        problem.as_str().unwrap().ends_with("longer than 1.0s"),
        "{problem}"
    );
    ws.firedrill()
        .args(["coverage", "--proven-within", "90d"])
        .arg(&strict)
        .run()
        .code(0);

    // `--all`: the volume the scenario does not name gets its own row, with
    // the scenario's objectives; the named ones are not repeated.
    let ran = ws
        .firedrill()
        .args(["coverage", "--all", "--format", "json"])
        .arg(&ok)
        .run();
    ran.code(1);
    let rows = rows_of(&ran.stdout);
    let extra_row = row(&rows, &format!("ebs:{extra}"));
    assert_eq!(extra_row["target"], "-");
    assert_eq!(
        extra_row["problems"],
        serde_json::json!(["no recovery point", "never proven"])
    );
    assert_eq!(extra_row["rpo_ms"], 86_400_000);
    assert!(
        rows.iter()
            .all(|r| r["resource"] != format!("ebs:{scratch}")),
        "a scratch volume is not covered"
    );
    let named: Vec<&Value> = rows
        .iter()
        .filter(|r| r["resource"] == format!("ebs:{enc}"))
        .collect();
    assert_eq!(named.len(), 1);
    assert_eq!(named[0]["target"], "enc");
    assert_eq!(
        row(&rows, &format!("s3://{versioned}"))["target"],
        "-",
        "a bucket the scenario does not name is covered too"
    );

    // Read-only: everything is still there.
    for s in &snaps {
        assert!(snapshot_exists(&ec2, s).await);
    }
    assert!(snapshot_exists(&crate::ec2::ec2(DR), &copy).await);
    cleanup_snapshots(&ec2, &snaps).await;
    cleanup_snapshots(&crate::ec2::ec2(DR), std::slice::from_ref(&copy)).await;
    for v in [&enc, &plain, &extra, &scratch] {
        let _ = ec2.delete_volume().volume_id(v).send().await;
    }
    for b in [&versioned, &unversioned] {
        let _ = s3.delete_bucket().bucket(b.as_str()).send().await;
    }
    let _ = rds_dr
        .delete_db_snapshot()
        .db_snapshot_identifier(format!("{db}-dr"))
        .send()
        .await;
    let _ = rds_home
        .delete_db_snapshot()
        .db_snapshot_identifier(&db_snap)
        .send()
        .await;
    delete_source_instance(&rds_home, &db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coverage_of_30_volumes_is_timed() {
    let ec2 = ec2("us-east-1");
    let mut volumes = Vec::new();
    let mut snaps = Vec::new();
    for _ in 0..30 {
        let v = plain_volume(&ec2).await;
        let s = ec2.create_snapshot().volume_id(&v).send().await.unwrap();
        snaps.push(s.snapshot_id().unwrap().to_string());
        volumes.push(v);
    }
    let ws = Workspace::new();
    let targets: String = volumes
        .iter()
        .enumerate()
        .map(|(i, v)| volume_target(&format!("v{i}"), v, ""))
        .collect();
    let file = ws.scenario("thirty", &format!("{}{targets}", header("")));
    let started = Instant::now();
    let ran = ws
        .firedrill()
        .args(["coverage", "--format", "json"])
        .arg(&file)
        .run();
    let took = started.elapsed();
    eprintln!("coverage of 30 volumes: {took:?}");
    ran.code(1);
    let rows = rows_of(&ran.stdout);
    assert_eq!(rows.len(), 30);
    assert!(
        rows.iter()
            .all(|r| r["problems"] == serde_json::json!(["never proven"])),
        "{rows:#?}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    cleanup_snapshots(&ec2, &snaps).await;
    for v in &volumes {
        let _ = ec2.delete_volume().volume_id(v).send().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)]
async fn coverage_lists_amis_by_the_image_filter_and_dumps_under_the_prefix() {
    let ec2 = ec2("us-east-1");
    let instance = crate::ec2::launch_source(&ec2, "fd-cov-web").await;
    let tag = unique("fd-cov-web");
    let image = ec2
        .create_image()
        .instance_id(&instance)
        .name(&tag)
        .send()
        .await
        .unwrap()
        .image_id()
        .unwrap()
        .to_string();
    ec2.create_tags()
        .resources(&image)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("backup-of")
                .value(&tag)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let copy = crate::ec2::ec2(DR)
        .copy_image()
        .source_region("us-east-1")
        .source_image_id(&image)
        .name(format!("{tag}-dr"))
        .description(format!("Copied {image} from us-east-1"))
        .send()
        .await
        .unwrap()
        .image_id()
        .unwrap()
        .to_string();
    let s3 = crate::support::s3().await;
    let bucket = unique("fd-cov-dumps");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    for (i, key) in ["nightly/orders-0.dump", "nightly/orders-1.dump"]
        .iter()
        .enumerate()
    {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        s3.put_object()
            .bucket(&bucket)
            .key(*key)
            .body(b"PGDMP".to_vec().into())
            .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
            .send()
            .await
            .unwrap();
    }
    let pg = |name: &str, backup: &str| {
        format!(
            "\n[[targets]]\nname = \"{name}\"\nkind = \"postgres\"\nhost = \"127.0.0.1\"\nport = 55432\nuser = \"firedrill\"\ndatabase = \"orders\"\npassword_env = \"FIREDRILL_PG_PASSWORD\"\n[targets.backup]\nbucket = \"{bucket}\"\n{backup}"
        )
    };
    let web = |name: &str, backup: &str| {
        format!(
            "\n[[targets]]\nname = \"{name}\"\nkind = \"ec2-instance\"\ninstance_id = \"{instance}\"\n{backup}[targets.restore]\ndr_region = \"{DR}\"\n"
        )
    };
    let ws = Workspace::new();
    let file = ws.scenario(
        "coverage",
        &format!(
            "{}{}{}{}{}",
            header(""),
            web(
                "web",
                &format!(
                    "[targets.backup]\nsource = \"latest\"\nimage_tags = {{ \"backup-of\" = \"{tag}\" }}\n"
                )
            ),
            web("unfiltered", ""),
            pg("dumps", "source = \"latest\"\nprefix = \"nightly/\"\n"),
            pg("fresh-dumps", ""),
        ),
    );
    let ran = ws
        .firedrill()
        .args(["coverage", "--format", "json"])
        .arg(&file)
        .run();
    ran.code(1);
    let rows = rows_of(&ran.stdout);
    let by = |t: &str| rows.iter().find(|r| r["target"] == t).unwrap().clone();
    let w = by("web");
    assert_eq!(w["newest"], image.as_str(), "{w:#}");
    assert_eq!(w["dr_copy"]["id"], copy.as_str(), "{w:#}");
    assert_eq!(
        by("unfiltered")["problems"][0],
        "recovery points not listed: no image filter in the scenario"
    );
    assert_eq!(by("unfiltered")["dr_copy"]["state"], "not-checked");
    let d = by("dumps");
    assert_eq!(d["newest"], "nightly/orders-1.dump", "{d:#}");
    assert_eq!(d["points"], 2);
    assert_eq!(d["encrypted"], true);
    assert_eq!(d["encryption"], "AES256");
    assert_eq!(d["problems"], serde_json::json!(["never proven"]));
    assert!(
        by("fresh-dumps")["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("recovery points not listed: the backup source is `new`"),
        "{rows:#?}"
    );

    let _ = crate::ec2::ec2(DR)
        .deregister_image()
        .image_id(&copy)
        .send()
        .await;
    let _ = ec2.deregister_image().image_id(&image).send().await;
    crate::ec2::terminate(&ec2, &instance).await;
    crate::support::drop_bucket(&s3, &bucket).await;
}
