//! How results are judged: one precedence rule gives the verdict of a
//! target and of a run, and the exit code follows from the run's verdict
//! and its cleanup. Pure functions, table-tested below.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::exit;

/// Overall result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Passed,
    Failed,
    Aborted,
    /// The environment prevented the drill (exit code 3).
    Error,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Verdict::Passed => "PASSED",
            Verdict::Failed => "FAILED",
            Verdict::Aborted => "ABORTED",
            Verdict::Error => "ERROR",
        })
    }
}

/// What decides a verdict, for a target or for a whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    /// The drill was aborted (signal, maximum duration, `abort_on_failure`).
    pub aborted: bool,
    /// The environment, not the drill, stopped it: an endpoint, credentials,
    /// a missing resource, a refused guard (exit code 3).
    pub environment_error: bool,
    /// Anything short of proof: a stage that did not pass, a failed check,
    /// a missed or unmeasured objective, an error finding.
    pub failed: bool,
}

impl Conditions {
    /// The one precedence rule: aborted, then environment error, then
    /// failed, then passed. A target and a run are judged alike.
    pub fn verdict(self) -> Verdict {
        if self.aborted {
            Verdict::Aborted
        } else if self.environment_error {
            Verdict::Error
        } else if self.failed {
            Verdict::Failed
        } else {
            Verdict::Passed
        }
    }
}

/// The facts about one target's drill that decide its verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetFacts {
    /// A stage was cancelled by an abort.
    pub cancelled: bool,
    /// A stage failed because of the environment.
    pub environment_error: bool,
    /// Every recorded stage passed.
    pub stages_passed: bool,
    /// Validation ran to the end.
    pub validated: bool,
    /// Checks that failed; checks that could not be verified do not count
    /// as passed, but are reported as a warning rather than failing the drill.
    pub checks_failed: usize,
    /// Checks that could not be verified (no database behind an emulator):
    /// never counted as passed, reported as a warning, and not deciding.
    pub checks_not_verified: usize,
    /// RTO measured and within its objective (`None`: not measured).
    pub rto_met: Option<bool>,
    /// RPO measured and within its objective (`None`: not measured).
    pub rpo_met: Option<bool>,
    /// Findings of error severity.
    pub error_findings: usize,
}

impl TargetFacts {
    /// Whether the drill proved the objectives.
    pub fn proven(&self) -> bool {
        self.stages_passed
            && self.validated
            && self.checks_failed == 0
            && self.rto_met == Some(true)
            && self.rpo_met == Some(true)
            && self.error_findings == 0
    }

    pub fn conditions(&self) -> Conditions {
        Conditions {
            aborted: self.cancelled,
            environment_error: self.environment_error,
            failed: !self.proven(),
        }
    }

    pub fn verdict(&self) -> Verdict {
        self.conditions().verdict()
    }
}

/// A run's verdict: its targets' verdicts and what happened outside them
/// (an abort, a refused guard or failed preflight, error findings).
pub fn run_verdict(
    targets: &[Verdict],
    aborted: bool,
    environment_error: bool,
    error_findings: usize,
) -> Verdict {
    Conditions {
        aborted: aborted || targets.contains(&Verdict::Aborted),
        environment_error: environment_error || targets.contains(&Verdict::Error),
        failed: error_findings > 0 || targets.iter().any(|v| *v != Verdict::Passed),
    }
    .verdict()
}

/// The documented exit code of a run: cleanup incomplete wins (scratch
/// resources cost money until reaped), then the verdict.
pub fn exit_code(verdict: Verdict, cleanup_complete: bool) -> u8 {
    if !cleanup_complete {
        return exit::CLEANUP_INCOMPLETE;
    }
    match verdict {
        Verdict::Passed => exit::PASSED,
        Verdict::Error => exit::ENVIRONMENT,
        Verdict::Failed | Verdict::Aborted => exit::OBJECTIVES_MISSED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proven() -> TargetFacts {
        TargetFacts {
            cancelled: false,
            environment_error: false,
            stages_passed: true,
            validated: true,
            checks_failed: 0,
            checks_not_verified: 0,
            rto_met: Some(true),
            rpo_met: Some(true),
            error_findings: 0,
        }
    }

    #[test]
    fn target_verdicts_follow_one_precedence() {
        type Case = (&'static str, fn(&mut TargetFacts), Verdict);
        let cases: &[Case] = &[
            ("everything proven", |_| {}, Verdict::Passed),
            ("aborted", |f| f.cancelled = true, Verdict::Aborted),
            (
                "aborted beats environment",
                |f| {
                    f.cancelled = true;
                    f.environment_error = true;
                    f.stages_passed = false;
                },
                Verdict::Aborted,
            ),
            (
                "environment error",
                |f| {
                    f.environment_error = true;
                    f.stages_passed = false;
                },
                Verdict::Error,
            ),
            (
                "environment beats a failed check",
                |f| {
                    f.environment_error = true;
                    f.checks_failed = 2;
                },
                Verdict::Error,
            ),
            ("failed check", |f| f.checks_failed = 1, Verdict::Failed),
            (
                "not verified is reported, not failed",
                |f| f.checks_not_verified = 3,
                Verdict::Passed,
            ),
            ("missed RTO", |f| f.rto_met = Some(false), Verdict::Failed),
            ("missed RPO", |f| f.rpo_met = Some(false), Verdict::Failed),
            ("RTO not measured", |f| f.rto_met = None, Verdict::Failed),
            ("RPO not measured", |f| f.rpo_met = None, Verdict::Failed),
            (
                "validation did not run",
                |f| f.validated = false,
                Verdict::Failed,
            ),
            (
                "a stage failed",
                |f| f.stages_passed = false,
                Verdict::Failed,
            ),
            (
                "an error finding",
                |f| f.error_findings = 1,
                Verdict::Failed,
            ),
        ];
        for (name, change, want) in cases {
            let mut f = proven();
            change(&mut f);
            assert_eq!(f.verdict(), *want, "{name}");
        }
    }

    #[test]
    fn run_verdicts_and_exit_codes() {
        use Verdict::{Aborted, Error, Failed, Passed};
        // (targets, aborted, environment error, error findings, cleanup complete) → (verdict, exit)
        type Case = (&'static [Verdict], bool, bool, usize, bool, Verdict, u8);
        let cases: &[Case] = &[
            (&[Passed, Passed], false, false, 0, true, Passed, 0),
            (&[], false, false, 0, true, Passed, 0),
            (&[Passed, Failed], false, false, 0, true, Failed, 1),
            (&[Passed], false, false, 1, true, Failed, 1),
            (&[Passed, Error], false, false, 0, true, Error, 3),
            (&[Passed], false, true, 0, true, Error, 3),
            (&[Failed, Error], false, false, 0, true, Error, 3),
            (&[Aborted, Error], false, false, 0, true, Aborted, 1),
            (&[Passed], true, true, 0, true, Aborted, 1),
            (&[Passed, Passed], false, false, 0, false, Passed, 4),
            (&[Failed], false, false, 0, false, Failed, 4),
            (&[Error], false, true, 0, false, Error, 4),
            (&[Aborted], true, false, 0, false, Aborted, 4),
        ];
        for (i, (targets, aborted, env, errors, clean, want, code)) in cases.iter().enumerate() {
            let v = run_verdict(targets, *aborted, *env, *errors);
            assert_eq!(v, *want, "case {i}");
            assert_eq!(exit_code(v, *clean), *code, "case {i}");
        }
    }
}
