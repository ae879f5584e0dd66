//! Server-side field validation (`fieldValidation=Strict|Warn`): the fields of an object that
//! its kind's structural schema does not declare, as kube-apiserver's strict decoding reports
//! them. Custom resources are checked against their CRD's `openAPIV3Schema`; built-in kinds
//! against the generated [`builtin_schema`](crate::builtin_schema). One walker serves both:
//! each schema only answers "what may this member / these items be".

use serde_json::Value;

use crate::builtin_schema::{self, BuiltinSchema, Cardinality, Element, Encoding, MessageId};
use crate::resources::ResourceType;

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Field(String),
    Index(usize),
}

/// Where an undeclared field is: `spec`, `template`, `containers`, `[0]`, `imagez`.
pub type FieldPath = Vec<Step>;

/// The path as strict decoding errors print it: `spec.containers[0].imagez`.
pub fn decoding_path(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Field(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The undeclared fields of `obj`, an object of type `t`, in document order of the sorted
/// JSON maps. Types without a schema (a CRD version without one) have none.
pub fn of_object(t: &ResourceType, obj: &Value) -> Vec<FieldPath> {
    let mut out = Vec::new();
    if t.custom {
        if let Some(schema) = t.schema.as_deref() {
            walk(&CrdNode::Root(schema), obj, &mut Vec::new(), &mut out);
        }
    } else if let Ok(schema) = builtin_schema::get()
        && let Some(id) = schema.kind(&t.api_version(), &t.kind)
    {
        walk(
            &BuiltinNode::Kind { schema, id },
            obj,
            &mut Vec::new(),
            &mut out,
        );
    }
    out
}

/// What a schema says about one member of an object or the items of an array.
enum Child<S> {
    /// Declared, with this schema.
    Schema(S),
    /// Declared, with any content (scalars, free-form objects).
    Any,
    /// Not declared.
    Unknown,
}

/// A structural schema, seen one node at a time.
trait Structure: Sized {
    fn member(&self, key: &str) -> Child<Self>;
    fn items(&self) -> Child<Self>;
}

fn walk<S: Structure>(schema: &S, value: &Value, path: &mut FieldPath, out: &mut Vec<FieldPath>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                path.push(Step::Field(key.clone()));
                match schema.member(key) {
                    Child::Schema(s) => walk(&s, child, path, out),
                    Child::Any => {}
                    Child::Unknown => out.push(path.clone()),
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            if let Child::Schema(s) = schema.items() {
                for (i, item) in items.iter().enumerate() {
                    path.push(Step::Index(i));
                    walk(&s, item, path, out);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}

/// A node of a CRD's OpenAPI v3 schema; the root also allows `apiVersion`, `kind` and
/// `metadata`, which a CRD schema need not declare.
enum CrdNode<'a> {
    Root(&'a Value),
    Node(&'a Value),
}

impl Structure for CrdNode<'_> {
    fn member(&self, key: &str) -> Child<Self> {
        let (schema, root) = match *self {
            CrdNode::Root(s) => (s, true),
            CrdNode::Node(s) => (s, false),
        };
        if root && matches!(key, "apiVersion" | "kind" | "metadata") {
            return Child::Any;
        }
        let declared = schema.get("properties").and_then(|p| p.get(key));
        if schema["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true) {
            return declared.map_or(Child::Any, |s| Child::Schema(CrdNode::Node(s)));
        }
        if let Some(s) = declared {
            return Child::Schema(CrdNode::Node(s));
        }
        match schema.get("additionalProperties") {
            Some(s @ Value::Object(_)) => Child::Schema(CrdNode::Node(s)),
            Some(Value::Bool(true)) => Child::Any,
            Some(_) => Child::Unknown,
            // An object schema without properties accepts only `{}` in Kubernetes'
            // structural pruning; a schema of another type says nothing about members.
            None if root || schema.get("properties").is_some() => Child::Unknown,
            None if schema.get("type").and_then(Value::as_str) == Some("object") => Child::Unknown,
            None => Child::Any,
        }
    }

    fn items(&self) -> Child<Self> {
        let (CrdNode::Root(s) | CrdNode::Node(s)) = *self;
        s.get("items")
            .map_or(Child::Any, |i| Child::Schema(CrdNode::Node(i)))
    }
}

/// A node of a built-in kind's structure.
#[derive(Clone, Copy)]
enum BuiltinNode<'s> {
    /// The top-level object of a kind: its message, plus `apiVersion` and `kind`.
    Kind {
        schema: &'s BuiltinSchema,
        id: MessageId,
    },
    /// Where the JSON has the encoding of one message.
    Message {
        schema: &'s BuiltinSchema,
        id: MessageId,
    },
    /// A repeated field's array.
    List {
        schema: &'s BuiltinSchema,
        element: Element,
    },
    /// A map field's object.
    Map {
        schema: &'s BuiltinSchema,
        element: Element,
    },
}

impl<'s> BuiltinNode<'s> {
    /// The node for one value of `element`; scalars take any value.
    fn of(schema: &'s BuiltinSchema, element: Element) -> Child<Self> {
        match element {
            Element::Scalar(_) => Child::Any,
            Element::Message(id) => match schema.message(id).encoding {
                Encoding::Object
                | Encoding::SchemaOrArray
                | Encoding::SchemaOrBool
                | Encoding::SchemaOrStringArray => {
                    Child::Schema(BuiltinNode::Message { schema, id })
                }
                // Times, quantities, int-or-strings, durations: scalars. Embedded JSON: free.
                _ => Child::Any,
            },
        }
    }
}

impl Structure for BuiltinNode<'_> {
    fn member(&self, key: &str) -> Child<Self> {
        let (schema, id) = match *self {
            BuiltinNode::Kind { schema, id } => {
                if matches!(key, "apiVersion" | "kind") {
                    return Child::Any;
                }
                (schema, id)
            }
            BuiltinNode::Message { schema, id } => match schema.message(id).encoding {
                Encoding::Object => (schema, id),
                // The schema side of `JSONSchemaPropsOr*`.
                _ => match schema.json_schema_props() {
                    Some(props) => (schema, props),
                    None => return Child::Any,
                },
            },
            BuiltinNode::Map { schema, element } => return BuiltinNode::of(schema, element),
            BuiltinNode::List { .. } => return Child::Any,
        };
        let Some(field) = schema.field_by_json(id, key) else {
            return Child::Unknown;
        };
        match field.cardinality {
            Cardinality::Repeated => Child::Schema(BuiltinNode::List {
                schema,
                element: field.element,
            }),
            Cardinality::Map => Child::Schema(BuiltinNode::Map {
                schema,
                element: field.element,
            }),
            Cardinality::Single | Cardinality::Inline => BuiltinNode::of(schema, field.element),
        }
    }

    fn items(&self) -> Child<Self> {
        match *self {
            BuiltinNode::List { schema, element } => BuiltinNode::of(schema, element),
            // `JSONSchemaPropsOrArray` as an array holds schemas.
            BuiltinNode::Message { schema, id }
                if schema.message(id).encoding == Encoding::SchemaOrArray =>
            {
                match schema.json_schema_props() {
                    Some(props) => Child::Schema(BuiltinNode::Message { schema, id: props }),
                    None => Child::Any,
                }
            }
            _ => Child::Any,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Resources;
    use serde_json::json;

    fn paths(found: Vec<FieldPath>) -> Vec<String> {
        found.iter().map(|p| decoding_path(p)).collect()
    }

    fn crd_type(schema: Value) -> ResourceType {
        let mut t = (*Resources::new().lookup("", "v1", "configmaps").unwrap()).clone();
        t.custom = true;
        t.schema = Some(std::sync::Arc::new(schema));
        t
    }

    #[test]
    fn reports_fields_a_crd_schema_does_not_declare() {
        let t = crd_type(json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "schedule": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "empty": {"type": "object"},
            }},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        }}));
        let ok = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"},
            "spec": {"schedule": "* * * * *", "labels": {"a": "b"}, "items": [{"name": "n"}], "free": {"any": {"thing": 1}}},
            "status": {"whatever": true}});
        assert!(of_object(&t, &ok).is_empty());
        let bad = json!({"spec": {"schedul": "x", "items": [{"name": "n", "nam": "m"}], "empty": {"k": 1}}, "extra": 1});
        assert_eq!(
            paths(of_object(&t, &bad)),
            vec!["extra", "spec.empty.k", "spec.items[0].nam", "spec.schedul"]
        );
    }

    #[test]
    fn reports_fields_a_built_in_kind_does_not_have() {
        let t = Resources::new()
            .lookup("apps", "v1", "deployments")
            .unwrap();
        let ok = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"any": "key"}, "creationTimestamp": null,
                "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {}}}]},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"rollingUpdate": {"maxSurge": "25%"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                    "containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}],
                        "resources": {"limits": {"cpu": "1"}}}],
                    "volumes": [{"name": "v", "configMap": {"name": "cm"}}]}}},
            "status": {"replicas": 2}});
        assert!(of_object(&t, &ok).is_empty());
        let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "foo": 1},
            "spec": {"replicaz": 2, "template": {"spec": {
                "containers": [{"name": "c"}, {"name": "d", "imagez": "x", "resources": {"limits": {"cpu": "1"}, "limitz": {}}}],
                "volumes": [{"name": "v", "configMapp": {}}]}}}});
        assert_eq!(
            paths(of_object(&t, &bad)),
            vec![
                "metadata.foo",
                "spec.replicaz",
                "spec.template.spec.containers[1].imagez",
                "spec.template.spec.containers[1].resources.limitz",
                "spec.template.spec.volumes[0].configMapp",
            ]
        );
    }

    #[test]
    fn crd_objects_are_checked_against_json_schema_props() {
        let t = Resources::new()
            .lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            .unwrap();
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"size": {"type": "integer", "maximum": 3}},
            "items": [{"type": "string"}], "additionalProperties": {"type": "string", "typo": 1},
            "default": {"any": "thing"}, "x-kubernetes-preserve-unknown-fields": true}}});
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "ws.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "ws", "kind": "W"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "subresources": {"status": {}}, "schema": {"openAPIV3Schema": schema}}]}});
        assert_eq!(
            paths(of_object(&t, &crd)),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties.spec.additionalProperties.typo"
            ]
        );
    }
}
