//! Documented process exit codes, one per failure class.
//!
//! The table is part of the public interface: cron jobs and CI pipelines
//! branch on these numbers, so they never change meaning.

/// Every objective met, every check passed, everything cleaned up.
pub const PASSED: u8 = 0;
/// An objective was missed, a validation check failed, or the run was aborted.
pub const OBJECTIVES_MISSED: u8 = 1;
/// The scenario file is invalid, or the command line is wrong.
pub const INVALID_SCENARIO: u8 = 2;
/// The environment is not usable: endpoint unreachable, credentials missing,
/// the named resource does not exist, or a safety guard refused the drill.
pub const ENVIRONMENT: u8 = 3;
/// At least one scratch resource could not be deleted; run `firedrill reap`.
pub const CLEANUP_INCOMPLETE: u8 = 4;

/// The exit-code table as printed by `--help` and the README.
pub const TABLE: &str = "\
exit codes:
  0  all objectives met, all checks passed, cleanup complete
  1  objectives missed, validation failed, or the drill was aborted
  2  invalid scenario file or command-line usage
  3  environment error (endpoint unreachable, credentials, missing resource, guard refused)
  4  cleanup incomplete: scratch resources remain (run `firedrill reap`)";
