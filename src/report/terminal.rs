//! The terminal summary: one row per target and stage, then objectives and
//! findings, then the verdict.

use std::io::{self, Write};

use tabled::builder::Builder;
use tabled::settings::Style;

use super::Report;
use firedrill_core::timing::human;
use firedrill_core::{CheckStatus, Severity};
use firedrill_core::{Measured, Outcome};

fn measured(m: Option<&Measured>) -> String {
    match m {
        None => "not measured".into(),
        Some(m) => format!(
            "{} ±{} / {} {}{}",
            human(m.value),
            human(m.error),
            human(m.objective),
            if m.met { "met" } else { "MISSED" },
            if m.emulated { " (emulated)" } else { "" }
        ),
    }
}

/// Render the summary.
pub fn write<W: Write>(report: &Report, mut out: W) -> io::Result<()> {
    writeln!(
        out,
        "firedrill run {} · scenario {} · {}",
        report.run_id, report.scenario.name, report.environment.region
    )?;
    writeln!(out, "{}", stage_table(report).with(Style::rounded()))?;
    writeln!(out, "{}", objective_table(report).with(Style::rounded()))?;
    write_recovery_points(report, &mut out)?;
    if !report.selections.is_empty() {
        writeln!(out, "selected by tag:")?;
        for s in &report.selections {
            writeln!(out, "  - {}", s.line())?;
        }
    }
    write_application(report, &mut out)?;
    let findings = finding_lines(report);
    if !findings.is_empty() {
        writeln!(out, "findings:")?;
        for f in &findings {
            writeln!(out, "  - {f}")?;
        }
    }
    write_cleanup(report, &mut out)?;
    write_api_calls(report, &mut out)?;
    if let Some(reason) = &report.aborted {
        writeln!(out, "aborted: {reason}")?;
    }
    writeln!(
        out,
        "verdict: {} (exit code {}) in {}",
        report.verdict,
        report.exit_code,
        human(report.duration)
    )
}

/// One row per stage of every target.
fn stage_table(report: &Report) -> tabled::Table {
    let mut stages = Builder::default();
    stages.push_record([
        "target", "stage", "outcome", "duration", "error", "timing", "detail",
    ]);
    for t in &report.targets {
        for s in &t.stages {
            let (dur, err) = s.timing.map_or_else(
                || ("-".into(), "-".into()),
                |t| (human(t.duration), format!("±{}", human(t.error))),
            );
            let outcome = match s.outcome {
                Outcome::Passed => "passed".to_string(),
                other => other.to_string().to_uppercase(),
            };
            stages.push_record([
                t.name.clone(),
                s.stage.to_string(),
                outcome,
                dur,
                err,
                if s.emulated { "emulated" } else { "real" }.to_string(),
                truncate(&s.detail, 70),
            ]);
        }
    }
    stages.build()
}

/// One row per target: verdict, RTO, RPO and checks.
fn objective_table(report: &Report) -> tabled::Table {
    let mut objectives = Builder::default();
    objectives.push_record([
        "target",
        "verdict",
        "RTO measured / objective",
        "RPO measured / objective",
        "checks",
    ]);
    for t in &report.targets {
        let count = |st: CheckStatus| t.checks.iter().filter(|c| c.status == st).count();
        let mut checks = format!("{} passed", count(CheckStatus::Passed));
        for (st, word) in [
            (CheckStatus::Failed, "failed"),
            (CheckStatus::Emulated, "emulated"),
            (CheckStatus::NotVerified, "not verified"),
        ] {
            let n = count(st);
            if n > 0 {
                checks.push_str(&format!(", {n} {word}"));
            }
        }
        objectives.push_record([
            t.name.clone(),
            t.verdict.to_string(),
            measured(t.rto.as_ref()),
            measured(t.rpo.as_ref()),
            checks,
        ]);
    }
    objectives.build()
}

/// The run's findings, then each target's warnings, errors and failed checks.
fn finding_lines(report: &Report) -> Vec<String> {
    let mut findings: Vec<String> = Vec::new();
    for f in &report.findings {
        findings.push(format!(
            "{} run: {} [{}]",
            severity_word(f.severity),
            f.message,
            f.code
        ));
    }
    for t in &report.targets {
        for f in t
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
        {
            findings.push(format!(
                "{} {}: {} [{}]",
                severity_word(f.severity),
                t.name,
                f.message,
                f.code
            ));
        }
        for c in t.failed_checks() {
            findings.push(format!("failed check {}: {}: {}", t.name, c.name, c.detail));
        }
    }
    findings
}

/// The existing recovery points restored, and the last proven ones.
fn write_recovery_points<W: Write>(report: &Report, out: &mut W) -> io::Result<()> {
    let mut lines = Vec::new();
    for t in &report.targets {
        if let Some(l) = super::recovery::point_line(t) {
            lines.push(format!("{}: {l}", t.name));
        }
        if let Some(l) = super::recovery::last_proven_line(t) {
            lines.push(format!("{}: last proven: {l}", t.name));
        }
    }
    if lines.is_empty() {
        return Ok(());
    }
    match report.seed {
        Some(seed) => writeln!(out, "recovery points (seed {seed}):")?,
        None => writeln!(out, "recovery points:")?,
    }
    for l in lines {
        writeln!(out, "  - {l}")?;
    }
    Ok(())
}

/// Recovery levels, one line per gate, and the application RTO.
fn write_application<W: Write>(report: &Report, out: &mut W) -> io::Result<()> {
    if !report.levels.is_empty() {
        let levels: Vec<String> = report
            .levels
            .iter()
            .enumerate()
            .map(|(i, l)| format!("level {i}: {}", l.join(", ")))
            .collect();
        writeln!(out, "recovery order: {}", levels.join(" → "))?;
    }
    for g in &report.gates {
        writeln!(
            out,
            "gate {} ({}{}): {} after {} attempt(s) — {}",
            g.name,
            g.kind.as_str(),
            if g.critical { "" } else { ", not critical" },
            g.outcome,
            g.attempt_count,
            truncate(&g.detail, 100)
        )?;
    }
    for h in &report.hooks {
        writeln!(
            out,
            "scenario hook: {} — {}",
            h.outcome,
            truncate(&h.detail, 100)
        )?;
    }
    if let Some(line) = super::app_view::app_rto_line(report) {
        writeln!(out, "application RTO: {line}")?;
    }
    Ok(())
}

fn write_cleanup<W: Write>(report: &Report, out: &mut W) -> io::Result<()> {
    let c = &report.cleanup;
    if c.complete {
        return writeln!(
            out,
            "cleanup: {} scratch resource(s) created, {} deleted, {}",
            c.created,
            c.deleted,
            kept(c)
        );
    }
    writeln!(
        out,
        "cleanup INCOMPLETE: {} scratch resource(s) remain; run `firedrill reap`:",
        c.remaining.len()
    )?;
    for r in &c.remaining {
        writeln!(out, "  - {r}")?;
    }
    Ok(())
}

/// `api: s3 412 requests (37 retried, 35 throttled), ec2 …`, when counted.
fn write_api_calls<W: Write>(report: &Report, out: &mut W) -> io::Result<()> {
    match super::api_calls::line(&report.api_calls) {
        Some(line) => writeln!(out, "api: {line}"),
        None => Ok(()),
    }
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// "none left", or the copies kept on purpose.
fn kept(c: &super::CleanupReport) -> String {
    if c.retained.is_empty() {
        "none left".to_string()
    } else {
        format!(
            "{} kept as the copy of damaged data (see findings): {}",
            c.retained.len(),
            c.retained.join(", ")
        )
    }
}
