//! After a drill, before its evidence is sealed: the history line,
//! `[[notify]]`, `--metrics-file` and `--pushgateway`. What they report
//! (delivered, undeliverable) joins the report's findings and the report
//! files are rewritten; the verdict and the exit code never change.

use std::path::{Path, PathBuf};

use clap::Args;
use firedrill_core::{Finding, Severity};

use crate::history::{self, HistoryEntry};
use crate::notify::{self, Http, RunContext};
use crate::report::artifacts::{Format, write_formats};
use crate::report::{Report, prometheus};
use crate::scenario::notify::NotifySpec;

/// `run` options that publish the result.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Write the run's metrics in Prometheus text format to PATH (for
    /// `node_exporter`'s textfile collector; replaced atomically).
    #[arg(long, value_name = "PATH")]
    metrics_file: Option<PathBuf>,
    /// Push the run's metrics to this Prometheus Pushgateway, grouped by
    /// `job="firedrill"` and the scenario.
    #[arg(long, value_name = "URL", env = "FIREDRILL_PUSHGATEWAY")]
    pushgateway: Option<String>,
}

/// Finding codes of metrics that could not be published.
pub const METRICS_FILE_FAILED: &str = "metrics.file-failed";
pub const METRICS_PUSH_FAILED: &str = "metrics.push-failed";

/// Record the run in the history, notify, publish metrics; add what they
/// found to the report and rewrite its files (`formats` besides JSON).
pub(crate) async fn after_run(
    reports_dir: &Path,
    args: &PublishArgs,
    specs: &[NotifySpec],
    report: &mut Report,
    run_dir: &Path,
    formats: &[Format],
) {
    let earlier = history::read(reports_dir).unwrap_or_default();
    let entry = HistoryEntry::from_report(report);
    let regression = history::regressed(
        history::previous_run(&earlier, &report.scenario.name),
        &entry,
    ) || report.findings.iter().any(|f| f.code == "rto.regression");
    if let Err(e) = history::append(reports_dir, &entry) {
        eprintln!("firedrill: cannot append to the run history: {e}");
    }
    let last_success = if report.verdict == firedrill_core::Verdict::Passed {
        Some(report.started_at)
    } else {
        history::last_success(&earlier, &report.scenario.name)
    };

    let http = Http::new();
    let cx = RunContext {
        report,
        run_dir,
        regression,
    };
    let mut found = notify::notify_all(specs, cx, &http).await;
    found.extend(metrics(args, report, last_success, &http).await);
    if found.is_empty() {
        return;
    }
    for f in &found {
        match f.severity {
            Severity::Info => println!("{}: {}", f.code, f.message),
            _ => eprintln!("firedrill: warning: {}", f.message),
        }
    }
    report.findings.extend(found);
    let mut all = vec![Format::Json];
    all.extend(formats.iter().copied().filter(|f| *f != Format::Json));
    if let Err(e) = write_formats(run_dir, report, &all) {
        eprintln!("firedrill: cannot rewrite the report with the notification findings: {e}");
    }
}

/// `--metrics-file` and `--pushgateway`; a finding for each that failed.
async fn metrics(
    args: &PublishArgs,
    report: &Report,
    last_success: Option<time::OffsetDateTime>,
    http: &Http,
) -> Vec<Finding> {
    let mut found = Vec::new();
    if let Some(path) = &args.metrics_file
        && let Err(e) = prometheus::write_file(path, report, last_success)
    {
        found.push(Finding::warning(
            METRICS_FILE_FAILED,
            format!("cannot write the metrics file {}: {e}", path.display()),
        ));
    }
    if let Some(base) = &args.pushgateway {
        let mut text = Vec::new();
        let pushed = match prometheus::write(report, last_success, &mut text) {
            Ok(()) => notify::pushgateway::push(http, base, &report.scenario.name, text)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match pushed {
            Ok(()) => found.push(Finding::info(
                "metrics.pushed",
                format!(
                    "metrics pushed to the Pushgateway at {}",
                    notify::display_url(base)
                ),
            )),
            Err(e) => found.push(Finding::warning(
                METRICS_PUSH_FAILED,
                format!(
                    "cannot push the metrics to the Pushgateway at {}: {e}",
                    notify::display_url(base)
                ),
            )),
        }
    }
    found
}
