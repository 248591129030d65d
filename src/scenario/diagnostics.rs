//! Scenario errors that point at the source: <file:line:col>, the offending
//! span, and a hint where the fix is known.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

/// One problem in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub span: Option<Range<usize>>,
    pub label: Option<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            span: None,
            label: None,
            help: None,
        }
    }

    #[must_use]
    pub fn at(mut self, span: Range<usize>) -> Self {
        self.span = Some(span);
        self
    }

    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Build from a toml/serde error, adding a "did you mean" for unknown keys
    /// and plain words for serde's phrasing.
    pub fn from_toml(err: &toml::de::Error) -> Self {
        let raw = err.message().trim();
        let mut d = Diagnostic::new(raw.to_string());
        d.span = err.span();
        if let Some((field, expected)) = parse_unknown_field(raw) {
            d.message = format!("unknown key `{field}`");
            d.label = Some("unknown key".into());
            d.help = Some(
                match crate::scenario::suggest::did_you_mean(&field, &expected) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if expected.is_empty() => "remove it: this table takes no keys".into(),
                    None => format!("expected one of {}", quoted(&expected)),
                },
            );
        } else if let Some(field) = raw
            .strip_prefix("missing field `")
            .and_then(|r| r.strip_suffix('`'))
        {
            d.message = format!("missing required key `{field}`");
            d.label = Some("in this table".into());
            d.help = Some(format!("add `{field} = ...`"));
        } else if raw.starts_with("invalid type") {
            d.label = Some("wrong type".into());
        }
        d
    }
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// serde's "unknown field `x`, expected one of `a`, `b`" (or "expected `a`",
/// or "there are no fields").
fn parse_unknown_field(msg: &str) -> Option<(String, Vec<String>)> {
    let rest = msg.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((field.to_string(), expected))
}

/// Every problem found in one scenario file.
#[derive(Debug)]
pub struct ScenarioError {
    pub path: PathBuf,
    pub text: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl ScenarioError {
    pub fn new(path: &Path, text: &str, diagnostics: Vec<Diagnostic>) -> Self {
        Self {
            path: path.to_path_buf(),
            text: text.to_string(),
            diagnostics,
        }
    }

    /// `file:line:col` for a byte offset.
    pub fn location(&self, offset: usize) -> String {
        let (line, col) = line_col(&self.text, offset);
        format!("{}:{line}:{col}", self.path.display())
    }

    /// Render every diagnostic for a terminal, without colour (stable for
    /// snapshots and logs).
    pub fn render(&self) -> String {
        self.render_with(GraphicalTheme::unicode_nocolor())
    }

    /// Render with a given miette theme.
    pub fn render_with(&self, theme: GraphicalTheme) -> String {
        let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
        let name = self.path.display().to_string();
        let mut out = String::new();
        for d in &self.diagnostics {
            let loc = d
                .span
                .as_ref()
                .map_or_else(|| name.clone(), |s| self.location(s.start));
            let one = Rendered {
                header: format!("{loc}: {}", d.message),
                diag: d,
                source: NamedSource::new(name.clone(), self.text.clone()),
            };
            // Rendering into a String cannot fail.
            let _ = handler.render_report(&mut out, &one);
        }
        let n = self.diagnostics.len();
        out.push_str(&format!(
            "{}: {n} error{} found\n",
            self.path.display(),
            if n == 1 { "" } else { "s" }
        ));
        out
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.diagnostics.first();
        match first {
            Some(d) => {
                let loc = d.span.as_ref().map_or_else(
                    || self.path.display().to_string(),
                    |s| self.location(s.start),
                );
                write!(f, "invalid scenario {loc}: {}", d.message)?;
                if let Some(h) = &d.help {
                    write!(f, " (hint: {h})")?;
                }
                if self.diagnostics.len() > 1 {
                    write!(f, " (and {} more)", self.diagnostics.len() - 1)?;
                }
                Ok(())
            }
            None => write!(f, "invalid scenario {}", self.path.display()),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

struct Rendered<'a> {
    header: String,
    diag: &'a Diagnostic,
    source: NamedSource<String>,
}

impl fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header)
    }
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header)
    }
}

impl std::error::Error for Rendered<'_> {}

impl miette::Diagnostic for Rendered<'_> {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diag
            .help
            .as_ref()
            .map(|h| Box::new(h.clone()) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.diag
            .span
            .as_ref()
            .map(|_| &self.source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.diag.span.clone()?;
        let len = span.end.saturating_sub(span.start).max(1);
        let label = LabeledSpan::new_with_span(
            Some(self.diag.label.clone().unwrap_or_else(|| "here".into())),
            SourceSpan::new(span.start.into(), len),
        );
        Some(Box::new(std::iter::once(label)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 8), (2, 3));
    }

    #[test]
    fn unknown_field_message_is_split() {
        let (f, e) =
            parse_unknown_field("unknown field `buckt`, expected one of `bucket`, `backup`")
                .unwrap();
        assert_eq!(f, "buckt");
        assert_eq!(e, vec!["bucket", "backup"]);
        let (f, e) = parse_unknown_field("unknown field `x`, there are no fields").unwrap();
        assert_eq!(f, "x");
        assert!(e.is_empty());
    }
}
