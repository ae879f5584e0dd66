//! The `scale` subresource of Deployments, StatefulSets and ReplicaSets: an
//! `autoscaling/v1` `Scale` view of `spec.replicas`, as `kubectl scale` and autoscalers use it.

use ferry_api::meta;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::objects::{Objects, PatchType, WriteOptions};
use crate::patch;
use crate::resources::ResourceType;

/// Whether `t` serves `/scale`.
pub fn scalable(t: &ResourceType) -> bool {
    t.group == "apps"
        && matches!(
            t.plural.as_str(),
            "deployments" | "statefulsets" | "replicasets"
        )
}

/// The Scale view of an object.
pub fn get(objects: &Objects, t: &ResourceType, namespace: &str, name: &str) -> ApiResult<Value> {
    Ok(view(&objects.get_json(t, namespace, name)?))
}

fn view(obj: &Value) -> Value {
    let meta = &obj["metadata"];
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": selector},
    })
}

/// Replaces the Scale (PUT) or patches it (PATCH; a `None` patch type means `body` is the
/// whole Scale), then writes `spec.replicas` to the object, honouring a resourceVersion
/// precondition given in the Scale.
pub fn write(
    objects: &Objects,
    t: &ResourceType,
    namespace: &str,
    name: &str,
    patch_type: Option<PatchType>,
    body: &[u8],
    opts: &WriteOptions,
) -> ApiResult<Value> {
    let current = get(objects, t, namespace, name)?;
    let scale: Value = match patch_type {
        None => serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid Scale: {e}")))?,
        Some(PatchType::Json) => patch::apply_json_patch(&current, body)
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
        // A Scale has no lists: strategic merge and apply reduce to a merge patch.
        Some(_) => patch::apply_merge_patch(&current, body)
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
    };
    let replicas = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .filter(|r| *r >= 0)
        .ok_or_else(|| {
            ApiError::invalid(
                t,
                name,
                vec![(
                    "spec.replicas".into(),
                    "Invalid value: must be a non-negative integer".into(),
                )],
            )
        })?;
    let mut replicas_patch = json!({"spec": {"replicas": replicas}});
    if let Some(rv) = meta::resource_version(&scale).filter(|rv| !rv.is_empty()) {
        replicas_patch["metadata"] = json!({"resourceVersion": rv});
    }
    let (obj, _) = objects.patch(
        t,
        namespace,
        name,
        PatchType::Merge,
        replicas_patch.to_string().as_bytes(),
        None,
        opts,
    )?;
    Ok(view(&obj))
}
