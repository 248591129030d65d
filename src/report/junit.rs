//! `junit.xml` for CI dashboards: one test suite per target, one test case
//! per stage and one per objective (RTO, RPO); failures carry the finding.

use std::io::{self, Write};

use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

use super::{Report, TargetReport};
use firedrill_core::timing::human;
use firedrill_core::{Measured, Outcome};

/// File name inside the run directory.
pub const FILE: &str = "junit.xml";

fn finding_text(t: &TargetReport, prefix: &str) -> Option<String> {
    t.findings
        .iter()
        .find(|f| f.code.starts_with(prefix))
        .map(|f| format!("{} [{}]", f.message, f.code))
}

fn objective_case(
    classname: &str,
    t: &TargetReport,
    name: &str,
    m: Option<&Measured>,
    code_prefix: &str,
) -> TestCase {
    let status = match m {
        Some(m) if m.met => TestCaseStatus::success(),
        Some(m) => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type("objective-missed");
            s.set_message(format!(
                "{name} {} (±{}) exceeds the objective {}",
                human(m.value),
                human(m.error),
                human(m.objective)
            ));
            if let Some(text) = finding_text(t, code_prefix) {
                s.set_description(text);
            }
            s
        }
        None => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type("not-measured");
            s.set_message(
                finding_text(t, code_prefix).unwrap_or_else(|| format!("{name} was not measured")),
            );
            s
        }
    };
    let mut case = TestCase::new(name, status);
    case.set_classname(classname);
    if let Some(m) = m {
        case.set_time(m.value);
        case.add_property(Property::new(
            "objective_ms",
            m.objective.as_millis().to_string(),
        ));
        case.add_property(Property::new("error_ms", m.error.as_millis().to_string()));
        case.add_property(Property::new(
            "timing",
            if m.emulated { "emulated" } else { "real" },
        ));
    }
    case
}

/// Build the `JUnit` report.
pub fn build(report: &Report) -> quick_junit::Report {
    let mut junit = quick_junit::Report::new(format!("firedrill {}", report.scenario.name));
    junit.set_time(report.duration);
    for t in &report.targets {
        let classname = format!("{}.{}", report.scenario.name, t.name);
        let mut suite = TestSuite::new(t.name.clone());
        suite.add_property(Property::new("run_id", report.run_id.clone()));
        suite.add_property(Property::new("kind", t.kind.clone()));
        suite.add_property(Property::new("resource", t.resource.clone()));
        suite.add_property(Property::new(
            "scenario_sha256",
            report.scenario.sha256.clone(),
        ));
        suite.add_property(Property::new("account", report.account_label()));
        suite.add_property(Property::new("region", report.environment.region.clone()));
        suite.add_property(Property::new(
            "operator",
            report.provenance.operator.clone(),
        ));
        suite.add_property(Property::new(
            "firedrill_version",
            report.firedrill_version.clone(),
        ));
        for c in &report.controls {
            suite.add_property(Property::new("control", c.clone()));
        }
        if let Some(p) = &t.recovery_point {
            suite.add_property(Property::new("recovery_point_id", p.id.clone()));
            suite.add_property(Property::new(
                "recovery_point_created_at",
                super::view::time(p.created_at),
            ));
            suite.add_property(Property::new(
                "recovery_point_age_ms",
                p.age_at_fault.as_millis().to_string(),
            ));
        }
        if let Some(l) = super::recovery::last_proven_line(t) {
            suite.add_property(Property::new("last_proven", l));
        }
        for s in &t.stages {
            let status = match s.outcome {
                Outcome::Passed => TestCaseStatus::success(),
                Outcome::Skipped => {
                    let mut st = TestCaseStatus::skipped();
                    st.set_message(s.detail.clone());
                    st
                }
                Outcome::Failed | Outcome::TimedOut | Outcome::Cancelled => {
                    let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    st.set_type(s.outcome.to_string());
                    st.set_message(s.detail.clone());
                    if let Some(text) = finding_text(t, s.stage.as_str()) {
                        st.set_description(text);
                    }
                    st
                }
            };
            let mut case = TestCase::new(s.stage.to_string(), status);
            case.set_classname(classname.clone());
            if let Some(tm) = s.timing {
                case.set_time(tm.duration);
                case.add_property(Property::new("error_ms", tm.error.as_millis().to_string()));
            }
            case.add_property(Property::new(
                "timing",
                if s.emulated { "emulated" } else { "real" },
            ));
            for r in &s.request_ids {
                case.add_property(Property::new(
                    format!("request_id.{}", r.operation),
                    r.request_id.clone(),
                ));
            }
            suite.add_test_case(case);
        }
        suite.add_test_case(objective_case(&classname, t, "RTO", t.rto.as_ref(), "rto."));
        suite.add_test_case(objective_case(&classname, t, "RPO", t.rpo.as_ref(), "rpo."));
        junit.add_test_suite(suite);
    }
    if !report.gates.is_empty() {
        junit.add_test_suite(application_suite(report));
    }
    junit
}

/// The application's gates, a case each, and its RTO.
fn application_suite(report: &Report) -> TestSuite {
    let classname = format!("{}.application", report.scenario.name);
    let mut suite = TestSuite::new("application");
    for l in report.levels.iter().enumerate() {
        suite.add_property(Property::new(format!("level.{}", l.0), l.1.join(",")));
    }
    for g in &report.gates {
        let status = match g.outcome {
            Outcome::Passed => TestCaseStatus::success(),
            Outcome::Skipped => {
                let mut st = TestCaseStatus::skipped();
                st.set_message(g.detail.clone());
                st
            }
            _ => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_type(g.outcome.to_string());
                st.set_message(g.detail.clone());
                if let Some(o) = &g.output {
                    st.set_description(format!("{}{}", o.stdout, o.stderr));
                }
                st
            }
        };
        let mut case = TestCase::new(format!("gate {}", g.name), status);
        case.set_classname(classname.clone());
        if let (Some(s), Some(p)) = (g.started_at, g.passed_at) {
            case.set_time((p - s).unsigned_abs());
        }
        case.add_property(Property::new("kind", g.kind.as_str()));
        case.add_property(Property::new("critical", g.critical.to_string()));
        case.add_property(Property::new("attempts", g.attempt_count.to_string()));
        suite.add_test_case(case);
    }
    let status = match report.app_rto {
        Some(a) if a.met != Some(false) => TestCaseStatus::success(),
        _ => {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_message(super::app_view::app_rto_line(report).unwrap_or_default());
            st
        }
    };
    let mut case = TestCase::new("application RTO", status);
    case.set_classname(classname);
    if let Some(a) = report.app_rto {
        case.set_time(a.value);
        case.add_property(Property::new("error_ms", a.error.as_millis().to_string()));
    }
    suite.add_test_case(case);
    suite
}

/// Write `junit.xml`.
pub fn write<W: Write>(report: &Report, out: W) -> io::Result<()> {
    build(report)
        .serialize(out)
        .map_err(|e| io::Error::other(e.to_string()))
}
