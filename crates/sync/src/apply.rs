//! A sync's writes to the destination cluster, one object at a time: server-side apply of a
//! target (field manager `argocd-controller`, conflicts forced, as Argo CD's
//! `ServerSideApply=true`; optionally a dry run, optionally without strict field validation),
//! deletion with a propagation policy, removal of one finalizer, and the `CreateNamespace=true`
//! namespace. The operation runner ([`crate::operation`]) decides what to write and when.

use ferry_api::argocd::{ManagedNamespaceMetadata, ResourceResult};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PropagationPolicy};
use kube::core::params::ValidationDirective;
use serde_json::Value;

use crate::live::Cluster;

/// The field manager of the sync's writes, Argo CD's.
pub const FIELD_MANAGER: &str = "argocd-controller";

/// How a target is applied.
#[derive(Clone, Copy, Debug)]
pub struct ApplyOptions {
    /// Ask the API server to check the write but not persist it.
    pub dry_run: bool,
    /// Refuse unknown and duplicate fields (`Validate=false` turns this off).
    pub validate: bool,
}

/// Server-side applies `target`; the API server's message when it refuses.
pub async fn apply_object(
    cluster: &Cluster,
    target: &Value,
    options: ApplyOptions,
) -> Result<(), String> {
    let api = api_for(cluster, target).await?;
    let name = ferry_api::meta::name(target).unwrap_or_default();
    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    params.dry_run = options.dry_run;
    params.field_validation = Some(if options.validate {
        ValidationDirective::Strict
    } else {
        ValidationDirective::Ignore
    });
    cluster.count_write("apply");
    api.patch(name, &params, &Patch::Apply(target))
        .await
        .map(drop)
        .map_err(|e| api_message(&e))
}

/// Deletes `live` with `propagation`; an object already gone counts as deleted.
pub async fn delete_object(
    cluster: &Cluster,
    live: &Value,
    propagation: &PropagationPolicy,
    dry_run: bool,
) -> Result<(), String> {
    let api = api_for(cluster, live).await?;
    let name = ferry_api::meta::name(live).unwrap_or_default();
    let params = DeleteParams {
        propagation_policy: Some(propagation.clone()),
        dry_run,
        ..DeleteParams::default()
    };
    cluster.count_write("delete");
    match api.delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(api_message(&e)),
    }
}

/// Removes `finalizer` from `live`, guarded by its `resourceVersion`; nothing to do when it
/// does not carry it or is gone. A cached `live` may be stale: on a conflict the object is
/// read again from the API and the removal tried once more.
pub async fn remove_finalizer(
    cluster: &Cluster,
    live: &Value,
    finalizer: &str,
) -> Result<(), String> {
    let api = api_for(cluster, live).await?;
    let name = ferry_api::meta::name(live).unwrap_or_default();
    let mut current = live.clone();
    for _ in 0..2 {
        let finalizers = ferry_api::meta::finalizers(&current);
        if !finalizers.contains(&finalizer) {
            return Ok(());
        }
        let rest: Vec<&str> = finalizers.into_iter().filter(|f| *f != finalizer).collect();
        let patch = serde_json::json!({"metadata": {
            "finalizers": rest,
            "resourceVersion": current.pointer("/metadata/resourceVersion"),
        }});
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => match api.get_opt(name).await {
                Ok(Some(fresh)) => current = serde_json::to_value(fresh).unwrap_or_default(),
                Ok(None) => return Ok(()),
                Err(e) => return Err(api_message(&e)),
            },
            Err(e) => return Err(api_message(&e)),
        }
    }
    Err(format!(
        "{name} kept changing while its finalizer was removed"
    ))
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
        Ok(live) => apply_object(
            cluster,
            &namespace,
            ApplyOptions {
                dry_run: false,
                validate: true,
            },
        )
        .await
        .map(|()| live.is_none()),
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

/// The API server's own words for a refused write.
fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

/// `deployment.apps/web`, as kubectl names what it applied.
pub fn short_name(obj: &Value) -> String {
    let gvk = ferry_api::meta::GroupVersionKind::of(obj).unwrap_or_default();
    let kind = gvk.kind.to_ascii_lowercase();
    let name = ferry_api::meta::name(obj).unwrap_or_default();
    if gvk.group.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}.{}/{name}", gvk.group)
    }
}
