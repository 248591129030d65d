//! `firedrill iam-policy FILE`: print the least-privilege IAM policy the
//! scenario's drills need.

use std::path::PathBuf;

use clap::Args;

use crate::evidence::s3::EvidenceUri;
use crate::iam;
use crate::scenario;
use firedrill_core::exit;

#[derive(Debug, Args)]
pub struct IamPolicyArgs {
    /// Scenario file.
    file: PathBuf,
    /// Only the read actions: enough for preflight, `plan` and coverage.
    #[arg(long)]
    read_only: bool,
    /// Also what `coverage --all` reads: every volume, instance, database,
    /// cluster and bucket of the region.
    #[arg(long)]
    all: bool,
    /// The drills upload their evidence here (`run --evidence-uri`).
    #[arg(long = "evidence-uri", value_name = "S3_URI")]
    evidence_uri: Option<EvidenceUri>,
}

pub(crate) fn iam_policy(args: IamPolicyArgs) -> u8 {
    let scenario = match scenario::load(&args.file) {
        Ok(s) => s,
        Err(e) => {
            super::validate::print_scenario_error(&e);
            return exit::INVALID_SCENARIO;
        }
    };
    let options = iam::Options {
        read_only: args.read_only,
        evidence: args.evidence_uri,
        region_wide: args.all,
    };
    let policy = iam::build(&scenario, &options);
    print!("{}", policy.to_json());
    exit::PASSED
}
