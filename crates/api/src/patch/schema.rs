//! Per-kind structural facts the patch code needs, taken from the real Kubernetes API types:
//! how each list merges (`patchStrategy`/`patchMergeKey` struct tags for strategic merge patch,
//! `+listType`/`+listMapKey` for server-side apply), which maps are atomic (`+mapType=atomic`,
//! `+structType=atomic`), and which struct fields exist in a kind's zero value (non-pointer
//! structs and non-`omitempty` nil fields: kube-apiserver diffs a create against that zero value,
//! which decides where a managed-fields entry gets a `.` member).
//!
//! The facts are a static, data-driven table: one rule list per reusable Go type (ObjectMeta,
//! PodSpec, Container, ...) mounted at every path where that type appears, so the PodSpec table
//! serves Pod `spec`, every workload's `spec.template.spec` and CronJob's
//! `spec.jobTemplate.spec.template.spec`. Anything not in a table is a granular map or an atomic
//! list, which is also what kube-apiserver does for fields it has no list type for.

/// How a list field merges.
///
/// For server-side apply this is the OpenAPI `x-kubernetes-list-type`; for strategic merge patch
/// `Atomic` means "replace", `Set` means "merge primitives (union)" and `Map` means "merge by the
/// first key" (the Go `patchMergeKey`), unless the table overrides the strategic behaviour for a
/// field whose struct tags disagree with its list type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStrategy {
    /// The list is one value: replaced whole, owned whole.
    Atomic,
    /// A set of scalars (`listType=set`): items are identified by their value.
    Set,
    /// An associative list (`listType=map`): items are identified by these key fields.
    Map {
        /// The `x-kubernetes-list-map-keys`; the first is the strategic-merge-patch merge key.
        keys: &'static [&'static str],
    },
}

impl ListStrategy {
    /// The strategic-merge-patch merge key of a `Map` list.
    pub fn merge_key(&self) -> Option<&'static str> {
        match self {
            ListStrategy::Map { keys } => keys.first().copied(),
            _ => None,
        }
    }
}

/// The default a list-map key takes when an item omits it (`+default` on the key field); only
/// `protocol` (ports) has one among the kinds served.
pub fn key_default(key: &str) -> Option<&'static str> {
    match key {
        "protocol" => Some("TCP"),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy)]
enum Node {
    /// A list field; its server-side-apply and strategic-merge-patch behaviour agree.
    List(ListStrategy),
    /// A list field whose strategic-merge-patch tags disagree with its list type:
    /// `(server-side apply, strategic merge patch)`.
    ListSmp(ListStrategy, ListStrategy),
    /// A map or struct that is one value (`+mapType=atomic` / `+structType=atomic`).
    AtomicMap,
    /// A struct field present as `{}` in the kind's zero value.
    Struct,
    /// A field present as `null` in the kind's zero value (a non-`omitempty` slice or time).
    ZeroNull,
    /// A reusable type's rules, mounted at this path.
    Mount(&'static [Rule]),
}

type Rule = (&'static str, Node);

use ListStrategy::{Atomic, Set};
use Node::{AtomicMap, List, ListSmp, Mount, Struct, ZeroNull};

const BY_NAME: ListStrategy = ListStrategy::Map { keys: &["name"] };
const BY_TYPE: ListStrategy = ListStrategy::Map { keys: &["type"] };

const OBJECT_META: &[Rule] = &[
    ("creationTimestamp", ZeroNull),
    ("finalizers", List(Set)),
    (
        "ownerReferences",
        List(ListStrategy::Map { keys: &["uid"] }),
    ),
    ("managedFields", List(Atomic)),
];

const CONTAINER: &[Rule] = &[
    (
        "ports",
        List(ListStrategy::Map {
            keys: &["containerPort", "protocol"],
        }),
    ),
    ("env", List(BY_NAME)),
    ("env.valueFrom.fieldRef", AtomicMap),
    ("env.valueFrom.resourceFieldRef", AtomicMap),
    ("env.valueFrom.configMapKeyRef", AtomicMap),
    ("env.valueFrom.secretKeyRef", AtomicMap),
    (
        "volumeMounts",
        List(ListStrategy::Map {
            keys: &["mountPath"],
        }),
    ),
    (
        "volumeDevices",
        List(ListStrategy::Map {
            keys: &["devicePath"],
        }),
    ),
    ("resizePolicy", List(Atomic)),
    ("resources.claims", List(BY_NAME)),
];

const POD_SPEC: &[Rule] = &[
    ("containers", ZeroNull),
    ("containers", List(BY_NAME)),
    ("containers", Mount(CONTAINER)),
    ("initContainers", List(BY_NAME)),
    ("initContainers", Mount(CONTAINER)),
    ("ephemeralContainers", List(BY_NAME)),
    ("ephemeralContainers", Mount(CONTAINER)),
    ("volumes", List(BY_NAME)),
    ("imagePullSecrets", List(BY_NAME)),
    ("tolerations", List(Atomic)),
    ("hostAliases", List(ListStrategy::Map { keys: &["ip"] })),
    (
        "topologySpreadConstraints",
        List(ListStrategy::Map {
            keys: &["topologyKey", "whenUnsatisfiable"],
        }),
    ),
    ("readinessGates", List(Atomic)),
    ("resourceClaims", List(BY_NAME)),
    ("schedulingGates", List(BY_NAME)),
    ("nodeSelector", AtomicMap),
];

const POD_TEMPLATE: &[Rule] = &[
    ("metadata", Struct),
    ("metadata", Mount(OBJECT_META)),
    ("spec", Struct),
    ("spec", Mount(POD_SPEC)),
];

const POD_STATUS: &[Rule] = &[
    ("conditions", List(BY_TYPE)),
    ("podIPs", List(ListStrategy::Map { keys: &["ip"] })),
    (
        "hostIPs",
        ListSmp(Atomic, ListStrategy::Map { keys: &["ip"] }),
    ),
    ("containerStatuses", List(Atomic)),
    ("initContainerStatuses", List(Atomic)),
    ("ephemeralContainerStatuses", List(Atomic)),
    ("resourceClaimStatuses", List(BY_NAME)),
];

const META: &[Rule] = &[("metadata", Struct), ("metadata", Mount(OBJECT_META))];

const POD: &[Rule] = &[
    ("", Mount(META)),
    ("spec", Struct),
    ("spec", Mount(POD_SPEC)),
    ("status", Struct),
    ("status", Mount(POD_STATUS)),
];

const SERVICE: &[Rule] = &[
    ("", Mount(META)),
    ("spec", Struct),
    (
        "spec.ports",
        List(ListStrategy::Map {
            keys: &["port", "protocol"],
        }),
    ),
    ("spec.selector", AtomicMap),
    ("spec.clusterIPs", List(Atomic)),
    ("spec.externalIPs", List(Atomic)),
    ("spec.ipFamilies", List(Atomic)),
    ("spec.loadBalancerSourceRanges", List(Atomic)),
    ("status", Struct),
    ("status.conditions", List(BY_TYPE)),
    ("status.loadBalancer", Struct),
    ("status.loadBalancer.ingress", List(Atomic)),
];

const ENDPOINTS: &[Rule] = &[("", Mount(META)), ("subsets", List(Atomic))];

const PVC_BODY: &[Rule] = &[
    ("spec", Struct),
    ("spec.accessModes", List(Atomic)),
    ("spec.selector", AtomicMap),
    ("spec.resources", Struct),
    ("status", Struct),
    ("status.accessModes", List(Atomic)),
    ("status.conditions", List(BY_TYPE)),
];

const PVC: &[Rule] = &[("", Mount(META)), ("", Mount(PVC_BODY))];

const SERVICE_ACCOUNT: &[Rule] = &[
    ("", Mount(META)),
    ("secrets", List(BY_NAME)),
    ("imagePullSecrets", List(Atomic)),
];

const NAMESPACE: &[Rule] = &[
    ("", Mount(META)),
    ("spec", Struct),
    ("spec.finalizers", List(Atomic)),
    ("status", Struct),
    ("status.conditions", List(BY_TYPE)),
];

const EVENT: &[Rule] = &[
    ("", Mount(META)),
    ("involvedObject", Struct),
    ("source", Struct),
];

/// Deployment, ReplicaSet, DaemonSet, StatefulSet: selector + pod template + conditions.
const WORKLOAD: &[Rule] = &[
    ("", Mount(META)),
    ("spec", Struct),
    ("spec.selector", AtomicMap),
    ("spec.template", Struct),
    ("spec.template", Mount(POD_TEMPLATE)),
    ("status", Struct),
    ("status.conditions", List(BY_TYPE)),
];

const DEPLOYMENT: &[Rule] = &[("", Mount(WORKLOAD)), ("spec.strategy", Struct)];

const DAEMON_SET: &[Rule] = &[("", Mount(WORKLOAD)), ("spec.updateStrategy", Struct)];

const STATEFUL_SET: &[Rule] = &[
    ("", Mount(WORKLOAD)),
    ("spec.updateStrategy", Struct),
    ("spec.volumeClaimTemplates", List(Atomic)),
];

const JOB_SPEC: &[Rule] = &[
    ("selector", AtomicMap),
    ("template", Struct),
    ("template", Mount(POD_TEMPLATE)),
    ("podFailurePolicy.rules", List(Atomic)),
];

const JOB: &[Rule] = &[
    ("", Mount(META)),
    ("spec", Struct),
    ("spec", Mount(JOB_SPEC)),
    ("status", Struct),
    ("status.conditions", ListSmp(Atomic, BY_TYPE)),
];

const CRON_JOB: &[Rule] = &[
    ("", Mount(META)),
    ("spec", Struct),
    ("spec.jobTemplate", Struct),
    ("spec.jobTemplate.metadata", Struct),
    ("spec.jobTemplate.metadata", Mount(OBJECT_META)),
    ("spec.jobTemplate.spec", Struct),
    ("spec.jobTemplate.spec", Mount(JOB_SPEC)),
    ("status", Struct),
    ("status.active", List(Atomic)),
];

const INGRESS: &[Rule] = &[
    ("", Mount(META)),
    ("spec", Struct),
    ("spec.rules", List(Atomic)),
    ("spec.tls", List(Atomic)),
    ("status", Struct),
    ("status.loadBalancer", Struct),
    ("status.loadBalancer.ingress", List(Atomic)),
];

const NETWORK_POLICY: &[Rule] = &[
    ("", Mount(META)),
    ("spec", Struct),
    ("spec.podSelector", AtomicMap),
    ("spec.ingress", List(Atomic)),
    ("spec.egress", List(Atomic)),
    ("spec.policyTypes", List(Atomic)),
];

const ROLE: &[Rule] = &[
    ("", Mount(META)),
    ("rules", List(Atomic)),
    ("aggregationRule.clusterRoleSelectors", List(Atomic)),
];

const ROLE_BINDING: &[Rule] = &[
    ("", Mount(META)),
    ("subjects", List(Atomic)),
    ("roleRef", AtomicMap),
];

const LEASE: &[Rule] = &[("", Mount(META)), ("spec", Struct)];

const HPA: &[Rule] = &[
    ("", Mount(META)),
    ("spec", Struct),
    ("spec.scaleTargetRef", Struct),
    ("spec.metrics", List(Atomic)),
    ("spec.behavior.scaleUp.policies", List(Atomic)),
    ("spec.behavior.scaleDown.policies", List(Atomic)),
    ("status", Struct),
    ("status.currentMetrics", List(Atomic)),
    ("status.conditions", List(BY_TYPE)),
];

const PDB: &[Rule] = &[
    ("", Mount(META)),
    ("spec", Struct),
    ("spec.selector", AtomicMap),
    ("status", Struct),
    ("status.conditions", List(BY_TYPE)),
];

const CRD: &[Rule] = &[
    ("", Mount(META)),
    ("spec", Struct),
    ("spec.names", Struct),
    ("spec.versions", List(Atomic)),
    ("status", Struct),
    ("status.acceptedNames", Struct),
    ("status.conditions", List(BY_TYPE)),
    ("status.storedVersions", List(Atomic)),
];

const PLAIN: &[Rule] = &[("", Mount(META))];

/// Custom resources: only `metadata` has a known shape; no zero-value structs.
const SCHEMALESS: &[Rule] = &[("metadata", Mount(OBJECT_META))];

/// The structural facts of one kind; see the module documentation.
#[derive(Debug)]
pub struct Schema {
    rules: &'static [Rule],
    strategic: bool,
}

struct KindSchema {
    group: &'static str,
    kind: &'static str,
    schema: Schema,
}

const fn built_in(group: &'static str, kind: &'static str, rules: &'static [Rule]) -> KindSchema {
    KindSchema {
        group,
        kind,
        schema: Schema {
            rules,
            strategic: true,
        },
    }
}

static KINDS: &[KindSchema] = &[
    built_in("", "Pod", POD),
    built_in("", "Service", SERVICE),
    built_in("", "Endpoints", ENDPOINTS),
    built_in("", "PersistentVolumeClaim", PVC),
    built_in("", "ConfigMap", PLAIN),
    built_in("", "Secret", PLAIN),
    built_in("", "ServiceAccount", SERVICE_ACCOUNT),
    built_in("", "Namespace", NAMESPACE),
    built_in("", "Event", EVENT),
    built_in("apps", "Deployment", DEPLOYMENT),
    built_in("apps", "ReplicaSet", WORKLOAD),
    built_in("apps", "DaemonSet", DAEMON_SET),
    built_in("apps", "StatefulSet", STATEFUL_SET),
    built_in("batch", "Job", JOB),
    built_in("batch", "CronJob", CRON_JOB),
    built_in("networking.k8s.io", "Ingress", INGRESS),
    built_in("networking.k8s.io", "NetworkPolicy", NETWORK_POLICY),
    built_in("rbac.authorization.k8s.io", "Role", ROLE),
    built_in("rbac.authorization.k8s.io", "ClusterRole", ROLE),
    built_in("rbac.authorization.k8s.io", "RoleBinding", ROLE_BINDING),
    built_in(
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        ROLE_BINDING,
    ),
    built_in("coordination.k8s.io", "Lease", LEASE),
    built_in("autoscaling", "HorizontalPodAutoscaler", HPA),
    built_in("policy", "PodDisruptionBudget", PDB),
    built_in("apiextensions.k8s.io", "CustomResourceDefinition", CRD),
];

static SCHEMALESS_SCHEMA: Schema = Schema {
    rules: SCHEMALESS,
    strategic: false,
};

/// Splits a dotted rule path; `""` is the mount point itself.
fn segments(path: &'static str) -> impl Iterator<Item = &'static str> {
    path.split('.').filter(|s| !s.is_empty())
}

/// The first node at `path` that `pick` accepts, searching mounts depth-first.
fn lookup<T>(
    rules: &'static [Rule],
    path: &[&str],
    pick: &dyn Fn(&Node) -> Option<T>,
) -> Option<T> {
    for (rule_path, node) in rules {
        let mut rest = path;
        let mut matched = true;
        for seg in segments(rule_path) {
            match rest.split_first() {
                Some((head, tail)) if *head == seg => rest = tail,
                _ => {
                    matched = false;
                    break;
                }
            }
        }
        if !matched {
            continue;
        }
        match node {
            Mount(sub) => {
                if let Some(found) = lookup(sub, rest, pick) {
                    return Some(found);
                }
            }
            other if rest.is_empty() => {
                if let Some(found) = pick(other) {
                    return Some(found);
                }
            }
            _ => {}
        }
    }
    None
}

/// The object at `segs` below `obj` (created as `{}` where missing if `create`).
fn object_at<'m>(
    obj: &'m mut serde_json::Map<String, serde_json::Value>,
    segs: &[&str],
    create: bool,
) -> Option<&'m mut serde_json::Map<String, serde_json::Value>> {
    let Some((head, rest)) = segs.split_first() else {
        return Some(obj);
    };
    if create {
        obj.entry((*head).to_string())
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
    }
    match obj.get_mut(*head) {
        Some(serde_json::Value::Object(m)) => object_at(m, rest, create),
        _ => None,
    }
}

/// Adds this table's zero-value skeleton to `obj`.
fn build_zero(rules: &'static [Rule], obj: &mut serde_json::Map<String, serde_json::Value>) {
    use serde_json::Value;
    for (rule_path, node) in rules {
        let zero = match node {
            Struct => Value::Object(serde_json::Map::new()),
            ZeroNull => Value::Null,
            _ => continue,
        };
        let segs: Vec<&str> = segments(rule_path).collect();
        let Some((last, parents)) = segs.split_last() else {
            continue;
        };
        if let Some(parent) = object_at(obj, parents, true) {
            parent.entry((*last).to_string()).or_insert(zero);
        }
    }
    for (rule_path, node) in rules {
        let Mount(sub) = node else { continue };
        let segs: Vec<&str> = segments(rule_path).collect();
        if let Some(target) = object_at(obj, &segs, false) {
            build_zero(sub, target);
        }
    }
}

impl Schema {
    /// The schema of a built-in kind (`group` is `""` or `"core"` for the core group), or `None`
    /// for kinds this server has no schema for (custom resources).
    pub fn for_kind(group: &str, kind: &str) -> Option<&'static Schema> {
        let group = if group == "core" { "" } else { group };
        KINDS
            .iter()
            .find(|k| k.group == group && k.kind == kind)
            .map(|k| &k.schema)
    }

    /// The schema used for custom resources under server-side apply: ObjectMeta's lists keep
    /// their real types (`finalizers` a set, `ownerReferences` keyed by `uid`); every other list
    /// is atomic and every map granular. Strategic merge patch is not supported with it.
    pub fn schemaless() -> &'static Schema {
        &SCHEMALESS_SCHEMA
    }

    /// Whether strategic merge patch is allowed (built-in kinds only, as in Kubernetes).
    pub fn supports_strategic_merge(&self) -> bool {
        self.strategic
    }

    /// The server-side-apply strategy of the list at `path` (field names, list positions
    /// elided, e.g. `["spec","template","spec","containers","env"]`); unknown lists are atomic.
    pub fn list_strategy(&self, path: &[&str]) -> ListStrategy {
        lookup(self.rules, path, &|n| match n {
            List(s) | ListSmp(s, _) => Some(*s),
            _ => None,
        })
        .unwrap_or(Atomic)
    }

    /// The strategic-merge-patch strategy of the list at `path` (see [`ListStrategy`]).
    pub fn strategic_list_strategy(&self, path: &[&str]) -> ListStrategy {
        lookup(self.rules, path, &|n| match n {
            List(s) | ListSmp(_, s) => Some(*s),
            _ => None,
        })
        .unwrap_or(Atomic)
    }

    /// Whether the map or struct at `path` is atomic (owned and replaced as one value).
    pub fn is_atomic_map(&self, path: &[&str]) -> bool {
        lookup(self.rules, path, &|n| matches!(n, AtomicMap).then_some(())).is_some()
    }

    /// The kind's zero value as kube-apiserver's typed conversion renders it (struct fields as
    /// `{}`, non-`omitempty` slices and times as `null`): what a create is diffed against.
    pub fn zero_object(&self) -> serde_json::Value {
        let mut obj = serde_json::Map::new();
        build_zero(self.rules, &mut obj);
        serde_json::Value::Object(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(group: &str, kind: &str) -> &'static Schema {
        Schema::for_kind(group, kind).expect("known kind")
    }

    #[test]
    fn list_strategies_follow_the_api_types() {
        let name = ListStrategy::Map { keys: &["name"] };
        let cases: &[(&str, &str, &[&str], ListStrategy)] = &[
            ("", "Pod", &["spec", "containers"], name),
            ("", "Pod", &["spec", "initContainers"], name),
            ("", "Pod", &["spec", "ephemeralContainers"], name),
            (
                "",
                "Pod",
                &["spec", "containers", "ports"],
                ListStrategy::Map {
                    keys: &["containerPort", "protocol"],
                },
            ),
            ("", "Pod", &["spec", "containers", "env"], name),
            (
                "",
                "Pod",
                &["spec", "containers", "volumeMounts"],
                ListStrategy::Map {
                    keys: &["mountPath"],
                },
            ),
            (
                "",
                "Pod",
                &["spec", "initContainers", "volumeDevices"],
                ListStrategy::Map {
                    keys: &["devicePath"],
                },
            ),
            ("", "Pod", &["spec", "volumes"], name),
            ("", "Pod", &["spec", "imagePullSecrets"], name),
            ("", "Pod", &["spec", "tolerations"], ListStrategy::Atomic),
            (
                "",
                "Pod",
                &["spec", "hostAliases"],
                ListStrategy::Map { keys: &["ip"] },
            ),
            (
                "",
                "Pod",
                &["spec", "containers", "command"],
                ListStrategy::Atomic,
            ),
            ("", "Pod", &["metadata", "finalizers"], ListStrategy::Set),
            (
                "",
                "Pod",
                &["metadata", "ownerReferences"],
                ListStrategy::Map { keys: &["uid"] },
            ),
            (
                "",
                "Pod",
                &["metadata", "managedFields"],
                ListStrategy::Atomic,
            ),
            (
                "",
                "Pod",
                &["status", "conditions"],
                ListStrategy::Map { keys: &["type"] },
            ),
            (
                "",
                "Service",
                &["spec", "ports"],
                ListStrategy::Map {
                    keys: &["port", "protocol"],
                },
            ),
            ("", "Endpoints", &["subsets"], ListStrategy::Atomic),
            (
                "apps",
                "Deployment",
                &["spec", "template", "spec", "containers", "env"],
                name,
            ),
            (
                "apps",
                "StatefulSet",
                &["spec", "template", "spec", "volumes"],
                name,
            ),
            (
                "apps",
                "StatefulSet",
                &["spec", "volumeClaimTemplates"],
                ListStrategy::Atomic,
            ),
            (
                "batch",
                "CronJob",
                &[
                    "spec",
                    "jobTemplate",
                    "spec",
                    "template",
                    "spec",
                    "containers",
                ],
                name,
            ),
            (
                "batch",
                "CronJob",
                &["spec", "jobTemplate", "metadata", "finalizers"],
                ListStrategy::Set,
            ),
            (
                "networking.k8s.io",
                "Ingress",
                &["spec", "rules"],
                ListStrategy::Atomic,
            ),
            (
                "rbac.authorization.k8s.io",
                "ClusterRole",
                &["rules"],
                ListStrategy::Atomic,
            ),
            ("core", "Pod", &["spec", "containers"], name),
        ];
        for (group, kind, path, want) in cases {
            assert_eq!(
                schema(group, kind).list_strategy(path),
                *want,
                "{group}/{kind} {path:?}"
            );
        }
    }

    #[test]
    fn strategic_overrides_and_merge_keys() {
        let job = schema("batch", "Job");
        assert_eq!(
            job.list_strategy(&["status", "conditions"]),
            ListStrategy::Atomic
        );
        assert_eq!(
            job.strategic_list_strategy(&["status", "conditions"])
                .merge_key(),
            Some("type")
        );
        let pod = schema("", "Pod");
        assert_eq!(
            pod.strategic_list_strategy(&["spec", "containers", "ports"])
                .merge_key(),
            Some("containerPort")
        );
        assert_eq!(ListStrategy::Set.merge_key(), None);
    }

    #[test]
    fn atomic_maps_and_unknown_kinds() {
        let dep = schema("apps", "Deployment");
        assert!(dep.is_atomic_map(&["spec", "selector"]));
        assert!(!dep.is_atomic_map(&["spec", "template", "metadata", "labels"]));
        assert!(schema("", "Service").is_atomic_map(&["spec", "selector"]));
        assert!(Schema::for_kind("example.com", "Widget").is_none());
        assert!(Schema::for_kind("", "Deployment").is_none());
        let cr = Schema::schemaless();
        assert!(!cr.supports_strategic_merge());
        assert_eq!(cr.list_strategy(&["spec", "items"]), ListStrategy::Atomic);
        assert_eq!(
            cr.list_strategy(&["metadata", "finalizers"]),
            ListStrategy::Set
        );
    }

    #[test]
    fn zero_objects() {
        assert_eq!(
            schema("apps", "Deployment").zero_object(),
            json!({
                "metadata": {"creationTimestamp": null},
                "spec": {
                    "strategy": {},
                    "template": {
                        "metadata": {"creationTimestamp": null},
                        "spec": {"containers": null}
                    }
                },
                "status": {}
            })
        );
        assert_eq!(
            schema("batch", "CronJob").zero_object(),
            json!({
                "metadata": {"creationTimestamp": null},
                "spec": {"jobTemplate": {
                    "metadata": {"creationTimestamp": null},
                    "spec": {"template": {
                        "metadata": {"creationTimestamp": null},
                        "spec": {"containers": null}
                    }}
                }},
                "status": {}
            })
        );
        assert_eq!(
            schema("", "ConfigMap").zero_object(),
            json!({"metadata": {"creationTimestamp": null}})
        );
        assert_eq!(Schema::schemaless().zero_object(), json!({}));
    }
}
