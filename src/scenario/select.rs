//! `select = { tags = { ... }, count = N }` in a target table: validated
//! here, at parse time, against the kind's [`Selectable`]; the runner's
//! preflight expands it into one target per selected resource, each built
//! from the same table with the resource's id (see [`expand_target`]).

use firedrill_core::Diagnostic;
use firedrill_core::options::{COMMON_TARGET_KEYS, TargetInput, section};
use firedrill_core::select::{RawSelect, Selection, validate};
use serde_spanned::Spanned as TomlSpanned;
use toml::de::{DeTable, DeValue};

use crate::targets::Target;
use crate::targets::select::{SELECTABLE, Selectable, selectable};

/// A target that selects its resources by tag.
#[derive(Debug, Clone)]
pub struct TargetSelect {
    pub selection: Selection,
    /// The target's position in the file's `[[targets]]`.
    pub index: usize,
    pub from: &'static Selectable,
}

impl TargetSelect {
    /// `volumes tagged backup-tier=gold, 3 of them`.
    pub fn describe(&self) -> String {
        self.selection.describe(self.from.noun)
    }
}

/// Take `select` out of a target's kind keys; when it is there and valid,
/// put the kind's placeholder id in its place so the kind validates the
/// rest of the table as usual.
pub fn take(
    rest: &mut DeTable<'_>,
    kind: &str,
    index: usize,
    diags: &mut Vec<Diagnostic>,
) -> Option<TargetSelect> {
    let (key, value) = rest.remove_entry("select")?;
    let Some(from) = selectable(kind) else {
        let kinds: Vec<&str> = SELECTABLE.iter().map(|s| s.kind).collect();
        diags.push(
            Diagnostic::new(format!("kind `{kind}` cannot select its resources by tag"))
                .at(key.span())
                .label("not selectable")
                .help(format!(
                    "name the resource instead; kinds that take `select`: {}",
                    firedrill_core::options::backquoted(&kinds)
                )),
        );
        return None;
    };
    let span = value.span();
    let id_span = rest.get(from.id_key).map(TomlSpanned::span);
    if id_span.is_none() {
        // Whatever is wrong with `select`, the id key is not missing.
        rest.insert(
            TomlSpanned::new(span.clone(), from.id_key.into()),
            TomlSpanned::new(span.clone(), DeValue::String(from.placeholder.into())),
        );
    }
    let raw: RawSelect = section(value, diags)?;
    let selection = validate(&raw, span, from.id_key, id_span, diags)?;
    Some(TargetSelect {
        selection,
        index,
        from,
    })
}

/// The target of one selected resource: the selecting target's table as
/// written, re-read from the scenario text, with `id` for the kind's id key.
pub fn expand_target(
    text: &str,
    select: &TargetSelect,
    name: &str,
    home_region: Option<&str>,
    id: &str,
) -> Result<Box<dyn Target>, String> {
    let root = DeTable::parse(text).map_err(|e| e.message().to_string())?;
    let item = root
        .into_inner()
        .remove("targets")
        .and_then(|t| match t.into_inner() {
            DeValue::Array(items) => items.into_iter().nth(select.index),
            _ => None,
        })
        .ok_or("the scenario changed: the selecting target is gone")?;
    let span = item.span();
    let DeValue::Table(table) = item.into_inner() else {
        return Err("the selecting target is not a table".into());
    };
    let mut rest = DeTable::new();
    for (k, v) in table {
        let key: &str = k.get_ref();
        if !COMMON_TARGET_KEYS.contains(&key) && key != "select" {
            rest.insert(k, v);
        }
    }
    rest.insert(
        TomlSpanned::new(span.clone(), select.from.id_key.into()),
        TomlSpanned::new(span.clone(), DeValue::String(id.to_string().into())),
    );
    build(
        select.from.kind,
        TargetInput {
            name,
            index: select.index,
            home_region,
            table: TomlSpanned::new(span, DeValue::Table(rest)),
        },
    )
}

/// The target of a resource the scenario does not name (`coverage
/// --all`): its kind's defaults with `id` for `id_key`.
pub fn default_target(
    kind: &str,
    id_key: &str,
    id: &str,
    home_region: Option<&str>,
) -> Result<Box<dyn Target>, String> {
    let text = format!("{id_key} = {}", toml::Value::String(id.to_string()));
    let table = DeTable::parse(&text).map_err(|e| e.message().to_string())?;
    let span = table.span();
    build(
        kind,
        TargetInput {
            name: "-",
            index: 0,
            home_region,
            table: TomlSpanned::new(span, DeValue::Table(table.into_inner())),
        },
    )
}

/// Parse one target table with its kind; every diagnostic is an error.
fn build(kind: &str, input: TargetInput<'_>) -> Result<Box<dyn Target>, String> {
    let kind = crate::targets::kind(kind).ok_or("unknown kind")?;
    let mut diags = Vec::new();
    match (kind.parse)(input, &mut diags) {
        Some(t) if diags.is_empty() => Ok(t),
        _ => Err(diags
            .iter()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

/// Schema of a selectable kind: `select` as an alternative to its id key.
pub fn schema(
    obj: &mut serde_json::Map<String, serde_json::Value>,
    from: &Selectable,
    generator: &mut schemars::SchemaGenerator,
) {
    use schemars::JsonSchema;
    use serde_json::{Value, json};
    let select = RawSelect::json_schema(generator).to_value();
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert("select".into(), select);
    }
    if let Some(req) = obj.get_mut("required").and_then(Value::as_array_mut) {
        req.retain(|r| r != from.id_key);
    }
    obj.insert(
        "oneOf".into(),
        json!([{"required": [from.id_key]}, {"required": ["select"]}]),
    );
}
