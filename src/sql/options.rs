//! The SQL-validation keys every database kind takes: `[[targets.check]]`
//! (a query and what its first value must be) and `password_env`, the name
//! of the variable holding a password (never the password itself).

use firedrill_core::Diagnostic;
use firedrill_core::input::Spanned;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{Expect, SqlCheck};

/// `[[targets.check]]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub name: Spanned<String>,
    /// SQL whose first column of the first row is checked.
    pub query: Spanned<String>,
    /// An exact value (string or number), `{ min = , max = }`, or `"baseline"`
    /// (equal to the value at backup time).
    #[schemars(with = "serde_json::Value")]
    pub expect: Spanned<toml::Value>,
}

/// Check a `password_env` value: it must name a variable, and the value is
/// never repeated in the message (it may be the password itself).
pub fn password_env(v: &Spanned<String>, diags: &mut Vec<Diagnostic>) {
    env_var_name(v, "password_env", "the password", "PGPASSWORD", diags);
}

/// Check a `*_env` key (`password_env`, `secret_env`, `url_env`): it must
/// name an environment variable. The value is never repeated in the
/// message: it may be the secret itself.
pub fn env_var_name(
    v: &Spanned<String>,
    key: &str,
    holds: &str,
    example: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let n = v.get_ref();
    let ok = !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !n.as_bytes()[0].is_ascii_digit();
    if !ok {
        diags.push(
            Diagnostic::new(format!("`{key}` is not an environment variable name"))
                .at(v.span())
                .label("expected a variable name")
                .help(format!("name the variable holding {holds}, e.g. `{key} = \"{example}\"`, not {holds} itself")),
        );
    }
}

/// Validate the custom checks.
pub fn checks(raw: &[RawCheck], diags: &mut Vec<Diagnostic>) -> Vec<SqlCheck> {
    let mut out: Vec<SqlCheck> = Vec::new();
    for c in raw {
        if out.iter().any(|o| &o.name == c.name.get_ref()) {
            diags.push(
                Diagnostic::new(format!("two checks are named `{}`", c.name.get_ref()))
                    .at(c.name.span())
                    .label("duplicate name")
                    .help("give every check its own name: reports and baselines refer to it"),
            );
        }
        if c.query.get_ref().trim().is_empty() {
            diags.push(
                Diagnostic::new("empty check query")
                    .at(c.query.span())
                    .help("write SQL whose first value is checked, e.g. `query = \"SELECT count(*) FROM orders\"`"),
            );
        }
        let bad = |diags: &mut Vec<Diagnostic>, why: &str| {
            diags.push(
                Diagnostic::new(format!("invalid `expect`: {why}"))
                    .at(c.expect.span())
                    .label("not a valid expectation")
                    .help("write an exact value (`expect = 42` or `expect = \"ok\"`), a range (`expect = { min = 1, max = 10 }`) or `expect = \"baseline\"`"),
            );
            Expect::Baseline
        };
        let expect = match c.expect.get_ref() {
            toml::Value::String(s) if s == "baseline" => Expect::Baseline,
            toml::Value::String(s) => Expect::Text(s.clone()),
            toml::Value::Integer(i) => Expect::Number(*i as f64),
            toml::Value::Float(f) => Expect::Number(*f),
            toml::Value::Table(t) => {
                let num = |k: &str| {
                    t.get(k)
                        .map(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
                };
                let (min, max) = (num("min"), num("max"));
                if t.keys().any(|k| k != "min" && k != "max") {
                    bad(diags, "a range has only `min` and `max`")
                } else if min == Some(None) || max == Some(None) {
                    bad(diags, "`min` and `max` are numbers")
                } else if min.is_none() && max.is_none() {
                    bad(diags, "a range needs `min`, `max` or both")
                } else {
                    let (min, max) = (min.flatten(), max.flatten());
                    if let (Some(a), Some(b)) = (min, max)
                        && a > b
                    {
                        bad(diags, "`min` is above `max`")
                    } else {
                        Expect::Range { min, max }
                    }
                }
            }
            toml::Value::Boolean(_) => bad(
                diags,
                "PostgreSQL prints booleans as \"t\" or \"f\"; write `expect = \"t\"`",
            ),
            _ => bad(diags, "unsupported value"),
        };
        out.push(SqlCheck {
            name: c.name.get_ref().clone(),
            query: c.query.get_ref().clone(),
            expect,
        });
    }
    out
}
