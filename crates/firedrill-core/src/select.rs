//! Fleet selection by tag: a target that says
//! `select = { tags = { "backup-tier" = "gold" }, count = 3 }` instead of
//! naming a resource. This module validates the key, draws the seeded sample
//! (same seed, same resources) and describes the expansion for `plan` and
//! the report. Listing the resources is the kind's business.

use std::collections::BTreeMap;
use std::ops::Range;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnostics::Diagnostic;
use crate::input::Spanned;
use crate::recovery::mix;
use crate::resource::{TAG_RUN_ID, is_scratch_name};

/// The `select` key of a target, as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSelect {
    /// Every one of these tags must match (`key = "value"`).
    pub tags: Option<Spanned<BTreeMap<String, String>>>,
    /// Drill this many of the matching resources, chosen by the run's seed.
    pub count: Option<Spanned<i64>>,
    /// Drill this percentage (1–100, rounded up) of the matching resources.
    pub percent: Option<Spanned<i64>>,
}

/// How many of the matching resources are drilled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Want {
    /// Every matching resource.
    All,
    Count(u32),
    /// 1–100; rounded up, at least one.
    Percent(u8),
}

impl Want {
    /// How many of `matched` resources are drilled.
    pub fn of(self, matched: usize) -> usize {
        match self {
            Want::All => matched,
            Want::Count(n) => (n as usize).min(matched),
            Want::Percent(p) => (matched * usize::from(p)).div_ceil(100).min(matched),
        }
    }

    /// For people: `3 of them`, `10% of them`, `all of them`.
    pub fn describe(self) -> String {
        match self {
            Want::All => "all of them".into(),
            Want::Count(n) => format!("{n} of them"),
            Want::Percent(p) => format!("{p}% of them"),
        }
    }
}

/// A validated selection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    pub tags: BTreeMap<String, String>,
    pub want: Want,
}

impl Selection {
    /// `volumes tagged backup-tier=gold, 3 of them`.
    pub fn describe(&self, noun: &str) -> String {
        format!(
            "{noun} tagged {}, {}",
            tag_text(&self.tags),
            self.want.describe()
        )
    }
}

/// `k=v, k2=v2`.
pub fn tag_text(tags: &BTreeMap<String, String>) -> String {
    tags.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Validate a `select` table; `id_key` is the key it replaces, `id_span`
/// where that key was written if it was.
pub fn validate(
    raw: &RawSelect,
    span: Range<usize>,
    id_key: &str,
    id_span: Option<Range<usize>>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Selection> {
    let before = diags.len();
    if let Some(s) = id_span {
        diags.push(
            Diagnostic::new(format!("`select` together with `{id_key}`"))
                .at(s)
                .label("a selecting target names no resource")
                .help(format!(
                    "remove `{id_key}` to drill the selected resources, or remove `select` to drill this one"
                )),
        );
    }
    let empty = BTreeMap::new();
    let tags = raw.tags.as_ref().map_or(&empty, Spanned::get_ref);
    if tags.is_empty() {
        diags.push(
            Diagnostic::new("`select` has no tags: it would drill every resource of the kind")
                .at(raw.tags.as_ref().map_or(span, Spanned::span))
                .label("no `tags`")
                .help("add `tags = { \"backup-tier\" = \"gold\" }`"),
        );
    }
    for (k, v) in tags {
        if k.trim().is_empty() || k.len() > 128 || v.len() > 256 {
            diags.push(
                Diagnostic::new(format!("tag `{k}` cannot be matched"))
                    .at(raw.tags.as_ref().map_or(0..0, Spanned::span))
                    .label("bad tag")
                    .help("a tag key is 1–128 characters, a value at most 256"),
            );
        }
    }
    let want = match (&raw.count, &raw.percent) {
        (Some(_), Some(p)) => {
            diags.push(
                Diagnostic::new("`select` has both `count` and `percent`")
                    .at(p.span())
                    .label("second sample size")
                    .help("keep one: `count = 3` or `percent = 10`"),
            );
            None
        }
        (Some(c), None) => match u32::try_from(*c.get_ref()) {
            Ok(n) if n >= 1 => Some(Want::Count(n)),
            _ => {
                diags.push(
                    Diagnostic::new(format!("`count` is {}, it must be at least 1", c.get_ref()))
                        .at(c.span())
                        .label("drills nothing")
                        .help("write `count = 1` or more, or leave `count` out to drill all"),
                );
                None
            }
        },
        (None, Some(p)) => match u8::try_from(*p.get_ref()) {
            Ok(n) if (1..=100).contains(&n) => Some(Want::Percent(n)),
            _ => {
                diags.push(
                    Diagnostic::new(format!("`percent` is {}, outside 1–100", p.get_ref()))
                        .at(p.span())
                        .label("out of range")
                        .help("write a percentage from 1 to 100, e.g. `percent = 10`"),
                );
                None
            }
        },
        (None, None) => Some(Want::All),
    };
    (diags.len() == before).then(|| Selection {
        tags: tags.clone(),
        want: want.unwrap_or(Want::All),
    })
}

/// Whether a listed resource belongs to a selection: it carries every
/// wanted tag with its value, and it is not a scratch resource firedrill
/// made (run-id tag, or a scratch name: a restored copy carries the
/// source's tags and would otherwise be drilled in its place).
pub fn matches<'a>(
    id: &str,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    wanted: &BTreeMap<String, String>,
) -> bool {
    if is_scratch_name(id) {
        return false;
    }
    let have: BTreeMap<&str, &str> = tags.into_iter().collect();
    !have.contains_key(TAG_RUN_ID)
        && wanted
            .iter()
            .all(|(k, v)| have.get(k.as_str()) == Some(&v.as_str()))
}

/// A target's name as the stem of a file in the run directory: a selected
/// resource's target is `<target>/<id>`, and the `/` would name a
/// directory. Target names hold no `.`, so `<target>.<id>` cannot collide.
pub fn file_stem(target: &str) -> String {
    target.replace('/', ".")
}

/// Draw the sample: the ids are sorted, shuffled by the seed (Fisher–Yates
/// over splitmix64) and the first `want.of(n)` kept, returned sorted. Pure:
/// the same ids and seed always give the same sample.
pub fn sample(ids: &[String], want: Want, seed: u64) -> Vec<String> {
    let mut pool: Vec<String> = ids.to_vec();
    pool.sort();
    pool.dedup();
    let k = want.of(pool.len());
    let mut state = seed;
    for i in 0..k {
        state = mix(state);
        let left = (pool.len() - i) as u64;
        let j = i + (state % left) as usize;
        pool.swap(i, j);
    }
    pool.truncate(k);
    pool.sort();
    pool
}

/// What a selecting target expanded to, for the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectionReport {
    /// The selecting target's name; the drilled ones are `<target>/<id>`.
    pub target: String,
    pub kind: String,
    pub tags: BTreeMap<String, String>,
    pub want: Want,
    /// Resources that carried every tag.
    pub matched: usize,
    /// The ones drilled.
    pub selected: Vec<String>,
    /// The target's seed the sample was drawn with.
    pub seed: u64,
    /// How long the listing took, in milliseconds.
    pub duration_ms: u64,
}

impl SelectionReport {
    /// `data: 3 of 20 matching (backup-tier=gold) in 41 ms, seed 7: vol-a, vol-b, vol-c`.
    pub fn line(&self) -> String {
        format!(
            "{}: {} of {} matching ({}) in {} ms, seed {}: {}",
            self.target,
            self.selected.len(),
            self.matched,
            tag_text(&self.tags),
            self.duration_ms,
            self.seed,
            self.selected.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("vol-{i:08x}")).collect()
    }

    #[test]
    fn sample_sizes_follow_count_and_percent() {
        let all = ids(20);
        assert_eq!(sample(&all, Want::Count(3), 7).len(), 3);
        assert_eq!(sample(&all, Want::Percent(10), 7).len(), 2);
        assert_eq!(sample(&all, Want::Percent(1), 7).len(), 1, "rounded up");
        assert_eq!(sample(&all, Want::All, 7), all);
        assert_eq!(sample(&all, Want::Count(50), 7).len(), 20);
        assert!(sample(&[], Want::Count(3), 7).is_empty());
    }

    #[test]
    fn the_same_seed_draws_the_same_sample_whatever_the_listing_order() {
        let all = ids(20);
        let mut reversed = all.clone();
        reversed.reverse();
        let a = sample(&all, Want::Count(3), 42);
        assert_eq!(a, sample(&reversed, Want::Count(3), 42));
        // Different seeds give different samples (over a few, at least one differs).
        let others: Vec<_> = (0..8).map(|s| sample(&all, Want::Count(3), s)).collect();
        assert!(others.iter().any(|o| o != &a), "{others:?}");
        // Every id is reachable: over many seeds all 20 are drawn.
        let drawn: std::collections::BTreeSet<String> = (0..200)
            .flat_map(|s| sample(&all, Want::Count(1), s))
            .collect();
        assert_eq!(drawn.len(), 20);
    }

    #[test]
    fn a_resource_matches_with_every_tag_and_value_unless_it_is_scratch() {
        let wanted = BTreeMap::from([
            ("backup-tier".to_string(), "gold".to_string()),
            ("env".to_string(), "prod".to_string()),
        ]);
        let scratch = "firedrill-20260102-030405-0a1b2c-0-restored";
        for (id, tags, selected) in [
            ("db-1", vec![("backup-tier", "gold"), ("env", "prod")], true),
            (
                "db-2",
                vec![("env", "prod"), ("backup-tier", "gold"), ("x", "y")],
                true,
            ),
            ("db-3", vec![("backup-tier", "gold")], false),
            (
                "db-4",
                vec![("backup-tier", "silver"), ("env", "prod")],
                false,
            ),
            (
                "db-5",
                vec![("Backup-Tier", "gold"), ("env", "prod")],
                false,
            ),
            ("db-6", vec![], false),
            (
                "db-7",
                vec![("backup-tier", "gold"), ("env", "prod"), (TAG_RUN_ID, "r1")],
                false,
            ),
            (
                scratch,
                vec![("backup-tier", "gold"), ("env", "prod")],
                false,
            ),
            (
                "firedrill-demo",
                vec![("backup-tier", "gold"), ("env", "prod")],
                true,
            ),
        ] {
            assert_eq!(matches(id, tags, &wanted), selected, "{id}");
        }
    }

    #[test]
    fn a_selected_targets_files_stay_in_the_run_directory() {
        assert_eq!(file_stem("orders"), "orders");
        assert_eq!(file_stem("gold/vol-0abc"), "gold.vol-0abc");
        assert_eq!(
            file_stem("sites/logs.example.com"),
            "sites.logs.example.com"
        );
    }

    #[test]
    fn describe_names_the_tags_and_the_size() {
        let s = Selection {
            tags: BTreeMap::from([("backup-tier".into(), "gold".into())]),
            want: Want::Count(3),
        };
        assert_eq!(
            s.describe("volumes"),
            "volumes tagged backup-tier=gold, 3 of them"
        );
    }
}
