//! `namespace` and `namePrefix`/`nameSuffix`: where objects live and what they are called.
//! References to renamed objects are fixed later, once, by [`super::namereference`].

use serde_json::{Value, json};

use super::resource::Resource;

/// Kustomize's namespace transformer: sets the namespace of every object Kustomize takes to
/// be namespaced ([`Resource::is_cluster_scoped`]), renames `v1` Namespace objects to it, and
/// sets it where Kustomize's default field specs point (an APIService's service, a CRD's
/// conversion webhook service when it has one) and on role bindings' subjects named
/// `default` (its default subject mode; subjects naming a ServiceAccount of the build follow
/// it through name references).
pub fn namespace(ns: &str, acc: &mut [Resource]) {
    if ns.is_empty() {
        return;
    }
    for r in acc.iter_mut() {
        if !r.is_cluster_scoped()
            && let Some(meta) = r.metadata_mut()
        {
            meta.insert("namespace".into(), json!(ns));
        }
        match (r.api_version(), r.kind()) {
            ("v1", "Namespace") => r.rename(ns.to_string()),
            (_, "RoleBinding" | "ClusterRoleBinding") => {
                if let Some(Value::Array(subjects)) = r.obj.get_mut("subjects") {
                    for s in subjects.iter_mut().filter_map(Value::as_object_mut) {
                        if s.get("name").and_then(Value::as_str) == Some("default") {
                            s.insert("namespace".into(), json!(ns));
                        }
                    }
                }
            }
            _ => {}
        }
        let service = match (r.group(), r.kind()) {
            ("apiregistration.k8s.io", "APIService") => Some(("/spec", "service", true)),
            ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                Some(("/spec/conversion/webhook/clientConfig", "service", false))
            }
            _ => None,
        };
        if let Some((parent, field, create)) = service {
            set_service_namespace(&mut r.obj, parent, field, create, ns);
        }
    }
}

/// Sets `namespace` in the service map at `parent`/`field`, creating the path when `create`.
fn set_service_namespace(obj: &mut Value, parent: &str, field: &str, create: bool, ns: &str) {
    let mut cur = obj;
    for key in parent.split('/').skip(1).chain([field]) {
        let Some(map) = cur.as_object_mut() else {
            return;
        };
        if !create && !map.get(key).is_some_and(Value::is_object) {
            return;
        }
        let child = map.entry(key).or_insert_with(|| json!({}));
        if child.is_null() {
            *child = json!({});
        }
        cur = child;
    }
    if let Some(service) = cur.as_object_mut() {
        service.insert("namespace".into(), json!(ns));
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
