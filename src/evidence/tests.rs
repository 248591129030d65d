//! Bundles built in a temporary directory without AWS: a fresh bundle
//! verifies; one flipped byte anywhere (artifact, manifest, signature,
//! previous run's manifest) does not.

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

#[test]
fn fresh_bundle_verifies_with_chain_and_pinned_key() {
    let root = tempfile::tempdir().unwrap();
    let run = two_runs(root.path(), &key());
    let v = verify(&run, Some(&key().verifying_key())).unwrap();
    assert_eq!(v.chained_to.as_deref(), Some("20260301-090000-aaaaaa"));
    assert_eq!(v.artifacts, 6, "{:?}", v.manifest.artifacts);
    assert!(v.signed_by.is_some());
    assert!(v.unlisted.is_empty());
    let first = run.parent().unwrap().join("20260301-090000-aaaaaa");
    assert!(verify(&first, None).unwrap().chained_to.is_none());
}

#[test]
fn wrong_key_missing_files_and_unsigned_bundles() {
    let root = tempfile::tempdir().unwrap();
    let run = two_runs(root.path(), &key());
    let other = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let e = verify(&run, Some(&other.verifying_key())).unwrap_err();
    assert_eq!(e.exit_code(), 1, "{e}");
    assert!(e.to_string().contains("not by the given public key"));

    std::fs::remove_file(run.join("report.md")).unwrap();
    let e = verify(&run, None).unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    assert!(e.to_string().contains("report.md"));

    std::fs::remove_file(run.join(SIGNATURE_FILE)).unwrap();
    let e = verify(&run, None).unwrap_err();
    assert_eq!(e.exit_code(), 3);
    assert!(e.to_string().contains(SIGNATURE_FILE));

    // Unsigned: verifies without a key, refuses with one.
    let unsigned = run.parent().unwrap().join("20260301-090000-aaaaaa");
    seal(&unsigned, "orders-drill", "20260301-090000-aaaaaa", None).unwrap();
    assert!(verify(&unsigned, None).unwrap().signed_by.is_none());
    assert_eq!(
        verify(&unsigned, Some(&key().verifying_key()))
            .unwrap_err()
            .exit_code(),
        1
    );
    // Resealing the first run broke the second run's chain link.
    std::fs::write(run.join("report.md"), "x").unwrap();
    let e = verify(&run, None).unwrap_err();
    assert_eq!(e.exit_code(), 3, "signature file still missing: {e}");
}

#[test]
fn unlisted_files_are_noted_not_fatal() {
    let root = tempfile::tempdir().unwrap();
    let run = two_runs(root.path(), &key());
    std::fs::write(run.join("report.png"), b"png").unwrap();
    let v = verify(&run, None).unwrap();
    assert_eq!(v.unlisted, ["report.png"]);
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
        let err = verify(&run, Some(&key().verifying_key())).unwrap_err();
        prop_assert_eq!(err.exit_code(), 1, "{}", err);
        prop_assert!(err.to_string().contains(expect), "{} should name {}", err, expect);
    }
}
