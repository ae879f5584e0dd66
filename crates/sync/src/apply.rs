//! A sync's writes: the compared targets server-side applied in sync order (field manager
//! `argocd-controller`, conflicts forced, as Argo CD's `ServerSideApply=true`), then the
//! objects Git no longer has pruned when pruning is allowed. Each write's outcome is a
//! `syncResult.resources[]` entry; one failed write does not stop the others.
//!
//! Not yet here: waiting for a wave to be healthy before the next, hooks, dry runs, and the
//! sync options beyond prune and `CreateNamespace`; the operation runner that drives this adds them.

use ferry_api::argocd::{ManagedNamespaceMetadata, ResourceResult};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PropagationPolicy};
use serde_json::Value;

use crate::compare::Comparison;
use crate::live::Cluster;
use crate::order::{self, Task};

/// The field manager of the sync's writes, Argo CD's.
pub const FIELD_MANAGER: &str = "argocd-controller";

/// Applies `comparison`'s targets to `cluster` and, when `prune` is set, deletes its
/// prunable objects (foreground propagation, Argo CD's default); returns what happened to
/// each, in the order done.
pub async fn apply(cluster: &Cluster, comparison: &Comparison, prune: bool) -> Vec<ResourceResult> {
    let mut tasks: Vec<Task<'_>> = comparison
        .targets
        .iter()
        .flat_map(|(target, live)| Task::for_object(Some(target), live.as_ref()))
        .chain(
            comparison
                .prunable
                .iter()
                .flat_map(|live| Task::for_object(None, Some(live))),
        )
        .collect();
    order::sort(&mut tasks);
    let mut results = Vec::new();
    for task in &tasks {
        let (status, message) = match task.target {
            Some(target) => match write(cluster, target).await {
                Ok(()) => (
                    "Synced",
                    format!("{} serverside-applied", short_name(target)),
                ),
                Err(message) => ("SyncFailed", message),
            },
            None if !prune => ("PruneSkipped", "ignored (requires pruning)".to_string()),
            None => match delete(cluster, task.obj()).await {
                Ok(()) => ("Pruned", "pruned".to_string()),
                Err(message) => ("SyncFailed", message),
            },
        };
        results.push(result_of(task, status, message));
    }
    results
}

/// The `CreateNamespace=true` sync option: creates the destination namespace when it is
/// missing and, with `managedNamespaceMetadata`, sets its labels and annotations (on an
/// existing namespace too). The namespace is not tracked, so it is never pruned, as in
/// Argo CD. `None` when there was nothing to do.
pub async fn ensure_namespace(
    cluster: &Cluster,
    name: &str,
    managed: Option<&ManagedNamespaceMetadata>,
) -> Option<ResourceResult> {
    let mut namespace = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name},
    });
    if let Some(managed) = managed {
        namespace["metadata"]["labels"] = serde_json::json!(managed.labels);
        namespace["metadata"]["annotations"] = serde_json::json!(managed.annotations);
    }
    let outcome = match cluster.get(&namespace).await {
        Ok(Some(_)) if managed.is_none() => return None,
        Ok(live) => write(cluster, &namespace).await.map(|()| live.is_none()),
        Err(e) => Err(e.to_string()),
    };
    let (status, message) = match outcome {
        Ok(true) => ("Synced", format!("namespace/{name} created")),
        Ok(false) => ("Synced", format!("namespace/{name} serverside-applied")),
        Err(message) => ("SyncFailed", message),
    };
    Some(ResourceResult {
        version: "v1".into(),
        kind: "Namespace".into(),
        name: name.to_string(),
        status: Some(status.into()),
        message: Some(message),
        sync_phase: Some("PreSync".into()),
        ..ResourceResult::default()
    })
}

async fn api_for(cluster: &Cluster, obj: &Value) -> Result<Api<DynamicObject>, String> {
    let kind = cluster.kind_of(obj).await.map_err(|e| e.to_string())?;
    Ok(match ferry_api::meta::namespace(obj) {
        Some(ns) if kind.namespaced => {
            Api::namespaced_with(cluster.client().clone(), ns, &kind.resource)
        }
        _ => Api::all_with(cluster.client().clone(), &kind.resource),
    })
}

async fn write(cluster: &Cluster, target: &Value) -> Result<(), String> {
    let api = api_for(cluster, target).await?;
    let name = ferry_api::meta::name(target).unwrap_or_default();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(name, &params, &Patch::Apply(target))
        .await
        .map(drop)
        .map_err(|e| api_message(&e))
}

async fn delete(cluster: &Cluster, live: &Value) -> Result<(), String> {
    let api = api_for(cluster, live).await?;
    let name = ferry_api::meta::name(live).unwrap_or_default();
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        ..DeleteParams::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => Ok(()),
        // Already gone: what pruning wanted.
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(api_message(&e)),
    }
}

/// The API server's own words for a refused write.
fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

/// `deployment.apps/web`, as kubectl names what it applied.
fn short_name(obj: &Value) -> String {
    let gvk = ferry_api::meta::GroupVersionKind::of(obj).unwrap_or_default();
    let kind = gvk.kind.to_ascii_lowercase();
    let name = ferry_api::meta::name(obj).unwrap_or_default();
    if gvk.group.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}.{}/{name}", gvk.group)
    }
}

fn result_of(task: &Task<'_>, status: &str, message: String) -> ResourceResult {
    let obj = task.obj();
    let gvk = ferry_api::meta::GroupVersionKind::of(obj).unwrap_or_default();
    ResourceResult {
        group: gvk.group,
        version: gvk.version,
        kind: gvk.kind,
        namespace: ferry_api::meta::namespace(obj)
            .unwrap_or_default()
            .to_string(),
        name: ferry_api::meta::name(obj).unwrap_or_default().to_string(),
        status: Some(status.to_string()),
        message: Some(message),
        sync_phase: Some(task.phase.as_str().to_string()),
        ..ResourceResult::default()
    }
}
