//! The application timeline of the HTML report: one band per recovery
//! level (from the first restore of its targets to the last validation),
//! one bar per gate (waiting, then attempts, a tick for each), and the
//! application RTO span from the first fault.

use std::fmt::Write as _;
use std::time::Duration;

use firedrill_core::Stage;
use firedrill_core::timing::human;
use time::OffsetDateTime;

use super::Report;
use super::timeline::esc;

const WIDTH: f64 = 960.0;
const LABEL: f64 = 170.0;
const RIGHT: f64 = 20.0;
const ROW: f64 = 22.0;
const AXIS: f64 = 28.0;

fn secs(a: OffsetDateTime, b: OffsetDateTime) -> f64 {
    (b - a).as_seconds_f64()
}

/// A band of the chart: label, start, end, CSS class, tooltip, ticks.
struct Band {
    label: String,
    start: OffsetDateTime,
    end: OffsetDateTime,
    class: &'static str,
    title: String,
    ticks: Vec<(OffsetDateTime, bool)>,
}

fn level_bands(report: &Report) -> Vec<Band> {
    let mut out = Vec::new();
    for (i, level) in report.levels.iter().enumerate() {
        let stages = report
            .targets
            .iter()
            .filter(|t| level.contains(&t.name))
            .flat_map(|t| t.stages.iter())
            .filter(|s| matches!(s.stage, Stage::Copy | Stage::Restore | Stage::Validate))
            .filter_map(|s| s.timing);
        let (mut start, mut end) = (None::<OffsetDateTime>, None::<OffsetDateTime>);
        for t in stages {
            start = Some(start.map_or(t.started_at, |s| s.min(t.started_at)));
            end = Some(end.map_or(t.finished_at, |e| e.max(t.finished_at)));
        }
        if let (Some(start), Some(end)) = (start, end) {
            out.push(Band {
                label: format!("level {i}"),
                start,
                end,
                class: "level-band",
                title: format!(
                    "level {i} ({}): recovered in {}",
                    level.join(", "),
                    human((end - start).unsigned_abs())
                ),
                ticks: Vec::new(),
            });
        }
    }
    out
}

fn gate_bands(report: &Report) -> Vec<Band> {
    report
        .gates
        .iter()
        .filter_map(|g| {
            let start = g.started_at?;
            let end = g
                .passed_at
                .or_else(|| g.attempts.last().map(|a| a.at + a.duration))
                .unwrap_or(start);
            Some(Band {
                label: format!("gate {}", g.name),
                start,
                end,
                class: if g.outcome == firedrill_core::Outcome::Passed {
                    "gate-pass"
                } else {
                    "gate-fail"
                },
                title: format!(
                    "gate {}: {} after {} attempt(s)",
                    g.name, g.outcome, g.attempt_count
                ),
                ticks: g.attempts.iter().map(|a| (a.at, a.passed)).collect(),
            })
        })
        .collect()
}

/// The chart, or nothing when the run had no levels and no gates.
pub(crate) fn app_timeline_svg(report: &Report) -> String {
    let mut bands = level_bands(report);
    bands.extend(gate_bands(report));
    if bands.is_empty() {
        return String::new();
    }
    let first_fault = report
        .targets
        .iter()
        .filter_map(|t| t.stage(Stage::Fault).and_then(|s| s.timing))
        .map(|t| t.started_at)
        .min();
    let origin = bands
        .iter()
        .map(|b| b.start)
        .chain(first_fault)
        .min()
        .unwrap_or(report.started_at);
    let end = bands
        .iter()
        .map(|b| b.end)
        .max()
        .unwrap_or(report.finished_at);
    let total = secs(origin, end).max(0.001);
    let plot = WIDTH - LABEL - RIGHT;
    let x = |t: OffsetDateTime| LABEL + plot * (secs(origin, t) / total).clamp(0.0, 1.0);
    let height = AXIS + ROW * bands.len() as f64 + 8.0;
    let mut svg = format!(
        "<svg class=\"timeline app-timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"application timeline\">"
    );
    for i in 0..=4 {
        let frac = f64::from(i) / 4.0;
        let tx = LABEL + plot * frac;
        let _ = write!(
            svg,
            "<line x1=\"{tx:.1}\" y1=\"{AXIS}\" x2=\"{tx:.1}\" y2=\"{height}\" class=\"grid\"/><text x=\"{tx:.1}\" y=\"16\" class=\"tick\" text-anchor=\"middle\">+{}</text>",
            esc(&human(Duration::from_secs_f64(total * frac)))
        );
    }
    if let (Some(fault), Some(rto)) = (first_fault, report.app_rto) {
        let (x0, x1) = (x(fault), x(fault + rto.value));
        let _ = write!(
            svg,
            "<rect class=\"rto-span\" x=\"{x0:.1}\" y=\"{AXIS}\" width=\"{:.1}\" height=\"{:.1}\"><title>application RTO {} ±{}</title></rect>",
            (x1 - x0).max(1.0),
            height - AXIS,
            esc(&human(rto.value)),
            esc(&human(rto.error))
        );
    }
    let mut y = AXIS;
    for b in &bands {
        let x0 = x(b.start);
        let w = (x(b.end) - x0).max(2.0);
        let _ = write!(
            svg,
            "<text x=\"4\" y=\"{:.1}\" class=\"stage-label\">{}</text><rect class=\"{}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"2\"><title>{}</title></rect>",
            y + 15.0,
            esc(&b.label),
            b.class,
            y + 4.0,
            ROW - 8.0,
            esc(&b.title)
        );
        for (at, passed) in &b.ticks {
            let tx = x(*at);
            let _ = write!(
                svg,
                "<line class=\"attempt {}\" x1=\"{tx:.1}\" y1=\"{:.1}\" x2=\"{tx:.1}\" y2=\"{:.1}\"/>",
                if *passed {
                    "attempt-pass"
                } else {
                    "attempt-fail"
                },
                y + 2.0,
                y + ROW - 2.0
            );
        }
        y += ROW;
    }
    if let Some(fault) = first_fault {
        let fx = x(fault);
        let _ = write!(
            svg,
            "<line class=\"fault-mark\" x1=\"{fx:.1}\" y1=\"{AXIS}\" x2=\"{fx:.1}\" y2=\"{height:.1}\"><title>first fault at {}</title></line>",
            esc(&super::view::time(fault))
        );
    }
    svg.push_str("</svg>");
    svg
}
