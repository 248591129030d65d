//! Custom SQL checks: a query whose first value is compared with an exact
//! value, a numeric range, or the value the same query gave at backup time.

use serde::{Deserialize, Serialize};
use tokio_postgres::{Client, SimpleQueryMessage};

use super::SqlError;
use firedrill_core::{Check, CheckStatus};

/// What a check's value must be.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// Exactly this text.
    Text(String),
    /// This number (the value is parsed as a number).
    Number(f64),
    /// Within `min..=max` (either bound optional).
    Range { min: Option<f64>, max: Option<f64> },
    /// Equal to the value captured at backup time.
    Baseline,
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Text(s) => write!(f, "{s:?}"),
            Expect::Number(n) => write!(f, "{n}"),
            Expect::Range { min, max } => match (min, max) {
                (Some(a), Some(b)) => write!(f, "between {a} and {b}"),
                (Some(a), None) => write!(f, "at least {a}"),
                (None, Some(b)) => write!(f, "at most {b}"),
                (None, None) => write!(f, "any value"),
            },
            Expect::Baseline => write!(f, "the value at backup time"),
        }
    }
}

/// One `[[targets.check]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SqlCheck {
    pub name: String,
    pub query: String,
    pub expect: Expect,
}

/// The first column of the first row, as text (`None` for SQL NULL or no row).
pub async fn first_value(client: &Client, query: &str) -> Result<Option<String>, SqlError> {
    let msgs = client
        .simple_query(query)
        .await
        .map_err(|e| SqlError::query("the query", &e))?;
    for m in msgs {
        if let SimpleQueryMessage::Row(row) = m {
            return Ok(row.get(0).map(str::to_string));
        }
    }
    Ok(None)
}

fn shown(v: Option<&str>) -> String {
    v.map_or_else(|| "NULL".to_string(), |s| format!("{s:?}"))
}

/// Judge a check's value. `baseline` is the value at backup time (for
/// `expect = "baseline"`; outer `None` = not captured).
pub fn evaluate(check: &SqlCheck, actual: Option<&str>, baseline: Option<Option<&str>>) -> Check {
    let name = format!("check {}", check.name);
    let number = actual.and_then(|a| a.trim().parse::<f64>().ok());
    let (ok, expected) = match &check.expect {
        Expect::Text(t) => (actual == Some(t.as_str()), format!("{t:?}")),
        Expect::Number(n) => (number == Some(*n), n.to_string()),
        Expect::Range { min, max } => (
            number.is_some_and(|v| min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m)),
            check.expect.to_string(),
        ),
        Expect::Baseline => match baseline {
            Some(b) => (actual == b, shown(b)),
            None => {
                return Check::new(
                    name,
                    CheckStatus::NotVerified,
                    format!(
                        "check `{}`: no baseline value was captured at backup time",
                        check.name
                    ),
                );
            }
        },
    };
    let found = shown(actual);
    let mut c = Check::new(
        name,
        if ok {
            CheckStatus::Passed
        } else {
            CheckStatus::Failed
        },
        if ok {
            format!("check `{}`: {found} as expected", check.name)
        } else {
            format!(
                "check `{}` ({}): expected {expected}, found {found}",
                check.name,
                check.query.trim()
            )
        },
    );
    c.expected = Some(expected);
    c.actual = Some(found);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(expect: Expect) -> SqlCheck {
        SqlCheck {
            name: "n".into(),
            query: "select 1".into(),
            expect,
        }
    }

    #[test]
    fn exact_range_and_baseline_expectations() {
        let s = |e, a, b| evaluate(&check(e), a, b).status;
        assert_eq!(s(Expect::Number(3.0), Some("3"), None), CheckStatus::Passed);
        assert_eq!(
            s(Expect::Number(3.0), Some("3.0"), None),
            CheckStatus::Passed
        );
        assert_eq!(s(Expect::Number(3.0), Some("4"), None), CheckStatus::Failed);
        assert_eq!(s(Expect::Number(3.0), None, None), CheckStatus::Failed);
        assert_eq!(
            s(Expect::Text("a".into()), Some("a"), None),
            CheckStatus::Passed
        );
        assert_eq!(
            s(Expect::Text("a".into()), Some("b"), None),
            CheckStatus::Failed
        );
        let r = Expect::Range {
            min: Some(1.0),
            max: Some(10.0),
        };
        assert_eq!(s(r.clone(), Some("10"), None), CheckStatus::Passed);
        assert_eq!(s(r.clone(), Some("11"), None), CheckStatus::Failed);
        assert_eq!(s(r, Some("x"), None), CheckStatus::Failed);
        assert_eq!(
            s(Expect::Baseline, Some("7"), Some(Some("7"))),
            CheckStatus::Passed
        );
        assert_eq!(
            s(Expect::Baseline, Some("7"), Some(Some("8"))),
            CheckStatus::Failed
        );
        assert_eq!(s(Expect::Baseline, None, Some(None)), CheckStatus::Passed);
        assert_eq!(
            s(Expect::Baseline, Some("7"), None),
            CheckStatus::NotVerified
        );
    }

    #[test]
    fn a_failure_names_the_check_and_both_values() {
        let c = evaluate(&check(Expect::Number(5.0)), Some("4"), None);
        assert_eq!(c.detail, "check `n` (select 1): expected 5, found \"4\"");
    }
}
