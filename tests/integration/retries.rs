//! Retries: an S3 + EBS + RDS drill rides out a throttling storm on every
//! service (and connection resets on top) and passes, leaving nothing
//! behind, with the retries counted per service in the report; a run whose
//! every endpoint refuses connections fails at once with exit code 3.

use std::time::{Duration, Instant};

use crate::chaos_proxy::{FaultPlan, Proxy};
use crate::support::{
    Ran, Workspace, buckets_containing, drop_bucket, keys, rds_endpoint, s3, s3_endpoint,
    seed_bucket, unique,
};

const REGION: &str = "us-east-1";
const OBJECTS: usize = 20;

/// The storm drill: the test's bucket (half its objects deleted and put
/// back), volume (snapshot, no fault) and database (snapshot, reboot).
fn storm_scenario(name: &str, localstack: &str, moto: &str, sources: &Sources) -> String {
    format!(
        r#"name = "{name}"
[environment]
region = "{REGION}"
endpoint_url = "{localstack}"

[environment.endpoints]
ec2 = "{localstack}"
rds = "{moto}"

[objectives]
rto = "10m"
rpo = "10m"

[[targets]]
name = "data"
kind = "s3-bucket"
bucket = "{bucket}"

[targets.fault]
action = "delete-share"
share = 0.5

[[targets]]
name = "volume"
kind = "ebs-volume"
volume_id = "{volume}"

[targets.fault]
action = "none"

[[targets]]
name = "db"
kind = "rds-instance"
instance = "{db}"

[targets.backup]
method = "snapshot"

[targets.fault]
action = "reboot"
"#,
        bucket = sources.bucket,
        volume = sources.volume,
        db = sources.db,
    )
}

/// The resources the storm drill works on, made directly on the emulators.
struct Sources {
    bucket: String,
    volume: String,
    db: String,
}

impl Sources {
    async fn create() -> Self {
        let bucket = unique("fd-storm");
        seed_bucket(&s3().await, &bucket, OBJECTS).await;
        let volume =
            crate::ec2::create_source_volume(&crate::ec2::ec2(REGION), &unique("fd-storm-vol"))
                .await;
        let db = unique("fd-storm-db");
        crate::rds::create_source_instance(&crate::rds::rds(REGION), &db).await;
        Self { bucket, volume, db }
    }

    async fn drop(self) {
        drop_bucket(&s3().await, &self.bucket).await;
        crate::ec2::delete_volume(&crate::ec2::ec2(REGION), &self.volume).await;
        crate::rds::delete_source_instance(&crate::rds::rds(REGION), &self.db).await;
    }
}

async fn run(ws: &Workspace, file: &std::path::Path) -> (Ran, Duration) {
    let f = ws.firedrill().args(["run", "--yes"]).arg(file);
    let started = Instant::now();
    let ran = tokio::task::spawn_blocking(move || f.run()).await.unwrap();
    (ran, started.elapsed())
}

/// Drill through a proxy in front of `LocalStack` and one in front of moto,
/// each throttling 30% of requests (and resetting 10% with `resets`).
async fn storm(name: &str, resets: bool) {
    let sources = Sources::create().await;
    let localstack = Proxy::start(&s3_endpoint(), FaultPlan::storm(resets)).await;
    let moto = Proxy::start(&rds_endpoint(), FaultPlan::storm(resets)).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        name,
        &storm_scenario(name, &localstack.url, &moto.url, &sources),
    );
    let (ran, took) = run(&ws, &file).await;
    println!("{name}: run took {took:?}, exit {}", ran.code);
    println!("{name}: LocalStack proxy: {}", localstack.stats.summary());
    println!("{name}: moto proxy: {}", moto.stats.summary());
    let report = ws.report(name);
    println!("{name}: report api_calls: {}", report["api_calls"]);
    ran.code(0);
    assert_eq!(report["verdict"], "passed", "{report:#}");
    assert_eq!(report["cleanup"]["complete"], true);
    assert!(ran.stdout.contains("api: s3 "), "{}", ran.stdout);
    for (service, proxy) in [("s3", &localstack), ("ec2", &localstack), ("rds", &moto)] {
        let counted = &report["api_calls"][service];
        let retries = counted["retries"].as_u64().unwrap_or(0);
        assert!(retries > 0, "{service} retried nothing: {counted}");
        let injected = proxy.stats.service(service);
        assert!(
            injected.throttled > 0,
            "{service}: {}",
            proxy.stats.summary()
        );
        assert!(
            counted["throttled"].as_u64().unwrap_or(0) > 0,
            "{service} throttling counted: {counted}"
        );
        if resets {
            assert!(injected.resets > 0, "{service}: {}", proxy.stats.summary());
        }
    }
    let run_id = report["run_id"].as_str().unwrap().to_string();
    drop(localstack);
    drop(moto);
    let s3 = s3().await;
    assert!(buckets_containing(&s3, &run_id).await.is_empty());
    assert_eq!(
        crate::ec2::leftovers(REGION, &run_id).await,
        Vec::<String>::new()
    );
    assert_eq!(
        crate::rds::leftovers(REGION, &run_id).await,
        Vec::<String>::new()
    );
    let mut left = keys(&s3, &sources.bucket).await;
    left.retain(|k| !k.contains(".firedrill/"));
    assert_eq!(left.len(), OBJECTS, "the deleted objects were put back");
    sources.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_rides_out_a_throttling_storm_on_every_service() {
    storm("storm", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_rides_out_throttling_and_connection_resets() {
    storm("storm-resets", true).await;
}

#[test]
fn refused_endpoints_fail_within_three_seconds() {
    let nowhere = "http://127.0.0.1:1";
    let ws = Workspace::new();
    let file = ws.scenario(
        "refused",
        &format!(
            "name = \"refused\"\n[environment]\nregion = \"{REGION}\"\nendpoint_url = \"{nowhere}\"\n[environment.endpoints]\nec2 = \"{nowhere}\"\nrds = \"{nowhere}\"\n[objectives]\nrto = \"1m\"\nrpo = \"1m\"\n\
             [[targets]]\nname = \"data\"\nkind = \"s3-bucket\"\nbucket = \"nowhere\"\n\
             [[targets]]\nname = \"volume\"\nkind = \"ebs-volume\"\nvolume_id = \"vol-0123456789abcdef0\"\n\
             [[targets]]\nname = \"db\"\nkind = \"rds-instance\"\ninstance = \"orders-db\"\n"
        ),
    );
    let started = Instant::now();
    let ran = ws.firedrill().args(["run", "--yes"]).arg(&file).run();
    let took = started.elapsed();
    println!("refused endpoints: exit {} in {took:?}", ran.code);
    ran.code(3);
    assert!(took < Duration::from_secs(3), "took {took:?}");
    for service in ["s3", "ec2", "rds"] {
        assert!(
            ran.stdout.contains(&format!("({service} at {nowhere}): ")),
            "{}",
            ran.stdout
        );
    }
    assert!(
        ran.stdout
            .contains("cannot connect to the endpoint: connection refused"),
        "{}",
        ran.stdout
    );
    let report = ws.report("refused");
    assert_eq!(report["verdict"], "error");
    assert_eq!(report["cleanup"]["created"], 0);
    for service in ["s3", "ec2", "rds"] {
        let counted = &report["api_calls"][service];
        assert_eq!(counted["retries"], 0, "{service}: {counted}");
    }
}
