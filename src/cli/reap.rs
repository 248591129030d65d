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
    /// List what reap would undo, keep and delete, and why; change nothing.
    #[arg(long)]
    dry_run: bool,
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
    let options = crate::cleanup::ReapOptions {
        dry_run: args.dry_run,
    };
    let report = crate::cleanup::reap(reports_dir, &envs, &Clock::system(), options).await;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print_report(reports_dir, &report);
    }
    if report.failed.is_empty() {
        exit::PASSED
    } else {
        exit::CLEANUP_INCOMPLETE
    }
}

fn print_report(reports_dir: &Path, report: &crate::cleanup::ReapReport) {
    let (would, dry) = if report.dry_run {
        ("would ", " (dry run: nothing changed)")
    } else {
        ("", "")
    };
    println!(
        "reap: scanned {} ledger(s) in {}{dry}",
        report.ledgers_scanned,
        reports_dir.display()
    );
    for (run, r) in &report.reverted {
        match &r.result {
            Ok(detail) => println!(
                "  {would}undo fault `{}` on {} (run {run}, ledger): {detail}",
                r.action, r.resource
            ),
            Err(e) => println!(
                "  FAILED to undo fault `{}` on {} (run {run}): {e}",
                r.action, r.resource
            ),
        }
    }
    for r in &report.removed {
        println!(
            "  {}{} (run {}, found by {}){}",
            if report.dry_run {
                "would remove "
            } else {
                "removed "
            },
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
    for r in &report.retained {
        println!(
            "  {would}keep {} (run {}, found by {}): {}\n    restore with: {}",
            r.copy.resource, r.run_id, r.found_by, r.copy.why, r.copy.restore
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
        "reap: {would}removed {removed} resource(s), {} already gone, {} failed; {} fault(s) {would}undone, {} cop(ies) {would}kept",
        report.removed.len() - removed,
        report.failed.len(),
        report
            .reverted
            .iter()
            .filter(|(_, r)| r.result.is_ok())
            .count(),
        report.retained.len()
    );
}
