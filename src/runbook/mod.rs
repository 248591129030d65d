//! `firedrill runbook`: the recovery plan as a document people follow on
//! the bad day. The levels of `depends_on` in order; per target the
//! commands of [`Target::runbook_steps`](crate::targets::Target::runbook_steps),
//! the gates to check, the owner to call, and how long each step took in
//! the last drills (median and worst, from the run history).
//!
//! [`build`] is pure (scenario + history in, [`Runbook`] out); the formats
//! are minijinja templates, one per format, written to any `W: Write`.

use std::io::{self, Write};
use std::time::Duration;

use serde::Serialize;

use crate::history::{self, HistoryEntry};
use crate::scenario::Scenario;
use crate::scenario::depends::levels;
use crate::scenario::gates::{GateCheck, GateSpec};
use firedrill_core::Stage;
use firedrill_core::timing::human;

/// Drills the expected durations are taken from (the newest first).
pub const WINDOW: usize = 10;

firedrill_core::named_enum! {
    /// The `--format` values.
    pub enum Format {
        Markdown = "markdown",
        Html = "html",
    }
}

/// The whole document.
#[derive(Debug, Serialize)]
pub struct Runbook {
    pub scenario: String,
    pub description: String,
    pub owner: String,
    pub rto: String,
    pub app_rto: Option<String>,
    /// Start (UTC) of the last passing drill, if any.
    pub last_success: Option<String>,
    /// Drills of this scenario in the history.
    pub drills: usize,
    pub levels: Vec<Level>,
    /// Gates that wait for every target: the application answers.
    pub app_gates: Vec<GateView>,
}

/// Targets recovered together, after every earlier level.
#[derive(Debug, Serialize)]
pub struct Level {
    pub number: usize,
    pub targets: Vec<TargetBook>,
    /// Gates whose targets are all back once this level is.
    pub gates: Vec<GateView>,
}

/// One target's page.
#[derive(Debug, Serialize)]
pub struct TargetBook {
    pub name: String,
    pub kind: &'static str,
    pub resource: String,
    pub depends_on: Vec<String>,
    pub rto: String,
    pub steps: Vec<StepView>,
}

/// One step, with its expected duration.
#[derive(Debug, Serialize)]
pub struct StepView {
    pub n: usize,
    pub title: String,
    pub tool: &'static str,
    pub command: String,
    pub sets: Option<&'static str>,
    pub expected: Option<Expected>,
    /// "median 1.2s, worst 2s (3 drills)", or why there is none.
    pub expected_text: String,
}

/// Median and worst duration of one target's stage in the last drills.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Expected {
    pub median_ms: u64,
    pub worst_ms: u64,
    pub drills: usize,
}

/// One gate, as a person checks it.
#[derive(Debug, Serialize)]
pub struct GateView {
    pub name: String,
    pub kind: &'static str,
    /// The URL, query or command.
    pub check: String,
    pub expect: String,
    pub critical: bool,
}

/// Median and worst of `stage` of target `target` over the last
/// [`WINDOW`] drills of `scenario` that timed it.
pub fn expected(
    entries: &[HistoryEntry],
    scenario: &str,
    target: &str,
    stage: Stage,
) -> Option<Expected> {
    let mut values: Vec<u64> = entries
        .iter()
        .rev()
        .filter(|e| e.scenario == scenario)
        .filter_map(|e| {
            e.targets
                .iter()
                .find(|t| t.name == target)?
                .stages_ms
                .get(&stage)
                .copied()
        })
        .take(WINDOW)
        .collect();
    let worst = values.iter().copied().max()?;
    let drills = values.len();
    Some(Expected {
        median_ms: history::median(&mut values)?,
        worst_ms: worst,
        drills,
    })
}

fn expected_text(stage: Option<Stage>, e: Option<Expected>) -> String {
    match (stage, e) {
        (None, _) => "not timed by the drills".to_string(),
        (Some(_), None) => "no drill recorded".to_string(),
        (Some(_), Some(e)) => format!(
            "median {}, worst {} ({} drill{})",
            human(Duration::from_millis(e.median_ms)),
            human(Duration::from_millis(e.worst_ms)),
            e.drills,
            if e.drills == 1 { "" } else { "s" }
        ),
    }
}

fn gate_view(g: &GateSpec) -> GateView {
    let (check, expect) = match &g.check {
        GateCheck::Http(h) => {
            let mut expect = vec![format!("status {}", h.status)];
            if let Some(s) = &h.body_contains {
                expect.push(format!("body contains `{s}`"));
            }
            if let Some(r) = &h.body_regex {
                expect.push(format!("body matches `{}`", r.as_str()));
            }
            if let Some((ptr, v)) = &h.json {
                expect.push(format!("JSON {ptr} = {v}"));
            }
            (
                format!("curl -sS -X {} '{}'", h.method.as_str(), h.url),
                expect.join(", "),
            )
        }
        GateCheck::Sql(s) => (
            format!("on {}: {}", s.target, s.check.query),
            format!("first value {}", s.check.expect),
        ),
        GateCheck::Command(c) => {
            let mut parts = vec![c.program.to_string()];
            parts.extend(
                c.args
                    .iter()
                    .map(|a| firedrill_core::runbook::shell_quote(&a.to_string())),
            );
            (parts.join(" "), "exit status 0".to_string())
        }
    };
    GateView {
        name: g.name.clone(),
        kind: g.kind().as_str(),
        check,
        expect,
        critical: g.critical,
    }
}

/// The runbook of a scenario, with durations from `entries` (the history of
/// its reports directory).
pub fn build(scenario: &Scenario, entries: &[HistoryEntry]) -> Runbook {
    let index = |name: &str| scenario.targets.iter().position(|t| t.name == name);
    let deps: Vec<Vec<usize>> = scenario
        .targets
        .iter()
        .map(|t| t.depends_on.iter().filter_map(|d| index(d)).collect())
        .collect();
    // Validation rejected cycles; should one slip through, one level each.
    let order = levels(&deps).unwrap_or_else(|_| (0..deps.len()).map(|i| vec![i]).collect());
    let level_of = |name: &str| {
        let i = index(name)?;
        order.iter().position(|l| l.contains(&i))
    };
    // A gate is checked once the last of its targets is back; one that
    // waits for every target checks the application.
    let gate_level = |g: &GateSpec| {
        let all = scenario.targets.iter().all(|t| g.after.contains(&t.name));
        if g.after.is_empty() || all {
            None
        } else {
            g.after.iter().filter_map(|n| level_of(n)).max()
        }
    };
    let levels = order
        .iter()
        .enumerate()
        .map(|(number, members)| Level {
            number,
            targets: members
                .iter()
                .map(|&i| target_book(scenario, i, entries))
                .collect(),
            gates: scenario
                .gates
                .iter()
                .filter(|g| gate_level(g) == Some(number))
                .map(gate_view)
                .collect(),
        })
        .collect();
    let drills = entries
        .iter()
        .filter(|e| e.scenario == scenario.name)
        .count();
    Runbook {
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        owner: scenario.owner.clone(),
        rto: human(scenario.objectives.rto),
        app_rto: scenario.app_rto.map(human),
        last_success: history::last_success(entries, &scenario.name).map(crate::report::view::time),
        drills,
        levels,
        app_gates: scenario
            .gates
            .iter()
            .filter(|g| gate_level(g).is_none())
            .map(gate_view)
            .collect(),
    }
}

fn target_book(scenario: &Scenario, i: usize, entries: &[HistoryEntry]) -> TargetBook {
    let t = &scenario.targets[i];
    let steps = t
        .target
        .runbook_steps()
        .into_iter()
        .enumerate()
        .map(|(n, s)| {
            let e = s
                .stage
                .and_then(|st| expected(entries, &scenario.name, &t.name, st));
            StepView {
                n: n + 1,
                expected_text: expected_text(s.stage, e),
                title: s.title,
                tool: s.tool.as_str(),
                command: s.command,
                sets: s.sets,
                expected: e,
            }
        })
        .collect();
    TargetBook {
        name: t.name.clone(),
        kind: t.kind,
        resource: t.target.resource(),
        depends_on: t.depends_on.clone(),
        rto: human(t.objectives.rto),
        steps,
    }
}

fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template("runbook.md", include_str!("templates/runbook.md"))
        .expect("runbook.md template compiles");
    env.add_template("runbook.html", include_str!("templates/runbook.html"))
        .expect("runbook.html template compiles");
    env
}

/// Write the runbook in `format`.
pub fn write<W: Write>(runbook: &Runbook, format: Format, out: W) -> io::Result<()> {
    let name = match format {
        Format::Markdown => "runbook.md",
        Format::Html => "runbook.html",
    };
    let env = environment();
    let tmpl = env
        .get_template(name)
        .map_err(|e| io::Error::other(e.to_string()))?;
    tmpl.render_captured_to(minijinja::value::Serde(runbook), out)
        .map(|_| ())
        .map_err(|e| io::Error::other(format!("cannot render {name}: {e:#}")))
}

#[cfg(test)]
mod tests;
