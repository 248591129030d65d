//! Scratch resources: what firedrill creates and must delete, how the
//! ledger names them, the tags that mark them, and how `reap` finds them.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::service::Service;

/// Tag key carrying the run id on every scratch resource.
pub const TAG_RUN_ID: &str = "firedrill:run-id";
/// Tag key carrying the RFC 3339 time after which `reap` may delete it.
pub const TAG_EXPIRES_AT: &str = "firedrill:expires-at";
/// Tag key naming the scenario target the resource belongs to.
pub const TAG_TARGET: &str = "firedrill:target";
/// Opt-in tag a named resource needs before a destructive fault on real AWS.
pub const TAG_ALLOW_FAULTS: &str = "firedrill:allow-faults";
/// Tag on a copy firedrill keeps because it may be the last copy of data a
/// fault damaged; its value says why. `reap` never deletes a resource
/// carrying it.
pub const TAG_RETAINED: &str = "firedrill:retained";

/// Every scratch resource's name starts so: `firedrill-<run id>-<target>-<what>`.
pub const SCRATCH_PREFIX: &str = "firedrill-";

/// Whether `name` has the shape of a scratch resource's name: the prefix,
/// then a run id (`20260102-030405-0a1b2c`) and a dash. A resource a person
/// named `firedrill-demo` does not.
pub fn is_scratch_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(SCRATCH_PREFIX) else {
        return false;
    };
    let b = rest.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let hex = |r: std::ops::Range<usize>| {
        b.get(r).is_some_and(|s| {
            s.iter()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
        })
    };
    digits(0..8)
        && b.get(8) == Some(&b'-')
        && digits(9..15)
        && b.get(15) == Some(&b'-')
        && hex(16..22)
        && b.get(22) == Some(&b'-')
}

/// What a scratch resource is, within its kind. Written to the ledger as
/// the kebab-case name (`db-cluster-snapshot`), so ledgers stay readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceType {
    /// An S3 bucket.
    Bucket,
    /// Every object (and version) under a prefix of a bucket.
    ObjectPrefix,
    /// One S3 object.
    S3Object,
    /// A multipart upload that becomes an object kept after the drill.
    S3Upload,
    /// A `PostgreSQL` database.
    Database,
    /// A canary table inside a `PostgreSQL` database.
    CanaryTable,
    DbInstance,
    DbSnapshot,
    DbCluster,
    DbClusterSnapshot,
    /// An EC2 instance.
    Instance,
    /// An AMI (with its snapshots).
    Image,
    /// An EBS snapshot.
    Snapshot,
    /// An EBS volume.
    Volume,
}

impl ResourceType {
    /// The ledger's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Bucket => "bucket",
            ResourceType::ObjectPrefix => "object-prefix",
            ResourceType::S3Object => "s3-object",
            ResourceType::S3Upload => "s3-upload",
            ResourceType::Database => "database",
            ResourceType::CanaryTable => "canary-table",
            ResourceType::DbInstance => "db-instance",
            ResourceType::DbSnapshot => "db-snapshot",
            ResourceType::DbCluster => "db-cluster",
            ResourceType::DbClusterSnapshot => "db-cluster-snapshot",
            ResourceType::Instance => "instance",
            ResourceType::Image => "image",
            ResourceType::Snapshot => "snapshot",
            ResourceType::Volume => "volume",
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resource firedrill creates and must delete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScratchResource {
    /// Target kind that created it and knows how to delete it: `s3-bucket`.
    pub kind: String,
    /// What it is within the kind.
    pub rtype: ResourceType,
    /// Name, id or ARN.
    pub id: String,
    pub region: String,
    /// Containing resource, e.g. the bucket of an object prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Scenario target it belongs to.
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
}

impl fmt::Display for ScratchResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.parent {
            Some(p) => write!(f, "{} {}/{} ({})", self.rtype, p, self.id, self.region),
            None => write!(f, "{} {} ({})", self.rtype, self.id, self.region),
        }
    }
}

/// A resource found by its `firedrill:*` tags.
#[derive(Clone, Debug)]
pub struct Tagged {
    pub resource: ScratchResource,
    pub run_id: String,
    pub expires_at: Option<OffsetDateTime>,
    /// Why the resource is retained, when it carries [`TAG_RETAINED`].
    pub retained: Option<String>,
}

impl Tagged {
    /// A resource for `reap` from its tags, or `None` when it carries no run
    /// id (then it is not firedrill's). The target and expiry come from the
    /// tags too; every kind finds its resources through this one reading.
    pub fn from_tags<I, K, V>(mut resource: ScratchResource, tags: I) -> Option<Tagged>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let (mut run_id, mut target, mut expires_at, mut retained) = (None, None, None, None);
        for (k, v) in tags {
            match k.as_ref() {
                TAG_RUN_ID => run_id = Some(v.as_ref().to_string()),
                TAG_TARGET => target = Some(v.as_ref().to_string()),
                TAG_EXPIRES_AT => expires_at = OffsetDateTime::parse(v.as_ref(), &Rfc3339).ok(),
                TAG_RETAINED => retained = Some(v.as_ref().to_string()),
                _ => {}
            }
        }
        resource.target = target.unwrap_or_default();
        Some(Tagged {
            resource,
            run_id: run_id?,
            expires_at,
            retained,
        })
    }
}

/// Result of deleting a scratch resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    /// Already gone (deleted earlier, or never created).
    AlreadyGone,
}

impl DeleteOutcome {
    /// From "did it exist when the delete was sent".
    pub fn existed(existed: bool) -> Self {
        if existed {
            DeleteOutcome::Deleted
        } else {
            DeleteOutcome::AlreadyGone
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn scratch_names_are_told_from_names_people_give() {
        for (name, scratch) in [
            ("firedrill-20260102-030405-0a1b2c-0-restored", true),
            ("firedrill-20260102-030405-0a1b2c-12-snap", true),
            ("firedrill-demo", false),
            ("firedrill-20260102-030405-0a1b2c", false),
            ("firedrill-2026010-030405-0a1b2c-0-x", false),
            ("firedrill-20260102-030405-0A1B2C-0-x", false),
            ("orders-db", false),
            ("my-firedrill-20260102-030405-0a1b2c-0-x", false),
            ("", false),
        ] {
            assert_eq!(is_scratch_name(name), scratch, "{name}");
        }
    }

    use super::*;

    fn resource() -> ScratchResource {
        ScratchResource {
            kind: "ebs-volume".into(),
            rtype: ResourceType::Snapshot,
            id: "snap-1".into(),
            region: "us-east-1".into(),
            parent: None,
            target: String::new(),
            service: Some(Service::Ec2),
        }
    }

    #[test]
    fn tags_give_run_target_and_expiry_or_nothing() {
        let t = Tagged::from_tags(
            resource(),
            [
                (TAG_RUN_ID, "r1"),
                (TAG_TARGET, "data"),
                (TAG_EXPIRES_AT, "2026-01-01T00:00:00Z"),
                ("Name", "x"),
            ],
        )
        .unwrap();
        assert_eq!(t.run_id, "r1");
        assert_eq!(t.resource.target, "data");
        assert_eq!(t.expires_at.unwrap().year(), 2026);
        assert!(Tagged::from_tags(resource(), [(TAG_TARGET, "data")]).is_none());
        let bad_expiry =
            Tagged::from_tags(resource(), [(TAG_RUN_ID, "r"), (TAG_EXPIRES_AT, "soon")]);
        assert!(bad_expiry.unwrap().expires_at.is_none());
    }

    #[test]
    fn resource_types_keep_their_ledger_names() {
        for t in [
            ResourceType::DbClusterSnapshot,
            ResourceType::S3Object,
            ResourceType::ObjectPrefix,
            ResourceType::CanaryTable,
        ] {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            assert_eq!(serde_json::from_str::<ResourceType>(&json).unwrap(), t);
        }
    }
}
