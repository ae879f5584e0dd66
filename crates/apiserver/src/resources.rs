//! The catalog of served resource types: the built-in kinds and those registered by
//! CustomResourceDefinitions. Discovery, routing and storage keys all come from here.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use ferry_api::meta;
use serde_json::Value;

/// One served resource at one group/version.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceType {
    /// The API group, `""` for the core group.
    pub group: String,
    /// The version within the group.
    pub version: String,
    /// The kind (`Deployment`).
    pub kind: String,
    /// The resource name in paths (`deployments`).
    pub plural: String,
    /// The singular name (`deployment`).
    pub singular: String,
    /// Short names kubectl accepts (`deploy`).
    pub short_names: Vec<String>,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Whether the resource has a `status` subresource.
    pub has_status: bool,
    /// Custom resources get no strategic merge patch and a generation on every object.
    pub custom: bool,
    /// A review (SelfSubjectAccessReview and its kin): answered on create, never stored, and
    /// serving no other verb.
    pub review: bool,
    /// For CRDs: `additionalPrinterColumns` of this version, for table output.
    pub printer_columns: Vec<PrinterColumn>,
    /// For CRDs: this version's `openAPIV3Schema`, for strict field validation.
    pub schema: Option<Arc<Value>>,
}

/// A CRD's `additionalPrinterColumns` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct PrinterColumn {
    /// The header.
    pub name: String,
    /// The OpenAPI type of the value.
    pub type_: String,
    /// Where the value is, as a kubectl JSONPath (`.status.phase`).
    pub json_path: String,
    /// 0 shows the column always; higher only with `-o wide`.
    pub priority: u8,
}

impl ResourceType {
    /// `apps/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The store's resource key, shared by all versions: `plural` or `plural.group`.
    pub fn storage_key(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `deployments.apps`, as Kubernetes names a group resource in messages.
    pub fn group_resource(&self) -> String {
        self.storage_key()
    }

    /// The kind of its lists (`DeploymentList`).
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Whether this is resource `plural` of `group`.
    pub fn is(&self, group: &str, plural: &str) -> bool {
        self.group == group && self.plural == plural
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    short_names: &'static [&'static str],
    namespaced: bool,
    categories: &'static [&'static str],
    has_status: bool,
    review: bool,
}

const ALL: &[&str] = &["all"];

#[rustfmt::skip]
const BUILTINS: &[Builtin] = &[
    b("", "v1", "Namespace", "namespaces", &["ns"], false, &[], true),
    b("", "v1", "Node", "nodes", &["no"], false, &[], true),
    b("", "v1", "ConfigMap", "configmaps", &["cm"], true, &[], false),
    b("", "v1", "Secret", "secrets", &[], true, &[], false),
    b("", "v1", "Service", "services", &["svc"], true, ALL, true),
    b("", "v1", "ServiceAccount", "serviceaccounts", &["sa"], true, &[], false),
    b("", "v1", "Pod", "pods", &["po"], true, ALL, true),
    b("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", &["pvc"], true, &[], true),
    b("", "v1", "Event", "events", &["ev"], true, &[], false),
    b("", "v1", "Endpoints", "endpoints", &["ep"], true, &[], false),
    b("apps", "v1", "Deployment", "deployments", &["deploy"], true, ALL, true),
    b("apps", "v1", "StatefulSet", "statefulsets", &["sts"], true, ALL, true),
    b("apps", "v1", "DaemonSet", "daemonsets", &["ds"], true, ALL, true),
    b("apps", "v1", "ReplicaSet", "replicasets", &["rs"], true, ALL, true),
    b("batch", "v1", "Job", "jobs", &[], true, ALL, true),
    b("batch", "v1", "CronJob", "cronjobs", &["cj"], true, ALL, true),
    b("networking.k8s.io", "v1", "Ingress", "ingresses", &["ing"], true, &[], true),
    b("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", &["netpol"], true, &[], false),
    b("rbac.authorization.k8s.io", "v1", "Role", "roles", &[], true, &[], false),
    b("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", &[], true, &[], false),
    b("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", &[], false, &[], false),
    b("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", &[], false, &[], false),
    b("coordination.k8s.io", "v1", "Lease", "leases", &[], true, &[], false),
    b("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", &["hpa"], true, ALL, true),
    b("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", &["pdb"], true, &[], true),
    b("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", &["crd", "crds"], false, &[], true),
    review("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews"),
    review("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews"),
    review("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews"),
];

#[allow(clippy::too_many_arguments)]
const fn b(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    short_names: &'static [&'static str],
    namespaced: bool,
    categories: &'static [&'static str],
    has_status: bool,
) -> Builtin {
    Builtin {
        group,
        version,
        kind,
        plural,
        short_names,
        namespaced,
        categories,
        has_status,
        review: false,
    }
}

/// A cluster-scoped review kind, served for `create` only.
const fn review(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
) -> Builtin {
    Builtin {
        review: true,
        ..b(group, version, kind, plural, &[], false, &[], false)
    }
}

/// The live catalog: built-ins plus CRD-defined types, shared and updated at runtime.
#[derive(Clone)]
pub struct Resources {
    inner: Arc<RwLock<Catalog>>,
}

#[derive(Default)]
struct Catalog {
    /// Keyed by (group, version, plural).
    types: BTreeMap<(String, String, String), Arc<ResourceType>>,
    /// CRD name → the keys it registered.
    by_crd: BTreeMap<String, Vec<(String, String, String)>>,
}

impl Default for Resources {
    fn default() -> Self {
        Self::new()
    }
}

impl Resources {
    /// The built-in kinds, no CRDs yet.
    pub fn new() -> Self {
        let mut catalog = Catalog::default();
        for b in BUILTINS {
            let t = ResourceType {
                group: b.group.into(),
                version: b.version.into(),
                kind: b.kind.into(),
                plural: b.plural.into(),
                singular: b.kind.to_lowercase(),
                short_names: b.short_names.iter().map(|s| s.to_string()).collect(),
                namespaced: b.namespaced,
                categories: b.categories.iter().map(|s| s.to_string()).collect(),
                has_status: b.has_status,
                custom: false,
                review: b.review,
                printer_columns: Vec::new(),
                schema: None,
            };
            catalog.types.insert(key(&t), Arc::new(t));
        }
        Self {
            inner: Arc::new(RwLock::new(catalog)),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Catalog> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Catalog> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The resource `plural` of `group` at `version`, if served.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.read()
            .types
            .get(&(group.into(), version.into(), plural.into()))
            .cloned()
    }

    /// The preferred (first registered) version of a kind in a group.
    pub fn by_kind(&self, group: &str, kind: &str) -> Option<Arc<ResourceType>> {
        self.read()
            .types
            .values()
            .find(|t| t.group == group && t.kind == kind)
            .cloned()
    }

    /// The type stored under a store resource key (`plural` or `plural.group`), at its first
    /// registered version.
    pub fn by_storage_key(&self, key: &str) -> Option<Arc<ResourceType>> {
        let (plural, group) = key.split_once('.').unwrap_or((key, ""));
        self.read()
            .types
            .values()
            .find(|t| t.plural == plural && t.group == group)
            .cloned()
    }

    /// One type per storage key (the first version), for controllers that scan everything.
    /// Reviews, which are never stored, are not among them.
    pub fn storage_types(&self) -> Vec<Arc<ResourceType>> {
        let mut seen = std::collections::BTreeSet::new();
        self.read()
            .types
            .values()
            .filter(|t| !t.review && seen.insert(t.storage_key()))
            .cloned()
            .collect()
    }

    /// Every served resource type.
    pub fn all(&self) -> Vec<Arc<ResourceType>> {
        self.read().types.values().cloned().collect()
    }

    /// Group → its versions, in the order discovery lists them (preferred first).
    pub fn groups(&self) -> BTreeMap<String, Vec<String>> {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in self.read().types.values() {
            let versions = groups.entry(t.group.clone()).or_default();
            if !versions.contains(&t.version) {
                versions.push(t.version.clone());
            }
        }
        for versions in groups.values_mut() {
            versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        }
        groups
    }

    /// Registers (or re-registers) the served versions of a CRD; an established CRD is
    /// visible in discovery as soon as this returns.
    pub fn register_crd(&self, crd: &Value) -> Result<(), String> {
        let (name, types) = crd_types(crd)?;
        let mut catalog = self.write();
        if let Some(old) = catalog.by_crd.remove(&name) {
            for k in old {
                catalog.types.remove(&k);
            }
        }
        let mut keys = Vec::new();
        for t in types {
            let k = key(&t);
            if catalog
                .types
                .get(&k)
                .is_some_and(|existing| !existing.custom)
            {
                return Err(format!(
                    "{} conflicts with a built-in resource",
                    t.group_resource()
                ));
            }
            catalog.types.insert(k.clone(), Arc::new(t));
            keys.push(k);
        }
        catalog.by_crd.insert(name, keys);
        Ok(())
    }

    /// Stops serving the types of CRD `name`.
    pub fn unregister_crd(&self, name: &str) {
        let mut catalog = self.write();
        if let Some(old) = catalog.by_crd.remove(name) {
            for k in old {
                catalog.types.remove(&k);
            }
        }
    }
}

fn key(t: &ResourceType) -> (String, String, String) {
    (t.group.clone(), t.version.clone(), t.plural.clone())
}

/// Kubernetes' version priority: GA > beta > alpha, higher numbers first.
fn version_priority(v: &str) -> (u8, u32, u32) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    let (stage, minor) = if tail.is_empty() {
        (3, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(0))
    } else {
        (0, 0)
    };
    (stage, major, minor)
}

/// The resource types a CRD object declares, one per served version.
pub fn crd_types(crd: &Value) -> Result<(String, Vec<ResourceType>), String> {
    let str_at = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    let name = meta::name(crd)
        .ok_or("metadata.name is required")?
        .to_string();
    let spec = crd.get("spec").ok_or("spec is required")?;
    let group = str_at(spec, "/group").ok_or("spec.group is required")?;
    let kind = str_at(spec, "/names/kind").ok_or("spec.names.kind is required")?;
    let plural = str_at(spec, "/names/plural").ok_or("spec.names.plural is required")?;
    if name != format!("{plural}.{group}") {
        return Err(format!(
            "metadata.name must be spec.names.plural+\".\"+spec.group: {plural}.{group}"
        ));
    }
    let singular = str_at(spec, "/names/singular").unwrap_or_else(|| kind.to_lowercase());
    let strings = |p: &str| -> Vec<String> {
        spec.pointer(p)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let namespaced = match str_at(spec, "/scope").as_deref() {
        Some("Namespaced") => true,
        Some("Cluster") => false,
        _ => return Err("spec.scope must be Namespaced or Cluster".into()),
    };
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .filter(|v| !v.is_empty())
        .ok_or("spec.versions must list at least one version")?;
    let mut types = Vec::new();
    for v in versions {
        let version = str_at(v, "/name").ok_or("spec.versions[].name is required")?;
        if !v.get("served").and_then(Value::as_bool).unwrap_or(false) {
            continue;
        }
        let printer_columns = v
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .map(|cols| {
                cols.iter()
                    .filter_map(|c| {
                        Some(PrinterColumn {
                            name: str_at(c, "/name")?,
                            type_: str_at(c, "/type").unwrap_or_else(|| "string".into()),
                            json_path: str_at(c, "/jsonPath")?,
                            priority: c
                                .get("priority")
                                .and_then(Value::as_u64)
                                .map_or(0, |p| u8::try_from(p).unwrap_or(u8::MAX)),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        types.push(ResourceType {
            group: group.clone(),
            version,
            kind: kind.clone(),
            plural: plural.clone(),
            singular: singular.clone(),
            short_names: strings("/names/shortNames"),
            namespaced,
            categories: strings("/names/categories"),
            has_status: v.pointer("/subresources/status").is_some(),
            custom: true,
            review: false,
            printer_columns,
            schema: v.pointer("/schema/openAPIV3Schema").cloned().map(Arc::new),
        });
    }
    Ok((name, types))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builtins_are_served_with_their_real_coordinates() {
        let r = Resources::new();
        let d = r.lookup("apps", "v1", "deployments").unwrap();
        assert_eq!(
            (d.kind.as_str(), d.namespaced, d.storage_key().as_str()),
            ("Deployment", true, "deployments.apps")
        );
        let ns = r.lookup("", "v1", "namespaces").unwrap();
        assert!(!ns.namespaced);
        assert_eq!(ns.api_version(), "v1");
        assert!(r.lookup("apps", "v1beta1", "deployments").is_none());
    }

    #[test]
    fn crd_registration_and_removal() {
        let r = Resources::new();
        let crd = json!({"metadata": {"name": "crontabs.stable.example.com"}, "spec": {
            "group": "stable.example.com", "scope": "Namespaced",
            "names": {"kind": "CronTab", "plural": "crontabs", "shortNames": ["ct"]},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}}},
                         {"name": "v1beta1", "served": true, "storage": false},
                         {"name": "v0", "served": false, "storage": false}]}});
        r.register_crd(&crd).unwrap();
        let t = r.lookup("stable.example.com", "v1", "crontabs").unwrap();
        assert!(t.has_status && t.custom && t.namespaced);
        assert_eq!(t.short_names, vec!["ct"]);
        assert!(r.lookup("stable.example.com", "v0", "crontabs").is_none());
        assert_eq!(r.groups()["stable.example.com"], vec!["v1", "v1beta1"]);
        r.unregister_crd("crontabs.stable.example.com");
        assert!(r.lookup("stable.example.com", "v1", "crontabs").is_none());
    }

    #[test]
    fn crd_errors_are_clear() {
        let bad = json!({"metadata": {"name": "x.example.com"}, "spec": {"group": "example.com",
            "scope": "Namespaced", "names": {"kind": "Y", "plural": "ys"}, "versions": []}});
        assert!(crd_types(&bad).unwrap_err().contains("ys.example.com"));
    }
}
