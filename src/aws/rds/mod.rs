//! The RDS calls firedrill makes (instances, Aurora clusters and their
//! snapshots), returning domain types and [`AwsError`], and the waits on
//! their statuses ([`wait`]).

pub mod wait;

use aws_sdk_rds::Client;
use aws_sdk_rds::types::Tag;
use aws_smithy_types::DateTime;
use aws_types::request_id::RequestId;
use time::OffsetDateTime;

use super::FromSdk;
use firedrill_core::AwsError;

/// Tags as `(key, value)` pairs, in the order AWS returned them.
pub type Tags = Vec<(String, String)>;

/// A DB instance as described.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DbInstance {
    pub id: String,
    pub arn: String,
    pub status: String,
    pub engine: String,
    pub engine_version: String,
    pub class: String,
    pub storage_type: String,
    pub allocated_storage: Option<i32>,
    pub iops: Option<i32>,
    pub encrypted: bool,
    pub multi_az: bool,
    pub parameter_group: Option<String>,
    pub subnet_group: Option<String>,
    pub security_groups: Vec<String>,
    /// The Aurora cluster the instance belongs to, if any.
    pub cluster: Option<String>,
    /// `address:port`.
    pub endpoint: Option<String>,
    pub tags: Tags,
    pub latest_restorable_time: Option<OffsetDateTime>,
}

/// An Aurora DB cluster as described.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DbCluster {
    pub id: String,
    pub arn: String,
    pub status: String,
    pub engine: String,
    pub engine_version: String,
    pub encrypted: bool,
    pub multi_az: bool,
    pub parameter_group: Option<String>,
    pub subnet_group: Option<String>,
    pub security_groups: Vec<String>,
    pub endpoint: Option<String>,
    /// Member instances with whether each is the writer.
    pub members: Vec<(String, bool)>,
    pub tags: Tags,
    /// The point-in-time restore window, when the service reports it.
    pub earliest_restorable_time: Option<OffsetDateTime>,
    pub latest_restorable_time: Option<OffsetDateTime>,
}

impl DbCluster {
    /// The current writer instance, if any.
    pub fn writer(&self) -> Option<&str> {
        self.members
            .iter()
            .find(|(_, w)| *w)
            .map(|(id, _)| id.as_str())
    }
}

/// A DB snapshot or DB cluster snapshot as described.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub id: String,
    pub arn: String,
    pub status: String,
    /// The instance or cluster it was taken from.
    pub source: String,
    /// `manual` or `automated`.
    pub snapshot_type: String,
    pub created_at: Option<OffsetDateTime>,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    /// A copy's source snapshot ARN (`SourceDBSnapshotIdentifier`,
    /// `SourceDBClusterSnapshotArn`).
    pub copied_from: Option<String>,
    /// When the data was snapshotted, kept by copies (DB snapshots only).
    pub original_created_at: Option<OffsetDateTime>,
    pub tags: Tags,
}

fn to_time(t: Option<&DateTime>) -> Option<OffsetDateTime> {
    t.and_then(|t| OffsetDateTime::from_unix_timestamp_nanos(t.as_nanos()).ok())
}

fn to_smithy(t: OffsetDateTime) -> DateTime {
    DateTime::from_nanos(t.unix_timestamp_nanos()).unwrap_or(DateTime::from_secs(0))
}

fn tags_of(list: &[Tag]) -> Tags {
    list.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn tag_list(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn s(v: Option<&str>) -> String {
    v.unwrap_or_default().to_string()
}

fn instance_of(i: &aws_sdk_rds::types::DbInstance) -> DbInstance {
    DbInstance {
        id: s(i.db_instance_identifier()),
        arn: s(i.db_instance_arn()),
        status: s(i.db_instance_status()),
        engine: s(i.engine()),
        engine_version: s(i.engine_version()),
        class: s(i.db_instance_class()),
        storage_type: s(i.storage_type()),
        allocated_storage: i.allocated_storage(),
        iops: i.iops(),
        encrypted: i.storage_encrypted().unwrap_or(false),
        multi_az: i.multi_az().unwrap_or(false),
        parameter_group: i
            .db_parameter_groups()
            .first()
            .and_then(|p| p.db_parameter_group_name())
            .map(str::to_string),
        subnet_group: i
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_name())
            .map(str::to_string),
        security_groups: i
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect(),
        cluster: i.db_cluster_identifier().map(str::to_string),
        endpoint: i.endpoint().and_then(|e| {
            e.address()
                .map(|a| format!("{a}:{}", e.port().unwrap_or_default()))
        }),
        tags: tags_of(i.tag_list()),
        latest_restorable_time: to_time(i.latest_restorable_time()),
    }
}

fn cluster_of(c: &aws_sdk_rds::types::DbCluster) -> DbCluster {
    DbCluster {
        id: s(c.db_cluster_identifier()),
        arn: s(c.db_cluster_arn()),
        status: s(c.status()),
        engine: s(c.engine()),
        engine_version: s(c.engine_version()),
        encrypted: c.storage_encrypted().unwrap_or(false),
        multi_az: c.multi_az().unwrap_or(false),
        parameter_group: c.db_cluster_parameter_group().map(str::to_string),
        subnet_group: c.db_subnet_group().map(str::to_string),
        security_groups: c
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect(),
        endpoint: c
            .endpoint()
            .map(|a| format!("{a}:{}", c.port().unwrap_or_default())),
        members: c
            .db_cluster_members()
            .iter()
            .map(|m| {
                (
                    s(m.db_instance_identifier()),
                    m.is_cluster_writer().unwrap_or(false),
                )
            })
            .collect(),
        tags: tags_of(c.tag_list()),
        earliest_restorable_time: to_time(c.earliest_restorable_time()),
        latest_restorable_time: to_time(c.latest_restorable_time()),
    }
}

fn snapshot_of(x: &aws_sdk_rds::types::DbSnapshot) -> Snapshot {
    Snapshot {
        id: s(x.db_snapshot_identifier()),
        arn: s(x.db_snapshot_arn()),
        status: s(x.status()),
        source: s(x.db_instance_identifier()),
        snapshot_type: s(x.snapshot_type()),
        created_at: to_time(x.snapshot_create_time()),
        encrypted: x.encrypted().unwrap_or(false),
        kms_key_id: x.kms_key_id().map(str::to_string),
        copied_from: x.source_db_snapshot_identifier().map(str::to_string),
        original_created_at: to_time(x.original_snapshot_create_time()),
        tags: tags_of(x.tag_list()),
    }
}

fn cluster_snapshot_of(x: &aws_sdk_rds::types::DbClusterSnapshot) -> Snapshot {
    Snapshot {
        id: s(x.db_cluster_snapshot_identifier()),
        arn: s(x.db_cluster_snapshot_arn()),
        status: s(x.status()),
        source: s(x.db_cluster_identifier()),
        snapshot_type: s(x.snapshot_type()),
        created_at: to_time(x.snapshot_create_time()),
        encrypted: x.storage_encrypted().unwrap_or(false),
        kms_key_id: x.kms_key_id().map(str::to_string),
        copied_from: x.source_db_cluster_snapshot_arn().map(str::to_string),
        original_created_at: None,
        tags: tags_of(x.tag_list()),
    }
}

/// `Ok(None)` for a not-found error, the error otherwise.
fn none_if_missing<T>(e: AwsError) -> Result<Option<T>, AwsError> {
    if e.is_not_found() { Ok(None) } else { Err(e) }
}

/// `Ok(false)` for a not-found error (already gone), the error otherwise.
fn gone_if_missing(e: AwsError) -> Result<bool, AwsError> {
    if e.is_not_found() { Ok(false) } else { Err(e) }
}

// ---------------------------------------------------------------- describe

/// One DB instance; `None` when it does not exist.
pub async fn describe_instance(rds: &Client, id: &str) -> Result<Option<DbInstance>, AwsError> {
    match rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.db_instances().first().map(instance_of)),
        Err(e) => none_if_missing(AwsError::from_sdk("rds:DescribeDBInstances", e)),
    }
}

/// Every DB instance in the region.
pub async fn list_instances(rds: &Client) -> Result<Vec<DbInstance>, AwsError> {
    let mut out = Vec::new();
    let mut pages = rds.describe_db_instances().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("rds:DescribeDBInstances", e))?;
        out.extend(page.db_instances().iter().map(instance_of));
    }
    Ok(out)
}

/// One DB cluster; `None` when it does not exist.
pub async fn describe_cluster(rds: &Client, id: &str) -> Result<Option<DbCluster>, AwsError> {
    match rds
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.db_clusters().first().map(cluster_of)),
        Err(e) => none_if_missing(AwsError::from_sdk("rds:DescribeDBClusters", e)),
    }
}

/// Every DB cluster in the region.
pub async fn list_clusters(rds: &Client) -> Result<Vec<DbCluster>, AwsError> {
    let mut out = Vec::new();
    let mut pages = rds.describe_db_clusters().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("rds:DescribeDBClusters", e))?;
        out.extend(page.db_clusters().iter().map(cluster_of));
    }
    Ok(out)
}

/// One DB snapshot; `None` when it does not exist.
pub async fn describe_snapshot(rds: &Client, id: &str) -> Result<Option<Snapshot>, AwsError> {
    match rds
        .describe_db_snapshots()
        .db_snapshot_identifier(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.db_snapshots().first().map(snapshot_of)),
        Err(e) => none_if_missing(AwsError::from_sdk("rds:DescribeDBSnapshots", e)),
    }
}

/// DB snapshots, optionally of one instance and of one type (`automated`).
pub async fn list_snapshots(
    rds: &Client,
    instance: Option<&str>,
    snapshot_type: Option<&str>,
) -> Result<Vec<Snapshot>, AwsError> {
    let mut out = Vec::new();
    let mut pages = rds
        .describe_db_snapshots()
        .set_db_instance_identifier(instance.map(str::to_string))
        .set_snapshot_type(snapshot_type.map(str::to_string))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("rds:DescribeDBSnapshots", e))?;
        out.extend(page.db_snapshots().iter().map(snapshot_of));
    }
    Ok(out)
}

/// Every DB snapshot of one instance: automated, manual and those AWS
/// Backup made (type `awsbackup`, listed only when asked for by type).
pub async fn snapshots_of_instance(
    rds: &Client,
    instance: &str,
) -> Result<Vec<Snapshot>, AwsError> {
    let mut out = list_snapshots(rds, Some(instance), None).await?;
    for s in list_snapshots(rds, Some(instance), Some("awsbackup")).await? {
        if !out.iter().any(|o| o.id == s.id) {
            out.push(s);
        }
    }
    Ok(out)
}

/// Every DB cluster snapshot of one cluster: automated, manual and those
/// AWS Backup made.
pub async fn cluster_snapshots_of(rds: &Client, cluster: &str) -> Result<Vec<Snapshot>, AwsError> {
    let mut out = list_cluster_snapshots(rds, Some(cluster), None).await?;
    for s in list_cluster_snapshots(rds, Some(cluster), Some("awsbackup")).await? {
        if !out.iter().any(|o| o.id == s.id) {
            out.push(s);
        }
    }
    Ok(out)
}

/// One DB cluster snapshot; `None` when it does not exist.
pub async fn describe_cluster_snapshot(
    rds: &Client,
    id: &str,
) -> Result<Option<Snapshot>, AwsError> {
    match rds
        .describe_db_cluster_snapshots()
        .db_cluster_snapshot_identifier(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.db_cluster_snapshots().first().map(cluster_snapshot_of)),
        Err(e) => none_if_missing(AwsError::from_sdk("rds:DescribeDBClusterSnapshots", e)),
    }
}

/// DB cluster snapshots, optionally of one cluster and of one type.
pub async fn list_cluster_snapshots(
    rds: &Client,
    cluster: Option<&str>,
    snapshot_type: Option<&str>,
) -> Result<Vec<Snapshot>, AwsError> {
    let mut out = Vec::new();
    let mut pages = rds
        .describe_db_cluster_snapshots()
        .set_db_cluster_identifier(cluster.map(str::to_string))
        .set_snapshot_type(snapshot_type.map(str::to_string))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("rds:DescribeDBClusterSnapshots", e))?;
        out.extend(page.db_cluster_snapshots().iter().map(cluster_snapshot_of));
    }
    Ok(out)
}

// ---------------------------------------------------------------- snapshots

/// Start a manual DB snapshot; returns the request id.
pub async fn create_snapshot(
    rds: &Client,
    instance: &str,
    snapshot: &str,
    tags: &[(String, String)],
) -> Result<Option<String>, AwsError> {
    let out = rds
        .create_db_snapshot()
        .db_instance_identifier(instance)
        .db_snapshot_identifier(snapshot)
        .set_tags(Some(tag_list(tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds:CreateDBSnapshot", e))?;
    Ok(out.request_id().map(str::to_string))
}

/// Start a manual DB cluster snapshot; returns the request id.
pub async fn create_cluster_snapshot(
    rds: &Client,
    cluster: &str,
    snapshot: &str,
    tags: &[(String, String)],
) -> Result<Option<String>, AwsError> {
    let out = rds
        .create_db_cluster_snapshot()
        .db_cluster_identifier(cluster)
        .db_cluster_snapshot_identifier(snapshot)
        .set_tags(Some(tag_list(tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds:CreateDBClusterSnapshot", e))?;
    Ok(out.request_id().map(str::to_string))
}

/// Copy a DB snapshot into the region of `rds` (the destination client),
/// naming the source by ARN. Encrypted cross-region copies on AWS also need a
/// KMS key in the destination region, which firedrill does not yet pass.
pub async fn copy_snapshot(
    rds: &Client,
    source_arn: &str,
    target: &str,
    tags: &[(String, String)],
) -> Result<Option<String>, AwsError> {
    let out = rds
        .copy_db_snapshot()
        .source_db_snapshot_identifier(source_arn)
        .target_db_snapshot_identifier(target)
        .set_tags(Some(tag_list(tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds:CopyDBSnapshot", e))?;
    Ok(out.request_id().map(str::to_string))
}

/// Copy a DB cluster snapshot into the region of `rds`.
pub async fn copy_cluster_snapshot(
    rds: &Client,
    source_arn: &str,
    target: &str,
    tags: &[(String, String)],
) -> Result<Option<String>, AwsError> {
    let out = rds
        .copy_db_cluster_snapshot()
        .source_db_cluster_snapshot_identifier(source_arn)
        .target_db_cluster_snapshot_identifier(target)
        .set_tags(Some(tag_list(tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds:CopyDBClusterSnapshot", e))?;
    Ok(out.request_id().map(str::to_string))
}

/// Delete a manual DB snapshot; `Ok(false)` when it was already gone.
pub async fn delete_snapshot(rds: &Client, id: &str) -> Result<bool, AwsError> {
    match rds
        .delete_db_snapshot()
        .db_snapshot_identifier(id)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) => gone_if_missing(AwsError::from_sdk("rds:DeleteDBSnapshot", e)),
    }
}

/// Delete a DB cluster snapshot; `Ok(false)` when it was already gone.
pub async fn delete_cluster_snapshot(rds: &Client, id: &str) -> Result<bool, AwsError> {
    match rds
        .delete_db_cluster_snapshot()
        .db_cluster_snapshot_identifier(id)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) => gone_if_missing(AwsError::from_sdk("rds:DeleteDBClusterSnapshot", e)),
    }
}

// ---------------------------------------------------------------- restore

/// Settings of a restored instance; `None` keeps the service default.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RestoreInstance {
    pub id: String,
    pub class: Option<String>,
    pub subnet_group: Option<String>,
    pub parameter_group: Option<String>,
    pub security_groups: Vec<String>,
    pub storage_type: Option<String>,
    pub iops: Option<i32>,
    pub multi_az: Option<bool>,
    pub tags: Tags,
}

/// Where a point-in-time restore goes back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestorePoint {
    Latest,
    At(OffsetDateTime),
}

/// Restore a DB instance from a DB snapshot; returns the request id.
pub async fn restore_from_snapshot(
    rds: &Client,
    snapshot: &str,
    r: &RestoreInstance,
) -> Result<Option<String>, AwsError> {
    let out = rds
        .restore_db_instance_from_db_snapshot()
        .db_snapshot_identifier(snapshot)
        .db_instance_identifier(&r.id)
        .set_db_instance_class(r.class.clone())
        .set_db_subnet_group_name(r.subnet_group.clone())
        .set_db_parameter_group_name(r.parameter_group.clone())
        .set_vpc_security_group_ids(
            (!r.security_groups.is_empty()).then(|| r.security_groups.clone()),
        )
        .set_storage_type(r.storage_type.clone())
        .set_iops(r.iops)
        .set_multi_az(r.multi_az)
        .set_tags(Some(tag_list(&r.tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds:RestoreDBInstanceFromDBSnapshot", e))?;
    Ok(out.request_id().map(str::to_string))
}

/// Restore a DB instance to a point in time of `source`; returns the request id.
pub async fn restore_to_point_in_time(
    rds: &Client,
    source: &str,
    point: RestorePoint,
    r: &RestoreInstance,
) -> Result<Option<String>, AwsError> {
    let mut req = rds
        .restore_db_instance_to_point_in_time()
        .source_db_instance_identifier(source)
        .target_db_instance_identifier(&r.id)
        .set_db_instance_class(r.class.clone())
        .set_db_subnet_group_name(r.subnet_group.clone())
        .set_db_parameter_group_name(r.parameter_group.clone())
        .set_vpc_security_group_ids(
            (!r.security_groups.is_empty()).then(|| r.security_groups.clone()),
        )
        .set_storage_type(r.storage_type.clone())
        .set_iops(r.iops)
        .set_multi_az(r.multi_az)
        .set_tags(Some(tag_list(&r.tags)));
    req = match point {
        RestorePoint::Latest => req.use_latest_restorable_time(true),
        RestorePoint::At(t) => req.restore_time(to_smithy(t)),
    };
    let out = req
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds:RestoreDBInstanceToPointInTime", e))?;
    Ok(out.request_id().map(str::to_string))
}

/// Settings of a restored cluster; `None` keeps the service default.
#[derive(Clone, Debug, Default)]
pub struct RestoreCluster {
    pub id: String,
    pub engine: String,
    pub engine_version: Option<String>,
    pub subnet_group: Option<String>,
    pub parameter_group: Option<String>,
    pub security_groups: Vec<String>,
    pub tags: Tags,
}

/// Restore a DB cluster from a cluster snapshot; returns the request id.
pub async fn restore_cluster_from_snapshot(
    rds: &Client,
    snapshot: &str,
    r: &RestoreCluster,
) -> Result<Option<String>, AwsError> {
    let out = rds
        .restore_db_cluster_from_snapshot()
        .snapshot_identifier(snapshot)
        .db_cluster_identifier(&r.id)
        .engine(&r.engine)
        .set_engine_version(r.engine_version.clone())
        .set_db_subnet_group_name(r.subnet_group.clone())
        .set_db_cluster_parameter_group_name(r.parameter_group.clone())
        .set_vpc_security_group_ids(
            (!r.security_groups.is_empty()).then(|| r.security_groups.clone()),
        )
        .set_tags(Some(tag_list(&r.tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds:RestoreDBClusterFromSnapshot", e))?;
    Ok(out.request_id().map(str::to_string))
}

/// Restore a DB cluster to a point in time of `source`; returns the
/// request id. The cluster's settings come from `r` (its `engine` is the
/// source's: the API takes none).
pub async fn restore_cluster_to_point_in_time(
    rds: &Client,
    source: &str,
    point: RestorePoint,
    r: &RestoreCluster,
) -> Result<Option<String>, AwsError> {
    let mut req = rds
        .restore_db_cluster_to_point_in_time()
        .source_db_cluster_identifier(source)
        .db_cluster_identifier(&r.id)
        .set_db_subnet_group_name(r.subnet_group.clone())
        .set_db_cluster_parameter_group_name(r.parameter_group.clone())
        .set_vpc_security_group_ids(
            (!r.security_groups.is_empty()).then(|| r.security_groups.clone()),
        )
        .set_tags(Some(tag_list(&r.tags)));
    req = match point {
        RestorePoint::Latest => req.use_latest_restorable_time(true),
        RestorePoint::At(t) => req.restore_to_time(to_smithy(t)),
    };
    let out = req
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds:RestoreDBClusterToPointInTime", e))?;
    Ok(out.request_id().map(str::to_string))
}

/// Create an instance inside a cluster (the writer of a restored cluster).
pub async fn create_cluster_instance(
    rds: &Client,
    cluster: &str,
    id: &str,
    engine: &str,
    class: &str,
    tags: &[(String, String)],
) -> Result<Option<String>, AwsError> {
    let out = rds
        .create_db_instance()
        .db_cluster_identifier(cluster)
        .db_instance_identifier(id)
        .engine(engine)
        .db_instance_class(class)
        .set_tags(Some(tag_list(tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds:CreateDBInstance", e))?;
    Ok(out.request_id().map(str::to_string))
}

// ---------------------------------------------------------------- faults

/// Reboot an instance, optionally forcing a Multi-AZ failover.
pub async fn reboot_instance(
    rds: &Client,
    id: &str,
    force_failover: bool,
) -> Result<Option<String>, AwsError> {
    let out = rds
        .reboot_db_instance()
        .db_instance_identifier(id)
        .set_force_failover(force_failover.then_some(true))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds:RebootDBInstance", e))?;
    Ok(out.request_id().map(str::to_string))
}

/// Stop an instance.
pub async fn stop_instance(rds: &Client, id: &str) -> Result<Option<String>, AwsError> {
    let out = rds
        .stop_db_instance()
        .db_instance_identifier(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds:StopDBInstance", e))?;
    Ok(out.request_id().map(str::to_string))
}

/// Start a stopped instance.
pub async fn start_instance(rds: &Client, id: &str) -> Result<Option<String>, AwsError> {
    let out = rds
        .start_db_instance()
        .db_instance_identifier(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds:StartDBInstance", e))?;
    Ok(out.request_id().map(str::to_string))
}

/// Add tags to a resource by ARN.
pub async fn add_tags(rds: &Client, arn: &str, tags: &[(String, String)]) -> Result<(), AwsError> {
    rds.add_tags_to_resource()
        .resource_name(arn)
        .set_tags(Some(tag_list(tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds:AddTagsToResource", e))?;
    Ok(())
}

/// Fail an Aurora cluster over to a reader.
pub async fn failover_cluster(rds: &Client, id: &str) -> Result<Option<String>, AwsError> {
    let out = rds
        .failover_db_cluster()
        .db_cluster_identifier(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds:FailoverDBCluster", e))?;
    Ok(out.request_id().map(str::to_string))
}

/// Delete an instance without a final snapshot. `delete_automated_backups`
/// is false only for the source-deleting fault, whose automated backups a
/// restore may still need. `Ok(false)` when it was already gone.
pub async fn delete_instance(
    rds: &Client,
    id: &str,
    delete_automated_backups: bool,
) -> Result<bool, AwsError> {
    match rds
        .delete_db_instance()
        .db_instance_identifier(id)
        .skip_final_snapshot(true)
        .delete_automated_backups(delete_automated_backups)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) => gone_if_missing(AwsError::from_sdk("rds:DeleteDBInstance", e)),
    }
}

/// Delete a cluster without a final snapshot; `Ok(false)` when already gone.
pub async fn delete_cluster(rds: &Client, id: &str) -> Result<bool, AwsError> {
    match rds
        .delete_db_cluster()
        .db_cluster_identifier(id)
        .skip_final_snapshot(true)
        .delete_automated_backups(true)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) => gone_if_missing(AwsError::from_sdk("rds:DeleteDBCluster", e)),
    }
}
