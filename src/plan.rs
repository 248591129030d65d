//! `firedrill plan`: every resource a drill would create, change or delete,
//! the API call for each, the guards that apply, and the scratch
//! resource-hours it will cost. Built from the scenario alone.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::scenario::Scenario;
use firedrill_core::Service;
use firedrill_core::timing::human;
use firedrill_core::{PlannedAction, UndoPlan};

/// The plan for one target.
#[derive(Clone, Debug, Serialize)]
pub struct TargetPlan {
    pub name: String,
    pub kind: String,
    pub resource: String,
    pub actions: Vec<PlannedAction>,
    /// How the blast-radius guards treat this target's fault.
    pub guard: String,
    /// How the fault is undone, or what is kept when it cannot be.
    pub undo: UndoPlan,
    /// A target that selects by tag: what preflight will expand it to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expansion: Option<String>,
}

/// The whole plan.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub scenario: String,
    pub targets: Vec<TargetPlan>,
    /// Sum of scratch resource lifetimes, in hours.
    pub scratch_resource_hours: f64,
    /// The client-side API rate limits the drill runs under (real AWS only).
    pub api_limits: Vec<String>,
    /// The recovery order, by target name, when targets depend on others:
    /// level 0 first; the targets of one level are recovered concurrently.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<Vec<String>>,
}

/// Placeholder run id shown in plans (the real one is made at run time).
pub const PLAN_RUN_ID: &str = "<run-id>";

/// Build the plan.
pub fn build(scenario: &Scenario) -> Plan {
    let mut hours = 0.0;
    let targets = scenario
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let actions = t.target.plan(PLAN_RUN_ID, i);
            hours += actions
                .iter()
                .filter_map(|a| a.scratch_lifetime)
                .map(|d| d.as_secs_f64() / 3600.0)
                .sum::<f64>();
            let guard = match t.target.fault() {
                None => "no fault configured".to_string(),
                Some(f) if !f.destructive => format!("fault `{}` changes only scratch resources", f.action),
                Some(f) if f.is_local(&scenario.environment) => format!(
                    "fault `{}` hits an emulator on loopback: guards exempt",
                    f.action
                ),
                Some(f) => format!(
                    "fault `{}` changes a resource firedrill did not create: needs tag firedrill:allow-faults=true, the account in allowed_accounts, and --allow-destructive",
                    f.action
                ),
            };
            TargetPlan {
                name: t.name.clone(),
                kind: t.kind.to_string(),
                resource: t
                    .select
                    .as_ref()
                    .map_or_else(|| t.target.resource(), |s| format!("{} selected by tag", s.from.noun)),
                actions,
                guard,
                undo: t.target.undo(),
                expansion: t.select.as_ref().map(|s| {
                    format!(
                        "will be expanded at preflight: {} (each drilled as {}/<id>; the actions below are per resource, {} standing for its id)",
                        s.describe(),
                        t.name,
                        s.from.placeholder
                    )
                }),
            }
        })
        .collect();
    let env = &scenario.environment;
    let mut services: Vec<Service> = scenario
        .targets
        .iter()
        .flat_map(|t| t.target.services().iter().copied())
        .filter(|s| !env.is_emulated(*s))
        .collect();
    services.sort_by_key(|s| s.as_str());
    services.dedup();
    let levels = if scenario.has_dependencies() {
        scenario.level_names()
    } else {
        Vec::new()
    };
    Plan {
        scenario: scenario.name.clone(),
        levels,
        targets,
        scratch_resource_hours: hours,
        api_limits: services
            .into_iter()
            .filter_map(|s| crate::aws::rate::describe(s, env.api_quota_percent))
            .collect(),
    }
}

/// Render for a terminal.
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "plan for scenario {}:", plan.scenario);
    if !plan.levels.is_empty() {
        let _ = writeln!(
            out,
            "  recovery order (each level once the one before is validated):"
        );
        for (i, level) in plan.levels.iter().enumerate() {
            let _ = writeln!(out, "    level {i}: {}", level.join(", "));
        }
    }
    for t in &plan.targets {
        let _ = writeln!(out, "  target {} ({}) {}", t.name, t.kind, t.resource);
        if let Some(e) = &t.expansion {
            let _ = writeln!(out, "    {e}");
        }
        for a in &t.actions {
            let life = a
                .scratch_lifetime
                .map(|d| format!(" [scratch, ~{}]", human(d)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    {:<9} {:<7} {:<60} {}{life}",
                a.stage, a.effect, a.resource, a.api_call
            );
        }
        let _ = writeln!(out, "    guard: {}", t.guard);
        let _ = writeln!(out, "    undo: {}", t.undo.describe());
    }
    let _ = writeln!(
        out,
        "  estimated scratch usage: {:.2} resource-hours (at most {} per resource before reap)",
        plan.scratch_resource_hours,
        human(Duration::from_hours(6))
    );
    for l in &plan.api_limits {
        let _ = writeln!(out, "  api rate limit: {l}");
    }
    out
}
