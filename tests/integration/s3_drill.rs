//! Whole S3 drills against LocalStack.

use crate::support::{Workspace, emulator_environment, s3, seed_bucket, unique};

fn scenario(name: &str, bucket: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\n{}\n[objectives]\nrto = \"2m\"\nrpo = \"30s\"\n\n[[targets]]\nname = \"data\"\nkind = \"s3-bucket\"\nbucket = \"{bucket}\"\n{extra}",
        emulator_environment()
    )
}

#[tokio::test]
async fn s3_drill_passes_and_leaves_nothing_behind() {
    let s3 = s3().await;
    let bucket = unique("fd-src");
    seed_bucket(&s3, &bucket, 12).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "s3-pass",
        &scenario(
            "s3-pass",
            &bucket,
            "[targets.canary]\ninterval = \"200ms\"\n[targets.fault]\naction = \"delete-share\"\nshare = 0.5\n",
        ),
    );
    ws.firedrill().args(["run", "--yes"]).arg(&file).run().code(0);
    let report = ws.report("s3-pass");
    assert_eq!(report["verdict"], "passed");
    assert_eq!(report["schema_version"], 1);
    let t = &report["targets"][0];
    assert_eq!(t["rto"]["met"], true);
    assert!(t["rpo"]["value_ms"].as_u64().unwrap() < 30_000);
    let run_id = report["run_id"].as_str().unwrap();
    assert!(crate::support::buckets_containing(&s3, run_id).await.is_empty(), "scratch buckets left behind");
    assert_eq!(report["cleanup"]["complete"], true);
}
