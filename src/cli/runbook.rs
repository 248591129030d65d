//! `firedrill runbook FILE`: the recovery plan as Markdown or HTML, with
//! the expected duration of each step from the run history.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::runbook::{self, Format};
use crate::scenario;
use firedrill_core::exit;

/// The `--format` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    Markdown,
    Html,
}

#[derive(Debug, Args)]
pub struct RunbookArgs {
    /// Scenario file.
    file: PathBuf,
    /// Document format.
    #[arg(long, value_enum, default_value = "markdown")]
    format: FormatArg,
    /// Write here instead of standard output.
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
}

pub(crate) fn runbook(reports_dir: &Path, args: RunbookArgs) -> u8 {
    let scenario = match scenario::load(&args.file) {
        Ok(s) => s,
        Err(e) => {
            super::validate::print_scenario_error(&e);
            return exit::INVALID_SCENARIO;
        }
    };
    let history = match crate::history::read(reports_dir) {
        Ok(h) => h,
        Err(e) => {
            eprintln!(
                "firedrill: cannot read {}: {e}",
                reports_dir.join(crate::history::FILE).display()
            );
            return exit::ENVIRONMENT;
        }
    };
    let book = runbook::build(&scenario, &history);
    let format = match args.format {
        FormatArg::Markdown => Format::Markdown,
        FormatArg::Html => Format::Html,
    };
    let written = if let Some(path) = &args.out {
        std::fs::File::create(path)
            .and_then(|f| runbook::write(&book, format, std::io::BufWriter::new(f)))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    } else {
        let mut out = std::io::stdout().lock();
        runbook::write(&book, format, &mut out)
            .and_then(|()| out.flush())
            .map_err(|e| format!("cannot write the runbook: {e}"))
    };
    match written {
        Ok(()) => exit::PASSED,
        Err(e) => {
            eprintln!("firedrill: {e}");
            exit::ENVIRONMENT
        }
    }
}
