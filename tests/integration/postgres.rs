//! Whole `postgres` drills against the local `PostgreSQL` server and
//! `LocalStack` S3. Each test seeds its own source database (dropped at the
//! end) and its own dump bucket, so the tests run in parallel.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Workspace, emulator_environment, s3, s3_endpoint, unique};

fn pg_url() -> String {
    std::env::var("FIREDRILL_PG_URL")
        .unwrap_or_else(|_| "postgres://firedrill@127.0.0.1:55432/postgres".into())
}

pub(crate) fn pg_password() -> String {
    std::env::var("FIREDRILL_PG_PASSWORD").unwrap_or_else(|_| "firedrill-demo-secret".into())
}

/// Host, port and user from `FIREDRILL_PG_URL`.
pub(crate) struct Server {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: String,
}

/// The server, or a panic with the fix when it is not running.
pub(crate) fn server() -> Server {
    let url = pg_url();
    let rest = url
        .split_once("://")
        .map(|(_, r)| r)
        .expect("FIREDRILL_PG_URL looks like postgres://user@host:port/db");
    let (user, rest) = rest.split_once('@').expect("user@ in FIREDRILL_PG_URL");
    let hostport = rest.split('/').next().unwrap();
    let (host, port) = hostport
        .rsplit_once(':')
        .expect("host:port in FIREDRILL_PG_URL");
    let s = Server {
        host: host.to_string(),
        port: port.parse().expect("numeric port"),
        user: user.to_string(),
    };
    let addr = format!("{}:{}", s.host, s.port);
    let ok = addr
        .parse::<std::net::SocketAddr>()
        .ok()
        .and_then(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).ok())
        .is_some();
    assert!(
        ok,
        "PostgreSQL at {addr} is not running: start it with `bash scripts/setup-postgres` (or run `make test`)"
    );
    s
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) async fn connect(db: &str) -> tokio_postgres::Client {
    let s = server();
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(&s.host)
        .port(s.port)
        .user(&s.user)
        .dbname(db)
        .password(pg_password());
    let (client, conn) = cfg.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

/// A seeded source database, dropped when the test ends.
pub(crate) struct SourceDb {
    pub(crate) name: String,
}

impl SourceDb {
    /// Create and fill a database with `localstack/seed-postgres-demo`.
    pub(crate) fn seed(orders: u64) -> Self {
        server();
        let name = unique("fd_pg").replace('-', "_");
        let out = Command::new("bash")
            .arg(root().join("localstack/seed-postgres-demo"))
            .env("FIREDRILL_PG_URL", pg_url())
            .env("FIREDRILL_PG_PASSWORD", pg_password())
            .env("FIREDRILL_SEED_DB", &name)
            .env("FIREDRILL_SEED_ORDERS", orders.to_string())
            .env("FIREDRILL_SEED_BUCKET", "")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "seeding failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { name }
    }
}

impl Drop for SourceDb {
    fn drop(&mut self) {
        let s = server();
        let _ = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-h",
                &s.host,
                "-p",
                &s.port.to_string(),
                "-U",
                &s.user,
                "-d",
                "postgres",
                "-c",
            ])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .env("PGPASSWORD", pg_password())
            .output();
    }
}

/// Row count and content hash of every table, for before/after comparisons.
pub(crate) async fn summary(db: &str) -> Vec<(String, i64, String)> {
    let c = connect(db).await;
    let mut out = Vec::new();
    for t in ["customers", "orders", "products"] {
        let row = c
            .query_one(
                &format!("SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') FROM {t} t"),
                &[],
            )
            .await
            .unwrap();
        out.push((t.to_string(), row.get(0), row.get(1)));
    }
    out
}

pub(crate) async fn table_exists(db: &str, table: &str) -> bool {
    connect(db)
        .await
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .unwrap()
        .get(0)
}

pub(crate) async fn databases_of_run(run_id: &str) -> Vec<String> {
    let pattern = format!("firedrill_{}%", run_id.replace('-', "_"));
    connect("postgres")
        .await
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE $1",
            &[&pattern],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A dump bucket for one test.
pub(crate) async fn bucket() -> String {
    let b = unique("fd-pgdump");
    s3().await.create_bucket().bucket(&b).send().await.unwrap();
    b
}

/// Assert nothing of the run is left, then delete the (empty) bucket.
async fn assert_clean(run_id: &str, source: &SourceDb, bucket: &str) {
    let s3 = s3().await;
    let left = crate::support::keys(&s3, bucket).await;
    assert!(left.is_empty(), "dump objects left behind: {left:?}");
    let uploads = s3
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    assert!(
        uploads.uploads().is_empty(),
        "unfinished uploads left behind"
    );
    assert!(
        databases_of_run(run_id).await.is_empty(),
        "scratch database left behind"
    );
    assert!(
        !table_exists(&source.name, "firedrill_canary").await,
        "canary table left in the source"
    );
    s3.delete_bucket().bucket(bucket).send().await.unwrap();
}

pub(crate) fn scenario(name: &str, db: &str, bucket: &str, rpo: &str, extra: &str) -> String {
    let s = server();
    format!(
        "name = \"{name}\"\n{}\n[objectives]\nrto = \"5m\"\nrpo = \"{rpo}\"\n\n[[targets]]\nname = \"db\"\nkind = \"postgres\"\nhost = \"{}\"\nport = {}\nuser = \"{}\"\ndatabase = \"{db}\"\npassword_env = \"FIREDRILL_PG_PASSWORD\"\n\n[targets.backup]\nbucket = \"{bucket}\"\n\n{extra}",
        emulator_environment(),
        s.host,
        s.port,
        s.user
    )
}

fn check<'a>(target: &'a Value, name: &str) -> &'a Value {
    target["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {:#}", target["checks"]))
}

fn stage<'a>(target: &'a Value, name: &str) -> &'a Value {
    target["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == name)
        .unwrap_or_else(|| panic!("no stage `{name}`"))
}

fn findings(target: &Value) -> Vec<String> {
    target["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect()
}

const CHECKS: &str = r#"
[[targets.check]]
name = "orders total"
query = "SELECT sum(amount) FROM orders"
expect = "baseline"

[[targets.check]]
name = "customers"
query = "SELECT count(*) FROM customers"
expect = 10000

[[targets.check]]
name = "orders range"
query = "SELECT count(*) FROM orders"
expect = { min = 100000, max = 100000 }
"#;

#[tokio::test]
async fn postgres_drill_passes_row_count_checksum_and_custom_checks() {
    crate::support::require(&s3_endpoint());
    let source = SourceDb::seed(100_000);
    let bucket = bucket().await;
    let ws = Workspace::new();
    let extra = format!(
        "[targets.canary]\ninterval = \"300ms\"\nwrites_after_backup = 0\n\n[targets.fault]\naction = \"delete-rows\"\ntable = \"orders\"\nwhere = \"id % 10 = 0\"\n{CHECKS}"
    );
    let file = ws.scenario(
        "pg-pass",
        &scenario("pg-pass", &source.name, &bucket, "30s", &extra),
    );
    ws.firedrill()
        .env("FIREDRILL_PG_PASSWORD", pg_password())
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(0);
    let report = ws.report("pg-pass");
    assert_eq!(report["verdict"], "passed");
    let t = &report["targets"][0];
    for name in [
        "table orders: row count",
        "table orders: checksum",
        "table customers: row count",
        "table customers: checksum",
        "table products: checksum",
        "check orders total",
        "check customers",
        "check orders range",
        "canary recovered",
    ] {
        assert_eq!(
            check(t, name)["status"],
            "passed",
            "{name}: {:#}",
            check(t, name)
        );
    }
    assert_eq!(check(t, "table orders: row count")["actual"], "100000");
    // The canary table is not user data: it is not baselined.
    assert!(!t["checks"].to_string().contains("table firedrill_canary"));
    let backup = stage(t, "backup");
    assert_eq!(backup["facts"]["sha256"].as_str().unwrap().len(), 64);
    // RPO: from the newest canary in the dump's snapshot (at most one interval
    // plus one write before the backup started) to the fault (right after
    // the backup). The canary's write latency is the reported error; 250 ms
    // more covers stage scheduling on a loaded machine.
    let rpo = t["rpo"]["value_ms"].as_u64().unwrap();
    let error = t["rpo"]["error_ms"].as_u64().unwrap();
    let backup_ms = backup["timing"]["duration_ms"].as_u64().unwrap();
    println!("measured RPO {rpo} ms ±{error} ms (backup {backup_ms} ms, interval 300 ms)");
    assert!(
        rpo <= 300 + backup_ms + error + 250,
        "RPO {rpo} ms > interval + backup {backup_ms} ms (+ error {error} ms)"
    );
    assert_eq!(t["rpo"]["method"], "canary");
    let manifest = ws.run_dir("pg-pass").join("db.pg-manifest.json");
    let m: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    assert_eq!(m["sha256"], backup["facts"]["sha256"]);
    assert_clean(report["run_id"].as_str().unwrap(), &source, &bucket).await;
}

#[tokio::test]
async fn postgres_writes_after_backup_are_lost_and_tight_rpo_fails() {
    crate::support::require(&s3_endpoint());
    let source = SourceDb::seed(100_000);
    let bucket = bucket().await;
    let ws = Workspace::new();
    let extra = "[targets.canary]\ninterval = \"250ms\"\nwrites_after_backup = 4\n\n[targets.fault]\naction = \"truncate\"\ntable = \"orders\"\n";
    let file = ws.scenario(
        "pg-rpo",
        &scenario("pg-rpo", &source.name, &bucket, "500ms", extra),
    );
    ws.firedrill()
        .env("FIREDRILL_PG_PASSWORD", pg_password())
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(1);
    let report = ws.report("pg-rpo");
    let t = &report["targets"][0];
    // Restore and validation passed: only the RPO objective failed.
    assert_eq!(check(t, "table orders: row count")["status"], "passed");
    let lost = t["canary"]["lost_writes"].as_u64().unwrap();
    assert!(lost >= 4, "only {lost} canary write(s) lost");
    let rpo = t["rpo"]["value_ms"].as_u64().unwrap();
    println!("measured RPO {rpo} ms with {lost} canary write(s) lost");
    assert!(
        rpo >= 4 * 250,
        "RPO {rpo} ms does not cover 4 writes after the backup"
    );
    assert_eq!(t["rpo"]["met"], false);
    let f = findings(t);
    assert!(
        f.iter().any(|m| m.contains("exceeds the objective")
            && m.contains(&format!("{lost} canary write(s) lost"))),
        "no RPO finding naming the lost writes: {f:?}"
    );
    assert_clean(report["run_id"].as_str().unwrap(), &source, &bucket).await;
}

#[tokio::test]
async fn postgres_check_expecting_post_fault_data_fails_naming_table_and_check() {
    crate::support::require(&s3_endpoint());
    let source = SourceDb::seed(100_000);
    let bucket = bucket().await;
    let ws = Workspace::new();
    // The check expects the data as it is after the fault; the restored copy
    // (from before the fault) must fail it.
    let extra = "[targets.canary]\ninterval = \"300ms\"\n\n[targets.fault]\naction = \"delete-rows\"\ntable = \"orders\"\nwhere = \"id <= 1000\"\n\n[[targets.check]]\nname = \"orders after the fault\"\nquery = \"SELECT count(*) FROM orders\"\nexpect = 99000\n";
    let file = ws.scenario(
        "pg-bad",
        &scenario("pg-bad", &source.name, &bucket, "30s", extra),
    );
    ws.firedrill()
        .env("FIREDRILL_PG_PASSWORD", pg_password())
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(1);
    let report = ws.report("pg-bad");
    assert_eq!(report["verdict"], "failed");
    let t = &report["targets"][0];
    let c = check(t, "check orders after the fault");
    assert_eq!(c["status"], "failed");
    assert_eq!(c["actual"], "\"100000\"");
    let f = findings(t);
    assert!(
        f.iter().any(|m| m.contains("orders after the fault")
            && m.contains("FROM orders")
            && m.contains("expected 99000, found \"100000\"")),
        "no finding naming the table and check: {f:?}"
    );
    // The restore kept the rows, and the revert put them back in the source.
    assert_eq!(check(t, "table orders: row count")["status"], "passed");
    assert_eq!(stage(t, "revert")["outcome"], "passed", "{t}");
    assert_eq!(summary(&source.name).await[1].1, 100_000);
    assert_clean(report["run_id"].as_str().unwrap(), &source, &bucket).await;
}

fn single_run(ws: &Workspace, scenario: &str) -> Option<PathBuf> {
    let dir = ws.reports().join(scenario);
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .next()
}

#[tokio::test]
async fn postgres_kill_during_restore_then_reap_removes_everything() {
    crate::support::require(&s3_endpoint());
    let source = SourceDb::seed(400_000);
    let before = summary(&source.name).await;
    let bucket = bucket().await;
    let ws = Workspace::new();
    let extra = "[targets.canary]\ninterval = \"300ms\"\n\n[targets.fault]\naction = \"none\"\n";
    let file = ws.scenario(
        "pg-kill",
        &scenario("pg-kill", &source.name, &bucket, "30s", extra),
    );
    let mut child = ws
        .firedrill()
        .env("FIREDRILL_PG_PASSWORD", pg_password())
        .args(["run", "--yes"])
        .arg(&file)
        .spawn();
    // Wait for the scratch database of this run to exist, then kill -9.
    let start = Instant::now();
    let run_id = loop {
        assert!(
            start.elapsed() < Duration::from_mins(2),
            "the restore never started"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the restore"
        );
        if let Some(dir) = single_run(&ws, "pg-kill") {
            let run_id = dir.file_name().unwrap().to_string_lossy().into_owned();
            if !databases_of_run(&run_id).await.is_empty() {
                break run_id;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let ledger = std::fs::read_to_string(ws.run_dir("pg-kill").join("ledger.jsonl")).unwrap();
    assert!(
        !ledger.contains("\"finished\""),
        "the run finished before the kill"
    );
    assert!(!databases_of_run(&run_id).await.is_empty());
    // The dump carries the run's tags, for reap by tag.
    let keys = crate::support::keys(&s3().await, &bucket).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let tags = s3()
        .await
        .get_object_tagging()
        .bucket(&bucket)
        .key(&keys[0])
        .send()
        .await
        .unwrap();
    assert!(
        tags.tag_set()
            .iter()
            .any(|t| t.key() == "firedrill:run-id" && t.value() == run_id),
        "{tags:?}"
    );

    // Reap reads the password from the variable the ledger names.
    let reaped = ws
        .firedrill()
        .env("FIREDRILL_PG_PASSWORD", pg_password())
        .arg("reap")
        .run();
    reaped.code(0);
    assert!(
        reaped.stdout.contains("removed 3 resource(s)"),
        "{}",
        reaped.stdout
    );
    assert_clean(&run_id, &source, &bucket).await;
    assert_eq!(
        summary(&source.name).await,
        before,
        "the source database changed"
    );
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn postgres_password_never_appears_in_output_or_run_files() {
    crate::support::require(&s3_endpoint());
    let source = SourceDb::seed(100_000);
    let bucket = bucket().await;
    let ws = Workspace::new();
    // A failing check and a restore server that refuses the password too, so
    // error paths are exercised as well as the happy path.
    let extra = format!(
        "[targets.canary]\ninterval = \"300ms\"\n\n[targets.fault]\naction = \"delete-rows\"\ntable = \"orders\"\nwhere = \"id % 2 = 0\"\n{CHECKS}\n[[targets.check]]\nname = \"wrong\"\nquery = \"SELECT current_user\"\nexpect = \"nobody\"\n"
    );
    let file = ws.scenario(
        "pg-secret",
        &scenario("pg-secret", &source.name, &bucket, "30s", &extra),
    );
    let ran = ws
        .firedrill()
        .env("FIREDRILL_PG_PASSWORD", pg_password())
        .env("RUST_LOG", "trace")
        .args(["-vvv", "run", "--yes"])
        .arg(&file)
        .run();
    ran.code(1);
    let bad_restore = scenario(
        "pg-secret-2",
        &source.name,
        &bucket,
        "30s",
        "[targets.restore]\npassword_env = \"FIREDRILL_WRONG_PASSWORD\"\n",
    );
    let file2 = ws.scenario("pg-secret-2", &bad_restore);
    let ran2 = ws
        .firedrill()
        .env("FIREDRILL_PG_PASSWORD", pg_password())
        .env(
            "FIREDRILL_WRONG_PASSWORD",
            format!("{}-wrong", pg_password()),
        )
        .env("RUST_LOG", "trace")
        .args(["-vvv", "run", "--yes"])
        .arg(&file2)
        .run();
    ran2.code(3);
    assert!(
        ran2.stdout.contains("password authentication failed")
            || ran2.stderr.contains("password authentication failed")
    );
    assert!(
        ran.stderr.lines().count() > 20,
        "trace logging produced no output"
    );
    let secret = pg_password();
    for (what, text) in [
        ("stdout", &ran.stdout),
        ("stderr", &ran.stderr),
        ("stdout (bad restore)", &ran2.stdout),
        ("stderr (bad restore)", &ran2.stderr),
    ] {
        assert!(!text.contains(&secret), "the password appears in {what}");
    }
    let files = files_under(&ws.reports());
    assert!(files.len() >= 4, "expected report files, found {files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&secret),
            "the password appears in {}",
            f.display()
        );
    }
    let report = ws.report("pg-secret");
    assert_clean(report["run_id"].as_str().unwrap(), &source, &bucket).await;
}

/// The shared SQL validation reports an unreachable endpoint as not
/// verified, never passed (what an RDS kind gets from moto).
#[tokio::test]
async fn unreachable_validation_endpoint_is_not_verified() {
    use firedrill::sql::{Baseline, ConnSpec, Expect, Password, SqlCheck, TableBaseline, TableRef};
    let spec = ConnSpec {
        host: "127.0.0.1".into(),
        port: 1,
        user: "firedrill".into(),
        database: "nothing".into(),
        password: Password::None,
        sslmode: None,
    };
    let baseline = Baseline {
        tables: vec![TableBaseline {
            table: TableRef::parse("orders"),
            rows: 10,
            checksum: "x".into(),
        }],
        checks: std::collections::BTreeMap::default(),
    };
    let checks = vec![SqlCheck {
        name: "n".into(),
        query: "SELECT 1".into(),
        expect: Expect::Number(1.0),
    }];
    let out = firedrill::sql::validate(&spec, &baseline, &checks).await;
    assert_eq!(out.len(), 3);
    for c in out {
        assert_eq!(c.status, firedrill_core::CheckStatus::NotVerified, "{c:?}");
        assert!(
            c.detail.contains("cannot connect to 127.0.0.1:1/nothing"),
            "{}",
            c.detail
        );
    }
}

#[tokio::test]
async fn postgres_kept_dump_survives_cleanup_untagged() {
    crate::support::require(&s3_endpoint());
    let source = SourceDb::seed(1_000);
    let bucket = bucket().await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "pg-keep",
        &scenario("pg-keep", &source.name, &bucket, "30s", "")
            .replace("[targets.backup]\n", "[targets.backup]\nkeep = true\n"),
    );
    ws.firedrill()
        .env("FIREDRILL_PG_PASSWORD", pg_password())
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(0);
    let report = ws.report("pg-keep");
    let run_id = report["run_id"].as_str().unwrap();
    let s3 = s3().await;
    let keys = crate::support::keys(&s3, &bucket).await;
    assert_eq!(keys, [format!("firedrill/{run_id}/0/{}.dump", source.name)]);
    let tags = s3
        .get_object_tagging()
        .bucket(&bucket)
        .key(&keys[0])
        .send()
        .await
        .unwrap();
    assert!(
        !tags.tag_set().iter().any(|t| t.key() == "firedrill:run-id"),
        "{tags:?}"
    );
    // Reap leaves a kept dump alone.
    ws.firedrill()
        .env("FIREDRILL_PG_PASSWORD", pg_password())
        .arg("reap")
        .run()
        .code(0);
    assert_eq!(crate::support::keys(&s3, &bucket).await.len(), 1);
    s3.delete_object()
        .bucket(&bucket)
        .key(&keys[0])
        .send()
        .await
        .unwrap();
    assert_clean(run_id, &source, &bucket).await;
}

/// A dump that dies half-way (a stand-in `pg_dump` first on PATH writes
/// 12 MiB, more than one part, then fails): the multipart upload is aborted,
/// nothing is left in the bucket, and no fault is injected.
#[tokio::test]
async fn postgres_failed_dump_aborts_the_upload() {
    crate::support::require(&s3_endpoint());
    let source = SourceDb::seed(1_000);
    let before = summary(&source.name).await;
    let bucket = bucket().await;
    let ws = Workspace::new();
    let bin = ws.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("pg_dump");
    std::fs::write(
        &fake,
        "#!/bin/sh\n[ \"$1\" = --version ] && { echo 'pg_dump (PostgreSQL) 15'; exit 0; }\nhead -c 12582912 /dev/zero\necho 'pg_dump: error: simulated failure' >&2\nexit 1\n",
    )
    .unwrap();
    Command::new("chmod")
        .arg("755")
        .arg(&fake)
        .status()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let extra = "[targets.fault]\naction = \"truncate\"\ntable = \"orders\"\n";
    let file = ws.scenario(
        "pg-dumpfail",
        &scenario("pg-dumpfail", &source.name, &bucket, "30s", extra),
    );
    let ran = ws
        .firedrill()
        .env("FIREDRILL_PG_PASSWORD", pg_password())
        .env("PATH", path)
        .args(["run", "--yes"])
        .arg(&file)
        .run();
    ran.code(1);
    let report = ws.report("pg-dumpfail");
    let t = &report["targets"][0];
    assert_eq!(stage(t, "backup")["outcome"], "failed");
    assert_eq!(stage(t, "fault")["outcome"], "skipped");
    let f = findings(t);
    assert!(f.iter().any(|m| m.contains("simulated failure")), "{f:?}");
    assert_eq!(
        summary(&source.name).await,
        before,
        "the source changed without a backup"
    );
    assert_clean(report["run_id"].as_str().unwrap(), &source, &bucket).await;
}

/// The dump is replaced in S3 between backup and restore (by the fault's
/// command: a fresh, valid dump of the same database, so `pg_restore`
/// succeeds): the SHA-256 of what was streamed no longer matches the
/// manifest and the restore fails.
#[tokio::test]
async fn postgres_dump_changed_in_s3_fails_the_restore() {
    crate::support::require(&s3_endpoint());
    let source = SourceDb::seed(1_000);
    let bucket = bucket().await;
    let s = server();
    let ws = Workspace::new();
    let command = format!(
        "key=$(curl -sf '{s3}/{bucket}?list-type=2' | grep -o '<Key>[^<]*' | cut -c6-) && PGPASSWORD=$FIREDRILL_PG_PASSWORD pg_dump -Fc -h {h} -p {p} -U {u} -d {db} | curl -sf -X PUT --data-binary @- \"{s3}/{bucket}/$key\"",
        s3 = s3_endpoint(),
        h = s.host,
        p = s.port,
        u = s.user,
        db = source.name
    );
    // `localhost` names the same server for the restore: the command does
    // not really stop it.
    let extra = format!(
        "[targets.fault]\naction = \"stop-server\"\ncommand = '''{command}'''\n\n[targets.restore]\nhost = \"localhost\"\n"
    );
    let file = ws.scenario(
        "pg-swap",
        &scenario("pg-swap", &source.name, &bucket, "30s", &extra),
    );
    ws.firedrill()
        .env("FIREDRILL_PG_PASSWORD", pg_password())
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(1);
    let report = ws.report("pg-swap");
    let t = &report["targets"][0];
    assert_eq!(stage(t, "fault")["outcome"], "passed");
    assert_eq!(stage(t, "restore")["outcome"], "failed");
    let f = findings(t);
    assert!(
        f.iter()
            .any(|m| m.contains("differs from the backup") && m.contains("SHA-256")),
        "{f:?}"
    );
    assert_clean(report["run_id"].as_str().unwrap(), &source, &bucket).await;
}

/// Row count and checksum of `table`'s rows with `id <= max_id`, computed
/// as `summary` computes a whole table.
async fn rows_up_to(db: &str, table: &str, max_id: i64) -> (i64, String) {
    let row = connect(db)
        .await
        .query_one(
            &format!("SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') FROM {table} t WHERE id::bigint <= $1"),
            &[&max_id],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// A fault, then an application writing 50 new rows while the drill runs:
/// the revert puts back exactly what the fault removed and keeps the new
/// rows. `written` is the table the application writes to (the faulted
/// one, unless the fault dropped it).
async fn undo_keeps_rows_written_after_the_fault(fault: &str, written: &str, put_back: &str) {
    const SEEDED: i64 = 20_000;
    crate::support::require(&s3_endpoint());
    let source = SourceDb::seed(SEEDED as u64);
    let before = summary(&source.name).await;
    let bucket = bucket().await;
    let ws = Workspace::new();
    let extra = format!("[targets.canary]\ninterval = \"300ms\"\n\n[targets.fault]\n{fault}\n");
    let file = ws.scenario(
        "pg-undo",
        &scenario("pg-undo", &source.name, &bucket, "30s", &extra),
    );
    let child = ws
        .firedrill()
        .env("FIREDRILL_PG_PASSWORD", pg_password())
        .args(["run", "--yes"])
        .arg(&file)
        .spawn();
    crate::signals::wait_until("the fault", Duration::from_mins(2), || {
        crate::signals::run_dir(&ws, "pg-undo")
            .is_some_and(|d| crate::signals::ledger_text(&d).contains("\"record\":\"fault-done\""))
    });
    // The application keeps writing: new ids, after the fault.
    let (first_new, max_old) = if written == "orders" {
        (1_000_001_i64, SEEDED)
    } else {
        (100_001_i64, 10_000)
    };
    let insert = if written == "orders" {
        "INSERT INTO orders SELECT i, 1, 1, 1, 9.99, 'placed', now() FROM generate_series($1::bigint, $1::bigint + 49) i"
    } else {
        "INSERT INTO customers SELECT i, 'New ' || i, 'new' || i || '@example.com', now() FROM generate_series($1::bigint, $1::bigint + 49) i"
    };
    connect(&source.name)
        .await
        .execute(insert, &[&first_new])
        .await
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report = ws.report("pg-undo");
    let t = &report["targets"][0];
    let revert = stage(t, "revert");
    assert_eq!(revert["outcome"], "passed", "{t:#}");
    assert!(
        revert["detail"].as_str().unwrap().contains(put_back),
        "the report says what was put back: {revert}"
    );
    // Every pre-fault row is back, byte for byte; the new rows are kept.
    let after = summary(&source.name).await;
    for (table, count, checksum) in &before {
        let limit = if table == "orders" { SEEDED } else { i64::MAX };
        let limit = if table == written { max_old } else { limit };
        assert_eq!(
            rows_up_to(&source.name, table, limit).await,
            (*count, checksum.clone()),
            "{table}: the pre-fault rows differ from the baseline"
        );
    }
    let new = after.iter().find(|(t, ..)| t == written).unwrap().1
        - before.iter().find(|(t, ..)| t == written).unwrap().1;
    assert_eq!(
        new, 50,
        "{written}: the rows written after the fault are kept"
    );
    assert_clean(report["run_id"].as_str().unwrap(), &source, &bucket).await;
}

#[tokio::test]
async fn undo_of_delete_rows_keeps_rows_written_after_the_fault() {
    undo_keeps_rows_written_after_the_fault(
        "action = \"delete-rows\"\ntable = \"orders\"\nwhere = \"id % 3 = 0\"",
        "orders",
        "put back 6666 row(s) into orders",
    )
    .await;
}

#[tokio::test]
async fn undo_of_truncate_keeps_rows_written_after_the_fault() {
    undo_keeps_rows_written_after_the_fault(
        "action = \"truncate\"\ntable = \"orders\"",
        "orders",
        "put back 20000 row(s) into orders",
    )
    .await;
}

#[tokio::test]
async fn undo_of_drop_table_keeps_rows_written_after_the_fault() {
    undo_keeps_rows_written_after_the_fault(
        "action = \"drop-table\"\ntable = \"orders\"",
        "customers",
        "brought table orders back",
    )
    .await;
}
