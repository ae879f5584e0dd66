//! One object on its way through a Kustomize build, with what Kustomize remembers about it:
//! the ids it had before (name references and patch targets match those too), the prefixes
//! and suffixes its name was given (name references prefer objects named like the referrer),
//! and whether a generator made it (its name then gets the content hash at the very end).

use serde_json::{Map, Value};

use super::build_metadata::Origin;

/// An id a resource had before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviousId {
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

/// A resource of the build.
#[derive(Clone, Debug)]
pub struct Resource {
    pub obj: Value,
    /// Ids this resource had before transformers that may change ids ran over it, oldest
    /// first, as Kustomize records them (the same id can repeat).
    pub previous_ids: Vec<PreviousId>,
    /// Prefixes its name was given, in the order they were added.
    pub prefixes: Vec<String>,
    /// Suffixes its name was given, in the order they were added.
    pub suffixes: Vec<String>,
    /// The namespace it was read or generated with.
    pub original_namespace: String,
    /// Set for generated ConfigMaps and Secrets whose name gets the content-hash suffix.
    pub needs_hash: bool,
    /// Names of the `vars` whose objref picked this resource.
    pub var_names: Vec<String>,
    /// Where it came from, when `buildMetadata` tracks it.
    pub origin: Option<Origin>,
    /// The built-in transformers that ran over it, when `buildMetadata` tracks them.
    pub transformations: Vec<Origin>,
}

impl Resource {
    pub fn new(mut obj: Value) -> Self {
        stringify_metadata_values(&mut obj);
        let original_namespace = str_at(&obj, &["metadata", "namespace"]).to_string();
        Self {
            obj,
            previous_ids: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            original_namespace,
            needs_hash: false,
            var_names: Vec::new(),
            origin: None,
            transformations: Vec::new(),
        }
    }

    pub fn kind(&self) -> &str {
        str_at(&self.obj, &["kind"])
    }

    pub fn api_version(&self) -> &str {
        str_at(&self.obj, &["apiVersion"])
    }

    /// The API group (`""` for the core group).
    pub fn group(&self) -> &str {
        group_of(self.api_version())
    }

    pub fn version(&self) -> &str {
        let v = self.api_version();
        v.rsplit_once('/').map_or(v, |(_, v)| v)
    }

    pub fn name(&self) -> &str {
        str_at(&self.obj, &["metadata", "name"])
    }

    pub fn namespace(&self) -> &str {
        str_at(&self.obj, &["metadata", "namespace"])
    }

    /// The value of an annotation, if it is a string.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.obj
            .get("metadata")?
            .get("annotations")?
            .get(key)?
            .as_str()
    }

    /// The original name (as first read or generated).
    pub fn original_name(&self) -> &str {
        self.previous_ids
            .first()
            .map_or_else(|| self.name(), |id| id.name.as_str())
    }

    /// Whether `name` is this resource's current or any earlier name.
    pub fn had_name(&self, name: &str) -> bool {
        self.name() == name || self.previous_ids.iter().any(|id| id.name == name)
    }

    /// The current id, as [`Resource::store_previous_id`] would store it.
    pub fn id(&self) -> PreviousId {
        PreviousId {
            kind: self.kind().to_string(),
            name: self.name().to_string(),
            namespace: self.namespace().to_string(),
        }
    }

    /// Remembers the current id among the previous ones (before a transformer that may
    /// change it).
    pub fn store_previous_id(&mut self) {
        let id = self.id();
        self.previous_ids.push(id);
    }

    /// Sets the name (callers store the previous id first).
    pub fn rename(&mut self, name: String) {
        if let Some(meta) = self.metadata_mut() {
            meta.insert("name".into(), Value::String(name));
        }
    }

    /// `metadata` as a map, created if missing (`None` only if the object is not a map).
    pub fn metadata_mut(&mut self) -> Option<&mut Map<String, Value>> {
        ferry_api::meta::metadata_mut(&mut self.obj)
    }

    /// The id Kustomize keeps unique (kind, group, namespace with `default` for none, name),
    /// as one string for hashing.
    pub fn id_key(&self) -> String {
        let ns = self.namespace();
        let ns = if ns.is_empty() { "default" } else { ns };
        format!(
            "{}\u{0}{}\u{0}{}\u{0}{}",
            self.kind(),
            self.group(),
            ns,
            self.name()
        )
    }

    /// `group/version/Kind namespace/name` for messages.
    pub fn describe(&self) -> String {
        let ns = self.namespace();
        if ns.is_empty() {
            format!("{} {}", self.kind(), self.name())
        } else {
            format!("{} {ns}/{}", self.kind(), self.name())
        }
    }

    pub fn is_cluster_scoped(&self) -> bool {
        is_cluster_scoped(self.api_version(), self.kind())
    }
}

/// Label and annotation values as Kustomize reads them: strings, whatever YAML type they
/// were written as (`happy: true` is `"true"`).
fn stringify_metadata_values(obj: &mut Value) {
    for field in ["labels", "annotations"] {
        let Some(Value::Object(map)) = obj.pointer_mut(&format!("/metadata/{field}")) else {
            continue;
        };
        for value in map.values_mut() {
            match value {
                Value::Bool(b) => *value = Value::String(b.to_string()),
                Value::Number(n) => *value = Value::String(n.to_string()),
                _ => {}
            }
        }
    }
}

/// The group of an `apiVersion`.
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// Namespaces compare with `""` meaning `default`, as Kustomize's ids do.
pub fn same_namespace(a: &str, b: &str) -> bool {
    fn norm(s: &str) -> &str {
        if s.is_empty() { "default" } else { s }
    }
    norm(a) == norm(b)
}

/// The string at a path, or `""`.
pub fn str_at<'a>(obj: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = obj;
    for p in path {
        match cur.get(p) {
            Some(v) => cur = v,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

/// The types Kustomize 5.7 knows to be cluster-scoped (the built-in OpenAPI data it ships,
/// Kubernetes 1.21), by `apiVersion` and kind. Everything else, newer built-in kinds
/// (`ValidatingAdmissionPolicy`) and custom resources included, is namespaced to Kustomize:
/// its namespace transformer sets their namespace.
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    (
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingWebhookConfiguration",
    ),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"),
    ("apiregistration.k8s.io/v1", "APIService"),
    ("apiregistration.k8s.io/v1beta1", "APIService"),
    ("certificates.k8s.io/v1", "CertificateSigningRequest"),
    ("certificates.k8s.io/v1beta1", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "PriorityLevelConfiguration",
    ),
    ("networking.k8s.io/v1", "IngressClass"),
    ("networking.k8s.io/v1beta1", "IngressClass"),
    ("node.k8s.io/v1", "RuntimeClass"),
    ("node.k8s.io/v1beta1", "RuntimeClass"),
    ("policy/v1beta1", "PodSecurityPolicy"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
    ("scheduling.k8s.io/v1beta1", "PriorityClass"),
    ("storage.k8s.io/v1", "CSIDriver"),
    ("storage.k8s.io/v1", "CSINode"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("storage.k8s.io/v1", "VolumeAttachment"),
    ("storage.k8s.io/v1beta1", "CSIDriver"),
    ("storage.k8s.io/v1beta1", "CSINode"),
    ("storage.k8s.io/v1beta1", "StorageClass"),
    ("storage.k8s.io/v1beta1", "VolumeAttachment"),
    ("v1", "ComponentStatus"),
    ("v1", "Namespace"),
    ("v1", "Node"),
    ("v1", "NodeProxyOptions"),
    ("v1", "PersistentVolume"),
];

/// Whether Kustomize takes objects of this `apiVersion` and kind to be cluster-scoped.
pub fn is_cluster_scoped(api_version: &str, kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&(api_version, kind))
}
