//! Live progress: a spinner per target on a terminal, plain lines in CI and
//! pipes (one per finished stage), always on stderr.

use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::Reporter;
use crate::report::Event;
use firedrill_core::Outcome;
use firedrill_core::timing::human;

/// Progress on stderr.
pub struct Progress {
    tty: Option<(MultiProgress, HashMap<String, ProgressBar>)>,
    quiet: bool,
}

impl Progress {
    /// Spinners when stderr is a terminal and not in CI, lines otherwise.
    pub fn new(quiet: bool) -> Self {
        let interactive = io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        Self {
            tty: interactive.then(|| (MultiProgress::new(), HashMap::new())),
            quiet,
        }
    }

    fn line(&self, text: &str) -> io::Result<()> {
        if self.quiet {
            return Ok(());
        }
        match &self.tty {
            Some((multi, _)) => multi.println(text),
            None => writeln!(io::stderr().lock(), "{text}"),
        }
    }
}

impl Reporter for Progress {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::RunStarted {
                run_id,
                scenario,
                targets,
                run_dir,
            } => {
                self.line(&format!(
                    "firedrill: run {run_id} of scenario {scenario}: {} target(s), reports in {}",
                    targets.len(),
                    run_dir.display()
                ))?;
                if let Some((multi, bars)) = &mut self.tty {
                    for t in targets {
                        let bar = multi.add(ProgressBar::new_spinner());
                        bar.set_style(
                            ProgressStyle::with_template("{spinner} {prefix:.bold} {msg}")
                                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                        );
                        bar.set_prefix(t.clone());
                        bar.enable_steady_tick(std::time::Duration::from_millis(120));
                        bars.insert(t.clone(), bar);
                    }
                }
            }
            Event::StageStarted { target, stage } => {
                if let Some((_, bars)) = &self.tty
                    && let Some(bar) = bars.get(target)
                {
                    bar.set_message(format!("{stage}…"));
                }
            }
            Event::StageFinished { target, record } => {
                let took = record
                    .timing
                    .map(|t| format!(" in {} ±{}", human(t.duration), human(t.error)))
                    .unwrap_or_default();
                let mark = if record.outcome == Outcome::Passed {
                    "ok"
                } else {
                    "!!"
                };
                self.line(&format!(
                    "  [{mark}] {target} {}: {}{took}{} — {}",
                    record.stage,
                    record.outcome,
                    if record.emulated { " (emulated)" } else { "" },
                    record.detail
                ))?;
            }
            Event::TargetFinished { report } => {
                if let Some((_, bars)) = &mut self.tty
                    && let Some(bar) = bars.remove(&report.name)
                {
                    bar.finish_and_clear();
                }
                self.line(&format!("  {} finished: {}", report.name, report.verdict))?;
            }
            Event::GateStarted { gate } => {
                self.line(&format!("  gate {gate}: waiting for its targets"))?;
            }
            Event::GateFinished { report } => {
                let mark = if report.outcome == Outcome::Passed {
                    "ok"
                } else {
                    "!!"
                };
                self.line(&format!(
                    "  [{mark}] gate {} ({}): {} after {} attempt(s) — {}",
                    report.name,
                    report.kind.as_str(),
                    report.outcome,
                    report.attempt_count,
                    report.detail
                ))?;
            }
            Event::Aborting { reason } => {
                self.line(&format!("firedrill: aborting: {reason}; cleaning up"))?;
            }
            Event::RunFinished { .. } => {
                if let Some((multi, bars)) = &mut self.tty {
                    for (_, bar) in bars.drain() {
                        bar.finish_and_clear();
                    }
                    let _ = multi.clear();
                }
            }
        }
        Ok(())
    }
}
