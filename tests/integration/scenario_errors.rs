//! Broken scenarios: every message names <file:line:col>, shows the span and,
//! where the fix is known, suggests it. Snapshot-tested.

use crate::support::firedrill;

fn validate(fixture: &str) -> String {
    let path = format!("tests/fixtures/bad/{fixture}.toml");
    let ran = firedrill().args(["validate", &path]).run();
    ran.code(2);
    assert!(
        ran.stdout.is_empty(),
        "nothing on stdout for an invalid file: {}",
        ran.stdout
    );
    ran.stderr
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let out = validate("unknown-key");
    assert!(out.contains("unknown-key.toml:14:1"), "{out}");
    assert!(out.contains("did you mean `bucket`?"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn typo_in_kind_suggests_the_kind() {
    let out = validate("kind-typo");
    assert!(out.contains("kind-typo.toml:13:8"), "{out}");
    assert!(out.contains("did you mean `s3-bucket`?"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn bad_durations_are_explained_both_of_them() {
    let out = validate("bad-duration");
    assert!(out.contains("bad-duration.toml:7:7"), "{out}");
    assert!(out.contains("bad-duration.toml:8:7"), "{out}");
    assert!(out.contains("2 errors found"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn missing_target_name_points_at_the_target() {
    let out = validate("missing-target-name");
    assert!(out.contains("missing required key `name`"), "{out}");
    assert!(out.contains("missing-target-name.toml:11:1"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn wrong_type_names_the_type() {
    let out = validate("wrong-type");
    assert!(
        out.contains("invalid type: integer `42`, expected a string"),
        "{out}"
    );
    assert!(out.contains("wrong-type.toml:14:10"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn every_error_in_a_file_is_reported() {
    let out = validate("many-errors");
    assert!(out.contains("5 errors found"), "{out}");
    for needle in [
        "did you mean `description`?",
        "did you mean `delete-share`?",
        "duplicate target name `orders`",
        "invalid bucket name `Bad_Bucket`",
        "outside 0 < share ≤ 1",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    insta::assert_snapshot!(out);
}

#[test]
fn broken_toml_is_located() {
    let out = validate("not-toml");
    assert!(out.contains("not-toml.toml:2:13: not valid TOML"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn non_utf8_and_missing_files_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("latin1.toml");
    std::fs::write(&p, b"name = \"caf\xe9\"\n").unwrap();
    let ran = firedrill().arg("validate").arg(&p).run();
    ran.code(2);
    assert!(
        ran.stderr
            .contains("not valid UTF-8 (byte 11, line 1, column 12)"),
        "{}",
        ran.stderr
    );
    let ran = firedrill().args(["validate", "no/such/file.toml"]).run();
    ran.code(2);
    assert!(
        ran.stderr.contains("cannot read the file"),
        "{}",
        ran.stderr
    );
}

#[test]
fn example_scenarios_are_valid() {
    let files: Vec<_> = std::fs::read_dir("scenarios")
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    assert!(!files.is_empty());
    let ran = firedrill().arg("validate").args(&files).run();
    ran.code(0);
}

#[test]
fn schema_is_json_schema_of_every_kind() {
    let ran = firedrill().arg("schema").run();
    ran.code(0);
    let schema: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let kinds: Vec<&str> = schema["properties"]["targets"]["items"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["properties"]["kind"]["const"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"s3-bucket"), "{kinds:?}");
    assert_eq!(
        schema["properties"]["objectives"]["required"],
        serde_json::json!(["rto", "rpo"])
    );
}
