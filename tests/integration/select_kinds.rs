//! Fleet selection by tag for `rds-instance`, `rds-cluster` (moto) and
//! `s3-bucket` (`LocalStack`): resources tagged with a value unique to the
//! test, untagged bystanders and resources a selection must skip (a tagged
//! Aurora member, a tagged bucket in another region). The drilled ones are
//! exactly the seeded sample; the others are untouched.

use std::collections::BTreeMap;
use std::time::Instant;

use aws_sdk_rds::Client as Rds;
use aws_sdk_rds::types::Tag;
use firedrill_core::recovery::target_seed;
use firedrill_core::select::{Want, sample};

use crate::rds::{delete_source_cluster, delete_source_instance, leftovers, rds};
use crate::support::{Ran, Workspace, edited, example, s3, unique};

/// An example scenario from `scenarios/` on the test's emulators, selecting
/// `tag = value` instead of `backup-tier = gold`, with `edits` applied.
fn fleet_example(file: &str, tag: (&str, &str), edits: &[(&str, &str)]) -> String {
    let gold = "{ \"backup-tier\" = \"gold\" }";
    let tagged = format!("{{ \"{}\" = \"{}\" }}", tag.0, tag.1);
    let text = example(file, &[(gold, &tagged)]);
    edited(file, text, edits)
}

async fn run(ws: &Workspace, name: &str, text: &str, seed: &str) -> (Ran, std::time::Duration) {
    let file = ws.scenario(name, text);
    let f = ws
        .firedrill()
        .args(["run", "--yes", "--seed", seed])
        .arg(file);
    let started = Instant::now();
    let ran = tokio::task::spawn_blocking(move || f.run()).await.unwrap();
    (ran, started.elapsed())
}

/// The ids drilled, from the `<target>/<id>` names, each checked passed.
fn drilled(report: &serde_json::Value, target: &str) -> Vec<String> {
    let mut ids: Vec<String> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let name = t["name"].as_str().unwrap();
            let id = name
                .strip_prefix(&format!("{target}/"))
                .unwrap_or_else(|| panic!("{name} is not {target}/<id>"));
            assert_eq!(t["verdict"], "passed", "{t:#}");
            id.to_string()
        })
        .collect();
    ids.sort();
    ids
}

/// The sample the run's seed draws for `target` from `fleet`.
fn expected(fleet: &[String], want: Want, seed: u64, target: &str) -> Vec<String> {
    sample(fleet, want, target_seed(seed, target))
}

/// Against moto every database check is emulated, never passed.
fn assert_emulated(report: &serde_json::Value) {
    for t in report["targets"].as_array().unwrap() {
        let checks = t["checks"].as_array().unwrap();
        assert!(!checks.is_empty(), "{t:#}");
        for c in checks {
            assert_ne!(c["status"], "passed", "{c:#}");
        }
        assert!(
            checks.iter().any(|c| c["status"] == "emulated"),
            "{checks:#?}"
        );
    }
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

async fn create_instance(rds: &Rds, id: &str, tags: Vec<Tag>) {
    rds.create_db_instance()
        .db_instance_identifier(id)
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("app")
        .master_user_password("change-me-please")
        .set_tags(Some(tags))
        .send()
        .await
        .unwrap();
}

/// Status, and the snapshots taken of an instance.
async fn instance_footprint(rds: &Rds, id: &str) -> (String, usize) {
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .unwrap();
    let status = out.db_instances()[0]
        .db_instance_status()
        .unwrap_or_default()
        .to_string();
    let snaps = rds
        .describe_db_snapshots()
        .db_instance_identifier(id)
        .snapshot_type("manual")
        .send()
        .await
        .unwrap();
    (status, snaps.db_snapshots().len())
}

/// Coverage of the selection covers every instance it matches (not the
/// sample): each has the snapshot the drills left listed. A drill of a
/// new snapshot proves no existing point, so every row is "never proven".
fn coverage_lists_the_whole_selection(ws: &Workspace, text: &str, fleet: &[String]) {
    let file = ws.scenario("fleet", text);
    let cov = ws
        .firedrill()
        .args(["coverage", "--format", "json"])
        .arg(&file)
        .run();
    cov.code(1);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&cov.stdout).unwrap();
    let mut covered: Vec<String> = rows
        .iter()
        .map(|r| {
            let target = r["target"].as_str().unwrap();
            target.trim_start_matches("gold-dbs/").to_string()
        })
        .collect();
    covered.sort();
    let mut all = fleet.to_vec();
    all.sort();
    assert_eq!(covered, all, "{rows:#?}");
    for r in &rows {
        assert!(r["last_proven"].is_null(), "{r:#}");
        assert!(
            r["problems"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == "never proven"),
            "{r:#}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_instances_are_selected_by_tag_and_cluster_members_never() {
    let rds = rds("us-east-1");
    let value = unique("sel-db");
    let mut fleet = Vec::new();
    for n in 0..6 {
        let id = format!("{value}-{n}");
        create_instance(&rds, &id, vec![tag("fleet-test", &value)]).await;
        fleet.push(id);
    }
    let bystanders = [format!("{value}-by-0"), format!("{value}-by-1")];
    for b in &bystanders {
        create_instance(&rds, b, vec![tag("fleet-test", "other")]).await;
    }
    // A tagged member of a tagged Aurora cluster: restored with its cluster.
    let cluster = format!("{value}-aurora");
    rds.create_db_cluster()
        .db_cluster_identifier(&cluster)
        .engine("aurora-postgresql")
        .master_username("app")
        .master_user_password("change-me-please")
        .tags(tag("fleet-test", &value))
        .send()
        .await
        .unwrap();
    let member = format!("{cluster}-1");
    rds.create_db_instance()
        .db_instance_identifier(&member)
        .db_cluster_identifier(&cluster)
        .engine("aurora-postgresql")
        .db_instance_class("db.r5.large")
        .tags(tag("fleet-test", &value))
        .send()
        .await
        .unwrap();
    let mut untouched = BTreeMap::new();
    for id in fleet.iter().chain(&bystanders).chain([&member]) {
        untouched.insert(id.clone(), instance_footprint(&rds, id).await);
    }

    let count2 = fleet_example("rds-instance-fleet.toml", ("fleet-test", &value), &[]);
    let want = expected(&fleet, Want::Count(2), 7, "gold-dbs");
    let mut drilled_ids = Vec::new();
    for _ in 0..2 {
        let ws = Workspace::new();
        let (ran, wall) = run(&ws, "fleet", &count2, "7").await;
        ran.code(0);
        let report = ws.report("rds-instance-fleet");
        let ids = drilled(&report, "gold-dbs");
        assert_eq!(ids, want, "the seed's sample: {report:#}");
        assert_emulated(&report);
        let sel = &report["selections"][0];
        assert_eq!(
            sel["matched"], 6,
            "the cluster member is not listed: {sel:#}"
        );
        let text = serde_json::to_string(&report).unwrap();
        assert!(!text.contains(&member), "{text}");
        for b in &bystanders {
            assert!(!text.contains(b.as_str()), "bystander {b} in the report");
        }
        let run_id = report["run_id"].as_str().unwrap();
        assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
        eprintln!(
            "rds-instance selection of 2 of 6 (of {} instances listed): listing {} ms, whole run {wall:?}",
            count_instances(&rds).await,
            sel["duration_ms"]
        );
        drilled_ids = ids;
    }

    let percent = count2.replace("count = 2", "percent = 50");
    let ws = Workspace::new();
    let (ran, wall) = run(&ws, "fleet", &percent, "11").await;
    ran.code(0);
    let report = ws.report("rds-instance-fleet");
    assert_eq!(
        drilled(&report, "gold-dbs"),
        expected(&fleet, Want::Percent(50), 11, "gold-dbs"),
        "{report:#}"
    );
    assert_eq!(
        report["selections"][0]["want"],
        serde_json::json!({"percent": 50})
    );
    eprintln!("rds-instance selection of 3 of 6: whole run {wall:?}");

    coverage_lists_the_whole_selection(&ws, &percent, &fleet);
    let percent_ids = drilled(&report, "gold-dbs");

    // Neither sampled run touched an instance it did not select.
    for (id, was) in &untouched {
        let now = instance_footprint(&rds, id).await;
        assert_eq!(now.0, "available", "{id}");
        if !drilled_ids.contains(id) && !percent_ids.contains(id) {
            assert_eq!(&now, was, "{id} was not selected but changed");
        }
    }
    for id in fleet.iter().chain(&bystanders) {
        delete_source_instance(&rds, id).await;
    }
    rds.delete_db_instance()
        .db_instance_identifier(&member)
        .skip_final_snapshot(true)
        .send()
        .await
        .unwrap();
    rds.delete_db_cluster()
        .db_cluster_identifier(&cluster)
        .skip_final_snapshot(true)
        .send()
        .await
        .unwrap();
}

async fn count_instances(rds: &Rds) -> usize {
    let mut n = 0;
    let mut pages = rds.describe_db_instances().into_paginator().send();
    while let Some(p) = pages.next().await {
        n += p.unwrap().db_instances().len();
    }
    n
}

/// Status, writer and cluster snapshots of a cluster.
async fn cluster_footprint(rds: &Rds, id: &str) -> (String, Option<String>, usize) {
    let out = rds
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
        .unwrap();
    let c = &out.db_clusters()[0];
    let writer = c
        .db_cluster_members()
        .iter()
        .find(|m| m.is_cluster_writer() == Some(true))
        .and_then(|m| m.db_instance_identifier())
        .map(str::to_string);
    let snaps = rds
        .describe_db_cluster_snapshots()
        .db_cluster_identifier(id)
        .snapshot_type("manual")
        .send()
        .await
        .unwrap();
    (
        c.status().unwrap_or_default().to_string(),
        writer,
        snaps.db_cluster_snapshots().len(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_clusters_are_selected_by_tag() {
    let rds = rds("us-east-1");
    let value = unique("sel-aurora");
    let mut fleet = Vec::new();
    for n in 0..5 {
        let id = format!("{value}-{n}");
        crate::rds::create_source_cluster(&rds, &id).await;
        if n < 4 {
            let arn = rds
                .describe_db_clusters()
                .db_cluster_identifier(&id)
                .send()
                .await
                .unwrap()
                .db_clusters()[0]
                .db_cluster_arn()
                .unwrap()
                .to_string();
            rds.add_tags_to_resource()
                .resource_name(arn)
                .tags(tag("fleet-test", &value))
                .send()
                .await
                .unwrap();
            fleet.push(id);
        }
    }
    let bystander = format!("{value}-4");
    let mut before = BTreeMap::new();
    for id in fleet.iter().chain([&bystander]) {
        before.insert(id.clone(), cluster_footprint(&rds, id).await);
    }
    let text = fleet_example(
        "rds-instance-fleet.toml",
        ("fleet-test", &value),
        &[
            ("kind = \"rds-instance\"", "kind = \"rds-cluster\""),
            ("[targets.backup]\nmethod = \"snapshot\"\n\n", ""),
            ("action = \"reboot\"", "action = \"failover\""),
        ],
    );
    let ws = Workspace::new();
    let (ran, wall) = run(&ws, "fleet", &text, "5").await;
    ran.code(0);
    let report = ws.report("rds-instance-fleet");
    let ids = drilled(&report, "gold-dbs");
    assert_eq!(
        ids,
        expected(&fleet, Want::Count(2), 5, "gold-dbs"),
        "{report:#}"
    );
    assert_emulated(&report);
    let sel = &report["selections"][0];
    assert_eq!(sel["kind"], "rds-cluster");
    assert_eq!(sel["matched"], 4, "{sel:#}");
    assert!(!serde_json::to_string(&report).unwrap().contains(&bystander));
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(leftovers("us-east-1", run_id).await, Vec::<String>::new());
    eprintln!(
        "rds-cluster selection of 2 of 4: listing {} ms, whole run {wall:?}",
        sel["duration_ms"]
    );
    for (id, was) in &before {
        if !ids.contains(id) {
            assert_eq!(&cluster_footprint(&rds, id).await, was, "{id} changed");
        }
    }
    for id in fleet.iter().chain([&bystander]) {
        delete_source_cluster(&rds, id).await;
    }
}

/// Every key with its current version id.
async fn versions(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<(String, String)> {
    let out = s3
        .list_object_versions()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let mut v: Vec<(String, String)> = out
        .versions()
        .iter()
        .map(|v| {
            (
                v.key().unwrap_or_default().to_string(),
                v.version_id().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

async fn seed_tagged_bucket(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    region: Option<&str>,
    tags: &[(&str, &str)],
) {
    use aws_sdk_s3::types::{
        BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
        VersioningConfiguration,
    };
    let mut req = s3.create_bucket().bucket(bucket);
    if let Some(r) = region {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(r))
                .build(),
        );
    }
    req.send().await.unwrap();
    // Versioned, so "untouched" can mean the very same object versions.
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    if !tags.is_empty() {
        let set = tags
            .iter()
            .map(|(k, v)| {
                aws_sdk_s3::types::Tag::builder()
                    .key(*k)
                    .value(*v)
                    .build()
                    .unwrap()
            })
            .collect();
        s3.put_bucket_tagging()
            .bucket(bucket)
            .tagging(
                aws_sdk_s3::types::Tagging::builder()
                    .set_tag_set(Some(set))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    for i in 0..6 {
        s3.put_object()
            .bucket(bucket)
            .key(format!("data/item-{i}.txt"))
            .body(format!("item {i}\n").into_bytes().into())
            .send()
            .await
            .unwrap();
    }
}

async fn drop_versioned(s3: &aws_sdk_s3::Client, bucket: &str) {
    let out = s3
        .list_object_versions()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let ids = out
        .versions()
        .iter()
        .map(|v| (v.key(), v.version_id()))
        .chain(
            out.delete_markers()
                .iter()
                .map(|m| (m.key(), m.version_id())),
        );
    for (k, v) in ids {
        s3.delete_object()
            .bucket(bucket)
            .key(k.unwrap_or_default())
            .set_version_id(v.map(str::to_string))
            .send()
            .await
            .unwrap();
    }
    s3.delete_bucket().bucket(bucket).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_are_selected_by_tag_in_the_scenario_region_only() {
    let s3 = s3().await;
    let value = unique("sel-s3");
    let mut fleet = Vec::new();
    for n in 0..6 {
        let b = format!("{value}-{n}");
        seed_tagged_bucket(&s3, &b, None, &[("fleet-test", &value), ("team", "data")]).await;
        fleet.push(b);
    }
    let untagged = format!("{value}-untagged");
    seed_tagged_bucket(&s3, &untagged, None, &[]).await;
    let elsewhere = format!("{value}-west");
    seed_tagged_bucket(
        &s3,
        &elsewhere,
        Some("us-west-2"),
        &[("fleet-test", &value)],
    )
    .await;
    let mut before = BTreeMap::new();
    for b in fleet.iter().chain([&untagged, &elsewhere]) {
        before.insert(b.clone(), versions(&s3, b).await);
    }

    let percent = fleet_example("s3-bucket-fleet.toml", ("fleet-test", &value), &[]);
    let ws = Workspace::new();
    let (ran, wall) = run(&ws, "fleet", &percent, "3").await;
    ran.code(0);
    let report = ws.report("s3-bucket-fleet");
    let ids = drilled(&report, "gold-buckets");
    assert_eq!(
        ids,
        expected(&fleet, Want::Percent(50), 3, "gold-buckets"),
        "{report:#}"
    );
    let sel = &report["selections"][0];
    assert_eq!(
        sel["matched"], 6,
        "the us-west-2 bucket is not listed: {sel:#}"
    );
    let text = serde_json::to_string(&report).unwrap();
    assert!(
        !text.contains(&elsewhere) && !text.contains(&untagged),
        "{text}"
    );
    let run_id = report["run_id"].as_str().unwrap();
    assert!(
        crate::support::buckets_containing(&s3, run_id)
            .await
            .is_empty()
    );
    eprintln!(
        "s3-bucket selection of 3 of 6: listing {} ms, whole run {wall:?}",
        sel["duration_ms"]
    );
    for (b, was) in &before {
        let now = versions(&s3, b).await;
        if ids.contains(b) {
            // Drilled: half deleted, then put back by the revert.
            let mut keys = crate::support::keys(&s3, b).await;
            keys.sort();
            let mut had: Vec<String> = was.iter().map(|(k, _)| k.clone()).collect();
            had.dedup();
            assert_eq!(keys, had, "{b}");
        } else {
            assert_eq!(&now, was, "{b} was not selected but changed");
        }
    }

    // count = 2, the same seed twice: the same two buckets.
    let count2 = percent.replace("percent = 50", "count = 2");
    let mut samples = Vec::new();
    for _ in 0..2 {
        let ws = Workspace::new();
        let (ran, _) = run(&ws, "fleet", &count2, "3").await;
        ran.code(0);
        samples.push(drilled(&ws.report("s3-bucket-fleet"), "gold-buckets"));
    }
    assert_eq!(samples[0], samples[1]);
    assert_eq!(
        samples[0],
        expected(&fleet, Want::Count(2), 3, "gold-buckets")
    );

    for b in fleet.iter().chain([&untagged]) {
        drop_versioned(&s3, b).await;
    }
    drop_versioned(&s3, &elsewhere).await;
}
