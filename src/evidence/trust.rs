//! What `verify` may claim about who wrote a bundle. The key recorded in a
//! manifest proves nothing on its own: anyone who edits `report.json` can
//! re-seal and re-sign with a key of their own. Only a key the verifier
//! brings (a public key file or a pinned fingerprint) authenticates.

use ed25519_dalek::VerifyingKey;
use firedrill_core::SignerPin;

use super::keys::fingerprint;

/// The key a bundle must be signed by, as the verifier knows it.
#[derive(Clone, Debug, Default)]
pub enum TrustAnchor {
    /// No trusted key: hashes and chain can be checked, authorship cannot.
    #[default]
    None,
    /// `--public-key FILE`.
    Key(VerifyingKey),
    /// `--signer ed25519:…` or the scenario's `[evidence] signer`.
    Pin(SignerPin),
}

impl TrustAnchor {
    /// `Ok(true)` when `key` is the trusted signer, `Ok(false)` when there
    /// is no anchor, `Err(the anchor's fingerprint)` when it is another key.
    pub fn accepts(&self, key: &VerifyingKey) -> Result<bool, String> {
        match self {
            TrustAnchor::None => Ok(false),
            TrustAnchor::Key(k) if k == key => Ok(true),
            TrustAnchor::Key(k) => Err(fingerprint(k)),
            TrustAnchor::Pin(p) if p.matches(&fingerprint(key)) => Ok(true),
            TrustAnchor::Pin(p) => Err(p.fingerprint()),
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, TrustAnchor::None)
    }
}

/// What a bundle that matched its manifest proved about its author.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// Signed by the trusted key (its fingerprint).
    Authenticated { signer: String },
    /// Hashes and chain match, but no trusted key was given: `signed_by`
    /// is the key the manifest names, which anyone could have used.
    IntegrityOnly { signed_by: Option<String> },
}

/// `verify`'s exit code when the bundle matched its manifest but no
/// trusted key authenticated it.
pub const INTEGRITY_ONLY_EXIT: u8 = 4;

impl Trust {
    /// The documented exit code: 0 only when a trusted key signed.
    pub fn exit_code(&self) -> u8 {
        match self {
            Trust::Authenticated { .. } => 0,
            Trust::IntegrityOnly { .. } => INTEGRITY_ONLY_EXIT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_trusted_key_authenticates() {
        let a = ed25519_dalek::SigningKey::from_bytes(&[1u8; 32]).verifying_key();
        let b = ed25519_dalek::SigningKey::from_bytes(&[2u8; 32]).verifying_key();
        let pin: SignerPin = format!("ed25519:{}", fingerprint(&a)).parse().unwrap();
        let cases = [
            (TrustAnchor::None, a, Ok(false)),
            (TrustAnchor::Key(a), a, Ok(true)),
            (TrustAnchor::Key(a), b, Err(fingerprint(&a))),
            (TrustAnchor::Pin(pin.clone()), a, Ok(true)),
            (TrustAnchor::Pin(pin), b, Err(fingerprint(&a))),
        ];
        for (anchor, key, expected) in cases {
            assert_eq!(anchor.accepts(&key), expected, "{anchor:?}");
        }
        assert_eq!(Trust::Authenticated { signer: "x".into() }.exit_code(), 0);
        assert_eq!(
            Trust::IntegrityOnly { signed_by: None }.exit_code(),
            INTEGRITY_ONLY_EXIT
        );
    }
}
