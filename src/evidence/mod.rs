//! The evidence bundle of a run: `manifest.json` lists every file of the
//! run directory with its SHA-256, links to the previous run's manifest of
//! the same scenario (a hash chain), and is signed with Ed25519 when a key
//! is given. `verify` checks all of it. [`s3`] keeps bundles in S3 under
//! Object Lock.

mod keys;
mod manifest;
pub mod s3;
#[cfg(test)]
mod tests;
mod trust;
mod verify;

pub use keys::{
    KeyError, fingerprint, generate, load_public_key, load_signing_key, write_key_pair,
};
pub use manifest::{
    Artifact, Chain, MANIFEST_FILE, Manifest, PreviousLink, SIGNATURE_FILE, Signing,
    previous_manifest, seal, seal_linked, sha256_file,
};
pub use trust::{INTEGRITY_ONLY_EXIT, Trust, TrustAnchor};
pub use verify::{Verified, VerifyError, verify};
