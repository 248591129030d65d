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

/// Validate generated text; returns stderr after checking exit code 2.
fn validate_text(name: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let ran = firedrill().arg("validate").arg(&path).run();
    ran.code(2);
    ran.stderr
}

#[test]
fn thousands_of_errors_are_counted_but_only_the_first_fifty_drawn() {
    // Regression: a generated 660 KB file with 9000 mistakes took 204 s to
    // report, each error re-scanning the whole file.
    let mut text = String::from(
        "name = \"gen\"\n[environment]\nregion = \"us-east-1\"\n[objectives]\nrto = \"5m\"\nrpo = \"30s\"\n",
    );
    for i in 0..9000 {
        text.push_str(&format!(
            "[[targets]]\nname = \"t{i}\"\nkind = \"s3-bucket\"\nbucket = \"b-{i}\"\nbuckt = 1\n"
        ));
    }
    let out = validate_text("gen.toml", &text);
    assert!(out.contains("gen.toml:11:1: unknown key `buckt`"), "{out}");
    assert!(
        out.contains("… and 8950 more error(s) not shown: fix these first"),
        "{out}"
    );
    assert!(
        out.trim_end().ends_with("gen.toml: 9000 errors found"),
        "{out}"
    );
    assert!(out.len() < 32 * 1024, "{} bytes of errors", out.len());
}

#[test]
fn deeply_nested_and_single_line_files_get_short_clear_errors() {
    let deep = format!("a = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let out = validate_text("deep.toml", &deep);
    assert!(
        out.contains("deep.toml:1:"),
        "{}",
        &out[..out.len().min(400)]
    );
    assert!(out.contains("recurs"), "{}", &out[..out.len().min(400)]);
    let widest = out.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest < 200, "a {widest}-character line in the error");

    // One huge value on one line: the error is cut around the problem.
    let long = format!(
        "name = \"long\"\ndescription = \"{}\"\n[environment]\nregion = \"us-east-1\"\n[objectives]\nrto = \"{}\"\nrpo = \"30s\"\n",
        "d".repeat(1_000_000),
        "9".repeat(100_000)
    );
    let out = validate_text("long.toml", &long);
    let flat = out
        .split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.contains("long.toml:6:7: invalid duration \"999999999999999999999999… (100000 characters)\": number too large"),
        "{flat}"
    );
    assert!(out.len() < 2048, "{} bytes of errors", out.len());
    let widest = out.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest < 200, "a {widest}-character line in the error");
}

#[test]
fn huge_values_anywhere_get_errors_of_a_few_lines() {
    let base = "name = \"@name@\"\n[environment]\nregion = \"@region@\"\n[objectives]\nrto = \"5m\"\nrpo = \"30s\"\n[run]\nmax_concurrency = @conc@\n[[targets]]\nname = \"@target@\"\nkind = \"@kind@\"\nbucket = \"@bucket@\"\n[targets.fault]\naction = \"@action@\"\nshare = @share@\n";
    let defaults = [
        ("name", "n".to_string()),
        ("region", "us-east-1".to_string()),
        ("conc", "4".to_string()),
        ("target", "t".to_string()),
        ("kind", "s3-bucket".to_string()),
        ("bucket", "some-bucket".to_string()),
        ("action", "delete-share".to_string()),
        ("share", "0.5".to_string()),
    ];
    let huge = [
        ("name", "n".repeat(100_000), "invalid scenario name"),
        ("region", "r".repeat(100_000), "invalid region"),
        ("conc", "9".repeat(5_000), "integer number overflowed"),
        ("target", "t".repeat(100_000), "invalid target name"),
        ("kind", "k".repeat(100_000), "unknown target kind"),
        ("bucket", "b".repeat(100_000), "invalid bucket name"),
        ("action", "a".repeat(100_000), "unknown fault action"),
        ("share", format!("1e{}", "9".repeat(1_000)), "overflowed"),
    ];
    for (key, value, expected) in huge {
        let mut text = base.to_string();
        for (k, v) in &defaults {
            let v = if *k == key { &value } else { v };
            text = text.replace(&format!("@{k}@"), v);
        }
        let out = validate_text("huge.toml", &text);
        assert!(
            out.contains(expected),
            "{key}: {}",
            &out[..out.len().min(600)]
        );
        assert!(out.len() < 2048, "{key}: {} bytes of errors", out.len());
        let widest = out.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(
            widest < 200,
            "{key}: a {widest}-character line in the error"
        );
    }
}

#[test]
fn fuzz_regressions_and_seeds_never_panic() {
    // The fuzzer's seed corpus and every input it ever broke the parser with.
    let mut files = Vec::new();
    for dir in ["fuzz/regressions", "scenarios", "tests/fixtures/bad"] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() && path.file_name().is_some_and(|n| n != ".gitkeep") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 10, "seed corpus went missing: {files:?}");
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        if let Err(e) = firedrill::scenario::parse_bytes(&path, &bytes) {
            assert!(
                !e.diagnostics.is_empty(),
                "{}: an error without a diagnostic",
                path.display()
            );
            for d in &e.diagnostics {
                if let Some(s) = &d.span {
                    assert!(
                        s.start <= s.end && s.end <= bytes.len().max(s.start),
                        "{}: span {s:?} outside {} bytes",
                        path.display(),
                        bytes.len()
                    );
                }
            }
            assert!(!e.render().is_empty());
        }
    }
}

#[test]
fn bad_backup_sources_are_located_and_explained() {
    let out = validate("backup-source");
    for needle in [
        "backup-source.toml:16:10",
        "did you mean `latest`?",
        "backup-source.toml:25:10",
        "`window` `400d` is longer than 365 days",
        "backup-source.toml:34:10",
        "`window` is empty",
        "backup-source.toml:35:10:",
        "`prefer` applies only to source `random`",
        "backup-source.toml:43:10",
        "`method` and `source` both say where the backup",
        "5 errors found",
    ] {
        assert!(out.contains(needle), "missing {needle}:\n{out}");
    }
    insta::assert_snapshot!(out);
}

/// The message text with miette's line wrapping undone.
fn flat(out: &str) -> String {
    out.lines()
        .map(|l| l.trim_start().trim_start_matches('│').trim())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn unknown_dependency_is_located_and_suggested() {
    let out = validate("depends-unknown");
    let out_flat = flat(&out);
    assert!(out.contains("depends-unknown.toml:20:15"), "{out}");
    assert!(out.contains("did you mean `orders-db`?"), "{out}");
    assert!(
        out_flat.contains("depends on `cache`, which is not a target"),
        "{out}"
    );
    assert!(out.contains("2 errors found"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn dependency_cycles_are_spelled_out() {
    let out = validate("depends-cycle");
    assert!(
        flat(&out).contains("dependency cycle: `orders-db` → `api` → `site` → `orders-db`"),
        "{out}"
    );
    assert!(out.contains("depends-cycle.toml:15:15"), "{out}");
    assert!(
        flat(&out).contains("dependency cycle: `worker` → `worker`"),
        "{out}"
    );
    assert!(out.contains("2 errors found"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn gate_templates_name_known_targets_and_fields() {
    let out = validate("gate-template");
    let f = flat(&out);
    assert!(out.contains("gate-template.toml:19:7"), "{out}");
    assert!(f.contains("names `sight`, which is not a target"), "{out}");
    assert!(f.contains("help: targets of this scenario: site"), "{out}");
    assert!(f.contains("target `site` has no field `buckt`"), "{out}");
    assert!(out.contains("did you mean `bucket`?"), "{out}");
    assert!(f.contains("`query` belongs to `sql` gates"), "{out}");
    assert!(f.contains("target `site` is not a database"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn bad_selections_are_located_and_explained() {
    let out = validate("select");
    for needle in [
        "select.toml:13:13: `select` together with `volume_id`",
        "select.toml:19:68: `select` has both `count` and `percent`",
        "select.toml:24:55: `count` is 0, it must be at least 1",
        "select.toml:29:57: `percent` is 150, outside 1–100",
        "select.toml:34:19: `select` has no tags",
        "select.toml:39:1: kind `postgres` cannot select its resources by tag",
        "6 errors found",
    ] {
        assert!(out.contains(needle), "missing {needle}:\n{out}");
    }
    assert!(!out.contains("missing required key"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn a_template_naming_a_selecting_target_is_ambiguous() {
    let out = validate("select-template");
    let f = flat(&out);
    for needle in [
        "select-template.toml:24:7",
        "select-template.toml:40:9",
        "2 errors found",
    ] {
        assert!(out.contains(needle), "missing {needle}:\n{out}");
    }
    assert!(
        f.contains("names `sites`, which selects its resources by tag (buckets tagged backup-tier=gold, 2 of them): it has no single `url`"),
        "{out}"
    );
    assert!(f.contains("no single `bucket`"), "{out}");
    assert!(
        f.contains("name one resource by its id in a separate target"),
        "{out}"
    );
    assert!(
        f.contains("`after` (gates) or `depends_on` (targets)"),
        "{out}"
    );
    // Naming one resource, or waiting for the fleet without a template, is fine.
    assert!(!f.contains("one-site"), "{out}");
    assert!(!f.contains("after the fleet"), "{out}");
    insta::assert_snapshot!(out);
}
