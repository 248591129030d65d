//! `firedrill runbook`: the Markdown's restore commands, run as written with
//! the AWS CLI against `LocalStack`, bring the data back.

use std::path::PathBuf;
use std::process::Command;

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};

use crate::ec2::{ec2, launch_source};
use crate::postgres::{SourceDb, pg_password, server, summary};
use crate::rds::{create_source_cluster, create_source_instance, delete_automated, rds};
use crate::support::{
    Workspace, ec2_endpoint, emulator_environment, rds_endpoint, s3, s3_endpoint, unique,
};

/// The AWS CLI: `FIREDRILL_AWS_CLI`, the emulators' venv, or `aws` on `PATH`.
fn aws_cli() -> PathBuf {
    if let Ok(p) = std::env::var("FIREDRILL_AWS_CLI") {
        return p.into();
    }
    let venv =
        std::env::var("FIREDRILL_VENV").unwrap_or_else(|_| "/var/cache/firedrill/venv".into());
    let candidates = std::iter::once(PathBuf::from(venv).join("bin/aws")).chain(
        std::env::var_os("PATH")
            .map(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join("aws"))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
    );
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .expect("the AWS CLI is not installed: `make emulators` installs it into the venv (or set FIREDRILL_AWS_CLI)")
}

/// The `sh` blocks of one target's section of the Markdown runbook.
fn blocks(markdown: &str, target: &str) -> Vec<String> {
    let start = markdown
        .find(&format!("### {target} ("))
        .unwrap_or_else(|| panic!("no section for {target}:\n{markdown}"));
    let section = &markdown[start..];
    let end = section[4..].find("\n#").map_or(section.len(), |e| e + 4);
    let mut out = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in section[..end].lines() {
        match (line.trim(), current.as_mut()) {
            ("```sh", None) => current = Some(Vec::new()),
            ("```", Some(_)) => out.push(current.take().unwrap().join("\n")),
            (_, Some(lines)) => lines.push(line.strip_prefix("   ").unwrap_or(line)),
            (_, None) => {}
        }
    }
    out
}

/// Run the commands as one POSIX shell script (variables carry from step to
/// step) with the AWS CLI pointed at the emulator at `endpoint`; returns
/// its stdout.
fn run_script(script: &str, endpoint: &str) -> String {
    let aws = aws_cli();
    let path = format!(
        "{}:{}",
        aws.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The commands stay as written; `aws` reaches the emulator through a
    // function (the CLI ignores AWS_ENDPOINT_URL for some services).
    let script = format!("aws() {{ command aws --endpoint-url \"$EMULATOR\" \"$@\"; }}\n{script}");
    let out = Command::new("sh")
        .arg("-ec")
        .arg(&script)
        .env("EMULATOR", endpoint)
        .env("PATH", path)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "runbook commands failed:\n{script}\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn runbook(ws: &Workspace, name: &str, text: &str) -> String {
    let file = ws.scenario(name, text);
    let ran = ws.firedrill().arg("runbook").arg(&file).run();
    ran.code(0);
    ran.stdout
}

async fn drop_versioned_bucket(s3: &aws_sdk_s3::Client, bucket: &str) {
    let out = s3
        .list_object_versions()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let versions = out
        .versions()
        .iter()
        .map(|v| (v.key(), v.version_id()))
        .chain(
            out.delete_markers()
                .iter()
                .map(|m| (m.key(), m.version_id())),
        );
    for (key, version) in versions {
        s3.delete_object()
            .bucket(bucket)
            .key(key.unwrap())
            .set_version_id(version.map(str::to_string))
            .send()
            .await
            .unwrap();
    }
    s3.delete_bucket().bucket(bucket).send().await.unwrap();
}

#[tokio::test]
async fn runbook_s3_commands_run_as_written_restore_the_deleted_objects() {
    let s3 = s3().await;
    let bucket = unique("runbook-site");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let keys: Vec<String> = (0..20).map(|i| format!("pages/page {i:02}.html")).collect();
    for k in &keys {
        s3.put_object()
            .bucket(&bucket)
            .key(k)
            .body(format!("<h1>{k}</h1>").into_bytes().into())
            .send()
            .await
            .unwrap();
    }
    // The bad day: half the objects deleted (delete markers on top).
    for k in keys.iter().step_by(2) {
        s3.delete_object()
            .bucket(&bucket)
            .key(k)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(crate::support::keys(&s3, &bucket).await.len(), 10);

    let ws = Workspace::new();
    let md = runbook(
        &ws,
        "site",
        &format!(
            "name = \"site\"\ndescription = \"d\"\nowner = \"web-oncall@example.com\"\n{}\n[objectives]\nrto = \"5m\"\nrpo = \"1h\"\n\n[[targets]]\nname = \"site\"\nkind = \"s3-bucket\"\nbucket = \"{bucket}\"\n\n[targets.backup]\nmethod = \"versioning\"\n\n[targets.fault]\naction = \"delete-share\"\nshare = 0.5\n",
            emulator_environment()
        ),
    );
    assert!(
        md.contains("**Owner to call:** web-oncall@example.com"),
        "{md}"
    );
    let steps = blocks(&md, "site");
    assert_eq!(steps.len(), 3, "{md}");
    let out = run_script(&steps.join("\n"), &s3_endpoint());
    let lines: Vec<&str> = out.lines().collect();
    // Step 1 lists the ten deleted keys; step 3 counts twenty objects.
    assert_eq!(lines.len(), 11, "{out}");
    assert_eq!(lines.last().unwrap().trim(), "20", "{out}");
    let mut back = crate::support::keys(&s3, &bucket).await;
    back.sort();
    assert_eq!(back, keys);
    drop_versioned_bucket(&s3, &bucket).await;
}

#[tokio::test]
async fn runbook_ebs_commands_run_as_written_create_a_volume_from_the_newest_snapshot() {
    let ec2 = ec2("us-east-1");
    let vol = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(1)
        .send()
        .await
        .unwrap();
    let volume = vol.volume_id().unwrap().to_string();
    let mut snapshots = Vec::new();
    for _ in 0..2 {
        let s = ec2
            .create_snapshot()
            .volume_id(&volume)
            .send()
            .await
            .unwrap();
        snapshots.push(s.snapshot_id().unwrap().to_string());
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }

    let ws = Workspace::new();
    let md = runbook(
        &ws,
        "data",
        &format!(
            "name = \"data\"\ndescription = \"d\"\nowner = \"storage@example.com\"\n{}\n[objectives]\nrto = \"5m\"\nrpo = \"1h\"\n\n[[targets]]\nname = \"data\"\nkind = \"ebs-volume\"\nvolume_id = \"{volume}\"\n\n[targets.fault]\naction = \"delete\"\n",
            emulator_environment()
        ),
    );
    let steps = blocks(&md, "data");
    // find snapshot, zone of the lost volume, create + wait, attach
    assert_eq!(steps.len(), 4, "{md}");
    assert!(steps[3].contains("attach-volume"), "{}", steps[3]);
    let script = format!(
        "{}\necho \"$SNAPSHOT_ID $AVAILABILITY_ZONE $VOLUME_ID\"",
        steps[..3].join("\n")
    );
    let out = run_script(&script, &ec2_endpoint());
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words.len(), 3, "{out}");
    assert_eq!(words[0], snapshots[1], "the newest snapshot: {out}");
    assert_eq!(words[1], "us-east-1a");
    let restored = ec2
        .describe_volumes()
        .volume_ids(words[2])
        .send()
        .await
        .unwrap();
    let v = &restored.volumes()[0];
    assert_eq!(v.snapshot_id(), Some(snapshots[1].as_str()));
    assert_eq!(v.availability_zone(), Some("us-east-1a"));
    assert_eq!(
        v.state().map(aws_sdk_ec2::types::VolumeState::as_str),
        Some("available")
    );
    for v in [words[2], volume.as_str()] {
        ec2.delete_volume().volume_id(v).send().await.unwrap();
    }
    for s in &snapshots {
        ec2.delete_snapshot().snapshot_id(s).send().await.unwrap();
    }
}

#[tokio::test]
async fn runbook_rds_commands_run_as_written_restore_with_the_named_parameter_group() {
    let rds = rds("us-east-1");
    let id = unique("runbook-db");
    create_source_instance(&rds, &id).await;
    let group = unique("runbook-pg");
    rds.create_db_parameter_group()
        .db_parameter_group_name(&group)
        .db_parameter_group_family("postgres15")
        .description("runbook test")
        .send()
        .await
        .unwrap();
    let snapshot = format!("{id}-snap");
    rds.create_db_snapshot()
        .db_instance_identifier(&id)
        .db_snapshot_identifier(&snapshot)
        .send()
        .await
        .unwrap();

    let ws = Workspace::new();
    let md = runbook(
        &ws,
        "db",
        &format!(
            "name = \"db\"\ndescription = \"d\"\nowner = \"dba@example.com\"\n{}\n[objectives]\nrto = \"30m\"\nrpo = \"1h\"\n\n[[targets]]\nname = \"db\"\nkind = \"rds-instance\"\ninstance = \"{id}\"\n\n[targets.fault]\naction = \"reboot\"\n\n[targets.restore]\ninstance_class = \"db.t3.small\"\nparameter_group = \"{group}\"\n",
            emulator_environment()
        ),
    );
    let steps = blocks(&md, "db");
    assert_eq!(steps.len(), 3, "{md}");
    let out = run_script(
        &format!("{}\necho \"$SNAPSHOT_ID\"", steps.join("\n")),
        &rds_endpoint(),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.last().copied(), Some(snapshot.as_str()), "{out}");
    let restored = format!("{id}-restored");
    let got = rds
        .describe_db_instances()
        .db_instance_identifier(&restored)
        .send()
        .await
        .unwrap();
    let db = &got.db_instances()[0];
    // moto restores the configuration only (no data): that is what is checked.
    assert_eq!(db.db_instance_class(), Some("db.t3.small"));
    assert_eq!(
        db.db_parameter_groups()[0].db_parameter_group_name(),
        Some(group.as_str())
    );
    for i in [restored.as_str(), id.as_str()] {
        rds.delete_db_instance()
            .db_instance_identifier(i)
            .skip_final_snapshot(true)
            .send()
            .await
            .unwrap();
    }
    rds.delete_db_snapshot()
        .db_snapshot_identifier(&snapshot)
        .send()
        .await
        .unwrap();
    rds.delete_db_parameter_group()
        .db_parameter_group_name(&group)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn runbook_postgres_commands_run_as_written_restore_the_newest_dump() {
    let src = SourceDb::seed(300);
    let pg = server();
    let s3 = s3().await;
    let bucket = unique("runbook-dumps");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let ws = Workspace::new();
    let dump = ws.path().join("source.dump");
    let out = Command::new("pg_dump")
        .args([
            "-Fc",
            "-h",
            &pg.host,
            "-p",
            &pg.port.to_string(),
            "-U",
            &pg.user,
        ])
        .args(["-d", &src.name, "-f"])
        .arg(&dump)
        .env("PGPASSWORD", pg_password())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An older, empty object first: the runbook must pick the newest dump.
    for (key, body) in [
        ("firedrill/old/0/x.dump", b"not this one".to_vec()),
        (
            &format!("firedrill/run-1/0/{}.dump", src.name) as &str,
            std::fs::read(&dump).unwrap(),
        ),
    ] {
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }

    let md = runbook(
        &ws,
        "db",
        &format!(
            "name = \"db\"\ndescription = \"d\"\nowner = \"dba@example.com\"\n{}\n[objectives]\nrto = \"30m\"\nrpo = \"1h\"\n\n[[targets]]\nname = \"db\"\nkind = \"postgres\"\nhost = \"{}\"\nport = {}\nuser = \"{}\"\ndatabase = \"{}\"\npassword_env = \"FIREDRILL_PG_PASSWORD\"\n\n[targets.backup]\nbucket = \"{bucket}\"\n\n[targets.fault]\naction = \"delete-rows\"\ntable = \"orders\"\nwhere = \"id % 10 = 0\"\n\n[[targets.check]]\nname = \"orders\"\nquery = \"SELECT count(*) FROM orders\"\nexpect = \"baseline\"\n",
            emulator_environment(),
            pg.host,
            pg.port,
            pg.user,
            src.name
        ),
    );
    let steps = blocks(&md, "db");
    // find, download, create database, pg_restore, one check, the swap
    assert_eq!(steps.len(), 6, "{md}");
    assert!(steps[5].contains("RENAME TO"), "{}", steps[5]);
    let restored = SourceDb {
        name: format!("{}_restored", src.name),
    };
    let script = format!(
        "cd '{}'\nexport FIREDRILL_PG_PASSWORD='{}'\n{}",
        ws.path().display(),
        pg_password(),
        steps[..5].join("\n")
    );
    let out = run_script(&script, &s3_endpoint());
    let before = summary(&src.name).await;
    assert_eq!(summary(&restored.name).await, before);
    let orders = before.iter().find(|t| t.0 == "orders").unwrap().1;
    assert_eq!(
        out.lines().last().map(str::trim),
        Some(orders.to_string().as_str()),
        "{out}"
    );
    crate::support::drop_bucket(&s3, &bucket).await;
}

#[tokio::test]
async fn runbook_durations_come_from_the_drills_recorded_in_the_history() {
    let s3 = s3().await;
    let bucket = unique("runbook-drilled");
    crate::support::seed_bucket(&s3, &bucket, 6).await;
    let ws = Workspace::new();
    let text = format!(
        "name = \"drilled\"\nowner = \"web-oncall@example.com\"\n{}\n[objectives]\nrto = \"2m\"\nrpo = \"1h\"\n\n[[targets]]\nname = \"data\"\nkind = \"s3-bucket\"\nbucket = \"{bucket}\"\n[targets.fault]\naction = \"delete-share\"\nshare = 0.5\n",
        emulator_environment()
    );
    let before = runbook(&ws, "drilled", &text);
    assert!(before.contains("expected: no drill recorded"), "{before}");
    assert!(
        before.contains("**Last successful drill:** no drill recorded"),
        "{before}"
    );
    let file = ws.scenario("drilled", &text);
    for _ in 0..2 {
        ws.firedrill()
            .args(["run", "--yes"])
            .arg(&file)
            .run()
            .code(0);
    }
    // The restore durations of both drills, from their report.json.
    let mut restore_ms: Vec<u64> = std::fs::read_dir(ws.reports().join("drilled"))
        .unwrap()
        .filter_map(|d| {
            let report: serde_json::Value =
                serde_json::from_slice(&std::fs::read(d.ok()?.path().join("report.json")).ok()?)
                    .ok()?;
            report["targets"][0]["stages"]
                .as_array()?
                .iter()
                .find(|s| s["stage"] == "restore")?["timing"]["duration_ms"]
                .as_u64()
        })
        .collect();
    restore_ms.sort_unstable();
    assert_eq!(restore_ms.len(), 2);
    let md = runbook(&ws, "drilled", &text);
    let human = |ms: u64| firedrill_core::timing::human(std::time::Duration::from_millis(ms));
    let expected = format!(
        "expected: median {}, worst {} (2 drills)",
        human(u64::midpoint(restore_ms[0], restore_ms[1])),
        human(restore_ms[1])
    );
    let sync = md
        .lines()
        .find(|l| l.contains("copy every object back"))
        .unwrap();
    assert!(sync.contains(&expected), "{sync}\nwanted {expected}");
    assert!(
        !md.contains("**Last successful drill:** no drill recorded"),
        "{md}"
    );
    crate::support::drop_bucket(&s3, &bucket).await;
}

#[test]
fn runbook_html_to_a_file_and_a_bad_scenario_is_an_error_with_its_place() {
    let ws = Workspace::new();
    let file = ws.scenario(
        "vol",
        &format!(
            "name = \"vol\"\n{}\n[objectives]\nrto = \"5m\"\nrpo = \"1h\"\n\n[[targets]]\nname = \"data\"\nkind = \"ebs-volume\"\nvolume_id = \"vol-0123456789abcdef0\"\n",
            emulator_environment()
        ),
    );
    let out = ws.path().join("runbook.html");
    let ran = ws
        .firedrill()
        .args(["runbook", "--format", "html", "--out"])
        .arg(&out)
        .arg(&file)
        .run();
    ran.code(0);
    assert!(ran.stdout.is_empty(), "{}", ran.stdout);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(
        html.contains("Name=volume-id,Values=vol-0123456789abcdef0"),
        "{html}"
    );

    let bad = ws.scenario(
        "bad",
        "name = \"bad\"\n[objectives]\nrto = \"5m\"\nrpo = \"1h\"\n\n[[targets]]\nname = \"a\"\nkind = \"ebs-volume\"\nvolume_id = \"vol-0123456789abcdef0\"\ndepends_on = [\"b\"]\n",
    );
    let ran = ws.firedrill().arg("runbook").arg(&bad).run();
    ran.code(2);
    assert!(ran.stderr.contains("bad.toml:10:"), "{}", ran.stderr);
}

#[tokio::test]
async fn runbook_rds_cluster_commands_run_as_written_restore_the_cluster_and_a_writer() {
    let rds = rds("us-east-1");
    let id = unique("runbook-cl");
    create_source_cluster(&rds, &id).await;
    let snapshot = format!("{id}-snap");
    rds.create_db_cluster_snapshot()
        .db_cluster_identifier(&id)
        .db_cluster_snapshot_identifier(&snapshot)
        .send()
        .await
        .unwrap();
    let ws = Workspace::new();
    let md = runbook(
        &ws,
        "cl",
        &format!(
            "name = \"cl\"\n{}\n[objectives]\nrto = \"30m\"\nrpo = \"1h\"\n\n[[targets]]\nname = \"cl\"\nkind = \"rds-cluster\"\ncluster = \"{id}\"\n\n[targets.fault]\naction = \"failover\"\n",
            emulator_environment()
        ),
    );
    let steps = blocks(&md, "cl");
    // snapshot + engine, instance class of the members, restore + writer, endpoint
    assert_eq!(steps.len(), 4, "{md}");
    let out = run_script(
        &format!(
            "{}\necho \"$SNAPSHOT_ID $ENGINE $INSTANCE_CLASS\"",
            steps.join("\n")
        ),
        &rds_endpoint(),
    );
    let last: Vec<&str> = out.lines().last().unwrap().split_whitespace().collect();
    assert_eq!(
        last,
        [snapshot.as_str(), "aurora-postgresql", "db.r5.large"],
        "{out}"
    );
    let restored = format!("{id}-restored");
    let writer = rds
        .describe_db_instances()
        .db_instance_identifier(format!("{restored}-1"))
        .send()
        .await
        .unwrap();
    let w = &writer.db_instances()[0];
    assert_eq!(w.db_cluster_identifier(), Some(restored.as_str()));
    assert_eq!(w.db_instance_class(), Some("db.r5.large"));
    for i in [
        format!("{restored}-1"),
        format!("{id}-1"),
        format!("{id}-2"),
    ] {
        rds.delete_db_instance()
            .db_instance_identifier(i)
            .skip_final_snapshot(true)
            .send()
            .await
            .unwrap();
    }
    for c in [&restored, &id] {
        rds.delete_db_cluster()
            .db_cluster_identifier(c)
            .skip_final_snapshot(true)
            .send()
            .await
            .unwrap();
    }
    rds.delete_db_cluster_snapshot()
        .db_cluster_snapshot_identifier(&snapshot)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn runbook_rds_cluster_point_in_time_commands_run_as_written_restore_the_latest_time() {
    let rds = rds("us-east-1");
    let id = unique("runbook-pit");
    create_source_cluster(&rds, &id).await;
    let ws = Workspace::new();
    let md = runbook(
        &ws,
        "pit",
        &format!(
            "name = \"pit\"\n{}\n[objectives]\nrto = \"30m\"\nrpo = \"1h\"\n\n[[targets]]\nname = \"pit\"\nkind = \"rds-cluster\"\ncluster = \"{id}\"\n\n[targets.backup]\nmethod = \"point-in-time\"\n",
            emulator_environment()
        ),
    );
    assert!(md.contains("restore-db-cluster-to-point-in-time"), "{md}");
    let steps = blocks(&md, "pit");
    // restorable window + engine, instance class of the members, restore + writer, endpoint
    assert_eq!(steps.len(), 4, "{md}");
    let out = run_script(
        &format!("{}\necho \"$ENGINE $INSTANCE_CLASS\"", steps.join("\n")),
        &rds_endpoint(),
    );
    let last: Vec<&str> = out.lines().last().unwrap().split_whitespace().collect();
    assert_eq!(last, ["aurora-postgresql", "db.r5.large"], "{out}");
    let restored = format!("{id}-restored");
    let writer = rds
        .describe_db_instances()
        .db_instance_identifier(format!("{restored}-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        writer.db_instances()[0].db_cluster_identifier(),
        Some(restored.as_str())
    );
    for i in [
        format!("{restored}-1"),
        format!("{id}-1"),
        format!("{id}-2"),
    ] {
        rds.delete_db_instance()
            .db_instance_identifier(i)
            .skip_final_snapshot(true)
            .send()
            .await
            .unwrap();
    }
    for c in [&restored, &id] {
        rds.delete_db_cluster()
            .db_cluster_identifier(c)
            .skip_final_snapshot(true)
            .send()
            .await
            .unwrap();
        delete_automated(&rds, c).await;
    }
    assert!(crate::rds::leftovers("us-east-1", &id).await.is_empty());
}

#[tokio::test]
async fn runbook_ec2_commands_run_as_written_launch_the_newest_image() {
    let ec2 = ec2("us-east-1");
    let name = unique("runbook-web");
    let source = launch_source(&ec2, &name).await;
    let mut images = Vec::new();
    for n in 0..2 {
        let img = ec2
            .create_image()
            .instance_id(&source)
            .name(format!("{name}-nightly-{n}"))
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::Image)
                    .tags(
                        aws_sdk_ec2::types::Tag::builder()
                            .key("app")
                            .value(&name)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        images.push(img.image_id().unwrap().to_string());
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let ws = Workspace::new();
    let md = runbook(
        &ws,
        "web",
        &format!(
            "name = \"web\"\n{}\n[objectives]\nrto = \"30m\"\nrpo = \"1d\"\n\n[[targets]]\nname = \"web\"\nkind = \"ec2-instance\"\ninstance_id = \"{source}\"\n\n[targets.backup]\nsource = \"latest\"\nwindow = \"3d\"\nimage_name = \"{name}-nightly-*\"\nimage_tags = {{ app = \"{name}\" }}\n\n[targets.fault]\naction = \"stop\"\n",
            emulator_environment()
        ),
    );
    let steps = blocks(&md, "web");
    // image, type of the lost instance, launch + wait, address
    assert_eq!(steps.len(), 4, "{md}");
    let out = run_script(
        &format!("{}\necho \"$IMAGE_ID $INSTANCE_ID\"", steps.join("\n")),
        &crate::support::ec2_endpoint(),
    );
    let last: Vec<&str> = out.lines().last().unwrap().split_whitespace().collect();
    assert_eq!(last.len(), 2, "{out}");
    assert_eq!(last[0], images[1], "the newest image: {out}");
    let got = ec2
        .describe_instances()
        .instance_ids(last[1])
        .send()
        .await
        .unwrap();
    let launched = &got.reservations()[0].instances()[0];
    assert_eq!(launched.image_id(), Some(images[1].as_str()));
    ec2.terminate_instances()
        .instance_ids(last[1])
        .instance_ids(&source)
        .send()
        .await
        .unwrap();
    for i in &images {
        ec2.deregister_image().image_id(i).send().await.unwrap();
    }
}
