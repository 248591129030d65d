//! Strings filled from the restored resources: `{{ targets.<name>.<field> }}`.
//!
//! Target names may hold `-` (`orders-db`), which a Jinja expression would
//! read as a subtraction, so the placeholders are parsed here: a template is
//! text and placeholders, each placeholder checked at validation time
//! against the targets of the scenario and the fields their kind offers.

use std::collections::BTreeSet;
use std::fmt;

use firedrill_core::diagnostics::Diagnostic;
use firedrill_core::input::Spanned;
use firedrill_core::suggest::did_you_mean;

/// Fields every target offers, whatever its kind.
pub const COMMON_FIELDS: &[&str] = &["name", "kind", "resource"];

/// A target a template may name, with the fields its kind offers.
#[derive(Clone, Debug)]
pub struct Referable {
    pub name: String,
    pub fields: Vec<&'static str>,
    /// What the target selects by tag (`DB instances tagged tier=gold, 3 of
    /// them`), if it does: it stands for several resources, so no template
    /// can name one of its fields.
    pub selects: Option<String>,
}

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Field { target: String, field: String },
}

/// A validated template.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Template {
    pub pieces: Vec<Piece>,
}

impl Template {
    /// A template without placeholders.
    pub fn literal(s: &str) -> Self {
        Self {
            pieces: vec![Piece::Text(s.to_string())],
        }
    }

    /// The targets this template names.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Field { target, .. } => Some(target.as_str()),
            Piece::Text(_) => None,
        })
    }

    /// Fill the placeholders; `value(target, field)` answers each (an
    /// unanswered one, which validation rules out, renders empty).
    pub fn render(&self, value: impl Fn(&str, &str) -> Option<String>) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Field { target, field } => {
                    out.push_str(&value(target, field).unwrap_or_default());
                }
            }
        }
        out
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.pieces {
            match p {
                Piece::Text(t) => f.write_str(t)?,
                Piece::Field { target, field } => write!(f, "{{{{ targets.{target}.{field} }}}}")?,
            }
        }
        Ok(())
    }
}

/// Parse and check a template: every placeholder is
/// `{{ targets.<name>.<field> }}` with a known target and field.
pub fn parse(
    value: &Spanned<String>,
    targets: &[Referable],
    diags: &mut Vec<Diagnostic>,
) -> Option<Template> {
    let text = value.get_ref();
    let mut pieces = Vec::new();
    let mut rest = text.as_str();
    let mut ok = true;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_string()));
        }
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            diags.push(
                Diagnostic::new("unclosed `{{` in a template")
                    .at(value.span())
                    .label("no matching `}}`")
                    .help("write placeholders as `{{ targets.<name>.<field> }}`"),
            );
            return None;
        };
        let expr = after[..close].trim();
        match placeholder(expr, value, targets, diags) {
            Some(p) => pieces.push(p),
            None => ok = false,
        }
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    ok.then_some(Template { pieces })
}

fn placeholder(
    expr: &str,
    value: &Spanned<String>,
    targets: &[Referable],
    diags: &mut Vec<Diagnostic>,
) -> Option<Piece> {
    let parts: Vec<&str> = expr.split('.').collect();
    let [root, target, field] = parts.as_slice() else {
        diags.push(
            Diagnostic::new(format!(
                "placeholder `{{{{ {expr} }}}}` is not `targets.<name>.<field>`"
            ))
            .at(value.span())
            .label("unsupported placeholder")
            .help("write e.g. `{{ targets.orders-db.endpoint }}`"),
        );
        return None;
    };
    if *root != "targets" {
        diags.push(
            Diagnostic::new(format!(
                "placeholder `{{{{ {expr} }}}}` must start with `targets.`"
            ))
            .at(value.span())
            .label("unsupported placeholder")
            .help("only the restored targets can be named: `{{ targets.<name>.<field> }}`"),
        );
        return None;
    }
    let Some(t) = targets.iter().find(|t| t.name == *target) else {
        let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
        let d = Diagnostic::new(format!(
            "placeholder `{{{{ {expr} }}}}` names `{target}`, which is not a target of this scenario"
        ))
        .at(value.span())
        .label("unknown target");
        diags.push(match did_you_mean(target, &names) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help(format!("targets of this scenario: {}", names.join(", "))),
        });
        return None;
    };
    if let Some(selects) = &t.selects {
        diags.push(
            Diagnostic::new(format!(
                "placeholder `{{{{ {expr} }}}}` names `{target}`, which selects its resources by tag ({selects}): it has no single `{field}`"
            ))
            .at(value.span())
            .label("ambiguous: one value per selected resource")
            .help(format!(
                "name one resource by its id in a separate target and template that one, or depend on `{target}` with `after` (gates) or `depends_on` (targets) without templating it"
            )),
        );
        return None;
    }
    if !t.fields.iter().any(|f| f == field) {
        let d = Diagnostic::new(format!(
            "target `{target}` has no field `{field}` for templates"
        ))
        .at(value.span())
        .label("unknown field");
        let mut fields = t.fields.clone();
        fields.sort_unstable();
        diags.push(match did_you_mean(field, &fields) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help(format!("fields of `{target}`: {}", fields.join(", "))),
        });
        return None;
    }
    Some(Piece::Field {
        target: (*target).to_string(),
        field: (*field).to_string(),
    })
}

/// The targets named by any of `templates`.
pub fn named_targets<'a>(templates: impl IntoIterator<Item = &'a Template>) -> BTreeSet<String> {
    templates
        .into_iter()
        .flat_map(|t| t.targets().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spanned(s: &str) -> Spanned<String> {
        toml::from_str::<std::collections::BTreeMap<String, Spanned<String>>>(&format!(
            "v = {}",
            toml::Value::String(s.to_string())
        ))
        .unwrap()
        .remove("v")
        .unwrap()
    }

    fn targets() -> Vec<Referable> {
        vec![
            Referable {
                name: "orders-db".into(),
                fields: vec!["name", "database", "host", "port"],
                selects: None,
            },
            Referable {
                name: "fleet".into(),
                fields: vec!["name", "database", "host", "port"],
                selects: Some("DB instances tagged tier=gold, 3 of them".into()),
            },
        ]
    }

    #[test]
    fn placeholders_are_parsed_and_rendered() {
        let mut diags = Vec::new();
        let t = parse(
            &spanned("postgres://{{targets.orders-db.host}}:{{ targets.orders-db.port }}/x"),
            &targets(),
            &mut diags,
        )
        .unwrap();
        assert!(diags.is_empty());
        let out = t.render(|target, field| Some(format!("<{target}:{field}>")));
        assert_eq!(out, "postgres://<orders-db:host>:<orders-db:port>/x");
        assert_eq!(
            t.to_string(),
            "postgres://{{ targets.orders-db.host }}:{{ targets.orders-db.port }}/x"
        );
    }

    #[test]
    fn unknown_targets_fields_and_shapes_are_errors() {
        let table = [
            (
                "{{ targets.orders.host }}",
                "names `orders`",
                Some("did you mean `orders-db`?"),
            ),
            (
                "{{ targets.orders-db.hots }}",
                "has no field `hots`",
                Some("did you mean `host`?"),
            ),
            ("{{ env.HOME }}", "is not `targets.<name>.<field>`", None),
            (
                "{{ secrets.orders-db.password }}",
                "must start with `targets.`",
                None,
            ),
            ("{{ targets.orders-db.host", "unclosed", None),
            (
                "{{ targets.fleet.host }}",
                "names `fleet`, which selects its resources by tag (DB instances tagged tier=gold, 3 of them)",
                None,
            ),
        ];
        for (text, message, help) in table {
            let mut diags = Vec::new();
            assert!(
                parse(&spanned(text), &targets(), &mut diags).is_none(),
                "{text}"
            );
            assert_eq!(diags.len(), 1, "{text}");
            assert!(
                diags[0].message.contains(message),
                "{text}: {}",
                diags[0].message
            );
            if let Some(h) = help {
                assert_eq!(diags[0].help.as_deref(), Some(h), "{text}");
            }
            assert!(diags[0].span.is_some());
        }
    }
}
