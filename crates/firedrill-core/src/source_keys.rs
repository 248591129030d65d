//! The `[targets.backup]` keys that say where the backup comes from
//! (`source`, `window`, `prefer`), and their validation, shared by every
//! kind. A kind only says what its recovery point ids look like.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::diagnostics::Diagnostic;
use crate::input::{Spanned, clip};
use crate::recovery::{BackupSource, MAX_WINDOW, MIN_WINDOW, Prefer, SourceSpec};
use crate::suggest::did_you_mean;

/// `[targets.backup]` for kinds whose backup section has only the source.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    /// `new` (default: a fresh backup), `latest`, `random` or the id of an
    /// existing recovery point.
    pub source: Option<Spanned<String>>,
    /// For `latest` and `random`: only recovery points created within this
    /// long before the drill, `1d` to `365d` (e.g. `"7d"`).
    pub window: Option<Spanned<String>>,
    /// For `random`: `unproven` prefers a point no earlier drill proved.
    pub prefer: Option<Spanned<String>>,
}

/// What a kind's recovery point ids look like, for messages.
#[derive(Clone, Copy, Debug)]
pub struct IdShape {
    /// `snapshot`, `DB snapshot`, `AMI`, `dump object`.
    pub what: &'static str,
    /// An example id: `snap-0123456789abcdef0`.
    pub example: &'static str,
    /// Whether a value is plausibly such an id.
    pub accepts: fn(&str) -> bool,
}

/// Validate the source keys (each optional) into a [`SourceSpec`].
pub fn source_spec(
    source: Option<&Spanned<String>>,
    window: Option<&Spanned<String>>,
    prefer: Option<&Spanned<String>>,
    shape: IdShape,
    diags: &mut Vec<Diagnostic>,
) -> SourceSpec {
    let parsed = source.map_or(BackupSource::New, |s| parse_source(s, shape, diags));
    let window = window.and_then(|w| {
        if !matches!(parsed, BackupSource::Latest | BackupSource::Random) {
            diags.push(not_for(
                "window",
                w.span(),
                "`latest` and `random`",
                &parsed,
            ));
            return None;
        }
        parse_window(w, diags)
    });
    let prefer = prefer.map_or(Prefer::Any, |p| {
        let v = match p.get_ref().as_str() {
            "any" => Prefer::Any,
            "unproven" => Prefer::Unproven,
            _ => {
                crate::validate::one_of(p, "`prefer` value", &["any", "unproven"], diags);
                return Prefer::Any;
            }
        };
        if parsed != BackupSource::Random {
            diags.push(not_for("prefer", p.span(), "`random`", &parsed));
        }
        v
    });
    SourceSpec {
        source: parsed,
        window,
        prefer,
    }
}

fn parse_source(s: &Spanned<String>, shape: IdShape, diags: &mut Vec<Diagnostic>) -> BackupSource {
    let v = s.get_ref();
    match v.as_str() {
        "new" => BackupSource::New,
        "latest" => BackupSource::Latest,
        "random" => BackupSource::Random,
        id if (shape.accepts)(id) => BackupSource::Id(id.to_string()),
        other => {
            let d = Diagnostic::new(format!(
                "backup source `{}` is neither `new`, `latest`, `random` nor a {} id",
                clip(other),
                shape.what
            ))
            .at(s.span())
            .label("unknown backup source");
            diags.push(match did_you_mean(other, BackupSource::KEYWORDS) {
                Some(k) => d.help(format!("did you mean `{k}`?")),
                None => d.help(format!(
                    "write `latest`, `random` (with `window`), or an id such as `{}`",
                    shape.example
                )),
            });
            BackupSource::New
        }
    }
}

/// `1d` to `365d`, as AWS Backup restore testing allows.
fn parse_window(w: &Spanned<String>, diags: &mut Vec<Diagnostic>) -> Option<Duration> {
    let v = w.get_ref().trim();
    let bad = |msg: String, label: &str| {
        Diagnostic::new(msg)
            .at(w.span())
            .label(label.to_string())
            .help("write a number of days from 1 to 365, e.g. `window = \"7d\"`")
    };
    if v.is_empty() {
        diags.push(bad("`window` is empty".into(), "no duration"));
        return None;
    }
    let d = match humantime::parse_duration(v) {
        Ok(d) => d,
        Err(e) => {
            diags.push(bad(
                format!("`window` `{}` is not a duration: {e}", clip(v)),
                "not a duration",
            ));
            return None;
        }
    };
    if d > MAX_WINDOW {
        diags.push(bad(
            format!(
                "`window` `{}` is longer than 365 days, the most AWS Backup restore testing allows",
                clip(v)
            ),
            "too long",
        ));
        return None;
    }
    if d < MIN_WINDOW {
        diags.push(bad(
            format!("`window` `{}` is shorter than a day", clip(v)),
            "too short",
        ));
        return None;
    }
    Some(d)
}

fn not_for(
    key: &str,
    span: std::ops::Range<usize>,
    sources: &str,
    got: &BackupSource,
) -> Diagnostic {
    Diagnostic::new(format!(
        "`{key}` applies only to source {sources}, not `{}`",
        match got {
            BackupSource::Id(id) => id.as_str(),
            other => other.as_str(),
        }
    ))
    .at(span)
    .label("not used by this source")
    .help(format!("remove `{key}`, or use source {sources}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNAP: IdShape = IdShape {
        what: "snapshot",
        example: "snap-0123456789abcdef0",
        accepts: |v| v.starts_with("snap-"),
    };

    #[derive(Deserialize)]
    struct T {
        v: Spanned<String>,
    }

    fn spanned(v: &str) -> Spanned<String> {
        toml::from_str::<T>(&format!("v = {v:?}")).unwrap().v
    }

    fn run(source: &str, window: Option<&str>, prefer: Option<&str>) -> (SourceSpec, Vec<String>) {
        let mut diags = Vec::new();
        let s = spanned(source);
        let w = window.map(spanned);
        let p = prefer.map(spanned);
        let spec = source_spec(Some(&s), w.as_ref(), p.as_ref(), SNAP, &mut diags);
        (
            spec,
            diags
                .into_iter()
                .map(|d| format!("{} / {}", d.message, d.help.unwrap_or_default()))
                .collect(),
        )
    }

    #[test]
    fn sources_windows_and_preferences_validate() {
        let (s, d) = run("random", Some("7d"), Some("unproven"));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(s.source, BackupSource::Random);
        assert_eq!(s.window, Some(Duration::from_hours(7 * 24)));
        assert_eq!(s.prefer, Prefer::Unproven);
        let (s, d) = run("snap-0abc", None, None);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(s.source, BackupSource::Id("snap-0abc".into()));
        let (_, d) = run("365d", None, None);
        assert!(d[0].contains("neither"), "{d:?}");
    }

    #[test]
    fn bad_source_keys_say_what_to_write() {
        let table: &[(&str, Option<&str>, Option<&str>, &str)] = &[
            ("lastest", None, None, "did you mean `latest`?"),
            ("latest", Some("400d"), None, "longer than 365 days"),
            ("latest", Some(""), None, "`window` is empty"),
            ("latest", Some("2h"), None, "shorter than a day"),
            ("latest", Some("soon"), None, "is not a duration"),
            ("new", Some("7d"), None, "`window` applies only to source"),
            (
                "latest",
                None,
                Some("unproven"),
                "`prefer` applies only to source `random`",
            ),
            ("random", None, Some("fresh"), "unknown `prefer` value"),
        ];
        for (source, window, prefer, want) in table {
            let (_, d) = run(source, *window, *prefer);
            assert_eq!(d.len(), 1, "{source} {window:?} {prefer:?}: {d:?}");
            assert!(d[0].contains(want), "{d:?} lacks {want}");
        }
    }
}
