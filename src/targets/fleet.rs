//! Every resource of the kinds `firedrill coverage --all` covers, in one
//! region: EBS volumes, EC2 instances, RDS instances and clusters, S3
//! buckets. Read-only listings; firedrill's own scratch resources (tagged
//! with the run id) are left out.

use std::collections::BTreeMap;

use firedrill_core::StageError;
use firedrill_core::resource::TAG_RUN_ID;
use futures::future::BoxFuture;

use crate::aws::Clients;

/// Lists the ids of every resource of one kind in the region.
pub type ListAllFn =
    for<'a> fn(&'a Clients, &'a str) -> BoxFuture<'a, Result<Vec<String>, StageError>>;

/// A kind `coverage --all` lists.
#[derive(Debug)]
pub struct FleetKind {
    pub kind: &'static str,
    /// The key of the kind's table that names the resource: `volume_id`.
    pub id_key: &'static str,
    pub list: ListAllFn,
}

fn untagged(tags: &[(String, String)]) -> bool {
    !tags.iter().any(|(k, _)| k == TAG_RUN_ID)
}

/// Every kind `coverage --all` lists, in the order rows are shown.
pub static FLEET: &[FleetKind] = &[
    FleetKind {
        kind: "ebs-volume",
        id_key: "volume_id",
        // Selection with no tag: every volume but firedrill's own.
        list: |clients, _| (super::ebs_volume::SELECT.list)(clients, &NO_TAGS),
    },
    FleetKind {
        kind: "ec2-instance",
        id_key: "instance_id",
        list: |clients, _| (super::ec2_instance::SELECT.list)(clients, &NO_TAGS),
    },
    FleetKind {
        kind: "rds-instance",
        id_key: "instance",
        list: |clients, _| {
            Box::pin(async move {
                let all = crate::aws::rds::list_instances(clients.rds()).await?;
                Ok(all
                    .into_iter()
                    // Aurora members are covered by their cluster's snapshots.
                    .filter(|i| untagged(&i.tags) && i.cluster.is_none())
                    .map(|i| i.id)
                    .collect())
            })
        },
    },
    FleetKind {
        kind: "rds-cluster",
        id_key: "cluster",
        list: |clients, _| {
            Box::pin(async move {
                let all = crate::aws::rds::list_clusters(clients.rds()).await?;
                Ok(all
                    .into_iter()
                    .filter(|c| untagged(&c.tags))
                    .map(|c| c.id)
                    .collect())
            })
        },
    },
    FleetKind {
        kind: "s3-bucket",
        id_key: "bucket",
        list: |clients, region| {
            Box::pin(async move {
                let s3 = clients.s3();
                let mut out = Vec::new();
                for b in crate::aws::s3::all_buckets(s3, region).await? {
                    match crate::aws::s3::bucket_tags(s3, &b).await {
                        Ok(tags) if untagged(&tags) => out.push(b),
                        Ok(_) => {}
                        // Deleted since the listing: nothing to cover.
                        Err(e) if e.is_not_found() => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(out)
            })
        },
    },
];

static NO_TAGS: BTreeMap<String, String> = BTreeMap::new();
