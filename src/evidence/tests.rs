//! Bundles built in a temporary directory without AWS: a fresh bundle
//! verifies; one flipped byte anywhere (artifact, manifest, signature,
//! previous run's manifest) does not. `proptest-regressions/evidence/tests.txt`
//! replays the case that once slipped through: the signature file's final
//! newline turned into a vertical tab.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;
use crate::report::artifacts::{Format, write_formats};
use crate::report::fixture;

/// Two sealed runs of one scenario under `root/orders-drill/`; returns the
/// second (chained) run directory.
fn two_runs(root: &Path, key: &ed25519_dalek::SigningKey) -> PathBuf {
    let all = [Format::Json, Format::Junit, Format::Markdown, Format::Html];
    let mut second = PathBuf::new();
    for run_id in ["20260301-090000-aaaaaa", "20260302-090000-bbbbbb"] {
        let dir = root.join("orders-drill").join(run_id);
        std::fs::create_dir_all(dir.join("s3")).unwrap();
        std::fs::write(
            dir.join("ledger.jsonl"),
            format!("{{\"run\":\"{run_id}\"}}\n"),
        )
        .unwrap();
        std::fs::write(dir.join("s3/backup-manifest.json"), "[]\n").unwrap();
        let mut report = fixture::report();
        report.run_id = run_id.to_string();
        write_formats(&dir, &report, &all).unwrap();
        seal(&dir, "orders-drill", run_id, Some(key)).unwrap();
        second = dir;
    }
    second
}

fn key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
}

fn trusted() -> TrustAnchor {
    TrustAnchor::Key(key().verifying_key())
}

#[test]
fn fresh_bundle_verifies_with_chain_and_pinned_key() {
    let root = tempfile::tempdir().unwrap();
    let run = two_runs(root.path(), &key());
    let v = verify(&run, &trusted()).unwrap();
    assert_eq!(v.chained_to.as_deref(), Some("20260301-090000-aaaaaa"));
    assert_eq!(v.artifacts, 6, "{:?}", v.manifest.artifacts);
    assert_eq!(
        v.trust,
        Trust::Authenticated {
            signer: fingerprint(&key().verifying_key())
        }
    );
    assert!(v.unlisted.is_empty());
    let first = run.parent().unwrap().join("20260301-090000-aaaaaa");
    assert!(
        verify(&first, &TrustAnchor::None)
            .unwrap()
            .chained_to
            .is_none()
    );
}

#[test]
fn wrong_key_missing_files_and_unsigned_bundles() {
    let root = tempfile::tempdir().unwrap();
    let run = two_runs(root.path(), &key());
    let other = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let e = verify(&run, &TrustAnchor::Key(other.verifying_key())).unwrap_err();
    assert_eq!(e.exit_code(), 1, "{e}");
    assert!(e.to_string().contains("not by the trusted signer"), "{e}");

    std::fs::remove_file(run.join("report.md")).unwrap();
    let e = verify(&run, &TrustAnchor::None).unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    assert!(e.to_string().contains("report.md"));

    std::fs::remove_file(run.join(SIGNATURE_FILE)).unwrap();
    let e = verify(&run, &TrustAnchor::None).unwrap_err();
    assert_eq!(e.exit_code(), 3);
    assert!(e.to_string().contains(SIGNATURE_FILE));

    // Unsigned: verifies without a key, refuses with one.
    let unsigned = run.parent().unwrap().join("20260301-090000-aaaaaa");
    seal(&unsigned, "orders-drill", "20260301-090000-aaaaaa", None).unwrap();
    assert_eq!(
        verify(&unsigned, &TrustAnchor::None).unwrap().trust,
        Trust::IntegrityOnly { signed_by: None }
    );
    assert_eq!(verify(&unsigned, &trusted()).unwrap_err().exit_code(), 1);
    // Resealing the first run broke the second run's chain link.
    std::fs::write(run.join("report.md"), "x").unwrap();
    let e = verify(&run, &TrustAnchor::None).unwrap_err();
    assert_eq!(e.exit_code(), 3, "signature file still missing: {e}");
}

/// The attack `verify` once passed: edit `report.json`, re-seal and re-sign
/// with a key of one's own. A trusted key or a pinned fingerprint rejects
/// it; without either, verify reports integrity only, never "verified".
#[test]
fn bundle_resigned_with_another_key_is_rejected_and_integrity_only_without_anchor() {
    let root = tempfile::tempdir().unwrap();
    let run = two_runs(root.path(), &key());
    let pin: firedrill_core::SignerPin = format!("ed25519:{}", fingerprint(&key().verifying_key()))
        .parse()
        .unwrap();
    let v = verify(&run, &TrustAnchor::Pin(pin.clone())).unwrap();
    assert_eq!(v.trust.exit_code(), 0, "pinned fingerprint accepted");

    let report = run.join("report.json");
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("\"failed\""), "the fixture run failed");
    std::fs::write(&report, text.replacen("\"failed\"", "\"passed\"", 1)).unwrap();
    let attacker = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let run_id = run.file_name().unwrap().to_str().unwrap().to_string();
    seal(&run, "orders-drill", &run_id, Some(&attacker)).unwrap();

    for anchor in [trusted(), TrustAnchor::Pin(pin)] {
        let e = verify(&run, &anchor).unwrap_err();
        assert_eq!(e.exit_code(), 1, "{e}");
        assert!(e.to_string().contains("re-signed with another key"), "{e}");
    }
    let v = verify(&run, &TrustAnchor::None).unwrap();
    assert_eq!(
        v.trust,
        Trust::IntegrityOnly {
            signed_by: Some(fingerprint(&attacker.verifying_key()))
        }
    );
    assert_eq!(v.trust.exit_code(), INTEGRITY_ONLY_EXIT);
}

#[test]
fn unlisted_files_are_noted_not_fatal() {
    let root = tempfile::tempdir().unwrap();
    let run = two_runs(root.path(), &key());
    std::fs::write(run.join("report.png"), b"png").unwrap();
    let v = verify(&run, &TrustAnchor::None).unwrap();
    assert_eq!(v.unlisted, ["report.png"]);
}

/// Every whitespace change at either end of a file the verifier reads
/// without hashing it (the signature, and the manifest it covers).
fn whitespace_variants(original: &[u8]) -> Vec<(String, Vec<u8>)> {
    let body = original
        .strip_suffix(b"\n")
        .expect("sealed files end in a newline");
    let mut out = Vec::new();
    for ws in [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\r\n", "  \n"] {
        let w = ws.as_bytes();
        out.push((format!("{ws:?} added at the start"), [w, original].concat()));
        out.push((format!("{ws:?} added at the end"), [original, w].concat()));
        out.push((
            format!("final newline changed to {ws:?}"),
            [body, w].concat(),
        ));
    }
    out.push(("final newline removed".into(), body.to_vec()));
    out.retain(|(_, bytes)| bytes != original);
    out
}

#[test]
fn signature_file_is_accepted_only_in_its_canonical_form() {
    let root = tempfile::tempdir().unwrap();
    let run = two_runs(root.path(), &key());
    let path = run.join(SIGNATURE_FILE);
    let original = std::fs::read(&path).unwrap();
    assert_eq!(original.len(), 89, "base64 of 64 bytes and one newline");
    for (what, bytes) in whitespace_variants(&original) {
        std::fs::write(&path, &bytes).unwrap();
        for anchor in [TrustAnchor::None, trusted()] {
            let err = verify(&run, &anchor).expect_err(&what);
            assert_eq!(err.exit_code(), 1, "{what}: {err}");
            assert!(err.to_string().contains(SIGNATURE_FILE), "{what}: {err}");
        }
    }
    std::fs::write(&path, &original).unwrap();
    verify(&run, &trusted()).unwrap();
}

#[test]
fn manifest_is_accepted_only_byte_for_byte_even_unsigned() {
    let root = tempfile::tempdir().unwrap();
    let run = two_runs(root.path(), &key());
    let first = run.parent().unwrap().join("20260301-090000-aaaaaa");
    seal(&first, "orders-drill", "20260301-090000-aaaaaa", None).unwrap();
    for dir in [&run, &first] {
        let path = dir.join(MANIFEST_FILE);
        let original = std::fs::read(&path).unwrap();
        for (what, bytes) in whitespace_variants(&original) {
            std::fs::write(&path, &bytes).unwrap();
            let err = verify(dir, &TrustAnchor::None).expect_err(&what);
            assert_eq!(err.exit_code(), 1, "{what}: {err}");
            assert!(err.to_string().contains(MANIFEST_FILE), "{what}: {err}");
        }
        std::fs::write(&path, &original).unwrap();
    }
    verify(&first, &TrustAnchor::None).unwrap();
}

fn flip(path: &Path, index: usize, bit: u8) {
    let mut bytes = std::fs::read(path).unwrap();
    let i = index % bytes.len();
    bytes[i] ^= 1 << bit;
    std::fs::write(path, bytes).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn one_flipped_byte_anywhere_fails_verification(
        what in 0usize..4,
        file in 0usize..16,
        index in any::<usize>(),
        bit in 0u8..8,
    ) {
        let root = tempfile::tempdir().unwrap();
        let run = two_runs(root.path(), &key());
        let artifacts = crate::report::artifacts::list_files(&run).unwrap();
        let artifacts: Vec<_> = artifacts
            .into_iter()
            .filter(|f| f != MANIFEST_FILE && f != SIGNATURE_FILE)
            .collect();
        let (target, expect) = match what {
            0 => (run.join(&artifacts[file % artifacts.len()]), "artifact"),
            1 => (run.join(MANIFEST_FILE), ""),
            2 => (run.join(SIGNATURE_FILE), SIGNATURE_FILE),
            _ => (
                run.parent().unwrap().join("20260301-090000-aaaaaa").join(MANIFEST_FILE),
                "chain link",
            ),
        };
        flip(&target, index, bit);
        let err = verify(&run, &trusted()).unwrap_err();
        prop_assert_eq!(err.exit_code(), 1, "{}", err);
        prop_assert!(err.to_string().contains(expect), "{} should name {}", err, expect);
    }
}
