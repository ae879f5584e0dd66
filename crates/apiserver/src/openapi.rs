//! A minimal OpenAPI v3 index: per group/version, one `PATCH` operation per resource tagged
//! with its group/version/kind and the `fieldValidation` parameter. kubectl reads exactly
//! this to learn that the server validates fields itself (so it sends
//! `fieldValidation=Strict` instead of downloading schemas). Schemas are not published yet.

use std::collections::BTreeMap;
use std::hash::{Hash as _, Hasher as _};

use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::resources::Resources;

/// `/openapi/v3`: the group/version documents and their content hashes.
pub fn root(resources: &Resources) -> Value {
    let mut paths = serde_json::Map::new();
    for (key, doc) in documents(resources) {
        let hash = {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            doc.to_string().hash(&mut h);
            format!("{:016X}", h.finish())
        };
        paths.insert(
            key.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/api/v1`, `/openapi/v3/apis/{group}/{version}`.
pub fn group_version(resources: &Resources, key: &str) -> ApiResult<Value> {
    documents(resources)
        .remove(key)
        .ok_or_else(|| ApiError::no_route(&format!("/openapi/v3/{key}")))
}

fn documents(resources: &Resources) -> BTreeMap<String, Value> {
    let mut docs: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    // Reviews take no patch, the one operation these documents describe.
    for t in resources.all().into_iter().filter(|t| !t.review) {
        let (key, prefix) = if t.group.is_empty() {
            (format!("api/{}", t.version), format!("/api/{}", t.version))
        } else {
            (
                format!("apis/{}/{}", t.group, t.version),
                format!("/apis/{}/{}", t.group, t.version),
            )
        };
        let path = if t.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
        } else {
            format!("{prefix}/{}/{{name}}", t.plural)
        };
        let op = json!({
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": t.group, "version": t.version, "kind": t.kind},
            "parameters": [
                {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                {"name": "force", "in": "query", "schema": {"type": "boolean"}},
            ],
            "responses": {"200": {"description": "OK"}},
        });
        docs.entry(key)
            .or_default()
            .insert(path, json!({"patch": op}));
    }
    docs.into_iter()
        .map(|(k, paths)| {
            (k, json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.33.0"}, "paths": paths, "components": {"schemas": {}}}))
        })
        .collect()
}
