//! `firedrill coverage FILE`: read-only (no fault, no restore). For every
//! target the scenario names: its newest recovery point and its age
//! against the RPO, and the last drill that proved one. Exit 1 when any
//! resource breaks the RPO or was not proven within `--proven-within`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};

use firedrill_core::coverage::{self, CoverageRow};
use firedrill_core::exit;
use firedrill_core::recovery::ProvenPoint;
use firedrill_core::timing::Clock;

use crate::aws::Clients;
use crate::scenario;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CoverageFormat {
    Table,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// Scenario file.
    file: PathBuf,
    /// A resource not proven by a drill within this long fails (e.g. "90d").
    #[arg(long, default_value = "90d", value_parser = humantime::parse_duration)]
    proven_within: Duration,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: CoverageFormat,
}

pub(crate) async fn coverage(reports_dir: &Path, args: CoverageArgs) -> u8 {
    let mut scenario = match scenario::load(&args.file) {
        Ok(s) => s,
        Err(e) => {
            super::validate::print_scenario_error(&e);
            return exit::INVALID_SCENARIO;
        }
    };
    let clock = Clock::system();
    let clients = Clients::new(&scenario.environment, &clock).await;
    // A target that selects by tag covers every resource it matches.
    let expansion = crate::runner::select::expand(&mut scenario, &clients, 0, true).await;
    for f in &expansion.failures {
        eprintln!("firedrill: {}", f.message);
    }
    if !expansion.failures.is_empty() {
        return if expansion.environment {
            exit::ENVIRONMENT
        } else {
            exit::OBJECTIVES_MISSED
        };
    }
    let history = crate::history::read(reports_dir).unwrap_or_default();
    let proven = crate::history::proven_points(&history);
    let now = clock.now().utc;
    let mut rows: Vec<CoverageRow> = Vec::new();
    for t in &scenario.targets {
        let resource = t.target.resource();
        let points = match t.target.recovery_points(&clients).await {
            None => None,
            Some(Ok(p)) => Some(p),
            Some(Err(e)) => {
                eprintln!("firedrill: cannot list the recovery points of {resource}: {e}");
                return exit::ENVIRONMENT;
            }
        };
        let last = proven.get(&resource).and_then(|ids| {
            ids.iter()
                .max_by_key(|(id, at)| (**at, (*id).clone()))
                .map(|(id, at)| ProvenPoint {
                    resource: resource.clone(),
                    id: id.clone(),
                    at: *at,
                })
        });
        rows.push(coverage::assess(
            &t.name,
            &resource,
            points.as_deref(),
            t.objectives.rpo,
            last,
            args.proven_within,
            now,
        ));
    }
    let stdout = std::io::stdout();
    let written = match args.format {
        CoverageFormat::Table => crate::report::coverage::terminal(&rows, stdout.lock()),
        CoverageFormat::Json => crate::report::coverage::json(&rows, stdout.lock()),
        CoverageFormat::Markdown => crate::report::coverage::markdown(&rows, stdout.lock()),
    };
    if let Err(e) = written {
        eprintln!("firedrill: cannot write the coverage: {e}");
    }
    if rows.iter().all(CoverageRow::ok) {
        exit::PASSED
    } else {
        exit::OBJECTIVES_MISSED
    }
}
