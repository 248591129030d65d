//! A fixed report for snapshot and property tests: two targets, one that
//! passes with canaries and one that misses its RTO, with fixed times, ids
//! and ARNs so every rendering is reproducible.

use std::collections::BTreeMap;
use std::time::Duration;

use time::OffsetDateTime;
use time::macros::datetime;

use super::{
    CleanupReport, EnvironmentInfo, Provenance, Report, SCHEMA_VERSION, ScenarioInfo, TargetReport,
};
use firedrill_core::canary::RecoveredCanary;
use firedrill_core::canary::{CanaryReport, CanaryWrite};
use firedrill_core::recovery::{ProvenPoint, RecoveryPointReport};
use firedrill_core::timing::Timing;
use firedrill_core::{Check, CheckStatus, Finding, RequestId};
use firedrill_core::{MeasureMethod, Measured, Objectives, Outcome, Stage, StageRecord, Verdict};

/// How old the archive's recovery point was at its fault.
const ARCHIVE_POINT_AGE: Duration = Duration::from_hours(74);

pub(crate) const T0: OffsetDateTime = datetime!(2026-03-01 09:00:00 UTC);

fn at(ms: u64) -> OffsetDateTime {
    T0 + Duration::from_millis(ms)
}

fn stage(stage: Stage, outcome: Outcome, from: u64, to: u64, detail: &str) -> StageRecord {
    StageRecord {
        stage,
        outcome,
        timing: Some(Timing {
            started_at: at(from),
            finished_at: at(to),
            duration: Duration::from_millis(to - from),
            error: Duration::from_millis(if stage == Stage::Restore { 250 } else { 0 }),
        }),
        emulated: true,
        detail: detail.to_string(),
        request_ids: Vec::new(),
        facts: BTreeMap::new(),
    }
}

fn req(op: &str, id: &str) -> RequestId {
    RequestId {
        operation: op.to_string(),
        request_id: id.to_string(),
    }
}

pub(crate) const SCENARIO_TEXT: &str = "name = \"orders-drill\"\ncontrols = [\"SOC2-A1.3\", \"ISO27001-A.8.13\"]\n\n[environment]\nregion = \"us-east-1\"\nendpoint_url = \"http://127.0.0.1:4566\"\n\n[objectives]\nrto = \"2m\"\nrpo = \"30s\"\n";

/// The fixed report.
pub(crate) fn report() -> Report {
    let objectives = Objectives {
        rto: Duration::from_mins(2),
        rpo: Duration::from_secs(30),
    };
    Report {
        schema_version: SCHEMA_VERSION,
        firedrill_version: "0.1.0".into(),
        run_id: "20260301-090000-abc123".into(),
        scenario: ScenarioInfo {
            name: "orders-drill".into(),
            description: "Prove the orders bucket restores within 2 minutes.".into(),
            owner: "sre@example.com".into(),
            path: "scenarios/orders.toml".into(),
            sha256: "0".repeat(64),
        },
        environment: EnvironmentInfo {
            region: "us-east-1".into(),
            emulated: true,
            endpoints: BTreeMap::from([("s3".to_string(), "http://127.0.0.1:4566".to_string())]),
            account_id: Some("000000000000".into()),
        },
        objectives,
        started_at: T0,
        finished_at: at(8_000),
        duration: Duration::from_secs(8),
        verdict: Verdict::Failed,
        exit_code: 1,
        aborted: None,
        targets: vec![orders(objectives), archive()],
        findings: vec![Finding::warning(
            "rto.regression",
            "target `orders`: RTO 3.9s is 95% above the median 2.0s of the last 3 run(s) (threshold 50%)",
        )],
        cleanup: CleanupReport {
            complete: true,
            created: 4,
            deleted: 4,
            remaining: Vec::new(),
            retained: Vec::new(),
        },
        provenance: Provenance {
            operator: "operator@drill-host".into(),
            scenario_text: SCENARIO_TEXT.into(),
            timing_source: "emulated".into(),
            scenario_text_redacted: false,
        },
        api_calls: BTreeMap::new(),
        controls: vec!["SOC2-A1.3".into(), "ISO27001-A.8.13".into()],
        seed: Some(42),
        levels: Vec::new(),
        selections: vec![firedrill_core::select::SelectionReport {
            target: "fleet".into(),
            kind: "s3-bucket".into(),
            tags: BTreeMap::from([("backup-tier".into(), "gold".into())]),
            want: firedrill_core::select::Want::Count(2),
            matched: 6,
            selected: vec!["orders-eu".into(), "orders-us".into()],
            seed: 42,
            duration_ms: 37,
        }],
        gates: Vec::new(),
        hooks: Vec::new(),
        app_rto: None,
    }
}

/// A target that passed, with canaries and request ids.
fn orders(objectives: Objectives) -> TargetReport {
    let mut backup = stage(
        Stage::Backup,
        Outcome::Passed,
        400,
        2_400,
        "copied 20 objects (81 KiB) to s3://firedrill-20260301-090000-abc123-0-backup",
    );
    backup
        .request_ids
        .push(req("CreateBucket", "REQ-CREATE-0001"));
    let mut restore = stage(
        Stage::Restore,
        Outcome::Passed,
        3_100,
        6_000,
        "restored 20 objects into s3://firedrill-20260301-090000-abc123-0-restore",
    );
    restore
        .request_ids
        .push(req("CreateBucket", "REQ-RESTORE-0002"));
    let mut cleanup = stage(
        Stage::Cleanup,
        Outcome::Passed,
        7_000,
        7_600,
        "deleted 2 scratch buckets",
    );
    cleanup
        .request_ids
        .push(req("DeleteBucket", "REQ-DELETE-0003"));
    TargetReport {
        name: "orders".into(),
        kind: "s3-bucket".into(),
        resource: "arn:aws:s3:::orders-prod".into(),
        objectives,
        verdict: Verdict::Passed,
        stages: vec![
            stage(
                Stage::Preflight,
                Outcome::Passed,
                0,
                300,
                "bucket orders-prod: 20 objects, versioning off",
            ),
            backup,
            stage(
                Stage::Fault,
                Outcome::Passed,
                3_000,
                3_100,
                "deleted 10 of 20 objects (share 0.5)",
            ),
            restore,
            stage(
                Stage::Validate,
                Outcome::Passed,
                6_000,
                6_900,
                "20 objects match the backup manifest",
            ),
            cleanup,
        ],
        checks: vec![
            Check::new(
                "object-count",
                CheckStatus::Passed,
                "20 of 20 objects present",
            ),
            Check::new(
                "content-sha256",
                CheckStatus::Passed,
                "20 of 20 objects match",
            ),
        ],
        findings: vec![Finding::info("fault.share", "deleted 10 objects")],
        canary: Some(CanaryReport {
            location: "s3://orders-prod/firedrill-canary/".into(),
            interval: Duration::from_secs(1),
            written: 3,
            last_written: Some(CanaryWrite {
                seq: 3,
                written_at: at(2_900),
                latency: Duration::from_millis(20),
            }),
            newest_recovered: Some(RecoveredCanary {
                seq: 2,
                written_at: at(1_900),
            }),
            lost_writes: 1,
            measured_rpo: Some(Duration::from_millis(1_100)),
            snapshot_rpo: Some(Duration::from_millis(600)),
        }),
        rto: Some(Measured {
            value: Duration::from_millis(3_900),
            error: Duration::from_millis(250),
            objective: objectives.rto,
            met: true,
            emulated: true,
            method: MeasureMethod::RestoreValidated,
        }),
        rpo: Some(Measured {
            value: Duration::from_millis(1_100),
            error: Duration::from_millis(20),
            objective: objectives.rpo,
            met: true,
            emulated: true,
            method: MeasureMethod::Canary,
        }),
        retained: Vec::new(),
        recovery_point: None,
        last_proven: None,
        critical: true,
    }
}

/// A target that failed: an object lost, RTO missed.
fn archive() -> TargetReport {
    let slow_objectives = Objectives {
        rto: Duration::from_secs(2),
        rpo: Duration::from_secs(30),
    };
    TargetReport {
        name: "archive".into(),
        kind: "s3-bucket".into(),
        resource: "arn:aws:s3:::archive-prod".into(),
        objectives: slow_objectives,
        verdict: Verdict::Failed,
        stages: vec![
            stage(
                Stage::Preflight,
                Outcome::Passed,
                0,
                200,
                "bucket archive-prod: 5 objects",
            ),
            stage(
                Stage::Backup,
                Outcome::Passed,
                300,
                1_300,
                "copied 5 objects",
            ),
            stage(
                Stage::Fault,
                Outcome::Passed,
                1_500,
                1_600,
                "deleted 5 of 5 objects",
            ),
            stage(
                Stage::Restore,
                Outcome::Passed,
                1_600,
                5_000,
                "restored 4 objects",
            ),
            stage(
                Stage::Validate,
                Outcome::Failed,
                5_000,
                5_400,
                "1 object missing: reports/2025.csv",
            ),
            stage(
                Stage::Cleanup,
                Outcome::Passed,
                5_500,
                6_000,
                "deleted 2 scratch buckets",
            ),
            StageRecord {
                stage: Stage::Copy,
                outcome: Outcome::Skipped,
                timing: None,
                emulated: true,
                detail: "no cross-region copy configured".into(),
                request_ids: Vec::new(),
                facts: BTreeMap::new(),
            },
        ],
        checks: vec![Check::new(
            "object-count",
            CheckStatus::Failed,
            "4 of 5 objects present",
        )],
        findings: vec![
            Finding::error("rto.missed", "RTO 3.9s exceeds the objective 2.0s"),
            Finding::error(
                "recovery-point.too-old",
                "recovery point snap-0archive000000001 was 3d 2h old at the fault (created 2026-02-26T07:00:01.5Z), older than the RPO objective of 30.0s",
            ),
            Finding::error(
                "validate.object-missing",
                "reports/2025.csv is missing from the restored copy",
            ),
        ],
        canary: None,
        rto: Some(Measured {
            value: Duration::from_millis(3_900),
            error: Duration::from_millis(250),
            objective: slow_objectives.rto,
            met: false,
            emulated: true,
            method: MeasureMethod::RestoreValidated,
        }),
        rpo: Some(Measured {
            value: ARCHIVE_POINT_AGE,
            error: Duration::ZERO,
            objective: slow_objectives.rpo,
            met: false,
            emulated: true,
            method: MeasureMethod::RecoveryPoint,
        }),
        retained: Vec::new(),
        recovery_point: Some(RecoveryPointReport {
            id: "snap-0archive000000001".into(),
            label: "snapshot".into(),
            created_at: at(1_500) - ARCHIVE_POINT_AGE,
            source: "random".into(),
            window: Some("7d".into()),
            seed: Some(7_310_255_114_151_305_421),
            candidates: 4,
            age_at_fault: ARCHIVE_POINT_AGE,
            proven_before: None,
        }),
        last_proven: Some(ProvenPoint {
            resource: "arn:aws:s3:::archive-prod".into(),
            id: "snap-0archive000000000".into(),
            at: T0 - Duration::from_hours(24 * 30),
        }),
        critical: true,
    }
}
