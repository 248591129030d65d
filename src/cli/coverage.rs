//! `firedrill coverage FILE [--all]`: read-only (no fault, no restore). For
//! every resource the scenario names or selects (with `--all`, every
//! resource of the covered kinds in its region too): the newest recovery
//! point and its age against the RPO, a copy in the DR region, its
//! encryption, and the last drill that proved one. Exit 1 when any
//! resource breaks the RPO or was not proven within `proven_within`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use futures::StreamExt;
use time::OffsetDateTime;

use firedrill_core::coverage::{self, CoverageRow, DEFAULT_PROVEN_WITHIN, DrCopy, Listing};
use firedrill_core::exit;
use firedrill_core::timing::Clock;

use crate::aws::Clients;
use crate::scenario;
use crate::targets::Target;

/// Resources looked at at once: each costs a few read-only calls.
const CONCURRENCY: usize = 8;

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
    /// A resource not proven by a drill within this long fails (e.g. "90d");
    /// overrides `[objectives] proven_within` (default 90d).
    #[arg(long, value_parser = humantime::parse_duration)]
    proven_within: Option<Duration>,
    /// Also every EBS volume, EC2 instance, RDS instance and cluster and S3
    /// bucket in the scenario's region, with the scenario's objectives.
    #[arg(long)]
    all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: CoverageFormat,
}

/// One resource to cover, before any call.
struct Item {
    name: String,
    /// The scenario names or selects it (not only `--all`).
    named: bool,
    target: Box<dyn Target>,
    rpo: Duration,
    proven_within: Duration,
}

/// What every row is judged with.
struct Shared<'a> {
    clients: &'a Clients,
    proven: &'a BTreeMap<String, BTreeMap<String, OffsetDateTime>>,
    now: OffsetDateTime,
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
    let default_within = scenario.proven_within.unwrap_or(DEFAULT_PROVEN_WITHIN);
    let mut items: Vec<Item> = std::mem::take(&mut scenario.targets)
        .into_iter()
        .map(|t| Item {
            name: t.name,
            named: true,
            target: t.target,
            rpo: t.objectives.rpo,
            proven_within: t.proven_within.unwrap_or(default_within),
        })
        .collect();
    if args.all {
        let region = scenario.environment.region.clone();
        match fleet(&clients, &region, &items).await {
            Ok(found) => items.extend(found.into_iter().map(|target| Item {
                name: "-".into(),
                named: false,
                target,
                rpo: scenario.objectives.rpo,
                proven_within: default_within,
            })),
            Err(e) => {
                eprintln!("firedrill: cannot list the resources in {region}: {e}");
                return exit::ENVIRONMENT;
            }
        }
    }
    if let Some(w) = args.proven_within {
        for i in &mut items {
            i.proven_within = w;
        }
    }
    let history = crate::history::read(reports_dir).unwrap_or_default();
    let proven = crate::history::proven_points(&history);
    let shared = Shared {
        clients: &clients,
        proven: &proven,
        now: clock.now().utc,
    };
    let results: Vec<Result<CoverageRow, String>> = futures::stream::iter(&items)
        .map(|i| row(i, &shared))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut rows = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(r) => rows.push(r),
            Err(e) => {
                eprintln!("firedrill: {e}");
                return exit::ENVIRONMENT;
            }
        }
    }
    print(&rows, args.format);
    if rows.iter().all(CoverageRow::ok) {
        exit::PASSED
    } else {
        exit::OBJECTIVES_MISSED
    }
}

/// Every resource of the covered kinds in `region` the scenario does not
/// already cover, as a target with its kind's defaults.
async fn fleet(
    clients: &Clients,
    region: &str,
    covered: &[Item],
) -> Result<Vec<Box<dyn Target>>, String> {
    let mut seen: BTreeSet<String> = covered.iter().map(|i| i.target.resource()).collect();
    let mut out = Vec::new();
    // A selection without tags: every resource of the kind but firedrill's
    // own scratch ones, listed exactly as `select` lists them.
    let every = BTreeMap::new();
    for kind in crate::targets::select::SELECTABLE {
        let ids = (kind.list)(clients, &every)
            .await
            .map_err(|e| format!("listing {}: {e}", kind.kind))?;
        for id in ids {
            match scenario::select::default_target(kind.kind, kind.id_key, &id, Some(region)) {
                Ok(target) => {
                    if seen.insert(target.resource()) {
                        out.push(target);
                    }
                }
                // An id firedrill would refuse in a scenario cannot be drilled either.
                Err(e) => eprintln!("firedrill: skipping {} {id}: {e}", kind.kind),
            }
        }
    }
    Ok(out)
}

/// List one resource's recovery points and its DR copy, then judge it.
async fn row(item: &Item, shared: &Shared<'_>) -> Result<CoverageRow, String> {
    let resource = item.target.resource();
    let listing = match item.target.recovery_points(shared.clients).await {
        Ok(l) => l,
        // A resource outside the scenario may vanish while it is listed:
        // its row says so rather than failing the whole command.
        Err(e) if !item.named => Listing::NotListed(format!("recovery points not listed: {e}")),
        Err(e) => {
            return Err(format!(
                "cannot list the recovery points of {resource}: {e}"
            ));
        }
    };
    let dr_copy = dr_copy(item.target.as_ref(), &listing, shared.clients).await;
    let last = shared
        .proven
        .get(&resource)
        .and_then(|ids| firedrill_core::recovery::last_proven(&resource, ids));
    Ok(coverage::assess(
        coverage::Resource {
            target: &item.name,
            resource: &resource,
            listing: &listing,
            dr_copy,
            rpo: item.rpo,
            last_proven: last,
            proven_within: item.proven_within,
        },
        shared.now,
    ))
}

/// Whether the newest recovery point has a copy in the target's DR region.
async fn dr_copy(target: &dyn Target, listing: &Listing, clients: &Clients) -> DrCopy {
    let Some(region) = target.dr_region().map(str::to_string) else {
        return DrCopy::NoDrRegion;
    };
    let newest = match listing {
        Listing::Listed(p) => coverage::newest(p),
        Listing::NotListed(_) => None,
    };
    let Some(point) = newest else {
        let why = "no recovery point".to_string();
        return DrCopy::NotChecked { region, why };
    };
    match target.copy_in(clients, &region, point).await {
        None => DrCopy::NotChecked {
            region,
            why: "this kind cannot look".into(),
        },
        Some(Ok(Some(id))) => DrCopy::Present { region, id },
        Some(Ok(None)) => DrCopy::Absent { region },
        Some(Err(e)) => DrCopy::NotChecked {
            region,
            why: e.to_string(),
        },
    }
}

fn print(rows: &[CoverageRow], format: CoverageFormat) {
    let stdout = std::io::stdout();
    let written = match format {
        CoverageFormat::Table => crate::report::coverage::terminal(rows, stdout.lock()),
        CoverageFormat::Json => crate::report::coverage::json(rows, stdout.lock()),
        CoverageFormat::Markdown => crate::report::coverage::markdown(rows, stdout.lock()),
    };
    if let Err(e) = written {
        eprintln!("firedrill: cannot write the coverage: {e}");
    }
}
