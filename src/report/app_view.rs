//! The application part of the report view (recovery levels, gates with
//! their attempts, scenario hooks, application RTO), formatted once for the
//! Markdown and HTML templates and the terminal summary.

use firedrill_core::Outcome;
use firedrill_core::timing::human;
use serde::Serialize;

use super::Report;
use super::gates::{AppRtoReport, GateReport};
use super::view::{StageView, time};

#[derive(Debug, Serialize)]
pub(crate) struct AppView {
    /// "level 0: orders-db · level 1: site".
    pub levels: Vec<LevelView>,
    pub gates: Vec<GateView>,
    pub hooks: Vec<StageView>,
    pub app_rto: Option<String>,
    pub app_rto_class: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct LevelView {
    pub level: usize,
    pub targets: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct GateView {
    pub name: String,
    pub kind: String,
    pub critical: bool,
    pub after: String,
    pub outcome: String,
    pub outcome_class: String,
    pub attempts: usize,
    pub started: String,
    pub passed: String,
    pub detail: String,
    pub tries: Vec<AttemptView>,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct AttemptView {
    pub at: String,
    pub duration: String,
    pub passed: bool,
    pub detail: String,
}

/// The application view, when the run had levels, gates or hooks.
pub(crate) fn build(report: &Report) -> Option<AppView> {
    if report.levels.is_empty() && report.gates.is_empty() && report.hooks.is_empty() {
        return None;
    }
    Some(AppView {
        levels: report
            .levels
            .iter()
            .enumerate()
            .map(|(level, targets)| LevelView {
                level,
                targets: targets.clone(),
            })
            .collect(),
        gates: report.gates.iter().map(gate_view).collect(),
        hooks: report.hooks.iter().map(super::view::stage_view).collect(),
        app_rto: app_rto_line(report),
        app_rto_class: match report.app_rto.and_then(|a| a.met) {
            Some(true) => "pass",
            Some(false) => "fail",
            None => "skip",
        }
        .into(),
    })
}

/// "42.1s ±1.3s / objective 3m met (emulated)", or why it was not measured.
pub(crate) fn app_rto_line(report: &Report) -> Option<String> {
    if report.gates.is_empty() {
        return None;
    }
    Some(match report.app_rto {
        Some(a) => measured(&a),
        None => "not measured: no fault, no critical gate, or a critical gate did not pass".into(),
    })
}

fn measured(a: &AppRtoReport) -> String {
    let objective = match (a.objective, a.met) {
        (Some(o), Some(true)) => format!(" / objective {} met", human(o)),
        (Some(o), _) => format!(" / objective {} MISSED", human(o)),
        (None, _) => String::new(),
    };
    format!(
        "{} ±{}{objective} ({} critical gate(s){})",
        human(a.value),
        human(a.error),
        a.gates,
        if a.emulated { ", emulated" } else { "" }
    )
}

pub(crate) fn gate_view(g: &GateReport) -> GateView {
    GateView {
        name: g.name.clone(),
        kind: g.kind.as_str().into(),
        critical: g.critical,
        after: g.after.join(", "),
        outcome: g.outcome.to_string(),
        outcome_class: match g.outcome {
            Outcome::Passed => "pass",
            Outcome::Skipped => "skip",
            _ if !g.critical => "skip",
            _ => "fail",
        }
        .into(),
        attempts: g.attempt_count,
        started: g.started_at.map(time).unwrap_or_default(),
        passed: g.passed_at.map(time).unwrap_or_default(),
        detail: g.detail.clone(),
        tries: g
            .attempts
            .iter()
            .map(|a| AttemptView {
                at: time(a.at),
                duration: human(a.duration),
                passed: a.passed,
                detail: a.detail.clone(),
            })
            .collect(),
        stdout: g
            .output
            .as_ref()
            .map(|o| o.stdout.clone())
            .unwrap_or_default(),
        stderr: g
            .output
            .as_ref()
            .map(|o| o.stderr.clone())
            .unwrap_or_default(),
    }
}
