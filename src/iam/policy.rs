//! From a scenario to a policy: the permissions of every target, of the run
//! itself and of the evidence upload, grouped into one statement per scope,
//! and the deny that keeps firedrill's tags trustworthy for `reap`.

use std::collections::{BTreeMap, BTreeSet};

use firedrill_core::Service;
use firedrill_core::iam::{Access, Action, ArnContext, Permission, SCRATCH_PATTERN, Scope};
use firedrill_core::resource::{TAG_ALLOW_FAULTS, TAG_RUN_ID};

use super::document::{Effect, PolicyDocument, Statement, VERSION, and, condition};
use crate::evidence::s3::EvidenceUri;
use crate::scenario::Scenario;

/// What else than the scenario shapes the policy.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Only the read actions: preflight, plan, coverage.
    pub read_only: bool,
    /// The runs upload their evidence here (`run --evidence-uri`).
    pub evidence: Option<EvidenceUri>,
    /// Also the region-wide reads of `coverage --all`.
    pub region_wide: bool,
}

/// Every permission the scenario's drills need, sorted, without repeats.
pub fn permissions(scenario: &Scenario, options: &Options) -> Vec<Permission> {
    let arn = ArnContext::for_region(&scenario.environment.region);
    // The runner reads the account id for the guards and the report.
    let mut all = vec![Permission::new(Action::StsGetCallerIdentity, Scope::Any)];
    for t in &scenario.targets {
        let mut own = t.target.permissions(&arn);
        // A target that selects by tag drills resources known only at
        // preflight: its ARNs name every resource of the kind.
        if let Some(sel) = &t.select {
            for a in own.iter_mut().filter_map(|p| p.scope.arns_mut()) {
                for arn in a.iter_mut() {
                    *arn = arn.replace(sel.from.placeholder, "*");
                }
            }
        }
        all.extend(own);
    }
    if let Some(uri) = &options.evidence {
        all.extend(evidence_permissions(&arn, uri));
    }
    if options.region_wide {
        all.extend(region_wide_reads());
    }
    if options.read_only {
        all.retain(|p| p.action.access() == Access::Read);
    }
    all.sort();
    all.dedup();
    all
}

/// `coverage --all` lists every volume, instance, database, cluster and
/// bucket of the region, their recovery points, and each bucket's
/// versioning and default encryption: reads only, on any resource.
fn region_wide_reads() -> Vec<Permission> {
    use Action as A;
    Permission::all(
        &[
            A::Ec2DescribeVolumes,
            A::Ec2DescribeSnapshots,
            A::Ec2DescribeInstances,
            A::Ec2DescribeImages,
            A::RdsDescribeDbInstances,
            A::RdsDescribeDbClusters,
            A::RdsDescribeDbSnapshots,
            A::RdsDescribeDbClusterSnapshots,
            A::S3ListAllMyBuckets,
            A::S3GetBucketTagging,
            A::S3GetBucketVersioning,
            A::S3GetEncryptionConfiguration,
        ],
        &Scope::Any,
    )
}

/// Upload (manifest last, under Object Lock) and the chain link read back.
fn evidence_permissions(arn: &ArnContext, uri: &EvidenceUri) -> Vec<Permission> {
    let objects = arn.s3(&format!("{}/{}", uri.bucket, uri.key("*")));
    let mut out = vec![Permission::new(
        Action::S3ListBucket,
        Scope::Named(vec![arn.s3(&uri.bucket)]),
    )];
    out.extend(Permission::all(
        &[
            Action::S3GetObject,
            Action::S3PutObject,
            Action::S3PutObjectRetention,
        ],
        &Scope::Named(vec![objects]),
    ));
    out
}

const ANY_VALUE: &[&str] = &["?*"];
const TAG_PATTERN: &str = "firedrill:*";

/// The statement label of a scope.
fn label(scope: &Scope) -> &'static str {
    match scope {
        Scope::Any => "Read",
        Scope::Named(_) => "NamedInScenario",
        Scope::Scratch(_) => "ScratchByName",
        Scope::CreateTagged(_) => "CreateWithRunTag",
        Scope::RunTagged(_) => "TaggedByFiredrill",
        Scope::FaultAllowed(_) => "FaultsWhereAllowed",
    }
}

fn request_tag() -> String {
    format!("aws:RequestTag/{TAG_RUN_ID}")
}

fn resource_tag(key: &str) -> String {
    format!("aws:ResourceTag/{key}")
}

/// The statement of one scope.
fn statement(sid: String, scope: &Scope, actions: &BTreeSet<Action>) -> Statement {
    let (resource, condition) = match scope {
        Scope::Any => (vec!["*".to_string()], BTreeMap::new()),
        Scope::Named(r) | Scope::Scratch(r) => (r.clone(), BTreeMap::new()),
        Scope::CreateTagged(r) => (
            r.clone(),
            condition("StringLike", &request_tag(), ANY_VALUE),
        ),
        Scope::RunTagged(r) => (
            r.clone(),
            condition("StringLike", &resource_tag(TAG_RUN_ID), ANY_VALUE),
        ),
        Scope::FaultAllowed(r) => (
            r.clone(),
            condition("StringEquals", &resource_tag(TAG_ALLOW_FAULTS), &["true"]),
        ),
    };
    Statement {
        sid,
        effect: Effect::Allow,
        action: actions.iter().map(ToString::to_string).collect(),
        resource,
        not_resource: Vec::new(),
        condition,
    }
}

/// `ec2:CreateTags` only as part of a create call that tags the new
/// resource with the run id (EC2 authorizes tag-on-create as `CreateTags`
/// with `ec2:CreateAction`).
fn ec2_tag_on_create(creates: &BTreeSet<Action>) -> Statement {
    let names: Vec<&str> = creates.iter().map(|a| a.name()).collect();
    Statement {
        sid: "TagOnCreateEc2".to_string(),
        effect: Effect::Allow,
        action: vec![Action::Ec2CreateTags.to_string()],
        resource: vec!["*".to_string()],
        not_resource: Vec::new(),
        condition: and(
            condition("StringEquals", "ec2:CreateAction", &names),
            condition("StringLike", &request_tag(), ANY_VALUE),
        ),
    }
}

/// The denies that make firedrill's tags mean "created by firedrill": no
/// `firedrill:*` tag may be added to an EC2 resource except when creating it
/// or when it already carries the run id, and none to an RDS resource or S3
/// bucket that is not firedrill's by name.
fn deny_tagging(services: &BTreeSet<Service>, partition: &str) -> Vec<Statement> {
    let keys = condition("ForAnyValue:StringLike", "aws:TagKeys", &[TAG_PATTERN]);
    let mut out = Vec::new();
    if services.contains(&Service::Ec2) {
        out.push(Statement {
            sid: "DenyFiredrillTagsAfterCreationEc2".to_string(),
            effect: Effect::Deny,
            action: vec![Action::Ec2CreateTags.to_string()],
            resource: vec!["*".to_string()],
            not_resource: Vec::new(),
            condition: and(
                and(
                    keys.clone(),
                    condition("Null", "ec2:CreateAction", &["true"]),
                ),
                condition("Null", &resource_tag(TAG_RUN_ID), &["true"]),
            ),
        });
    }
    let mut actions = Vec::new();
    let mut own = Vec::new();
    if services.contains(&Service::Rds) {
        actions.push(Action::RdsAddTagsToResource.to_string());
        own.push(format!("arn:{partition}:rds:*:*:*:{SCRATCH_PATTERN}"));
    }
    if services.contains(&Service::S3) {
        actions.push(Action::S3PutBucketTagging.to_string());
        own.push(format!("arn:{partition}:s3:::{SCRATCH_PATTERN}"));
    }
    if !actions.is_empty() {
        out.push(Statement {
            sid: "DenyFiredrillTagsOnOthers".to_string(),
            effect: Effect::Deny,
            action: actions,
            resource: Vec::new(),
            not_resource: own,
            condition: keys,
        });
    }
    out
}

/// The policy document of a scenario.
pub fn build(scenario: &Scenario, options: &Options) -> PolicyDocument {
    let perms = permissions(scenario, options);
    let mut by_scope: BTreeMap<&Scope, BTreeSet<Action>> = BTreeMap::new();
    for p in &perms {
        by_scope.entry(&p.scope).or_default().insert(p.action);
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for scope in by_scope.keys() {
        *counts.entry(label(scope)).or_default() += 1;
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut statements = Vec::new();
    let mut ec2_creates = BTreeSet::new();
    for (scope, actions) in &by_scope {
        let l = label(scope);
        let n = seen.entry(l).or_default();
        *n += 1;
        let sid = if counts[l] > 1 {
            format!("{l}{n}")
        } else {
            l.to_string()
        };
        if matches!(scope, Scope::CreateTagged(_)) {
            ec2_creates.extend(actions.iter().filter(|a| a.service() == Service::Ec2));
        }
        statements.push(statement(sid, scope, actions));
    }
    if !ec2_creates.is_empty() {
        statements.push(ec2_tag_on_create(&ec2_creates));
    }
    let tagging: BTreeSet<Service> = perms
        .iter()
        .filter(|p| matches!(p.action.access(), Access::Tag | Access::Create))
        .map(|p| p.action.service())
        .collect();
    statements.extend(deny_tagging(
        &tagging,
        &ArnContext::for_region(&scenario.environment.region).partition,
    ));
    PolicyDocument {
        version: VERSION.to_string(),
        statement: statements,
    }
}
