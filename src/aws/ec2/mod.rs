//! The EC2 and EBS calls firedrill makes, returning domain types and
//! [`AwsError`]: instances, volumes, snapshots and images, their states, and
//! the create/delete calls of the `ec2-instance` and `ebs-volume` kinds.
//!
//! Scratch resources are found either by id (`i-…`, `vol-…`, `snap-…`,
//! `ami-…`) or by the `Name` tag (the AMI name for images) that firedrill
//! gives them, since EC2 assigns ids only when the create call returns and
//! the ledger records the intent before it.

pub mod wait;

use std::collections::BTreeMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    Filter, InstanceType, Placement, ResourceType, Tag, TagSpecification, VolumeType,
};
use aws_types::request_id::RequestId;

use super::FromSdk;
use firedrill_core::AwsError;

/// Tags as a sorted map.
pub type Tags = BTreeMap<String, String>;

/// A volume attached to an instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachedVolume {
    pub device: String,
    pub volume_id: String,
    /// GiB, when the volume could be described.
    pub size_gib: Option<i32>,
}

/// An instance as described.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceInfo {
    pub id: String,
    /// `pending`, `running`, `stopping`, `stopped`, `shutting-down`, `terminated`.
    pub state: String,
    pub instance_type: String,
    pub availability_zone: String,
    pub subnet_id: Option<String>,
    pub security_group_ids: Vec<String>,
    pub root_device: Option<String>,
    pub volumes: Vec<AttachedVolume>,
    pub tags: Tags,
}

/// One attachment of a volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub instance_id: String,
    pub device: String,
    pub state: String,
}

/// A volume as described.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeInfo {
    pub id: String,
    /// `creating`, `available`, `in-use`, `deleting`, `deleted`, `error`.
    pub state: String,
    pub size_gib: i32,
    pub volume_type: String,
    pub iops: Option<i32>,
    pub encrypted: bool,
    pub availability_zone: String,
    pub attachments: Vec<Attachment>,
    pub tags: Tags,
}

/// A snapshot as described.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub id: String,
    /// `pending`, `completed`, `error`, ...
    pub state: String,
    pub progress: Option<String>,
    pub volume_size_gib: Option<i32>,
    pub tags: Tags,
    /// When the snapshot was started (its point in time).
    pub start_time: Option<time::OffsetDateTime>,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    /// A copy's names its source (`[Copied snap-… from us-east-1]`).
    pub description: String,
}

/// An image (AMI) as described.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    pub id: String,
    pub name: String,
    /// `pending`, `available`, `failed`, `deregistered`, ...
    pub state: String,
    /// `(device, snapshot id, size GiB)` of each EBS mapping.
    pub snapshots: Vec<(String, String, Option<i32>)>,
    pub tags: Tags,
    /// When the image was created.
    pub created_at: Option<time::OffsetDateTime>,
    /// Every EBS mapping encrypted; `None` when no mapping says.
    pub encrypted: Option<bool>,
    pub description: String,
    /// A copy's source AMI (`SourceImageId`; emulators may leave it out).
    pub source_image_id: Option<String>,
}

/// What to launch.
#[derive(Clone, Debug, Default)]
pub struct LaunchSpec {
    pub image_id: String,
    pub instance_type: String,
    pub availability_zone: Option<String>,
    pub subnet_id: Option<String>,
    pub security_group_ids: Vec<String>,
    /// Tags for the instance and every volume it creates.
    pub tags: Vec<(String, String)>,
}

/// What to create a volume from.
#[derive(Clone, Debug, Default)]
pub struct VolumeSpec {
    pub snapshot_id: String,
    pub availability_zone: String,
    pub volume_type: Option<String>,
    pub iops: Option<i32>,
    pub tags: Vec<(String, String)>,
}

/// A create call's result: the new id and the request id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    pub id: String,
    pub request_id: Option<String>,
}

fn tags_of(tags: &[aws_sdk_ec2::types::Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

fn tag_spec(rtype: ResourceType, tags: &[(String, String)]) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(rtype)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

fn filter(name: &str, values: &[&str]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|v| (*v).to_string()).collect()))
        .build()
}

/// `tag:KEY = VALUE` for every tag: resources carrying them all.
fn tag_filters(tags: &BTreeMap<String, String>) -> Vec<Filter> {
    tags.iter()
        .map(|(k, v)| filter(&format!("tag:{k}"), &[v.as_str()]))
        .collect()
}

/// Instances matching `filters`, every page.
async fn instances_where(
    ec2: &Client,
    filters: Vec<Filter>,
) -> Result<Vec<InstanceInfo>, AwsError> {
    let mut found = Vec::new();
    let mut pages = ec2
        .describe_instances()
        .set_filters(Some(filters))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ec2:DescribeInstances", e))?;
        found.extend(
            page.reservations()
                .iter()
                .flat_map(aws_sdk_ec2::types::Reservation::instances)
                .map(instance_info),
        );
    }
    Ok(found)
}

/// Volumes matching `filters`, every page.
async fn volumes_where(ec2: &Client, filters: Vec<Filter>) -> Result<Vec<VolumeInfo>, AwsError> {
    let mut found = Vec::new();
    let mut pages = ec2
        .describe_volumes()
        .set_filters(Some(filters))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ec2:DescribeVolumes", e))?;
        found.extend(page.volumes().iter().map(volume_info));
    }
    Ok(found)
}

/// Snapshots this account owns matching `filters`, every page.
async fn own_snapshots_where(
    ec2: &Client,
    filters: Vec<Filter>,
) -> Result<Vec<SnapshotInfo>, AwsError> {
    let mut found = Vec::new();
    let mut pages = ec2
        .describe_snapshots()
        .owner_ids("self")
        .set_filters(Some(filters))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ec2:DescribeSnapshots", e))?;
        found.extend(page.snapshots().iter().map(snapshot_info));
    }
    Ok(found)
}

fn rid<T: RequestId>(out: &T) -> Option<String> {
    out.request_id().map(str::to_string)
}

fn not_found_is_none<T>(r: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn instance_info(i: &aws_sdk_ec2::types::Instance) -> InstanceInfo {
    InstanceInfo {
        id: i.instance_id().unwrap_or_default().to_string(),
        state: i
            .state()
            .and_then(|s| s.name())
            .map_or_else(|| "unknown".into(), |n| n.as_str().to_string()),
        instance_type: i
            .instance_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        availability_zone: i
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap_or_default()
            .to_string(),
        subnet_id: i.subnet_id().filter(|s| !s.is_empty()).map(str::to_string),
        security_group_ids: i
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect(),
        root_device: i.root_device_name().map(str::to_string),
        volumes: i
            .block_device_mappings()
            .iter()
            .filter_map(|m| {
                Some(AttachedVolume {
                    device: m.device_name()?.to_string(),
                    volume_id: m.ebs()?.volume_id()?.to_string(),
                    size_gib: None,
                })
            })
            .collect(),
        tags: tags_of(i.tags()),
    }
}

fn volume_info(v: &aws_sdk_ec2::types::Volume) -> VolumeInfo {
    VolumeInfo {
        id: v.volume_id().unwrap_or_default().to_string(),
        state: v
            .state()
            .map_or_else(|| "unknown".into(), |s| s.as_str().to_string()),
        size_gib: v.size().unwrap_or_default(),
        volume_type: v
            .volume_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        iops: v.iops(),
        encrypted: v.encrypted().unwrap_or(false),
        availability_zone: v.availability_zone().unwrap_or_default().to_string(),
        attachments: v
            .attachments()
            .iter()
            .map(|a| Attachment {
                instance_id: a.instance_id().unwrap_or_default().to_string(),
                device: a.device().unwrap_or_default().to_string(),
                state: a
                    .state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            })
            .collect(),
        tags: tags_of(v.tags()),
    }
}

fn snapshot_info(s: &aws_sdk_ec2::types::Snapshot) -> SnapshotInfo {
    SnapshotInfo {
        id: s.snapshot_id().unwrap_or_default().to_string(),
        state: s
            .state()
            .map_or_else(|| "unknown".into(), |s| s.as_str().to_string()),
        progress: s.progress().map(str::to_string),
        volume_size_gib: s.volume_size(),
        tags: tags_of(s.tags()),
        start_time: s
            .start_time()
            .and_then(|t| time::OffsetDateTime::from_unix_timestamp_nanos(t.as_nanos()).ok()),
        encrypted: s.encrypted().unwrap_or(false),
        kms_key_id: s.kms_key_id().map(str::to_string),
        description: s.description().unwrap_or_default().to_string(),
    }
}

fn image_info(i: &aws_sdk_ec2::types::Image) -> ImageInfo {
    ImageInfo {
        id: i.image_id().unwrap_or_default().to_string(),
        name: i.name().unwrap_or_default().to_string(),
        state: i
            .state()
            .map_or_else(|| "unknown".into(), |s| s.as_str().to_string()),
        snapshots: i
            .block_device_mappings()
            .iter()
            .filter_map(|m| {
                let ebs = m.ebs()?;
                Some((
                    m.device_name().unwrap_or_default().to_string(),
                    ebs.snapshot_id()?.to_string(),
                    ebs.volume_size(),
                ))
            })
            .collect(),
        tags: tags_of(i.tags()),
        created_at: i.creation_date().and_then(|d| {
            time::OffsetDateTime::parse(d, &time::format_description::well_known::Rfc3339).ok()
        }),
        encrypted: {
            let flags: Vec<bool> = i
                .block_device_mappings()
                .iter()
                .filter_map(|m| m.ebs()?.encrypted())
                .collect();
            (!flags.is_empty()).then(|| flags.iter().all(|e| *e))
        },
        description: i.description().unwrap_or_default().to_string(),
        source_image_id: i.source_image_id().map(str::to_string),
    }
}

// --- Instances -------------------------------------------------------------

/// Describe one instance with the sizes of its volumes; `None` if unknown.
pub async fn instance(ec2: &Client, id: &str) -> Result<Option<InstanceInfo>, AwsError> {
    let out = not_found_is_none(
        ec2.describe_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeInstances", e)),
    )?;
    let Some(info) = out
        .as_ref()
        .and_then(|o| {
            o.reservations()
                .iter()
                .flat_map(aws_sdk_ec2::types::Reservation::instances)
                .next()
        })
        .map(instance_info)
    else {
        return Ok(None);
    };
    Ok(Some(with_volume_sizes(ec2, info).await?))
}

async fn with_volume_sizes(ec2: &Client, mut info: InstanceInfo) -> Result<InstanceInfo, AwsError> {
    if info.volumes.is_empty() {
        return Ok(info);
    }
    let ids: Vec<&str> = info.volumes.iter().map(|v| v.volume_id.as_str()).collect();
    let sizes: BTreeMap<String, i32> = volumes(ec2, &ids)
        .await?
        .into_iter()
        .map(|v| (v.id, v.size_gib))
        .collect();
    for v in &mut info.volumes {
        v.size_gib = sizes.get(&v.volume_id).copied();
    }
    Ok(info)
}

/// Instances (not terminated) whose `Name` tag is `name`.
pub async fn instances_named(ec2: &Client, name: &str) -> Result<Vec<InstanceInfo>, AwsError> {
    let out = ec2
        .describe_instances()
        .filters(filter("tag:Name", &[name]))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeInstances", e))?;
    Ok(out
        .reservations()
        .iter()
        .flat_map(aws_sdk_ec2::types::Reservation::instances)
        .map(instance_info)
        .filter(|i| i.state != "terminated")
        .collect())
}

/// Instances (not terminated) carrying every one of `tags`, every page.
pub async fn instances_with_tags(
    ec2: &Client,
    tags: &BTreeMap<String, String>,
) -> Result<Vec<InstanceInfo>, AwsError> {
    let mut found = instances_where(ec2, tag_filters(tags)).await?;
    found.retain(|i| i.state != "terminated" && i.state != "shutting-down");
    Ok(found)
}

/// Instances carrying the tag key `key` (any state but terminated).
pub async fn instances_tagged(ec2: &Client, key: &str) -> Result<Vec<InstanceInfo>, AwsError> {
    let mut found = instances_where(ec2, vec![filter("tag-key", &[key])]).await?;
    found.retain(|i| i.state != "terminated");
    Ok(found)
}

/// Launch one instance, tagging it and its volumes at creation.
pub async fn run_instance(ec2: &Client, spec: &LaunchSpec) -> Result<Created, AwsError> {
    let mut req = ec2
        .run_instances()
        .image_id(&spec.image_id)
        .instance_type(InstanceType::from(spec.instance_type.as_str()))
        .min_count(1)
        .max_count(1)
        .tag_specifications(tag_spec(ResourceType::Instance, &spec.tags))
        .tag_specifications(tag_spec(ResourceType::Volume, &spec.tags));
    if let Some(az) = &spec.availability_zone {
        req = req.placement(Placement::builder().availability_zone(az).build());
    }
    if let Some(subnet) = &spec.subnet_id {
        req = req.subnet_id(subnet);
    }
    if !spec.security_group_ids.is_empty() {
        req = req.set_security_group_ids(Some(spec.security_group_ids.clone()));
    }
    let out = req
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:RunInstances", e))?;
    let id = out
        .instances()
        .first()
        .and_then(|i| i.instance_id())
        .unwrap_or_default()
        .to_string();
    Ok(Created {
        id,
        request_id: rid(&out),
    })
}

/// Stop an instance; returns the request id.
pub async fn stop_instance(ec2: &Client, id: &str) -> Result<Option<String>, AwsError> {
    let out = ec2
        .stop_instances()
        .instance_ids(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:StopInstances", e))?;
    Ok(rid(&out))
}

/// Start an instance; returns the request id.
pub async fn start_instance(ec2: &Client, id: &str) -> Result<Option<String>, AwsError> {
    let out = ec2
        .start_instances()
        .instance_ids(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:StartInstances", e))?;
    Ok(rid(&out))
}

/// Reboot an instance; returns the request id.
pub async fn reboot_instance(ec2: &Client, id: &str) -> Result<Option<String>, AwsError> {
    let out = ec2
        .reboot_instances()
        .instance_ids(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:RebootInstances", e))?;
    Ok(rid(&out))
}

/// Terminate an instance; `Ok(None)` request id and `false` if it is unknown.
pub async fn terminate_instance(
    ec2: &Client,
    id: &str,
) -> Result<(bool, Option<String>), AwsError> {
    match ec2.terminate_instances().instance_ids(id).send().await {
        Ok(out) => Ok((true, rid(&out))),
        Err(e) => {
            let e = AwsError::from_sdk("ec2:TerminateInstances", e);
            if e.is_not_found() {
                Ok((false, None))
            } else {
                Err(e)
            }
        }
    }
}

// --- Volumes ---------------------------------------------------------------

/// Describe volumes by id (unknown ids are an error).
pub async fn volumes(ec2: &Client, ids: &[&str]) -> Result<Vec<VolumeInfo>, AwsError> {
    let out = ec2
        .describe_volumes()
        .set_volume_ids(Some(ids.iter().map(|s| (*s).to_string()).collect()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeVolumes", e))?;
    Ok(out.volumes().iter().map(volume_info).collect())
}

/// Describe one volume; `None` if unknown.
pub async fn volume(ec2: &Client, id: &str) -> Result<Option<VolumeInfo>, AwsError> {
    Ok(not_found_is_none(volumes(ec2, &[id]).await)?.and_then(|v| v.into_iter().next()))
}

/// Volumes attached to an instance.
pub async fn volumes_of_instance(
    ec2: &Client,
    instance_id: &str,
) -> Result<Vec<VolumeInfo>, AwsError> {
    let out = ec2
        .describe_volumes()
        .filters(filter("attachment.instance-id", &[instance_id]))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeVolumes", e))?;
    Ok(out.volumes().iter().map(volume_info).collect())
}

/// Volumes whose `Name` tag is `name`.
pub async fn volumes_named(ec2: &Client, name: &str) -> Result<Vec<VolumeInfo>, AwsError> {
    let out = ec2
        .describe_volumes()
        .filters(filter("tag:Name", &[name]))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeVolumes", e))?;
    Ok(out.volumes().iter().map(volume_info).collect())
}

/// Volumes carrying the tag key `key`.
pub async fn volumes_tagged(ec2: &Client, key: &str) -> Result<Vec<VolumeInfo>, AwsError> {
    volumes_where(ec2, vec![filter("tag-key", &[key])]).await
}

/// Volumes carrying every one of `tags` (key and value), every page.
pub async fn volumes_with_tags(
    ec2: &Client,
    tags: &BTreeMap<String, String>,
) -> Result<Vec<VolumeInfo>, AwsError> {
    volumes_where(ec2, tag_filters(tags)).await
}

/// Create a volume from a snapshot, tagged at creation.
pub async fn create_volume(ec2: &Client, spec: &VolumeSpec) -> Result<Created, AwsError> {
    let mut req = ec2
        .create_volume()
        .snapshot_id(&spec.snapshot_id)
        .availability_zone(&spec.availability_zone)
        .tag_specifications(tag_spec(ResourceType::Volume, &spec.tags));
    if let Some(t) = &spec.volume_type {
        req = req.volume_type(VolumeType::from(t.as_str()));
    }
    if let Some(iops) = spec.iops {
        req = req.iops(iops);
    }
    let out = req
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:CreateVolume", e))?;
    Ok(Created {
        id: out.volume_id().unwrap_or_default().to_string(),
        request_id: rid(&out),
    })
}

/// Detach a volume from an instance; returns the request id.
pub async fn detach_volume(
    ec2: &Client,
    volume_id: &str,
    instance_id: &str,
    device: &str,
) -> Result<Option<String>, AwsError> {
    // Instance and device are optional in the API, but `LocalStack` needs them.
    let out = ec2
        .detach_volume()
        .volume_id(volume_id)
        .instance_id(instance_id)
        .device(device)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DetachVolume", e))?;
    Ok(rid(&out))
}

/// Attach a volume to an instance at `device`; returns the request id.
pub async fn attach_volume(
    ec2: &Client,
    volume_id: &str,
    instance_id: &str,
    device: &str,
) -> Result<Option<String>, AwsError> {
    let out = ec2
        .attach_volume()
        .volume_id(volume_id)
        .instance_id(instance_id)
        .device(device)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:AttachVolume", e))?;
    Ok(rid(&out))
}

/// Delete a volume: `Ok(false)` if it was already gone.
pub async fn delete_volume(ec2: &Client, id: &str) -> Result<bool, AwsError> {
    match ec2.delete_volume().volume_id(id).send().await {
        Ok(_) => Ok(true),
        Err(e) => {
            let e = AwsError::from_sdk("ec2:DeleteVolume", e);
            if e.is_not_found() { Ok(false) } else { Err(e) }
        }
    }
}

// --- Snapshots -------------------------------------------------------------

/// Snapshot a volume, tagged at creation.
pub async fn create_snapshot(
    ec2: &Client,
    volume_id: &str,
    description: &str,
    tags: &[(String, String)],
) -> Result<Created, AwsError> {
    let out = ec2
        .create_snapshot()
        .volume_id(volume_id)
        .description(description)
        .tag_specifications(tag_spec(ResourceType::Snapshot, tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:CreateSnapshot", e))?;
    Ok(Created {
        id: out.snapshot_id().unwrap_or_default().to_string(),
        request_id: rid(&out),
    })
}

/// Copy a snapshot from `source_region` into the region of `ec2`.
pub async fn copy_snapshot(
    ec2: &Client,
    source_region: &str,
    snapshot_id: &str,
    description: &str,
    tags: &[(String, String)],
) -> Result<Created, AwsError> {
    let out = ec2
        .copy_snapshot()
        .source_region(source_region)
        .source_snapshot_id(snapshot_id)
        .description(description)
        .tag_specifications(tag_spec(ResourceType::Snapshot, tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:CopySnapshot", e))?;
    Ok(Created {
        id: out.snapshot_id().unwrap_or_default().to_string(),
        request_id: rid(&out),
    })
}

/// Describe one snapshot; `None` if unknown.
pub async fn snapshot(ec2: &Client, id: &str) -> Result<Option<SnapshotInfo>, AwsError> {
    let out = not_found_is_none(
        ec2.describe_snapshots()
            .snapshot_ids(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeSnapshots", e)),
    )?;
    Ok(out.and_then(|o| o.snapshots().first().map(snapshot_info)))
}

/// Own snapshots whose `Name` tag is `name`.
pub async fn snapshots_named(ec2: &Client, name: &str) -> Result<Vec<SnapshotInfo>, AwsError> {
    let out = ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(filter("tag:Name", &[name]))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeSnapshots", e))?;
    Ok(out.snapshots().iter().map(snapshot_info).collect())
}

/// Own snapshots carrying the tag key `key`.
pub async fn snapshots_tagged(ec2: &Client, key: &str) -> Result<Vec<SnapshotInfo>, AwsError> {
    own_snapshots_where(ec2, vec![filter("tag-key", &[key])]).await
}

/// The completed snapshots this account owns of one volume: its existing
/// recovery points (from Data Lifecycle Manager, AWS Backup or a script).
pub async fn snapshots_of_volume(
    ec2: &Client,
    volume_id: &str,
) -> Result<Vec<SnapshotInfo>, AwsError> {
    let filters = vec![
        filter("volume-id", &[volume_id]),
        filter("status", &["completed"]),
    ];
    own_snapshots_where(ec2, filters).await
}

/// Own snapshots in the region of `ec2` whose description names
/// `source_id`: copies of it (EC2 describes a copy as `[Copied snap-… from
/// region]` unless the copier gave its own description naming it).
pub async fn snapshots_copied_from(
    ec2: &Client,
    source_id: &str,
) -> Result<Vec<SnapshotInfo>, AwsError> {
    let pattern = format!("*{source_id}*");
    own_snapshots_where(ec2, vec![filter("description", &[&pattern])]).await
}

/// Own available AMIs in the region of `ec2` copied from `source_id`:
/// `SourceImageId` says so, or (where it is not reported) the description
/// names it.
pub async fn images_copied_from(ec2: &Client, source_id: &str) -> Result<Vec<ImageInfo>, AwsError> {
    let out = ec2
        .describe_images()
        .owners("self")
        .filters(filter("state", &["available"]))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeImages", e))?;
    Ok(out
        .images()
        .iter()
        .map(image_info)
        .filter(|i| {
            i.source_image_id.as_deref() == Some(source_id) || i.description.contains(source_id)
        })
        .collect())
}

/// The available AMIs this account owns matching a name (wildcards
/// allowed) and every tag given: an instance's existing recovery points.
pub async fn images_matching(
    ec2: &Client,
    name: Option<&str>,
    tags: &[(String, String)],
) -> Result<Vec<ImageInfo>, AwsError> {
    let mut req = ec2
        .describe_images()
        .owners("self")
        .filters(filter("state", &["available"]));
    if let Some(n) = name {
        req = req.filters(filter("name", &[n]));
    }
    for (k, v) in tags {
        req = req.filters(filter(&format!("tag:{k}"), &[v]));
    }
    let out = req
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeImages", e))?;
    Ok(out.images().iter().map(image_info).collect())
}

/// Delete a snapshot: `Ok(false)` if it was already gone.
pub async fn delete_snapshot(ec2: &Client, id: &str) -> Result<bool, AwsError> {
    match ec2.delete_snapshot().snapshot_id(id).send().await {
        Ok(_) => Ok(true),
        Err(e) => {
            let e = AwsError::from_sdk("ec2:DeleteSnapshot", e);
            if e.is_not_found() { Ok(false) } else { Err(e) }
        }
    }
}

// --- Images ----------------------------------------------------------------

/// Create an AMI of an instance. With `tags_on_create` the image and its
/// snapshots are tagged by the same call; otherwise (emulators that reject
/// tag specifications here) the caller tags them afterwards.
pub async fn create_image(
    ec2: &Client,
    instance_id: &str,
    name: &str,
    no_reboot: bool,
    tags: Option<&[(String, String)]>,
) -> Result<Created, AwsError> {
    let mut req = ec2
        .create_image()
        .instance_id(instance_id)
        .name(name)
        .description(format!("firedrill backup of {instance_id}"))
        .no_reboot(no_reboot);
    if let Some(tags) = tags {
        req = req
            .tag_specifications(tag_spec(ResourceType::Image, tags))
            .tag_specifications(tag_spec(ResourceType::Snapshot, tags));
    }
    let out = req
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:CreateImage", e))?;
    Ok(Created {
        id: out.image_id().unwrap_or_default().to_string(),
        request_id: rid(&out),
    })
}

/// Copy an AMI from `source_region` into the region of `ec2`.
pub async fn copy_image(
    ec2: &Client,
    source_region: &str,
    image_id: &str,
    name: &str,
) -> Result<Created, AwsError> {
    let out = ec2
        .copy_image()
        .source_region(source_region)
        .source_image_id(image_id)
        .name(name)
        .description(format!("firedrill copy of {image_id} from {source_region}"))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:CopyImage", e))?;
    Ok(Created {
        id: out.image_id().unwrap_or_default().to_string(),
        request_id: rid(&out),
    })
}

/// Describe one image; `None` if unknown.
pub async fn image(ec2: &Client, id: &str) -> Result<Option<ImageInfo>, AwsError> {
    let out = not_found_is_none(
        ec2.describe_images()
            .image_ids(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeImages", e)),
    )?;
    Ok(out.and_then(|o| o.images().first().map(image_info)))
}

/// Own images named `name`.
pub async fn images_named(ec2: &Client, name: &str) -> Result<Vec<ImageInfo>, AwsError> {
    let out = ec2
        .describe_images()
        .owners("self")
        .filters(filter("name", &[name]))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeImages", e))?;
    Ok(out.images().iter().map(image_info).collect())
}

/// Own images carrying the tag key `key`.
pub async fn images_tagged(ec2: &Client, key: &str) -> Result<Vec<ImageInfo>, AwsError> {
    let out = ec2
        .describe_images()
        .owners("self")
        .filters(filter("tag-key", &[key]))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeImages", e))?;
    Ok(out.images().iter().map(image_info).collect())
}

/// Deregister an image: `Ok(false)` if it was already gone.
pub async fn deregister_image(ec2: &Client, id: &str) -> Result<bool, AwsError> {
    match ec2.deregister_image().image_id(id).send().await {
        Ok(_) => Ok(true),
        Err(e) => {
            let e = AwsError::from_sdk("ec2:DeregisterImage", e);
            if e.is_not_found() { Ok(false) } else { Err(e) }
        }
    }
}

// --- Tags and zones ----------------------------------------------------------

/// Tag resources (after the fact, where tagging at creation is not possible).
pub async fn create_tags(
    ec2: &Client,
    ids: &[&str],
    tags: &[(String, String)],
) -> Result<(), AwsError> {
    if ids.is_empty() {
        return Ok(());
    }
    ec2.create_tags()
        .set_resources(Some(ids.iter().map(|s| (*s).to_string()).collect()))
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:CreateTags", e))?;
    Ok(())
}

/// The first available zone of the client's region.
pub async fn first_zone(ec2: &Client) -> Result<Option<String>, AwsError> {
    let out = ec2
        .describe_availability_zones()
        .filters(filter("state", &["available"]))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeAvailabilityZones", e))?;
    let mut zones: Vec<String> = out
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    zones.sort();
    Ok(zones.into_iter().next())
}
