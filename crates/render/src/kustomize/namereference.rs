//! Name references: when an object was renamed (prefix, suffix, content hash), the fields of
//! other objects that name it are updated, following Kustomize's built-in name-reference
//! table (ConfigMaps and Secrets in pod templates, service accounts, role bindings, Services
//! in Ingresses, claims, ...). Done once, at the end of the top-level build.

use serde_json::Value;
use std::collections::HashMap;

use super::KustomizeError;
use super::fieldspec::split_path;
use super::resource::{Resource, same_namespace};

/// "Objects of `referral_kind` are named at `path` in objects of `referrer_kind`."
#[derive(Clone, Debug)]
pub struct RefSpec {
    pub referral_kind: String,
    pub referrer_group: String,
    pub referrer_kind: String,
    pub path: String,
}

fn spec(referral: &str, group: &str, kind: &str, path: &str) -> RefSpec {
    RefSpec {
        referral_kind: referral.into(),
        referrer_group: group.into(),
        referrer_kind: kind.into(),
        path: path.into(),
    }
}

/// Where a pod spec sits in each workload kind.
const POD_SPECS: [(&str, &str); 8] = [
    ("Pod", "spec"),
    ("PodTemplate", "template/spec"),
    ("Deployment", "spec/template/spec"),
    ("ReplicaSet", "spec/template/spec"),
    ("DaemonSet", "spec/template/spec"),
    ("StatefulSet", "spec/template/spec"),
    ("Job", "spec/template/spec"),
    ("CronJob", "spec/jobTemplate/spec/template/spec"),
];

/// Kinds whose pod specs' service accounts, claims and priority classes are references.
const SA_KINDS: [&str; 7] = [
    "Pod",
    "StatefulSet",
    "Deployment",
    "ReplicationController",
    "CronJob",
    "Job",
    "DaemonSet",
];

fn pod_spec_of(kind: &str) -> &'static str {
    match kind {
        "Pod" => "spec",
        "CronJob" => "spec/jobTemplate/spec/template/spec",
        _ => "spec/template/spec",
    }
}

/// Kustomize's built-in name-reference table.
pub fn builtin() -> Vec<RefSpec> {
    let mut out = Vec::new();
    for kind in [
        "Deployment",
        "ReplicationController",
        "ReplicaSet",
        "StatefulSet",
    ] {
        out.push(spec(
            kind,
            "",
            "HorizontalPodAutoscaler",
            "spec/scaleTargetRef/name",
        ));
    }
    let cm = [
        "volumes/configMap/name",
        "containers/env/valueFrom/configMapKeyRef/name",
        "initContainers/env/valueFrom/configMapKeyRef/name",
        "containers/envFrom/configMapRef/name",
        "initContainers/envFrom/configMapRef/name",
        "volumes/projected/sources/configMap/name",
    ];
    let secret = [
        "volumes/secret/secretName",
        "containers/env/valueFrom/secretKeyRef/name",
        "initContainers/env/valueFrom/secretKeyRef/name",
        "containers/envFrom/secretRef/name",
        "initContainers/envFrom/secretRef/name",
        "imagePullSecrets/name",
        "volumes/projected/sources/secret/name",
    ];
    for (kind, base) in POD_SPECS {
        for p in cm {
            out.push(spec("ConfigMap", "", kind, &format!("{base}/{p}")));
        }
        for p in secret {
            out.push(spec("Secret", "", kind, &format!("{base}/{p}")));
        }
    }
    for (referral, referrer, path) in [
        ("ConfigMap", "Node", "spec/configSource/configMap"),
        ("ConfigMap", "Role", "rules/resourceNames"),
        ("ConfigMap", "ClusterRole", "rules/resourceNames"),
        (
            "ConfigMap",
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap",
        ),
        ("Secret", "Ingress", "spec/tls/secretName"),
        (
            "Secret",
            "Ingress",
            "metadata/annotations/ingress.kubernetes.io\\/auth-secret",
        ),
        (
            "Secret",
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret",
        ),
        (
            "Secret",
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret",
        ),
        ("Secret", "ServiceAccount", "imagePullSecrets/name"),
        ("Secret", "StorageClass", "parameters/secretName"),
        ("Secret", "StorageClass", "parameters/adminSecretName"),
        ("Secret", "StorageClass", "parameters/userSecretName"),
        ("Secret", "StorageClass", "parameters/secretRef"),
        ("Secret", "Role", "rules/resourceNames"),
        ("Secret", "ClusterRole", "rules/resourceNames"),
        ("Secret", "PersistentVolume", "spec/azureFile/secretName"),
        ("Service", "StatefulSet", "spec/serviceName"),
        (
            "Service",
            "Ingress",
            "spec/rules/http/paths/backend/serviceName",
        ),
        ("Service", "Ingress", "spec/backend/serviceName"),
        (
            "Service",
            "Ingress",
            "spec/rules/http/paths/backend/service/name",
        ),
        ("Service", "Ingress", "spec/defaultBackend/service/name"),
        ("Service", "APIService", "spec/service/name"),
        (
            "Service",
            "ValidatingWebhookConfiguration",
            "webhooks/clientConfig/service",
        ),
        (
            "Service",
            "MutatingWebhookConfiguration",
            "webhooks/clientConfig/service",
        ),
        ("Service", "HTTPRoute", "spec/rules/backendRefs/name"),
        ("Role", "RoleBinding", "roleRef/name"),
        ("ClusterRole", "RoleBinding", "roleRef/name"),
        ("ClusterRole", "ClusterRoleBinding", "roleRef/name"),
        ("ServiceAccount", "RoleBinding", "subjects"),
        ("ServiceAccount", "ClusterRoleBinding", "subjects"),
        (
            "PersistentVolume",
            "PersistentVolumeClaim",
            "spec/volumeName",
        ),
        ("PersistentVolume", "ClusterRole", "rules/resourceNames"),
        ("StorageClass", "PersistentVolume", "spec/storageClassName"),
        (
            "StorageClass",
            "PersistentVolumeClaim",
            "spec/storageClassName",
        ),
        (
            "StorageClass",
            "StatefulSet",
            "spec/volumeClaimTemplates/spec/storageClassName",
        ),
        ("IngressClass", "Ingress", "spec/ingressClassName"),
    ] {
        out.push(spec(referral, "", referrer, path));
    }
    for kind in SA_KINDS {
        let base = pod_spec_of(kind);
        out.push(spec(
            "ServiceAccount",
            "",
            kind,
            &format!("{base}/serviceAccountName"),
        ));
        out.push(spec(
            "PersistentVolumeClaim",
            "",
            kind,
            &format!("{base}/volumes/persistentVolumeClaim/claimName"),
        ));
        out.push(spec(
            "PriorityClass",
            "",
            kind,
            &format!("{base}/priorityClassName"),
        ));
    }
    out
}

/// Name references a `crds` file declares: OpenAPI definitions whose properties carry
/// `x-kubernetes-object-ref-kind`.
pub fn from_crd(path: &str, bytes: &[u8]) -> Result<Vec<RefSpec>, KustomizeError> {
    let doc: Value = yaml_serde::from_slice(bytes).map_err(|e| KustomizeError::Invalid {
        file: path.to_string(),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    let Some(defs) = doc.as_object() else {
        return Ok(out);
    };
    for def in defs.values() {
        let Some(kind) = def
            .pointer("/x-kubernetes-group-version-kind/0/kind")
            .and_then(Value::as_str)
        else {
            continue;
        };
        collect_refs(def, kind, "", defs, &mut out, 0);
    }
    Ok(out)
}

fn collect_refs(
    schema: &Value,
    kind: &str,
    prefix: &str,
    defs: &serde_json::Map<String, Value>,
    out: &mut Vec<RefSpec>,
    depth: usize,
) {
    if depth > 10 {
        return;
    }
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (field, prop) in props {
        let path = if prefix.is_empty() {
            field.clone()
        } else {
            format!("{prefix}/{field}")
        };
        if let Some(referral) = prop
            .get("x-kubernetes-object-ref-kind")
            .and_then(Value::as_str)
        {
            out.push(spec(referral, "", kind, &path));
        }
        if let Some(r) = prop.get("$ref").and_then(Value::as_str) {
            let name = r.trim_start_matches("#/definitions/");
            if let Some(def) = defs.get(name) {
                collect_refs(def, kind, &path, defs, out, depth + 1);
            }
        }
        collect_refs(prop, kind, &path, defs, out, depth + 1);
    }
}

struct Candidate {
    kind: String,
    names: Vec<String>,
    name: String,
    namespace: String,
    original_namespace: String,
    cluster_scoped: bool,
}

impl Candidate {
    fn in_namespace(&self, ns: &str) -> bool {
        self.cluster_scoped
            || same_namespace(&self.namespace, ns)
            || same_namespace(&self.original_namespace, ns)
    }
}

/// Updates every reference to a renamed (or moved) object.
pub fn fix(resources: &mut [Resource], extra: &[RefSpec]) {
    let candidates: Vec<Candidate> = resources
        .iter()
        .map(|r| Candidate {
            kind: r.kind().to_string(),
            names: r.previous_names.clone(),
            name: r.name().to_string(),
            namespace: r.namespace().to_string(),
            original_namespace: r.original_namespace.clone(),
            cluster_scoped: r.is_cluster_scoped(),
        })
        .collect();
    // Candidates by (kind, name or previous name): lookups stay cheap on large trees.
    let mut by_name: HashMap<(&str, &str), Vec<&Candidate>> = HashMap::new();
    for c in &candidates {
        by_name
            .entry((c.kind.as_str(), c.name.as_str()))
            .or_default()
            .push(c);
        for n in &c.names {
            if n != &c.name {
                by_name
                    .entry((c.kind.as_str(), n.as_str()))
                    .or_default()
                    .push(c);
            }
        }
    }
    let specs: Vec<RefSpec> = builtin().into_iter().chain(extra.iter().cloned()).collect();
    // Specs by referrer kind (in table order), their paths split once.
    let mut by_referrer: HashMap<&str, Vec<(&RefSpec, Vec<String>)>> = HashMap::new();
    for s in &specs {
        by_referrer
            .entry(s.referrer_kind.as_str())
            .or_default()
            .push((s, split_path(&s.path)));
    }
    for r in resources.iter_mut() {
        let Some(kind_specs) = by_referrer.get(r.kind()) else {
            continue;
        };
        let referrer_ns = r.namespace().to_string();
        let referrer_cluster = r.is_cluster_scoped();
        let group = r.group();
        let applicable: Vec<&(&RefSpec, Vec<String>)> = kind_specs
            .iter()
            .filter(|(s, _)| s.referrer_group.is_empty() || s.referrer_group == group)
            .collect();
        for (s, segments) in applicable {
            let lookup = |name: &str, ns: &str| -> Option<&Candidate> {
                by_name
                    .get(&(s.referral_kind.as_str(), name))?
                    .iter()
                    .find(|c| referrer_cluster && ns.is_empty() || c.in_namespace(ns))
                    .copied()
            };
            visit(&mut r.obj, segments, &mut |v: &mut Value| {
                fix_value(v, &s.referral_kind, &referrer_ns, &lookup)
            });
        }
    }
}

/// Fixes one reference: a name, a list of names, or an object with `name` (and `namespace`,
/// and for subjects `kind`).
fn fix_value<'c>(
    v: &mut Value,
    referral_kind: &str,
    referrer_ns: &str,
    lookup: &dyn Fn(&str, &str) -> Option<&'c Candidate>,
) {
    match v {
        Value::String(name) => {
            if let Some(c) = lookup(name, referrer_ns) {
                *name = c.name.clone();
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| fix_value(i, referral_kind, referrer_ns, lookup)),
        Value::Object(map) => {
            if map
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k != referral_kind)
            {
                return;
            }
            let given_ns = map
                .get("namespace")
                .and_then(Value::as_str)
                .map(str::to_string);
            let ns = given_ns.clone().unwrap_or_else(|| referrer_ns.to_string());
            let Some(name) = map.get("name").and_then(Value::as_str) else {
                return;
            };
            let Some(c) = lookup(name, &ns) else {
                return;
            };
            map.insert("name".into(), Value::String(c.name.clone()));
            let moved = !c.cluster_scoped
                && !c.namespace.is_empty()
                && given_ns
                    .as_deref()
                    .is_none_or(|g| !same_namespace(g, &c.namespace));
            if moved
                && (given_ns.is_some()
                    || !same_namespace(referrer_ns, &c.namespace)
                    || referral_kind == "ServiceAccount")
            {
                map.insert("namespace".into(), Value::String(c.namespace.clone()));
            }
        }
        _ => {}
    }
}

/// Walks a path (lists item by item) and calls `f` on what it reaches.
fn visit(node: &mut Value, path: &[String], f: &mut dyn FnMut(&mut Value)) {
    match path.split_first() {
        None => f(node),
        Some((first, rest)) => match node {
            Value::Array(items) => items.iter_mut().for_each(|i| visit(i, path, f)),
            Value::Object(map) => {
                if let Some(child) = map.get_mut(first.as_str()) {
                    if rest.is_empty() {
                        f(child)
                    } else if let Value::Array(items) = child {
                        items.iter_mut().for_each(|i| visit(i, rest, f));
                    } else {
                        visit(child, rest, f);
                    }
                }
            }
            _ => {}
        },
    }
}
