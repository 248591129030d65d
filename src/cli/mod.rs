//! Command line: parse arguments, set up tracing, dispatch, map outcomes to
//! the documented exit codes. Each command lives in its own file.

mod coverage;
mod evidence_s3;
mod history;
mod iam_policy;
mod keygen;
mod publish;
mod reap;
mod report;
mod run;
mod runbook;
mod validate;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use firedrill_core::exit;

/// Disaster-recovery drills for AWS: prove your RTO and RPO.
#[derive(Debug, Parser)]
#[command(name = "firedrill", version, about, after_help = exit::TABLE)]
pub struct Cli {
    /// Directory for run reports and ledgers.
    #[arg(
        long,
        global = true,
        env = "FIREDRILL_REPORTS_DIR",
        default_value = "reports"
    )]
    pub reports_dir: PathBuf,

    /// More log output on stderr (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a drill: plan, backup, fault, restore, validate, clean up, report.
    Run(run::RunArgs),
    /// Show what a drill would create, change and delete, without calling AWS.
    Plan {
        /// Scenario file.
        file: PathBuf,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check scenario files and report every error.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format.
    Schema,
    /// Delete scratch resources that earlier runs left behind.
    Reap(reap::ReapArgs),
    /// Re-render reports of a run from its report.json, or the index page.
    Report(report::ReportArgs),
    /// Check a run's evidence bundle: hashes, signature, chain link.
    #[command(after_help = verify::EXIT_CODES)]
    Verify(verify::VerifyArgs),
    /// Create an Ed25519 key pair for signing evidence manifests.
    Keygen(keygen::KeygenArgs),
    /// Show the RTO/RPO trend of earlier runs.
    History(history::HistoryArgs),
    /// Print the least-privilege IAM policy a scenario's drills need.
    IamPolicy(iam_policy::IamPolicyArgs),
    /// Read-only: each target's newest recovery point against the RPO, and
    /// when a drill last proved one (exit 1 when any falls short).
    Coverage(coverage::CoverageArgs),
    /// Write the recovery plan people follow on the bad day: commands per
    /// target in `depends_on` order, gates, owner, expected durations.
    Runbook(runbook::RunbookArgs),
}

/// Entry point for the binary.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::INVALID_SCENARIO
            } else {
                exit::PASSED
            });
        }
    };
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("firedrill: cannot start the async runtime: {e}");
            return ExitCode::from(exit::ENVIRONMENT);
        }
    };
    let code = runtime.block_on(dispatch(cli));
    // Do not wait for stray SDK connections to wind down.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    ExitCode::from(code)
}

async fn dispatch(cli: Cli) -> u8 {
    match cli.command {
        Command::Run(args) => Box::pin(run::run(&cli.reports_dir, args)).await,
        Command::Plan { file, json } => validate::plan(&file, json),
        Command::Validate { files } => validate::validate(&files),
        Command::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::scenario::schema::scenario_schema())
                    .unwrap_or_default()
            );
            exit::PASSED
        }
        Command::Reap(args) => reap::reap(&cli.reports_dir, args).await,
        Command::Report(args) => report::report(&cli.reports_dir, args),
        Command::Verify(args) => verify::verify(args),
        Command::Keygen(args) => keygen::keygen(args),
        Command::History(args) => history::history(&cli.reports_dir, args),
        Command::IamPolicy(args) => iam_policy::iam_policy(args),
        Command::Coverage(args) => coverage::coverage(&cli.reports_dir, args).await,
        Command::Runbook(args) => runbook::runbook(&cli.reports_dir, args),
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "firedrill=info,warn",
        2 => "firedrill=debug,info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FIREDRILL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
