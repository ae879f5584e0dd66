//! `fieldValidation=Strict` for custom resources: fields their CRD's structural schema does
//! not declare are reported, as kube-apiserver's strict decoding does.

use serde_json::Value;

/// The paths (`spec.foo`, `spec.items[0].bar`) of fields `schema` does not declare.
/// `apiVersion`, `kind` and `metadata` are always allowed at the top level.
pub fn unknown_fields(schema: &Value, obj: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(map) = obj.as_object() {
        let top = map
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata"));
        for (key, value) in top {
            walk_field(schema, key, value, key.clone(), &mut out);
        }
    }
    out
}

fn walk_field(parent: &Value, key: &str, value: &Value, path: String, out: &mut Vec<String>) {
    if parent["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true) {
        if let Some(schema) = parent.pointer(&format!("/properties/{}", escape(key))) {
            walk(schema, value, path, out);
        }
        return;
    }
    if let Some(schema) = parent.get("properties").and_then(|p| p.get(key)) {
        walk(schema, value, path, out);
    } else if let Some(schema) = parent.get("additionalProperties").filter(|a| a.is_object()) {
        walk(schema, value, path, out);
    } else if parent.get("additionalProperties") != Some(&Value::Bool(true)) {
        out.push(path);
    }
}

fn walk(schema: &Value, value: &Value, path: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let constrained =
                schema.get("properties").is_some() || schema.get("additionalProperties").is_some();
            if !constrained && schema["x-kubernetes-preserve-unknown-fields"] != Value::Bool(true) {
                // An object schema with no properties accepts only `{}` in Kubernetes' structural
                // pruning; treat every key as unknown.
                if schema.get("type").and_then(Value::as_str) == Some("object") {
                    out.extend(map.keys().map(|k| format!("{path}.{k}")));
                }
                return;
            }
            for (k, v) in map {
                walk_field(schema, k, v, format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(item_schema, item, format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::unknown_fields;
    use serde_json::json;

    #[test]
    fn reports_undeclared_fields_with_their_paths() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "schedule": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            }},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        }});
        let ok = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"},
            "spec": {"schedule": "* * * * *", "labels": {"a": "b"}, "items": [{"name": "n"}], "free": {"any": {"thing": 1}}},
            "status": {"whatever": true}});
        assert!(unknown_fields(&schema, &ok).is_empty());
        let bad =
            json!({"spec": {"schedul": "x", "items": [{"name": "n", "nam": "m"}]}, "extra": 1});
        assert_eq!(
            unknown_fields(&schema, &bad),
            vec!["extra", "spec.items[0].nam", "spec.schedul"]
        );
    }
}
