//! Run history: one JSON line per run in `<reports>/history.jsonl`, the trend
//! table of `firedrill history`, the `index.html` of `firedrill report
//! --index`, and RTO regression detection against earlier runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tabled::builder::Builder;
use tabled::settings::Style;
use time::OffsetDateTime;

use crate::report::{Report, TargetReport};
use firedrill_core::recovery::ProvenPoint;
use firedrill_core::timing::human;
use firedrill_core::{Finding, Outcome, Stage, Verdict};

/// File name inside the reports directory.
pub const FILE: &str = "history.jsonl";
/// Runs the RTO of a new run is compared with.
pub const REGRESSION_WINDOW: usize = 5;

/// One run, as remembered for trends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub scenario: String,
    pub run_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    pub verdict: Verdict,
    pub targets: Vec<TargetHistory>,
}

/// One target's measurements in one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetHistory {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_ms: Option<u64>,
    pub rto_objective_ms: u64,
    pub rpo_objective_ms: u64,
    /// The existing recovery point this run restored and validated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proven: Option<ProvenPoint>,
    /// How long each timed stage took, for the runbook's expected durations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stages_ms: BTreeMap<Stage, u64>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl HistoryEntry {
    /// The history line of a finished report.
    pub fn from_report(report: &Report) -> Self {
        Self {
            scenario: report.scenario.name.clone(),
            run_id: report.run_id.clone(),
            time: report.started_at,
            verdict: report.verdict,
            targets: report
                .targets
                .iter()
                .map(|t| TargetHistory {
                    name: t.name.clone(),
                    rto_ms: t.rto.map(|m| ms(m.value)),
                    rpo_ms: t.rpo.map(|m| ms(m.value)),
                    rto_objective_ms: ms(t.objectives.rto),
                    rpo_objective_ms: ms(t.objectives.rpo),
                    proven: proven(t, report.started_at),
                    stages_ms: t
                        .stages
                        .iter()
                        .filter(|s| s.outcome == Outcome::Passed)
                        .filter_map(|s| Some((s.stage, ms(s.timing.as_ref()?.duration))))
                        .collect(),
                })
                .collect(),
        }
    }
}

/// The recovery point a target proved: it restored an existing point and
/// validation ran with no failed check. Its age against the RPO does not
/// matter here: the point came back, whatever the schedule.
pub fn proven(t: &TargetReport, at: OffsetDateTime) -> Option<ProvenPoint> {
    let p = t.recovery_point.as_ref()?;
    let validated = t
        .stage(Stage::Validate)
        .is_some_and(|s| s.outcome == Outcome::Passed);
    (validated && t.failed_checks().next().is_none()).then(|| ProvenPoint {
        resource: t.resource.clone(),
        id: p.id.clone(),
        at,
    })
}

/// Every proven recovery point, by resource then id, with the last time.
pub fn proven_points(
    entries: &[HistoryEntry],
) -> BTreeMap<String, BTreeMap<String, OffsetDateTime>> {
    let mut out: BTreeMap<String, BTreeMap<String, OffsetDateTime>> = BTreeMap::new();
    for p in entries
        .iter()
        .flat_map(|e| e.targets.iter().filter_map(|t| t.proven.as_ref()))
    {
        let at = out
            .entry(p.resource.clone())
            .or_default()
            .entry(p.id.clone())
            .or_insert(p.at);
        *at = (*at).max(p.at);
    }
    out
}

/// Append one entry (one line, one write call, so concurrent runs do not
/// interleave within a line).
pub fn append(reports_dir: &Path, entry: &HistoryEntry) -> io::Result<()> {
    std::fs::create_dir_all(reports_dir)?;
    let mut line = serde_json::to_vec(entry)?;
    line.push(b'\n');
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(reports_dir.join(FILE))?;
    f.write_all(&line)?;
    f.sync_data()
}

/// Every entry, oldest first. A missing file is an empty history; lines that
/// do not parse are skipped with a warning (a crash may have cut one short).
pub fn read(reports_dir: &Path) -> io::Result<Vec<HistoryEntry>> {
    let file = match std::fs::File::open(reports_dir.join(FILE)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for (n, line) in io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<HistoryEntry>(&line) {
            Ok(e) => out.push(e),
            Err(e) => tracing::warn!("{FILE} line {}: skipped: {e}", n + 1),
        }
    }
    Ok(out)
}

pub(crate) fn median(values: &mut [u64]) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        u64::midpoint(values[mid - 1], values[mid])
    } else {
        values[mid]
    })
}

/// Warnings for targets whose RTO grew by more than `threshold` (a share:
/// 0.5 = 50%) over the median of the last `window` runs of the scenario.
pub fn regressions(
    reports_dir: &Path,
    scenario: &str,
    targets: &[TargetReport],
    threshold: f64,
    window: usize,
) -> Vec<Finding> {
    let history = read(reports_dir).unwrap_or_default();
    regressions_in(&history, scenario, targets, threshold, window)
}

/// [`regressions`] against a history already read.
pub fn regressions_in(
    history: &[HistoryEntry],
    scenario: &str,
    targets: &[TargetReport],
    threshold: f64,
    window: usize,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for t in targets {
        let Some(rto) = t.rto else { continue };
        let mut earlier: Vec<u64> = history
            .iter()
            .rev()
            .filter(|e| e.scenario == scenario)
            .filter_map(|e| e.targets.iter().find(|h| h.name == t.name)?.rto_ms)
            .take(window)
            .collect();
        let n = earlier.len();
        let Some(med) = median(&mut earlier) else {
            continue;
        };
        let now = ms(rto.value);
        let limit = med as f64 * (1.0 + threshold);
        if med > 0 && now as f64 > limit {
            findings.push(Finding::warning(
                "rto.regression",
                format!(
                    "target `{}`: RTO {} is {:.0}% above the median {} of the last {n} run(s) (threshold {:.0}%)",
                    t.name,
                    human(rto.value),
                    (now as f64 / med as f64 - 1.0) * 100.0,
                    human(Duration::from_millis(med)),
                    threshold * 100.0
                ),
            ));
        }
    }
    findings
}

/// The last run of `scenario` in a history, if any.
pub fn previous_run<'a>(history: &'a [HistoryEntry], scenario: &str) -> Option<&'a HistoryEntry> {
    history.iter().rev().find(|e| e.scenario == scenario)
}

/// The start of the last passing run of `scenario`, if any.
pub fn last_success(history: &[HistoryEntry], scenario: &str) -> Option<OffsetDateTime> {
    history
        .iter()
        .rev()
        .find(|e| e.scenario == scenario && e.verdict == Verdict::Passed)
        .map(|e| e.time)
}

/// Whether a run's objectives are worse than the previous run's: the
/// previous run passed and this one did not, or an objective (RTO or RPO
/// of a target) the previous run met is now missed or no longer measured.
pub fn regressed(previous: Option<&HistoryEntry>, current: &HistoryEntry) -> bool {
    let Some(previous) = previous else {
        return false;
    };
    if previous.verdict == Verdict::Passed && current.verdict != Verdict::Passed {
        return true;
    }
    let met = |v: Option<u64>, objective: u64| v.is_some_and(|v| v <= objective);
    current.targets.iter().any(|now| {
        previous
            .targets
            .iter()
            .find(|p| p.name == now.name)
            .is_some_and(|before| {
                (met(before.rto_ms, before.rto_objective_ms)
                    && !met(now.rto_ms, now.rto_objective_ms))
                    || (met(before.rpo_ms, before.rpo_objective_ms)
                        && !met(now.rpo_ms, now.rpo_objective_ms))
            })
    })
}

fn opt_ms(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| human(Duration::from_millis(v)))
}

/// The trend table: one row per run and target, oldest first.
pub fn trend_table(entries: &[HistoryEntry], scenario: Option<&str>) -> String {
    let mut b = Builder::default();
    b.push_record([
        "scenario",
        "run",
        "started (UTC)",
        "verdict",
        "target",
        "RTO / objective",
        "RPO / objective",
    ]);
    let mut rows = 0;
    for e in entries
        .iter()
        .filter(|e| scenario.is_none_or(|s| s == e.scenario))
    {
        let time = crate::report::view::time(e.time);
        for t in &e.targets {
            rows += 1;
            b.push_record([
                e.scenario.clone(),
                e.run_id.clone(),
                time.clone(),
                e.verdict.to_string(),
                t.name.clone(),
                format!(
                    "{} / {}",
                    opt_ms(t.rto_ms),
                    opt_ms(Some(t.rto_objective_ms))
                ),
                format!(
                    "{} / {}",
                    opt_ms(t.rpo_ms),
                    opt_ms(Some(t.rpo_objective_ms))
                ),
            ]);
        }
    }
    if rows == 0 {
        return "no runs recorded yet\n".to_string();
    }
    format!("{}\n", b.build().with(Style::rounded()))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An inline SVG line chart of one measure (`rto` or `rpo`) of every target
/// of one scenario, one `<circle class="{measure}-point">` per run, with the
/// objective as a dashed line.
pub fn trend_svg(entries: &[&HistoryEntry], measure: &str) -> String {
    const W: f64 = 640.0;
    const H: f64 = 220.0;
    const L: f64 = 60.0;
    const R: f64 = 20.0;
    const T: f64 = 20.0;
    const B: f64 = 40.0;
    let pick = |t: &TargetHistory| {
        if measure == "rto" {
            (t.rto_ms, t.rto_objective_ms)
        } else {
            (t.rpo_ms, t.rpo_objective_ms)
        }
    };
    let mut series: BTreeMap<&str, Vec<(usize, u64)>> = BTreeMap::new();
    let mut objectives: BTreeMap<&str, u64> = BTreeMap::new();
    let mut max = 1u64;
    for (i, e) in entries.iter().enumerate() {
        for t in &e.targets {
            let (v, obj) = pick(t);
            objectives.insert(&t.name, obj);
            max = max.max(obj);
            if let Some(v) = v {
                max = max.max(v);
                series.entry(&t.name).or_default().push((i, v));
            }
        }
    }
    let max = max as f64 * 1.1;
    let n = entries.len().max(2) - 1;
    let x = |i: usize| L + (W - L - R) * i as f64 / n as f64;
    let y = |v: u64| T + (H - T - B) * (1.0 - v as f64 / max);
    let colors = ["#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed"];
    let mut svg = format!(
        "<svg class=\"trend\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{} trend\">",
        measure.to_uppercase()
    );
    let _ = write!(
        svg,
        "<line x1=\"{L}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/><line x1=\"{L}\" y1=\"{T}\" x2=\"{L}\" y2=\"{}\" stroke=\"#999\"/>",
        H - B,
        W - R,
        H - B,
        H - B
    );
    let _ = write!(
        svg,
        "<text x=\"4\" y=\"{}\" font-size=\"11\">{}</text><text x=\"4\" y=\"{}\" font-size=\"11\">0</text>",
        T + 4.0,
        esc(&human(Duration::from_millis(max as u64))),
        H - B
    );
    for (k, (name, obj)) in objectives.iter().enumerate() {
        let c = colors[k % colors.len()];
        let _ = write!(
            svg,
            "<line class=\"objective-line\" x1=\"{L}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{:.1}\" stroke=\"{c}\" stroke-dasharray=\"6 4\"><title>{} objective {}</title></line>",
            y(*obj),
            W - R,
            y(*obj),
            esc(name),
            esc(&human(Duration::from_millis(*obj)))
        );
    }
    for (k, (name, points)) in series.iter().enumerate() {
        let c = colors[k % colors.len()];
        let path: Vec<String> = points
            .iter()
            .map(|(i, v)| format!("{:.1},{:.1}", x(*i), y(*v)))
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>",
            path.join(" ")
        );
        for (i, v) in points {
            let _ = write!(
                svg,
                "<circle class=\"{measure}-point\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{c}\"><title>{} run {}: {}</title></circle>",
                x(*i),
                y(*v),
                esc(name),
                esc(&entries[*i].run_id),
                esc(&human(Duration::from_millis(*v)))
            );
        }
    }
    for (i, e) in entries.iter().enumerate() {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
            x(i),
            H - B + 14.0,
            i + 1
        );
        let _ = e;
    }
    svg.push_str("</svg>");
    svg
}

/// File name of the index page inside the reports directory.
pub const INDEX_FILE: &str = "index.html";

/// Render `index.html`: every run, and per scenario an RTO and an RPO trend
/// chart with the objective lines. Links point at each run's HTML report
/// when it exists under `reports_dir`.
pub fn write_index<W: Write>(
    entries: &[HistoryEntry],
    reports_dir: Option<&Path>,
    out: W,
) -> io::Result<()> {
    use minijinja::{Value, context};
    let mut by_scenario: BTreeMap<&str, Vec<&HistoryEntry>> = BTreeMap::new();
    for e in entries {
        by_scenario.entry(&e.scenario).or_default().push(e);
    }
    let scenarios: Vec<Value> = by_scenario
        .iter()
        .map(|(name, runs)| {
            context! {
                name => *name,
                rto_svg => Value::from_safe_string(trend_svg(runs, "rto")),
                rpo_svg => Value::from_safe_string(trend_svg(runs, "rpo")),
            }
        })
        .collect();
    let runs: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let rel = format!("{}/{}/{}", e.scenario, e.run_id, crate::report::html::FILE);
            let link = reports_dir.is_some_and(|d| d.join(&rel).is_file());
            let targets: Vec<String> = e
                .targets
                .iter()
                .map(|t| format!("{}: {} / {}", t.name, opt_ms(t.rto_ms), opt_ms(t.rpo_ms)))
                .collect();
            context! {
                n => i + 1,
                scenario => e.scenario.clone(),
                run_id => e.run_id.clone(),
                time => crate::report::view::time(e.time),
                verdict => e.verdict.to_string(),
                verdict_class => match e.verdict {
                    Verdict::Passed => "pass",
                    Verdict::Failed => "fail",
                    _ => "error",
                },
                link => if link { Some(rel) } else { None },
                targets => targets.join("; "),
            }
        })
        .collect();
    crate::report::view::render(
        "index.html",
        context! { scenarios => scenarios, runs => runs },
        out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(run: &str, rto: u64) -> HistoryEntry {
        HistoryEntry {
            scenario: "s".into(),
            run_id: run.into(),
            time: time::macros::datetime!(2026-01-01 0:00 UTC),
            verdict: Verdict::Passed,
            targets: vec![TargetHistory {
                name: "data".into(),
                rto_ms: Some(rto),
                rpo_ms: Some(100),
                rto_objective_ms: 120_000,
                rpo_objective_ms: 30_000,
                proven: None,
                stages_ms: BTreeMap::new(),
            }],
        }
    }

    #[test]
    fn regressed_when_an_objective_met_before_is_missed_now() {
        let mut failed = entry("f", 1000);
        failed.verdict = Verdict::Failed;
        let slow = entry("s", 200_000);
        let mut unmeasured = entry("u", 1000);
        unmeasured.targets[0].rpo_ms = None;
        let mut other_target = entry("o", 200_000);
        other_target.targets[0].name = "other".into();
        let cases = [
            (None, entry("a", 1000), false),
            (Some(entry("p", 1000)), entry("a", 1100), false),
            (Some(entry("p", 1000)), failed.clone(), true),
            (Some(failed.clone()), failed.clone(), false),
            (Some(entry("p", 1000)), slow.clone(), true),
            (Some(slow.clone()), slow, false),
            (Some(entry("p", 1000)), unmeasured, true),
            (Some(entry("p", 1000)), other_target, false),
        ];
        for (i, (previous, current, expected)) in cases.into_iter().enumerate() {
            assert_eq!(regressed(previous.as_ref(), &current), expected, "case {i}");
        }
    }

    #[test]
    fn last_success_and_previous_run() {
        let mut failed = entry("f", 1000);
        failed.verdict = Verdict::Failed;
        failed.time = time::macros::datetime!(2026-01-02 0:00 UTC);
        let h = vec![entry("a", 1000), failed];
        assert_eq!(previous_run(&h, "s").unwrap().run_id, "f");
        assert_eq!(
            last_success(&h, "s"),
            Some(time::macros::datetime!(2026-01-01 0:00 UTC))
        );
        assert_eq!(last_success(&h, "other"), None);
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&mut [3, 1, 2]), Some(2));
        assert_eq!(median(&mut [4, 1, 2, 3]), Some(2));
        assert_eq!(median(&mut []), None);
    }

    #[test]
    fn trend_table_has_one_row_per_run() {
        let h = vec![entry("a", 1000), entry("b", 1200), entry("c", 900)];
        let table = trend_table(&h, Some("s"));
        assert_eq!(table.matches("│ s ").count(), 3, "{table}");
        assert_eq!(trend_table(&h, Some("other")), "no runs recorded yet\n");
    }

    #[test]
    fn svg_has_one_point_per_run() {
        let h = [entry("a", 1000), entry("b", 1200), entry("c", 900)];
        let refs: Vec<&HistoryEntry> = h.iter().collect();
        let svg = trend_svg(&refs, "rto");
        assert_eq!(svg.matches("class=\"rto-point\"").count(), 3);
        assert_eq!(svg.matches("class=\"objective-line\"").count(), 1);
    }
}
