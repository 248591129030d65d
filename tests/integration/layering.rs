//! The direction of imports, checked on the source. `firedrill_core` is the
//! floor (a crate of its own, so the compiler rejects an upward import);
//! above it every module of `src/` imports downward only:
//!
//! - no import cycle between the top-level modules of `src/`;
//! - `report` never imports `runner` (the events live with the reporters);
//! - `targets` never imports `scenario` (kinds parse their keys with
//!   `firedrill_core::options`);
//! - `aws` imports nothing of firedrill but `firedrill_core`;
//! - a target kind never imports a sibling kind (shared helpers live in
//!   `targets::common` or on the service wrappers in `aws`).
//!
//! Test code (`mod tests` blocks and files compiled only for tests) may
//! reach anywhere; everything else is held to these rules, and a failure
//! names the file and line of each forbidden import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One reference from a file to a module path.
#[derive(Debug)]
struct Ref {
    file: String,
    line: usize,
    /// The file's own module path, e.g. `["targets", "s3", "backup"]`.
    from: Vec<String>,
    /// The module path it refers to, absolute from the crate root.
    to: Vec<String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file under `src/`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|l| l == "mod" || l == "lib" || l == "main")
    {
        parts.pop();
    }
    parts
}

/// Files compiled only for tests: declared `#[cfg(test)] mod x;` by their
/// parent. Returns their module paths.
fn test_only_modules(files: &[(PathBuf, String)]) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    for (rel, text) in files {
        let lines: Vec<&str> = text.lines().collect();
        for w in lines.windows(2) {
            if w[0].trim() == "#[cfg(test)]"
                && let Some(name) = w[1]
                    .trim()
                    .strip_prefix("mod ")
                    .or_else(|| w[1].trim().strip_prefix("pub(crate) mod "))
                    .and_then(|r| r.strip_suffix(';'))
            {
                let mut m = module_of(rel);
                m.push(name.to_string());
                out.insert(m);
            }
        }
    }
    out
}

/// The non-test lines of a file: everything before its `mod tests` block.
fn production_lines(text: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() == "#[cfg(test)]"
            && lines
                .get(i + 1)
                .is_some_and(|n| n.trim_start().starts_with("mod tests"))
        {
            break;
        }
        out.push((i + 1, *line));
    }
    out
}

/// Module paths a line refers to: `crate::a::b` and `super::…::a`, made
/// absolute. Comments are skipped.
fn references(line: &str, module: &[String]) -> Vec<Vec<String>> {
    let code = line.split("//").next().unwrap_or("");
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let starts_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if starts_word && (rest.starts_with("crate::") || rest.starts_with("super::")) {
            let path: Vec<&str> = rest
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("")
                .split("::")
                .filter(|s| !s.is_empty())
                .collect();
            let mut abs: Vec<String> = Vec::new();
            let mut k = 0;
            if path[0] == "crate" {
                k = 1;
            } else {
                // `super` of module `a::b` (file `a/b.rs` or `a/b/mod.rs`) is `a`.
                abs = module.to_vec();
                while k < path.len() && path[k] == "super" {
                    abs.pop();
                    k += 1;
                }
            }
            abs.extend(path[k..].iter().map(|s| (*s).to_string()));
            out.push(abs);
            i += path.iter().map(|p| p.len() + 2).sum::<usize>();
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

fn collect() -> (Vec<Ref>, BTreeSet<String>) {
    let src = root().join("src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    let files: Vec<(PathBuf, String)> = paths
        .iter()
        .map(|p| {
            (
                p.strip_prefix(&src).unwrap().to_path_buf(),
                std::fs::read_to_string(p).unwrap(),
            )
        })
        .collect();
    let test_only = test_only_modules(&files);
    let kinds: BTreeSet<String> = std::fs::read_dir(src.join("targets"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir() && e.file_name() != "common")
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut refs = Vec::new();
    for (rel, text) in &files {
        let module = module_of(rel);
        if test_only
            .iter()
            .any(|t| module.len() >= t.len() && module[..t.len()] == t[..])
        {
            continue;
        }
        for (line_no, line) in production_lines(text) {
            for to in references(line, &module) {
                refs.push(Ref {
                    file: format!("src/{}", rel.display()),
                    line: line_no,
                    from: module.clone(),
                    to,
                });
            }
        }
    }
    (refs, kinds)
}

fn top(path: &[String]) -> &str {
    path.first().map_or("", String::as_str)
}

/// A `targets::<kind>` path's kind, if it is one.
fn kind_of<'a>(path: &'a [String], kinds: &BTreeSet<String>) -> Option<&'a str> {
    (top(path) == "targets")
        .then(|| path.get(1))
        .flatten()
        .filter(|k| kinds.contains(k.as_str()))
        .map(String::as_str)
}

fn forbidden(r: &Ref, kinds: &BTreeSet<String>) -> Option<String> {
    let (from, to) = (top(&r.from), top(&r.to));
    let rule = match (from, to) {
        ("report", "runner") => "report imports runner",
        ("targets", "scenario") => "targets import scenario",
        ("aws", t) if !t.is_empty() && t != "aws" => "aws imports firedrill code above it",
        _ => {
            let (a, b) = (kind_of(&r.from, kinds), kind_of(&r.to, kinds));
            match (a, b) {
                (Some(a), Some(b)) if a != b => "a target kind imports a sibling kind",
                (None, Some(_))
                    if from == "targets" && r.from.get(1).is_some_and(|m| m == "common") =>
                {
                    "targets::common imports a kind"
                }
                _ => return None,
            }
        }
    };
    Some(format!(
        "{}:{}: {rule} ({} → {})",
        r.file,
        r.line,
        r.from.join("::"),
        r.to.join("::")
    ))
}

#[test]
fn imports_point_downward_only() {
    let (refs, kinds) = collect();
    assert!(
        kinds.contains("s3") && kinds.contains("ec2_instance"),
        "kind folders found: {kinds:?}"
    );
    assert!(
        refs.len() > 100,
        "the scan found only {} imports",
        refs.len()
    );
    let violations: Vec<String> = refs.iter().filter_map(|r| forbidden(r, &kinds)).collect();
    assert!(
        violations.is_empty(),
        "forbidden imports:\n{}",
        violations.join("\n")
    );
}

#[test]
fn top_level_modules_have_no_import_cycle() {
    let (refs, _) = collect();
    // Edges between top-level modules, with one place that makes each.
    let mut edges: BTreeMap<(String, String), String> = BTreeMap::new();
    for r in &refs {
        let (a, b) = (top(&r.from), top(&r.to));
        if !a.is_empty() && !b.is_empty() && a != b {
            edges
                .entry((a.to_string(), b.to_string()))
                .or_insert_with(|| format!("{}:{}", r.file, r.line));
        }
    }
    let mut cycles = Vec::new();
    for ((a, b), place) in &edges {
        if let Some(back) = path_between(&edges, b, a) {
            cycles.push(format!(
                "{a} → {b} ({place}), and back: {}",
                back.join(" → ")
            ));
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

/// A path of module edges from `from` to `to`, each step with its place.
fn path_between(
    edges: &BTreeMap<(String, String), String>,
    from: &str,
    to: &str,
) -> Option<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![(from.to_string(), vec![from.to_string()])];
    while let Some((node, path)) = stack.pop() {
        if node == to {
            return Some(path);
        }
        if !seen.insert(node.clone()) {
            continue;
        }
        for ((a, b), place) in edges {
            if *a == node {
                let mut p = path.clone();
                p.push(format!("{b} ({place})"));
                stack.push((b.clone(), p));
            }
        }
    }
    None
}

#[test]
fn the_floor_depends_on_no_firedrill_code() {
    let manifest =
        std::fs::read_to_string(root().join("crates/firedrill-core/Cargo.toml")).unwrap();
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    for line in deps.lines() {
        let name = line.split('=').next().unwrap_or("").trim();
        assert!(
            !name.starts_with("firedrill"),
            "crates/firedrill-core depends on {name}: the floor imports nothing of firedrill"
        );
    }
}

#[test]
fn the_checker_sees_a_planted_violation() {
    // The rules above are only worth something if they can fail.
    let module = vec!["targets".to_string(), "ebs_volume".to_string()];
    let refs = references("use super::ec2_instance::wait;", &module);
    assert_eq!(refs, [vec!["targets", "ec2_instance", "wait"]]);
    let kinds: BTreeSet<String> = ["ebs_volume", "ec2_instance"]
        .map(String::from)
        .into_iter()
        .collect();
    let r = Ref {
        file: "src/targets/ebs_volume/mod.rs".into(),
        line: 7,
        from: module,
        to: refs[0].clone(),
    };
    assert_eq!(
        forbidden(&r, &kinds).unwrap(),
        "src/targets/ebs_volume/mod.rs:7: a target kind imports a sibling kind (targets::ebs_volume → targets::ec2_instance::wait)"
    );
    let nested = vec!["targets".into(), "s3".into(), "backup".into()];
    assert_eq!(
        references("use super::super::postgres::x;", &nested),
        [vec!["targets", "postgres", "x"]]
    );
    assert_eq!(
        references(
            "let r = crate::runner::run(x); // crate::report",
            &["report".into()]
        ),
        [vec!["runner", "run"]]
    );
}
