//! What a notification says: the generic webhook JSON (scenario, verdict,
//! objectives, findings, report links) and the Slack incoming-webhook
//! message. Both are built from the report; neither holds secrets.

use std::collections::BTreeMap;
use std::path::Path;

use firedrill_core::timing::{human, millis};
use firedrill_core::{Finding, Measured, Severity, Verdict};
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::report::Report;
use crate::report::artifacts::Format;

/// Version of the webhook JSON layout.
pub const WEBHOOK_FORMAT: u32 = 1;

/// The generic webhook body.
#[derive(Debug, Serialize)]
pub struct WebhookPayload<'a> {
    pub format: u32,
    pub scenario: ScenarioRef<'a>,
    pub run_id: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    #[serde(with = "millis", rename = "duration_ms")]
    pub duration: std::time::Duration,
    pub verdict: Verdict,
    pub exit_code: u8,
    /// Objectives worse than in the previous run of the scenario.
    pub regression: bool,
    /// Timings were measured against emulators.
    pub emulated: bool,
    pub objectives: Vec<ObjectiveRef<'a>>,
    pub findings: Vec<FindingRef<'a>>,
    /// Report file per format: a URL under `report_base_url`, else a path.
    pub reports: BTreeMap<&'static str, String>,
}

#[derive(Debug, Serialize)]
pub struct ScenarioRef<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub owner: &'a str,
}

/// One target's objectives and what was measured.
#[derive(Debug, Serialize)]
pub struct ObjectiveRef<'a> {
    pub target: &'a str,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rto: Option<&'a Measured>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpo: Option<&'a Measured>,
    #[serde(with = "millis")]
    pub rto_objective_ms: std::time::Duration,
    #[serde(with = "millis")]
    pub rpo_objective_ms: std::time::Duration,
}

/// A finding, with the target it belongs to.
#[derive(Debug, Serialize)]
pub struct FindingRef<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<&'a str>,
    #[serde(flatten)]
    pub finding: &'a Finding,
}

/// Links to the report files present in the run directory.
pub fn report_links(
    report: &Report,
    run_dir: &Path,
    base_url: Option<&str>,
) -> BTreeMap<&'static str, String> {
    let formats = [
        ("json", Format::Json),
        ("html", Format::Html),
        ("markdown", Format::Markdown),
        ("junit", Format::Junit),
    ];
    formats
        .into_iter()
        .filter(|(_, f)| run_dir.join(f.file()).is_file())
        .map(|(name, f)| {
            let link = if let Some(base) = base_url {
                format!(
                    "{base}/{}/{}/{}",
                    report.scenario.name,
                    report.run_id,
                    f.file()
                )
            } else {
                let path = run_dir.join(f.file());
                std::path::absolute(&path)
                    .unwrap_or(path)
                    .display()
                    .to_string()
            };
            (name, link)
        })
        .collect()
}

/// The webhook body of a run.
pub fn webhook<'a>(
    report: &'a Report,
    regression: bool,
    reports: BTreeMap<&'static str, String>,
) -> WebhookPayload<'a> {
    let mut findings: Vec<FindingRef<'a>> = report
        .findings
        .iter()
        .map(|finding| FindingRef {
            target: None,
            finding,
        })
        .collect();
    for t in &report.targets {
        findings.extend(t.findings.iter().map(|finding| FindingRef {
            target: Some(&t.name),
            finding,
        }));
    }
    WebhookPayload {
        format: WEBHOOK_FORMAT,
        scenario: ScenarioRef {
            name: &report.scenario.name,
            description: &report.scenario.description,
            owner: &report.scenario.owner,
        },
        run_id: &report.run_id,
        started_at: report.started_at,
        finished_at: report.finished_at,
        duration: report.duration,
        verdict: report.verdict,
        exit_code: report.exit_code,
        regression,
        emulated: report.environment.emulated,
        objectives: report
            .targets
            .iter()
            .map(|t| ObjectiveRef {
                target: &t.name,
                verdict: t.verdict,
                rto: t.rto.as_ref(),
                rpo: t.rpo.as_ref(),
                rto_objective_ms: t.objectives.rto,
                rpo_objective_ms: t.objectives.rpo,
            })
            .collect(),
        findings,
        reports,
    }
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn measure(label: &str, m: Option<&Measured>, objective: std::time::Duration) -> String {
    match m {
        Some(m) => format!(
            "{label} {} (±{}) / {} {}",
            human(m.value),
            human(m.error),
            human(objective),
            if m.met { "met" } else { "*missed*" }
        ),
        None => format!("{label} not measured / {}", human(objective)),
    }
}

/// Most findings listed in a Slack message; the report has them all.
const SLACK_FINDINGS: usize = 10;

/// The Slack incoming-webhook message of a run.
pub fn slack(report: &Report, regression: bool, reports: &BTreeMap<&'static str, String>) -> Value {
    let icon = match report.verdict {
        Verdict::Passed => ":white_check_mark:",
        Verdict::Failed => ":x:",
        Verdict::Aborted | Verdict::Error => ":warning:",
    };
    let regressed = if regression { " (regression)" } else { "" };
    let title = format!(
        "{icon} firedrill: {} {}{regressed}",
        esc(&report.scenario.name),
        report.verdict
    );
    let objectives: Vec<String> = report
        .targets
        .iter()
        .map(|t| {
            format!(
                "• *{}* {}: {}; {}",
                esc(&t.name),
                t.verdict,
                measure("RTO", t.rto.as_ref(), t.objectives.rto),
                measure("RPO", t.rpo.as_ref(), t.objectives.rpo)
            )
        })
        .collect();
    let all: Vec<(Option<&str>, &Finding)> = report
        .findings
        .iter()
        .map(|f| (None, f))
        .chain(
            report
                .targets
                .iter()
                .flat_map(|t| t.findings.iter().map(|f| (Some(t.name.as_str()), f))),
        )
        .filter(|(_, f)| f.severity >= Severity::Warning)
        .collect();
    let mut findings: Vec<String> = all
        .iter()
        .take(SLACK_FINDINGS)
        .map(|(target, f)| {
            format!(
                "• {} `{}`{}: {}",
                if f.is_error() { "error" } else { "warning" },
                esc(&f.code),
                target.map_or(String::new(), |t| format!(" ({})", esc(t))),
                esc(&f.message)
            )
        })
        .collect();
    if all.len() > SLACK_FINDINGS {
        findings.push(format!(
            "… and {} more in the report",
            all.len() - SLACK_FINDINGS
        ));
    }
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*{title}*")}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": format!("*Run*\n`{}`", esc(&report.run_id))},
            {"type": "mrkdwn", "text": format!("*Duration*\n{}", human(report.duration))},
            {"type": "mrkdwn", "text": format!("*Exit code*\n{}", report.exit_code)},
            {"type": "mrkdwn", "text": format!("*Owner*\n{}", if report.scenario.owner.is_empty() { "-".to_string() } else { esc(&report.scenario.owner) })},
        ]}),
    ];
    if !objectives.is_empty() {
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": objectives.join("\n")}}),
        );
    }
    if !findings.is_empty() {
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": findings.join("\n")}}),
        );
    }
    let links: Vec<String> = reports
        .iter()
        .map(|(name, link)| {
            if link.starts_with("http") {
                format!("<{}|{name}>", esc(link))
            } else {
                format!("{name}: `{}`", esc(link))
            }
        })
        .collect();
    if !links.is_empty() {
        blocks.push(
            json!({"type": "context", "elements": [{"type": "mrkdwn", "text": links.join(" · ")}]}),
        );
    }
    json!({ "text": title, "blocks": blocks })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn links() -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            (
                "html",
                "https://drills.example.com/reports/orders-drill/run/report.html".to_string(),
            ),
            (
                "json",
                "https://drills.example.com/reports/orders-drill/run/report.json".to_string(),
            ),
        ])
    }

    #[test]
    fn slack_message_snapshot() {
        let report = fixture::report();
        insta::assert_json_snapshot!(slack(&report, true, &links()));
    }

    #[test]
    fn webhook_payload_holds_verdict_objectives_findings_and_links() {
        let report = fixture::report();
        let v = serde_json::to_value(webhook(&report, false, links())).unwrap();
        assert_eq!(v["format"], 1);
        assert_eq!(v["scenario"]["name"], "orders-drill");
        assert_eq!(v["verdict"], "failed");
        assert_eq!(v["exit_code"], report.exit_code);
        assert_eq!(
            v["objectives"].as_array().unwrap().len(),
            report.targets.len()
        );
        assert!(v["objectives"][0]["rto_objective_ms"].is_u64());
        let findings = v["findings"].as_array().unwrap();
        let expected = report.findings.len()
            + report
                .targets
                .iter()
                .map(|t| t.findings.len())
                .sum::<usize>();
        assert_eq!(findings.len(), expected);
        assert!(
            findings
                .iter()
                .all(|f| f["code"].is_string() && f["severity"].is_string())
        );
        assert_eq!(v["reports"]["html"], links()["html"]);
    }

    #[test]
    fn links_are_paths_or_urls_for_the_files_present() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("report.json"), "{}").unwrap();
        let report = fixture::report();
        let local = report_links(&report, dir.path(), None);
        assert_eq!(local.len(), 1);
        assert!(local["json"].ends_with("/report.json") && local["json"].starts_with('/'));
        let published = report_links(&report, dir.path(), Some("https://x.example/r"));
        assert_eq!(
            published["json"],
            format!(
                "https://x.example/r/orders-drill/{}/report.json",
                report.run_id
            )
        );
    }
}
