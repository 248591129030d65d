//! Reports and evidence through the real CLI against `LocalStack`: every
//! format, a signed and hash-chained bundle that `verify` accepts and that
//! fails on tampering, the run history and index page, and the HTML report
//! loaded in headless Chromium.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{
    Workspace, buckets_containing, emulator_environment, require, s3, s3_endpoint, seed_bucket,
    unique,
};

fn scenario(name: &str, bucket: &str) -> String {
    format!(
        "name = \"{name}\"\ndescription = \"Evidence drill\"\ncontrols = [\"SOC2-A1.3\", \"DORA-Art.12\"]\n{}\n[objectives]\nrto = \"2m\"\nrpo = \"30s\"\n\n[[targets]]\nname = \"data\"\nkind = \"s3-bucket\"\nbucket = \"{bucket}\"\n[targets.canary]\ninterval = \"200ms\"\n[targets.fault]\naction = \"delete-share\"\nshare = 0.5\n",
        emulator_environment()
    )
}

fn runs(reports: &Path, scenario: &str) -> Vec<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(reports.join(scenario))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    runs.sort();
    runs
}

/// Headless Chromium with a fresh profile and no network features.
fn chromium(profile: &Path) -> Command {
    let bin = "/usr/bin/chromium";
    assert!(
        Path::new(bin).is_file(),
        "{bin} is missing: install it with `apt-get install chromium` (the project setup does)"
    );
    let mut c = Command::new(bin);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

fn flip_byte(path: &Path, at: usize) -> Vec<u8> {
    let original = std::fs::read(path).unwrap();
    let mut bytes = original.clone();
    let i = at % bytes.len();
    bytes[i] ^= 0x20;
    std::fs::write(path, bytes).unwrap();
    original
}

#[tokio::test]
async fn three_cli_runs_give_reports_signed_chained_bundles_history_and_index() {
    require(&s3_endpoint());
    let s3 = s3().await;
    let bucket = unique("fd-evid");
    seed_bucket(&s3, &bucket, 6).await;
    let ws = Workspace::new();
    let name = "evidence-drill";
    let file = ws.scenario(name, &scenario(name, &bucket));

    let prefix = ws.path().join("drill-key");
    let out = ws.firedrill().args(["keygen", "--out"]).arg(&prefix).run();
    out.code(0);
    let private = ws.path().join("drill-key.key");
    let public = ws.path().join("drill-key.pub");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    for i in 0..3 {
        if i > 0 {
            // Run ids start with the second; keep them in order.
            std::thread::sleep(std::time::Duration::from_millis(1100));
        }
        let ran = ws
            .firedrill()
            .args([
                "run", "--yes", "--quiet", "--format", "html", "--format", "junit", "--format",
                "markdown",
            ])
            .arg(&file)
            .env("FIREDRILL_SIGNING_KEY", &private)
            .run();
        ran.code(0);
        assert!(ran.stdout.contains("evidence: "), "{}", ran.stdout);
    }
    let dirs = runs(&ws.reports(), name);
    assert_eq!(dirs.len(), 3);

    for (i, dir) in dirs.iter().enumerate() {
        check_bundle(&ws, dir, &public, i);
    }
    check_history_and_index(&ws, name);
    check_reseal_and_tampering(&ws, &dirs, &private, &public);
    check_in_browser(&ws, &dirs[0]);
    for dir in &dirs {
        let run_id = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            buckets_containing(&s3, &run_id).await.is_empty(),
            "scratch buckets left by {run_id}"
        );
    }
}

/// Every file of a run is there, it verifies against the key (chained
/// after the first run), and each format says what the report says.
fn check_bundle(ws: &Workspace, dir: &std::path::Path, public: &std::path::Path, i: usize) {
    for f in [
        "report.json",
        "junit.xml",
        "report.md",
        "report.html",
        "manifest.json",
        "manifest.sig",
        "ledger.jsonl",
    ] {
        assert!(dir.join(f).is_file(), "{} missing in {}", f, dir.display());
    }
    let v = ws
        .firedrill()
        .arg("verify")
        .arg(dir)
        .arg("--public-key")
        .arg(public)
        .run();
    v.code(0);
    assert!(
        v.stdout.contains("signature: valid, by the trusted key"),
        "{}",
        v.stdout
    );
    if i > 0 {
        assert!(v.stdout.contains("chain: previous run"), "{}", v.stdout);
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["verdict"], "passed");
    assert_eq!(report["controls"][0], "SOC2-A1.3");
    assert!(
        report["provenance"]["operator"]
            .as_str()
            .unwrap()
            .contains('@')
    );
    assert!(
        report["provenance"]["scenario_text"]
            .as_str()
            .unwrap()
            .contains("DORA-Art.12")
    );
    let junit = quick_junit::Report::deserialize_from_str(
        &std::fs::read_to_string(dir.join("junit.xml")).unwrap(),
    )
    .unwrap();
    assert_eq!(junit.test_suites.len(), 1);
    assert_eq!(junit.test_suites[0].failures, 0);
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("**Verdict: PASSED**") && md.contains("(`DORA-Art.12`)"));
}

/// History: three rows; the index page has three points per measure.
fn check_history_and_index(ws: &Workspace, name: &str) {
    let h = ws.firedrill().args(["history", name]).run();
    h.code(0);
    let rows = h
        .stdout
        .lines()
        .filter(|l| l.starts_with("│ ") && l.contains(name))
        .count();
    assert_eq!(rows, 3, "{}", h.stdout);
    ws.firedrill().args(["report", "--index"]).run().code(0);
    let index = std::fs::read_to_string(ws.reports().join("index.html")).unwrap();
    assert_eq!(index.matches("class=\"rto-point\"").count(), 3);
    assert_eq!(index.matches("class=\"rpo-point\"").count(), 3);
    assert_eq!(index.matches("class=\"objective-line\"").count(), 2);
}

/// Re-rendering reseals with the key; one changed byte, a missing file and a
/// broken chain link each fail verification and name what broke.
fn check_reseal_and_tampering(
    ws: &Workspace,
    dirs: &[std::path::PathBuf],
    private: &std::path::Path,
    public: &std::path::Path,
) {
    // Re-rendering from report.json reseals the manifest with the key.
    let last = dirs.last().unwrap();
    std::fs::remove_file(last.join("report.html")).unwrap();
    ws.firedrill()
        .args(["report", "--format", "html"])
        .arg(last)
        .env("FIREDRILL_SIGNING_KEY", private)
        .run()
        .code(0);
    ws.firedrill()
        .arg("verify")
        .arg(last)
        .arg("--public-key")
        .arg(public)
        .run()
        .code(0);

    // Tampering: one byte of an artifact, then a missing file, then the chain.
    let original = flip_byte(&last.join("junit.xml"), 100);
    let bad = ws.firedrill().arg("verify").arg(last).run();
    bad.code(1);
    assert!(bad.stderr.contains("junit.xml"), "{}", bad.stderr);
    std::fs::write(last.join("junit.xml"), original).unwrap();
    let md = std::fs::read(last.join("report.md")).unwrap();
    std::fs::remove_file(last.join("report.md")).unwrap();
    let missing = ws.firedrill().arg("verify").arg(last).run();
    missing.code(3);
    assert!(missing.stderr.contains("report.md"), "{}", missing.stderr);
    std::fs::write(last.join("report.md"), md).unwrap();
    let prev_manifest = dirs[1].join("manifest.json");
    let original = flip_byte(&prev_manifest, 40);
    let chain = ws.firedrill().arg("verify").arg(last).run();
    chain.code(1);
    assert!(chain.stderr.contains("chain link"), "{}", chain.stderr);
    std::fs::write(&prev_manifest, original).unwrap();
    // Intact, but without a trusted key: integrity only, never "verified".
    let unanchored = ws.firedrill().arg("verify").arg(last).run();
    unanchored.code(4);
    assert!(
        unanchored
            .stdout
            .starts_with("integrity only, signature unauthenticated"),
        "{}",
        unanchored.stdout
    );
    assert!(
        !unanchored.stdout.contains("verified"),
        "{}",
        unanchored.stdout
    );
    ws.firedrill().arg("verify").run().code(2);
}

/// The HTML report in a real browser: loads without console errors, and
/// the timeline has one bar per timed stage.
fn check_in_browser(ws: &Workspace, first: &std::path::Path) {
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(first.join("report.json")).unwrap()).unwrap();
    let timed = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["stages"].as_array().unwrap())
        .filter(|s| s.get("timing").is_some())
        .count();
    assert!(timed >= 5, "a passing drill times at least five stages");
    let url = format!("file://{}", first.join("report.html").display());
    let profile = tempfile::tempdir().unwrap();
    let dom = chromium(profile.path())
        .args(["--enable-logging=stderr", "--v=0", "--dump-dom"])
        .arg(&url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&dom.stderr);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("id=\"verdict\""),
        "page did not load: {stderr}"
    );
    let console: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console errors: {console:?}");
    assert_eq!(dom.matches("class=\"stage-bar ").count(), timed);
    let screenshot = first.join("report.png");
    let profile = tempfile::tempdir().unwrap();
    let shot = chromium(profile.path())
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg("--window-size=1280,2000")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        std::fs::metadata(&screenshot).is_ok_and(|m| m.len() > 10_000),
        "no screenshot: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    // The screenshot is added after sealing: verify notes it, still passes.
    let v = ws.firedrill().arg("verify").arg(first).run();
    v.code(4);
    assert!(v.stdout.contains("report.png"), "{}", v.stdout);
    if let Ok(keep) = std::env::var("FIREDRILL_KEEP_SCREENSHOT") {
        std::fs::copy(&screenshot, keep).unwrap();
    }
}

#[test]
fn unknown_control_id_is_a_diagnostic_with_a_suggestion() {
    let ws = Workspace::new();
    let text =
        scenario("bad-controls", "some-bucket").replace("\"DORA-Art.12\"", "\"DORA-Art.21\"");
    let file = ws.scenario("bad-controls", &text);
    let out = ws.firedrill().arg("validate").arg(&file).run();
    out.code(2);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("unknown control `DORA-Art.21`"), "{all}");
    assert!(
        all.contains("did you mean `DORA-Art.11`?") || all.contains("did you mean `DORA-Art.12`?"),
        "{all}"
    );
    assert!(all.contains("bad-controls.toml:3:"), "{all}");
}

#[test]
fn regression_threshold_out_of_range_is_a_diagnostic() {
    let ws = Workspace::new();
    let text = format!(
        "{}\n[run]\nregression_threshold = -0.5\n",
        scenario("bad-threshold", "some-bucket")
    );
    let file = ws.scenario("bad-threshold", &text);
    let out = ws.firedrill().arg("validate").arg(&file).run();
    out.code(2);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("`regression_threshold` is -0.5"), "{all}");
}

/// `firedrill keygen --out DIR/PREFIX`: the private and public key files
/// and the fingerprint, after checking it prints the line to pin.
fn keygen(ws: &Workspace, prefix: &str) -> (PathBuf, PathBuf, String) {
    let out = ws
        .firedrill()
        .args(["keygen", "--out"])
        .arg(ws.path().join(prefix))
        .run();
    out.code(0);
    let line = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint: "))
        .unwrap()
        .to_string();
    assert!(
        out.stdout.contains(&format!("signer = \"ed25519:{line}\"")),
        "{}",
        out.stdout
    );
    (
        ws.path().join(format!("{prefix}.key")),
        ws.path().join(format!("{prefix}.pub")),
        line,
    )
}

/// The attack a new user tried: edit `report.json` of a signed run, re-seal
/// and re-sign with a key of one's own. With the scenario's pinned signer,
/// `--signer` or `--public-key`, verify rejects it (exit 1); without any,
/// it says integrity only (exit 4), never "verified".
#[tokio::test]
async fn bundle_resigned_with_another_key_is_rejected_by_the_pinned_signer() {
    require(&s3_endpoint());
    let s3 = s3().await;
    let bucket = unique("fd-pin");
    seed_bucket(&s3, &bucket, 4).await;
    let ws = Workspace::new();
    let (owner_key, owner_pub, owner_fp) = keygen(&ws, "owner");
    let (attacker_key, _, attacker_fp) = keygen(&ws, "attacker");
    let name = "pinned-drill";
    let text = format!(
        "{}\n[evidence]\nsigner = \"ed25519:{owner_fp}\"\n",
        scenario(name, &bucket)
    );
    let file = ws.scenario(name, &text);

    // A pinned scenario refuses another signing key before touching AWS.
    let refused = ws
        .firedrill()
        .args(["run", "--yes", "--quiet"])
        .arg(&file)
        .env("FIREDRILL_SIGNING_KEY", &attacker_key)
        .run();
    refused.code(2);
    assert!(
        refused.stderr.contains("not the scenario's pinned signer"),
        "{}",
        refused.stderr
    );
    assert!(!ws.reports().join(name).exists(), "nothing ran");

    ws.firedrill()
        .args(["run", "--yes", "--quiet"])
        .arg(&file)
        .env("FIREDRILL_SIGNING_KEY", &owner_key)
        .run()
        .code(0);
    let dir = ws.run_dir(name);
    let signer = format!("ed25519:{owner_fp}");
    let by_scenario = ws
        .firedrill()
        .arg("verify")
        .arg(&dir)
        .arg("--scenario")
        .arg(&file)
        .run();
    by_scenario.code(0);
    assert!(
        by_scenario.stdout.starts_with("verified: "),
        "{}",
        by_scenario.stdout
    );
    ws.firedrill()
        .arg("verify")
        .arg(&dir)
        .args(["--signer", &signer])
        .run()
        .code(0);

    // Tamper and re-sign with the attacker's key.
    let report = dir.join("report.json");
    let original = std::fs::read_to_string(&report).unwrap();
    let edited = original.replacen("\"operator\": \"", "\"operator\": \"someone-else ", 1);
    assert_ne!(original, edited);
    std::fs::write(&report, edited).unwrap();
    ws.firedrill()
        .args(["report", "--format", "markdown"])
        .arg(&dir)
        .env("FIREDRILL_SIGNING_KEY", &attacker_key)
        .run()
        .code(0);
    for anchor in [
        vec!["--scenario".to_string(), file.display().to_string()],
        vec!["--signer".to_string(), signer.clone()],
        vec!["--public-key".to_string(), owner_pub.display().to_string()],
    ] {
        let v = ws.firedrill().arg("verify").arg(&dir).args(&anchor).run();
        v.code(1);
        assert!(
            v.stderr.contains("re-signed with another key"),
            "{anchor:?}: {}",
            v.stderr
        );
        assert!(v.stderr.contains(&attacker_fp), "{}", v.stderr);
        assert!(!v.stdout.contains("verified"), "{}", v.stdout);
    }
    let bare = ws.firedrill().arg("verify").arg(&dir).run();
    bare.code(4);
    assert!(
        bare.stdout
            .starts_with("integrity only, signature unauthenticated"),
        "{}",
        bare.stdout
    );
    assert!(bare.stdout.contains(&attacker_fp) && !bare.stdout.contains("verified"));

    // Bad anchors are usage errors.
    ws.firedrill()
        .arg("verify")
        .arg(&dir)
        .args(["--signer", "ed25519:nope"])
        .run()
        .code(2);
    let unpinned = ws.scenario("unpinned", &scenario("unpinned", &bucket));
    let v = ws
        .firedrill()
        .arg("verify")
        .arg(&dir)
        .arg("--scenario")
        .arg(&unpinned)
        .run();
    v.code(2);
    assert!(v.stderr.contains("pins no signer"), "{}", v.stderr);
    crate::support::drop_bucket(&s3, &bucket).await;
}
