//! Metrics through the real CLI and real Prometheus tools: a drill against
//! `LocalStack` writes the textfile that `promtool check metrics` accepts
//! and pushes to a real Pushgateway (`scripts/setup-pushgateway`); the alert
//! rules pass `promtool check rules` and `promtool test rules`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{
    Workspace, drop_bucket, emulator_environment, require, s3, seed_bucket, unique,
};

/// The Pushgateway `make test` starts (`scripts/setup-pushgateway`).
fn pushgateway() -> String {
    let port = std::env::var("FIREDRILL_PUSHGATEWAY_PORT").unwrap_or_else(|_| "59091".into());
    let url = format!("http://127.0.0.1:{port}");
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    assert!(
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).is_ok(),
        "no Pushgateway at {url}: start it with `scripts/setup-pushgateway` (or run `make test`)"
    );
    url
}

/// `promtool`, from Debian's `prometheus` package: missing is a failure.
fn promtool() -> Command {
    let bin = "/usr/bin/promtool";
    assert!(
        Path::new(bin).is_file(),
        "{bin} is missing: `apt-get install --no-install-recommends prometheus` (scripts/setup-pushgateway does)"
    );
    Command::new(bin)
}

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus")
}

/// A bare HTTP/1.0 request without a body (no client crate needed).
fn http(method: &str, base: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let host = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(s, "{method} {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test]
async fn metrics_reach_a_real_pushgateway_and_the_textfile_passes_promtool() {
    let gateway = pushgateway();
    let s3 = s3().await;
    let bucket = unique("fd-metrics");
    seed_bucket(&s3, &bucket, 4).await;
    let ws = Workspace::new();
    let name = unique("metrics").replace('-', "_");
    let text = format!(
        "name = \"{name}\"\n{}\n[objectives]\nrto = \"2m\"\nrpo = \"30s\"\n\n[[targets]]\nname = \"data\"\nkind = \"s3-bucket\"\nbucket = \"{bucket}\"\n",
        emulator_environment()
    );
    let file = ws.scenario(&name, &text);
    let textfile = ws.path().join("textfile").join("firedrill.prom");
    std::fs::create_dir_all(textfile.parent().unwrap()).unwrap();
    let ran = ws
        .firedrill()
        .args(["run", "--yes", "--quiet", "--metrics-file"])
        .arg(&textfile)
        .arg("--pushgateway")
        .arg(&gateway)
        .arg(&file)
        .run();
    ran.code(0);
    let report = ws.report(&name);
    assert_eq!(report["verdict"], "passed");
    let rto = report["targets"][0]["rto"]["value_ms"].as_u64().unwrap() as f64 / 1000.0;

    // The textfile: only the .prom file is left, and promtool accepts it.
    let prom = std::fs::read_to_string(&textfile).unwrap();
    let names: Vec<_> = std::fs::read_dir(textfile.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, ["firedrill.prom"], "no temporary file left");
    let mut check = promtool()
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(check.stdin.as_mut().unwrap(), prom.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{prom}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(prom.contains(&format!(
        "firedrill_drill_success{{scenario=\"{name}\"}} 1\n"
    )));
    assert!(
        prom.contains(&format!(
            "firedrill_rto_seconds{{scenario=\"{name}\",target=\"data\"}} {rto}\n"
        )),
        "{prom}"
    );

    // The Pushgateway holds the same series under job="firedrill".
    let page = http("GET", &gateway, "/metrics");
    assert!(page.starts_with("HTTP/1.0 200") || page.starts_with("HTTP/1.1 200"));
    let series: Vec<&str> = page
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(&format!("scenario=\"{name}\"")))
        .collect();
    for (metric, value) in [
        ("firedrill_drill_success", Some("1".to_string())),
        ("firedrill_drill_exit_code", Some("0".to_string())),
        ("firedrill_scratch_resources_left", Some("0".to_string())),
        ("firedrill_rto_seconds", Some(rto.to_string())),
        ("firedrill_rto_objective_seconds", Some("120".to_string())),
        ("firedrill_rpo_objective_seconds", Some("30".to_string())),
        ("firedrill_stage_duration_seconds", None),
        ("firedrill_api_requests_total", None),
        ("firedrill_last_run_timestamp_seconds", None),
        ("firedrill_last_success_timestamp_seconds", None),
    ] {
        let line = series
            .iter()
            .find(|l| l.starts_with(&format!("{metric}{{")))
            .unwrap_or_else(|| panic!("{metric} not on the Pushgateway:\n{}", series.join("\n")));
        assert!(line.contains("job=\"firedrill\""), "{line}");
        if let Some(v) = value {
            let got: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            assert!(
                (got - v.parse::<f64>().unwrap()).abs() < 1e-6,
                "{line} (expected {v})"
            );
        }
    }
    let pushed = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "metrics.pushed");
    assert!(pushed, "{:#}", report["findings"]);
    // Leave the shared Pushgateway as it was.
    let deleted = http(
        "DELETE",
        &gateway,
        &format!("/metrics/job/firedrill/scenario/{name}"),
    );
    assert!(deleted.contains(" 202 "), "{deleted}");
    assert!(!http("GET", &gateway, "/metrics").contains(&name));
    drop_bucket(&s3, &bucket).await;
}

#[test]
fn unreachable_pushgateway_is_a_warning_not_a_failure() {
    require(&crate::support::s3_endpoint());
    let ws = Workspace::new();
    // A scenario whose bucket does not exist: the drill stops at preflight
    // with exit code 3 either way; the push failure does not change it.
    let text = format!(
        "name = \"metrics-down\"\n{}\n[objectives]\nrto = \"2m\"\nrpo = \"30s\"\n\n[[targets]]\nname = \"data\"\nkind = \"s3-bucket\"\nbucket = \"{}\"\n",
        emulator_environment(),
        unique("fd-missing")
    );
    let file = ws.scenario("metrics-down", &text);
    // Port 1 (tcpmux): nothing listens there, and unlike a port bound
    // and dropped it is never handed to a concurrent test's server.
    let port = 1;
    let ran = ws
        .firedrill()
        .args(["run", "--yes", "--quiet", "--pushgateway"])
        .arg(format!("http://127.0.0.1:{port}"))
        .arg(&file)
        .run();
    ran.code(3);
    assert!(
        ran.stderr.contains("cannot push the metrics"),
        "{}",
        ran.stderr
    );
    let report = ws.report("metrics-down");
    assert_eq!(report["exit_code"], 3);
}

#[test]
fn alert_rules_pass_promtool_check_and_their_unit_tests() {
    let dir = rules_dir();
    let check = promtool()
        .args(["check", "rules", "alerts.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(out.contains("SUCCESS: 5 rules found"), "{out}");
    let test = promtool()
        .args(["test", "rules", "alerts_test.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&test.stdout);
    assert!(
        test.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&test.stderr)
    );
    assert!(out.contains("SUCCESS"), "{out}");
    // Every alert of the rules file has a test case.
    let rules = std::fs::read_to_string(dir.join("alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(dir.join("alerts_test.yml")).unwrap();
    for alert in rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
    {
        assert!(
            tests.contains(&format!(
                "alertname: {alert}\n        exp_alerts:\n          -"
            )),
            "{alert} has no test case where it fires"
        );
    }
}
