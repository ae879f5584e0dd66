//! The order a sync applies its tasks in, as Argo CD's: by phase (PreSync, Sync, PostSync,
//! SyncFail), then wave (`argocd.argoproj.io/sync-wave`, else Helm's `hook-weight`, else 0),
//! then kind (Helm's install order; kinds it does not list, custom resources among them, come
//! last), then name. After sorting, a Namespace moves before the first object in it and a
//! CRD before the first of its custom resources, taking that object's phase and wave.

use std::collections::HashMap;

use serde_json::Value;

use crate::operation::task::SyncTask;

/// Argo CD's wave annotation.
pub const SYNC_WAVE_ANNOTATION: &str = "argocd.argoproj.io/sync-wave";
/// Helm's hook weight, the wave when Argo CD's annotation is absent.
pub const HELM_HOOK_WEIGHT_ANNOTATION: &str = "helm.sh/hook-weight";

/// Helm's install order of kinds.
const KIND_ORDER: [&str; 35] = [
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// An object's wave: Argo CD's annotation when it is an integer, else Helm's hook weight
/// when that is one, else 0.
pub fn wave(obj: &Value) -> i64 {
    [SYNC_WAVE_ANNOTATION, HELM_HOOK_WEIGHT_ANNOTATION]
        .into_iter()
        .find_map(|key| ferry_api::meta::annotation(obj, key)?.parse().ok())
        .unwrap_or(0)
}

/// Sorts `tasks` into the order a sync runs them.
pub fn sort(tasks: &mut [SyncTask]) {
    tasks.sort_by(|a, b| {
        let (a_obj, b_obj) = (a.obj(), b.obj());
        (a.phase, a.wave, kind_rank(a_obj), name(a_obj)).cmp(&(
            b.phase,
            b.wave,
            kind_rank(b_obj),
            name(b_obj),
        ))
    });
    move_dependencies_first(tasks, namespace_provided, namespace_used);
    move_dependencies_first(tasks, kind_provided, kind_used);
}

/// A kind's place in Helm's order; unlisted kinds come after every listed one.
fn kind_rank(obj: &Value) -> usize {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    KIND_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(KIND_ORDER.len())
}

fn name(obj: &Value) -> &str {
    ferry_api::meta::name(obj).unwrap_or_default()
}

/// The namespace a core Namespace object provides.
fn namespace_provided(obj: &Value) -> Option<String> {
    let gvk = ferry_api::meta::GroupVersionKind::of(obj)?;
    (gvk.group.is_empty() && gvk.kind == "Namespace").then(|| name(obj).to_string())
}

fn namespace_used(obj: &Value) -> Option<String> {
    ferry_api::meta::namespace(obj)
        .filter(|ns| !ns.is_empty())
        .map(str::to_string)
}

/// The `group/Kind` a CRD provides.
pub fn kind_provided(obj: &Value) -> Option<String> {
    let gvk = ferry_api::meta::GroupVersionKind::of(obj)?;
    if gvk.group != "apiextensions.k8s.io" || gvk.kind != "CustomResourceDefinition" {
        return None;
    }
    let group = obj.pointer("/spec/group")?.as_str()?;
    let kind = obj.pointer("/spec/names/kind")?.as_str()?;
    Some(format!("{group}/{kind}"))
}

/// The `group/Kind` of an object.
pub fn kind_used(obj: &Value) -> Option<String> {
    let gvk = ferry_api::meta::GroupVersionKind::of(obj)?;
    Some(format!("{}/{}", gvk.group, gvk.kind))
}

/// Moves each task that provides something (a namespace, a kind) before the first task that
/// uses it, with that task's phase and wave. Only targets count: a prune provides nothing.
fn move_dependencies_first(
    tasks: &mut [SyncTask],
    provides: fn(&Value) -> Option<String>,
    uses: fn(&Value) -> Option<String>,
) {
    let mut first_user: HashMap<String, usize> = HashMap::new();
    for i in 0..tasks.len() {
        let Some(target) = &tasks[i].target else {
            continue;
        };
        if let Some(key) = provides(target) {
            if let Some(&at) = first_user.get(&key) {
                (tasks[i].phase, tasks[i].wave) = (tasks[at].phase, tasks[at].wave);
                tasks[at..=i].rotate_right(1);
                for index in first_user.values_mut() {
                    if *index >= at {
                        *index += 1;
                    }
                }
            }
        } else if let Some(key) = uses(target) {
            first_user.entry(key).or_insert(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::hook::SyncPhase;

    fn obj(api_version: &str, kind: &str, name: &str, annotations: Value) -> Value {
        json!({"apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": "web", "annotations": annotations}})
    }

    fn order(objects: &[Value]) -> Vec<String> {
        let mut tasks: Vec<SyncTask> = objects
            .iter()
            .flat_map(|o| SyncTask::for_object(Some(o.clone()), None))
            .collect();
        sort(&mut tasks);
        tasks
            .iter()
            .map(|t| format!("{}:{}:{}", t.phase.as_str(), t.wave, name(t.obj())))
            .collect()
    }

    #[test]
    fn phase_then_wave_then_kind_then_name() {
        let objects = [
            obj("apps/v1", "Deployment", "b-deploy", json!({})),
            obj("v1", "ConfigMap", "z-config", json!({})),
            obj("example.com/v1", "Widget", "a-widget", json!({})),
            obj("apps/v1", "Deployment", "a-deploy", json!({})),
            obj(
                "batch/v1",
                "Job",
                "migrate",
                json!({"argocd.argoproj.io/hook": "PreSync"}),
            ),
            obj(
                "batch/v1",
                "Job",
                "smoke",
                json!({"helm.sh/hook": "post-install", "helm.sh/hook-weight": "-1"}),
            ),
            obj(
                "v1",
                "Service",
                "early",
                json!({"argocd.argoproj.io/sync-wave": "-2"}),
            ),
            obj(
                "v1",
                "Secret",
                "late",
                json!({"argocd.argoproj.io/sync-wave": "5"}),
            ),
            obj(
                "v1",
                "Pod",
                "never",
                json!({"argocd.argoproj.io/hook": "Skip"}),
            ),
            obj(
                "v1",
                "ConfigMap",
                "bad-wave",
                json!({"argocd.argoproj.io/sync-wave": "soon"}),
            ),
        ];
        assert_eq!(
            order(&objects),
            [
                "PreSync:0:migrate",
                "Sync:-2:early",
                "Sync:0:bad-wave",
                "Sync:0:z-config",
                "Sync:0:a-deploy",
                "Sync:0:b-deploy",
                "Sync:0:a-widget",
                "Sync:5:late",
                "PostSync:-1:smoke",
            ]
        );
    }

    #[test]
    fn namespaces_and_crds_move_before_their_first_user() {
        let mut late_namespace = obj(
            "v1",
            "Namespace",
            "web",
            json!({"argocd.argoproj.io/sync-wave": "3"}),
        );
        late_namespace["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("namespace");
        let mut crd = obj(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "widgets.example.com",
            json!({"argocd.argoproj.io/sync-wave": "2"}),
        );
        crd["spec"] = json!({"group": "example.com", "names": {"kind": "Widget"}});
        let objects = [
            late_namespace,
            crd,
            obj(
                "example.com/v1",
                "Widget",
                "w",
                json!({"argocd.argoproj.io/sync-wave": "1"}),
            ),
            obj(
                "v1",
                "ConfigMap",
                "c",
                json!({"argocd.argoproj.io/sync-wave": "-1"}),
            ),
        ];
        assert_eq!(
            order(&objects),
            [
                "Sync:-1:web",
                "Sync:-1:c",
                "Sync:1:widgets.example.com",
                "Sync:1:w"
            ]
        );
    }

    #[test]
    fn a_prune_is_ordered_by_its_live_object() {
        let live = obj(
            "v1",
            "ConfigMap",
            "old",
            json!({"argocd.argoproj.io/sync-wave": "4"}),
        );
        let tasks = SyncTask::for_object(None, Some(live));
        assert_eq!(tasks.len(), 1);
        assert_eq!((tasks[0].phase, tasks[0].wave), (SyncPhase::Sync, 4));
    }
}
