//! Defaulting on create, where kube-apiserver fills fields a client leaves out and other
//! parts of the system rely on: namespace phase and finalizer, Service cluster IPs, Secret
//! type, Deployment replicas and strategy, CRD acceptance conditions. On every write, a
//! Secret's `stringData` is folded into `data` ([`on_write`]).

use base64::Engine as _;
use serde_json::{Value, json};

use crate::objects::Objects;
use crate::resources::ResourceType;

/// What kube-apiserver changes on every write (create, update, patch, apply): a Secret's
/// `stringData` is merged into `data`, base64-encoded, its keys winning, and is not stored.
pub fn on_write(t: &ResourceType, obj: &mut Value) {
    if (t.group.as_str(), t.plural.as_str()) != ("", "secrets") {
        return;
    }
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    let Some(Value::Object(plain)) = root.remove("stringData") else {
        return;
    };
    let data = root
        .entry("data")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if !data.is_object() {
        *data = Value::Object(serde_json::Map::new());
    }
    if let Some(data) = data.as_object_mut() {
        for (key, value) in plain {
            let text = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            let encoded = base64::engine::general_purpose::STANDARD.encode(text);
            data.insert(key, Value::String(encoded));
        }
    }
}

/// Fills defaults for a new object of type `t`. An error is a (field, message) pair.
pub fn on_create(
    objects: &Objects,
    t: &ResourceType,
    obj: &mut Value,
) -> Result<(), (String, String)> {
    match (t.group.as_str(), t.plural.as_str()) {
        ("", "namespaces") => {
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
        }
        ("", "services") => service(objects, obj)?,
        ("", "secrets") => default_at(obj, "/type", json!("Opaque")),
        ("apps", "deployments") => {
            default_at(obj, "/spec/replicas", json!(1));
            default_at(obj, "/spec/revisionHistoryLimit", json!(10));
            default_at(obj, "/spec/progressDeadlineSeconds", json!(600));
            // `strategy: {}` (what typed clients send) is defaulted field by field.
            default_at(obj, "/spec/strategy/type", json!("RollingUpdate"));
            if obj.pointer("/spec/strategy/type") == Some(&json!("RollingUpdate")) {
                default_at(obj, "/spec/strategy/rollingUpdate/maxSurge", json!("25%"));
                default_at(
                    obj,
                    "/spec/strategy/rollingUpdate/maxUnavailable",
                    json!("25%"),
                );
            }
        }
        ("apps", "statefulsets") => {
            default_at(obj, "/spec/replicas", json!(1));
            default_at(
                obj,
                "/spec/updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            );
        }
        ("apps", "daemonsets") => {
            default_at(
                obj,
                "/spec/updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
            );
        }
        ("apps", "replicasets") => {
            default_at(obj, "/spec/replicas", json!(1));
        }
        ("", "pods") => {
            obj["status"] = json!({"phase": "Pending"});
        }
        ("", "persistentvolumeclaims") => {
            obj["status"] = json!({"phase": "Pending"});
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => crd_status(obj),
        _ => {}
    }
    Ok(())
}

fn default_at(obj: &mut Value, pointer: &str, value: Value) {
    if obj.pointer(pointer).is_some() {
        return;
    }
    let mut parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let Some(last) = parts.pop() else { return };
    let mut node = obj;
    for p in parts {
        if !node.get(p).is_some_and(Value::is_object) {
            node[p] = json!({});
        }
        node = &mut node[p];
    }
    node[last] = value;
}

/// Services get a type, TCP ports with a target port, and a cluster IP from 10.96.0.0/12.
fn service(objects: &Objects, obj: &mut Value) -> Result<(), (String, String)> {
    default_at(obj, "/spec/type", json!("ClusterIP"));
    default_at(obj, "/spec/sessionAffinity", json!("None"));
    if let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
        for p in ports {
            if p.get("protocol").is_none() {
                p["protocol"] = json!("TCP");
            }
            // An unset target port is 0 or "" when it comes from a typed client.
            let target_unset = matches!(p.get("targetPort"), None | Some(Value::Null))
                || p["targetPort"] == json!(0)
                || p["targetPort"] == json!("");
            if target_unset && let Some(port) = p.get("port").cloned() {
                p["targetPort"] = port;
            }
        }
    }
    let kind = obj
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    if kind == "ExternalName" {
        return Ok(());
    }
    match obj.pointer("/spec/clusterIP").and_then(Value::as_str) {
        Some("None") => {
            obj["spec"]["clusterIPs"] = json!(["None"]);
        }
        Some(ip) if !ip.is_empty() => {
            obj["spec"]["clusterIPs"] = json!([ip]);
        }
        _ => {
            let ip = allocate_cluster_ip(objects);
            obj["spec"]["clusterIP"] = json!(ip);
            obj["spec"]["clusterIPs"] = json!([ip]);
        }
    }
    Ok(())
}

/// A free address in 10.96.0.0/12, derived from the next store revision and probed against
/// the Services that exist (the allocator is not persisted separately).
fn allocate_cluster_ip(objects: &Objects) -> String {
    let used: std::collections::HashSet<String> = objects
        .store
        .list("services", None, None, None)
        .map(|page| {
            page.items
                .iter()
                .filter_map(|s| s.json().ok())
                .filter_map(|s| {
                    s.pointer("/spec/clusterIP")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    let start = objects.store.revision().unwrap_or(0) as u32;
    // 10.96.0.0/12 has 2^20 addresses; skip .0 (network) and 10.96.0.1 (the API service).
    (0..1u32 << 20)
        .map(|i| (start.wrapping_add(i) % ((1 << 20) - 2)) + 2)
        .map(|n| format!("10.{}.{}.{}", 96 + (n >> 16), (n >> 8) & 0xff, n & 0xff))
        .find(|ip| !used.contains(ip))
        .unwrap_or_else(|| "10.96.0.2".into())
}

/// A CRD is accepted and established at once: there is no controller to wait for.
fn crd_status(obj: &mut Value) {
    let now = crate::objects::now();
    let names = obj.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let stored: Vec<Value> = obj
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v["storage"] == json!(true))
                .map(|v| v["name"].clone())
                .collect()
        })
        .unwrap_or_default();
    let condition = |type_: &str, reason: &str, message: &str| json!({"type": type_, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message});
    obj["status"] = json!({
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": names,
        "storedVersions": stored,
    });
}
