//! `firedrill iam-policy`: the least-privilege IAM policy a scenario needs,
//! built from what each target kind declares it calls
//! ([`crate::targets::Target::permissions`], in the vocabulary of
//! [`firedrill_core::iam`]), plus the run's own calls and evidence upload.

mod document;
mod policy;

pub use document::{Condition, Effect, PolicyDocument, Statement};
pub use policy::{Options, build, permissions};

#[cfg(test)]
mod tests;
