//! The flattened, pre-formatted view of a [`Report`] that the Markdown and
//! HTML templates render. Formatting lives here once, so both formats say
//! the same thing in the same words.

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Report;
use firedrill_core::timing::human;
use firedrill_core::{CheckStatus, Severity};
use firedrill_core::{Measured, Outcome};

/// A file in the run directory, as listed in the reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ArtifactRef {
    pub name: String,
    /// Size in bytes, when the file already exists.
    pub size: Option<u64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct View {
    pub run_id: String,
    pub scenario: String,
    pub description: String,
    pub owner: String,
    pub verdict: String,
    pub verdict_class: String,
    pub exit_code: u8,
    pub duration: String,
    pub started: String,
    pub finished: String,
    pub aborted: Option<String>,
    pub objectives: String,
    pub targets: Vec<TargetView>,
    pub findings: Vec<FindingView>,
    pub controls: Vec<ControlView>,
    pub provenance: ProvenanceView,
    pub cleanup: String,
    /// Requests, retries and throttling per service, on one line.
    pub api_calls: Option<String>,
    pub artifacts: Vec<ArtifactRef>,
    /// The seed of the recovery point choices, when any were made.
    pub seed: Option<u64>,
    /// Some target restored an existing recovery point or has one proven.
    pub recovery_points: bool,
    /// Targets selected by tag: one line each (matched, drilled, seed).
    pub selections: Vec<String>,
    /// Recovery levels, gates, scenario hooks and the application RTO.
    pub app: Option<super::app_view::AppView>,
}

#[derive(Debug, Serialize)]
pub(crate) struct TargetView {
    pub name: String,
    pub kind: String,
    pub resource: String,
    pub verdict: String,
    pub verdict_class: String,
    pub rto: MeasuredView,
    pub rpo: MeasuredView,
    pub stages: Vec<StageView>,
    pub checks: Vec<CheckView>,
    pub canary: Option<CanaryView>,
    /// The existing recovery point restored, with its recovery-point RPO.
    pub recovery_point: Option<String>,
    /// The last recovery point of the resource an earlier drill proved.
    pub last_proven: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct MeasuredView {
    pub measured: String,
    pub error: String,
    pub objective: String,
    pub status: String,
    pub status_class: String,
    pub method: String,
    pub timing: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct StageView {
    pub stage: String,
    pub outcome: String,
    pub outcome_class: String,
    pub started: String,
    pub duration: String,
    pub error: String,
    pub timing: String,
    pub detail: String,
    pub request_ids: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct CheckView {
    pub name: String,
    pub status: String,
    pub status_class: String,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct CanaryView {
    pub location: String,
    pub interval: String,
    pub written: u64,
    pub lost_writes: u64,
    pub measured_rpo: String,
    pub snapshot_rpo: String,
    pub last_written: String,
    pub newest_recovered: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct FindingView {
    pub severity: String,
    pub scope: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct ControlView {
    pub id: String,
    pub framework: String,
    pub reference: String,
    pub title: String,
    pub evidence: String,
    pub source: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct ProvenanceView {
    pub firedrill_version: String,
    pub operator: String,
    pub scenario_path: String,
    pub scenario_sha256: String,
    pub scenario_text: String,
    pub scenario_text_redacted: bool,
    pub account: String,
    pub region: String,
    pub endpoints: Vec<(String, String)>,
    pub timing_source: String,
    pub request_ids: Vec<RequestView>,
}

#[derive(Debug, Serialize)]
pub(crate) struct RequestView {
    pub target: String,
    pub stage: String,
    pub operation: String,
    pub request_id: String,
}

/// UTC time to the millisecond, the precision every timing has.
pub(crate) fn time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&fmt)
        .or_else(|_| t.format(&Rfc3339))
        .unwrap_or_default()
}

fn measured(m: Option<&Measured>, objective: Duration) -> MeasuredView {
    match m {
        None => MeasuredView {
            measured: "-".into(),
            error: String::new(),
            objective: human(objective),
            status: "NOT MEASURED".into(),
            status_class: "fail".into(),
            method: "-".into(),
            timing: "-".into(),
        },
        Some(m) => MeasuredView {
            measured: human(m.value),
            error: format!("±{}", human(m.error)),
            objective: human(m.objective),
            status: if m.met { "met" } else { "MISSED" }.into(),
            status_class: if m.met { "pass" } else { "fail" }.into(),
            method: serde_json::to_value(m.method)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            timing: if m.emulated { "emulated" } else { "real" }.into(),
        },
    }
}

fn verdict_class(v: firedrill_core::Verdict) -> String {
    match v {
        firedrill_core::Verdict::Passed => "pass",
        firedrill_core::Verdict::Failed => "fail",
        firedrill_core::Verdict::Aborted | firedrill_core::Verdict::Error => "error",
    }
    .into()
}

fn severity(s: Severity) -> String {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
    .into()
}

pub(crate) fn build(report: &Report, artifacts: &[ArtifactRef]) -> View {
    let mut findings: Vec<FindingView> = report
        .findings
        .iter()
        .map(|f| finding_view(f, "run"))
        .collect();
    let mut request_ids = Vec::new();
    for t in &report.targets {
        findings.extend(t.findings.iter().map(|f| finding_view(f, &t.name)));
        for s in &t.stages {
            request_ids.extend(s.request_ids.iter().map(|r| RequestView {
                target: t.name.clone(),
                stage: s.stage.to_string(),
                operation: r.operation.clone(),
                request_id: r.request_id.clone(),
            }));
        }
    }
    View {
        run_id: report.run_id.clone(),
        scenario: report.scenario.name.clone(),
        description: report.scenario.description.clone(),
        owner: report.scenario.owner.clone(),
        verdict: report.verdict.to_string(),
        verdict_class: verdict_class(report.verdict),
        exit_code: report.exit_code,
        duration: human(report.duration),
        started: time(report.started_at),
        finished: time(report.finished_at),
        aborted: report.aborted.clone(),
        objectives: format!(
            "RTO {} · RPO {}",
            human(report.objectives.rto),
            human(report.objectives.rpo)
        ),
        targets: report.targets.iter().map(target_view).collect(),
        findings,
        controls: report.controls.iter().map(|id| control_view(id)).collect(),
        provenance: provenance_view(report, request_ids),
        cleanup: cleanup_line(&report.cleanup),
        api_calls: super::api_calls::line(&report.api_calls),
        app: super::app_view::build(report),
        artifacts: artifacts.to_vec(),
        seed: report.seed,
        selections: report
            .selections
            .iter()
            .map(firedrill_core::select::SelectionReport::line)
            .collect(),
        recovery_points: report
            .targets
            .iter()
            .any(|t| super::recovery::last_proven_line(t).is_some()),
    }
}

fn finding_view(f: &firedrill_core::Finding, scope: &str) -> FindingView {
    FindingView {
        severity: severity(f.severity),
        scope: scope.to_string(),
        code: f.code.clone(),
        message: f.message.clone(),
    }
}

fn target_view(t: &super::TargetReport) -> TargetView {
    TargetView {
        name: t.name.clone(),
        kind: t.kind.clone(),
        resource: t.resource.clone(),
        verdict: t.verdict.to_string(),
        verdict_class: verdict_class(t.verdict),
        rto: measured(t.rto.as_ref(), t.objectives.rto),
        rpo: measured(t.rpo.as_ref(), t.objectives.rpo),
        stages: t.stages.iter().map(stage_view).collect(),
        checks: t.checks.iter().map(check_view).collect(),
        canary: t.canary.as_ref().map(canary_view),
        recovery_point: super::recovery::point_line(t),
        last_proven: super::recovery::last_proven_line(t),
    }
}

pub(crate) fn stage_view(s: &firedrill_core::StageRecord) -> StageView {
    StageView {
        stage: s.stage.to_string(),
        outcome: s.outcome.to_string(),
        outcome_class: match s.outcome {
            Outcome::Passed => "pass",
            Outcome::Skipped => "skip",
            _ => "fail",
        }
        .into(),
        started: s.timing.map(|t| time(t.started_at)).unwrap_or_default(),
        duration: s.timing.map_or("-".into(), |t| human(t.duration)),
        error: s
            .timing
            .map_or("-".into(), |t| format!("±{}", human(t.error))),
        timing: if s.emulated { "emulated" } else { "real" }.into(),
        detail: s.detail.clone(),
        request_ids: s
            .request_ids
            .iter()
            .map(|r| format!("{} {}", r.operation, r.request_id))
            .collect(),
    }
}

fn check_view(c: &firedrill_core::Check) -> CheckView {
    let (status, class) = match c.status {
        CheckStatus::Passed => ("passed", "pass"),
        CheckStatus::Failed => ("FAILED", "fail"),
        CheckStatus::NotVerified => ("not verified", "skip"),
        CheckStatus::Emulated => ("emulated", "skip"),
    };
    CheckView {
        name: c.name.clone(),
        status: status.into(),
        status_class: class.into(),
        detail: c.detail.clone(),
    }
}

fn canary_view(c: &firedrill_core::canary::CanaryReport) -> CanaryView {
    CanaryView {
        location: c.location.clone(),
        interval: human(c.interval),
        written: c.written,
        lost_writes: c.lost_writes,
        measured_rpo: c.measured_rpo.map_or("-".into(), human),
        snapshot_rpo: c.snapshot_rpo.map_or("-".into(), human),
        last_written: c.last_written.map_or("-".into(), |w| {
            format!("#{} at {}", w.seq, time(w.written_at))
        }),
        newest_recovered: c.newest_recovered.map_or("none".into(), |w| {
            format!("#{} written at {}", w.seq, time(w.written_at))
        }),
    }
}

fn control_view(id: &str) -> ControlView {
    match crate::controls::lookup(id) {
        Some(c) => ControlView {
            id: c.id.into(),
            framework: c.framework.into(),
            reference: c.reference.into(),
            title: c.title.into(),
            evidence: c.evidence.into(),
            source: c.source.into(),
        },
        None => ControlView {
            id: id.to_string(),
            framework: "unknown".into(),
            reference: id.to_string(),
            title: "not in this firedrill's catalogue".into(),
            evidence: "-".into(),
            source: "-".into(),
        },
    }
}

fn provenance_view(report: &Report, request_ids: Vec<RequestView>) -> ProvenanceView {
    ProvenanceView {
        firedrill_version: report.firedrill_version.clone(),
        operator: report.provenance.operator.clone(),
        scenario_path: report.scenario.path.clone(),
        scenario_sha256: report.scenario.sha256.clone(),
        scenario_text: report.provenance.scenario_text.clone(),
        scenario_text_redacted: report.provenance.scenario_text_redacted,
        account: report.account_label(),
        region: report.environment.region.clone(),
        endpoints: report
            .environment
            .endpoints
            .iter()
            .map(|(k, v)| (k.clone(), super::model::strip_userinfo(v)))
            .collect(),
        timing_source: report.provenance.timing_source.clone(),
        request_ids,
    }
}

fn cleanup_line(c: &super::CleanupReport) -> String {
    if c.complete && !c.retained.is_empty() {
        format!(
            "complete: {} scratch resource(s) created, {} deleted, {} kept as the copy of damaged data ({})",
            c.created,
            c.deleted,
            c.retained.len(),
            c.retained.join(", ")
        )
    } else if c.complete {
        format!(
            "complete: {} scratch resource(s) created, {} deleted, none left",
            c.created, c.deleted
        )
    } else {
        format!(
            "INCOMPLETE: {} scratch resource(s) remain ({}); run `firedrill reap`",
            c.remaining.len(),
            c.remaining.join(", ")
        )
    }
}

/// The template environment: templates are compiled into the binary.
/// `.html` templates auto-escape; the Markdown template escapes table cells
/// with the `cell` filter.
pub(crate) fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_filter("cell", |s: String| {
        s.replace('|', "\\|").replace(['\n', '\r'], " ")
    });
    env.add_template("report.html", include_str!("templates/report.html"))
        .expect("report.html template compiles");
    env.add_template("report.md", include_str!("templates/report.md"))
        .expect("report.md template compiles");
    env.add_template("index.html", include_str!("templates/index.html"))
        .expect("index.html template compiles");
    env
}

/// Render a template into a writer, turning template errors into I/O errors.
pub(crate) fn render<W: std::io::Write>(
    name: &str,
    ctx: minijinja::Value,
    out: W,
) -> std::io::Result<()> {
    let env = environment();
    let tmpl = env
        .get_template(name)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    tmpl.render_captured_to(ctx, out)
        .map(|_| ())
        .map_err(|e| std::io::Error::other(format!("cannot render {name}: {e:#}")))
}
