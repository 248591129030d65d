//! The policy of every example scenario: its rules hold for each
//! permission a kind declares, and the quickstart's document is snapshotted.

use std::path::Path;

use firedrill_core::iam::{Access, Permission, Scope};

use super::{Effect, Options, build, permissions};
use crate::scenario::{self, Scenario};

fn examples() -> Vec<(String, Scenario)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, scenario::load(&p).unwrap())
        })
        .collect()
}

#[test]
fn writes_are_never_on_any_resource_and_creates_carry_the_run_tag() {
    for (file, s) in examples() {
        for p in permissions(&s, &Options::default()) {
            match p.action.access() {
                Access::Read => {}
                Access::Create => assert!(
                    matches!(p.scope, Scope::CreateTagged(_) | Scope::Scratch(_)),
                    "{file}: {} on {:?}",
                    p.action,
                    p.scope
                ),
                Access::Tag | Access::Write => assert!(
                    !matches!(p.scope, Scope::Any | Scope::CreateTagged(_)),
                    "{file}: {} on {:?}",
                    p.action,
                    p.scope
                ),
            }
        }
    }
}

#[test]
fn read_only_keeps_every_read_and_nothing_else() {
    for (file, s) in examples() {
        let all = permissions(&s, &Options::default());
        let ro = permissions(
            &s,
            &Options {
                read_only: true,
                ..Options::default()
            },
        );
        assert!(
            ro.iter().all(|p| p.action.access() == Access::Read),
            "{file}"
        );
        let reads = all
            .iter()
            .filter(|p| p.action.access() == Access::Read)
            .count();
        assert_eq!(ro.len(), reads, "{file}");
        let doc = build(
            &s,
            &Options {
                read_only: true,
                ..Options::default()
            },
        );
        assert!(
            doc.statement.iter().all(|st| st.effect == Effect::Allow),
            "{file}"
        );
    }
}

#[test]
fn a_fault_adds_only_its_own_actions() {
    let (_, s) = examples()
        .into_iter()
        .find(|(f, _)| f == "ec2-instance.toml")
        .unwrap();
    let names: Vec<String> = permissions(&s, &Options::default())
        .iter()
        .filter(|p| matches!(p.scope, Scope::FaultAllowed(_)))
        .map(|p| p.action.to_string())
        .collect();
    // The example's fault is `stop`; the revert starts it again.
    assert_eq!(names, ["ec2:StopInstances", "ec2:StartInstances"]);
}

#[test]
fn policy_sizes_stay_under_the_managed_policy_quota() {
    for (file, s) in examples() {
        let doc = build(&s, &Options::default());
        let size = doc.compact_size();
        println!(
            "{file}: {} statements, {size} characters",
            doc.statement.len()
        );
        assert!(size <= 6144, "{file}: {size}");
    }
}

#[test]
fn quickstart_policy_snapshot() {
    let (_, s) = examples()
        .into_iter()
        .find(|(f, _)| f == "quickstart.toml")
        .unwrap();
    insta::assert_snapshot!(build(&s, &Options::default()).to_json());
}

/// IAM's wildcards: `*` any run of characters, `?` exactly one.
fn wildcard(p: &[u8], v: &[u8]) -> bool {
    match (p.first(), v.first()) {
        (None, None) => true,
        (Some(b'*'), _) => wildcard(&p[1..], v) || (!v.is_empty() && wildcard(p, &v[1..])),
        (Some(b'?'), Some(_)) => wildcard(&p[1..], &v[1..]),
        (Some(a), Some(b)) if a == b => wildcard(&p[1..], &v[1..]),
        _ => false,
    }
}

#[test]
fn the_scratch_pattern_matches_scratch_names_and_not_look_alikes() {
    use firedrill_core::iam::SCRATCH_PATTERN;
    let run_id = crate::runner::new_run_id(time::OffsetDateTime::now_utc());
    let scratch = format!("firedrill-{run_id}-0-copy");
    assert!(
        wildcard(SCRATCH_PATTERN.as_bytes(), scratch.as_bytes()),
        "{scratch}"
    );
    for other in [
        "firedrill-demo-orders",
        "firedrill-demo-pgdumps",
        "orders",
        "firedrill-",
    ] {
        assert!(
            !wildcard(SCRATCH_PATTERN.as_bytes(), other.as_bytes()),
            "{other}"
        );
    }
}

#[test]
fn coverage_all_adds_region_wide_reads_and_no_write() {
    let (_, s) = examples()
        .into_iter()
        .find(|(f, _)| f == "quickstart.toml")
        .unwrap();
    let options = |region_wide| Options {
        read_only: true,
        region_wide,
        ..Options::default()
    };
    let named = permissions(&s, &options(false));
    let wide = permissions(&s, &options(true));
    let has = |ps: &[Permission], action: &str, any: bool| {
        ps.iter()
            .any(|p| p.action.to_string() == action && (matches!(p.scope, Scope::Any) == any))
    };
    // The quickstart names one bucket: alone it reads no volume or database.
    assert!(!has(&named, "ec2:DescribeVolumes", true));
    for action in [
        "ec2:DescribeVolumes",
        "ec2:DescribeImages",
        "rds:DescribeDBClusterSnapshots",
        "s3:ListAllMyBuckets",
        "s3:GetBucketVersioning",
    ] {
        assert!(has(&wide, action, true), "{action}");
    }
    assert!(wide.iter().all(|p| p.action.access() == Access::Read));
}
