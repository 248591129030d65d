//! `depends_on` between targets: the recovery order as levels, and the
//! validation of the names and cycles.
//!
//! Level 0 holds the targets that depend on nothing; a target sits one level
//! above its deepest dependency. [`levels`] is pure and table-tested; the
//! runner schedules from the same levels and `plan` prints them.

use std::collections::BTreeMap;

use firedrill_core::diagnostics::Diagnostic;
use firedrill_core::input::Spanned;
use firedrill_core::suggest::did_you_mean;

/// One target's `depends_on`, as written, for validation.
#[derive(Debug)]
pub struct Declared {
    pub name: String,
    pub depends_on: Vec<Spanned<String>>,
}

/// The targets of each level, in scenario order inside a level, or the
/// first cycle found (indices, each depending on the next, the last on the
/// first). `deps[i]` lists the indices target `i` depends on.
pub fn levels(deps: &[Vec<usize>]) -> Result<Vec<Vec<usize>>, Vec<usize>> {
    let n = deps.len();
    let mut level: Vec<Option<usize>> = vec![None; n];
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut placed = 0;
    while placed < n {
        let current = out.len();
        let ready: Vec<usize> = (0..n)
            .filter(|&i| level[i].is_none())
            .filter(|&i| {
                deps[i]
                    .iter()
                    .all(|&d| level.get(d).copied().flatten().is_some_and(|l| l < current))
            })
            .collect();
        if ready.is_empty() {
            return Err(find_cycle(deps, &level));
        }
        for &i in &ready {
            level[i] = Some(current);
        }
        placed += ready.len();
        out.push(ready);
    }
    Ok(out)
}

/// A cycle among the targets not yet placed: each of them depends on at
/// least one other unplaced target, so walking those edges must revisit one.
fn find_cycle(deps: &[Vec<usize>], level: &[Option<usize>]) -> Vec<usize> {
    let unplaced = |i: usize| i < level.len() && level[i].is_none();
    let Some(start) = (0..level.len()).find(|&i| unplaced(i)) else {
        return Vec::new();
    };
    let mut path = vec![start];
    let mut at = start;
    loop {
        let Some(&next) = deps[at].iter().find(|&&d| unplaced(d)) else {
            return path;
        };
        if let Some(pos) = path.iter().position(|&p| p == next) {
            return path.split_off(pos);
        }
        path.push(next);
        at = next;
    }
}

/// Check every `depends_on` entry: it names another target of the scenario,
/// and no chain of them comes back to where it started. Every unknown name
/// and every cycle is reported, each with its span.
pub fn check(declared: &[Declared], diags: &mut Vec<Diagnostic>) {
    let index: BTreeMap<&str, usize> = declared
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name.as_str(), i))
        .collect();
    let names: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(declared.len());
    for d in declared {
        let mut own = Vec::new();
        for dep in &d.depends_on {
            if let Some(&i) = index.get(dep.get_ref().as_str()) {
                own.push(i);
                continue;
            }
            let diag = Diagnostic::new(format!(
                "target `{}` depends on `{}`, which is not a target of this scenario",
                d.name,
                dep.get_ref()
            ))
            .at(dep.span())
            .label("unknown target");
            let others: Vec<&str> = names.iter().copied().filter(|n| *n != d.name).collect();
            diags.push(match did_you_mean(dep.get_ref(), &others) {
                Some(s) => diag.help(format!("did you mean `{s}`?")),
                None if others.is_empty() => {
                    diag.help("remove the entry: this is the scenario's only target")
                }
                None => diag.help(format!("targets of this scenario: {}", others.join(", "))),
            });
        }
        deps.push(own);
    }
    // Report a cycle, cut it, and look again: every cycle is reported once.
    while let Err(cycle) = levels(&deps) {
        let Some(&first) = cycle.first() else { break };
        let next = cycle.get(1).copied().unwrap_or(first);
        let mut chain: Vec<String> = cycle.iter().map(|&i| format!("`{}`", names[i])).collect();
        chain.push(format!("`{}`", names[first]));
        let entry = declared[first]
            .depends_on
            .iter()
            .find(|s| s.get_ref() == names[next]);
        let mut diag = Diagnostic::new(format!("dependency cycle: {}", chain.join(" → ")));
        if let Some(e) = entry {
            diag = diag.at(e.span()).label("this entry closes the cycle");
        }
        diags.push(
            diag.help(
                "a target cannot wait for itself: remove one `depends_on` entry of the cycle",
            ),
        );
        for &i in &cycle {
            deps[i].clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_table() {
        type Case = (
            &'static str,
            Vec<Vec<usize>>,
            Result<Vec<Vec<usize>>, Vec<usize>>,
        );
        let table: Vec<Case> = vec![
            ("empty", vec![], Ok(vec![])),
            ("one alone", vec![vec![]], Ok(vec![vec![0]])),
            ("independent", vec![vec![], vec![]], Ok(vec![vec![0, 1]])),
            (
                "chain",
                vec![vec![], vec![0], vec![1]],
                Ok(vec![vec![0], vec![1], vec![2]]),
            ),
            (
                "reverse chain",
                vec![vec![1], vec![2], vec![]],
                Ok(vec![vec![2], vec![1], vec![0]]),
            ),
            (
                "diamond",
                vec![vec![], vec![0], vec![0], vec![1, 2]],
                Ok(vec![vec![0], vec![1, 2], vec![3]]),
            ),
            (
                "deepest dependency decides",
                vec![vec![], vec![0], vec![0, 1]],
                Ok(vec![vec![0], vec![1], vec![2]]),
            ),
            (
                "duplicate entry",
                vec![vec![], vec![0, 0]],
                Ok(vec![vec![0], vec![1]]),
            ),
            ("self", vec![vec![0]], Err(vec![0])),
            ("two", vec![vec![1], vec![0]], Err(vec![0, 1])),
            (
                "three",
                vec![vec![], vec![2], vec![3], vec![1]],
                Err(vec![1, 2, 3]),
            ),
            (
                "tail into cycle",
                vec![vec![1], vec![2], vec![1]],
                Err(vec![1, 2]),
            ),
        ];
        for (name, deps, want) in table {
            assert_eq!(levels(&deps), want, "{name}");
        }
    }

    fn declared(list: &[(&str, &[&str])]) -> Vec<Declared> {
        list.iter()
            .map(|(n, d)| Declared {
                name: (*n).to_string(),
                depends_on: d
                    .iter()
                    .map(|s| {
                        toml::from_str::<BTreeMap<String, Spanned<String>>>(&format!("v = \"{s}\""))
                            .unwrap()
                            .remove("v")
                            .unwrap()
                    })
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn every_cycle_and_unknown_name_is_reported() {
        let mut diags = Vec::new();
        check(
            &declared(&[
                ("a", &["b"]),
                ("b", &["a"]),
                ("c", &["c"]),
                ("d", &["ordrs"]),
                ("orders", &[]),
            ]),
            &mut diags,
        );
        let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "target `d` depends on `ordrs`, which is not a target of this scenario",
                "dependency cycle: `a` → `b` → `a`",
                "dependency cycle: `c` → `c`",
            ]
        );
        assert_eq!(diags[0].help.as_deref(), Some("did you mean `orders`?"));
    }
}
