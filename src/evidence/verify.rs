//! `firedrill verify`: every hash, the signature and the chain link.
//! The first thing that does not match is named; exit codes: 0 verified
//! and signed by a trusted key, 1 mismatch, 3 a file is missing, 4
//! integrity only (no trusted key; 2 is command-line usage).

use std::path::{Component, Path};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, VerifyingKey};

use super::keys::{decode_public, fingerprint};
use super::manifest::{
    MANIFEST_FILE, Manifest, SIGNATURE_FILE, manifest_bytes, sha256_file, signature_text,
};
use super::trust::{Trust, TrustAnchor};
use crate::report::artifacts::{MANIFEST_FILES, list_files};

/// What a successful verification established.
#[derive(Debug)]
pub struct Verified {
    pub manifest: Manifest,
    pub artifacts: usize,
    /// Whether a trusted key signed, or only the hashes matched.
    pub trust: Trust,
    pub chained_to: Option<String>,
    /// Files in the run directory the manifest does not list.
    pub unlisted: Vec<String>,
}

/// Why a bundle does not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("missing: {0}")]
    Missing(String),
    #[error("mismatch: {0}")]
    Mismatch(String),
}

impl VerifyError {
    /// The documented exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            VerifyError::Mismatch(_) => 1,
            VerifyError::Missing(_) => 3,
        }
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, VerifyError> {
    std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            VerifyError::Missing(format!("{what} ({})", path.display()))
        } else {
            VerifyError::Missing(format!("{what} ({}): {e}", path.display()))
        }
    })
}

fn safe_relative(p: &str) -> bool {
    !p.is_empty()
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// The signature in `manifest.sig`, accepted only in the one form `seal`
/// writes (base64 of 64 bytes, one newline): a changed, added or removed
/// byte anywhere in the file, whitespace included, is a mismatch.
fn decode_signature(text: &[u8]) -> Result<Signature, VerifyError> {
    let sig = text
        .strip_suffix(b"\n")
        .and_then(|body| B64.decode(body).ok())
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or_else(|| {
            VerifyError::Mismatch(format!(
                "{SIGNATURE_FILE} is not a base64 Ed25519 signature followed by one newline"
            ))
        })?;
    if signature_text(&sig).as_bytes() != text {
        return Err(VerifyError::Mismatch(format!(
            "{SIGNATURE_FILE} is not in its canonical form (base64 of the signature, one newline)"
        )));
    }
    Ok(sig)
}

/// Verify a run directory's bundle. With a trust anchor, the manifest must
/// be signed by exactly that key; without one, a match proves integrity only.
pub fn verify(run_dir: &Path, anchor: &TrustAnchor) -> Result<Verified, VerifyError> {
    let bytes = read(&run_dir.join(MANIFEST_FILE), MANIFEST_FILE)?;
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        VerifyError::Mismatch(format!("{MANIFEST_FILE} is not a valid manifest: {e}"))
    })?;
    // Parsing forgives whitespace; the bundle must not. Only the exact bytes
    // `seal` writes are accepted, so an unsigned manifest cannot change
    // unnoticed either.
    if manifest_bytes(&manifest).ok().as_deref() != Some(bytes.as_slice()) {
        return Err(VerifyError::Mismatch(format!(
            "{MANIFEST_FILE} is not byte for byte as sealed (a byte was added, removed or changed)"
        )));
    }

    // Signature first: it covers the manifest byte for byte.
    let trust = check_signature(run_dir, &manifest, &bytes, anchor)?;

    for a in &manifest.artifacts {
        if !safe_relative(&a.path) || MANIFEST_FILES.contains(&a.path.as_str()) {
            return Err(VerifyError::Mismatch(format!(
                "artifact path `{}` is not a plain relative path",
                a.path
            )));
        }
        let path = run_dir.join(&a.path);
        if !path.is_file() {
            return Err(VerifyError::Missing(format!("artifact {}", a.path)));
        }
        let (sha, size) = sha256_file(&path)
            .map_err(|e| VerifyError::Missing(format!("artifact {}: {e}", a.path)))?;
        if sha != a.sha256 || size != a.size {
            return Err(VerifyError::Mismatch(format!(
                "artifact {}: SHA-256 {sha} ({size} B), manifest says {} ({} B)",
                a.path, a.sha256, a.size
            )));
        }
    }

    let mut chained_to = None;
    if let Some(prev) = &manifest.previous {
        if !safe_relative(&prev.run_id) || prev.run_id.contains('/') {
            return Err(VerifyError::Mismatch(format!(
                "previous run id `{}` is not a plain name",
                prev.run_id
            )));
        }
        let path = run_dir
            .parent()
            .unwrap_or(Path::new("."))
            .join(&prev.run_id)
            .join(MANIFEST_FILE);
        let (sha, _) = sha256_file(&path).map_err(|_| {
            VerifyError::Missing(format!("previous run's manifest ({})", path.display()))
        })?;
        if sha != prev.manifest_sha256 {
            return Err(VerifyError::Mismatch(format!(
                "chain link: previous run {}'s {MANIFEST_FILE} has SHA-256 {sha}, this manifest recorded {}",
                prev.run_id, prev.manifest_sha256
            )));
        }
        chained_to = Some(prev.run_id.clone());
    }

    let listed: std::collections::BTreeSet<&str> =
        manifest.artifacts.iter().map(|a| a.path.as_str()).collect();
    let unlisted = list_files(run_dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|f| !MANIFEST_FILES.contains(&f.as_str()) && !listed.contains(f.as_str()))
        .collect();
    Ok(Verified {
        artifacts: manifest.artifacts.len(),
        trust,
        manifest,
        chained_to,
        unlisted,
    })
}

/// The signature against the manifest's bytes, then the signer against the
/// trust anchor. A bundle re-signed with another key fails here when an
/// anchor is given, and is integrity only when none is.
fn check_signature(
    run_dir: &Path,
    manifest: &Manifest,
    bytes: &[u8],
    anchor: &TrustAnchor,
) -> Result<Trust, VerifyError> {
    let Some(s) = &manifest.signing else {
        if anchor.is_none() {
            return Ok(Trust::IntegrityOnly { signed_by: None });
        }
        return Err(VerifyError::Mismatch(format!(
            "{MANIFEST_FILE} is not signed, but a trusted signer was given"
        )));
    };
    if s.algorithm != "ed25519" {
        return Err(VerifyError::Mismatch(format!(
            "unsupported signature algorithm `{}`",
            s.algorithm
        )));
    }
    let key: VerifyingKey = decode_public(&s.public_key, "the manifest's public key")
        .map_err(|e| VerifyError::Mismatch(e.to_string()))?;
    if fingerprint(&key) != s.fingerprint {
        return Err(VerifyError::Mismatch(
            "the manifest's key fingerprint does not match its public key".into(),
        ));
    }
    let trusted = anchor.accepts(&key).map_err(|trusted| {
        VerifyError::Mismatch(format!(
            "signed by {}, not by the trusted signer {trusted} (the bundle was re-signed with another key)",
            s.fingerprint
        ))
    })?;
    let sig_text = read(&run_dir.join(SIGNATURE_FILE), SIGNATURE_FILE)?;
    let sig = decode_signature(&sig_text)?;
    key.verify_strict(bytes, &sig).map_err(|_| {
        VerifyError::Mismatch(format!(
            "{SIGNATURE_FILE}: the signature does not match {MANIFEST_FILE}"
        ))
    })?;
    Ok(if trusted {
        Trust::Authenticated {
            signer: s.fingerprint.clone(),
        }
    } else {
        Trust::IntegrityOnly {
            signed_by: Some(s.fingerprint.clone()),
        }
    })
}
