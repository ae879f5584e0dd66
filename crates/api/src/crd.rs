//! CustomResourceDefinitions generated from Rust types, so the types stay the one source of
//! truth: [`schema_of`] turns a type's JSON schema (schemars) into the structural OpenAPI v3
//! schema Kubernetes requires, and [`Definition::to_crd`] wraps it with names, scope, printer
//! columns and subresources.
//!
//! The rewrite keeps what Kubernetes validates and drops what it refuses or would act on:
//! no `$schema`, titles, `nullable` or `default` (a default would be written into every stored
//! object, which Argo CD's and Kargo's definitions never do); a free-form `serde_json::Value`
//! becomes `x-kubernetes-preserve-unknown-fields: true`; integer formats are those Kubernetes
//! knows (`int32`, `int64`).

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

/// One kind's CRD: names, scope, columns, and its root schema's parts.
#[derive(Clone, Debug)]
pub struct Definition {
    /// The API group (`argoproj.io`).
    pub group: &'static str,
    /// The served and stored version (`v1alpha1`).
    pub version: &'static str,
    /// The kind (`Application`).
    pub kind: &'static str,
    /// The plural resource name (`applications`).
    pub plural: &'static str,
    /// Short names kubectl accepts (`app`, `apps`).
    pub short_names: &'static [&'static str],
    /// Categories kubectl accepts (`kubectl get argoproj`), if any.
    pub categories: &'static [&'static str],
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Extra columns of `kubectl get`.
    pub printer_columns: Vec<PrinterColumn>,
    /// Whether `status` is a subresource (written only through `/status`).
    pub status_subresource: bool,
    /// Top-level fields besides `apiVersion`, `kind` and `metadata`, with their schemas
    /// (`spec`, `status`, and for an Application `operation`).
    pub fields: Vec<(&'static str, Value)>,
    /// Top-level fields that must be present.
    pub required: &'static [&'static str],
}

/// A column of `kubectl get` (`additionalPrinterColumns`).
#[derive(Clone, Debug)]
pub struct PrinterColumn {
    /// The header (`Sync Status`).
    pub name: &'static str,
    /// The OpenAPI type of the value (`string`, `date`, `integer`).
    pub column_type: &'static str,
    /// Where the value is (`.status.sync.status`).
    pub json_path: &'static str,
    /// 0 shows the column always; higher only with `-o wide`.
    pub priority: u32,
}

impl PrinterColumn {
    /// A column shown always.
    pub const fn new(
        name: &'static str,
        column_type: &'static str,
        json_path: &'static str,
    ) -> Self {
        Self {
            name,
            column_type,
            json_path,
            priority: 0,
        }
    }

    /// A column shown only with `-o wide`.
    pub const fn wide(self) -> Self {
        Self {
            priority: 10,
            ..self
        }
    }
}

impl Definition {
    /// The CRD object (`apiextensions.k8s.io/v1`), labelled as part of `part_of`.
    pub fn to_crd(&self, part_of: &str) -> Value {
        let name = format!("{}.{}", self.plural, self.group);
        let singular = self.kind.to_ascii_lowercase();
        let mut names = json!({
            "kind": self.kind,
            "listKind": format!("{}List", self.kind),
            "plural": self.plural,
            "singular": singular,
        });
        if !self.short_names.is_empty() {
            names["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            names["categories"] = json!(self.categories);
        }
        let mut properties = Map::new();
        properties.insert("apiVersion".into(), json!({"type": "string"}));
        properties.insert("kind".into(), json!({"type": "string"}));
        properties.insert("metadata".into(), json!({"type": "object"}));
        for (field, schema) in &self.fields {
            properties.insert((*field).to_string(), schema.clone());
        }
        let mut schema = json!({"type": "object", "properties": properties});
        if !self.required.is_empty() {
            schema["required"] = json!(self.required);
        }
        let mut version = json!({
            "name": self.version,
            "served": true,
            "storage": true,
            "schema": {"openAPIV3Schema": schema},
        });
        if !self.printer_columns.is_empty() {
            version["additionalPrinterColumns"] = self
                .printer_columns
                .iter()
                .map(|c| {
                    let mut column =
                        json!({"name": c.name, "type": c.column_type, "jsonPath": c.json_path});
                    if c.priority > 0 {
                        column["priority"] = json!(c.priority);
                    }
                    column
                })
                .collect();
        }
        if self.status_subresource {
            version["subresources"] = json!({"status": {}});
        }
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {
                "name": name,
                "labels": {
                    "app.kubernetes.io/name": name,
                    "app.kubernetes.io/part-of": part_of,
                },
            },
            "spec": {
                "group": self.group,
                "names": names,
                "scope": if self.namespaced { "Namespaced" } else { "Cluster" },
                "versions": [version],
            },
        })
    }
}

/// The structural schema of `T`, every subschema inline.
pub fn schema_of<T: JsonSchema>() -> Value {
    let settings = SchemaSettings::openapi3().with(|s| {
        s.inline_subschemas = true;
        s.meta_schema = None;
    });
    let schema = settings.into_generator().into_root_schema_for::<T>();
    structural(schema.to_value())
}

/// The schema of a field that holds any JSON value (`x-kubernetes-preserve-unknown-fields`).
pub fn any_value(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"x-kubernetes-preserve-unknown-fields": true})
}

/// The schema of a field that holds any JSON object.
pub fn any_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}

/// The schema of a field that holds an integer or a string (`IntOrString`).
pub fn int_or_string(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"x-kubernetes-int-or-string": true})
}

/// Rewrites a schemars schema into a Kubernetes structural schema.
fn structural(schema: Value) -> Value {
    match schema {
        // `true` (and `{}`) accept anything: say so the way Kubernetes understands.
        Value::Bool(true) => json!({"x-kubernetes-preserve-unknown-fields": true}),
        Value::Object(mut map) => {
            for key in [
                "$schema", "title", "nullable", "default", "examples", "example",
            ] {
                map.remove(key);
            }
            if map.is_empty() {
                return json!({"x-kubernetes-preserve-unknown-fields": true});
            }
            if let Some(Value::String(format)) = map.get("format") {
                match format.as_str() {
                    "int32" | "int64" | "double" | "float" | "date-time" | "byte" => {}
                    "uint8" | "uint16" | "int8" | "int16" => {
                        map.insert("format".into(), json!("int32"));
                    }
                    "uint32" | "uint64" | "uint" | "int" => {
                        map.insert("format".into(), json!("int64"));
                    }
                    _ => {
                        map.remove("format");
                    }
                }
            }
            if let Some(Value::Object(properties)) = map.get_mut("properties") {
                for value in properties.values_mut() {
                    *value = structural(value.take());
                }
            }
            for key in ["items", "additionalProperties"] {
                if let Some(value) = map.get_mut(key) {
                    *value = structural(value.take());
                }
            }
            if map
                .get("required")
                .is_some_and(|r| r.as_array().is_some_and(Vec::is_empty))
            {
                map.remove("required");
            }
            Value::Object(map)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(JsonSchema, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Sample {
        /// A name.
        name: String,
        #[serde(default)]
        count: Option<u32>,
        #[serde(default)]
        labels: BTreeMap<String, String>,
        #[serde(default)]
        #[schemars(schema_with = "any_object")]
        values: Option<Value>,
        #[serde(default)]
        anything: Vec<Value>,
        #[serde(default)]
        #[schemars(schema_with = "int_or_string")]
        replicas: Value,
    }

    #[test]
    fn schemas_are_structural() {
        let schema = schema_of::<Sample>();
        assert_eq!(
            schema,
            json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "A name."},
                    "count": {"type": "integer", "format": "int64", "minimum": 0},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "values": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "anything": {"type": "array", "items": {"x-kubernetes-preserve-unknown-fields": true}},
                    "replicas": {"x-kubernetes-int-or-string": true},
                },
                "required": ["name"],
            })
        );
    }

    #[test]
    fn definitions_carry_names_columns_and_subresources() {
        let definition = Definition {
            group: "example.dev",
            version: "v1",
            kind: "Widget",
            plural: "widgets",
            short_names: &["wd"],
            categories: &[],
            namespaced: true,
            printer_columns: vec![
                PrinterColumn::new("Ready", "string", ".status.ready"),
                PrinterColumn::new("Owner", "string", ".spec.owner").wide(),
            ],
            status_subresource: true,
            fields: vec![("spec", json!({"type": "object"}))],
            required: &["spec"],
        };
        let crd = definition.to_crd("ferry");
        assert_eq!(crd["metadata"]["name"], "widgets.example.dev");
        assert_eq!(crd["spec"]["names"]["listKind"], "WidgetList");
        assert_eq!(crd["spec"]["names"]["singular"], "widget");
        assert_eq!(crd["spec"]["scope"], "Namespaced");
        let version = &crd["spec"]["versions"][0];
        assert_eq!(version["subresources"], json!({"status": {}}));
        assert_eq!(version["additionalPrinterColumns"][1]["priority"], 10);
        assert!(
            version["additionalPrinterColumns"][0]
                .get("priority")
                .is_none()
        );
        assert_eq!(
            version["schema"]["openAPIV3Schema"]["required"],
            json!(["spec"])
        );
    }
}
