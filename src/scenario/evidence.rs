//! `[evidence]`: how a run's evidence bundle is trusted. `signer` pins the
//! fingerprint of the one key `firedrill verify --scenario` accepts.

use firedrill_core::SignerPin;
use firedrill_core::diagnostics::Diagnostic;
use firedrill_core::input::Spanned;
use firedrill_core::options::section;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_spanned::Spanned as TomlSpanned;
use toml::de::DeValue;

/// `[evidence]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEvidence {
    /// Fingerprint of the key that signs this scenario's evidence,
    /// `ed25519:SHA256:<hex>` as `firedrill keygen` prints it.
    pub signer: Option<Spanned<String>>,
}

/// Validated `[evidence]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EvidenceSettings {
    /// The trusted signer, when pinned.
    pub signer: Option<SignerPin>,
}

/// Parse `[evidence]`, pushing a diagnostic per bad key.
pub(super) fn parse(
    value: TomlSpanned<DeValue<'_>>,
    diags: &mut Vec<Diagnostic>,
) -> EvidenceSettings {
    let Some(raw) = section::<RawEvidence>(value, diags) else {
        return EvidenceSettings::default();
    };
    let signer = raw.signer.and_then(|s| {
        let pin = s.get_ref().parse::<SignerPin>().ok();
        if pin.is_none() {
            diags.push(
                Diagnostic::new(format!("invalid signer `{}`", s.get_ref()))
                    .at(s.span())
                    .label("not an Ed25519 key fingerprint")
                    .help("write `signer = \"ed25519:SHA256:<64 hex digits>\"` as `firedrill keygen` prints it"),
            );
        }
        pin
    });
    EvidenceSettings { signer }
}
