//! `namespace` and `namePrefix`/`nameSuffix`: where objects live and what they are called.
//! References to renamed objects are fixed later, once, by [`super::namereference`].

use serde_json::{Value, json};

use super::resource::Resource;

/// Sets the namespace of every namespaced object, and of role bindings' subjects that are the
/// `default` ServiceAccount (Kustomize's default subject mode; subjects naming a ServiceAccount
/// of the build follow it through name references).
pub fn namespace(ns: &str, acc: &mut [Resource]) {
    if ns.is_empty() {
        return;
    }
    for r in acc.iter_mut() {
        if matches!(r.kind(), "RoleBinding" | "ClusterRoleBinding")
            && let Some(Value::Array(subjects)) = r.obj.get_mut("subjects")
        {
            for s in subjects.iter_mut() {
                let is_default_sa = s.get("kind").and_then(Value::as_str) == Some("ServiceAccount")
                    && s.get("name").and_then(Value::as_str) == Some("default");
                if is_default_sa && let Some(m) = s.as_object_mut() {
                    m.insert("namespace".into(), json!(ns));
                }
            }
        }
        if r.is_cluster_scoped() {
            continue;
        }
        if let Some(meta) = r.metadata_mut() {
            meta.insert("namespace".into(), json!(ns));
        }
        if r.kind() == "APIService"
            && let Some(svc) = r
                .obj
                .pointer_mut("/spec/service")
                .and_then(Value::as_object_mut)
        {
            svc.insert("namespace".into(), json!(ns));
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
