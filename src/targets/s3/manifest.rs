//! The backup manifest (one JSON line per object, in S3 key order) and the
//! streaming diff of a restored bucket against it. Both sides are read in
//! key order, so memory stays constant whatever the bucket size.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// One object at backup time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub key: String,
    pub size: u64,
    pub sha256: String,
    /// MD5 of the same bytes: a restored copy whose S3 `ETag` equals it is
    /// verified without downloading it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

/// Appends entries to a manifest file.
pub struct Writer {
    out: BufWriter<File>,
    pub count: u64,
    pub bytes: u64,
}

impl Writer {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            out: BufWriter::new(File::create(path)?),
            count: 0,
            bytes: 0,
        })
    }

    pub fn push(&mut self, entry: &Entry) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, entry)?;
        self.out.write_all(b"\n")?;
        self.count += 1;
        self.bytes += entry.size;
        Ok(())
    }

    pub fn finish(self) -> std::io::Result<()> {
        self.out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?
            .sync_all()
    }
}

/// Reads a manifest back, one entry at a time.
pub fn read(path: &Path) -> std::io::Result<impl Iterator<Item = std::io::Result<Entry>>> {
    let lines = BufReader::new(File::open(path)?).lines();
    Ok(lines.map(|l| {
        let l = l?;
        serde_json::from_str(&l)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }))
}

/// One difference between the manifest and the restored copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum Difference {
    Missing {
        key: String,
        size: u64,
    },
    Unexpected {
        key: String,
        size: u64,
    },
    SizeMismatch {
        key: String,
        expected: u64,
        actual: u64,
    },
    Corrupted {
        key: String,
        expected_sha256: String,
        actual_sha256: String,
    },
}

impl Difference {
    pub fn key(&self) -> &str {
        match self {
            Difference::Missing { key, .. }
            | Difference::Unexpected { key, .. }
            | Difference::SizeMismatch { key, .. }
            | Difference::Corrupted { key, .. } => key,
        }
    }
}

/// An object of the restored copy as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    /// The `ETag` when it has the shape of an MD5 digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
}

/// What a merge step decided for a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// In the manifest only.
    Missing(Entry),
    /// In the restored copy only.
    Unexpected(Listed),
    /// In both: compare.
    Both(Entry, Listed),
}

/// Merge-join two key-ordered streams. `expected` is the manifest, `actual`
/// the restored listing; both must be in S3 key (byte) order.
pub fn merge<E, A>(expected: E, actual: A) -> impl Iterator<Item = Step>
where
    E: Iterator<Item = Entry>,
    A: Iterator<Item = Listed>,
{
    let mut e = expected.peekable();
    let mut a = actual.peekable();
    std::iter::from_fn(move || match (e.peek(), a.peek()) {
        (None, None) => None,
        (Some(_), None) => e.next().map(Step::Missing),
        (None, Some(_)) => a.next().map(Step::Unexpected),
        (Some(x), Some(l)) => match x.key.as_bytes().cmp(l.key.as_bytes()) {
            Ordering::Less => e.next().map(Step::Missing),
            Ordering::Greater => a.next().map(Step::Unexpected),
            Ordering::Equal => {
                let entry = e.next()?;
                let listed = a.next()?;
                Some(Step::Both(entry, listed))
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(key: &str) -> Entry {
        Entry {
            key: key.into(),
            size: 1,
            sha256: String::new(),
            md5: None,
            version_id: None,
        }
    }

    fn listed(key: &str, size: u64) -> Listed {
        Listed {
            key: key.into(),
            size,
            md5: None,
        }
    }

    #[test]
    fn merge_finds_missing_unexpected_and_common() {
        let expected = ["a", "b", "d"].map(entry).into_iter();
        let actual = [listed("b", 1), listed("c", 1), listed("d", 2)].into_iter();
        let steps: Vec<Step> = merge(expected, actual).collect();
        assert_eq!(
            steps,
            vec![
                Step::Missing(entry("a")),
                Step::Both(entry("b"), listed("b", 1)),
                Step::Unexpected(listed("c", 1)),
                Step::Both(entry("d"), listed("d", 2)),
            ]
        );
    }

    proptest! {
        #[test]
        fn merge_accounts_for_every_key(
            exp in proptest::collection::btree_set("[a-d]{1,3}", 0..30),
            act in proptest::collection::btree_set("[a-d]{1,3}", 0..30),
        ) {
            let steps: Vec<Step> = merge(
                exp.iter().map(|k| entry(k)),
                act.iter().map(|k| listed(k, 1)),
            ).collect();
            let missing = steps.iter().filter(|s| matches!(s, Step::Missing(_))).count();
            let unexpected = steps.iter().filter(|s| matches!(s, Step::Unexpected(..))).count();
            let both = steps.iter().filter(|s| matches!(s, Step::Both(..))).count();
            prop_assert_eq!(missing, exp.difference(&act).count());
            prop_assert_eq!(unexpected, act.difference(&exp).count());
            prop_assert_eq!(both, exp.intersection(&act).count());
        }
    }
}
