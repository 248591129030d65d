//! The `ebs-volume` keys of a `[[targets]]` table, and their validation.

use firedrill_core::Diagnostic;
use firedrill_core::input::Spanned;
use firedrill_core::options::RawFaultAction;
use firedrill_core::recovery::SourceSpec;
use firedrill_core::source_keys::{IdShape, RawSource, source_spec};
use firedrill_core::validate::{dr_region, one_of, zone};
use schemars::JsonSchema;
use serde::Deserialize;

/// `kind = "ebs-volume"`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVolume {
    /// The volume the drill protects: `vol-0123456789abcdef0`.
    pub volume_id: Spanned<String>,
    /// Where the backup comes from: a new snapshot (default) or an
    /// existing one of the volume.
    #[serde(default)]
    pub backup: RawSource,
    pub fault: Option<RawFaultAction>,
    #[serde(default)]
    pub restore: RawRestore,
}

/// `[targets.restore]`: the scratch volume. Every key defaults to the
/// source volume's setting.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRestore {
    pub availability_zone: Option<Spanned<String>>,
    /// `gp2`, `gp3`, `io1`, `io2`, `st1`, `sc1` or `standard`.
    pub volume_type: Option<Spanned<String>>,
    /// Provisioned IOPS (gp3, io1, io2 only).
    pub iops: Option<Spanned<i64>>,
    /// Copy the snapshot to this region and restore there.
    pub dr_region: Option<Spanned<String>>,
}

firedrill_core::named_enum! {
    /// The fault to inject: the `[targets.fault] action` values.
    pub enum Fault {
        Detach = "detach",
        Delete = "delete",
        None = "none",
    }
}

/// Validated restore settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restore {
    pub availability_zone: Option<String>,
    pub volume_type: Option<String>,
    pub iops: Option<i32>,
    pub dr_region: Option<String>,
}

pub const VOLUME_TYPES: &[&str] = &["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"];
/// Volume types that take provisioned IOPS.
pub const IOPS_TYPES: &[&str] = &["gp3", "io1", "io2"];

/// What an EBS recovery point id looks like.
pub const SNAPSHOT_ID: IdShape = IdShape {
    what: "snapshot",
    example: "snap-0123456789abcdef0",
    accepts: |v| v.starts_with("snap-"),
};

/// Validate `[targets.backup]`.
pub fn source(raw: &RawSource, diags: &mut Vec<Diagnostic>) -> SourceSpec {
    source_spec(
        raw.source.as_ref(),
        raw.window.as_ref(),
        raw.prefer.as_ref(),
        SNAPSHOT_ID,
        diags,
    )
}

/// Validate the fault.
pub fn fault(raw: Option<&RawFaultAction>, diags: &mut Vec<Diagnostic>) -> Fault {
    let fault = raw
        .and_then(|r| Fault::parse(&r.action, "fault action", diags))
        .unwrap_or(Fault::None);
    if let Some(r) = raw {
        r.check_undo_keys(fault == Fault::Detach, fault == Fault::Delete, diags);
    }
    fault
}

/// Validate the restore settings.
pub fn restore(raw: &RawRestore, home: Option<&str>, diags: &mut Vec<Diagnostic>) -> Restore {
    if let Some(z) = &raw.availability_zone {
        zone(z, diags);
    }
    if let Some(r) = &raw.dr_region {
        dr_region(r, home, diags);
    }
    let volume_type = raw.volume_type.as_ref().map(|t| {
        if !VOLUME_TYPES.contains(&t.get_ref().as_str()) {
            one_of(t, "volume type", VOLUME_TYPES, diags);
        }
        t.get_ref().clone()
    });
    let iops = raw.iops.as_ref().and_then(|i| {
        let v = *i.get_ref();
        if !(100..=256_000).contains(&v) {
            diags.push(
                Diagnostic::new(format!("`iops` is {v}, outside 100..=256000"))
                    .at(i.span())
                    .label("out of range")
                    .help("gp3 takes 3000-16000, io1/io2 100-256000"),
            );
            return None;
        }
        if let Some(t) = &raw.volume_type
            && !IOPS_TYPES.contains(&t.get_ref().as_str())
        {
            diags.push(
                Diagnostic::new(format!("volume type `{}` takes no `iops`", t.get_ref()))
                    .at(i.span())
                    .label("not used by this volume type")
                    .help("remove `iops`, or use `gp3`, `io1` or `io2`"),
            );
        }
        i32::try_from(v).ok()
    });
    Restore {
        availability_zone: raw.availability_zone.as_ref().map(|v| v.get_ref().clone()),
        volume_type,
        iops,
        dr_region: raw.dr_region.as_ref().map(|v| v.get_ref().clone()),
    }
}

#[cfg(test)]
mod tests {
    use firedrill_core::Diagnostic;

    fn diagnostics(keys: &str) -> Vec<Diagnostic> {
        let text = format!(
            "name = \"t\"\n[environment]\nregion = \"us-east-1\"\nendpoint_url = \"http://127.0.0.1:4566\"\n[objectives]\nrto = \"5m\"\nrpo = \"5m\"\n[[targets]]\nname = \"x\"\nkind = \"ebs-volume\"\n{keys}"
        );
        match crate::scenario::parse(std::path::Path::new("t.toml"), &text) {
            Ok(_) => Vec::new(),
            Err(e) => e.diagnostics,
        }
    }

    #[test]
    fn valid_volume_target_parses() {
        let d = diagnostics(
            "volume_id = \"vol-0123456789abcdef0\"\n[targets.fault]\naction = \"detach\"\n[targets.restore]\nvolume_type = \"io1\"\niops = 200\navailability_zone = \"us-east-1b\"\ndr_region = \"us-west-2\"\n",
        );
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn bad_volume_id_is_reported() {
        let d = diagnostics("volume_id = \"i-0123456789abcdef0\"\n");
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].message.contains("invalid volume id"), "{d:?}");
        assert!(d[0].span.is_some());
    }

    #[test]
    fn unknown_action_and_volume_type_suggest_the_nearest() {
        let d = diagnostics(
            "volume_id = \"vol-12345678\"\n[targets.fault]\naction = \"detatch\"\n[targets.restore]\nvolume_type = \"gp4\"\n",
        );
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].help.as_deref(), Some("did you mean `detach`?"));
        assert!(d[1].message.contains("unknown volume type `gp4`"), "{d:?}");
        assert!(
            d[1].help.as_deref().unwrap().starts_with("did you mean"),
            "{d:?}"
        );
    }

    #[test]
    fn iops_must_fit_the_volume_type() {
        let d = diagnostics(
            "volume_id = \"vol-12345678\"\n[targets.restore]\nvolume_type = \"st1\"\niops = 3000\n",
        );
        assert!(d[0].message.contains("takes no `iops`"), "{d:?}");
        let d = diagnostics("volume_id = \"vol-12345678\"\n[targets.restore]\niops = 5\n");
        assert!(d[0].message.contains("outside"), "{d:?}");
    }
}
