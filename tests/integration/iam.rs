//! `firedrill iam-policy` against what the drills really call: every AWS
//! operation an example scenario's drill made (counted per operation by the
//! SDK interceptor into `report.json`'s `api_calls`) is mapped to its IAM
//! action and must be allowed by the scenario's generated policy; actions
//! the scenario does not need are not; the document keeps IAM's grammar.
//!
//! The matcher here is the test's own, small model of IAM evaluation:
//! wildcard `Action`/`Resource` matching and the condition operators the
//! policy uses, evaluated against the resource's tags; an explicit deny
//! wins.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::support::{Workspace, example, require, s3, s3_endpoint, seed_bucket, unique};

/// The IAM actions an SDK operation is authorized as (where they differ
/// from `service:Operation`, per the AWS service authorization reference).
fn iam_actions(service: &str, operation: &str) -> Vec<String> {
    let s3 = |names: &[&str]| names.iter().map(|n| format!("s3:{n}")).collect();
    if service != "s3" {
        return vec![format!("{service}:{operation}")];
    }
    match operation {
        "ListBuckets" => s3(&["ListAllMyBuckets"]),
        "ListObjectsV2" | "ListObjects" | "HeadBucket" => s3(&["ListBucket"]),
        "ListObjectVersions" => s3(&["ListBucketVersions"]),
        "ListMultipartUploads" => s3(&["ListBucketMultipartUploads"]),
        "HeadObject" | "GetObject" => s3(&["GetObject"]),
        "CopyObject" => s3(&["GetObject", "GetObjectTagging", "PutObject"]),
        "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" | "PutObject" => {
            s3(&["PutObject"])
        }
        "DeleteObjects" | "DeleteObject" => s3(&["DeleteObject"]),
        other => s3(&[other]),
    }
}

/// IAM wildcard matching (`*` any run, `?` one character), case-insensitive
/// as IAM matches action names.
fn wildcard(pattern: &str, value: &str, case_insensitive: bool) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = if case_insensitive {
        (
            pattern.to_lowercase().chars().collect(),
            value.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), value.chars().collect())
    };
    wildcard_chars(&p, &v)
}

fn wildcard_chars(p: &[char], v: &[char]) -> bool {
    match (p.first(), v.first()) {
        (None, None) => true,
        (Some('*'), _) => {
            wildcard_chars(&p[1..], v) || (!v.is_empty() && wildcard_chars(p, &v[1..]))
        }
        (Some('?'), Some(_)) => wildcard_chars(&p[1..], &v[1..]),
        (Some(a), Some(b)) if a == b => wildcard_chars(&p[1..], &v[1..]),
        _ => false,
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The request: an action on a resource whose tags are known.
struct Request<'a> {
    action: &'a str,
    resource: &'a str,
    tags: &'a [(&'a str, &'a str)],
}

impl Request<'_> {
    fn key(&self, key: &str) -> Option<Vec<String>> {
        // Every tagging request of these tests adds a `firedrill:*` tag.
        let tagging = [
            "ec2:CreateTags",
            "rds:AddTagsToResource",
            "s3:PutBucketTagging",
        ];
        if key == "aws:TagKeys" && tagging.contains(&self.action) {
            return Some(vec!["firedrill:retained".to_string()]);
        }
        if let Some(tag) = key.strip_prefix("aws:ResourceTag/") {
            return self
                .tags
                .iter()
                .find(|(k, _)| *k == tag)
                .map(|(_, v)| vec![(*v).to_string()]);
        }
        // No request tags, no create action: such keys are absent.
        None
    }

    fn condition_holds(&self, condition: &Value) -> bool {
        let Some(ops) = condition.as_object() else {
            return true;
        };
        ops.iter().all(|(op, keys)| {
            keys.as_object().unwrap().iter().all(|(key, values)| {
                let expected = strings(values);
                let actual = self.key(key);
                match op.as_str() {
                    "Null" => {
                        let want_absent = expected == ["true"];
                        actual.is_none() == want_absent
                    }
                    "StringEquals" => {
                        actual.is_some_and(|a| a.iter().any(|x| expected.contains(x)))
                    }
                    "StringLike" | "ForAnyValue:StringLike" => actual.is_some_and(|a| {
                        a.iter()
                            .any(|x| expected.iter().any(|p| wildcard(p, x, false)))
                    }),
                    other => panic!("the test's matcher does not know condition operator {other}"),
                }
            })
        })
    }

    fn matches(&self, st: &Value) -> bool {
        let action = strings(&st["Action"])
            .iter()
            .any(|p| wildcard(p, self.action, true));
        let resource = if st.get("NotResource").is_some() {
            !strings(&st["NotResource"])
                .iter()
                .any(|p| wildcard(p, self.resource, false))
        } else {
            strings(&st["Resource"])
                .iter()
                .any(|p| wildcard(p, self.resource, false))
        };
        action && resource && self.condition_holds(&st["Condition"])
    }

    /// IAM's answer: allowed by some statement and denied by none.
    fn allowed(&self, policy: &Value) -> bool {
        let statements = policy["Statement"].as_array().unwrap();
        let hit = |effect: &str| {
            statements
                .iter()
                .any(|st| st["Effect"] == effect && self.matches(st))
        };
        hit("Allow") && !hit("Deny")
    }
}

/// IAM's answer for an action on a resource with these tags.
fn allows(policy: &Value, action: &str, resource: &str, tags: &[(&str, &str)]) -> bool {
    Request {
        action,
        resource,
        tags,
    }
    .allowed(policy)
}

/// Whether some Allow statement grants the action on some resource.
fn action_allowed(policy: &Value, action: &str) -> bool {
    policy["Statement"].as_array().unwrap().iter().any(|st| {
        st["Effect"] == "Allow"
            && strings(&st["Action"])
                .iter()
                .any(|p| wildcard(p, action, true))
    })
}

/// IAM's policy grammar, structurally.
fn assert_iam_grammar(policy: &Value) {
    let top = policy.as_object().expect("a JSON object");
    let mut keys: Vec<&String> = top.keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["Statement", "Version"],
        "only Version and Statement at the top"
    );
    assert_eq!(policy["Version"], "2012-10-17");
    let statements = policy["Statement"].as_array().expect("Statement is a list");
    assert!(!statements.is_empty());
    let mut sids = std::collections::BTreeSet::new();
    for st in statements {
        let o = st.as_object().expect("a statement is an object");
        for k in o.keys() {
            assert!(
                [
                    "Sid",
                    "Effect",
                    "Action",
                    "Resource",
                    "NotResource",
                    "Condition"
                ]
                .contains(&k.as_str()),
                "unknown statement key {k}: {st}"
            );
        }
        let sid = st["Sid"].as_str().expect("Sid");
        assert!(
            !sid.is_empty() && sid.chars().all(|c| c.is_ascii_alphanumeric()),
            "IAM Sids are alphanumeric: {sid}"
        );
        assert!(sids.insert(sid.to_string()), "Sid {sid} twice");
        assert!(st["Effect"] == "Allow" || st["Effect"] == "Deny", "{st}");
        let actions = st["Action"].as_array().expect("Action is a list");
        assert!(!actions.is_empty());
        for a in actions {
            let a = a.as_str().unwrap();
            let (service, name) = a.split_once(':').unwrap_or_else(|| panic!("{a}"));
            assert!(
                ["s3", "ec2", "rds", "sts"].contains(&service)
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '*')
                    && name
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_uppercase() || c == '*'),
                "not an IAM action: {a}"
            );
        }
        assert!(
            o.contains_key("Resource") ^ o.contains_key("NotResource"),
            "exactly one of Resource and NotResource: {st}"
        );
        for r in strings(st.get("Resource").or(st.get("NotResource")).unwrap()) {
            assert!(
                r == "*" || (r.starts_with("arn:aws:") && r.split(':').count() >= 6),
                "not an ARN: {r}"
            );
        }
        if let Some(c) = st.get("Condition") {
            for (op, keys) in c.as_object().expect("Condition is an object") {
                assert!(
                    [
                        "StringEquals",
                        "StringLike",
                        "Null",
                        "ForAnyValue:StringLike"
                    ]
                    .contains(&op.as_str()),
                    "condition operator {op}"
                );
                for (key, values) in keys.as_object().unwrap() {
                    assert!(key.contains(':'), "condition key {key}");
                    assert!(!strings(values).is_empty(), "{key} has no values");
                }
            }
        }
    }
    let compact = serde_json::to_string(policy).unwrap().len();
    assert!(
        compact <= 6144,
        "{compact} characters: over IAM's 6,144 for a managed policy"
    );
}

/// The policy `firedrill iam-policy` prints for a scenario file.
pub(crate) fn policy(ws: &Workspace, file: &Path, extra: &[&str]) -> Value {
    let ran = ws.firedrill().arg("iam-policy").arg(file).args(extra).run();
    ran.code(0);
    let policy: Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_iam_grammar(&policy);
    policy
}

/// Every operation the run made is allowed by the scenario's policy; prints
/// the policy's size.
pub(crate) fn assert_policy_allows_the_run(ws: &Workspace, file: &Path, report: &Value) -> Value {
    let policy = policy(ws, file, &[]);
    let mut calls: BTreeMap<String, u64> = BTreeMap::new();
    for (service, stats) in report["api_calls"].as_object().unwrap() {
        let ops = stats["operations"]
            .as_object()
            .unwrap_or_else(|| panic!("no operations recorded for {service}: {stats}"));
        for (op, n) in ops {
            for action in iam_actions(service, op) {
                *calls.entry(action).or_default() += n.as_u64().unwrap();
            }
        }
    }
    assert!(!calls.is_empty(), "the drill made no AWS calls");
    let missing: Vec<&String> = calls
        .keys()
        .filter(|a| !action_allowed(&policy, a))
        .collect();
    assert!(
        missing.is_empty(),
        "{}: the drill called {missing:?}, which the policy does not allow:\n{policy:#}",
        file.display()
    );
    println!(
        "{}: {} actions called ({}), policy of {} statements, {} characters compact",
        file.file_name().unwrap().to_string_lossy(),
        calls.len(),
        calls.keys().cloned().collect::<Vec<_>>().join(", "),
        policy["Statement"].as_array().unwrap().len(),
        serde_json::to_string(&policy).unwrap().len()
    );
    // Read-only: only reads, and still every read the drill made.
    let read_only = self::policy(ws, file, &["--read-only"]);
    for st in read_only["Statement"].as_array().unwrap() {
        for a in strings(&st["Action"]) {
            let name = a.split_once(':').unwrap().1;
            assert!(
                ["Describe", "List", "Get"]
                    .iter()
                    .any(|p| name.starts_with(p)),
                "--read-only allows {a}"
            );
        }
    }
    policy
}

#[tokio::test]
async fn iam_policy_of_quickstart_allows_its_drill_and_nothing_it_does_not_need() {
    require(&s3_endpoint());
    let s3 = s3().await;
    let bucket = unique("fd-iam-orders");
    seed_bucket(&s3, &bucket, 20).await;
    let ws = Workspace::new();
    let file = ws.scenario(
        "quickstart",
        &example("quickstart.toml", &[("firedrill-demo-orders", &bucket)]),
    );
    ws.firedrill()
        .args(["run", "--yes", "--quiet"])
        .arg(&file)
        .run()
        .code(0);
    let report = ws.report("quickstart");
    let policy = assert_policy_allows_the_run(&ws, &file, &report);

    // Nothing of EC2 or RDS; no deleting the source bucket; scratch buckets
    // only by firedrill's name; no firedrill tags on the source bucket.
    for action in [
        "ec2:TerminateInstances",
        "ec2:CreateTags",
        "rds:DeleteDBInstance",
    ] {
        assert!(!action_allowed(&policy, action), "{action} allowed");
    }
    let source = format!("arn:aws:s3:::{bucket}");
    let scratch = "arn:aws:s3:::firedrill-20260101-000000-abc123-0-copy";
    assert!(!allows(&policy, "s3:DeleteBucket", &source, &[]));
    assert!(allows(&policy, "s3:DeleteBucket", scratch, &[]));
    assert!(!allows(&policy, "s3:PutBucketTagging", &source, &[]));
    assert!(!allows(
        &policy,
        "s3:PutObject",
        "arn:aws:s3:::someone-elses/x",
        &[]
    ));
    assert!(allows(
        &policy,
        "s3:PutObject",
        &format!("{source}/data/item-0001.txt"),
        &[]
    ));

    // Evidence in S3 adds the upload, on that prefix only.
    let with_evidence = self::policy(&ws, &file, &["--evidence-uri", "s3://drill-evidence/prod"]);
    let manifest = "arn:aws:s3:::drill-evidence/prod/quickstart/r1/manifest.json";
    for action in ["s3:PutObject", "s3:PutObjectRetention"] {
        assert!(allows(&with_evidence, action, manifest, &[]), "{action}");
        assert!(!allows(
            &with_evidence,
            action,
            "arn:aws:s3:::drill-evidence/other/x",
            &[]
        ));
    }
    assert!(!action_allowed(&policy, "s3:PutObjectRetention"));
}

#[tokio::test]
async fn iam_policy_of_postgres_demo_allows_its_drill_and_only_its_dump_bucket() {
    require(&s3_endpoint());
    let source = crate::postgres::SourceDb::seed(100_000);
    let bucket = crate::postgres::bucket().await;
    let ws = Workspace::new();
    let url = std::env::var("FIREDRILL_PG_URL")
        .unwrap_or_else(|_| "postgres://firedrill@127.0.0.1:55432/postgres".into());
    let port = url
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let file = ws.scenario(
        "postgres-demo",
        &example(
            "postgres-demo.toml",
            &[
                (
                    "database = \"firedrill_demo\"",
                    &format!("database = \"{}\"", source.name),
                ),
                ("firedrill-demo-pgdumps", &bucket),
                ("port = 55432", &format!("port = {port}")),
            ],
        ),
    );
    ws.firedrill()
        .env("FIREDRILL_PG_PASSWORD", crate::postgres::pg_password())
        .args(["run", "--yes", "--quiet"])
        .arg(&file)
        .run()
        .code(0);
    let report = ws.report("postgres-demo");
    let policy = assert_policy_allows_the_run(&ws, &file, &report);
    let dump = format!("arn:aws:s3:::{bucket}/firedrill/r1/0/db.dump");
    assert!(allows(&policy, "s3:PutObject", &dump, &[]));
    assert!(!allows(
        &policy,
        "s3:PutObject",
        &format!("arn:aws:s3:::{bucket}/data/x"),
        &[]
    ));
    assert!(!action_allowed(&policy, "s3:DeleteBucket"));
    assert!(!action_allowed(&policy, "s3:CreateBucket"));
    assert_no_terminate(&policy);
    let s3 = s3().await;
    s3.delete_bucket().bucket(&bucket).send().await.unwrap();
}

/// The EC2 example (`stop`): what the drill called is allowed; the named
/// instance can be stopped and started only with `firedrill:allow-faults`,
/// never terminated; scratch instances can be terminated only when they
/// carry the run id; no `firedrill:*` tag can be added after creation.
pub(crate) fn assert_ec2_instance_policy(policy: &Value, instance: &str) {
    let arn = format!("arn:aws:ec2:us-east-1:123456789012:instance/{instance}");
    let allow = [("firedrill:allow-faults", "true")];
    let run = [("firedrill:run-id", "20260101-000000-abc123")];
    assert!(allows(policy, "ec2:StopInstances", &arn, &allow));
    assert!(allows(policy, "ec2:StartInstances", &arn, &allow));
    assert!(!allows(policy, "ec2:StopInstances", &arn, &[]));
    assert!(!allows(policy, "ec2:TerminateInstances", &arn, &allow));
    assert!(!allows(policy, "ec2:TerminateInstances", &arn, &[]));
    assert!(allows(policy, "ec2:TerminateInstances", &arn, &run));
    assert!(!allows(policy, "ec2:RebootInstances", &arn, &allow));
    // Adding tags to a resource that is not firedrill's, after creation.
    assert!(!allows(policy, "ec2:CreateTags", &arn, &[]));
    assert!(!allows(policy, "ec2:CreateTags", &arn, &allow));
    assert!(allows(policy, "ec2:CreateTags", &arn, &run));
}

/// An example whose fault is not `terminate` never allows terminating.
pub(crate) fn assert_no_terminate(policy: &Value) {
    assert!(!action_allowed(policy, "ec2:TerminateInstances"));
}

#[test]
fn the_test_matcher_matches_like_iam() {
    assert!(wildcard("ec2:Describe*", "ec2:DescribeInstances", true));
    assert!(wildcard("s3:*", "S3:GetObject", true));
    assert!(!wildcard("ec2:Describe*", "ec2:CreateTags", true));
    assert!(wildcard(
        "arn:aws:s3:::firedrill-*",
        "arn:aws:s3:::firedrill-x",
        false
    ));
    assert!(!wildcard(
        "arn:aws:s3:::firedrill-*",
        "arn:aws:s3:::other",
        false
    ));
    assert!(wildcard("?*", "x", false) && !wildcard("?*", "", false));
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "A", "Effect": "Allow", "Action": ["ec2:TerminateInstances"], "Resource": ["*"],
             "Condition": {"StringLike": {"aws:ResourceTag/firedrill:run-id": ["?*"]}}},
            {"Sid": "D", "Effect": "Deny", "Action": ["ec2:*"], "Resource": ["arn:aws:ec2:*:*:instance/i-keep"]}
        ]
    });
    assert_iam_grammar(&policy);
    let tags = [("firedrill:run-id", "r")];
    let a = "ec2:TerminateInstances";
    assert!(allows(
        &policy,
        a,
        "arn:aws:ec2:us-east-1:1:instance/i-1",
        &tags
    ));
    assert!(!allows(
        &policy,
        a,
        "arn:aws:ec2:us-east-1:1:instance/i-1",
        &[]
    ));
    assert!(!allows(
        &policy,
        a,
        "arn:aws:ec2:us-east-1:1:instance/i-keep",
        &tags
    ));
}
