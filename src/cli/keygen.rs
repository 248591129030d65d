//! `firedrill keygen`: write an Ed25519 key pair for signing manifests.

use std::path::PathBuf;

use clap::Args;

use crate::evidence;
use firedrill_core::exit;

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Writes PREFIX.key (private, mode 0600) and PREFIX.pub.
    #[arg(long, default_value = "firedrill-signing")]
    out: PathBuf,
}

pub(crate) fn keygen(args: KeygenArgs) -> u8 {
    let key = evidence::generate();
    match evidence::write_key_pair(&args.out, &key) {
        Ok((private, public)) => {
            println!("private key: {} (keep it secret)", private.display());
            println!("public key:  {}", public.display());
            let fingerprint = evidence::fingerprint(&key.verifying_key());
            println!("fingerprint: {fingerprint}");
            println!(
                "pin it:      [evidence] signer = \"ed25519:{fingerprint}\" (or verify --signer ed25519:{fingerprint})"
            );
            exit::PASSED
        }
        Err(e) => {
            eprintln!("firedrill: {e}");
            exit::ENVIRONMENT
        }
    }
}
