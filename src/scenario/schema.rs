//! JSON Schema of the scenario format, for editors and CI linters.

use schemars::{JsonSchema, SchemaGenerator, json_schema};
use serde_json::Value;

use super::evidence::RawEvidence;
use super::notify::RawNotify;
use super::raw::{RawEnvironment, RawObjectives, RawRun, RawTargetObjectives};
use crate::targets::REGISTRY;

/// The JSON Schema (draft 2020-12) of scenario format v1.
pub fn scenario_schema() -> Value {
    let mut generator = SchemaGenerator::default();
    let environment = RawEnvironment::json_schema(&mut generator);
    let objectives = RawObjectives::json_schema(&mut generator);
    let run = RawRun::json_schema(&mut generator);
    let target_objectives = RawTargetObjectives::json_schema(&mut generator);
    let notify = RawNotify::json_schema(&mut generator);
    let evidence = RawEvidence::json_schema(&mut generator);
    let gate = super::gates::RawGate::json_schema(&mut generator).to_value();
    let hook = super::hooks::RawHook::json_schema(&mut generator).to_value();
    let kinds: Vec<Value> = REGISTRY
        .iter()
        .map(|k| {
            let mut options = (k.schema)(&mut generator).to_value();
            if let Some(obj) = options.as_object_mut() {
                let props = obj
                    .entry("properties")
                    .or_insert_with(|| Value::Object(serde_json::Map::new()));
                if let Some(props) = props.as_object_mut() {
                    props.insert("name".into(), serde_json::json!({"type": "string", "description": "Target name, unique in the scenario."}));
                    props.insert("kind".into(), serde_json::json!({"const": k.name, "description": k.summary}));
                    props.insert("objectives".into(), target_objectives.clone().to_value());
                    props.insert("depends_on".into(), serde_json::json!({"type": "array", "items": {"type": "string"}, "description": "Targets restored and validated before this one's restore starts."}));
                    props.insert("critical".into(), serde_json::json!({"type": "boolean", "description": "false: reported without deciding the run's verdict."}));
                    props.insert("hooks".into(), serde_json::json!({"type": "array", "items": hook.clone()}));
                }
                let required = obj
                    .entry("required")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Some(req) = required.as_array_mut() {
                    req.push("name".into());
                    req.push("kind".into());
                }
                if let Some(sel) = crate::targets::select::selectable(k.name) {
                    super::select::schema(obj, sel, &mut generator);
                }
                obj.insert("additionalProperties".into(), Value::Bool(false));
            }
            options
        })
        .collect();
    let defs: serde_json::Map<String, Value> =
        generator.take_definitions(true).into_iter().collect();
    let root = json_schema!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "firedrill scenario (format v1)",
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "environment", "objectives", "targets"],
        "properties": {
            "version": {"type": "integer", "const": 1},
            "name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
            "description": {"type": "string"},
            "owner": {"type": "string"},
            "controls": {"type": "array", "items": {"type": "string"}},
            "environment": environment.to_value(),
            "objectives": objectives.to_value(),
            "run": run.to_value(),
            "notify": {"type": "array", "items": notify.to_value()},
            "evidence": evidence.to_value(),
            "targets": {"type": "array", "minItems": 1, "items": {"oneOf": kinds}},
            "gates": {"type": "array", "items": gate},
            "hooks": {"type": "array", "items": hook}
        },
        "$defs": defs
    });
    root.to_value()
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_lists_every_kind() {
        let s = super::scenario_schema();
        let kinds = s["properties"]["targets"]["items"]["oneOf"]
            .as_array()
            .unwrap();
        assert_eq!(kinds.len(), crate::targets::REGISTRY.len());
        assert_eq!(kinds[0]["properties"]["kind"]["const"], "s3-bucket");
    }
}
