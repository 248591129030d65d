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
            d.help = Some(match crate::suggest::did_you_mean(&field, &expected) {
                Some(s) => format!("did you mean `{s}`?"),
                None if expected.is_empty() => "remove it: this table takes no keys".into(),
                None => format!("expected one of {}", quoted(&expected)),
            });
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
        let diagnostics = diagnostics
            .into_iter()
            .map(|mut d| {
                d.message = clip_words(&d.message);
                d.help = d.help.as_deref().map(clip_words);
                d.label = d.label.as_deref().map(clip_words);
                d
            })
            .collect();
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
        let handler = GraphicalReportHandler::new_themed(theme.clone()).with_width(100);
        // Over a cut line miette would count columns in the excerpt; the
        // header above it already has the file's own line and column.
        let cut_handler = GraphicalReportHandler::new_themed(theme)
            .with_width(100)
            .without_primary_span_start();
        let name = self.path.display().to_string();
        let mut out = String::new();
        for d in self.diagnostics.iter().take(MAX_RENDERED) {
            let loc = d
                .span
                .as_ref()
                .map_or_else(|| name.clone(), |s| self.location(s.start));
            let (text, span, cut) = match &d.span {
                Some(span) => {
                    let (text, span, cut) = excerpt(&self.text, span.clone());
                    (text, Some(span), cut)
                }
                None => (String::new(), None, false),
            };
            let shown = Diagnostic { span, ..d.clone() };
            let one = Rendered {
                header: format!("{loc}: {}", d.message),
                diag: &shown,
                source: NamedSource::new(name.clone(), text),
            };
            // Rendering into a String cannot fail.
            let _ = if cut { &cut_handler } else { &handler }.render_report(&mut out, &one);
        }
        let n = self.diagnostics.len();
        if n > MAX_RENDERED {
            out.push_str(&format!(
                "… and {} more error(s) not shown: fix these first\n",
                n - MAX_RENDERED
            ));
        }
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

/// Diagnostics drawn in full; the rest are counted. A generated file with
/// thousands of mistakes must not take minutes (or a screenful per error)
/// to report.
pub const MAX_RENDERED: usize = 50;

/// Longest source line drawn as is; longer ones are cut around the span.
const MAX_LINE: usize = 160;
/// Characters kept on each side of a span in a cut line.
const AROUND: usize = 60;

/// What a diagnostic shows of the source: the span's line and the ones next
/// to it, with every earlier line reduced to its newline (so the line
/// numbers drawn stay right) and overlong lines cut around the span.
/// Returns the text, the span moved into it, and whether the span's line
/// was cut.
fn excerpt(text: &str, span: Range<usize>) -> (String, Range<usize>, bool) {
    let floor = |i: usize| floor_in(text, i);
    let (start, end) = (floor(span.start), floor(span.end.max(span.start)));
    let line_start = |i: usize| text[..i].rfind('\n').map_or(0, |p| p + 1);
    let line_end = |i: usize| text[i..].find('\n').map_or(text.len(), |p| i + p);
    let this = line_start(start);
    let first = if this == 0 { 0 } else { line_start(this - 1) };
    let this_end = line_end(start);
    let last = if this_end < text.len() {
        line_end(this_end + 1)
    } else {
        this_end
    };
    let mut out = "\n".repeat(text[..first].matches('\n').count());
    let mut moved = start..end;
    let mut cut = false;
    let mut at = first;
    loop {
        let eol = line_end(at);
        let line = &text[at..eol];
        if at == this {
            if line.len() > MAX_LINE {
                cut = true;
                let from = floor(start.saturating_sub(AROUND).max(at));
                // A long span is drawn by its start.
                let to = floor((end.min(eol).min(start + AROUND) + AROUND).min(eol));
                let lead = if from > at { "…" } else { "" };
                out.push_str(lead);
                let base = out.len();
                out.push_str(&text[from..to]);
                if to < eol {
                    out.push('…');
                }
                moved = base + (start - from)..base + (end.min(to) - from);
            } else {
                let base = out.len();
                out.push_str(line);
                moved = base + (start - at)..base + (end.min(eol) - at);
            }
        } else if line.len() > MAX_LINE {
            out.push_str(&line[..floor_in(line, MAX_LINE)]);
            out.push('…');
        } else {
            out.push_str(line);
        }
        if eol >= last {
            break;
        }
        out.push('\n');
        at = eol + 1;
    }
    // Like the whole file, the last line shown ends in a newline when more
    // follows (miette then draws an empty context line as such).
    if last < text.len() {
        out.push('\n');
    }
    (out, moved, cut)
}

/// The largest char boundary of `s` at or below `i`.
fn floor_in(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Messages quote the offending value; a value of a megabyte must not come
/// back whole. Any run of more than this many non-space characters is cut.
const MAX_WORD: usize = 120;

/// Cut every overlong run of non-space characters to its start and length.
fn clip_words(s: &str) -> String {
    if s.len() <= MAX_WORD {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len().min(4 * MAX_WORD));
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let n = word.chars().count();
        if n > MAX_WORD {
            out.extend(word.chars().take(40));
            out.push_str(&format!("… ({n} characters)"));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in s.chars() {
        if c.is_whitespace() {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

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
    fn excerpt_keeps_line_numbers_and_cuts_long_lines_around_the_span() {
        let long = format!("k = \"{}BAD{}\"", "a".repeat(500), "b".repeat(500));
        let text = format!("one = 1\ntwo = 2\n{long}\nfour = 4\nfive = 5\n");
        let at = text.find("BAD").unwrap();
        let (shown, span, cut) = excerpt(&text, at..at + 3);
        assert!(cut);
        assert_eq!(&shown[span.clone()], "BAD");
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines[0], "", "line 1 is reduced to its newline");
        assert_eq!(lines[1], "two = 2", "the line before is context");
        assert!(
            lines[2].starts_with('…') && lines[2].ends_with('…'),
            "{}",
            lines[2]
        );
        assert!(lines[2].chars().count() < 2 * AROUND + 10);
        assert_eq!(lines[3], "four = 4", "the line after is context");
        assert_eq!(lines.len(), 4, "nothing after the context line");
    }

    #[test]
    fn excerpt_handles_spans_at_the_edges_and_inside_characters() {
        let text = "é = 1";
        let (shown, span, _) = excerpt(text, 1..40);
        assert_eq!(shown, text);
        assert!(span.start <= span.end && span.end <= shown.len());
        let (shown, span, _) = excerpt("", 0..0);
        assert_eq!((shown.as_str(), span), ("", 0..0));
    }

    #[test]
    fn a_file_with_thousands_of_errors_renders_the_first_ones_and_counts_the_rest() {
        let text = "x = 1\n".repeat(5000);
        let diags = (0..5000)
            .map(|i| Diagnostic::new(format!("bad {i}")).at(i * 6..i * 6 + 1))
            .collect();
        let e = ScenarioError::new(Path::new("big.toml"), &text, diags);
        let out = e.render();
        assert!(out.contains("big.toml:50:1: bad 49"), "{out}");
        assert!(!out.contains("bad 50\n"));
        assert!(out.contains("… and 4950 more error(s) not shown"), "{out}");
        assert!(out.ends_with("big.toml: 5000 errors found\n"));
    }

    #[test]
    fn huge_values_quoted_in_messages_are_cut() {
        let v = "b".repeat(100_000);
        let e = ScenarioError::new(
            Path::new("x.toml"),
            "",
            vec![
                Diagnostic::new(format!("invalid bucket name `{v}`")).help(format!("rename `{v}`")),
            ],
        );
        let d = &e.diagnostics[0];
        assert_eq!(
            d.message,
            format!(
                "invalid bucket name `{}… (100002 characters)",
                "b".repeat(39)
            )
        );
        assert!(d.help.as_ref().unwrap().len() < 100);
        assert_eq!(clip_words("short `words` stay"), "short `words` stay");
    }

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
