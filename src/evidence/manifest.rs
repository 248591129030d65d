//! `manifest.json`: every artifact of a run with its SHA-256, the link to
//! the previous run's manifest, and the signer's public key.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::keys::{encode_public, fingerprint};
use crate::report::artifacts::{MANIFEST_FILES, list_files};

/// File names inside the run directory.
pub const MANIFEST_FILE: &str = MANIFEST_FILES[0];
pub const SIGNATURE_FILE: &str = MANIFEST_FILES[1];

/// Version of the manifest layout.
pub const MANIFEST_FORMAT: u32 = 1;

/// The manifest of one run directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub scenario: String,
    pub run_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub artifacts: Vec<Artifact>,
    /// The previous run of the same scenario, if it has a manifest.
    pub previous: Option<PreviousLink>,
    /// Present when `manifest.sig` holds an Ed25519 signature of this file.
    pub signing: Option<Signing>,
}

/// One file of the run directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// Relative to the run directory, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// The hash-chain link to the previous run's manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousLink {
    pub run_id: String,
    /// SHA-256 of the previous run's `manifest.json`, byte for byte.
    pub manifest_sha256: String,
}

/// Who signed, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    pub algorithm: String,
    /// Base64 of the 32-byte Ed25519 public key.
    pub public_key: String,
    /// `SHA256:<hex>` of the public key bytes.
    pub fingerprint: String,
    pub signature_file: String,
}

/// SHA-256 (hex) and size of a file, streamed.
pub fn sha256_file(path: &Path) -> io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// The latest earlier run directory of the same scenario that has a
/// manifest: siblings of `run_dir` sorted by name (run ids start with the
/// UTC time), before `run_dir`.
pub fn previous_manifest(run_dir: &Path) -> Option<(String, PathBuf)> {
    let parent = run_dir.parent()?;
    let me = run_dir.file_name()?.to_string_lossy().into_owned();
    let mut runs: Vec<String> = std::fs::read_dir(parent)
        .ok()?
        .flatten()
        .filter(|e| e.path().join(MANIFEST_FILE).is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.as_str() < me.as_str())
        .collect();
    runs.sort();
    let prev = runs.pop()?;
    let path = parent.join(&prev).join(MANIFEST_FILE);
    Some((prev, path))
}

/// Hash every file of the run directory, link the previous manifest, write
/// `manifest.json` and, with a key, `manifest.sig`.
pub fn seal(
    run_dir: &Path,
    scenario: &str,
    run_id: &str,
    key: Option<&SigningKey>,
) -> io::Result<Manifest> {
    seal_linked(run_dir, scenario, run_id, key, Chain::Local)
}

/// Where the chain link of a new manifest comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chain {
    /// The latest earlier run directory next to this one.
    Local,
    /// Given by the caller (read from the evidence store in S3); `None`:
    /// the first run there.
    Given(Option<PreviousLink>),
}

/// [`seal`] with the chain link taken from `chain`.
pub fn seal_linked(
    run_dir: &Path,
    scenario: &str,
    run_id: &str,
    key: Option<&SigningKey>,
    chain: Chain,
) -> io::Result<Manifest> {
    let mut artifacts = Vec::new();
    for rel in list_files(run_dir)? {
        if MANIFEST_FILES.contains(&rel.as_str()) {
            continue;
        }
        let (sha256, size) = sha256_file(&run_dir.join(&rel))?;
        artifacts.push(Artifact {
            path: rel,
            size,
            sha256,
        });
    }
    let previous = match chain {
        Chain::Given(link) => link,
        Chain::Local => match previous_manifest(run_dir) {
            Some((run_id, path)) => Some(PreviousLink {
                run_id,
                manifest_sha256: sha256_file(&path)?.0,
            }),
            None => None,
        },
    };
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        scenario: scenario.to_string(),
        run_id: run_id.to_string(),
        created_at: OffsetDateTime::now_utc(),
        artifacts,
        previous,
        signing: key.map(|k| Signing {
            algorithm: "ed25519".to_string(),
            public_key: encode_public(&k.verifying_key()),
            fingerprint: fingerprint(&k.verifying_key()),
            signature_file: SIGNATURE_FILE.to_string(),
        }),
    };
    let bytes = manifest_bytes(&manifest)?;
    // A stale signature from an earlier seal must not survive.
    let _ = std::fs::remove_file(run_dir.join(SIGNATURE_FILE));
    write_atomic(&run_dir.join(MANIFEST_FILE), &bytes)?;
    if let Some(k) = key {
        write_atomic(
            &run_dir.join(SIGNATURE_FILE),
            signature_text(&k.sign(&bytes)).as_bytes(),
        )?;
    }
    Ok(manifest)
}

/// `manifest.json` exactly as `seal` writes it: pretty JSON and one newline.
/// `verify` accepts no other form, so no byte of it can change unnoticed.
pub(crate) fn manifest_bytes(manifest: &Manifest) -> io::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(manifest)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// `manifest.sig` exactly as `seal` writes it: the base64 of the 64-byte
/// signature and one newline. `verify` accepts no other form.
pub(crate) fn signature_text(signature: &Signature) -> String {
    format!("{}\n", B64.encode(signature.to_bytes()))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(tmp, path)
}
