//! `firedrill run`: print the plan, confirm, drill, report.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::report::artifacts::{FileReporter, Format};
use crate::report::{self, Fanout, Reporter};
use crate::runner::{self, RunOptions};
use crate::scenario;
use firedrill_core::exit;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file.
    file: PathBuf,
    /// Do not ask for confirmation after printing the plan (CI, cron).
    #[arg(long, short = 'y')]
    yes: bool,
    /// Allow destructive faults on resources firedrill did not create, on
    /// real AWS (the resource tag and the account allow list are needed too).
    #[arg(long)]
    allow_destructive: bool,
    /// Targets drilled at once (overrides the scenario's `max_concurrency`).
    #[arg(long)]
    max_concurrency: Option<usize>,
    /// No progress output; the summary table is still printed.
    #[arg(long, short)]
    quiet: bool,
    /// Extra report formats written into the run directory (repeatable);
    /// `report.json` is always written.
    #[arg(long = "format", value_enum)]
    formats: Vec<Format>,
    /// Ed25519 key to sign the evidence manifest: a key file from
    /// `firedrill keygen`, or the base64 key itself.
    #[arg(long, env = "FIREDRILL_SIGNING_KEY", hide_env_values = true)]
    signing_key: Option<String>,
    #[command(flatten)]
    evidence: super::evidence_s3::EvidenceArgs,
    #[command(flatten)]
    publish: super::publish::PublishArgs,
    /// Seed of the choice of existing recovery points (`source = "random"`):
    /// the seed an earlier report records repeats its choice (default: random).
    #[arg(long)]
    seed: Option<u64>,
}

pub(crate) async fn run(reports_dir: &Path, args: RunArgs) -> u8 {
    let scenario = match scenario::load(&args.file) {
        Ok(s) => s,
        Err(e) => {
            super::validate::print_scenario_error(&e);
            return exit::INVALID_SCENARIO;
        }
    };
    let signing_key = match args
        .signing_key
        .as_deref()
        .map(crate::evidence::load_signing_key)
    {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(e)) => {
            eprintln!("firedrill: {e}");
            return exit::INVALID_SCENARIO;
        }
    };
    if let Err(e) = check_signer(&scenario, signing_key.as_ref()) {
        eprintln!("firedrill: {e}");
        return exit::INVALID_SCENARIO;
    }
    let notify = scenario.notify.clone();
    let plan = crate::plan::build(&scenario);
    if !args.quiet {
        eprint!("{}", crate::plan::render(&plan));
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "firedrill: refusing to run without confirmation: stdin is not a terminal (hint: pass --yes)"
            );
            return exit::INVALID_SCENARIO;
        }
        eprint!("Run this drill? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("firedrill: not confirmed; nothing was done");
            return exit::INVALID_SCENARIO;
        }
    }

    let cancel = CancellationToken::new();
    spawn_signal_handler(cancel.clone());
    let mut options = RunOptions::new(reports_dir);
    options.allow_destructive = args.allow_destructive;
    options.max_concurrency = args.max_concurrency;
    options.cancel = cancel;
    options.seed = args.seed;
    let reporters: Vec<Box<dyn Reporter>> = vec![
        Box::new(report::progress::Progress::new(args.quiet)),
        Box::new(report::json::JsonReporter),
        Box::new(FileReporter::new(
            args.formats
                .iter()
                .copied()
                .filter(|f| *f != Format::Json)
                .collect(),
        )),
    ];
    let fanout = Fanout::new(reporters);
    let store = match args.evidence.store(&scenario.environment).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    match runner::run(scenario, options, fanout.clone()).await {
        Ok(mut outcome) => {
            let stdout = std::io::stdout();
            let _ = report::terminal::write(&outcome.report, stdout.lock());
            println!(
                "report: {}",
                outcome.run_dir.join(report::json::FILE).display()
            );
            if let Some(seed) = outcome.report.seed {
                println!(
                    "seed: {seed} (repeat this run's recovery point choices with --seed {seed})"
                );
            }
            for e in fanout.errors() {
                eprintln!("firedrill: a report could not be written: {e}");
            }
            super::publish::after_run(
                reports_dir,
                &args.publish,
                &notify,
                &mut outcome.report,
                &outcome.run_dir,
                &args.formats,
            )
            .await;
            super::evidence_s3::seal_and_store(
                store.as_ref(),
                &outcome.run_dir,
                &outcome.report,
                signing_key.as_ref(),
            )
            .await
        }
        Err(e) => {
            eprintln!("firedrill: {e}");
            exit::ENVIRONMENT
        }
    }
}

/// A scenario that pins its signer must be signed by that key, so that
/// `verify --scenario` accepts what `run` wrote.
fn check_signer(
    scenario: &scenario::Scenario,
    key: Option<&ed25519_dalek::SigningKey>,
) -> Result<(), String> {
    let Some(pin) = &scenario.evidence.signer else {
        return Ok(());
    };
    let Some(key) = key else {
        return Err(format!(
            "the scenario pins the evidence signer {pin}, but no signing key was given (hint: pass --signing-key or set FIREDRILL_SIGNING_KEY)"
        ));
    };
    let fingerprint = crate::evidence::fingerprint(&key.verifying_key());
    if pin.matches(&fingerprint) {
        Ok(())
    } else {
        Err(format!(
            "the signing key {fingerprint} is not the scenario's pinned signer {pin} (hint: use the key `firedrill keygen` made for it, or update `[evidence] signer`)"
        ))
    }
}

/// First SIGINT/SIGTERM: cancel the run (stop injecting, clean up, report).
/// Second SIGINT: exit at once; the ledger is fsync'd per record, so `reap`
/// finds whatever was left.
fn spawn_signal_handler(cancel: CancellationToken) {
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let term_recv = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = term_recv => {}
        }
        eprintln!(
            "firedrill: interrupted: stopping, cleaning up and writing the report (interrupt again to exit at once)"
        );
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("firedrill: exiting now; run `firedrill reap` to delete what is left");
            std::process::exit(130);
        }
    });
}
