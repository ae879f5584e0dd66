//! `namespace` and `namePrefix`/`nameSuffix`: where objects live and what they are called.
//! References to renamed objects are fixed later, once, by [`super::namereference`].

use serde_json::{Value, json};

use super::resource::Resource;

/// Sets the namespace of every namespaced object, and of the ServiceAccount subjects of role
/// bindings that were in the objects' old namespace (Kustomize's default subject mode).
pub fn namespace(ns: &str, acc: &mut [Resource]) {
    if ns.is_empty() {
        return;
    }
    for r in acc.iter_mut() {
        if matches!(r.kind(), "RoleBinding" | "ClusterRoleBinding") {
            let old = r.namespace().to_string();
            if let Some(Value::Array(subjects)) = r.obj.get_mut("subjects") {
                for s in subjects.iter_mut() {
                    let is_sa = s.get("kind").and_then(Value::as_str) == Some("ServiceAccount");
                    let subject_ns = s.get("namespace").and_then(Value::as_str).unwrap_or("");
                    let in_old = subject_ns.is_empty() && old.is_empty()
                        || subject_ns == old && !old.is_empty()
                        || subject_ns == "default";
                    if is_sa && in_old {
                        if let Some(m) = s.as_object_mut() {
                            m.insert("namespace".into(), json!(ns));
                        }
                    }
                }
            }
        }
        if r.is_cluster_scoped() {
            continue;
        }
        if let Some(meta) = r.metadata_mut() {
            meta.insert("namespace".into(), json!(ns));
        }
        if r.kind() == "APIService" {
            if let Some(svc) = r
                .obj
                .pointer_mut("/spec/service")
                .and_then(Value::as_object_mut)
            {
                svc.insert("namespace".into(), json!(ns));
            }
        }
    }
}

/// Adds the prefix and suffix to every name (not to CRDs, APIServices and Namespaces).
pub fn prefix_suffix(prefix: &str, suffix: &str, acc: &mut [Resource]) {
    if prefix.is_empty() && suffix.is_empty() {
        return;
    }
    for r in acc.iter_mut() {
        if matches!(
            r.kind(),
            "CustomResourceDefinition" | "APIService" | "Namespace"
        ) {
            continue;
        }
        let name = format!("{prefix}{}{suffix}", r.name());
        r.rename(name);
    }
}
