//! `firedrill verify RUN_DIR`: check a run's evidence bundle.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::evidence;

/// Exit codes of `verify`, shown by `--help`.
pub const EXIT_CODES: &str = "\
exit codes:
  0  every hash, the signature and the chain link match
  1  mismatch: a file, the manifest, the signature or the chain link changed
  2  command-line usage (or an unreadable --public-key)
  3  a file is missing (manifest, signature, artifact or previous manifest),
     or the run could not be downloaded from S3";

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The run directory holding manifest.json, or a run uploaded with
    /// `run --evidence-uri`: `s3://bucket/prefix/<scenario>/<run-id>`.
    run_dir: PathBuf,
    /// Require the manifest to be signed by this public key (from `keygen`).
    #[arg(long)]
    public_key: Option<PathBuf>,
}

pub(crate) fn verify(args: VerifyArgs) -> u8 {
    let pinned = match args.public_key.as_deref().map(evidence::load_public_key) {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(e)) => {
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
    match evidence::verify(&run_dir, pinned.as_ref()) {
        Ok(v) => {
            // Write errors (a closed pipe) must not turn a verified bundle
            // into a crash.
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "verified: {} artifact(s) of run {} ({})",
                v.artifacts, v.manifest.run_id, v.manifest.scenario
            );
            let _ = match (&v.signed_by, v.key_pinned) {
                (Some(f), true) => writeln!(out, "signature: valid, by the given key {f}"),
                (Some(f), false) => writeln!(
                    out,
                    "signature: valid, by the key recorded in the manifest {f} (pass --public-key to pin it)"
                ),
                (None, _) => writeln!(out, "signature: none (manifest not signed)"),
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
            0
        }
        Err(e) => {
            eprintln!("firedrill: verify failed: {e}");
            e.exit_code()
        }
    }
}
