//! Evidence in S3 on the command line: `run --evidence-uri` (chain link
//! read from S3, upload after sealing, a failed upload is an error finding
//! and exit code 3), `verify s3://…` (download, then the local verify) and
//! `report --index --from s3://…`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use crate::evidence::s3::{self as store, EvidenceUri, Retention, RetentionMode, S3EvidenceError};
use crate::evidence::{Chain, MANIFEST_FILE};
use firedrill_core::timing::Clock;
use firedrill_core::{Environment, Finding, exit};

/// Where `run` keeps its evidence besides the local run directory.
#[derive(Debug, Args)]
pub struct EvidenceArgs {
    /// Upload the run directory to `s3://bucket/prefix/<scenario>/<run-id>/`
    /// (manifest last) and chain the manifest to the newest run of the
    /// scenario there. A failed upload is an error: exit code 3 when the
    /// drill itself passed.
    #[arg(long = "evidence-uri", value_name = "S3_URI")]
    pub uri: Option<EvidenceUri>,
    /// Keep the uploaded objects under S3 Object Lock this long (`400d`);
    /// the bucket needs Object Lock enabled.
    #[arg(long, requires = "uri", value_parser = humantime::parse_duration)]
    pub retain: Option<Duration>,
    /// Object Lock mode of `--retain`.
    #[arg(long, requires = "retain", value_enum, default_value_t = RetentionMode::Governance)]
    pub retain_mode: RetentionMode,
}

/// The evidence store of one run.
pub(crate) struct Store {
    uri: EvidenceUri,
    retention: Option<Retention>,
    s3: aws_sdk_s3::Client,
}

impl EvidenceArgs {
    /// The store, with a client for the scenario's environment (its S3
    /// endpoint, region and profile), its bucket checked before the drill:
    /// `Err` is the exit code when it is not there (nothing was done).
    pub(crate) async fn store(&self, env: &Environment) -> Result<Option<Store>, u8> {
        let Some(uri) = self.uri.clone() else {
            return Ok(None);
        };
        let clients = crate::aws::Clients::new(env, &Clock::system()).await;
        let s3 = clients.s3().clone();
        if let Err(e) = store::check(&s3, &uri).await {
            print_finding(&upload_finding(Some(&uri), &e));
            eprintln!("firedrill: the drill was not started");
            return Err(exit::ENVIRONMENT);
        }
        Ok(Some(Store {
            uri,
            retention: self.retain.map(|period| Retention {
                mode: self.retain_mode,
                period,
            }),
            s3,
        }))
    }
}

impl Store {
    /// The chain link of a new run, read from S3.
    pub(crate) async fn chain(
        &self,
        scenario: &str,
        run_id: &str,
    ) -> Result<Chain, S3EvidenceError> {
        store::previous_link(&self.s3, &self.uri, scenario, run_id)
            .await
            .map(Chain::Given)
    }

    /// Upload the sealed run directory and say where it went.
    pub(crate) async fn upload(
        &self,
        run_dir: &Path,
        scenario: &str,
        run_id: &str,
    ) -> Result<(), S3EvidenceError> {
        let up = store::upload(
            &self.s3,
            &self.uri,
            run_dir,
            scenario,
            run_id,
            self.retention,
        )
        .await?;
        println!(
            "evidence uploaded: {}/ ({} objects, {} B in {:.2} s{})",
            up.uri,
            up.objects,
            up.bytes,
            up.elapsed.as_secs_f64(),
            up.retain_until.map_or(String::new(), |t| format!(
                ", locked until {}",
                humantime::format_rfc3339_seconds(t)
            )),
        );
        Ok(())
    }
}

/// Seal the run directory (chain link from S3 when a store is given, else
/// from the sibling run directories), print where the evidence is, upload
/// it; returns the run's exit code, made an environment error when the
/// evidence of a passing drill could not be stored.
pub(crate) async fn seal_and_store(
    store: Option<&Store>,
    run_dir: &Path,
    report: &crate::report::Report,
    key: Option<&ed25519_dalek::SigningKey>,
) -> u8 {
    let (name, run_id) = (report.scenario.name.as_str(), report.run_id.as_str());
    let chain = match store {
        Some(s) => s.chain(name, run_id).await,
        None => Ok(Chain::Local),
    };
    let chain = match chain {
        Ok(c) => c,
        Err(e) => {
            // Sealed with no link rather than a wrong one; not uploaded.
            print_finding(&upload_finding(store.map(|s| &s.uri), &e));
            let _ = crate::evidence::seal_linked(run_dir, name, run_id, key, Chain::Given(None));
            return exit_code(report.exit_code, false);
        }
    };
    match crate::evidence::seal_linked(run_dir, name, run_id, key, chain) {
        Ok(m) => println!(
            "evidence: {} ({} files{}{})",
            run_dir.join(MANIFEST_FILE).display(),
            m.artifacts.len(),
            m.signing
                .as_ref()
                .map_or(String::new(), |s| format!(", signed {}", s.fingerprint)),
            m.previous
                .as_ref()
                .map_or(String::new(), |p| format!(", chained to {}", p.run_id)),
        ),
        Err(e) => {
            eprintln!("firedrill: cannot write the evidence manifest: {e}");
            return exit_code(report.exit_code, store.is_none());
        }
    }
    let Some(store) = store else {
        return report.exit_code;
    };
    let stored = store.upload(run_dir, name, run_id).await;
    if let Err(e) = &stored {
        print_finding(&upload_finding(Some(&store.uri), e));
    }
    exit_code(report.exit_code, stored.is_ok())
}

/// The finding printed when evidence could not be stored in S3.
pub(crate) fn upload_finding(uri: Option<&EvidenceUri>, e: &S3EvidenceError) -> Finding {
    Finding::error(
        "evidence.upload-failed",
        format!(
            "the evidence was not stored in {}: {e} (the run directory still holds it: upload it again or rerun the drill)",
            uri.map_or_else(|| "S3".to_string(), ToString::to_string)
        ),
    )
}

/// The exit code of a run whose evidence upload failed: a drill that passed
/// did not produce its evidence, which is an environment error; a drill
/// that did not pass keeps its own code.
pub(crate) fn exit_code(drill: u8, stored: bool) -> u8 {
    if !stored && drill == exit::PASSED {
        exit::ENVIRONMENT
    } else {
        drill
    }
}

/// Print an error finding the way the terminal report does.
pub(crate) fn print_finding(f: &Finding) {
    eprintln!("firedrill: error [{}]: {}", f.code, f.message);
}

/// The S3 environment of commands that have no scenario: the region from
/// `AWS_REGION`, the endpoint from `FIREDRILL_S3_ENDPOINT` (the emulators'
/// variable) or the SDK's own `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`.
fn environment_from_env() -> Environment {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut env = Environment {
        region: var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_string()),
        profile: var("AWS_PROFILE"),
        ..Environment::default()
    };
    env.endpoints.s3 = var("FIREDRILL_S3_ENDPOINT")
        .or_else(|| var("AWS_ENDPOINT_URL_S3"))
        .or_else(|| var("AWS_ENDPOINT_URL"));
    env
}

async fn client_from_env() -> aws_sdk_s3::Client {
    crate::aws::Clients::new(&environment_from_env(), &Clock::system())
        .await
        .s3()
        .clone()
}

/// Run an async step from a synchronous command (the CLI runs on a
/// multi-threaded runtime).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

/// A run to verify: a local directory as given, or an `s3://` run
/// downloaded into a temporary directory (kept alive by the returned guard).
pub(crate) fn localize_run(arg: &Path) -> Result<(Option<tempfile::TempDir>, PathBuf), String> {
    let text = arg.to_string_lossy();
    if !text.starts_with("s3://") {
        return Ok((None, arg.to_path_buf()));
    }
    let uri: EvidenceUri = text.parse()?;
    let tmp =
        tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let run_dir = block_on(async {
        let s3 = client_from_env().await;
        store::download(&s3, &uri, tmp.path()).await
    })
    .map_err(|e| format!("cannot download {uri}: {e}"))?;
    if !run_dir.join(MANIFEST_FILE).is_file() {
        // An upload cut short: its manifest, written last, is missing.
        return Err(format!(
            "{uri} has no {MANIFEST_FILE}: its upload did not finish"
        ));
    }
    Ok((Some(tmp), run_dir))
}

/// `report --index --from s3://…`: the history of every run under the
/// prefix, whichever runner uploaded it.
pub(crate) fn history_from_s3(
    uri: &EvidenceUri,
) -> Result<Vec<crate::history::HistoryEntry>, String> {
    block_on(async {
        let s3 = client_from_env().await;
        store::history(&s3, uri).await
    })
    .map_err(|e| format!("cannot read the runs under {uri}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_upload_never_leaves_a_pass() {
        let table = [
            (exit::PASSED, true, exit::PASSED),
            (exit::PASSED, false, exit::ENVIRONMENT),
            (exit::OBJECTIVES_MISSED, false, exit::OBJECTIVES_MISSED),
            (exit::OBJECTIVES_MISSED, true, exit::OBJECTIVES_MISSED),
            (exit::CLEANUP_INCOMPLETE, false, exit::CLEANUP_INCOMPLETE),
            (exit::ENVIRONMENT, false, exit::ENVIRONMENT),
        ];
        for (drill, stored, want) in table {
            assert_eq!(exit_code(drill, stored), want, "{drill} {stored}");
        }
    }
}
