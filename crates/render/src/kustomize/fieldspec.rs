//! Kustomize's field specs: "in objects of this group/version/kind, the field at this path",
//! with `create` saying whether a missing field is made. A path is `/`-separated (`\/` escapes
//! a slash inside a key); a list on the way is walked item by item, written `[]` or not.
//!
//! Also here: the built-in field-spec tables the label and annotation transformers use, and
//! field specs as a kustomization writes them ([`FieldSpecEntry`], e.g. `labels[].fields`).

use serde::Deserialize;
use serde_json::{Map, Value};

/// One field spec.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FieldSpec<'a> {
    pub group: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
    pub path: &'a str,
    pub create: bool,
}

/// A field spec as a kustomization file writes it (`group`, `version`, `kind`, `path`,
/// `create`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpecEntry {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    pub path: String,
    #[serde(default)]
    pub create: bool,
}

impl FieldSpecEntry {
    pub fn spec(&self) -> FieldSpec<'_> {
        FieldSpec {
            group: &self.group,
            version: &self.version,
            kind: &self.kind,
            path: &self.path,
            create: self.create,
        }
    }
}

/// Adds `defaults` to `specs` as Kustomize merges field-spec lists: a spec with the same
/// group, version, kind and path as one already there is skipped, and an error (the spec
/// returned) if it differs in `create`.
pub fn merge<'a>(
    specs: &mut Vec<FieldSpec<'a>>,
    defaults: impl IntoIterator<Item = FieldSpec<'a>>,
) -> Result<(), FieldSpec<'a>> {
    for d in defaults {
        let same = |s: &&FieldSpec| {
            s.path == d.path && s.group == d.group && s.version == d.version && s.kind == d.kind
        };
        match specs.iter().find(same) {
            Some(s) if s.create != d.create => return Err(*s),
            Some(_) => {}
            None => specs.push(d),
        }
    }
    Ok(())
}

const fn fs(
    group: &'static str,
    kind: &'static str,
    path: &'static str,
    create: bool,
) -> FieldSpec<'static> {
    FieldSpec {
        group,
        version: "",
        kind,
        path,
        create,
    }
}

impl<'a> FieldSpec<'a> {
    /// Whether the spec applies to objects of this group, version and kind (empty parts of the
    /// spec match anything).
    pub fn applies_to(&self, group: &str, version: &str, kind: &str) -> bool {
        (self.kind.is_empty() || self.kind == kind)
            && (self.group.is_empty() || self.group == group)
            && (self.version.is_empty() || self.version == version)
    }

    /// The spec with its path split, to apply to many objects.
    pub fn split(&self) -> SplitSpec<'a> {
        SplitSpec {
            spec: *self,
            segments: segments(self.path),
        }
    }
}

/// A field spec whose path is split once.
pub struct SplitSpec<'a> {
    pub spec: FieldSpec<'a>,
    segments: Vec<Segment>,
}

impl SplitSpec<'_> {
    /// Calls `f` on every field this spec reaches in `obj` (a missing last field is passed as
    /// `Null` when `create` is set, and dropped again if `f` leaves it `Null`).
    pub fn visit<E>(
        &self,
        obj: &mut Value,
        f: &mut dyn FnMut(&mut Value) -> Result<(), E>,
    ) -> Result<(), E> {
        visit_path(obj, &self.segments, self.spec.create, f)
    }
}

/// Splits a field-spec path at `/`, honouring `\/` escapes and dropping `[]` markers.
pub fn split_path(path: &str) -> Vec<String> {
    segments(path).into_iter().map(|s| s.name).collect()
}

/// One step of a field-spec path.
struct Segment {
    name: String,
    /// Marked `[]`: a list, walked if there, never created.
    is_list: bool,
}

fn segments(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                cur.push('/');
                chars.next();
            }
            '/' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|s| match s.strip_suffix("[]") {
            Some(name) => Segment {
                name: name.to_string(),
                is_list: true,
            },
            None => Segment {
                name: s,
                is_list: false,
            },
        })
        .filter(|s| !s.name.is_empty())
        .collect()
}

fn visit_path<E>(
    node: &mut Value,
    path: &[Segment],
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<(), E>,
) -> Result<(), E> {
    if let Value::Array(items) = node {
        for item in items {
            visit_path(item, path, create, f)?;
        }
        return Ok(());
    }
    let Some((first, rest)) = path.split_first() else {
        return f(node);
    };
    if node.is_null() && create {
        *node = Value::Object(Map::new());
    }
    let Value::Object(map) = node else {
        return Ok(());
    };
    match map.get_mut(first.name.as_str()) {
        Some(child) if !child.is_null() || rest.is_empty() => visit_path(child, rest, create, f),
        _ if create && !first.is_list => {
            let mut child = Value::Null;
            visit_path(&mut child, rest, create, f)?;
            if !child.is_null() {
                map.insert(first.name.clone(), child);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Template metadata of the workload kinds (labels or annotations go there too).
macro_rules! template_specs {
    ($field:literal) => {
        [
            fs(
                "",
                "ReplicationController",
                concat!("spec/template/metadata/", $field),
                true,
            ),
            fs(
                "",
                "Deployment",
                concat!("spec/template/metadata/", $field),
                true,
            ),
            fs(
                "",
                "ReplicaSet",
                concat!("spec/template/metadata/", $field),
                true,
            ),
            fs(
                "",
                "DaemonSet",
                concat!("spec/template/metadata/", $field),
                true,
            ),
            fs(
                "apps",
                "StatefulSet",
                concat!("spec/template/metadata/", $field),
                true,
            ),
            fs(
                "batch",
                "Job",
                concat!("spec/template/metadata/", $field),
                true,
            ),
            fs(
                "batch",
                "CronJob",
                concat!("spec/jobTemplate/metadata/", $field),
                true,
            ),
            fs(
                "batch",
                "CronJob",
                concat!("spec/jobTemplate/spec/template/metadata/", $field),
                true,
            ),
        ]
    };
}

/// `metadata/labels` of every object.
pub const METADATA_LABELS: FieldSpec<'static> = fs("", "", "metadata/labels", true);

/// Where `labels` with `includeTemplates` puts labels besides `metadata/labels`.
pub const TEMPLATE_LABELS: [FieldSpec<'static>; 9] = {
    let t = template_specs!("labels");
    [
        t[0],
        t[1],
        t[2],
        t[3],
        t[4],
        fs(
            "apps",
            "StatefulSet",
            "spec/volumeClaimTemplates[]/metadata/labels",
            true,
        ),
        t[5],
        t[6],
        t[7],
    ]
};

/// Where `commonAnnotations` goes.
pub const COMMON_ANNOTATIONS: [FieldSpec<'static>; 9] = {
    let t = template_specs!("annotations");
    [
        fs("", "", "metadata/annotations", true),
        t[0],
        t[1],
        t[2],
        t[3],
        t[4],
        t[5],
        t[6],
        t[7],
    ]
};

const POD_AFFINITY: [&str; 5] = [
    "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
    "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
];

/// Where `commonLabels` (and `labels` with `includeSelectors`) goes: metadata, templates and
/// selectors, as Kustomize's built-in configuration lists them.
pub fn common_labels() -> Vec<FieldSpec<'static>> {
    let mut out = vec![
        METADATA_LABELS,
        fs("", "Service", "spec/selector", true),
        fs("", "ReplicationController", "spec/selector", true),
        fs("", "Deployment", "spec/selector/matchLabels", true),
        fs("", "ReplicaSet", "spec/selector/matchLabels", true),
        fs("", "DaemonSet", "spec/selector/matchLabels", true),
        fs("apps", "StatefulSet", "spec/selector/matchLabels", true),
        fs(
            "apps",
            "StatefulSet",
            "spec/volumeClaimTemplates[]/metadata/labels",
            true,
        ),
        fs("batch", "Job", "spec/selector/matchLabels", false),
        fs(
            "batch",
            "CronJob",
            "spec/jobTemplate/spec/selector/matchLabels",
            false,
        ),
        fs(
            "policy",
            "PodDisruptionBudget",
            "spec/selector/matchLabels",
            false,
        ),
        fs(
            "networking.k8s.io",
            "NetworkPolicy",
            "spec/podSelector/matchLabels",
            false,
        ),
        fs(
            "networking.k8s.io",
            "NetworkPolicy",
            "spec/ingress/from/podSelector/matchLabels",
            false,
        ),
        fs(
            "networking.k8s.io",
            "NetworkPolicy",
            "spec/egress/to/podSelector/matchLabels",
            false,
        ),
    ];
    for kind in ["Deployment", "StatefulSet"] {
        out.extend(POD_AFFINITY.iter().map(|p| fs("apps", kind, p, false)));
    }
    out.extend(TEMPLATE_LABELS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_walk_lists_and_create_maps() {
        assert_eq!(
            split_path("metadata/annotations/a\\/b"),
            ["metadata", "annotations", "a/b"]
        );
        let mut obj = json!({"spec": {"volumeClaimTemplates": [{"metadata": {}}, {}]}});
        let spec = fs("", "", "spec/volumeClaimTemplates[]/metadata/labels", true);
        spec.split()
            .visit::<()>(&mut obj, &mut |v| {
                *v = json!({"a": "b"});
                Ok(())
            })
            .unwrap();
        assert_eq!(
            obj,
            json!({"spec": {"volumeClaimTemplates": [
                {"metadata": {"labels": {"a": "b"}}},
                {"metadata": {"labels": {"a": "b"}}}
            ]}})
        );
    }
}
