//! firedrill runs disaster-recovery drills against AWS (or `LocalStack` and moto)
//! and proves recovery time and recovery point objectives with evidence.
//!
//! Flow: [`scenario`] (parse, validate) → [`plan`] (what will be touched) →
//! [`runner`] (stages, events) → [`targets`] (AWS, `PostgreSQL`) → events →
//! [`report`] (render) → [`evidence`] (hash, sign, verify).

pub mod aws;
pub mod canary;
pub mod cli;
pub mod controls;
pub mod evidence;
pub mod exit;
pub mod history;
pub mod ledger;
pub mod plan;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod sql;
pub mod targets;
pub mod timing;
