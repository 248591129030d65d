//! Recovery in dependency order against `LocalStack`: a target's restore
//! starts only once its dependencies are restored and validated, and a
//! dependency that fails skips its dependants' recovery with the reason.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::{
    Workspace, buckets_containing, drop_bucket, emulator_environment, s3, seed_bucket, unique,
};

fn target(name: &str, bucket: &str, extra: &str) -> String {
    format!(
        "\n[[targets]]\nname = \"{name}\"\nkind = \"s3-bucket\"\nbucket = \"{bucket}\"\n{extra}[targets.fault]\naction = \"delete-share\"\nshare = 0.5\n"
    )
}

fn stage<'a>(report: &'a serde_json::Value, target: &str, stage: &str) -> &'a serde_json::Value {
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == target)
        .unwrap_or_else(|| panic!("no target {target}"))["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == stage)
        .unwrap_or_else(|| panic!("no stage {stage} for {target}"))
}

fn at(v: &serde_json::Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().unwrap(), &Rfc3339).unwrap()
}

#[tokio::test]
async fn depends_on_restore_starts_after_the_dependency_validated() {
    let s3 = s3().await;
    let (db, site, app) = (
        unique("fd-dep-db"),
        unique("fd-dep-site"),
        unique("fd-dep-app"),
    );
    for b in [&db, &site, &app] {
        seed_bucket(&s3, b, 6).await;
    }
    let ws = Workspace::new();
    let text = format!(
        "name = \"dep-order\"\n{}\n[objectives]\nrto = \"2m\"\nrpo = \"1m\"\n{}{}{}",
        emulator_environment(),
        target("app", &app, "depends_on = [\"site\", \"db\"]\n"),
        target("db", &db, ""),
        target("site", &site, "depends_on = [\"db\"]\n"),
    );
    let file = ws.scenario("dep-order", &text);
    let plan = ws.firedrill().arg("plan").arg(&file).run();
    plan.code(0);
    assert!(plan.stdout.contains("level 0: db\n"), "{}", plan.stdout);
    assert!(plan.stdout.contains("level 1: site\n"), "{}", plan.stdout);
    assert!(plan.stdout.contains("level 2: app\n"), "{}", plan.stdout);

    ws.firedrill()
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(0);
    let report = ws.report("dep-order");
    assert_eq!(report["verdict"], "passed", "{report:#}");
    let pairs = [("db", "site"), ("site", "app"), ("db", "app")];
    for (dep, dependant) in pairs {
        let validated = at(&stage(&report, dep, "validate")["timing"]["finished_at"]);
        let restore = at(&stage(&report, dependant, "restore")["timing"]["started_at"]);
        assert!(
            restore >= validated,
            "{dependant} restore started at {restore}, before {dep} was validated at {validated}"
        );
    }
    for b in [&db, &site, &app] {
        drop_bucket(&s3, b).await;
    }
}

#[tokio::test]
async fn depends_on_failed_dependency_skips_dependants_and_cleans_up() {
    let s3 = s3().await;
    let (db, app) = (unique("fd-depf-db"), unique("fd-depf-app"));
    seed_bucket(&s3, &db, 4).await;
    let app_keys = {
        let mut k = seed_bucket(&s3, &app, 6).await;
        k.sort();
        k
    };
    let ws = Workspace::new();
    // `db` loses everything with no backup: its validation fails. One
    // permit at a time: the dependant must not deadlock waiting for it.
    let text = format!(
        "name = \"dep-fail\"\n{}\n[objectives]\nrto = \"2m\"\nrpo = \"1m\"\n[run]\nmax_concurrency = 1\n\n[[targets]]\nname = \"app\"\nkind = \"s3-bucket\"\nbucket = \"{app}\"\ndepends_on = [\"db\"]\n[targets.fault]\naction = \"delete-share\"\nshare = 0.5\n\n[[targets]]\nname = \"db\"\nkind = \"s3-bucket\"\nbucket = \"{db}\"\n[targets.backup]\nmethod = \"none\"\n[targets.fault]\naction = \"delete-all\"\naccept_data_loss = true\n",
        emulator_environment(),
    );
    let file = ws.scenario("dep-fail", &text);
    ws.firedrill()
        .args(["run", "--yes"])
        .arg(&file)
        .run()
        .code(1);
    let report = ws.report("dep-fail");
    assert_eq!(report["verdict"], "failed");
    for s in ["restore", "validate"] {
        let rec = stage(&report, "app", s);
        assert_eq!(rec["outcome"], "skipped", "{rec:#}");
        assert!(
            rec["detail"]
                .as_str()
                .unwrap()
                .starts_with("skipped: dependency `db` was not recovered ("),
            "{rec:#}"
        );
    }
    let app_report = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "app")
        .unwrap();
    assert_eq!(app_report["verdict"], "failed");
    assert!(
        app_report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "depends.not-recovered"),
        "{app_report:#}"
    );
    assert_eq!(stage(&report, "app", "revert")["outcome"], "passed");
    assert_eq!(stage(&report, "app", "cleanup")["outcome"], "passed");
    assert_eq!(report["cleanup"]["complete"], true);
    let run_id = report["run_id"].as_str().unwrap();
    assert!(
        buckets_containing(&s3, run_id).await.is_empty(),
        "scratch left behind"
    );
    let mut after = crate::support::keys(&s3, &app).await;
    after.sort();
    assert_eq!(after, app_keys, "the dependant's fault was undone");
    drop_bucket(&s3, &app).await;
    drop_bucket(&s3, &db).await;
}
