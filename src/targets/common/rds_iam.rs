//! IAM permissions shared by the RDS-family kinds: describes, and tagging
//! and deleting firedrill's own resources, which RDS authorizes by name
//! (`firedrill-<run-id>-…`).

use firedrill_core::iam::{Action as A, ArnContext, Permission, SCRATCH_PATTERN, Scope};

/// A firedrill-named RDS resource of one type (`db`, `snapshot`, …).
pub(crate) fn scratch(arn: &ArnContext, kind: &str) -> String {
    arn.rds(&format!("{kind}:{SCRATCH_PATTERN}"))
}

/// What every restore into a new instance or cluster is also authorized
/// against: the option, parameter and subnet groups it is placed in.
pub(crate) fn placement(arn: &ArnContext) -> Vec<String> {
    ["og:*", "pg:*", "cluster-pg:*", "subgrp:*"]
        .iter()
        .map(|r| arn.rds(r))
        .collect()
}

/// Reads, and the tags RDS adds on create or on retain.
pub(crate) fn base(arn: &ArnContext, reads: &[A], types: &[&str]) -> Vec<Permission> {
    let mut out = Permission::all(reads, &Scope::Any);
    out.push(Permission::new(
        A::RdsAddTagsToResource,
        Scope::Scratch(types.iter().map(|t| scratch(arn, t)).collect()),
    ));
    out
}
