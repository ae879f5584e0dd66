//! Typed read access to the parts of an object every API server handler and
//! controller touches: `metadata.*`, owner references and the
//! group/version/kind from `apiVersion` + `kind`.
//!
//! Objects stay `serde_json::Value` throughout Ferry (the store keeps what the
//! client sent, unknown fields included), so these are free functions over a
//! `&Value` rather than a typed `ObjectMeta`. Accessors return `None` when a
//! field is missing *or* has the wrong JSON type; validation
//! ([`crate::validation`]) is where wrong types are reported.

use std::fmt;

use serde_json::{Map, Value};

/// `obj.metadata` if it is an object.
pub fn metadata(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata")?.as_object()
}

/// `obj.metadata` for writing, created as `{}` when missing or `null`.
/// `None` if `obj` is not an object or `metadata` is some other type, so a
/// caller never silently overwrites client data.
pub fn metadata_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let map = obj.as_object_mut()?;
    let entry = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if entry.is_null() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut()
}

fn meta_str<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    metadata(obj)?.get(key)?.as_str()
}

/// `metadata.name`. An empty string is returned as `Some("")`; Kubernetes
/// treats empty and missing alike, so callers usually want
/// `.filter(|n| !n.is_empty())` or `.unwrap_or_default()`.
pub fn name(obj: &Value) -> Option<&str> {
    meta_str(obj, "name")
}

/// `metadata.generateName`.
pub fn generate_name(obj: &Value) -> Option<&str> {
    meta_str(obj, "generateName")
}

/// `metadata.namespace`.
pub fn namespace(obj: &Value) -> Option<&str> {
    meta_str(obj, "namespace")
}

/// `metadata.uid`.
pub fn uid(obj: &Value) -> Option<&str> {
    meta_str(obj, "uid")
}

/// `metadata.resourceVersion` (opaque to clients; a decimal revision in
/// Ferry's store).
pub fn resource_version(obj: &Value) -> Option<&str> {
    meta_str(obj, "resourceVersion")
}

/// `metadata.generation`, bumped by the server on spec changes.
pub fn generation(obj: &Value) -> Option<i64> {
    metadata(obj)?.get("generation")?.as_i64()
}

/// `metadata.creationTimestamp` (RFC 3339 text, not parsed here).
pub fn creation_timestamp(obj: &Value) -> Option<&str> {
    meta_str(obj, "creationTimestamp")
}

/// `metadata.deletionTimestamp`: set means "being deleted, waiting for
/// finalizers".
pub fn deletion_timestamp(obj: &Value) -> Option<&str> {
    meta_str(obj, "deletionTimestamp")
}

/// Whether `metadata.deletionTimestamp` is set (present and not `null`): the object is being
/// deleted and waits for its finalizers.
pub fn is_being_deleted(obj: &Value) -> bool {
    metadata(obj)
        .and_then(|m| m.get("deletionTimestamp"))
        .is_some_and(|t| !t.is_null())
}

/// `metadata.labels`.
pub fn labels(obj: &Value) -> Option<&Map<String, Value>> {
    metadata(obj)?.get("labels")?.as_object()
}

/// One label's value.
pub fn label<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    labels(obj)?.get(key)?.as_str()
}

/// `metadata.annotations`.
pub fn annotations(obj: &Value) -> Option<&Map<String, Value>> {
    metadata(obj)?.get("annotations")?.as_object()
}

/// One annotation's value.
pub fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    annotations(obj)?.get(key)?.as_str()
}

/// `metadata.finalizers`, skipping non-string entries.
pub fn finalizers(obj: &Value) -> Vec<&str> {
    metadata(obj)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Replaces `metadata.finalizers` (creating `metadata` when missing); does nothing when `obj`
/// or its `metadata` is not an object.
pub fn set_finalizers(obj: &mut Value, finalizers: &[&str]) {
    if let Some(meta) = metadata_mut(obj) {
        meta.insert("finalizers".into(), finalizers.iter().copied().collect());
    }
}

/// `metadata.ownerReferences`, skipping entries that are not objects.
pub fn owner_references(obj: &Value) -> Vec<OwnerReference> {
    metadata(obj)
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(OwnerReference::from_json).collect())
        .unwrap_or_default()
}

/// Replaces `metadata.ownerReferences` (creating `metadata` when missing); does nothing when
/// `obj` or its `metadata` is not an object.
pub fn set_owner_references(obj: &mut Value, references: &[OwnerReference]) {
    if let Some(meta) = metadata_mut(obj) {
        let list = references.iter().map(OwnerReference::to_json).collect();
        meta.insert("ownerReferences".into(), Value::Array(list));
    }
}

/// The owner reference with `controller: true`, if any (Kubernetes'
/// `GetControllerOf`).
pub fn controller_of(obj: &Value) -> Option<OwnerReference> {
    owner_references(obj).into_iter().find(|r| r.controller)
}

/// `metadata.ownerReferences[*]`. The Kubernetes pointer-bools
/// `controller` and `blockOwnerDeletion` are plain `bool`s: absent and
/// `false` mean the same to the garbage collector.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnerReference {
    /// The owner's `apiVersion`.
    pub api_version: String,
    /// The owner's kind.
    pub kind: String,
    /// The owner's name (in the dependent's namespace, or cluster-scoped).
    pub name: String,
    /// The owner's uid: a reference to a deleted and re-created owner does not match.
    pub uid: String,
    /// Whether the owner is the dependent's managing controller.
    pub controller: bool,
    /// Whether a foreground deletion of the owner waits for this dependent.
    pub block_owner_deletion: bool,
}

impl OwnerReference {
    /// A reference to `owner` (of `api_version` and `kind`) as the controller of its
    /// dependents, blocking the owner's foreground deletion, as workload controllers set it.
    pub fn controlled_by(owner: &Value, api_version: &str, kind: &str) -> OwnerReference {
        OwnerReference {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            name: name(owner).unwrap_or_default().to_owned(),
            uid: uid(owner).unwrap_or_default().to_owned(),
            controller: true,
            block_owner_deletion: true,
        }
    }

    /// Reads one entry. Missing or mistyped fields become `""`/`false` so the
    /// caller (or validation) can decide what is fatal; `None` only if
    /// `value` is not an object.
    pub fn from_json(value: &Value) -> Option<OwnerReference> {
        let map = value.as_object()?;
        let text = |key: &str| {
            map.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let flag = |key: &str| map.get(key).and_then(Value::as_bool).unwrap_or(false);
        Some(OwnerReference {
            api_version: text("apiVersion"),
            kind: text("kind"),
            name: text("name"),
            uid: text("uid"),
            controller: flag("controller"),
            block_owner_deletion: flag("blockOwnerDeletion"),
        })
    }

    /// The JSON form; the two flags are written only when true, as
    /// Kubernetes clients omit nil pointers.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("apiVersion".into(), Value::from(self.api_version.as_str()));
        map.insert("kind".into(), Value::from(self.kind.as_str()));
        map.insert("name".into(), Value::from(self.name.as_str()));
        map.insert("uid".into(), Value::from(self.uid.as_str()));
        if self.controller {
            map.insert("controller".into(), Value::Bool(true));
        }
        if self.block_owner_deletion {
            map.insert("blockOwnerDeletion".into(), Value::Bool(true));
        }
        Value::Object(map)
    }
}

/// Group, version and kind; the core group is `""`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct GroupVersionKind {
    /// The API group, `""` for the core group.
    pub group: String,
    /// The version within the group (`v1`).
    pub version: String,
    /// The kind (`Deployment`).
    pub kind: String,
}

impl GroupVersionKind {
    /// From its three parts.
    pub fn new(group: &str, version: &str, kind: &str) -> GroupVersionKind {
        GroupVersionKind {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
        }
    }

    /// Splits `apiVersion` as Kubernetes' `ParseGroupVersion` does: `v1` is
    /// the core group, `apps/v1` is group `apps`; `""` and `"/"` give empty
    /// group and version. More than one `/` is an error (`None`).
    pub fn from_api_version_kind(api_version: &str, kind: &str) -> Option<GroupVersionKind> {
        if api_version == "/" {
            return Some(GroupVersionKind::new("", "", kind));
        }
        let (group, version) = match api_version.split_once('/') {
            None => ("", api_version),
            Some((_, version)) if version.contains('/') => return None,
            Some(pair) => pair,
        };
        Some(GroupVersionKind::new(group, version, kind))
    }

    /// The object's `apiVersion` and `kind`; `None` if either is missing or
    /// not a string, or `apiVersion` is malformed.
    pub fn of(obj: &Value) -> Option<GroupVersionKind> {
        let api_version = obj.get("apiVersion")?.as_str()?;
        let kind = obj.get("kind")?.as_str()?;
        GroupVersionKind::from_api_version_kind(api_version, kind)
    }

    /// The `apiVersion` string: `v1` for the core group, else `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// Kubernetes' rendering: `apps/v1, Kind=Deployment`, `/v1, Kind=Pod`.
impl fmt::Display for GroupVersionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}, Kind={}", self.group, self.version, self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web-1",
                "namespace": "prod",
                "uid": "u-1",
                "resourceVersion": "42",
                "generation": 3,
                "creationTimestamp": "2024-01-01T00:00:00Z",
                "deletionTimestamp": "2024-01-02T00:00:00Z",
                "labels": {"app": "web", "n": 1},
                "annotations": {"note": "hi"},
                "finalizers": ["a/b", 7, "c"],
                "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "rs-1",
                     "controller": true, "blockOwnerDeletion": true},
                    "garbage",
                    {"apiVersion": "v1", "kind": "Node", "name": "n1", "controller": null}
                ]
            }
        })
    }

    #[test]
    fn accessors_read_metadata() {
        let p = pod();
        let rows: Vec<(&str, Option<&str>, Option<&str>)> = vec![
            ("name", name(&p), Some("web-1")),
            ("namespace", namespace(&p), Some("prod")),
            ("uid", uid(&p), Some("u-1")),
            ("resourceVersion", resource_version(&p), Some("42")),
            (
                "creationTimestamp",
                creation_timestamp(&p),
                Some("2024-01-01T00:00:00Z"),
            ),
            (
                "deletionTimestamp",
                deletion_timestamp(&p),
                Some("2024-01-02T00:00:00Z"),
            ),
            ("generateName", generate_name(&p), None),
            ("label app", label(&p, "app"), Some("web")),
            ("label n (not a string)", label(&p, "n"), None),
            ("label missing", label(&p, "x"), None),
            ("annotation", annotation(&p, "note"), Some("hi")),
        ];
        for (what, got, want) in rows {
            assert_eq!(got, want, "{what}");
        }
        assert_eq!(generation(&p), Some(3));
        assert_eq!(labels(&p).map(Map::len), Some(2));
        assert_eq!(annotations(&p).map(Map::len), Some(1));
        assert_eq!(finalizers(&p), vec!["a/b", "c"]);
    }

    #[test]
    fn accessors_tolerate_missing_or_mistyped_metadata() {
        for obj in [json!({}), json!({"metadata": 5}), json!(null), json!([1])] {
            assert_eq!(name(&obj), None, "{obj}");
            assert_eq!(labels(&obj), None, "{obj}");
            assert!(finalizers(&obj).is_empty(), "{obj}");
            assert!(owner_references(&obj).is_empty(), "{obj}");
            assert_eq!(controller_of(&obj), None, "{obj}");
        }
    }

    #[test]
    fn owner_references_parse_and_round_trip() {
        let refs = owner_references(&pod());
        let rs = OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "web".into(),
            uid: "rs-1".into(),
            controller: true,
            block_owner_deletion: true,
        };
        let node = OwnerReference {
            api_version: "v1".into(),
            kind: "Node".into(),
            name: "n1".into(),
            ..OwnerReference::default()
        };
        assert_eq!(refs, vec![rs.clone(), node.clone()]);
        assert_eq!(controller_of(&pod()), Some(rs.clone()));
        assert_eq!(OwnerReference::from_json(&rs.to_json()), Some(rs));
        assert_eq!(
            node.to_json(),
            json!({"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": ""})
        );
    }

    #[test]
    fn metadata_mut_creates_but_never_clobbers() {
        let mut obj = json!({"kind": "X"});
        if let Some(m) = metadata_mut(&mut obj) {
            m.insert("name".into(), json!("a"));
        }
        assert_eq!(name(&obj), Some("a"));

        let mut null_meta = json!({"metadata": null});
        assert!(metadata_mut(&mut null_meta).is_some());
        assert_eq!(null_meta, json!({"metadata": {}}));

        let mut bad = json!({"metadata": "text"});
        assert!(metadata_mut(&mut bad).is_none());
        assert_eq!(bad, json!({"metadata": "text"}));
        assert!(metadata_mut(&mut json!("scalar")).is_none());
    }

    #[test]
    fn group_version_kind_parsing() {
        // (apiVersion, kind, expected (group, version) or None for an error)
        type Row<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>);
        let rows: &[Row] = &[
            ("apps/v1", "Deployment", Some(("apps", "v1"))),
            ("v1", "Pod", Some(("", "v1"))),
            (
                "argoproj.io/v1alpha1",
                "Application",
                Some(("argoproj.io", "v1alpha1")),
            ),
            ("", "Pod", Some(("", ""))),
            ("/", "Pod", Some(("", ""))),
            ("/v1", "Pod", Some(("", "v1"))),
            ("apps/", "Deployment", Some(("apps", ""))),
            ("a/b/c", "X", None),
        ];
        for (api_version, kind, want) in rows {
            let got = GroupVersionKind::from_api_version_kind(api_version, kind);
            let want = want.map(|(g, v)| GroupVersionKind::new(g, v, kind));
            assert_eq!(got, want, "{api_version:?}");
        }
    }

    #[test]
    fn group_version_kind_of_object_and_rendering() {
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment"});
        let gvk = GroupVersionKind::of(&deploy);
        assert_eq!(gvk, Some(GroupVersionKind::new("apps", "v1", "Deployment")));
        let rows: &[(GroupVersionKind, &str, &str)] = &[
            (
                GroupVersionKind::new("apps", "v1", "Deployment"),
                "apps/v1",
                "apps/v1, Kind=Deployment",
            ),
            (
                GroupVersionKind::new("", "v1", "Pod"),
                "v1",
                "/v1, Kind=Pod",
            ),
        ];
        for (gvk, api_version, shown) in rows {
            assert_eq!(gvk.api_version(), *api_version);
            assert_eq!(gvk.to_string(), *shown);
        }
        assert_eq!(GroupVersionKind::of(&json!({"apiVersion": "v1"})), None);
        assert_eq!(
            GroupVersionKind::of(&json!({"apiVersion": 1, "kind": "Pod"})),
            None
        );
    }
}
