//! firedrill runs disaster-recovery drills against AWS (or `LocalStack` and moto)
//! and proves recovery time and recovery point objectives with evidence.
//!
//! Flow: [`scenario`] (parse, validate) → [`plan`] (what will be touched) →
//! [`runner`] (stages, events) → [`targets`] (AWS, `PostgreSQL`) → events →
//! [`report`] (render) → [`evidence`] (hash, sign, verify) and [`notify`]
//! (webhooks, Slack, Pushgateway).
//!
//! Underneath all of them lies `firedrill_core`, the shared vocabulary
//! (stages, outcomes, verdicts, checks, findings, errors, scratch resources,
//! timing, diagnostics); it imports nothing from here. Above it, each module
//! imports only downward: core ← `aws`, `ledger`, `sql`, `canary` ←
//! `targets` ← `scenario`, `plan`, `cleanup` ← `report` ← `history` ←
//! `runner` ← `evidence`, `notify` ← `cli`. `tests/integration/layering.rs` holds this.

pub mod aws;
pub mod canary;
pub mod cleanup;
pub mod cli;
pub mod controls;
pub mod evidence;
pub mod gates;
pub mod history;
pub mod iam;
pub mod ledger;
pub mod notify;
pub mod plan;
pub mod report;
pub mod runbook;
pub mod runner;
pub mod scenario;
pub mod sql;
pub mod targets;
