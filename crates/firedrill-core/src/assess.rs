//! From what a drill recorded to what it proved: RTO and RPO against the
//! objectives (each with its error bound), the canary report, the findings
//! that explain a miss, and the target's verdict. One pure function, so the
//! runner only sequences stages and every rule here is table-tested.

use std::time::Duration;

use crate::canary::{self, CanaryPlan, CanaryReport, CanaryWrite, RecoveredCanary};
use crate::check::{Check, CheckStatus};
use crate::finding::Finding;
use crate::measure::{MeasureMethod, Measured, Objectives};
use crate::recovery::RecoveryPointReport;
use crate::stage::{Outcome, StageRecord};
use crate::timing::{Moment, human};
use crate::verdict::{TargetFacts, Verdict};

/// The canaries a target wrote.
#[derive(Clone, Debug)]
pub struct CanaryEvidence<'a> {
    /// Where they went, for people.
    pub location: String,
    pub plan: CanaryPlan,
    /// Every acknowledged write, in order.
    pub writes: &'a [CanaryWrite],
}

/// Everything one target's drill recorded.
#[derive(Clone, Debug)]
pub struct DrillEvidence<'a> {
    pub objectives: Objectives,
    /// Every service the target used is an emulator.
    pub emulated: bool,
    pub stages: &'a [StageRecord],
    /// Findings the stages already reported.
    pub findings: &'a [Finding],
    /// Validation ran to the end; its checks follow.
    pub validated: bool,
    pub checks: &'a [Check],
    /// The newest canary validation found in the restored copy.
    pub recovered: Option<RecoveredCanary>,
    /// `None` for kinds without canaries (RPO then comes from the backup).
    pub canary: Option<CanaryEvidence<'a>>,
    /// When the backup was complete.
    pub backup_done: Option<Moment>,
    /// When the fault was injected.
    pub fault_at: Option<Moment>,
    /// When validation of the restored copy ended.
    pub validate_end: Option<Moment>,
    /// Sum of the error bounds of the stages between fault and validation.
    pub span_error: Duration,
    /// A stage failed because of the environment.
    pub environment_error: bool,
    /// The existing recovery point restored, when the drill took no backup
    /// of its own: without canaries, RPO is its age at the fault.
    pub recovery_point: Option<&'a RecoveryPointReport>,
}

/// What a drill proved.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    pub rto: Option<Measured>,
    pub rpo: Option<Measured>,
    pub canary: Option<CanaryReport>,
    /// Findings added by the assessment (missed objectives, lost canaries).
    pub findings: Vec<Finding>,
    pub facts: TargetFacts,
    pub verdict: Verdict,
}

/// Assess one target's drill.
pub fn assess(e: &DrillEvidence<'_>) -> Assessment {
    let mut findings = Vec::new();
    let checks_failed = e
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Failed)
        .count();
    let validation_passed = e.validated && checks_failed == 0;
    let rto = rto(e, validation_passed, &mut findings);
    let (rpo, canary) = match e.fault_at {
        Some(fault) => rpo(e, fault, &mut findings),
        None => (None, None),
    };
    missed("rto", rto.as_ref(), String::new(), &mut findings);
    let lost = canary.as_ref().map_or(String::new(), |c| {
        format!(" ({} canary write(s) lost)", c.lost_writes)
    });
    match e.recovery_point.and_then(|p| p.too_old(e.objectives.rpo)) {
        // The recovery point's own finding says its age and the objective.
        Some(f) => findings.push(f),
        None if rpo.is_some_and(|m| m.method == MeasureMethod::RecoveryPoint) => {}
        None => missed("rpo", rpo.as_ref(), lost, &mut findings),
    }
    let checks_not_verified = e
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::NotVerified)
        .count();
    if checks_not_verified > 0 {
        findings.push(Finding::warning(
            "checks.not-verified",
            format!(
                "{checks_not_verified} check(s) could not be verified and do not count as passed"
            ),
        ));
    }
    let facts = TargetFacts {
        cancelled: e.stages.iter().any(|s| s.outcome == Outcome::Cancelled),
        environment_error: e.environment_error,
        stages_passed: e.stages.iter().all(|s| s.outcome == Outcome::Passed),
        validated: e.validated,
        checks_failed,
        checks_not_verified,
        rto_met: rto.map(|m| m.met),
        rpo_met: rpo.map(|m| m.met),
        error_findings: e
            .findings
            .iter()
            .chain(&findings)
            .filter(|f| f.is_error())
            .count(),
    };
    Assessment {
        rto,
        rpo,
        canary,
        findings,
        verdict: facts.verdict(),
        facts,
    }
}

/// RTO: fault → the restored copy passed validation. A restore that did not
/// validate never recovered, whatever its timing.
fn rto(
    e: &DrillEvidence<'_>,
    validation_passed: bool,
    findings: &mut Vec<Finding>,
) -> Option<Measured> {
    let (fault, end) = (e.fault_at?, e.validate_end?);
    if !validation_passed {
        findings.push(Finding::error(
            "rto.not-recovered",
            "the restored copy did not pass validation, so recovery never completed: RTO not met",
        ));
        return None;
    }
    Some(Measured::against(
        end.since(fault),
        e.span_error,
        e.objectives.rto,
        e.emulated,
        MeasureMethod::RestoreValidated,
    ))
}

/// RPO: fault → the newest canary the restored copy holds, or for kinds
/// without canaries, fault → backup completion.
fn rpo(
    e: &DrillEvidence<'_>,
    fault: Moment,
    findings: &mut Vec<Finding>,
) -> (Option<Measured>, Option<CanaryReport>) {
    let Some(c) = &e.canary else {
        if let Some(p) = e.recovery_point {
            let m = Measured::against(
                p.age_at_fault,
                Duration::ZERO,
                e.objectives.rpo,
                e.emulated,
                MeasureMethod::RecoveryPoint,
            );
            return (Some(m), None);
        }
        let measured = e.backup_done.map(|b| {
            Measured::against(
                fault.since(b),
                Duration::ZERO,
                e.objectives.rpo,
                e.emulated,
                MeasureMethod::Snapshot,
            )
        });
        return (measured, None);
    };
    let report = canary::assess(
        c.location.clone(),
        c.plan.interval,
        c.writes,
        e.recovered,
        fault.utc,
        e.backup_done.map(|b| b.utc),
    );
    let measured = report.measured_rpo.map(|value| {
        // The canary's stamp may precede its durable write by the write's
        // latency: that is the measurement's error.
        let error = e
            .recovered
            .and_then(|r| c.writes.iter().find(|w| w.seq == r.seq))
            .map_or(Duration::ZERO, |w| w.latency);
        Measured::against(
            value,
            error,
            e.objectives.rpo,
            e.emulated,
            MeasureMethod::Canary,
        )
    });
    if e.validated {
        if measured.is_none() {
            findings.push(Finding::error(
                "rpo.no-canary-recovered",
                format!(
                    "no canary came back: all {} canary write(s) were lost",
                    report.written
                ),
            ));
        } else if report.lost_writes > 0 {
            findings.push(Finding::info(
                "rpo.canaries-lost",
                format!(
                    "{} of {} canary write(s) were lost (written after the backup)",
                    report.lost_writes, report.written
                ),
            ));
        }
    }
    (measured, Some(report))
}

/// "measured RTO 3m exceeds the objective 2m" when an objective was missed.
fn missed(what: &str, m: Option<&Measured>, suffix: String, findings: &mut Vec<Finding>) {
    if let Some(m) = m
        && !m.met
    {
        findings.push(Finding::error(
            &format!("{what}.missed"),
            format!(
                "measured {} {} exceeds the objective {}{suffix}",
                what.to_uppercase(),
                human(m.value),
                human(m.objective)
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use aws_smithy_async::rt::sleep::SharedAsyncSleep;
    use aws_smithy_async::test_util::instant_time_and_sleep;
    use aws_smithy_async::time::SharedTimeSource;

    use super::*;
    use crate::stage::Stage;
    use crate::timing::Clock;
    use aws_smithy_async::rt::sleep::AsyncSleep;

    struct Fixture {
        clock: Clock,
        sleep: aws_smithy_async::test_util::InstantSleep,
        stages: Vec<StageRecord>,
        checks: Vec<Check>,
        findings: Vec<Finding>,
        writes: Vec<CanaryWrite>,
    }

    fn fixture() -> Fixture {
        let (time, sleep) = instant_time_and_sleep(SystemTime::UNIX_EPOCH);
        let clock = Clock::virtual_time(
            SharedTimeSource::new(time),
            SharedAsyncSleep::new(sleep.clone()),
        );
        Fixture {
            clock,
            sleep,
            stages: [
                Stage::Preflight,
                Stage::Backup,
                Stage::Fault,
                Stage::Restore,
                Stage::Validate,
                Stage::Cleanup,
            ]
            .into_iter()
            .map(|stage| StageRecord {
                stage,
                outcome: Outcome::Passed,
                timing: None,
                emulated: false,
                detail: String::new(),
                request_ids: Vec::new(),
                facts: std::collections::BTreeMap::default(),
            })
            .collect(),
            checks: vec![Check::compare("objects restored", 20, 20)],
            findings: Vec::new(),
            writes: Vec::new(),
        }
    }

    /// A drill on virtual time: canary 1 at 0 s, backup done at 1 s,
    /// canary 2 at 2 s, fault at 3 s, validated at `restored_after` s.
    async fn drill(f: &mut Fixture, restored_after: u64) -> (Moment, Moment, Moment) {
        let t0 = f.clock.now();
        f.writes.push(CanaryWrite {
            seq: 1,
            written_at: t0.utc,
            latency: Duration::from_millis(4),
        });
        f.sleep.sleep(Duration::from_secs(1)).await;
        let backup = f.clock.now();
        f.sleep.sleep(Duration::from_secs(1)).await;
        let c2 = f.clock.now();
        f.writes.push(CanaryWrite {
            seq: 2,
            written_at: c2.utc,
            latency: Duration::from_millis(4),
        });
        f.sleep.sleep(Duration::from_secs(1)).await;
        let fault = f.clock.now();
        f.sleep.sleep(Duration::from_secs(restored_after - 3)).await;
        (backup, fault, f.clock.now())
    }

    fn evidence(
        f: &Fixture,
        times: (Moment, Moment, Moment),
        recovered: Option<u64>,
    ) -> DrillEvidence<'_> {
        DrillEvidence {
            objectives: Objectives {
                rto: Duration::from_mins(1),
                rpo: Duration::from_secs(5),
            },
            emulated: false,
            stages: &f.stages,
            findings: &f.findings,
            validated: true,
            checks: &f.checks,
            recovered: recovered.map(|seq| RecoveredCanary {
                seq,
                written_at: f.writes[seq as usize - 1].written_at,
            }),
            canary: Some(CanaryEvidence {
                location: "s3://orders/.firedrill/canary/r/".into(),
                plan: CanaryPlan {
                    interval: Duration::from_secs(1),
                    writes_after_backup: 1,
                },
                writes: &f.writes,
            }),
            backup_done: Some(times.0),
            fault_at: Some(times.1),
            validate_end: Some(times.2),
            span_error: Duration::from_millis(250),
            environment_error: false,
            recovery_point: None,
        }
    }

    fn codes(a: &Assessment) -> Vec<&str> {
        a.findings.iter().map(|f| f.code.as_str()).collect()
    }

    #[tokio::test]
    async fn rto_and_rpo_are_measured_with_their_error_bounds() {
        let mut f = fixture();
        let times = drill(&mut f, 33).await;
        let a = assess(&evidence(&f, times, Some(1)));
        let rto = a.rto.unwrap();
        assert_eq!(
            (rto.value, rto.error, rto.met),
            (Duration::from_secs(30), Duration::from_millis(250), true)
        );
        assert_eq!(rto.method, MeasureMethod::RestoreValidated);
        // Canary 1 came back, canary 2 (after the backup) was lost.
        let rpo = a.rpo.unwrap();
        assert_eq!(
            (rpo.value, rpo.error, rpo.met),
            (Duration::from_secs(3), Duration::from_millis(4), true)
        );
        assert_eq!(a.canary.as_ref().unwrap().lost_writes, 1);
        assert_eq!(codes(&a), ["rpo.canaries-lost"]);
        assert_eq!(a.verdict, Verdict::Passed);
    }

    #[tokio::test]
    async fn an_existing_recovery_point_is_the_rpo_and_too_old_fails_with_its_age() {
        use crate::recovery::{
            BackupSource, Chosen, Prefer, RecoveryPoint, RecoveryPointReport, SourceSpec,
        };
        let mut f = fixture();
        let times = drill(&mut f, 33).await;
        let spec = SourceSpec {
            source: BackupSource::Latest,
            window: None,
            prefer: Prefer::Any,
        };
        // (age of the point at the fault, objective, RPO met)
        let table: &[(Duration, Duration, bool)] = &[
            (Duration::from_hours(20), Duration::from_hours(24), true),
            (Duration::from_hours(74), Duration::from_hours(24), false),
            (
                Duration::from_hours(24 * 400),
                Duration::from_hours(24 * 365),
                false,
            ),
        ];
        for (age, objective, met) in table {
            let chosen = Chosen {
                point: RecoveryPoint::new("snap-1", times.1.utc - *age, "snapshot"),
                candidates: 1,
                listed: 1,
            };
            let point = RecoveryPointReport::new(&chosen, &spec, 0, times.1.utc);
            let mut e = evidence(&f, times, Some(1));
            e.canary = None;
            e.recovered = None;
            e.objectives.rpo = *objective;
            e.recovery_point = Some(&point);
            let a = assess(&e);
            let rpo = a.rpo.unwrap();
            assert_eq!(rpo.method, MeasureMethod::RecoveryPoint);
            assert_eq!((rpo.value, rpo.met), (*age, *met), "{age:?}");
            if *met {
                assert!(codes(&a).is_empty(), "{:?}", a.findings);
                assert_eq!(a.verdict, Verdict::Passed);
            } else {
                assert_eq!(codes(&a), ["recovery-point.too-old"]);
                assert!(
                    a.findings[0]
                        .message
                        .contains("older than the RPO objective")
                );
                assert_eq!(a.verdict, Verdict::Failed);
            }
        }
    }

    #[tokio::test]
    async fn every_way_to_fall_short_has_its_finding_and_verdict() {
        type Change = fn(&mut DrillEvidence<'_>);
        let cases: &[(&str, u64, Change, &[&str], Verdict)] = &[
            (
                "RTO missed",
                93,
                |_| {},
                &["rpo.canaries-lost", "rto.missed"],
                Verdict::Failed,
            ),
            (
                "RPO missed",
                33,
                |e| e.objectives.rpo = Duration::from_secs(2),
                &["rpo.canaries-lost", "rpo.missed"],
                Verdict::Failed,
            ),
            (
                "no canary came back",
                33,
                |e| e.recovered = None,
                &["rpo.no-canary-recovered"],
                Verdict::Failed,
            ),
            (
                "validation did not run",
                33,
                |e| {
                    e.validated = false;
                    e.validate_end = None;
                },
                &[],
                Verdict::Failed,
            ),
            (
                "environment error",
                33,
                |e| {
                    e.validated = false;
                    e.validate_end = None;
                    e.environment_error = true;
                },
                &[],
                Verdict::Error,
            ),
            (
                "no canaries: RPO from the backup",
                33,
                |e| e.canary = None,
                &[],
                Verdict::Passed,
            ),
            (
                "no canaries, backup older than the RPO",
                33,
                |e| {
                    e.canary = None;
                    e.objectives.rpo = Duration::from_secs(1);
                },
                &["rpo.missed"],
                Verdict::Failed,
            ),
        ];
        for (name, after, change, want, verdict) in cases {
            let mut f = fixture();
            let times = drill(&mut f, *after).await;
            let mut e = evidence(&f, times, Some(1));
            change(&mut e);
            let a = assess(&e);
            assert_eq!(codes(&a), *want, "{name}");
            assert_eq!(a.verdict, *verdict, "{name}");
        }
    }

    #[tokio::test]
    async fn failed_and_unverified_checks() {
        let mut f = fixture();
        let times = drill(&mut f, 33).await;
        f.checks.push(Check::new(
            "row counts",
            CheckStatus::NotVerified,
            "no database",
        ));
        let a = assess(&evidence(&f, times, Some(1)));
        assert_eq!(codes(&a), ["rpo.canaries-lost", "checks.not-verified"]);
        assert_eq!(
            a.verdict,
            Verdict::Passed,
            "not verified is reported, not failed"
        );
        f.checks.push(Check::compare("objects restored", 20, 19));
        let a = assess(&evidence(&f, times, Some(1)));
        assert!(a.rto.is_none());
        assert_eq!(codes(&a)[0], "rto.not-recovered");
        assert_eq!(a.verdict, Verdict::Failed);
    }

    #[tokio::test]
    async fn cancelled_and_failed_stages() {
        let mut f = fixture();
        let times = drill(&mut f, 33).await;
        f.stages[5].outcome = Outcome::Failed;
        assert_eq!(
            assess(&evidence(&f, times, Some(1))).verdict,
            Verdict::Failed,
            "cleanup failed"
        );
        f.stages[4].outcome = Outcome::Cancelled;
        assert_eq!(
            assess(&evidence(&f, times, Some(1))).verdict,
            Verdict::Aborted
        );
    }

    #[tokio::test]
    async fn an_error_finding_from_a_stage_fails_the_drill() {
        let mut f = fixture();
        let times = drill(&mut f, 33).await;
        f.findings
            .push(Finding::error("s3.objects-lost", "3 object(s) lost"));
        assert_eq!(
            assess(&evidence(&f, times, Some(1))).verdict,
            Verdict::Failed
        );
    }
}
