//! Credentials never leak: a drill run with unique fake credentials and the
//! most verbose logging leaves neither the secret key nor the session token
//! in any file of the run directory or in its output.

use std::path::Path;

use crate::signals::s3_scenario;
use crate::support::{
    Workspace, buckets_containing, drop_bucket, emulator_environment, s3, seed_bucket, unique,
};

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[tokio::test]
async fn credentials_appear_in_no_report_ledger_or_log() {
    let s3 = s3().await;
    let bucket = unique("fd-secret");
    seed_bucket(&s3, &bucket, 6).await;
    let nonce = unique("x").replace('-', "");
    let secret = format!("FdSecretKey{nonce}Zq9");
    let token = format!("FdSessionToken{nonce}Wv7");
    let ws = Workspace::new();
    let file = ws.scenario(
        "secrets",
        &s3_scenario(
            "secrets",
            &emulator_environment(),
            &bucket,
            "[targets.canary]\ninterval = \"100ms\"\n[targets.fault]\naction = \"corrupt\"\ncount = 2\n",
        ),
    );
    let ran = ws
        .firedrill()
        .env("AWS_ACCESS_KEY_ID", format!("AKIAFD{}", &nonce[..8]))
        .env("AWS_SECRET_ACCESS_KEY", &secret)
        .env("AWS_SESSION_TOKEN", &token)
        .env("FIREDRILL_LOG", "trace")
        .args(["-vvv", "run", "--yes"])
        .arg(&file)
        .run();
    ran.code(0);
    assert!(
        ran.stderr.contains("DEBUG"),
        "-vvv must log at debug level:\n{}",
        &ran.stderr[..ran.stderr.len().min(2000)]
    );
    let plan = ws.firedrill().arg("plan").arg(&file).run();
    let mut files = Vec::new();
    files_under(ws.path(), &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("report.json"))
            && files.iter().any(|f| f.ends_with("ledger.jsonl")),
        "{files:?}"
    );
    for value in [&secret, &token] {
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(value.as_str()),
                "{} contains a credential",
                f.display()
            );
        }
        for (what, text) in [
            ("stdout", &ran.stdout),
            ("stderr", &ran.stderr),
            ("plan output", &plan.stdout),
        ] {
            assert!(
                !text.contains(value.as_str()),
                "{what} contains a credential"
            );
        }
    }
    let report = ws.report("secrets");
    let run_id = report["run_id"].as_str().unwrap();
    assert!(buckets_containing(&s3, run_id).await.is_empty());
    drop_bucket(&s3, &bucket).await;
}
