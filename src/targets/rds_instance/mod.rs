//! `rds-instance`: snapshot a DB instance (or use its newest automated
//! snapshot, or a point in time), optionally copy the snapshot to a
//! disaster-recovery region, reboot/stop/delete the source, restore into a
//! scratch instance named after the run, and compare its configuration with
//! the source's.

mod fault;
mod iam;
mod options;
mod runbook;

use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use schemars::JsonSchema;

use firedrill_core::coverage::Listing;
use firedrill_core::input::Spanned;
use firedrill_core::options::{RawFaultAction, TargetInput};
use firedrill_core::recovery::{RecoveryPoint, SourceSpec};
use firedrill_core::validate;
use firedrill_core::{
    DeleteOutcome, Diagnostic, Effect, FaultSpec, PlannedAction, Preflight, ResourceType,
    ScratchResource, Service, Stage, StageError, StageOutput, Tagged, UndoPlan, Validation,
};

use self::options::{BackupMethod, Fault, RawRdsInstance};
use super::common::compare::tags_text;
use super::common::rds::{is_kept, release_kept, selected, snapshot_tags, tagged};
use super::common::rds_compare::{Comparer, opt, user_tags};
use super::common::rds_sql as sql;
use super::common::rds_undo;
use super::{KindSpec, StageContext, Target};
use crate::aws::Clients;
use crate::aws::rds::{self as api, DbInstance, RestoreInstance, RestorePoint, wait};

/// Registry entry.
pub const KIND: KindSpec = KindSpec {
    name: "rds-instance",
    summary: "An RDS DB instance: snapshot (or automated / point-in-time), reboot/stop/delete, restore into a scratch instance, compare its configuration.",
    parse,
    schema: |g| RawRdsInstance::json_schema(g),
    delete,
    find_tagged,
    revert: Some(rds_undo::revert),
    retain: rds_undo::retain,
};

/// `select = { tags = ... }`: DB instances listed and matched by tag (RDS
/// has no tag filter on `DescribeDBInstances`). A member of an Aurora
/// cluster is left out: it restores with its cluster (`rds-cluster`), and
/// preflight refuses it here.
pub const SELECT: super::select::Selectable = super::select::Selectable {
    kind: "rds-instance",
    id_key: "instance",
    placeholder: "selected-by-tag",
    noun: "DB instances",
    list: |clients, tags| {
        Box::pin(async move {
            Ok(api::list_instances(clients.rds())
                .await?
                .into_iter()
                .filter(|i| i.cluster.is_none() && selected(&i.id, &i.status, &i.tags, tags))
                .map(|i| i.id)
                .collect())
        })
    },
};

/// Ledger resource types.
const RT_INSTANCE: ResourceType = ResourceType::DbInstance;
const RT_SNAPSHOT: ResourceType = ResourceType::DbSnapshot;

/// How long a scratch instance is expected to live, for the plan.
const SCRATCH_LIFETIME: Duration = Duration::from_mins(30);

fn parse(input: TargetInput<'_>, diags: &mut Vec<Diagnostic>) -> Option<Box<dyn Target>> {
    let name = input.name.to_string();
    let home = input.home_region;
    let raw: RawRdsInstance = firedrill_core::options::deserialize_kind_options(input, diags)?;
    validate::db_identifier(&raw.instance, "instance", diags);
    let backup = options::backup_method(&raw.backup, diags);
    let source = options::source(&raw.backup, options::DB_SNAPSHOT_ID, diags);
    let fault = options::fault(raw.fault.as_ref(), diags);
    options::storage_type(raw.restore.storage_type.as_ref(), diags);
    if let Some(r) = &raw.restore.dr_region {
        validate::dr_region(r, home, diags);
        if matches!(backup, BackupMethod::PointInTime(_)) {
            diags.push(super::common::point_in_time::dr_region_without_snapshot(
                r,
                "`method = \"snapshot\"` or `\"latest-automated\"`",
            ));
        }
    }
    if fault == Fault::Delete && backup != BackupMethod::Snapshot {
        let span = raw
            .fault
            .as_ref()
            .map(|f| f.action.span())
            .unwrap_or_default();
        diags.push(
            Diagnostic::new("fault `delete` needs `method = \"snapshot\"`")
                .at(span)
                .label("the restore would need the deleted instance or its automated backups")
                .help("set `[targets.backup] method = \"snapshot\"`, or choose another fault"),
        );
    }
    Some(Box::new(RdsInstance {
        source,
        name,
        instance: raw.instance.into_inner(),
        backup,
        fault,
        revert: raw.fault.as_ref().is_none_or(RawFaultAction::revert),
        restore_source: raw
            .fault
            .as_ref()
            .is_some_and(RawFaultAction::restore_source),
        restore: Overrides {
            instance_class: raw.restore.instance_class,
            subnet_group: raw.restore.subnet_group,
            parameter_group: raw.restore.parameter_group,
            security_groups: raw.restore.security_groups,
            storage_type: raw.restore.storage_type.map(Spanned::into_inner),
            multi_az: raw.restore.multi_az,
        },
        dr_region: raw.restore.dr_region.map(Spanned::into_inner),
        compare_tags: raw.validate.compare_tags.unwrap_or(true),
        keep_snapshots: raw.keep_snapshots.unwrap_or(false),
        sql: sql::parse(raw.sql, &raw.check, diags),
        state: State::default(),
    }))
}

/// `[targets.restore]` overrides.
#[derive(Clone, Debug, Default)]
struct Overrides {
    instance_class: Option<String>,
    subnet_group: Option<String>,
    parameter_group: Option<String>,
    security_groups: Option<Vec<String>>,
    storage_type: Option<String>,
    multi_az: Option<bool>,
}

#[derive(Debug, Default)]
struct State {
    /// The source as described in preflight.
    source: Option<DbInstance>,
    /// The snapshot to restore from, with its ARN, in the home region.
    snapshot: Option<(String, String)>,
    /// The snapshot's ledger id: the copy a `delete` leaves.
    snapshot_entry: Option<u64>,
    /// The copy in the DR region.
    dr_snapshot: Option<String>,
    /// The scratch instance and its region.
    restored: Option<(String, String)>,
    /// For a point-in-time restore: the time fixed in the backup stage.
    point_in_time: Option<RestorePoint>,
    /// Data baseline from the source at backup time, or why there is none.
    baseline: Option<Result<crate::sql::Baseline, String>>,
}

/// A validated `rds-instance` target.
#[derive(Debug)]
pub struct RdsInstance {
    name: String,
    instance: String,
    backup: BackupMethod,
    /// For `BackupMethod::Existing`: how the snapshot is chosen.
    source: SourceSpec,
    fault: Fault,
    /// Start a stopped instance again after validation (default true).
    revert: bool,
    /// Restore a deleted instance under its own identifier (default false).
    restore_source: bool,
    restore: Overrides,
    dr_region: Option<String>,
    compare_tags: bool,
    keep_snapshots: bool,
    /// SQL validation, when `[targets.sql]` is given.
    sql: Option<sql::SqlConfig>,
    state: State,
}

fn snapshot_resource(cx: &StageContext, id: &str, region: &str) -> ScratchResource {
    let mut r = cx.resource(KIND.name, RT_SNAPSHOT, id, Service::Rds);
    r.region = region.to_string();
    r
}

impl RdsInstance {
    fn source(&self) -> Result<&DbInstance, StageError> {
        self.state
            .source
            .as_ref()
            .ok_or_else(|| StageError::Failed("the source was not described".into()))
    }

    /// The scratch instance's settings: the source's unless overridden.
    /// Subnet group, parameter group and security groups live in one region,
    /// so they are copied only when restoring in the source's region.
    fn restore_settings(
        &self,
        cx: &StageContext,
        id: &str,
        home: bool,
    ) -> Result<RestoreInstance, StageError> {
        let src = self.source()?;
        let o = &self.restore;
        let mut tags: Vec<(String, String)> = user_tags(&src.tags).into_iter().collect();
        tags.extend(cx.tags());
        let storage_type = o
            .storage_type
            .clone()
            .or_else(|| (!src.storage_type.is_empty()).then(|| src.storage_type.clone()));
        // Provisioned IOPS carry over only with the source's own storage type.
        let iops = if o.storage_type.is_none() {
            src.iops
        } else {
            None
        };
        Ok(RestoreInstance {
            id: id.to_string(),
            class: o
                .instance_class
                .clone()
                .or_else(|| Some(src.class.clone()).filter(|c| !c.is_empty())),
            subnet_group: o
                .subnet_group
                .clone()
                .or_else(|| src.subnet_group.clone().filter(|_| home)),
            parameter_group: o
                .parameter_group
                .clone()
                .or_else(|| src.parameter_group.clone().filter(|_| home)),
            security_groups: o.security_groups.clone().unwrap_or_else(|| {
                if home {
                    src.security_groups.clone()
                } else {
                    Vec::new()
                }
            }),
            storage_type,
            iops,
            multi_az: o.multi_az.or(Some(src.multi_az)),
            tags,
        })
    }

    fn restore_region<'a>(&'a self, cx: &'a StageContext) -> &'a str {
        self.dr_region.as_deref().unwrap_or(cx.clients.region())
    }
}

#[async_trait]
impl Target for RdsInstance {
    fn runbook_steps(&self) -> Vec<firedrill_core::runbook::RunbookStep> {
        runbook::steps(self)
    }

    fn resource(&self) -> String {
        format!("rds:db:{}", self.instance)
    }

    fn services(&self) -> &'static [Service] {
        &[Service::Rds]
    }

    fn fault(&self) -> Option<FaultSpec> {
        let description = match self.fault {
            Fault::None => return None,
            Fault::Reboot => format!("reboot DB instance `{}`", self.instance),
            Fault::RebootFailover => format!(
                "reboot DB instance `{}` with a forced Multi-AZ failover",
                self.instance
            ),
            Fault::Stop => format!("stop DB instance `{}`", self.instance),
            Fault::Delete => format!(
                "delete DB instance `{}` (no final snapshot; automated backups kept)",
                self.instance
            ),
        };
        Some(FaultSpec {
            action: self.fault.as_str(),
            description,
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
        let scratch = |s: &str| format!("rds:db:firedrill-{run_id}-{index}-{s}");
        let life = Some(SCRATCH_LIFETIME);
        let action =
            |stage: Stage, effect: Effect, api_call: &str, resource: String, l| PlannedAction {
                stage,
                effect,
                api_call: api_call.into(),
                resource,
                scratch_lifetime: l,
            };
        let mut p = vec![action(
            Stage::Preflight,
            Effect::Read,
            "rds:DescribeDBInstances",
            self.resource(),
            None,
        )];
        match self.backup {
            BackupMethod::Snapshot => p.push(action(
                Stage::Backup,
                Effect::Create,
                "rds:CreateDBSnapshot, rds:DescribeDBSnapshots",
                format!("rds:snapshot:firedrill-{run_id}-{index}-snap"),
                life,
            )),
            BackupMethod::LatestAutomated => p.push(action(
                Stage::Backup,
                Effect::Read,
                "rds:DescribeDBSnapshots (newest automated snapshot)",
                self.resource(),
                None,
            )),
            BackupMethod::PointInTime(_) => p.push(action(
                Stage::Backup,
                Effect::Read,
                "none (point-in-time restore)",
                self.resource(),
                None,
            )),
            BackupMethod::Existing => p.push(action(
                Stage::Backup,
                Effect::Read,
                "rds:DescribeDBSnapshots",
                self.source
                    .describe(&format!("DB snapshot of {}", self.instance)),
                None,
            )),
        }
        if let Some(f) = self.fault() {
            let (effect, call) = match self.fault {
                Fault::Delete => (Effect::Delete, "rds:DeleteDBInstance"),
                Fault::Stop => (Effect::Change, "rds:StopDBInstance"),
                _ => (Effect::Change, "rds:RebootDBInstance"),
            };
            p.push(action(Stage::Fault, effect, call, f.description, None));
        }
        if let Some(dr) = &self.dr_region {
            p.push(action(
                Stage::Copy,
                Effect::Create,
                "rds:CopyDBSnapshot, rds:DescribeDBSnapshots",
                format!("rds:snapshot:firedrill-{run_id}-{index}-dr-snap ({dr})"),
                life,
            ));
        }
        let call = if matches!(self.backup, BackupMethod::PointInTime(_)) {
            "rds:RestoreDBInstanceToPointInTime, rds:DescribeDBInstances"
        } else {
            "rds:RestoreDBInstanceFromDBSnapshot, rds:DescribeDBInstances"
        };
        p.push(action(
            Stage::Restore,
            Effect::Create,
            call,
            scratch("restore"),
            life,
        ));
        p.push(action(
            Stage::Validate,
            Effect::Read,
            "rds:DescribeDBInstances",
            scratch("restore"),
            None,
        ));
        p.push(action(
            Stage::Cleanup,
            Effect::Delete,
            if self.keep_snapshots {
                "rds:DeleteDBInstance (snapshots kept: keep_snapshots = true)"
            } else {
                "rds:DeleteDBInstance, rds:DeleteDBSnapshot"
            },
            "every scratch instance and snapshot above".into(),
            None,
        ));
        p
    }

    async fn preflight(&mut self, cx: &StageContext) -> Result<Preflight, StageError> {
        let Some(src) = api::describe_instance(cx.clients.rds(), &self.instance).await? else {
            return Err(StageError::Environment(format!(
                "DB instance `{}` does not exist in {} (hint: check `instance` in target `{}` and the RDS endpoint)",
                self.instance,
                cx.clients.region(),
                self.name
            )));
        };
        if src.cluster.is_some() {
            return Err(StageError::Environment(format!(
                "DB instance `{}` belongs to Aurora cluster `{}` (hint: drill the cluster with `kind = \"rds-cluster\"`)",
                self.instance,
                src.cluster.as_deref().unwrap_or_default()
            )));
        }
        if src.status != "available" {
            return Err(StageError::Environment(format!(
                "DB instance `{}` is `{}`, not `available` (hint: wait until it is available, or start it)",
                self.instance, src.status
            )));
        }
        let detail = format!(
            "DB instance {} is available ({} {}, {}, {})",
            self.instance,
            src.engine,
            src.engine_version,
            src.class,
            if src.encrypted {
                "encrypted"
            } else {
                "not encrypted"
            }
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
        match self.backup {
            BackupMethod::Snapshot => {
                let id = cx.scratch_name("snap");
                let entry = cx.intend(snapshot_resource(cx, &id, cx.clients.region()))?;
                let request_id = api::create_snapshot(
                    rds,
                    &self.instance,
                    &id,
                    &snapshot_tags(cx, self.keep_snapshots),
                )
                .await?;
                cx.created(entry, request_id.as_deref())?;
                out.request("rds:CreateDBSnapshot", request_id.as_deref());
                let polled = wait::snapshot(rds, &cx.clock, cx.poll_policy(), &id).await?;
                out.record_wait(&polled, Service::Rds);
                release_kept(cx, entry, self.keep_snapshots)?;
                out.detail = format!(
                    "snapshot {id} of {} is available (±{})",
                    self.instance,
                    firedrill_core::timing::human(polled.error_bound)
                );
                out = out.fact("snapshot", &id);
                self.state.snapshot = Some((id, polled.value.arn));
                self.state.snapshot_entry = (!self.keep_snapshots).then_some(entry);
            }
            BackupMethod::LatestAutomated => {
                let newest = api::list_snapshots(rds, Some(&self.instance), Some("automated"))
                    .await?
                    .into_iter()
                    .filter(|s| s.status == "available")
                    .max_by_key(|s| s.created_at);
                let Some(snap) = newest else {
                    return Err(StageError::Environment(format!(
                        "DB instance `{}` has no available automated snapshot (hint: enable automated backups, or use `method = \"snapshot\"`)",
                        self.instance
                    )));
                };
                let age = snap.created_at.map(|t| cx.clock.now().utc - t).map_or_else(
                    || "unknown age".to_string(),
                    |d| firedrill_core::timing::human(d.unsigned_abs()),
                );
                out.detail = format!(
                    "newest automated snapshot of {} is {} ({age} old)",
                    self.instance, snap.id
                );
                out = out.fact("snapshot", &snap.id);
                if let Some(t) = snap.created_at {
                    out = out.fact("snapshot_created_at", t);
                }
                self.state.snapshot = Some((snap.id, snap.arn));
            }
            BackupMethod::Existing => {
                let snaps = api::snapshots_of_instance(rds, &self.instance).await?;
                let snap = super::common::rds::choose_snapshot(
                    cx,
                    &self.source,
                    snaps,
                    &self.resource(),
                    "available DB snapshot",
                    &mut out,
                )?;
                self.state.snapshot = Some((snap.id, snap.arn));
            }
            BackupMethod::PointInTime(point) => {
                let src = api::describe_instance(rds, &self.instance).await?;
                let latest = src.and_then(|s| s.latest_restorable_time);
                let window = firedrill_core::point_in_time::Restorable {
                    earliest: None,
                    latest,
                };
                let (t, request) = super::common::point_in_time::fix_rds_time(
                    cx,
                    point,
                    window,
                    &self.resource(),
                )?;
                self.state.point_in_time = Some(request);
                let t = firedrill_core::recovery::rfc3339(t);
                out.detail = match point {
                    RestorePoint::Latest => format!(
                        "no snapshot: point-in-time restore to the latest restorable time ({t})"
                    ),
                    RestorePoint::At(_) => format!("no snapshot: point-in-time restore to {t}"),
                };
                if let Some(t) = latest {
                    out = out.fact("latest_restorable_time", t);
                }
                out = out.fact("point_in_time", t);
            }
        }
        Ok(out)
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
        let entry = cx.intend(snapshot_resource(cx, &id, &dr))?;
        let request_id =
            api::copy_snapshot(&rds, &arn, &id, &snapshot_tags(cx, self.keep_snapshots)).await?;
        cx.created(entry, request_id.as_deref())?;
        out.request("rds:CopyDBSnapshot", request_id.as_deref());
        let polled = wait::snapshot(&rds, &cx.clock, cx.poll_policy(), &id).await?;
        out.record_wait(&polled, Service::Rds);
        release_kept(cx, entry, self.keep_snapshots)?;
        out.detail = format!(
            "copied {arn} to {id} in {dr} (±{})",
            firedrill_core::timing::human(polled.error_bound)
        );
        self.state.dr_snapshot = Some(id.clone());
        Ok(out.fact("dr_snapshot", id).fact("dr_region", dr))
    }

    async fn inject(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        self.run_fault(cx).await
    }

    fn permissions(
        &self,
        arn: &firedrill_core::iam::ArnContext,
    ) -> Vec<firedrill_core::iam::Permission> {
        self.iam_permissions(arn)
    }

    fn undo(&self) -> UndoPlan {
        self.undo_plan()
    }

    async fn recovery_points(&self, clients: &Clients) -> Result<Listing, StageError> {
        let snaps = api::snapshots_of_instance(clients.rds(), &self.instance).await?;
        Ok(Listing::Listed(super::common::rds::recovery_points(&snaps)))
    }

    async fn copy_in(
        &self,
        clients: &Clients,
        region: &str,
        point: &RecoveryPoint,
    ) -> Option<Result<Option<String>, StageError>> {
        let home = match api::describe_snapshot(clients.rds(), &point.id).await {
            Ok(h) => h,
            Err(e) => return Some(Err(e.into())),
        };
        let rds = clients.in_region(region).rds;
        Some(
            super::common::rds::copy_in(home, || api::snapshots_of_instance(&rds, &self.instance))
                .await,
        )
    }

    async fn restore(&mut self, cx: &StageContext) -> Result<StageOutput, StageError> {
        let region = self.restore_region(cx).to_string();
        let home = region == cx.clients.region();
        let rds = cx.clients.in_region(&region).rds;
        let mut out = StageOutput::default().emulated(cx.emulated(Service::Rds));
        let id = cx.scratch_name("restore");
        let settings = self.restore_settings(cx, &id, home)?;
        let mut resource = cx.resource(KIND.name, RT_INSTANCE, &id, Service::Rds);
        resource.region.clone_from(&region);
        let entry = cx.intend(resource)?;
        self.state.restored = Some((id.clone(), region.clone()));
        let (op, from, request_id) = match self.backup {
            BackupMethod::PointInTime(asked) => (
                "rds:RestoreDBInstanceToPointInTime",
                match self.state.point_in_time.unwrap_or(asked) {
                    RestorePoint::Latest => {
                        format!("{} at its latest restorable time", self.instance)
                    }
                    RestorePoint::At(t) => format!(
                        "{} at {}",
                        self.instance,
                        firedrill_core::recovery::rfc3339(t)
                    ),
                },
                api::restore_to_point_in_time(
                    &rds,
                    &self.instance,
                    self.state.point_in_time.unwrap_or(asked),
                    &settings,
                )
                .await?,
            ),
            BackupMethod::Snapshot | BackupMethod::LatestAutomated | BackupMethod::Existing => {
                let snap = if home {
                    self.state.snapshot.as_ref().map(|(id, _)| id.clone())
                } else {
                    self.state.dr_snapshot.clone()
                }
                .ok_or_else(|| StageError::Failed("no snapshot to restore from".into()))?;
                let request_id = api::restore_from_snapshot(&rds, &snap, &settings).await?;
                (
                    "rds:RestoreDBInstanceFromDBSnapshot",
                    format!("snapshot {snap}"),
                    request_id,
                )
            }
        };
        cx.created(entry, request_id.as_deref())?;
        out.request(op, request_id.as_deref());
        let polled = wait::instance(&rds, &cx.clock, cx.poll_policy(), &id, &["available"]).await?;
        out.record_wait(&polled, Service::Rds);
        out.detail = format!(
            "restored {from} into {id} in {region}: available (±{})",
            firedrill_core::timing::human(polled.error_bound)
        );
        if let Some(e) = &polled.value.endpoint {
            out = out.fact("endpoint", e);
        }
        Ok(out.fact("restore_instance", &id).fact("region", region))
    }

    async fn validate(&mut self, cx: &StageContext) -> Result<Validation, StageError> {
        let (id, region) = self
            .state
            .restored
            .clone()
            .ok_or_else(|| StageError::Failed("nothing restored".into()))?;
        let rds = cx.clients.in_region(&region).rds;
        let emulated = cx.emulated(Service::Rds);
        let out = StageOutput::default().emulated(emulated);
        let restored = api::describe_instance(&rds, &id)
            .await?
            .ok_or_else(|| StageError::Failed(format!("restored DB instance `{id}` is gone")))?;
        let src = self.source()?.clone();
        let mut c = Comparer {
            emulated,
            what: format!("restored DB instance {id}"),
            code: "rds-instance.mismatch",
            ..Comparer::default()
        };
        c.field("status", "available", &restored.status);
        c.field("engine", &src.engine, &restored.engine);
        c.field(
            "engine version",
            &src.engine_version,
            &restored.engine_version,
        );
        c.field("instance class", &src.class, &restored.class);
        c.field("storage type", &src.storage_type, &restored.storage_type);
        c.field("encrypted", src.encrypted, restored.encrypted);
        c.field("multi-AZ", src.multi_az, restored.multi_az);
        if region == cx.clients.region() {
            c.field(
                "parameter group",
                opt(src.parameter_group.as_deref()),
                opt(restored.parameter_group.as_deref()),
            );
        }
        if self.compare_tags {
            c.field(
                "tags",
                tags_text(&user_tags(&src.tags)),
                tags_text(&user_tags(&restored.tags)),
            );
        }
        let data = sql::data_checks(
            self.sql.as_ref(),
            self.state.baseline.as_ref(),
            restored.endpoint.as_deref(),
            emulated,
            "instance",
        )
        .await;
        Ok(c.into_validation(out, data, "instance", &id))
    }
}

/// Delete one scratch resource of this kind.
fn delete<'a>(
    r: &'a ScratchResource,
    clients: &'a Clients,
) -> BoxFuture<'a, Result<DeleteOutcome, StageError>> {
    Box::pin(async move {
        let rds = clients.in_region(&r.region).rds;
        let existed = match r.rtype {
            RT_INSTANCE => api::delete_instance(&rds, &r.id, true).await?,
            RT_SNAPSHOT => api::delete_snapshot(&rds, &r.id).await?,
            other => {
                return Err(StageError::not_deletable(KIND.name, other));
            }
        };
        Ok(DeleteOutcome::existed(existed))
    })
}

/// Scratch instances (outside clusters) and DB snapshots carrying the run tag.
fn find_tagged(clients: &Clients) -> BoxFuture<'_, Result<Vec<Tagged>, StageError>> {
    Box::pin(async move {
        let rds = clients.rds();
        let region = clients.region();
        let mut found = Vec::new();
        // Every scratch resource firedrill creates starts so; the tag decides.
        for i in api::list_instances(rds).await? {
            if i.cluster.is_none() && i.id.starts_with("firedrill-") {
                found.extend(tagged(KIND.name, RT_INSTANCE, &i.id, region, None, &i.tags));
            }
        }
        for s in api::list_snapshots(rds, None, Some("manual")).await? {
            if s.id.starts_with("firedrill-") && !is_kept(&s.tags) {
                found.extend(tagged(KIND.name, RT_SNAPSHOT, &s.id, region, None, &s.tags));
            }
        }
        Ok(found)
    })
}

#[cfg(test)]
mod stage_tests;
#[cfg(test)]
mod tests;
