//! Evidence in S3 through the real CLI against `LocalStack`, which enforces
//! Object Lock: two runs from two clean report directories (ephemeral
//! runners) upload under one prefix and chain through S3; a locked version
//! cannot be deleted; `verify s3://…` passes and catches a version put over
//! an object; the index over the prefix lists both runs; an upload that
//! fails is an error, never a pass.

use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::support::{
    Workspace, drop_bucket, emulator_environment, require, s3, s3_endpoint, seed_bucket, unique,
};

fn scenario(name: &str, bucket: &str) -> String {
    format!(
        "name = \"{name}\"\ndescription = \"Evidence in S3\"\n{}\n[objectives]\nrto = \"2m\"\nrpo = \"30s\"\n\n[[targets]]\nname = \"data\"\nkind = \"s3-bucket\"\nbucket = \"{bucket}\"\n[targets.canary]\ninterval = \"200ms\"\n[targets.fault]\naction = \"delete-share\"\nshare = 0.5\n",
        emulator_environment()
    )
}

async fn locked_bucket(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.create_bucket()
        .bucket(bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
}

/// Every version under the bucket, deleted past governance retention.
async fn drop_locked_bucket(s3: &aws_sdk_s3::Client, bucket: &str) {
    let versions = s3
        .list_object_versions()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    for v in versions.versions() {
        s3.delete_object()
            .bucket(bucket)
            .key(v.key().unwrap())
            .version_id(v.version_id().unwrap())
            .bypass_governance_retention(true)
            .send()
            .await
            .unwrap();
    }
    for m in versions.delete_markers() {
        s3.delete_object()
            .bucket(bucket)
            .key(m.key().unwrap())
            .version_id(m.version_id().unwrap())
            .send()
            .await
            .unwrap();
    }
    s3.delete_bucket().bucket(bucket).send().await.unwrap();
}

fn run_id(ws: &Workspace, name: &str) -> String {
    ws.run_dir(name)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn count_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

/// The upload time the CLI printed: `… in 0.12 s …`.
fn upload_seconds(stdout: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("evidence uploaded: "))
        .unwrap_or_else(|| panic!("no upload line in\n{stdout}"));
    println!("{line}");
    let after = line.split(" in ").nth(1).unwrap();
    after.split(' ').next().unwrap().parse().unwrap()
}

/// Every object of the run is in S3, locked in governance mode for about a
/// day, the manifest written last; deleting its locked version is refused.
async fn assert_locked_complete_and_undeletable(
    s3: &aws_sdk_s3::Client,
    store: &str,
    manifest_key: &str,
    run_dir: &std::path::Path,
) {
    // Every object is locked in governance mode for about a day, and the
    // manifest was the last one written.
    let head = s3
        .head_object()
        .bucket(store)
        .key(manifest_key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.object_lock_mode(),
        Some(&aws_sdk_s3::types::ObjectLockMode::Governance)
    );
    let until = SystemTime::try_from(*head.object_lock_retain_until_date().unwrap()).unwrap();
    let left = until.duration_since(SystemTime::now()).unwrap();
    assert!(
        left > Duration::from_hours(23) && left <= Duration::from_hours(24),
        "{left:?}"
    );
    let listed = s3
        .list_objects_v2()
        .bucket(store)
        .prefix(manifest_key.trim_end_matches("manifest.json"))
        .send()
        .await
        .unwrap();
    let files = count_files(run_dir);
    assert_eq!(
        listed.contents().len(),
        files,
        "every file of the run directory"
    );
    // The manifest is written last (S3 times have one-second resolution:
    // nothing may be newer than it).
    let manifest_time = listed
        .contents()
        .iter()
        .find(|o| o.key() == Some(manifest_key))
        .and_then(|o| o.last_modified().copied())
        .unwrap();
    assert!(
        listed
            .contents()
            .iter()
            .all(|o| o.last_modified().copied().unwrap() <= manifest_time),
        "the manifest is written last"
    );

    // Deleting the locked version is refused.
    let version = head.version_id().unwrap().to_string();
    let refused = s3
        .delete_object()
        .bucket(store)
        .key(manifest_key)
        .version_id(&version)
        .send()
        .await;
    let err = refused.expect_err("a locked version must not be deletable");
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&err),
        Some("AccessDenied"),
        "{err:?}"
    );
}

#[tokio::test]
async fn evidence_in_s3_is_locked_chained_across_clean_runners_verified_and_indexed() {
    require(&s3_endpoint());
    let s3 = s3().await;
    let data = unique("fd-evs3-data");
    let store = unique("fd-evs3-lock");
    seed_bucket(&s3, &data, 6).await;
    locked_bucket(&s3, &store).await;
    let name = "evidence-s3";
    let uri = format!("s3://{store}/drills");
    // One signing key for both runners, so that verify from S3 authenticates.
    let keys = Workspace::new();
    keys.firedrill()
        .args(["keygen", "--out"])
        .arg(keys.path().join("drill"))
        .run()
        .code(0);
    let (private, public) = (keys.path().join("drill.key"), keys.path().join("drill.pub"));
    let drill = |ws: &Workspace| {
        let file = ws.scenario(name, &scenario(name, &data));
        let ran = ws
            .firedrill()
            .args(["run", "--yes", "--quiet", "--evidence-uri", &uri])
            .arg("--signing-key")
            .arg(&private)
            .args(["--retain", "1d", "--retain-mode", "governance"])
            .arg(&file)
            .run();
        ran.code(0);
        ran
    };

    // Run 1, on a runner with an empty reports directory.
    let first = Workspace::new();
    let ran = drill(&first);
    let run1 = run_id(&first, name);
    let secs = upload_seconds(&ran.stdout);
    println!("upload of run 1: {secs:.3} s");
    assert!(ran.stdout.contains("locked until"), "{}", ran.stdout);

    let manifest_key = format!("drills/{name}/{run1}/manifest.json");
    assert_locked_complete_and_undeletable(&s3, &store, &manifest_key, &first.run_dir(name)).await;

    // Run 2, on another clean runner: its chain link is run 1's manifest
    // as stored in S3.
    std::thread::sleep(Duration::from_millis(1100));
    let second = Workspace::new();
    drill(&second);
    let run2 = run_id(&second, name);
    assert!(run2 > run1);
    let m2: serde_json::Value =
        serde_json::from_slice(&std::fs::read(second.run_dir(name).join("manifest.json")).unwrap())
            .unwrap();
    let stored = s3
        .get_object()
        .bucket(&store)
        .key(&manifest_key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(m2["previous"]["run_id"], run1.as_str());
    assert_eq!(
        m2["previous"]["manifest_sha256"],
        hex::encode(Sha256::digest(&stored)).as_str()
    );

    // Verify from S3, with no local copy: hashes and the chain link.
    let elsewhere = Workspace::new();
    let run2_uri = format!("{uri}/{name}/{run2}");
    let v = elsewhere
        .firedrill()
        .env("FIREDRILL_S3_ENDPOINT", s3_endpoint())
        .args(["verify", &run2_uri])
        .arg("--public-key")
        .arg(&public)
        .run();
    v.code(0);
    assert!(
        v.stdout
            .contains(&format!("chain: previous run {run1}'s manifest matches")),
        "{}",
        v.stdout
    );

    // The index over the prefix: both runs, from two runners.
    let idx = elsewhere
        .firedrill()
        .env("FIREDRILL_S3_ENDPOINT", s3_endpoint())
        .args(["report", "--index", "--from", &uri])
        .run();
    idx.code(0);
    assert!(idx.stdout.contains("(2 run(s))"), "{}", idx.stdout);
    let index = std::fs::read_to_string(elsewhere.reports().join("index.html")).unwrap();
    assert!(index.contains(&run1) && index.contains(&run2));
    assert_eq!(index.matches("class=\"rto-point\"").count(), 2);

    // Tampering: a new version of report.json put over the locked one.
    let key = format!("drills/{name}/{run2}/report.json");
    let original = std::fs::read_to_string(second.run_dir(name).join("report.json")).unwrap();
    let forged = original.replacen("\"passed\"", "\"failed\"", 1);
    assert_ne!(forged, original);
    s3.put_object()
        .bucket(&store)
        .key(&key)
        .body(forged.into_bytes().into())
        .send()
        .await
        .unwrap();
    let v = elsewhere
        .firedrill()
        .env("FIREDRILL_S3_ENDPOINT", s3_endpoint())
        .args(["verify", &run2_uri])
        .arg("--public-key")
        .arg(&public)
        .run();
    v.code(1);
    assert!(v.stderr.contains("artifact report.json"), "{}", v.stderr);

    drop_locked_bucket(&s3, &store).await;
    drop_bucket(&s3, &data).await;
}

#[tokio::test]
async fn evidence_upload_that_fails_is_an_error_finding_and_exit_code_3() {
    require(&s3_endpoint());
    let s3 = s3().await;
    let data = unique("fd-evs3-fail");
    // The listing for the chain link works, but S3 refuses every write:
    // keys longer than 1,024 bytes (KeyTooLongError).
    let store = unique("fd-evs3-refuse");
    seed_bucket(&s3, &data, 4).await;
    s3.create_bucket().bucket(&store).send().await.unwrap();
    let name = "evidence-s3-fail";
    let ws = Workspace::new();
    let file = ws.scenario(name, &scenario(name, &data));
    let uri = format!("s3://{store}/{}", "p".repeat(1000));
    let ran = ws
        .firedrill()
        .args(["run", "--yes", "--quiet", "--evidence-uri", &uri])
        .arg(&file)
        .run();
    ran.code(3);
    assert!(
        ran.stderr.contains("error [evidence.upload-failed]")
            && ran.stderr.contains("KeyTooLongError")
            && ran.stderr.contains(&format!("s3://{store}/ppp")),
        "{}",
        ran.stderr
    );
    assert!(!ran.stdout.contains("evidence uploaded"), "{}", ran.stdout);
    // The drill itself passed and its bundle is complete locally.
    assert_eq!(ws.report(name)["verdict"], "passed");
    // Unsigned: integrity only (exit 4), never "verified".
    let v = ws.firedrill().arg("verify").arg(ws.run_dir(name)).run();
    v.code(4);
    assert!(v.stdout.contains("integrity only"), "{}", v.stdout);

    // A bucket that does not exist: the drill is not started at all.
    let other = Workspace::new();
    let file = other.scenario(name, &scenario(name, &data));
    let missing = unique("fd-evs3-none");
    let ran = other
        .firedrill()
        .args(["run", "--yes", "--quiet"])
        .args(["--evidence-uri", &format!("s3://{missing}/x")])
        .arg(&file)
        .run();
    ran.code(3);
    assert!(
        ran.stderr.contains("error [evidence.upload-failed]")
            && ran
                .stderr
                .contains(&format!("bucket `{missing}` does not exist"))
            && ran.stderr.contains("the drill was not started"),
        "{}",
        ran.stderr
    );
    assert!(!other.reports().join(name).exists(), "no run directory");

    drop_bucket(&s3, &store).await;
    drop_bucket(&s3, &data).await;
}
