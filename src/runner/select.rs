//! Fleet selection: before the gate, every target that selects its
//! resources by tag is replaced by one target per selected resource, named
//! `<target>/<resource-id>` and drilled exactly like a named target (its own
//! preflight, guards, stages and report). Only read-only calls are made.
//! The sample is drawn with the target's seed, so `--seed` repeats it.

use std::time::Instant;

use firedrill_core::Finding;
use firedrill_core::recovery::target_seed;
use firedrill_core::select::{SelectionReport, Want, sample, tag_text};

use crate::aws::Clients;
use crate::scenario::select::expand_target;
use crate::scenario::{Scenario, TargetSpec};

/// What the expansion did.
#[derive(Debug, Default)]
pub(crate) struct Expansion {
    pub reports: Vec<SelectionReport>,
    /// Each selection that could not be expanded; the drill is refused.
    pub failures: Vec<Finding>,
    /// A listing failed because of the environment (not a selection that
    /// matched nothing, which fails the drill).
    pub environment: bool,
}

/// Expand every selecting target of `scenario` in place; `every` takes
/// every matching resource whatever the sample size (`coverage`).
pub(crate) async fn expand(
    scenario: &mut Scenario,
    clients: &Clients,
    seed: u64,
    every: bool,
) -> Expansion {
    let mut out = Expansion::default();
    if scenario.targets.iter().all(|t| t.select.is_none()) {
        return out;
    }
    let region = scenario.environment.region.clone();
    let text = scenario.source.text.clone();
    let mut expanded = Vec::with_capacity(scenario.targets.len());
    let mut renamed: Vec<(String, Vec<String>)> = Vec::new();
    for spec in std::mem::take(&mut scenario.targets) {
        let Some(select) = spec.select.clone() else {
            expanded.push(spec);
            continue;
        };
        let started = Instant::now();
        let listed = (select.from.list)(clients, &select.selection.tags).await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let ids = match listed {
            Ok(ids) if ids.is_empty() => {
                out.failures.push(Finding::error(
                    "select.empty",
                    format!(
                        "target `{}`: no {} tagged {} in {region} (hint: check the tags in `select`, and `[environment] region`)",
                        spec.name,
                        select.from.noun,
                        tag_text(&select.selection.tags)
                    ),
                ));
                expanded.push(spec);
                continue;
            }
            Ok(ids) => ids,
            Err(e) => {
                // A listing that failed says nothing about the fleet.
                out.environment = true;
                out.failures.push(Finding::error(
                    "select.failed",
                    format!(
                        "target `{}`: listing {} by tag failed: {e}",
                        spec.name, select.from.noun
                    ),
                ));
                expanded.push(spec);
                continue;
            }
        };
        let target_seed = target_seed(seed, &spec.name);
        let want = if every {
            Want::All
        } else {
            select.selection.want
        };
        let chosen = sample(&ids, want, target_seed);
        let mut names = Vec::new();
        for id in &chosen {
            let name = format!("{}/{id}", spec.name);
            match expand_target(&text, &select, &name, Some(&region), id) {
                Ok(target) => {
                    names.push(name.clone());
                    expanded.push(TargetSpec {
                        name,
                        kind: spec.kind,
                        objectives: spec.objectives,
                        proven_within: spec.proven_within,
                        depends_on: spec.depends_on.clone(),
                        critical: spec.critical,
                        hooks: spec.hooks.clone(),
                        target,
                        select: None,
                    });
                }
                Err(e) => out.failures.push(Finding::error(
                    "select.failed",
                    format!("target `{}`: resource {id}: {e}", spec.name),
                )),
            }
        }
        out.reports.push(SelectionReport {
            target: spec.name.clone(),
            kind: spec.kind.to_string(),
            tags: select.selection.tags.clone(),
            want: select.selection.want,
            matched: ids.len(),
            selected: chosen,
            seed: target_seed,
            duration_ms,
        });
        renamed.push((spec.name, names));
    }
    // A target or gate that waited for the selecting one waits for every
    // resource it expanded to.
    let rename = |list: &mut Vec<String>| {
        *list = std::mem::take(list)
            .into_iter()
            .flat_map(|d| match renamed.iter().find(|(n, _)| *n == d) {
                Some((_, names)) => names.clone(),
                None => vec![d],
            })
            .collect();
    };
    for t in &mut expanded {
        rename(&mut t.depends_on);
    }
    for g in &mut scenario.gates {
        rename(&mut g.after);
    }
    scenario.targets = expanded;
    out
}
