//! `firedrill report RUN_DIR --format …`: re-render reports from a run's
//! `report.json`; `firedrill report --index`: the index page of all runs.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::evidence;
use crate::report::artifacts::{Format, write_formats};
use firedrill_core::exit;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run directory holding report.json.
    #[arg(required_unless_present = "index")]
    run_dir: Option<PathBuf>,
    /// Formats to write (repeatable).
    #[arg(long = "format", value_enum)]
    formats: Vec<Format>,
    /// Write <reports>/index.html: every run with RTO/RPO trend charts.
    #[arg(long, conflicts_with = "run_dir")]
    index: bool,
    /// With --index: the runs uploaded under this S3 prefix (`run
    /// --evidence-uri`), from every runner, instead of the local history.
    #[arg(long, value_name = "S3_URI", requires = "index")]
    from: Option<crate::evidence::s3::EvidenceUri>,
    /// Key to re-sign the manifest with when the run directory has one.
    #[arg(long, env = "FIREDRILL_SIGNING_KEY", hide_env_values = true)]
    signing_key: Option<String>,
}

pub(crate) fn report(reports_dir: &Path, args: ReportArgs) -> u8 {
    if args.index {
        return index(reports_dir, args.from.as_ref());
    }
    let Some(run_dir) = args.run_dir else {
        return exit::INVALID_SCENARIO;
    };
    if args.formats.is_empty() {
        eprintln!(
            "firedrill: nothing to render (hint: pass --format html, junit, markdown or json)"
        );
        return exit::INVALID_SCENARIO;
    }
    let report = match crate::report::json::read(&run_dir.join(crate::report::json::FILE)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("firedrill: cannot read the report: {e}");
            return exit::ENVIRONMENT;
        }
    };
    let key = match args.signing_key.as_deref().map(evidence::load_signing_key) {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(e)) => {
            eprintln!("firedrill: {e}");
            return exit::INVALID_SCENARIO;
        }
    };
    // report.json is the source: never rewrite it from itself.
    let formats: Vec<Format> = args
        .formats
        .into_iter()
        .filter(|f| *f != Format::Json)
        .collect();
    if let Err(e) = write_formats(&run_dir, &report, &formats) {
        eprintln!("firedrill: cannot write the reports: {e}");
        return exit::ENVIRONMENT;
    }
    for f in &formats {
        println!("wrote {}", run_dir.join(f.file()).display());
    }
    if run_dir.join(evidence::MANIFEST_FILE).is_file() {
        match evidence::seal(
            &run_dir,
            &report.scenario.name,
            &report.run_id,
            key.as_ref(),
        ) {
            Ok(_) => println!(
                "resealed {} (a later run's chain link to the old manifest no longer matches)",
                run_dir.join(evidence::MANIFEST_FILE).display()
            ),
            Err(e) => {
                eprintln!("firedrill: cannot reseal the manifest: {e}");
                return exit::ENVIRONMENT;
            }
        }
    }
    exit::PASSED
}

fn index(reports_dir: &Path, from: Option<&crate::evidence::s3::EvidenceUri>) -> u8 {
    let entries = match from {
        None => crate::history::read(reports_dir)
            .map_err(|e| format!("cannot read the run history: {e}")),
        Some(uri) => super::evidence_s3::history_from_s3(uri),
    };
    let entries = match entries {
        Ok(e) => e,
        Err(e) => {
            eprintln!("firedrill: {e}");
            return exit::ENVIRONMENT;
        }
    };
    let path = reports_dir.join(crate::history::INDEX_FILE);
    let result = std::fs::create_dir_all(reports_dir)
        .and_then(|()| std::fs::File::create(&path))
        .and_then(|f| {
            let mut w = std::io::BufWriter::new(f);
            crate::history::write_index(&entries, Some(reports_dir), &mut w)?;
            std::io::Write::flush(&mut w)
        });
    match result {
        Ok(()) => {
            println!("wrote {} ({} run(s))", path.display(), entries.len());
            exit::PASSED
        }
        Err(e) => {
            eprintln!("firedrill: cannot write {}: {e}", path.display());
            exit::ENVIRONMENT
        }
    }
}
