//! Which kinds can be selected by tag, and how each lists its resources.
//! A kind declares a [`Selectable`] next to its [`super::KindSpec`]; the
//! scenario validates `select` against it and the runner expands it;
//! `coverage --all` lists every resource of these kinds with no tags.

use std::collections::BTreeMap;

use firedrill_core::StageError;
use futures::future::BoxFuture;

use crate::aws::Clients;

/// Lists the ids of the resources carrying every tag (read-only).
pub type ListFn = for<'a> fn(
    &'a Clients,
    &'a BTreeMap<String, String>,
) -> BoxFuture<'a, Result<Vec<String>, StageError>>;

/// A kind whose resources a target may select by tag.
#[derive(Debug)]
pub struct Selectable {
    pub kind: &'static str,
    /// The key a selecting target leaves out: `volume_id`.
    pub id_key: &'static str,
    /// A valid id that stands in for the selected ones until preflight.
    pub placeholder: &'static str,
    /// For people: `volumes`.
    pub noun: &'static str,
    pub list: ListFn,
}

/// Every kind that can be selected by tag.
pub static SELECTABLE: &[Selectable] = &[
    super::ebs_volume::SELECT,
    super::ec2_instance::SELECT,
    super::rds_instance::SELECT,
    super::rds_cluster::SELECT,
    super::s3::SELECT,
];

/// The selection support of `kind`, if any.
pub fn selectable(kind: &str) -> Option<&'static Selectable> {
    SELECTABLE.iter().find(|s| s.kind == kind)
}
