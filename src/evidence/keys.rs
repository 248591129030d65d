//! Ed25519 signing keys: generation, files (base64 text), fingerprints.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// A key could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("cannot write key {}: {message}", path.display())]
    Write { path: PathBuf, message: String },
    #[error(
        "{what} is not a base64 Ed25519 key of 32 bytes (hint: create one with `firedrill keygen`)"
    )]
    Invalid { what: String },
}

/// A new random signing key.
pub fn generate() -> SigningKey {
    let seed: [u8; 32] = rand::random();
    SigningKey::from_bytes(&seed)
}

/// `SHA256:<hex>` of the public key bytes.
pub fn fingerprint(key: &VerifyingKey) -> String {
    format!("SHA256:{}", hex::encode(Sha256::digest(key.as_bytes())))
}

fn decode32(text: &str, what: &str) -> Result<[u8; 32], KeyError> {
    B64.decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| KeyError::Invalid {
            what: what.to_string(),
        })
}

/// Encode a public key as base64.
pub fn encode_public(key: &VerifyingKey) -> String {
    B64.encode(key.as_bytes())
}

/// Decode a base64 public key.
pub fn decode_public(text: &str, what: &str) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_bytes(&decode32(text, what)?).map_err(|_| KeyError::Invalid {
        what: what.to_string(),
    })
}

/// A signing key from `--signing-key` / `FIREDRILL_SIGNING_KEY`: the path of
/// a key file, or the base64 key itself. The error never echoes the value.
pub fn load_signing_key(spec: &str) -> Result<SigningKey, KeyError> {
    let path = Path::new(spec);
    if path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|e| KeyError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        return Ok(SigningKey::from_bytes(&decode32(
            &text,
            &format!("key file {}", path.display()),
        )?));
    }
    Ok(SigningKey::from_bytes(&decode32(
        spec,
        "the signing key (neither an existing file nor base64)",
    )?))
}

/// A public key file written by `firedrill keygen`.
pub fn load_public_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|e| KeyError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    decode_public(&text, &format!("public key file {}", path.display()))
}

/// Write `PREFIX.key` (mode 0600, refusing to overwrite) and `PREFIX.pub`.
pub fn write_key_pair(prefix: &Path, key: &SigningKey) -> Result<(PathBuf, PathBuf), KeyError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut private = prefix.as_os_str().to_owned();
    private.push(".key");
    let mut public = prefix.as_os_str().to_owned();
    public.push(".pub");
    let (private, public) = (PathBuf::from(private), PathBuf::from(public));
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| KeyError::Write {
            path,
            message: e.to_string(),
        }
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&private)
        .map_err(err(&private))?;
    writeln!(f, "{}", B64.encode(key.to_bytes())).map_err(err(&private))?;
    f.sync_all().map_err(err(&private))?;
    std::fs::write(
        &public,
        format!("{}\n", encode_public(&key.verifying_key())),
    )
    .map_err(err(&public))?;
    Ok((private, public))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_pair_round_trips_and_private_key_is_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = generate();
        let (private, public) = write_key_pair(&dir.path().join("k"), &key).unwrap();
        let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = load_signing_key(private.to_str().unwrap()).unwrap();
        assert_eq!(loaded.to_bytes(), key.to_bytes());
        assert_eq!(load_public_key(&public).unwrap(), key.verifying_key());
        let inline = B64.encode(key.to_bytes());
        assert_eq!(
            load_signing_key(&inline).unwrap().to_bytes(),
            key.to_bytes()
        );
        assert!(
            write_key_pair(&dir.path().join("k"), &key).is_err(),
            "must not overwrite"
        );
        let e = load_signing_key("not-a-key").unwrap_err().to_string();
        assert!(!e.contains("not-a-key"), "never echo the value: {e}");
    }
}
