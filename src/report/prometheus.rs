//! Prometheus text exposition format (0.0.4) of a finished run: for
//! `node_exporter`'s textfile collector (`run --metrics-file`) and the
//! Pushgateway (`run --pushgateway`). Names follow Prometheus conventions:
//! base units (seconds), `_total` for counts, a `scenario` label on every
//! series.

use std::io::{self, Write};
use std::time::Duration;

use time::OffsetDateTime;

use super::Report;
use firedrill_core::{Measured, Verdict};

/// Content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every metric family written, with its type and help, in output order.
pub const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "firedrill_drill_success",
        "gauge",
        "1 when the last drill passed, 0 otherwise.",
    ),
    (
        "firedrill_drill_exit_code",
        "gauge",
        "Exit code of the last drill (0 passed, 1 objectives missed, 3 environment, 4 cleanup incomplete).",
    ),
    (
        "firedrill_drill_duration_seconds",
        "gauge",
        "Wall time of the last drill.",
    ),
    (
        "firedrill_rto_seconds",
        "gauge",
        "Measured recovery time of a target in the last drill.",
    ),
    (
        "firedrill_rto_error_seconds",
        "gauge",
        "Measurement error bound of the RTO: the true value lies within [value - error, value].",
    ),
    (
        "firedrill_rto_objective_seconds",
        "gauge",
        "Recovery time objective of a target.",
    ),
    (
        "firedrill_rpo_seconds",
        "gauge",
        "Measured recovery point (data loss window) of a target in the last drill.",
    ),
    (
        "firedrill_rpo_error_seconds",
        "gauge",
        "Measurement error bound of the RPO.",
    ),
    (
        "firedrill_rpo_objective_seconds",
        "gauge",
        "Recovery point objective of a target.",
    ),
    (
        "firedrill_stage_duration_seconds",
        "gauge",
        "Duration of a drill stage of a target in the last drill.",
    ),
    (
        "firedrill_api_requests_total",
        "counter",
        "AWS API requests the last drill sent, every attempt counted.",
    ),
    (
        "firedrill_api_retries_total",
        "counter",
        "AWS API requests of the last drill that were retries.",
    ),
    (
        "firedrill_api_throttled_total",
        "counter",
        "AWS API throttling answers the last drill received.",
    ),
    (
        "firedrill_scratch_resources_left",
        "gauge",
        "Scratch resources the last drill could not delete (run `firedrill reap`).",
    ),
    (
        "firedrill_last_run_timestamp_seconds",
        "gauge",
        "Start of the last drill, in seconds since the Unix epoch.",
    ),
    (
        "firedrill_last_success_timestamp_seconds",
        "gauge",
        "Start of the last passing drill, in seconds since the Unix epoch (0 when none has passed).",
    ),
];

/// One sample: family, labels, value.
type Sample = (&'static str, Vec<(&'static str, String)>, f64);

/// Seconds, to the millisecond `report.json` records.
fn secs(d: Duration) -> f64 {
    d.as_millis() as f64 / 1000.0
}

fn epoch(t: OffsetDateTime) -> f64 {
    t.unix_timestamp_nanos() as f64 / 1e9
}

/// Escape a label value: backslash, double quote and newline.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn measured(
    samples: &mut Vec<Sample>,
    prefix: &str,
    labels: &[(&'static str, String)],
    m: Option<&Measured>,
    objective: Duration,
) {
    let [value, error, obj] = match prefix {
        "rto" => [
            "firedrill_rto_seconds",
            "firedrill_rto_error_seconds",
            "firedrill_rto_objective_seconds",
        ],
        _ => [
            "firedrill_rpo_seconds",
            "firedrill_rpo_error_seconds",
            "firedrill_rpo_objective_seconds",
        ],
    };
    if let Some(m) = m {
        samples.push((value, labels.to_vec(), secs(m.value)));
        samples.push((error, labels.to_vec(), secs(m.error)));
    }
    samples.push((obj, labels.to_vec(), secs(objective)));
}

/// Every sample of a run. `last_success` is the start of the last passing
/// run of the scenario (this one included), from the history.
fn samples(report: &Report, last_success: Option<OffsetDateTime>) -> Vec<Sample> {
    let scenario = || vec![("scenario", report.scenario.name.clone())];
    let mut out: Vec<Sample> = vec![
        (
            "firedrill_drill_success",
            scenario(),
            f64::from(u8::from(report.verdict == Verdict::Passed)),
        ),
        (
            "firedrill_drill_exit_code",
            scenario(),
            f64::from(report.exit_code),
        ),
        (
            "firedrill_drill_duration_seconds",
            scenario(),
            secs(report.duration),
        ),
    ];
    for t in &report.targets {
        let labels = vec![
            ("scenario", report.scenario.name.clone()),
            ("target", t.name.clone()),
        ];
        measured(&mut out, "rto", &labels, t.rto.as_ref(), t.objectives.rto);
        measured(&mut out, "rpo", &labels, t.rpo.as_ref(), t.objectives.rpo);
        for s in &t.stages {
            if let Some(timing) = &s.timing {
                let mut l = labels.clone();
                l.push(("stage", s.stage.as_str().to_string()));
                out.push(("firedrill_stage_duration_seconds", l, secs(timing.duration)));
            }
        }
    }
    for (service, stats) in &report.api_calls {
        let l = vec![
            ("scenario", report.scenario.name.clone()),
            ("service", service.clone()),
        ];
        out.push((
            "firedrill_api_requests_total",
            l.clone(),
            stats.requests as f64,
        ));
        out.push((
            "firedrill_api_retries_total",
            l.clone(),
            stats.retries as f64,
        ));
        out.push(("firedrill_api_throttled_total", l, stats.throttled as f64));
    }
    out.push((
        "firedrill_scratch_resources_left",
        scenario(),
        report.cleanup.remaining.len() as f64,
    ));
    out.push((
        "firedrill_last_run_timestamp_seconds",
        scenario(),
        epoch(report.started_at),
    ));
    out.push((
        "firedrill_last_success_timestamp_seconds",
        scenario(),
        last_success.map_or(0.0, epoch),
    ));
    out
}

/// Write the run's metrics, grouped by family with `# HELP` and `# TYPE`.
pub fn write<W: Write>(
    report: &Report,
    last_success: Option<OffsetDateTime>,
    mut out: W,
) -> io::Result<()> {
    let samples = samples(report, last_success);
    for (name, kind, help) in FAMILIES {
        let mut family = samples.iter().filter(|(n, _, _)| n == name).peekable();
        if family.peek().is_none() {
            continue;
        }
        writeln!(out, "# HELP {name} {help}")?;
        writeln!(out, "# TYPE {name} {kind}")?;
        for (_, labels, value) in family {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            writeln!(out, "{name}{{{}}} {value}", labels.join(","))?;
        }
    }
    out.flush()
}

/// Write the metrics to `path` atomically: a temporary file in the same
/// directory, synced, then renamed over `path`, so the textfile collector
/// never reads half a file.
pub fn write_file(
    path: &std::path::Path,
    report: &Report,
    last_success: Option<OffsetDateTime>,
) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    // Not `*.prom`: the collector skips the file until the rename.
    let mut tmp = tempfile::Builder::new()
        .prefix(".firedrill-metrics-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    write(report, last_success, io::BufWriter::new(tmp.as_file_mut()))?;
    tmp.as_file().sync_all()?;
    // Readable by the collector, which often runs as another user.
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn every_sample_has_help_type_and_a_scenario_label() {
        let report = fixture::report();
        let mut out = Vec::new();
        write(&report, Some(report.started_at), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        insta::assert_snapshot!(text);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split('{').next().unwrap();
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} has no TYPE"
            );
            assert!(line.contains("scenario=\""), "{line}");
        }
        assert!(text.contains("firedrill_drill_success{scenario=\""));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn file_is_replaced_atomically_and_readable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("firedrill.prom");
        std::fs::write(&path, "old").unwrap();
        let report = fixture::report();
        write_file(&path, &report, None).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# HELP firedrill_drill_success"));
        assert!(
            text.contains(
                "firedrill_last_success_timestamp_seconds{scenario=\"orders-drill\"} 0\n"
            ),
            "never passed: 0\n{text}"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }
}
