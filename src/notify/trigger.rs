//! When a notification is sent: its `on` conditions against the run's
//! verdict and whether the run regressed.

use firedrill_core::Verdict;

use crate::scenario::notify::NotifyOn;

/// Whether any of `on` holds for this run.
pub fn should_send(on: &[NotifyOn], verdict: Verdict, regression: bool) -> bool {
    on.iter().any(|o| match o {
        NotifyOn::Always => true,
        NotifyOn::Success => verdict == Verdict::Passed,
        NotifyOn::Failure => verdict != Verdict::Passed,
        NotifyOn::Regression => regression,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use NotifyOn::{Always, Failure, Regression, Success};
    use Verdict::{Aborted, Error, Failed, Passed};

    #[test]
    fn conditions_table() {
        let cases: &[(&[NotifyOn], Verdict, bool, bool)] = &[
            (&[Always], Passed, false, true),
            (&[Failure], Passed, false, false),
            (&[Failure], Failed, false, true),
            (&[Failure], Aborted, false, true),
            (&[Failure], Error, false, true),
            (&[Success], Passed, false, true),
            (&[Success], Failed, false, false),
            (&[Regression], Passed, false, false),
            (&[Regression], Passed, true, true),
            (&[Failure, Regression], Passed, true, true),
            (&[Failure, Regression], Passed, false, false),
            (&[], Failed, true, false),
        ];
        for (on, verdict, regression, expected) in cases {
            assert_eq!(
                should_send(on, *verdict, *regression),
                *expected,
                "{on:?} {verdict:?} regression={regression}"
            );
        }
    }
}
