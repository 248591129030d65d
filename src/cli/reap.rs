//! `firedrill reap`: delete what earlier runs left behind.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::scenario;
use firedrill_core::exit;
use firedrill_core::timing::Clock;

#[derive(Debug, Args)]
pub struct ReapArgs {
    /// Also search these scenarios' environments for tagged scratch
    /// resources (environments in the ledgers are always searched).
    #[arg(long = "scenario")]
    scenarios: Vec<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn reap(reports_dir: &Path, args: ReapArgs) -> u8 {
    let mut envs = Vec::new();
    for f in &args.scenarios {
        match scenario::load(f) {
            Ok(s) => envs.push(s.environment),
            Err(e) => {
                super::validate::print_scenario_error(&e);
                return exit::INVALID_SCENARIO;
            }
        }
    }
    let report = crate::cleanup::reap(reports_dir, &envs, &Clock::system()).await;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        println!(
            "reap: scanned {} ledger(s) in {}",
            report.ledgers_scanned,
            reports_dir.display()
        );
        for r in &report.removed {
            println!(
                "  removed {} (run {}, found by {}){}",
                r.resource,
                r.run_id,
                r.found_by,
                if r.already_gone {
                    " [already gone]"
                } else {
                    ""
                }
            );
        }
        for run in &report.skipped_live_runs {
            println!("  skipped run {run}: still running on this host");
        }
        for s in &report.skipped_unexpired {
            println!("  left alone {s}: not expired and no ledger here knows its run");
        }
        for (r, e) in &report.failed {
            println!("  FAILED to remove {r}: {e}");
        }
        let removed = report.removed.iter().filter(|r| !r.already_gone).count();
        println!(
            "reap: removed {removed} resource(s), {} already gone, {} failed",
            report.removed.len() - removed,
            report.failed.len()
        );
    }
    if report.failed.is_empty() {
        exit::PASSED
    } else {
        exit::CLEANUP_INCOMPLETE
    }
}
