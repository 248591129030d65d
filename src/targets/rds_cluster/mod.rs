//! `rds-cluster` (Aurora): snapshot a DB cluster (or use an existing
//! snapshot, or a point in time), optionally copy the snapshot to a
//! disaster-recovery region, fail the cluster over, restore a scratch
//! cluster plus a writer instance, and compare it with the source.

mod iam;
mod options;
mod runbook;

use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::Deserialize;

use super::common::compare::tags_text;
use super::common::rds::{cleanup_wait, is_kept, release_kept, selected, snapshot_tags, tagged};
use super::common::rds_compare::{Comparer, user_tags};
use super::common::rds_sql::{RawSql, SqlConfig, data_checks};
use super::{KindSpec, StageContext, Target};
use crate::aws::Clients;
use crate::aws::rds::wait;
use crate::aws::rds::{self as api, DbCluster, RestoreCluster, RestorePoint};
use firedrill_core::ResourceType;
use firedrill_core::ScratchResource;
use firedrill_core::coverage::Listing;
use firedrill_core::input::Spanned;
use firedrill_core::options::TargetInput;
use firedrill_core::point_in_time::Restorable;
use firedrill_core::recovery::{RecoveryPoint, SourceSpec, rfc3339};
use options::Backup;

use super::common::point_in_time as pitr;
use firedrill_core::source_keys::IdShape;
use firedrill_core::validate::{db_identifier, dr_region};
use firedrill_core::{
    DeleteOutcome, FaultSpec, PlannedAction, Preflight, StageError, StageOutput, Tagged, Validation,
};
use firedrill_core::{Diagnostic, Service};
use firedrill_core::{Effect, Stage};

/// Registry entry.
pub const KIND: KindSpec = KindSpec {
    name: "rds-cluster",
    summary: "An Aurora DB cluster: cluster snapshot (or point-in-time), failover, restore into a scratch cluster with a writer, compare its configuration.",
    parse,
    schema: |g| RawRdsCluster::json_schema(g),
    delete,
    find_tagged,
    revert: None,
    retain: super::common::rds_undo::retain,
};

/// `select = { tags = ... }`: Aurora DB clusters listed and matched by tag
/// (RDS has no tag filter on `DescribeDBClusters`).
pub const SELECT: super::select::Selectable = super::select::Selectable {
    kind: "rds-cluster",
    id_key: "cluster",
    placeholder: "selected-by-tag",
    noun: "DB clusters",
    list: |clients, tags| {
        Box::pin(async move {
            Ok(api::list_clusters(clients.rds())
                .await?
                .into_iter()
                .filter(|c| selected(&c.id, &c.status, &c.tags, tags))
                .map(|c| c.id)
                .collect())
        })
    },
};

const RT_CLUSTER: ResourceType = ResourceType::DbCluster;
const RT_INSTANCE: ResourceType = ResourceType::DbInstance;
const RT_SNAPSHOT: ResourceType = ResourceType::DbClusterSnapshot;
firedrill_core::named_enum! {
    /// The `[targets.fault] action` values.
    enum FaultAction {
        Failover = "failover",
        None = "none",
    }
}
/// What a cluster recovery point id looks like: a DB cluster snapshot
/// identifier, including `rds:` (automated) and `awsbackup:` names.
const CLUSTER_SNAPSHOT_ID: IdShape = IdShape {
    what: "DB cluster snapshot",
    example: "rds:orders-2026-01-31-03-00",
    accepts: |v| v.contains(':') || v.contains('-'),
};

/// Writer class when the source has no instance to copy it from.
const DEFAULT_WRITER_CLASS: &str = "db.r6g.large";

/// `kind = "rds-cluster"`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRdsCluster {
    /// The DB cluster identifier the drill protects.
    pub cluster: Spanned<String>,
    /// Where the backup comes from: a new cluster snapshot (default), a
    /// point in time, or an existing snapshot (`latest`, `random` or its
    /// identifier).
    #[serde(default)]
    pub backup: options::RawBackup,
    pub fault: Option<firedrill_core::options::RawFaultAction>,
    #[serde(default)]
    pub restore: RawRestore,
    #[serde(default)]
    pub validate: RawValidate,
    /// Keep the drill's own cluster snapshots after the run (default false).
    pub keep_snapshots: Option<bool>,
    /// Log-in for SQL validation of the source and the restored cluster.
    pub sql: Option<RawSql>,
    /// Custom SQL checks run on the restored cluster.
    #[serde(default)]
    pub check: Vec<crate::sql::RawCheck>,
}

/// `[targets.restore]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRestore {
    /// Class of the scratch writer instance (default: the source writer's).
    pub instance_class: Option<String>,
    /// Copy the cluster snapshot to this region and restore there.
    pub dr_region: Option<Spanned<String>>,
}

/// `[targets.validate]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawValidate {
    /// Compare the restored cluster's tags with the source's (default true).
    pub compare_tags: Option<bool>,
}

fn parse(input: TargetInput<'_>, diags: &mut Vec<Diagnostic>) -> Option<Box<dyn Target>> {
    let name = input.name.to_string();
    let home = input.home_region;
    let raw: RawRdsCluster = firedrill_core::options::deserialize_kind_options(input, diags)?;
    db_identifier(&raw.cluster, "cluster", diags);
    let failover = raw
        .fault
        .as_ref()
        .and_then(|f| FaultAction::parse(&f.action, "fault action", diags))
        == Some(FaultAction::Failover);
    if let Some(f) = &raw.fault {
        f.check_undo_keys(false, false, diags);
    }
    let (backup, source) = options::backup(&raw.backup, CLUSTER_SNAPSHOT_ID, diags);
    if let Some(r) = &raw.restore.dr_region {
        dr_region(r, home, diags);
        if matches!(backup, Backup::PointInTime(_)) {
            diags.push(super::common::point_in_time::dr_region_without_snapshot(
                r,
                "`method = \"snapshot\"` or an existing snapshot (`source`)",
            ));
        }
    }
    Some(Box::new(RdsCluster {
        source,
        backup,
        name,
        cluster: raw.cluster.into_inner(),
        failover,
        instance_class: raw.restore.instance_class,
        dr_region: raw.restore.dr_region.map(Spanned::into_inner),
        compare_tags: raw.validate.compare_tags.unwrap_or(true),
        keep_snapshots: raw.keep_snapshots.unwrap_or(false),
        sql: super::common::rds_sql::parse(raw.sql, &raw.check, diags),
        state: State::default(),
    }))
}

#[derive(Debug, Default)]
struct State {
    source: Option<DbCluster>,
    writer_class: Option<String>,
    /// Snapshot id and ARN in the home region.
    snapshot: Option<(String, String)>,
    /// For a point-in-time restore: the time T and how the request names it.
    point_in_time: Option<(time::OffsetDateTime, RestorePoint)>,
    dr_snapshot: Option<String>,
    /// Scratch cluster, writer and region.
    restored: Option<(String, String, String)>,
    /// Data baseline from the source at backup time, or why there is none.
    baseline: Option<Result<crate::sql::Baseline, String>>,
}

/// A validated `rds-cluster` target.
#[derive(Debug)]
pub struct RdsCluster {
    /// A new cluster snapshot, or an existing one chosen in the backup stage.
    source: SourceSpec,
    /// A cluster snapshot, or the cluster itself at a point in time.
    backup: Backup,
    name: String,
    cluster: String,
    failover: bool,
    instance_class: Option<String>,
    dr_region: Option<String>,
    compare_tags: bool,
    keep_snapshots: bool,
    /// SQL validation, when `[targets.sql]` is given.
    sql: Option<SqlConfig>,
    state: State,
}

impl RdsCluster {
    /// The backup stage for an existing cluster snapshot: list the
    /// cluster's available snapshots (not firedrill's own) and choose.
    async fn choose_existing(
        &mut self,
        cx: &StageContext,
        mut out: StageOutput,
    ) -> Result<StageOutput, StageError> {
        let snaps = api::cluster_snapshots_of(cx.clients.rds(), &self.cluster).await?;
        let snap = super::common::rds::choose_snapshot(
            cx,
            &self.source,
            snaps,
            &self.resource(),
            "available cluster snapshot",
            &mut out,
        )?;
        self.state.snapshot = Some((snap.id, snap.arn));
        Ok(out)
    }

    /// The backup stage of a point-in-time restore: nothing is created;
    /// T is fixed and checked against the cluster's restorable window.
    async fn choose_point_in_time(
        &mut self,
        cx: &StageContext,
        mut out: StageOutput,
        point: RestorePoint,
    ) -> Result<StageOutput, StageError> {
        let src = api::describe_cluster(cx.clients.rds(), &self.cluster).await?;
        let window = Restorable {
            earliest: src.as_ref().and_then(|c| c.earliest_restorable_time),
            latest: src.as_ref().and_then(|c| c.latest_restorable_time),
        };
        let (t, request) = pitr::fix_rds_time(cx, point, window, &self.resource())?;
        self.state.point_in_time = Some((t, request));
        let known = |t: Option<time::OffsetDateTime>| t.map_or_else(|| "unknown".into(), rfc3339);
        out.detail = format!(
            "no snapshot: point-in-time restore of {} to {} (restorable from {} to {})",
            self.cluster,
            rfc3339(t),
            known(window.earliest),
            known(window.latest)
        );
        Ok(out.fact("point_in_time", rfc3339(t)))
    }

    fn source(&self) -> Result<&DbCluster, StageError> {
        self.state
            .source
            .as_ref()
            .ok_or_else(|| StageError::Failed("the source was not described".into()))
    }
}

fn resource_in(cx: &StageContext, rtype: ResourceType, id: &str, region: &str) -> ScratchResource {
    let mut r = cx.resource(KIND.name, rtype, id, Service::Rds);
    r.region = region.to_string();
    r
}

#[async_trait]
impl Target for RdsCluster {
    fn runbook_steps(&self) -> Vec<firedrill_core::runbook::RunbookStep> {
        runbook::steps(self)
    }

    fn resource(&self) -> String {
        format!("rds:cluster:{}", self.cluster)
    }

    fn services(&self) -> &'static [Service] {
        &[Service::Rds]
    }

    fn fault(&self) -> Option<FaultSpec> {
        self.failover.then(|| FaultSpec {
            action: FaultAction::Failover.as_str(),
            description: format!(
                "fail DB cluster `{}` over to a reader instance",
                self.cluster
            ),
            destructive: true,
            loses_data: false,
            service: Service::Rds,
            endpoint: None,
        })
    }

    fn dr_region(&self) -> Option<&str> {
        self.dr_region.as_deref()
    }

    fn plan(&self, run_id: &str, index: usize) -> Vec<PlannedAction> {
        let scratch = |s: &str| format!("firedrill-{run_id}-{index}-{s}");
        let life = Some(Duration::from_mins(30));
        let a = |stage: Stage, effect: Effect, call: &str, resource: String, l| PlannedAction {
            stage,
            effect,
            api_call: call.into(),
            resource,
            scratch_lifetime: l,
        };
        let mut p = vec![
            a(
                Stage::Preflight,
                Effect::Read,
                "rds:DescribeDBClusters, rds:DescribeDBInstances",
                self.resource(),
                None,
            ),
            if self.source.is_existing() {
                a(
                    Stage::Backup,
                    Effect::Read,
                    "rds:DescribeDBClusterSnapshots",
                    self.source
                        .describe(&format!("cluster snapshot of {}", self.cluster)),
                    None,
                )
            } else if let Backup::PointInTime(point) = self.backup {
                a(
                    Stage::Backup,
                    Effect::Read,
                    "rds:DescribeDBClusters (restorable window; no snapshot)",
                    match point {
                        RestorePoint::Latest => {
                            format!("{} at its latest restorable time", self.resource())
                        }
                        RestorePoint::At(t) => format!("{} at {}", self.resource(), rfc3339(t)),
                    },
                    None,
                )
            } else {
                a(
                    Stage::Backup,
                    Effect::Create,
                    "rds:CreateDBClusterSnapshot, rds:DescribeDBClusterSnapshots",
                    format!("rds:cluster-snapshot:{}", scratch("snap")),
                    life,
                )
            },
        ];
        if let Some(f) = self.fault() {
            p.push(a(
                Stage::Fault,
                Effect::Change,
                "rds:FailoverDBCluster",
                f.description,
                None,
            ));
        }
        if let Some(dr) = &self.dr_region {
            p.push(a(
                Stage::Copy,
                Effect::Create,
                "rds:CopyDBClusterSnapshot, rds:DescribeDBClusterSnapshots",
                format!("rds:cluster-snapshot:{} ({dr})", scratch("dr-snap")),
                life,
            ));
        }
        p.push(a(
            Stage::Restore,
            Effect::Create,
            if matches!(self.backup, Backup::PointInTime(_)) {
                "rds:RestoreDBClusterToPointInTime, rds:DescribeDBClusters"
            } else {
                "rds:RestoreDBClusterFromSnapshot, rds:DescribeDBClusters"
            },
            format!("rds:cluster:{}", scratch("restore")),
            life,
        ));
        p.push(a(
            Stage::Restore,
            Effect::Create,
            "rds:CreateDBInstance, rds:DescribeDBInstances",
            format!("rds:db:{}", scratch("writer")),
            life,
        ));
        p.push(a(
            Stage::Validate,
            Effect::Read,
            "rds:DescribeDBClusters",
            format!("rds:cluster:{}", scratch("restore")),
            None,
        ));
        p.push(a(
            Stage::Cleanup,
            Effect::Delete,
            "rds:DeleteDBInstance, rds:DeleteDBCluster, rds:DeleteDBClusterSnapshot",
            "every scratch instance, cluster and snapshot above".into(),
            None,
        ));
        p
    }

    async fn preflight(&mut self, cx: &StageContext) -> Result<Preflight, StageError> {
        let rds = cx.clients.rds();
        let Some(src) = api::describe_cluster(rds, &self.cluster).await? else {
            return Err(StageError::Environment(format!(
                "DB cluster `{}` does not exist in {} (hint: check `cluster` in target `{}` and the RDS endpoint)",
                self.cluster,
                cx.clients.region(),
                self.name
            )));
        };
        if src.status != "available" {
            return Err(StageError::Environment(format!(
                "DB cluster `{}` is `{}`, not `available` (hint: wait until it is available)",
                self.cluster, src.status
            )));
        }
        if self.failover && src.members.len() < 2 {
            return Err(StageError::Environment(format!(
                "DB cluster `{}` has {} instance(s): a failover needs a reader (hint: add a reader instance or use `action = \"none\"`)",
                self.cluster,
                src.members.len()
            )));
        }
        if let Some(w) = src.writer() {
            self.state.writer_class = api::describe_instance(rds, w).await?.map(|i| i.class);
        }
        let detail = format!(
            "DB cluster {} is available ({} {}, {} instance(s), writer {})",
            self.cluster,
            src.engine,
            src.engine_version,
            src.members.len(),
            src.writer().unwrap_or("none")
        );
        let tags = src.tags.iter().cloned().collect();
        self.state.source = Some(src);
        Ok(Preflight { detail, tags })
    }

    async fn backup(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let rds = cx.clients.rds();
        let mut out = StageOutput::default().emulated(cx.emulated(Service::Rds));
        // The data baseline is taken just before the snapshot starts.
        if let Some(sql) = &self.sql {
            let src = self.source()?;
            self.state.baseline = Some(sql.capture(&src.engine, src.endpoint.as_deref()).await);
        }
        if self.source.is_existing() {
            return self.choose_existing(cx, out).await;
        }
        if let Backup::PointInTime(point) = self.backup {
            return self.choose_point_in_time(cx, out, point).await;
        }
        let id = cx.scratch_name("snap");
        let entry = cx.intend(resource_in(cx, RT_SNAPSHOT, &id, cx.clients.region()))?;
        let request_id = api::create_cluster_snapshot(
            rds,
            &self.cluster,
            &id,
            &snapshot_tags(cx, self.keep_snapshots),
        )
        .await?;
        cx.created(entry, request_id.as_deref())?;
        out.request("rds:CreateDBClusterSnapshot", request_id.as_deref());
        let polled = wait::cluster_snapshot(rds, &cx.clock, cx.poll_policy(), &id).await?;
        out.record_wait(&polled, Service::Rds);
        release_kept(cx, entry, self.keep_snapshots)?;
        out.detail = format!(
            "cluster snapshot {id} of {} is available (±{})",
            self.cluster,
            firedrill_core::timing::human(polled.error_bound)
        );
        self.state.snapshot = Some((id.clone(), polled.value.arn));
        Ok(out.fact("snapshot", id))
    }

    async fn copy(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let Some(dr) = self.dr_region.clone() else {
            return Err(StageError::Failed("no dr_region configured".into()));
        };
        let (_, arn) = self
            .state
            .snapshot
            .clone()
            .ok_or_else(|| StageError::Failed("no snapshot to copy".into()))?;
        let rds = cx.clients.in_region(&dr).rds;
        let mut out = StageOutput::default().emulated(cx.emulated(Service::Rds));
        let id = cx.scratch_name("dr-snap");
        let entry = cx.intend(resource_in(cx, RT_SNAPSHOT, &id, &dr))?;
        let request_id =
            api::copy_cluster_snapshot(&rds, &arn, &id, &snapshot_tags(cx, self.keep_snapshots))
                .await?;
        cx.created(entry, request_id.as_deref())?;
        out.request("rds:CopyDBClusterSnapshot", request_id.as_deref());
        let polled = wait::cluster_snapshot(&rds, &cx.clock, cx.poll_policy(), &id).await?;
        out.record_wait(&polled, Service::Rds);
        release_kept(cx, entry, self.keep_snapshots)?;
        out.detail = format!(
            "copied {arn} to {id} in {dr} (±{})",
            firedrill_core::timing::human(polled.error_bound)
        );
        self.state.dr_snapshot = Some(id.clone());
        Ok(out.fact("dr_snapshot", id).fact("dr_region", dr))
    }

    fn permissions(
        &self,
        arn: &firedrill_core::iam::ArnContext,
    ) -> Vec<firedrill_core::iam::Permission> {
        self.iam_permissions(arn)
    }

    async fn recovery_points(&self, clients: &Clients) -> Result<Listing, StageError> {
        let snaps = api::cluster_snapshots_of(clients.rds(), &self.cluster).await?;
        Ok(Listing::Listed(super::common::rds::recovery_points(&snaps)))
    }

    async fn copy_in(
        &self,
        clients: &Clients,
        region: &str,
        point: &RecoveryPoint,
    ) -> Option<Result<Option<String>, StageError>> {
        let home = match api::describe_cluster_snapshot(clients.rds(), &point.id).await {
            Ok(h) => h,
            Err(e) => return Some(Err(e.into())),
        };
        let rds = clients.in_region(region).rds;
        Some(
            super::common::rds::copy_in(home, || api::cluster_snapshots_of(&rds, &self.cluster))
                .await,
        )
    }

    fn undo(&self) -> firedrill_core::UndoPlan {
        if self.failover {
            firedrill_core::UndoPlan::Nothing(format!(
                "cluster `{}` keeps serving from the new writer after a failover",
                self.cluster
            ))
        } else {
            firedrill_core::UndoPlan::Nothing("no fault configured".into())
        }
    }

    async fn inject(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let mut out = StageOutput::default().emulated(cx.emulated(Service::Rds));
        if !self.failover {
            out.detail = "no fault injected".into();
            return Ok(out);
        }
        let before = self.source()?.writer().map(str::to_string);
        let request_id = api::failover_cluster(cx.clients.rds(), &self.cluster).await?;
        out.request("rds:FailoverDBCluster", request_id.as_deref());
        out.detail = format!(
            "failing DB cluster {} over (writer was {})",
            self.cluster,
            before.as_deref().unwrap_or("unknown")
        );
        if let Some(w) = before {
            out = out.fact("writer_before", w);
        }
        Ok(out)
    }

    async fn restore(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let region = self
            .dr_region
            .clone()
            .unwrap_or_else(|| cx.clients.region().to_string());
        let home = region == cx.clients.region();
        let rds = cx.clients.in_region(&region).rds;
        let src = self.source()?.clone();
        let mut out = StageOutput::default().emulated(cx.emulated(Service::Rds));
        let snap = if self.state.point_in_time.is_some() {
            None
        } else if home {
            self.state.snapshot.as_ref().map(|(id, _)| id.clone())
        } else {
            self.state.dr_snapshot.clone()
        };
        let mut tags: Vec<(String, String)> = user_tags(&src.tags).into_iter().collect();
        tags.extend(cx.tags());

        let cluster_id = cx.scratch_name("restore");
        let entry = cx.intend(resource_in(cx, RT_CLUSTER, &cluster_id, &region))?;
        let writer_id = cx.scratch_name("writer");
        self.state.restored = Some((cluster_id.clone(), writer_id.clone(), region.clone()));
        // Subnet group, parameter group and security groups live in one
        // region: copied only when restoring in the source's region.
        let settings = RestoreCluster {
            id: cluster_id.clone(),
            engine: src.engine.clone(),
            engine_version: Some(src.engine_version.clone()).filter(|v| !v.is_empty()),
            subnet_group: src.subnet_group.clone().filter(|_| home),
            parameter_group: src.parameter_group.clone().filter(|_| home),
            security_groups: if home {
                src.security_groups.clone()
            } else {
                Vec::new()
            },
            tags: tags.clone(),
        };
        let (op, from, request_id) = match (&snap, self.state.point_in_time) {
            (Some(snap), _) => (
                "rds:RestoreDBClusterFromSnapshot",
                format!("snapshot {snap}"),
                api::restore_cluster_from_snapshot(&rds, snap, &settings).await?,
            ),
            (None, Some((t, point))) => (
                "rds:RestoreDBClusterToPointInTime",
                format!("{} at {}", self.cluster, rfc3339(t)),
                api::restore_cluster_to_point_in_time(&rds, &self.cluster, point, &settings)
                    .await?,
            ),
            (None, None) => {
                return Err(StageError::Failed("no snapshot to restore from".into()));
            }
        };
        cx.created(entry, request_id.as_deref())?;
        out.request(op, request_id.as_deref());
        wait::cluster(
            &rds,
            &cx.clock,
            cx.poll_policy(),
            &cluster_id,
            &["available"],
        )
        .await?;

        let class = self
            .instance_class
            .clone()
            .or_else(|| self.state.writer_class.clone())
            .unwrap_or_else(|| DEFAULT_WRITER_CLASS.to_string());
        let mut writer = resource_in(cx, RT_INSTANCE, &writer_id, &region);
        writer.parent = Some(cluster_id.clone());
        let entry = cx.intend(writer)?;
        let request_id =
            api::create_cluster_instance(&rds, &cluster_id, &writer_id, &src.engine, &class, &tags)
                .await?;
        cx.created(entry, request_id.as_deref())?;
        out.request("rds:CreateDBInstance", request_id.as_deref());
        // The cluster serves once its writer is available.
        let polled = wait::instance(
            &rds,
            &cx.clock,
            cx.poll_policy(),
            &writer_id,
            &["available"],
        )
        .await?;
        out.record_wait(&polled, Service::Rds);
        out.detail = format!(
            "restored {from} into cluster {cluster_id} with writer {writer_id} ({class}) in {region}: available (±{})",
            firedrill_core::timing::human(polled.error_bound)
        );
        Ok(out
            .fact("restore_cluster", cluster_id)
            .fact("writer", writer_id)
            .fact("region", region))
    }

    async fn validate(&mut self, cx: &StageContext) -> Result<Validation, StageError> {
        let (cluster_id, writer_id, region) = self
            .state
            .restored
            .clone()
            .ok_or_else(|| StageError::Failed("nothing restored".into()))?;
        let rds = cx.clients.in_region(&region).rds;
        let emulated = cx.emulated(Service::Rds);
        let out = StageOutput::default().emulated(emulated);
        let restored = api::describe_cluster(&rds, &cluster_id)
            .await?
            .ok_or_else(|| {
                StageError::Failed(format!("restored DB cluster `{cluster_id}` is gone"))
            })?;
        let src = self.source()?.clone();
        let mut c = Comparer {
            emulated,
            what: format!("restored DB cluster {cluster_id}"),
            code: "rds-cluster.mismatch",
            ..Comparer::default()
        };
        c.field("status", "available", &restored.status);
        c.field("engine", &src.engine, &restored.engine);
        c.field(
            "engine version",
            &src.engine_version,
            &restored.engine_version,
        );
        c.field("encrypted", src.encrypted, restored.encrypted);
        c.field("writer", &writer_id, restored.writer().unwrap_or("(none)"));
        if self.compare_tags {
            c.field(
                "tags",
                tags_text(&user_tags(&src.tags)),
                tags_text(&user_tags(&restored.tags)),
            );
        }
        let data = data_checks(
            self.sql.as_ref(),
            self.state.baseline.as_ref(),
            restored.endpoint.as_deref(),
            emulated,
            "cluster",
        )
        .await;
        Ok(c.into_validation(out, data, "cluster", &cluster_id))
    }
}

fn delete<'a>(
    r: &'a ScratchResource,
    clients: &'a Clients,
) -> BoxFuture<'a, Result<DeleteOutcome, StageError>> {
    Box::pin(async move {
        let rds = clients.in_region(&r.region).rds;
        let existed = match r.rtype {
            RT_INSTANCE => {
                let existed = api::delete_instance(&rds, &r.id, true).await?;
                // The cluster cannot be deleted while its writer is deleting.
                let (clock, policy) = cleanup_wait();
                wait::instance_gone(&rds, &clock, policy, &r.id).await?;
                existed
            }
            RT_CLUSTER => {
                let existed = api::delete_cluster(&rds, &r.id).await?;
                // Emulators keep the automated snapshots of a deleted cluster;
                // AWS removes them with it (and refuses to delete them).
                if let Ok(autos) =
                    api::list_cluster_snapshots(&rds, Some(&r.id), Some("automated")).await
                {
                    for s in autos {
                        let _ = api::delete_cluster_snapshot(&rds, &s.id).await;
                    }
                }
                existed
            }
            RT_SNAPSHOT => api::delete_cluster_snapshot(&rds, &r.id).await?,
            other => {
                return Err(StageError::not_deletable(KIND.name, other));
            }
        };
        Ok(DeleteOutcome::existed(existed))
    })
}

/// Scratch cluster instances, clusters and cluster snapshots carrying the
/// run tag, in the order they must be deleted.
fn find_tagged(clients: &Clients) -> BoxFuture<'_, Result<Vec<Tagged>, StageError>> {
    Box::pin(async move {
        let rds = clients.rds();
        let region = clients.region();
        let mut found = Vec::new();
        for i in api::list_instances(rds).await? {
            if i.cluster.is_some() && i.id.starts_with("firedrill-") {
                found.extend(tagged(
                    KIND.name,
                    RT_INSTANCE,
                    &i.id,
                    region,
                    i.cluster.clone(),
                    &i.tags,
                ));
            }
        }
        for c in api::list_clusters(rds).await? {
            if c.id.starts_with("firedrill-") {
                found.extend(tagged(KIND.name, RT_CLUSTER, &c.id, region, None, &c.tags));
            }
        }
        for s in api::list_cluster_snapshots(rds, None, Some("manual")).await? {
            if s.id.starts_with("firedrill-") && !is_kept(&s.tags) {
                found.extend(tagged(KIND.name, RT_SNAPSHOT, &s.id, region, None, &s.tags));
            }
        }
        Ok(found)
    })
}
