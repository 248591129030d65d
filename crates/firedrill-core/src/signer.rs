//! A pinned evidence signer: `ed25519:SHA256:<hex>` (the fingerprint
//! `firedrill keygen` prints), the one key `verify` trusts for a scenario.

use std::fmt;
use std::str::FromStr;

/// The fingerprint of a trusted Ed25519 public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerPin {
    /// Lowercase hex of the SHA-256 of the 32 public key bytes.
    sha256_hex: String,
}

/// Why a signer pin does not parse.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a signer fingerprint (hint: write \"ed25519:SHA256:<64 hex digits>\" as `firedrill keygen` prints it)"
)]
pub struct SignerPinError(pub String);

impl SignerPin {
    /// Whether a key fingerprint (`SHA256:<hex>`, as in the manifest) is
    /// this signer's.
    pub fn matches(&self, fingerprint: &str) -> bool {
        fingerprint
            .strip_prefix("SHA256:")
            .is_some_and(|hex| hex.eq_ignore_ascii_case(&self.sha256_hex))
    }

    /// The key fingerprint form, `SHA256:<hex>`.
    pub fn fingerprint(&self) -> String {
        format!("SHA256:{}", self.sha256_hex)
    }
}

impl FromStr for SignerPin {
    type Err = SignerPinError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s
            .strip_prefix("ed25519:")
            .map(|rest| rest.strip_prefix("SHA256:").unwrap_or(rest))
            .filter(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| SignerPinError(s.to_string()))?;
        Ok(Self {
            sha256_hex: hex.to_ascii_lowercase(),
        })
    }
}

impl fmt::Display for SignerPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519:SHA256:{}", self.sha256_hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_in_both_forms_and_match_fingerprints() {
        let hex = "ab".repeat(32);
        for text in [
            format!("ed25519:SHA256:{hex}"),
            format!("ed25519:{hex}"),
            format!("ed25519:SHA256:{}", hex.to_uppercase()),
        ] {
            let pin: SignerPin = text.parse().unwrap();
            assert!(pin.matches(&format!("SHA256:{hex}")), "{text}");
            assert!(!pin.matches(&format!("SHA256:{}", "cd".repeat(32))));
            assert_eq!(pin.to_string(), format!("ed25519:SHA256:{hex}"));
        }
        for bad in [
            "",
            "ed25519:",
            "rsa:SHA256:abcd",
            &format!("SHA256:{hex}"),
            &format!("ed25519:SHA256:{}", "zz".repeat(32)),
            &format!("ed25519:{}", "ab".repeat(31)),
        ] {
            assert!(bad.parse::<SignerPin>().is_err(), "{bad}");
        }
    }
}
