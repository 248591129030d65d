//! The application's recovery time: from the first fault to the moment
//! every critical gate had passed, with its error bound. A pure function,
//! table-tested on virtual time below.

use std::time::Duration;

use crate::timing::Moment;

/// When one critical gate passed, and the earliest it could have.
#[derive(Clone, Copy, Debug)]
pub struct GatePass {
    /// End of the passing attempt.
    pub passed: Moment,
    /// Start of the last attempt that failed before it (the application
    /// was not ready then), or of the passing attempt when it was the first.
    pub earliest: Moment,
}

/// A measured application RTO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppRto {
    pub value: Duration,
    /// The true value lies within `value - error ..= value`.
    pub error: Duration,
    /// Against `[objectives] app_rto`, when set.
    pub met: Option<bool>,
}

/// The application RTO, or `None` when it was not measured: no fault, no
/// critical gate, or a critical gate that never passed (`None` in `gates`).
///
/// The last critical gate to pass decides the value. Each gate passed at
/// some moment between its `earliest` and `passed`, so the application was
/// answering no earlier than the latest `earliest`: that spread, plus the
/// error bounds of the targets the gates waited for (`target_error`), is
/// the error bound.
pub fn app_rto(
    first_fault: Option<Moment>,
    gates: &[Option<GatePass>],
    target_error: Duration,
    objective: Option<Duration>,
) -> Option<AppRto> {
    let fault = first_fault?;
    if gates.is_empty() {
        return None;
    }
    let passes: Vec<GatePass> = gates.iter().copied().collect::<Option<_>>()?;
    let last = passes.iter().map(|g| g.passed.since(fault)).max()?;
    let earliest = passes.iter().map(|g| g.earliest.since(fault)).max()?;
    let error = last.saturating_sub(earliest) + target_error;
    Some(AppRto {
        value: last,
        error,
        met: objective.map(|o| last <= o),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timing::Clock;
    use aws_smithy_async::test_util::instant_time_and_sleep;
    use std::time::UNIX_EPOCH;

    /// Name, first fault, critical gates' passes, objective, expected.
    type Case<'a> = (
        &'a str,
        Option<Moment>,
        Vec<Option<GatePass>>,
        Option<Duration>,
        Option<AppRto>,
    );

    #[tokio::test]
    async fn app_rto_on_virtual_time() {
        let (time, sleep) = instant_time_and_sleep(UNIX_EPOCH + Duration::from_hours(500_000));
        let clock = Clock::virtual_time(
            aws_smithy_async::time::SharedTimeSource::new(time.clone()),
            aws_smithy_async::rt::sleep::SharedAsyncSleep::new(sleep),
        );
        let at = |secs: u64| {
            time.set_time(UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs));
            clock.now()
        };
        let t0 = at(0);
        let (e10, p12) = (at(10), at(12));
        let (e20, p21) = (at(20), at(21));
        let (first_try, first_pass) = (at(30), at(31));
        let bound = Duration::from_secs(2);
        let s = Duration::from_secs;
        let table: Vec<Case> = vec![
            (
                "no fault",
                None,
                vec![Some(GatePass {
                    passed: p12,
                    earliest: e10,
                })],
                None,
                None,
            ),
            ("no critical gate", Some(t0), vec![], None, None),
            (
                "a critical gate never passed",
                Some(t0),
                vec![
                    Some(GatePass {
                        passed: p12,
                        earliest: e10,
                    }),
                    None,
                ],
                None,
                None,
            ),
            (
                "one gate after a failed attempt",
                Some(t0),
                vec![Some(GatePass {
                    passed: p12,
                    earliest: e10,
                })],
                Some(s(60)),
                Some(AppRto {
                    value: s(12),
                    error: s(2) + bound,
                    met: Some(true),
                }),
            ),
            (
                "the last gate decides, the latest earliest bounds",
                Some(t0),
                vec![
                    Some(GatePass {
                        passed: p12,
                        earliest: e10,
                    }),
                    Some(GatePass {
                        passed: p21,
                        earliest: e20,
                    }),
                ],
                Some(s(20)),
                Some(AppRto {
                    value: s(21),
                    error: s(1) + bound,
                    met: Some(false),
                }),
            ),
            (
                "passed at the first attempt",
                Some(t0),
                vec![Some(GatePass {
                    passed: first_pass,
                    earliest: first_try,
                })],
                None,
                Some(AppRto {
                    value: s(31),
                    error: s(1) + bound,
                    met: None,
                }),
            ),
        ];
        for (name, fault, gates, objective, want) in table {
            assert_eq!(app_rto(fault, &gates, bound, objective), want, "{name}");
        }
    }
}
