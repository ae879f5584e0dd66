//! Whether a live object differs from what Git wants, compared as Argo CD's default two-way
//! diff does when the live object has no last-applied configuration: fields only the cluster
//! sets (defaults, status, controller-owned metadata) are not differences; every field the
//! target sets must have the same value live. Lists are compared item by item.
//!
//! Before comparing, both sides are normalized: server-managed metadata, `status`, the
//! tracking marks and `last-applied-configuration` are dropped, a target Secret's
//! `stringData` becomes `data`, and the `ignoreDifferences` rules that match the object
//! remove their JSON pointers.

use base64::Engine as _;
use ferry_api::argocd::ResourceIgnoreDifferences;
use serde_json::{Map, Value};

use crate::tracking::{
    INSTALLATION_ID_ANNOTATION, TRACKING_ID_ANNOTATION, Tracking, TrackingMethod,
};

/// Metadata only the API server or controllers write.
const SERVER_METADATA: [&str; 7] = [
    "creationTimestamp",
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "selfLink",
    "deletionGracePeriodSeconds",
];
/// kubectl's client-side apply record.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// `ignoreDifferences` rules, compiled once per comparison of an Application.
pub struct IgnoreRules<'a> {
    rules: Vec<(
        &'a ResourceIgnoreDifferences,
        globset::GlobMatcher,
        globset::GlobMatcher,
    )>,
}

impl<'a> IgnoreRules<'a> {
    /// The rules of `rules` (an Application's and `argocd-cm`'s); a group or kind pattern that
    /// is not a valid glob is reported with the rule's kind.
    pub fn new(rules: &'a [ResourceIgnoreDifferences]) -> Result<Self, String> {
        let glob = |pattern: &str| {
            globset::Glob::new(pattern)
                .map(|g| g.compile_matcher())
                .map_err(|e| format!("ignoreDifferences: {pattern:?} is not a valid pattern: {e}"))
        };
        let rules = rules
            .iter()
            .map(|rule| {
                Ok((
                    rule,
                    glob(rule.group.as_deref().unwrap_or_default())?,
                    glob(&rule.kind)?,
                ))
            })
            .collect::<Result<_, String>>()?;
        Ok(IgnoreRules { rules })
    }

    /// The JSON pointers the rules matching `obj` ignore.
    fn pointers(&self, obj: &Value) -> impl Iterator<Item = &'a str> {
        let gvk = ferry_api::meta::GroupVersionKind::of(obj).unwrap_or_default();
        let name = ferry_api::meta::name(obj).unwrap_or_default().to_string();
        let namespace = ferry_api::meta::namespace(obj)
            .unwrap_or_default()
            .to_string();
        self.rules
            .iter()
            .filter(move |(rule, group, kind)| {
                group.is_match(&gvk.group)
                    && kind.is_match(&gvk.kind)
                    && rule
                        .name
                        .as_deref()
                        .is_none_or(|n| n.is_empty() || n == name)
                    && rule
                        .namespace
                        .as_deref()
                        .is_none_or(|n| n.is_empty() || n == namespace)
            })
            .flat_map(|(rule, _, _)| rule.json_pointers.iter().map(String::as_str))
    }
}

/// `obj` as it is compared: see the module's documentation.
pub fn normalize(obj: &Value, rules: &IgnoreRules<'_>, tracking: &Tracking) -> Value {
    let mut out = obj.clone();
    if let Some(root) = out.as_object_mut() {
        root.remove("status");
    }
    if let Some(metadata) = ferry_api::meta::metadata_mut(&mut out) {
        for key in SERVER_METADATA {
            metadata.remove(key);
        }
        let mut drop_annotations = vec![LAST_APPLIED];
        if tracking.method != TrackingMethod::Label {
            drop_annotations.extend([TRACKING_ID_ANNOTATION, INSTALLATION_ID_ANNOTATION]);
        }
        remove_keys(metadata, "annotations", &drop_annotations);
        if tracking.method != TrackingMethod::Annotation {
            remove_keys(metadata, "labels", &[tracking.label_key.as_str()]);
        }
    }
    secret_string_data_to_data(&mut out);
    for pointer in rules.pointers(obj) {
        remove_pointer(&mut out, pointer);
    }
    out
}

/// The JSON pointers where `live` does not have what `target` sets (both normalized);
/// empty when they agree.
pub fn differences(target: &Value, live: &Value) -> Vec<String> {
    let mut out = Vec::new();
    compare(target, Some(live), &mut String::new(), &mut out);
    out
}

fn compare(target: &Value, live: Option<&Value>, path: &mut String, out: &mut Vec<String>) {
    match (target, live) {
        // An empty value asks for nothing the cluster could lack.
        (Value::Null, None | Some(Value::Null)) => {}
        (Value::Object(t), None) if t.is_empty() => {}
        (Value::Array(t), None) if t.is_empty() => {}
        (Value::Object(t), Some(Value::Object(l))) => {
            for (key, value) in t {
                let len = path.len();
                path.push('/');
                path.push_str(&key.replace('~', "~0").replace('/', "~1"));
                compare(value, l.get(key), path, out);
                path.truncate(len);
            }
        }
        (Value::Array(t), Some(Value::Array(l))) if t.len() == l.len() => {
            for (i, (value, live)) in t.iter().zip(l).enumerate() {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                compare(value, Some(live), path, out);
                path.truncate(len);
            }
        }
        (Value::Number(t), Some(Value::Number(l))) if t.as_f64() == l.as_f64() => {}
        (t, Some(l)) if t == l => {}
        _ => out.push(if path.is_empty() {
            "/".into()
        } else {
            path.clone()
        }),
    }
}

fn remove_keys(metadata: &mut Map<String, Value>, field: &str, keys: &[&str]) {
    if let Some(Value::Object(map)) = metadata.get_mut(field) {
        for key in keys {
            map.remove(*key);
        }
        if map.is_empty() {
            metadata.remove(field);
        }
    }
}

/// A Secret's `stringData` merged into `data`, base64-encoded, as the API server stores it.
fn secret_string_data_to_data(obj: &mut Value) {
    let is_secret = obj.get("kind").and_then(Value::as_str) == Some("Secret")
        && obj.get("apiVersion").and_then(Value::as_str) == Some("v1");
    let Some(root) = obj.as_object_mut().filter(|_| is_secret) else {
        return;
    };
    let Some(Value::Object(string_data)) = root.remove("stringData") else {
        return;
    };
    let data = root
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(data) = data {
        for (key, value) in string_data {
            let text = value.as_str().unwrap_or_default();
            let encoded = base64::engine::general_purpose::STANDARD.encode(text);
            data.insert(key, Value::String(encoded));
        }
    }
}

/// Removes the field at an RFC 6901 `pointer`; nothing happens when it is not there.
pub(crate) fn remove_pointer(obj: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match obj.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < items.len()
            {
                items.remove(i);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "web", "image": image}]}}}})
    }

    fn live_of(target: &Value) -> Value {
        let mut live = target.clone();
        live["metadata"]["uid"] = json!("1234");
        live["metadata"]["resourceVersion"] = json!("7");
        live["metadata"]["annotations"] =
            json!({TRACKING_ID_ANNOTATION: "app:apps/Deployment:shop/web"});
        live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] =
            json!("IfNotPresent");
        live["spec"]["strategy"] = json!({"type": "RollingUpdate"});
        live["status"] = json!({"replicas": 2});
        live
    }

    fn diff(target: &Value, live: &Value, rules: &[ResourceIgnoreDifferences]) -> Vec<String> {
        let rules = IgnoreRules::new(rules).unwrap();
        let tracking = Tracking::default();
        differences(
            &normalize(target, &rules, &tracking),
            &normalize(live, &rules, &tracking),
        )
    }

    #[test]
    fn fields_only_the_cluster_sets_are_not_differences() {
        let target = deployment(2, "web:1");
        assert_eq!(diff(&target, &live_of(&target), &[]), Vec::<String>::new());
    }

    #[test]
    fn changed_fields_are_named_by_pointer() {
        let target = deployment(3, "web:2");
        let live = live_of(&deployment(2, "web:1"));
        assert_eq!(
            diff(&target, &live, &[]),
            ["/spec/replicas", "/spec/template/spec/containers/0/image"]
        );
        let mut extra = live_of(&target);
        extra["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "sidecar"}));
        assert_eq!(
            diff(&target, &extra, &[]),
            ["/spec/template/spec/containers"]
        );
    }

    #[test]
    fn ignore_differences_remove_their_pointers_from_matching_objects_only() {
        let target = deployment(3, "web:1");
        let live = live_of(&deployment(5, "web:1"));
        let rule = |group: &str, kind: &str, name: Option<&str>| ResourceIgnoreDifferences {
            group: Some(group.into()),
            kind: kind.into(),
            name: name.map(Into::into),
            json_pointers: vec!["/spec/replicas".into()],
            ..ResourceIgnoreDifferences::default()
        };
        assert!(diff(&target, &live, &[rule("apps", "Deployment", None)]).is_empty());
        assert!(diff(&target, &live, &[rule("*", "Deploy*", Some("web"))]).is_empty());
        assert_eq!(
            diff(&target, &live, &[rule("apps", "StatefulSet", None)]),
            ["/spec/replicas"]
        );
        assert_eq!(
            diff(&target, &live, &[rule("apps", "Deployment", Some("api"))]),
            ["/spec/replicas"]
        );
        assert!(IgnoreRules::new(&[rule("[", "Deployment", None)]).is_err());
    }

    #[test]
    fn secrets_compare_string_data_as_data_and_numbers_by_value() {
        let target = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "stringData": {"password": "hunter2"}});
        let live = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"password": "aHVudGVyMg=="}, "type": "Opaque"});
        assert!(diff(&target, &live, &[]).is_empty());
        let target = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {}},
            "data": {}, "spec": {"weight": 1.0}});
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "spec": {"weight": 1}});
        assert!(diff(&target, &live, &[]).is_empty());
    }
}
