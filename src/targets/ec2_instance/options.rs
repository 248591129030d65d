//! The `ec2-instance` keys of a `[[targets]]` table, and their validation.

use firedrill_core::Diagnostic;
use std::collections::BTreeMap;

use firedrill_core::input::Spanned;
use firedrill_core::recovery::{BackupSource, SourceSpec};
use firedrill_core::source_keys::{IdShape, source_spec};
use firedrill_core::validate::{dr_region, ec2_id, misplaced, zone};
use schemars::JsonSchema;
use serde::Deserialize;

/// `kind = "ec2-instance"`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawInstance {
    /// The instance the drill protects: `i-0123456789abcdef0`.
    pub instance_id: Spanned<String>,
    #[serde(default)]
    pub backup: RawBackup,
    pub fault: Option<RawFault>,
    #[serde(default)]
    pub restore: RawRestore,
}

/// `[targets.backup]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBackup {
    /// Create the AMI without rebooting the instance (default true).
    /// `false` reboots it for file-system consistency.
    pub no_reboot: Option<bool>,
    /// `new` (default: a fresh AMI), `latest`, `random` or an existing AMI
    /// id (`ami-…`).
    pub source: Option<Spanned<String>>,
    /// For `latest` and `random`: only AMIs created within this long
    /// before the drill, `1d` to `365d`.
    pub window: Option<Spanned<String>>,
    /// For `random`: `unproven` prefers an AMI no earlier drill proved.
    pub prefer: Option<Spanned<String>>,
    /// The instance's AMIs by name, wildcards allowed: `web-nightly-*`.
    pub image_name: Option<Spanned<String>>,
    /// The instance's AMIs by tags, all of which must match.
    pub image_tags: Option<Spanned<BTreeMap<String, String>>>,
}

/// What an AMI id looks like.
pub const AMI_ID: IdShape = IdShape {
    what: "AMI",
    example: "ami-0123456789abcdef0",
    accepts: |v| v.starts_with("ami-"),
};

/// Which AMIs are the instance's recovery points: the filters of
/// `[targets.backup]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageFilter {
    pub name: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// Validate the source keys and the AMI filters: `latest` and `random`
/// need a filter (an account's AMIs are not all this instance's), `new`
/// takes none, and an existing AMI is not rebooted for.
pub fn source(raw: &RawBackup, diags: &mut Vec<Diagnostic>) -> (SourceSpec, ImageFilter) {
    let spec = source_spec(
        raw.source.as_ref(),
        raw.window.as_ref(),
        raw.prefer.as_ref(),
        AMI_ID,
        diags,
    );
    let filter = ImageFilter {
        name: raw.image_name.as_ref().map(|n| n.get_ref().clone()),
        tags: raw
            .image_tags
            .as_ref()
            .map(|t| {
                t.get_ref()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let spans = raw
        .image_name
        .as_ref()
        .map(Spanned::span)
        .into_iter()
        .chain(raw.image_tags.as_ref().map(Spanned::span));
    match (&spec.source, raw.source.as_ref()) {
        (BackupSource::Latest | BackupSource::Random, Some(s))
            if filter.name.is_none() && filter.tags.is_empty() =>
        {
            diags.push(
                Diagnostic::new(format!(
                    "source `{}` needs `image_name` or `image_tags` to find the instance's AMIs",
                    s.get_ref()
                ))
                .at(s.span())
                .label("which AMIs?")
                .help(
                    "add e.g. `image_name = \"web-nightly-*\"` or `image_tags = { app = \"web\" }`",
                ),
            );
        }
        (BackupSource::New, _) => {
            for span in spans {
                diags.push(
                    Diagnostic::new("AMI filters apply only to source `latest` and `random`")
                        .at(span)
                        .label("not used by a new AMI")
                        .help("remove it, or set `source = \"latest\"`"),
                );
            }
        }
        _ => {}
    }
    if spec.is_existing()
        && raw.no_reboot.is_some()
        && let Some(s) = &raw.source
    {
        diags.push(
            Diagnostic::new("`no_reboot` applies only to a new AMI")
                .at(s.span())
                .label("an existing AMI is restored as it is")
                .help("remove `no_reboot`"),
        );
    }
    (spec, filter)
}

/// `[targets.fault]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    /// `stop`, `reboot`, `terminate`, `detach-volume` or `none`.
    pub action: Spanned<String>,
    /// Device to detach, for `detach-volume`: `/dev/sdf`.
    pub device: Option<Spanned<String>>,
    /// Volume to detach, for `detach-volume`: `vol-…`.
    pub volume_id: Option<Spanned<String>>,
    /// Undo the fault after validation (default true): start a stopped
    /// instance again, attach a detached volume again.
    pub revert: Option<bool>,
    /// The same as `revert`, for `stop` (kept for older scenarios).
    pub restart_after: Option<Spanned<bool>>,
}

/// `[targets.restore]`: where the scratch instance is launched. Every key
/// defaults to the source instance's setting.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRestore {
    pub availability_zone: Option<Spanned<String>>,
    pub instance_type: Option<Spanned<String>>,
    pub subnet_id: Option<Spanned<String>>,
    pub security_group_ids: Option<Vec<Spanned<String>>>,
    /// Copy the AMI to this region and launch there.
    pub dr_region: Option<Spanned<String>>,
}

/// The fault to inject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    Stop { restart_after: bool },
    Reboot,
    Terminate,
    DetachVolume(VolumeRef),
}

/// Which volume `detach-volume` detaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeRef {
    Device(String),
    Id(String),
}

/// Validated restore settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restore {
    pub availability_zone: Option<String>,
    pub instance_type: Option<String>,
    pub subnet_id: Option<String>,
    pub security_group_ids: Option<Vec<String>>,
    pub dr_region: Option<String>,
}

firedrill_core::named_enum! {
    /// The `[targets.fault] action` values.
    pub enum FaultAction {
        Stop = "stop",
        Reboot = "reboot",
        Terminate = "terminate",
        DetachVolume = "detach-volume",
        None = "none",
    }
}

impl Fault {
    pub fn action(&self) -> FaultAction {
        match self {
            Fault::None => FaultAction::None,
            Fault::Stop { .. } => FaultAction::Stop,
            Fault::Reboot => FaultAction::Reboot,
            Fault::Terminate => FaultAction::Terminate,
            Fault::DetachVolume(_) => FaultAction::DetachVolume,
        }
    }
}

/// Check an instance type: `t3.micro`, `m7g.large`.
pub(crate) fn instance_type(value: &Spanned<String>, diags: &mut Vec<Diagnostic>) {
    let t = value.get_ref();
    let ok = t.split_once('.').is_some_and(|(family, size)| {
        !family.is_empty()
            && !size.is_empty()
            && family
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && size
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    if !ok {
        diags.push(
            Diagnostic::new(format!("invalid instance type `{t}`"))
                .at(value.span())
                .label("not an instance type")
                .help("write an instance type such as `t3.micro`"),
        );
    }
}

/// Validate the fault.
pub fn fault(raw: Option<&RawFault>, diags: &mut Vec<Diagnostic>) -> Fault {
    let Some(raw) = raw else {
        return Fault::None;
    };
    let Some(action) = FaultAction::parse(&raw.action, "fault action", diags) else {
        return Fault::None;
    };
    let misplaced = |key: &str, span| misplaced(key, span, action.as_str());
    if action != FaultAction::DetachVolume {
        if let Some(d) = &raw.device {
            diags.push(misplaced("device", d.span()));
        }
        if let Some(v) = &raw.volume_id {
            diags.push(misplaced("volume_id", v.span()));
        }
    }
    if action != FaultAction::Stop
        && let Some(r) = &raw.restart_after
    {
        diags.push(misplaced("restart_after", r.span()));
    }
    match action {
        FaultAction::None => Fault::None,
        FaultAction::Stop => Fault::Stop {
            restart_after: raw
                .restart_after
                .as_ref()
                .map_or(raw.revert.unwrap_or(true), |r| *r.get_ref()),
        },
        FaultAction::Reboot => Fault::Reboot,
        FaultAction::Terminate => Fault::Terminate,
        FaultAction::DetachVolume => match (&raw.device, &raw.volume_id) {
            (Some(d), None) => {
                if !d.get_ref().starts_with('/') && !d.get_ref().starts_with("xvd") {
                    diags.push(
                        Diagnostic::new(format!("invalid device `{}`", d.get_ref()))
                            .at(d.span())
                            .label("not a device name")
                            .help("write the device as the instance lists it, e.g. `/dev/sdf`"),
                    );
                }
                Fault::DetachVolume(VolumeRef::Device(d.get_ref().clone()))
            }
            (None, Some(v)) => {
                ec2_id(v, "vol", "volume id", diags);
                Fault::DetachVolume(VolumeRef::Id(v.get_ref().clone()))
            }
            (Some(d), Some(_)) => {
                diags.push(
                    Diagnostic::new("give `device` or `volume_id`, not both")
                        .at(d.span())
                        .help("keep the one that names the volume to detach"),
                );
                Fault::None
            }
            (None, None) => {
                diags.push(
                    Diagnostic::new("fault `detach-volume` needs `device` or `volume_id`")
                        .at(raw.action.span())
                        .label("no volume named")
                        .help("add `device = \"/dev/sdf\"` or `volume_id = \"vol-…\"`"),
                );
                Fault::None
            }
        },
    }
}

/// Validate the restore settings.
pub fn restore(raw: &RawRestore, home: Option<&str>, diags: &mut Vec<Diagnostic>) -> Restore {
    if let Some(z) = &raw.availability_zone {
        zone(z, diags);
    }
    if let Some(t) = &raw.instance_type {
        instance_type(t, diags);
    }
    if let Some(s) = &raw.subnet_id {
        ec2_id(s, "subnet", "subnet id", diags);
    }
    for g in raw.security_group_ids.iter().flatten() {
        ec2_id(g, "sg", "security group id", diags);
    }
    if let Some(r) = &raw.dr_region {
        dr_region(r, home, diags);
    }
    Restore {
        availability_zone: raw.availability_zone.as_ref().map(|v| v.get_ref().clone()),
        instance_type: raw.instance_type.as_ref().map(|v| v.get_ref().clone()),
        subnet_id: raw.subnet_id.as_ref().map(|v| v.get_ref().clone()),
        security_group_ids: raw
            .security_group_ids
            .as_ref()
            .map(|v| v.iter().map(|g| g.get_ref().clone()).collect()),
        dr_region: raw.dr_region.as_ref().map(|v| v.get_ref().clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Diagnostics for a scenario with one `ec2-instance` target.
    pub(crate) fn diagnostics(kind: &str, keys: &str) -> Vec<Diagnostic> {
        let text = format!(
            "name = \"t\"\n[environment]\nregion = \"us-east-1\"\nendpoint_url = \"http://127.0.0.1:4566\"\n[objectives]\nrto = \"5m\"\nrpo = \"5m\"\n[[targets]]\nname = \"x\"\nkind = \"{kind}\"\n{keys}"
        );
        match crate::scenario::parse(std::path::Path::new("t.toml"), &text) {
            Ok(_) => Vec::new(),
            Err(e) => e.diagnostics,
        }
    }

    #[test]
    fn valid_instance_target_parses() {
        let d = diagnostics(
            "ec2-instance",
            "instance_id = \"i-0123456789abcdef0\"\n[targets.fault]\naction = \"detach-volume\"\ndevice = \"/dev/sdf\"\n[targets.restore]\ninstance_type = \"t3.small\"\ndr_region = \"us-west-2\"\nsecurity_group_ids = [\"sg-12345678\"]\n",
        );
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn bad_instance_id_is_reported_at_its_span() {
        let d = diagnostics("ec2-instance", "instance_id = \"vol-0123456789abcdef0\"\n");
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].message.contains("invalid instance id"), "{d:?}");
        assert!(d[0].span.is_some());
        assert!(
            d[0].help
                .as_deref()
                .unwrap()
                .contains("i-0123456789abcdef0")
        );
    }

    #[test]
    fn unknown_action_suggests_the_nearest() {
        let d = diagnostics(
            "ec2-instance",
            "instance_id = \"i-12345678\"\n[targets.fault]\naction = \"terminat\"\n",
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].message.contains("unknown fault action `terminat`"),
            "{d:?}"
        );
        assert_eq!(d[0].help.as_deref(), Some("did you mean `terminate`?"));
    }

    #[test]
    fn detach_volume_needs_exactly_one_volume() {
        let none = diagnostics(
            "ec2-instance",
            "instance_id = \"i-12345678\"\n[targets.fault]\naction = \"detach-volume\"\n",
        );
        assert!(
            none[0].message.contains("needs `device` or `volume_id`"),
            "{none:?}"
        );
        let bad = diagnostics(
            "ec2-instance",
            "instance_id = \"i-12345678\"\n[targets.fault]\naction = \"detach-volume\"\nvolume_id = \"vol-xyz\"\n",
        );
        assert!(
            bad[0].message.contains("invalid volume id `vol-xyz`"),
            "{bad:?}"
        );
        let misplaced = diagnostics(
            "ec2-instance",
            "instance_id = \"i-12345678\"\n[targets.fault]\naction = \"reboot\"\ndevice = \"/dev/sdf\"\n",
        );
        assert!(
            misplaced[0].message.contains("does not apply"),
            "{misplaced:?}"
        );
    }

    #[test]
    fn bad_restore_overrides_are_each_reported() {
        let d = diagnostics(
            "ec2-instance",
            "instance_id = \"i-12345678\"\n[targets.restore]\navailability_zone = \"us-east-1\"\ninstance_type = \"large\"\nsubnet_id = \"sub-1\"\ndr_region = \"west\"\n",
        );
        let text: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(d.len(), 4, "{text:?}");
        assert!(text.iter().any(|m| m.contains("availability zone")));
        assert!(text.iter().any(|m| m.contains("instance type")));
        assert!(text.iter().any(|m| m.contains("subnet id")));
        assert!(text.iter().any(|m| m.contains("region")));
    }

    #[test]
    fn unknown_key_gets_did_you_mean() {
        let d = diagnostics(
            "ec2-instance",
            "instance_id = \"i-12345678\"\n[targets.backup]\nno_reboots = true\n",
        );
        assert!(d[0].message.contains("no_reboots"), "{d:?}");
        assert!(
            d[0].help.as_deref().unwrap_or("").contains("no_reboot"),
            "{d:?}"
        );
    }
    #[test]
    fn every_error_in_a_bad_target_is_rendered_with_its_location() {
        let text = "name = \"t\"\n[environment]\nregion = \"us-east-1\"\n[objectives]\nrto = \"5m\"\nrpo = \"5m\"\n[[targets]]\nname = \"web\"\nkind = \"ec2-instance\"\ninstance_id = \"i-123\"\n[targets.fault]\naction = \"terminat\"\n[targets.restore]\ndr_region = \"us-west\"\n";
        let err = crate::scenario::parse(std::path::Path::new("web.toml"), text).unwrap_err();
        insta::assert_snapshot!(err.render());
    }
}
