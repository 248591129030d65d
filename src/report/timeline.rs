//! Inline SVG charts for the HTML report: the stage timeline (one bar per
//! timed stage, the fault moment marked, the RTO span shaded) and the
//! objectives chart (measured value with its error bar against the target).

use std::fmt::Write as _;
use std::time::Duration;

use time::OffsetDateTime;

use super::Report;
use firedrill_core::timing::human;
use firedrill_core::{Measured, Stage};

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn secs_between(a: OffsetDateTime, b: OffsetDateTime) -> f64 {
    (b - a).as_seconds_f64()
}

const WIDTH: f64 = 960.0;
const LABEL: f64 = 170.0;
const RIGHT: f64 = 20.0;
const ROW: f64 = 22.0;
const AXIS: f64 = 28.0;

/// The Gantt-like timeline of every target's stages.
pub(crate) fn timeline_svg(report: &Report) -> String {
    let origin = report
        .targets
        .iter()
        .flat_map(|t| {
            t.stages
                .iter()
                .filter_map(|s| s.timing.map(|t| t.started_at))
        })
        .min()
        .unwrap_or(report.started_at)
        .min(report.started_at);
    let mut end = report.finished_at;
    for t in &report.targets {
        for s in &t.stages {
            if let Some(tm) = s.timing {
                end = end.max(tm.finished_at);
            }
        }
        if let (Some(fault), Some(rto)) = (t.stage(Stage::Fault).and_then(|s| s.timing), t.rto) {
            end = end.max(fault.started_at + rto.value);
        }
    }
    let total = secs_between(origin, end).max(0.001);
    let plot = WIDTH - LABEL - RIGHT;
    let x = |t: OffsetDateTime| LABEL + plot * (secs_between(origin, t) / total).clamp(0.0, 1.0);
    let rows: usize = report.targets.iter().map(|t| t.stages.len() + 1).sum();
    let height = AXIS + ROW * rows as f64 + 8.0;
    let mut svg = format!(
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"stage timeline\">"
    );
    // Axis: five ticks of elapsed time.
    for i in 0..=4 {
        let frac = f64::from(i) / 4.0;
        let tx = LABEL + plot * frac;
        let label = human(Duration::from_secs_f64(total * frac));
        let _ = write!(
            svg,
            "<line x1=\"{tx:.1}\" y1=\"{AXIS}\" x2=\"{tx:.1}\" y2=\"{height}\" class=\"grid\"/><text x=\"{tx:.1}\" y=\"16\" class=\"tick\" text-anchor=\"middle\">+{}</text>",
            esc(&label)
        );
    }
    let mut y = AXIS;
    for t in &report.targets {
        let group_top = y;
        let group_height = ROW * (t.stages.len() + 1) as f64;
        let fault = t.stage(Stage::Fault).and_then(|s| s.timing);
        if let (Some(fault), Some(rto)) = (fault, t.rto) {
            let x0 = x(fault.started_at);
            let x1 = x(fault.started_at + rto.value);
            let _ = write!(
                svg,
                "<rect class=\"rto-span\" x=\"{x0:.1}\" y=\"{group_top:.1}\" width=\"{:.1}\" height=\"{group_height:.1}\"><title>{}: RTO {} (objective {})</title></rect>",
                (x1 - x0).max(1.0),
                esc(&t.name),
                esc(&human(rto.value)),
                esc(&human(rto.objective))
            );
        }
        let _ = write!(
            svg,
            "<text x=\"4\" y=\"{:.1}\" class=\"target-label\">{}</text>",
            y + 15.0,
            esc(&t.name)
        );
        y += ROW;
        for s in &t.stages {
            let _ = write!(
                svg,
                "<text x=\"16\" y=\"{:.1}\" class=\"stage-label\">{}</text>",
                y + 15.0,
                s.stage
            );
            if let Some(tm) = s.timing {
                let x0 = x(tm.started_at);
                let w = (x(tm.finished_at) - x0).max(2.0);
                let _ = write!(
                    svg,
                    "<rect class=\"stage-bar stage-{} outcome-{}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"2\"><title>{} {}: {} (±{}, {}) {}</title></rect>",
                    s.stage,
                    serde_json::to_value(s.outcome)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    y + 4.0,
                    ROW - 8.0,
                    esc(&t.name),
                    s.stage,
                    esc(&human(tm.duration)),
                    esc(&human(tm.error)),
                    if s.emulated { "emulated" } else { "real" },
                    esc(&s.outcome.to_string())
                );
            }
            y += ROW;
        }
        if let Some(fault) = fault {
            let fx = x(fault.started_at);
            let _ = write!(
                svg,
                "<line class=\"fault-mark\" x1=\"{fx:.1}\" y1=\"{group_top:.1}\" x2=\"{fx:.1}\" y2=\"{:.1}\"><title>{}: fault injected at {}</title></line><text class=\"fault-label\" x=\"{:.1}\" y=\"{:.1}\">fault</text>",
                group_top + group_height,
                esc(&t.name),
                esc(&super::view::time(fault.started_at)),
                fx + 3.0,
                group_top + 12.0
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// One row per target and objective: measured bar, error bar, objective line.
pub(crate) fn objectives_svg(report: &Report) -> String {
    let rows: Vec<(String, Option<Measured>, Duration)> = report
        .targets
        .iter()
        .flat_map(|t| {
            [
                (format!("{} RTO", t.name), t.rto, t.objectives.rto),
                (format!("{} RPO", t.name), t.rpo, t.objectives.rpo),
            ]
        })
        .collect();
    let height = 30.0 * rows.len() as f64 + 10.0;
    let plot = WIDTH - LABEL - RIGHT - 120.0;
    let mut svg = format!(
        "<svg class=\"objectives\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"objectives\">"
    );
    for (i, (label, m, objective)) in rows.iter().enumerate() {
        let y = 8.0 + 30.0 * i as f64;
        let scale_max = m
            .map_or(*objective, |m| m.value.max(*objective))
            .as_secs_f64()
            .max(0.001)
            * 1.15;
        let x = |d: Duration| LABEL + plot * (d.as_secs_f64() / scale_max);
        let _ = write!(
            svg,
            "<text x=\"4\" y=\"{:.1}\" class=\"stage-label\">{}</text>",
            y + 15.0,
            esc(label)
        );
        match m {
            Some(m) => {
                let class = if m.met { "met" } else { "missed" };
                let _ = write!(
                    svg,
                    "<rect class=\"objective-bar {class}\" x=\"{LABEL}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\"><title>measured {} ±{}</title></rect>",
                    y + 4.0,
                    (x(m.value) - LABEL).max(1.0),
                    esc(&human(m.value)),
                    esc(&human(m.error))
                );
                let lo = x(m.value.saturating_sub(m.error));
                let hi = x(m.value);
                let _ = write!(
                    svg,
                    "<g class=\"error-bar\"><line x1=\"{lo:.1}\" y1=\"{:.1}\" x2=\"{hi:.1}\" y2=\"{:.1}\"/><line x1=\"{lo:.1}\" y1=\"{:.1}\" x2=\"{lo:.1}\" y2=\"{:.1}\"/><line x1=\"{hi:.1}\" y1=\"{:.1}\" x2=\"{hi:.1}\" y2=\"{:.1}\"/></g>",
                    y + 11.0,
                    y + 11.0,
                    y + 5.0,
                    y + 17.0,
                    y + 5.0,
                    y + 17.0
                );
                let _ = write!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{:.1}\" class=\"value-label\">{} ±{} / {}</text>",
                    WIDTH - RIGHT - 115.0,
                    y + 15.0,
                    esc(&human(m.value)),
                    esc(&human(m.error)),
                    esc(&human(*objective))
                );
            }
            None => {
                let _ = write!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{:.1}\" class=\"value-label\">not measured</text>",
                    LABEL + 4.0,
                    y + 15.0
                );
            }
        }
        let ox = x(*objective);
        let _ = write!(
            svg,
            "<line class=\"objective-line\" x1=\"{ox:.1}\" y1=\"{:.1}\" x2=\"{ox:.1}\" y2=\"{:.1}\"><title>objective {}</title></line>",
            y,
            y + 22.0,
            esc(&human(*objective))
        );
    }
    svg.push_str("</svg>");
    svg
}
