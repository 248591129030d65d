//! Comparing a restored RDS resource with its source: each field is a
//! [`Check::compare`], each mismatch also an error [`Finding`] naming the
//! field, the expected and the actual value. Used by every RDS-family kind.

use std::collections::BTreeMap;

use super::compare::mark_emulated;
use firedrill_core::{Check, CheckStatus, Finding, StageOutput, Validation};

/// Collects checks and findings of one validation.
#[derive(Debug, Default)]
pub struct Comparer {
    /// Served by an emulator: passing checks are reported as `emulated`.
    pub emulated: bool,
    /// What was restored, for messages: `DB instance firedrill-…-restore`.
    pub what: String,
    /// Finding code: `rds-instance.mismatch`.
    pub code: &'static str,
    pub checks: Vec<Check>,
    pub findings: Vec<Finding>,
}

impl Comparer {
    /// Compare one field.
    pub fn field(&mut self, name: &str, expected: impl ToString, actual: impl ToString) {
        let mut check = Check::compare(name, expected, actual);
        if check.status == CheckStatus::Failed {
            self.findings.push(Finding::error(
                self.code,
                format!(
                    "{} differs from the source in `{name}`: expected {}, found {}",
                    self.what,
                    check.expected.as_deref().unwrap_or_default(),
                    check.actual.as_deref().unwrap_or_default()
                ),
            ));
        } else {
            check = mark_emulated(check, self.emulated);
        }
        self.checks.push(check);
    }

    /// Finish validation of a restored `kind` ("instance" or "cluster")
    /// named `id`: configuration checks, then the data checks, one summary.
    pub fn into_validation(
        self,
        mut out: StageOutput,
        data: Vec<Check>,
        kind: &str,
        id: &str,
    ) -> Validation {
        let mut checks = self.checks;
        out.findings.extend(self.findings);
        let config_checks = checks.len();
        checks.extend(data);
        if self.emulated {
            out.findings.push(Finding::info(
                "rds.emulated",
                format!(
                    "RDS served by an emulator (moto): there is no database behind the restored {kind}, so no data check is possible, and timings are not evidence about AWS"
                ),
            ));
        }
        let failed = checks
            .iter()
            .filter(|c| c.status == CheckStatus::Failed)
            .count();
        out.detail = format!(
            "{id}: {config_checks} configuration check(s), {} data check(s), {failed} failed",
            checks.len() - config_checks
        );
        Validation {
            output: out,
            checks,
            canary: None,
        }
    }
}

/// Tags a person set: firedrill's own and AWS-reserved keys left out.
pub fn user_tags(tags: &[(String, String)]) -> BTreeMap<String, String> {
    super::compare::user_tags(tags.iter().map(|(k, v)| (k, v)))
}

/// An optional value for people.
pub fn opt(v: Option<&str>) -> String {
    v.unwrap_or("(none)").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::common::compare::tags_text;

    #[test]
    fn mismatch_is_a_failed_check_and_an_error_finding() {
        let mut c = Comparer {
            emulated: true,
            what: "DB instance x".into(),
            code: "rds-instance.mismatch",
            ..Comparer::default()
        };
        c.field("engine", "postgres", "postgres");
        c.field("instance class", "db.t3.micro", "db.t3.small");
        assert_eq!(c.checks[0].status, CheckStatus::Emulated);
        assert_eq!(c.checks[1].status, CheckStatus::Failed);
        assert_eq!(c.findings.len(), 1);
        let m = &c.findings[0].message;
        assert!(
            m.contains("instance class") && m.contains("db.t3.micro") && m.contains("db.t3.small"),
            "{m}"
        );
    }

    #[test]
    fn firedrill_and_aws_tags_are_not_compared() {
        let tags = vec![
            ("team".to_string(), "data".to_string()),
            ("firedrill:run-id".to_string(), "r".to_string()),
            ("aws:cloudformation:stack".to_string(), "s".to_string()),
        ];
        assert_eq!(tags_text(&user_tags(&tags)), "team=data");
        assert_eq!(tags_text(&BTreeMap::new()), "(none)");
    }
}
