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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use firedrill_core::Outcome;

    use super::super::gates::{AppRtoReport, CapturedOutput, GateAttempt, GateReport};
    use crate::scenario::gates::GateKindName;

    fn app_report() -> super::Report {
        let mut r = super::super::fixture::report();
        let at = r.started_at + Duration::from_secs(30);
        r.levels = vec![vec!["orders".into()], vec!["archive".into()]];
        let attempt = |passed: bool, secs: u64| GateAttempt {
            at: at + Duration::from_secs(secs),
            duration: Duration::from_millis(40),
            passed,
            detail: if passed {
                "status 200".into()
            } else {
                "connection refused".into()
            },
        };
        r.gates = vec![
            GateReport {
                name: "orders API".into(),
                kind: GateKindName::Http,
                critical: true,
                after: vec!["orders".into()],
                outcome: Outcome::Passed,
                detail: "passed at attempt 2".into(),
                started_at: Some(at),
                passed_at: Some(at + Duration::from_secs(2)),
                interval: Duration::from_secs(1),
                deadline: Duration::from_mins(1),
                attempt_count: 2,
                attempts: vec![attempt(false, 0), attempt(true, 1)],
                output: None,
            },
            GateReport {
                name: "smoke script".into(),
                kind: GateKindName::Command,
                critical: false,
                after: vec!["archive".into()],
                outcome: Outcome::Failed,
                detail: "`smoke` exited 1".into(),
                started_at: Some(at),
                passed_at: None,
                interval: Duration::from_secs(1),
                deadline: Duration::from_secs(5),
                attempt_count: 1,
                attempts: vec![attempt(false, 0)],
                output: Some(CapturedOutput {
                    exit_code: Some(1),
                    stdout: "smoke output".into(),
                    ..CapturedOutput::default()
                }),
            },
        ];
        r.app_rto = Some(AppRtoReport {
            value: Duration::from_secs(42),
            error: Duration::from_millis(1040),
            objective: Some(Duration::from_mins(3)),
            met: Some(true),
            emulated: true,
            gates: 1,
        });
        r
    }

    /// Every format shows the levels, each gate's outcome and attempts, and
    /// the application RTO.
    #[test]
    fn every_format_shows_levels_gates_and_the_app_rto() {
        let r = app_report();
        let render = |f: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| {
            let mut out = Vec::new();
            f(&mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        let terminal = render(&|o| super::super::terminal::write(&r, o));
        let markdown = render(&|o| super::super::markdown::write(&r, &[], o));
        let html = render(&|o| super::super::html::write(&r, &[], o));
        let junit = render(&|o| super::super::junit::write(&r, o));
        let json = render(&|o| super::super::json::write(&r, o));
        for (name, text) in [
            ("terminal", &terminal),
            ("markdown", &markdown),
            ("html", &html),
        ] {
            assert!(text.contains("level 1"), "{name}: levels\n{text}");
            assert!(text.contains("orders API"), "{name}: gate\n{text}");
            assert!(text.contains("42.0s ±1.0s"), "{name}: app RTO\n{text}");
        }
        assert!(
            terminal
                .contains("gate smoke script (command, not critical): failed after 1 attempt(s)"),
            "{terminal}"
        );
        assert!(
            html.contains("class=\"level-band\"") && html.contains("attempt-pass"),
            "the HTML timeline draws levels and attempts"
        );
        assert!(junit.contains("testsuite name=\"application\""), "{junit}");
        assert!(
            junit.contains("testcase name=\"gate orders API\""),
            "{junit}"
        );
        assert!(
            junit.contains("testcase name=\"application RTO\""),
            "{junit}"
        );
        let back: super::Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back.gates, r.gates);
        assert_eq!(back.app_rto, r.app_rto);
        assert_eq!(back.levels, r.levels);
    }
}
