//! Fleet selection by tag against `LocalStack`: 20 volumes tagged for this
//! test (a tag value unique to the run) and a few untagged bystanders. A
//! `count = 3` selection drills exactly three, the same three for the same
//! seed; `percent = 10` drills two; the bystanders are never touched.

use std::collections::BTreeSet;
use std::time::Instant;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification, VolumeType};

use crate::ec2::{ec2, example, leftovers};
use crate::support::{Ran, Workspace, unique};

const EXAMPLE: &str = "ebs-volume-fleet.toml";
const EXAMPLE_TAG: &str = "{ \"backup-tier\" = \"gold\" }";

async fn create_volume(ec2: &Client, tags: &[(&str, &str)]) -> String {
    let tags: Vec<Tag> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
        .collect();
    ec2.create_volume()
        .availability_zone("us-east-1a")
        .size(1)
        .volume_type(VolumeType::Gp3)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Volume)
                .set_tags(Some(tags))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .volume_id()
        .unwrap()
        .to_string()
}

/// State, attachments and snapshots of a volume, to compare before and after.
async fn footprint(ec2: &Client, id: &str) -> (String, usize, usize) {
    let v = ec2.describe_volumes().volume_ids(id).send().await.unwrap();
    let v = &v.volumes()[0];
    let snaps = ec2
        .describe_snapshots()
        .filters(Filter::builder().name("volume-id").values(id).build())
        .send()
        .await
        .unwrap();
    (
        v.state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        v.attachments().len(),
        snaps.snapshots().len(),
    )
}

async fn run(ws: &Workspace, text: &str, seed: &str) -> Ran {
    let file = ws.scenario("fleet", text);
    let f = ws
        .firedrill()
        .args(["run", "--yes", "--format", "markdown", "--seed", seed])
        .arg(file);
    tokio::task::spawn_blocking(move || f.run()).await.unwrap()
}

/// The volume ids the report's targets drilled, from their `gold/<id>` names.
fn drilled(report: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let name = t["name"].as_str().unwrap();
            let id = name.strip_prefix("gold/").expect("named gold/<id>");
            assert_eq!(t["resource"], format!("ebs:{id}"), "{t:#}");
            assert_eq!(t["verdict"], "passed", "{t:#}");
            id.to_string()
        })
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selection_by_tag_drills_the_seeded_sample_and_leaves_the_rest_alone() {
    let ec2 = ec2("us-east-1");
    let value = unique("fleet");
    let mut fleet = Vec::new();
    for _ in 0..20 {
        fleet.push(create_volume(&ec2, &[("fleet-test", &value), ("Name", "fd-fleet")]).await);
    }
    let mut bystanders = Vec::new();
    for _ in 0..3 {
        bystanders.push(create_volume(&ec2, &[("Name", "fd-fleet-bystander")]).await);
    }
    let mut before = Vec::new();
    for b in &bystanders {
        before.push(footprint(&ec2, b).await);
    }
    let fleet_set: BTreeSet<&String> = fleet.iter().collect();
    let tag = format!("{{ \"fleet-test\" = \"{value}\" }}");
    let count3 = example(EXAMPLE, EXAMPLE_TAG, &tag, |t| t);

    // Coverage of a selecting target lists every volume it matches.
    let ws = Workspace::new();
    let file = ws.scenario("fleet", &count3);
    let f = ws
        .firedrill()
        .args(["coverage", "--format", "json"])
        .arg(file);
    let started = Instant::now();
    let ran = tokio::task::spawn_blocking(move || f.run()).await.unwrap();
    let covered = started.elapsed();
    ran.code(1); // no snapshot yet: every row fails
    let rows: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    let resources: BTreeSet<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["resource"]
                .as_str()
                .unwrap()
                .trim_start_matches("ebs:")
                .to_string()
        })
        .collect();
    assert_eq!(resources, fleet.iter().cloned().collect(), "{rows:#}");
    eprintln!("coverage of a 20-volume selection: {covered:?}");

    // count = 3, seed 7, twice: the same three volumes.
    let mut samples = Vec::new();
    for _ in 0..2 {
        let ws = Workspace::new();
        let started = Instant::now();
        let ran = run(&ws, &count3, "7").await;
        let wall = started.elapsed();
        ran.code(0);
        assert!(ran.stdout.contains("selected by tag:"), "{}", ran.stdout);
        let md = std::fs::read_to_string(ws.run_dir("ebs-volume-fleet").join("report.md")).unwrap();
        assert!(md.contains("## Selected by tag"), "{md}");
        assert!(md.contains("gold: 3 of 20 matching"), "{md}");
        let report = ws.report("ebs-volume-fleet");
        let policy =
            crate::iam::assert_policy_allows_the_run(&ws, &ws.path().join("fleet.toml"), &report);
        let policy = serde_json::to_string(&policy).unwrap();
        assert!(!policy.contains("vol-00000000"), "{policy}");
        assert!(policy.contains(":volume/*"), "{policy}");
        let ids = drilled(&report);
        assert_eq!(ids.len(), 3, "{report:#}");
        assert!(ids.iter().all(|i| fleet_set.contains(i)), "{ids:?}");
        let sel = &report["selections"][0];
        assert_eq!(sel["target"], "gold");
        assert_eq!(sel["matched"], 20, "{sel:#}");
        assert_eq!(sel["selected"], serde_json::json!(ids));
        assert_eq!(report["seed"], 7);
        // Every drilled volume was snapshotted: the backup names its volume.
        for t in report["targets"].as_array().unwrap() {
            let backup = t["stages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["stage"] == "backup")
                .unwrap();
            assert_eq!(backup["outcome"], "passed", "{backup:#}");
        }
        let run_id = report["run_id"].as_str().unwrap();
        assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
        let text = serde_json::to_string(&report).unwrap();
        for b in &bystanders {
            assert!(!text.contains(b.as_str()), "bystander {b} in the report");
        }
        eprintln!(
            "selection of 3 of 20: expansion {} ms, whole run {wall:?}",
            sel["duration_ms"]
        );
        samples.push(ids);
    }
    assert_eq!(
        samples[0], samples[1],
        "the same seed selects the same volumes"
    );

    // Another seed: still three of the twenty (and, over a few seeds, not
    // always the same three).
    let mut other = BTreeSet::new();
    for seed in ["8", "9"] {
        let ws = Workspace::new();
        run(&ws, &count3, seed).await.code(0);
        other.insert(drilled(&ws.report("ebs-volume-fleet")));
    }
    other.insert(samples[0].clone());
    assert!(other.len() > 1, "three seeds, one sample: {other:?}");

    // percent = 10 of 20: two; a gate waits for both.
    let percent = count3.replace("count = 3", "percent = 10")
        + "\n[[gates]]\nname = \"fleet-up\"\nkind = \"command\"\nprogram = \"true\"\n";
    let ws = Workspace::new();
    run(&ws, &percent, "7").await.code(0);
    let report = ws.report("ebs-volume-fleet");
    assert_eq!(drilled(&report).len(), 2, "{report:#}");
    assert_eq!(
        report["selections"][0]["want"],
        serde_json::json!({"percent": 10})
    );
    let gate = &report["gates"][0];
    assert_eq!(gate["outcome"], "passed", "{gate:#}");
    let after: Vec<String> = serde_json::from_value(gate["after"].clone()).unwrap();
    let expected: Vec<String> = drilled(&report)
        .iter()
        .map(|i| format!("gold/{i}"))
        .collect();
    assert_eq!(after, expected, "{gate:#}");

    // The untagged volumes: same state, same attachments, no snapshot.
    for (b, was) in bystanders.iter().zip(&before) {
        assert_eq!(&footprint(&ec2, b).await, was, "bystander {b} changed");
        assert_eq!(was.2, 0);
    }
    for id in fleet.iter().chain(&bystanders) {
        ec2.delete_volume().volume_id(id).send().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selection_matching_nothing_fails_the_drill_and_creates_nothing() {
    let value = unique("nothing");
    let tag = format!("{{ \"fleet-test\" = \"{value}\" }}");
    let text = example(EXAMPLE, EXAMPLE_TAG, &tag, |t| t);
    let ws = Workspace::new();
    let ran = run(&ws, &text, "7").await;
    ran.code(1);
    let report = ws.report("ebs-volume-fleet");
    assert_eq!(report["verdict"], "failed", "{report:#}");
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "select.empty")
        .unwrap_or_else(|| panic!("no select.empty finding: {report:#}"));
    let message = finding["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "no volumes tagged fleet-test={value} in us-east-1"
        )),
        "{message}"
    );
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
}

#[test]
fn plan_says_a_selection_is_expanded_at_preflight() {
    let ran = crate::support::firedrill()
        .args(["plan", "scenarios/ebs-volume-fleet.toml"])
        .run();
    ran.code(0);
    assert!(
        ran.stdout
            .contains("will be expanded at preflight: volumes tagged backup-tier=gold, 3 of them"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("volumes selected by tag"),
        "{}",
        ran.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_are_selected_by_tag_too() {
    let ec2 = ec2("us-east-1");
    let value = unique("fleet-web");
    let mut fleet = Vec::new();
    for _ in 0..4 {
        let id = crate::ec2::launch_source(&ec2, "fd-fleet-web").await;
        ec2.create_tags()
            .resources(&id)
            .tags(Tag::builder().key("fleet-test").value(&value).build())
            .send()
            .await
            .unwrap();
        fleet.push(id);
    }
    let bystander = crate::ec2::launch_source(&ec2, "fd-fleet-bystander").await;
    let state = |id: String| {
        let ec2 = ec2.clone();
        async move {
            let out = ec2
                .describe_instances()
                .instance_ids(id)
                .send()
                .await
                .unwrap();
            let i = &out.reservations()[0].instances()[0];
            i.state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_string())
        }
    };
    let before = state(bystander.clone()).await;
    let text = example(
        "ec2-instance.toml",
        "instance_id = \"i-0123456789abcdef0\"",
        &format!("select = {{ tags = {{ \"fleet-test\" = \"{value}\" }}, percent = 50 }}"),
        |t| t,
    );
    let ws = Workspace::new();
    let ran = run(&ws, &text, "11").await;
    ran.code(0);
    let report = ws.report("ec2-instance");
    let names: Vec<&str> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "50% of 4: {report:#}");
    for (n, t) in names.iter().zip(report["targets"].as_array().unwrap()) {
        let id = n.strip_prefix("web/").unwrap();
        assert!(fleet.iter().any(|f| f == id), "{n}");
        assert_eq!(t["verdict"], "passed", "{t:#}");
    }
    assert_eq!(report["selections"][0]["matched"], 4);
    assert!(!serde_json::to_string(&report).unwrap().contains(&bystander));
    assert_eq!(
        state(bystander.clone()).await,
        before,
        "bystander untouched"
    );
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
    ec2.terminate_instances()
        .set_instance_ids(Some(fleet.into_iter().chain([bystander]).collect()))
        .send()
        .await
        .unwrap();
}
