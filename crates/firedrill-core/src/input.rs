//! Values as written in a scenario file, before validation: with their
//! byte span (for error messages), and durations written for people.

use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A value with its byte span in the scenario file, for error messages.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T>(serde_spanned::Spanned<T>);

impl<T> Spanned<T> {
    pub fn get_ref(&self) -> &T {
        self.0.get_ref()
    }

    pub fn span(&self) -> std::ops::Range<usize> {
        self.0.span()
    }

    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_spanned::Spanned::<T>::deserialize(d).map(Spanned)
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// A duration written for people: `"15m"`, `"30s"`, `"1h 30m"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl JsonSchema for HumanDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HumanDuration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration: a number and a unit, e.g. \"30s\", \"15m\", \"1h 30m\" (units: ms, s, m, h, d).",
            "pattern": "^\\s*[0-9]+\\s*[a-z]+(\\s*[0-9]+\\s*[a-z]+)*\\s*$",
            "examples": ["30s", "15m", "1h 30m"]
        })
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HumanDuration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"30s\" or \"15m\"")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                parse_duration(v).map(HumanDuration).map_err(E::custom)
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "invalid duration {v}: a bare number has no unit; write it as a string with a unit, e.g. \"{v}s\" or \"{v}m\""
                )))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "invalid duration {v}: a bare number has no unit; write it as a string with a unit, e.g. \"{v}s\""
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// A value as quoted in a message: whole when short, else its start and
/// its length, so a megabyte of junk does not come back in the error.
pub fn clip(v: &str) -> String {
    const KEEP: usize = 24;
    let n = v.chars().count();
    if n <= 2 * KEEP {
        v.to_string()
    } else {
        format!(
            "{}… ({n} characters)",
            v.chars().take(KEEP).collect::<String>()
        )
    }
}

/// Parse a human duration, explaining what went wrong.
pub fn parse_duration(v: &str) -> Result<Duration, String> {
    let trimmed = v.trim();
    let shown = clip(v);
    if trimmed.is_empty() {
        return Err(
            "invalid duration \"\": expected a number and a unit, e.g. \"30s\" or \"15m\"".into(),
        );
    }
    match humantime::parse_duration(trimmed) {
        Ok(d) if d.is_zero() => Err(format!(
            "invalid duration \"{shown}\": must be greater than zero"
        )),
        Ok(d) if d > Duration::from_hours(8784) => Err(format!(
            "invalid duration \"{shown}\": longer than a year; no drill objective should be"
        )),
        Ok(d) => Ok(d),
        Err(e) => {
            let overflow = matches!(e, humantime::DurationError::NumberOverflow);
            let why = match e {
                humantime::DurationError::UnknownUnit { unit, .. } => {
                    format!("unknown unit `{}` (units: ms, s, m, h, d)", clip(&unit))
                }
                humantime::DurationError::NumberExpected(at) => format!(
                    "`{}` is not a number followed by a unit",
                    clip(trimmed.get(at..).unwrap_or(trimmed).trim())
                ),
                humantime::DurationError::InvalidCharacter(_) => {
                    "unexpected character; write a number then a unit".to_string()
                }
                humantime::DurationError::NumberOverflow => "number too large".to_string(),
                humantime::DurationError::Empty => "empty".to_string(),
            };
            let hint = if trimmed.bytes().all(|b| b.is_ascii_digit()) && !overflow {
                format!("; a bare number has no unit, did you mean \"{trimmed}s\"?")
            } else {
                "; e.g. \"30s\", \"15m\", \"1h 30m\"".to_string()
            };
            Err(format!("invalid duration \"{shown}\": {why}{hint}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse_and_explain() {
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_mins(15));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_mins(90));
        let e = parse_duration("15 fortnights").unwrap_err();
        assert!(e.contains("unknown unit"), "{e}");
        let e = parse_duration("30").unwrap_err();
        assert!(e.contains("did you mean \"30s\""), "{e}");
        assert!(
            parse_duration("0s")
                .unwrap_err()
                .contains("greater than zero")
        );
    }
}
