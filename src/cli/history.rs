//! `firedrill history [SCENARIO]`: the RTO/RPO trend table.

use std::path::Path;

use clap::Args;

use firedrill_core::exit;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this scenario.
    scenario: Option<String>,
}

pub(crate) fn history(reports_dir: &Path, args: HistoryArgs) -> u8 {
    match crate::history::read(reports_dir) {
        Ok(entries) => {
            print!(
                "{}",
                crate::history::trend_table(&entries, args.scenario.as_deref())
            );
            exit::PASSED
        }
        Err(e) => {
            eprintln!(
                "firedrill: cannot read {}: {e}",
                reports_dir.join(crate::history::FILE).display()
            );
            exit::ENVIRONMENT
        }
    }
}
