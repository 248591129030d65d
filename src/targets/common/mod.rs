//! What target kinds share. A kind never imports a sibling kind: helpers
//! used by more than one kind live here (or on the service wrappers in
//! `aws/`, like the waits), so that adding a kind touches its own folder and
//! one registry line.

pub mod compare;
pub mod ec2;
pub mod rds;
pub mod rds_compare;
pub mod rds_sql;
