//! `firedrill verify RUN_DIR`: check a run's evidence bundle, and say what
//! it proved: "verified" only when a trusted key signed it.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use firedrill_core::SignerPin;

use crate::evidence::{self, Trust, TrustAnchor};

/// Exit codes of `verify`, shown by `--help`.
pub const EXIT_CODES: &str = "\
exit codes:
  0  verified: every hash and the chain link match, and a trusted key signed
  1  mismatch: a file, the manifest, the signature, the signer or the chain link changed
  2  command-line usage (an unreadable --public-key, a bad --signer or --scenario)
  3  a file is missing (manifest, signature, artifact or previous manifest),
     or the run could not be downloaded from S3
  4  integrity only: hashes and chain match, but no trusted key was given
     (--public-key, --signer or a scenario's [evidence] signer), so the
     signature, if any, proves nothing about who wrote the bundle";

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The run directory holding manifest.json, or a run uploaded with
    /// `run --evidence-uri`: `s3://bucket/prefix/<scenario>/<run-id>`.
    run_dir: PathBuf,
    /// Require the manifest to be signed by this public key (from `keygen`).
    #[arg(long, conflicts_with_all = ["signer", "scenario"])]
    public_key: Option<PathBuf>,
    /// Require the manifest to be signed by this key fingerprint,
    /// `ed25519:SHA256:<hex>` as `keygen` prints it.
    #[arg(long, conflicts_with = "scenario")]
    signer: Option<String>,
    /// Require the signer pinned by this scenario's `[evidence] signer`.
    #[arg(long)]
    scenario: Option<PathBuf>,
}

/// The trusted key from the command line, or why there is none.
fn anchor(args: &VerifyArgs) -> Result<TrustAnchor, String> {
    if let Some(path) = &args.public_key {
        return evidence::load_public_key(path)
            .map(TrustAnchor::Key)
            .map_err(|e| e.to_string());
    }
    if let Some(text) = &args.signer {
        return text
            .parse::<SignerPin>()
            .map(TrustAnchor::Pin)
            .map_err(|e| e.to_string());
    }
    if let Some(path) = &args.scenario {
        return scenario_pin(path);
    }
    Ok(TrustAnchor::None)
}

fn scenario_pin(path: &Path) -> Result<TrustAnchor, String> {
    let scenario = crate::scenario::load(path).map_err(|e| {
        super::validate::print_scenario_error(&e);
        format!("cannot read the pinned signer from {}", path.display())
    })?;
    scenario.evidence.signer.map(TrustAnchor::Pin).ok_or_else(|| {
        format!(
            "{} pins no signer (hint: add `[evidence]` with `signer = \"ed25519:SHA256:…\"` as `firedrill keygen` prints it)",
            path.display()
        )
    })
}

pub(crate) fn verify(args: VerifyArgs) -> u8 {
    let anchor = match anchor(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("firedrill: {e}");
            return 2;
        }
    };
    // `s3://…/<scenario>/<run-id>`: downloaded first, then verified alike.
    let (_downloaded, run_dir) = match super::evidence_s3::localize_run(&args.run_dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("firedrill: verify failed: {e}");
            return 3;
        }
    };
    match evidence::verify(&run_dir, &anchor) {
        Ok(v) => {
            // Write errors (a closed pipe) must not change the verdict.
            let mut out = std::io::stdout().lock();
            let _ = match &v.trust {
                Trust::Authenticated { signer } => writeln!(
                    out,
                    "verified: {} artifact(s) of run {} ({})\nsignature: valid, by the trusted key {signer}",
                    v.artifacts, v.manifest.run_id, v.manifest.scenario
                ),
                Trust::IntegrityOnly { signed_by } => writeln!(
                    out,
                    "integrity only, signature unauthenticated: {} artifact(s) of run {} ({}) match the manifest\nsignature: {}\nhint: pass --public-key FILE, --signer ed25519:SHA256:<hex> or --scenario FILE (with [evidence] signer) to check who signed",
                    v.artifacts,
                    v.manifest.run_id,
                    v.manifest.scenario,
                    signed_by.as_ref().map_or_else(
                        || "none (manifest not signed)".to_string(),
                        |f| format!(
                            "matches the key the manifest names, {f}, which is not a trusted key: anyone who edits the bundle can re-sign it"
                        )
                    )
                ),
            };
            let _ = match &v.chained_to {
                Some(p) => writeln!(out, "chain: previous run {p}'s manifest matches"),
                None => writeln!(out, "chain: first run of this scenario with a manifest"),
            };
            for f in &v.unlisted {
                let _ = writeln!(
                    out,
                    "note: {f} was added after the manifest and is not covered"
                );
            }
            v.trust.exit_code()
        }
        Err(e) => {
            eprintln!("firedrill: verify failed: {e}");
            e.exit_code()
        }
    }
}
