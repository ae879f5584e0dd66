//! `openapi`: the OpenAPI schema strategic-merge patches consult for kinds Kubernetes does not
//! define. A kustomization gives a schema file (`path`, JSON or YAML with `definitions`) or
//! names Kustomize's built-in Kubernetes schema (`version: v1.21.2`, which is the default).
//!
//! As in Kustomize, one schema is in force for the whole build: the built kustomization's,
//! else the first one met while loading its bases and components. A definition is found for an
//! object by its `x-kubernetes-group-version-kind`; its lists merge as their
//! `x-kubernetes-patch-strategy` and `x-kubernetes-patch-merge-key` say, following `$ref`s.
//! Kinds the schema does not define keep Ferry's built-in table (Kubernetes' own kinds) or,
//! for other custom resources, replace their lists.

use std::collections::BTreeMap;

use ferry_api::patch::{ListMerge, Schema, StrategicSchema};
use serde_json::{Map, Value};

use super::{KustomizeError, Location};

/// The only Kubernetes schema Kustomize 5.7.1 has built in (and its default).
const BUILTIN_VERSION: &str = "v1.21.2";

/// The schema a kustomization's `openapi` field selects.
#[derive(Debug)]
pub enum OpenApi {
    /// Kustomize's built-in Kubernetes schema.
    Builtin,
    /// A schema file's definitions.
    Custom(Map<String, Value>),
}

impl OpenApi {
    /// Reads a kustomization's `openapi` field.
    pub fn load(loc: &Location, field: &BTreeMap<String, String>) -> Result<Self, KustomizeError> {
        match (field.get("path"), field.get("version")) {
            (Some(_), Some(_)) => Err(
                loc.invalid("openapi: builtin version and custom schema provided, cannot use both")
            ),
            (Some(path), None) => {
                let (file, bytes) = loc.read(path)?;
                let doc: Value = yaml_serde::from_slice(&bytes).map_err(|e| {
                    KustomizeError::invalid(&file, format!("invalid schema file: {e}"))
                })?;
                match doc.get("definitions") {
                    Some(Value::Object(defs)) => Ok(OpenApi::Custom(defs.clone())),
                    _ => Err(KustomizeError::invalid(
                        &file,
                        "invalid schema file: no `definitions` object",
                    )),
                }
            }
            (None, Some(version)) if version == BUILTIN_VERSION => Ok(OpenApi::Builtin),
            (None, Some(version)) => Err(loc.invalid(format!(
                "openapi: the specified OpenAPI version `{version}` is not built in \
                 (Kustomize has {BUILTIN_VERSION})"
            ))),
            (None, None) => Ok(OpenApi::Builtin),
        }
    }

    /// The definition of objects of this group, version and kind, if the schema has one.
    pub fn definition(
        &self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Option<DefinitionSchema<'_>> {
        let OpenApi::Custom(defs) = self else {
            return None;
        };
        let root = defs.values().find(|def| {
            def.get("x-kubernetes-group-version-kind")
                .and_then(Value::as_array)
                .is_some_and(|gvks| {
                    gvks.iter().any(|gvk| {
                        let part = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or_default();
                        part("group") == group && part("version") == version && part("kind") == kind
                    })
                })
        })?;
        Some(DefinitionSchema { defs, root })
    }
}

/// One kind's definition in a schema file, answering strategic merge patch's questions.
pub struct DefinitionSchema<'a> {
    defs: &'a Map<String, Value>,
    root: &'a Value,
}

/// Kubernetes types a schema file may refer to without defining them (Kustomize resolves
/// them in its built-in schema): where each sits in one of Ferry's built-in kinds.
const KUBERNETES_TYPES: [(&str, (&str, &str), &[&str]); 4] = [
    (
        "io.k8s.api.core.v1.PodTemplateSpec",
        ("apps", "Deployment"),
        &["spec", "template"],
    ),
    ("io.k8s.api.core.v1.PodSpec", ("", "Pod"), &["spec"]),
    (
        "io.k8s.api.core.v1.Container",
        ("", "Pod"),
        &["spec", "containers"],
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        ("", "Pod"),
        &["metadata"],
    ),
];

/// Where a walk down a definition ended.
enum Found<'v> {
    /// At this node of the schema file.
    Node(&'v Value),
    /// In a Kubernetes type the file does not define: this built-in kind, at this path.
    Builtin(&'static Schema, Vec<String>),
}

impl DefinitionSchema<'_> {
    /// Follows `$ref`s (`#/definitions/<name>`), a bounded number of times; a reference to a
    /// Kubernetes type the file lacks leads into the built-in table.
    fn resolve<'v>(&'v self, mut node: &'v Value) -> Found<'v> {
        for _ in 0..32 {
            let Some(target) = node.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let name = target.strip_prefix("#/definitions/").unwrap_or(target);
            match self.defs.get(name) {
                Some(def) => node = def,
                None => {
                    let builtin = KUBERNETES_TYPES
                        .iter()
                        .find(|(t, _, _)| *t == name)
                        .and_then(|(_, (group, kind), at)| {
                            let schema = Schema::for_kind(group, kind)?;
                            Some(Found::Builtin(
                                schema,
                                at.iter().map(|s| s.to_string()).collect(),
                            ))
                        });
                    return builtin.unwrap_or(Found::Node(node));
                }
            }
        }
        Found::Node(node)
    }

    fn at(&self, path: &[&str]) -> Option<Found<'_>> {
        let mut found = self.resolve(self.root);
        for field in path {
            let node = match &mut found {
                Found::Builtin(_, at) => {
                    at.push(field.to_string());
                    continue;
                }
                Found::Node(node) => *node,
            };
            // A list on the way: its items' schema has the fields.
            let node = match node.get("items").map(|items| self.resolve(items)) {
                Some(Found::Node(items)) => items,
                Some(builtin) => {
                    found = builtin;
                    if let Found::Builtin(_, at) = &mut found {
                        at.push(field.to_string());
                    }
                    continue;
                }
                None => node,
            };
            found = self.resolve(node.get("properties")?.get(*field)?);
        }
        Some(found)
    }
}

impl StrategicSchema for DefinitionSchema<'_> {
    fn list_merge(&self, path: &[&str]) -> ListMerge<'_> {
        let node = match self.at(path) {
            None => return ListMerge::Replace,
            Some(Found::Builtin(schema, at)) => {
                let at: Vec<&str> = at.iter().map(String::as_str).collect();
                return schema.list_merge(&at);
            }
            Some(Found::Node(node)) => node,
        };
        let text = |key: &str| node.get(key).and_then(Value::as_str);
        let merges =
            text("x-kubernetes-patch-strategy").is_some_and(|s| s.split(',').any(|s| s == "merge"));
        match (merges, text("x-kubernetes-patch-merge-key")) {
            (false, _) => ListMerge::Replace,
            (true, Some(key)) => ListMerge::ByKey(key),
            (true, None) => ListMerge::Union,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_merge_as_the_definition_says() {
        let schema = OpenApi::Custom(
            json!({
                "v1.Crd": {
                    "x-kubernetes-group-version-kind": [
                        {"group": "example.com", "version": "v1", "kind": "Crd"}
                    ],
                    "properties": {"spec": {"properties": {
                        "items": {"type": "array", "items": {"$ref": "#/definitions/v1.Item"},
                                  "x-kubernetes-patch-strategy": "merge",
                                  "x-kubernetes-patch-merge-key": "id"},
                        "tags": {"type": "array", "x-kubernetes-patch-strategy": "merge"},
                        "pod": {"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec"},
                        "plain": {"type": "array"}
                    }}}
                },
                "v1.Item": {"properties": {"ports": {"type": "array"}}}
            })
            .as_object()
            .unwrap()
            .clone(),
        );
        assert!(schema.definition("example.com", "v2", "Crd").is_none());
        let crd = schema.definition("example.com", "v1", "Crd").unwrap();
        let merge = |path: &[&str]| crd.list_merge(path);
        assert_eq!(merge(&["spec", "items"]), ListMerge::ByKey("id"));
        assert_eq!(merge(&["spec", "tags"]), ListMerge::Union);
        assert_eq!(merge(&["spec", "plain"]), ListMerge::Replace);
        assert_eq!(merge(&["spec", "items", "ports"]), ListMerge::Replace);
        // PodSpec is not in the file: Kubernetes' own merge keys apply.
        assert_eq!(
            merge(&["spec", "pod", "containers"]),
            ListMerge::ByKey("name")
        );
        assert_eq!(merge(&["spec", "missing"]), ListMerge::Replace);
    }
}
