//! `firedrill validate` and `firedrill plan`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use miette::GraphicalTheme;

use crate::scenario;
use firedrill_core::ScenarioError;
use firedrill_core::exit;

/// Print a scenario error the way a terminal (or a log) wants it.
pub(crate) fn print_scenario_error(e: &ScenarioError) {
    let text = if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        e.render_with(GraphicalTheme::unicode())
    } else {
        e.render()
    };
    eprint!("{text}");
}

/// Validate every file; report all errors of all files.
pub(crate) fn validate(files: &[PathBuf]) -> u8 {
    let mut code = exit::PASSED;
    for f in files {
        match scenario::load(f) {
            Ok(s) => println!(
                "{}: ok: scenario `{}`, {} target(s), RTO {}, RPO {}",
                f.display(),
                s.name,
                s.targets.len(),
                firedrill_core::timing::human(s.objectives.rto),
                firedrill_core::timing::human(s.objectives.rpo)
            ),
            Err(e) => {
                print_scenario_error(&e);
                code = exit::INVALID_SCENARIO;
            }
        }
    }
    code
}

/// Print the plan of a scenario.
pub(crate) fn plan(file: &Path, json: bool) -> u8 {
    match scenario::load(file) {
        Ok(s) => {
            let plan = crate::plan::build(&s);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&plan).unwrap_or_default()
                );
            } else {
                print!("{}", crate::plan::render(&plan));
            }
            exit::PASSED
        }
        Err(e) => {
            print_scenario_error(&e);
            exit::INVALID_SCENARIO
        }
    }
}
