//! How an S3 drill proves the restored bytes: S3's MD5 `ETag` against the MD5
//! firedrill computed at backup, falling back to a download and SHA-256
//! whenever the two differ.

use crate::support::{Workspace, drop_bucket, emulator_environment, s3, unique};

fn scenario(name: &str, bucket: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\n{}\n[objectives]\nrto = \"2m\"\nrpo = \"30s\"\n\n[[targets]]\nname = \"data\"\nkind = \"s3-bucket\"\nbucket = \"{bucket}\"\n[targets.canary]\nenabled = false\n{extra}",
        emulator_environment()
    )
}

/// The validate stage's "object contents match manifest" check.
fn content_check(report: &serde_json::Value) -> serde_json::Value {
    report["targets"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "object contents match manifest")
        .cloned()
        .unwrap_or_else(|| panic!("no content check in {report:#}"))
}

async fn seed(s3: &aws_sdk_s3::Client, bucket: &str, bodies: &[Vec<u8>]) -> Vec<String> {
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let mut keys = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let key = format!("data/obj-{i:03}");
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
        keys.push(key);
    }
    keys
}

#[tokio::test]
async fn etags_prove_intact_objects_and_always_download_rehashes_them() {
    let s3 = s3().await;
    let bucket = unique("fd-etag");
    let bodies: Vec<Vec<u8>> = (0..10)
        .map(|i| format!("object {i}\n").repeat(50).into_bytes())
        .collect();
    seed(&s3, &bucket, &bodies).await;
    let ws = Workspace::new();
    let fault = "[targets.fault]\naction = \"delete-share\"\nshare = 0.5\n";

    let file = ws.scenario("etag", &scenario("etag", &bucket, fault));
    ws.firedrill()
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(0);
    let check = content_check(&ws.report("etag"));
    assert_eq!(check["status"], "passed", "{check:#}");
    let detail = check["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("10 object(s) match size and MD5: S3's ETag"),
        "{detail}"
    );

    let file = ws.scenario(
        "etag-download",
        &scenario(
            "etag-download",
            &bucket,
            &format!("{fault}[targets.validate]\nalways_download = true\n"),
        ),
    );
    ws.firedrill()
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(0);
    let check = content_check(&ws.report("etag-download"));
    assert_eq!(check["status"], "passed", "{check:#}");
    assert_eq!(
        check["detail"],
        "10 object(s) match size and SHA-256 (each downloaded and hashed)"
    );
    drop_bucket(&s3, &bucket).await;
}

#[tokio::test]
async fn same_size_corruption_is_caught_by_download_when_the_etag_differs() {
    let s3 = s3().await;
    let bucket = unique("fd-samesize");
    // The corrupt fault writes this line (the run id is 22 characters);
    // objects of exactly its length make sizes match, so only the content
    // comparison can catch the damage.
    let garbage_len = format!(
        "firedrill corrupted this object during run {}\n",
        "x".repeat(22)
    )
    .len();
    let bodies: Vec<Vec<u8>> = (0..6u8).map(|i| vec![b'a' + i; garbage_len]).collect();
    let keys = seed(&s3, &bucket, &bodies).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "samesize",
        &scenario(
            "samesize",
            &bucket,
            "[targets.backup]\nmethod = \"none\"\n[targets.fault]\naction = \"corrupt\"\ncount = 2\naccept_data_loss = true\n",
        ),
    );
    ws.firedrill()
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(1);
    let report = ws.report("samesize");
    let check = content_check(&report);
    assert_eq!(check["status"], "failed", "{check:#}");
    assert_eq!(check["detail"], "2 object(s) differ from the manifest");
    let findings = report["targets"][0]["findings"].as_array().unwrap();
    let corrupted = findings
        .iter()
        .find(|f| f["code"] == "s3.objects-corrupted")
        .unwrap_or_else(|| panic!("no corrupted finding in {findings:#?}"));
    let message = corrupted["message"].as_str().unwrap();
    assert!(
        message.starts_with("2 object(s) restored with different contents"),
        "{message}"
    );
    // The diff names the SHA-256 of both sides: the mismatch came from a
    // download, not from the size.
    let diff_path = message
        .rsplit("(full list: ")
        .next()
        .unwrap()
        .trim_end_matches(')');
    let diff = std::fs::read_to_string(diff_path).unwrap();
    let lines: Vec<serde_json::Value> = diff
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{diff}");
    for l in &lines {
        assert_eq!(l["problem"], "corrupted", "{l}");
        assert_ne!(l["expected_sha256"], l["actual_sha256"]);
        assert!(keys.iter().any(|k| k == l["key"].as_str().unwrap()));
    }
    drop_bucket(&s3, &bucket).await;
}
