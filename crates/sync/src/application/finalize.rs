//! Deleting an Application that carries Argo CD's resources finalizer
//! (`resources-finalizer.argocd.argoproj.io`, `/foreground` or `/background`): its live
//! objects are deleted first, the highest sync wave first, each wave once the one before is
//! gone; then the finalizer is removed and the Application goes. Left alone, as in Argo CD:
//! CRDs, objects with `Delete=false` (annotation or the app's sync options), Helm's
//! `helm.sh/resource-policy: keep`, and objects that are not really the app's (a copy that
//! carries its tracking). When the destination cluster is gone, the finalizer is simply
//! removed.

use std::time::Duration;

use ferry_api::argocd::Application;
use kube::api::{Api, Patch, PatchParams, PropagationPolicy};
use serde_json::Value;

use super::reconcile::Context;
use crate::apply;
use crate::clusters::DestinationError;
use crate::hook::HOOK_FINALIZER;
use crate::live::{self, Cluster};
use crate::operation::settings;
use crate::order;

/// Argo CD's resources finalizer, foreground propagation.
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";
const FOREGROUND_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io/foreground";
const BACKGROUND_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io/background";
/// How soon a deletion in progress is looked at again.
const DELETION_REQUEUE: Duration = Duration::from_secs(1);

/// The propagation of the app's resources finalizer, when it has one.
pub fn cascade(app: &Application) -> Option<PropagationPolicy> {
    let finalizers = app.metadata.finalizers.as_deref().unwrap_or_default();
    finalizers.iter().find_map(|f| match f.as_str() {
        RESOURCES_FINALIZER | FOREGROUND_FINALIZER => Some(PropagationPolicy::Foreground),
        BACKGROUND_FINALIZER => Some(PropagationPolicy::Background),
        _ => None,
    })
}

/// One step of deleting `app` with `propagation`; `Ok(Some(d))` while objects remain (look
/// again after `d`), `Ok(None)` once the finalizer is removed.
pub async fn finalize(
    ctx: &Context,
    app: &Application,
    propagation: PropagationPolicy,
) -> Result<Option<Duration>, String> {
    // A destination that no longer exists has nothing left to delete, as in Argo CD.
    let cluster = match ctx.clusters.resolve(&app.spec.destination).await {
        Ok(destination) => destination.cluster,
        Err(e @ (DestinationError::NoServer(_) | DestinationError::NoName(_))) => {
            tracing::warn!(app = %app.name(), error = %e, "removing the resources finalizer");
            remove_finalizers(ctx, app)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(None);
        }
        // Anything else (a broken Secret, the API) may pass: nothing is orphaned meanwhile.
        Err(e) => return Err(e.to_string()),
    };
    let remaining = owned_objects(ctx, app, &cluster).await?;
    // No operation will observe the app's hooks any more: their finalizer must not hold
    // their deletion.
    for obj in &remaining {
        if ferry_api::meta::finalizers(obj).contains(&HOOK_FINALIZER) {
            apply::remove_finalizer(&cluster, obj, HOOK_FINALIZER).await?;
        }
    }
    if remaining.iter().any(ferry_api::meta::is_being_deleted) {
        return Ok(Some(DELETION_REQUEUE));
    }
    let deletable: Vec<&Value> = remaining
        .iter()
        .filter(|obj| should_be_deleted(app, obj))
        .collect();
    if let Some(highest) = deletable.iter().map(|obj| order::wave(obj)).max() {
        for obj in deletable.iter().filter(|obj| order::wave(obj) == highest) {
            apply::delete_object(&cluster, obj, &propagation, false).await?;
        }
        return Ok(Some(DELETION_REQUEUE));
    }
    remove_finalizers(ctx, app)
        .await
        .map_err(|e| e.to_string())?;
    Ok(None)
}

/// The live objects `app` deployed: its resources and hooks, as its status names them,
/// that the cluster still has and that really are the app's.
async fn owned_objects(
    ctx: &Context,
    app: &Application,
    cluster: &Cluster,
) -> Result<Vec<Value>, String> {
    let namespace = app.metadata.namespace.as_deref().unwrap_or(&ctx.namespace);
    let instance = crate::tracking::instance_name(namespace, app.name(), &ctx.namespace);
    let resources = app
        .status
        .resources
        .iter()
        .map(|r| live::probe(&r.group, &r.version, &r.kind, &r.namespace, &r.name));
    let hooks = app
        .status
        .operation_state
        .iter()
        .filter_map(|s| s.sync_result.as_ref())
        .flat_map(|r| &r.resources)
        .filter(|r| r.hook_type.is_some())
        .map(|r| live::probe(&r.group, &r.version, &r.kind, &r.namespace, &r.name));
    let mut owned = Vec::new();
    for probe in resources.chain(hooks) {
        let live = match cluster.get(&probe).await {
            Ok(Some(live)) => live,
            Ok(None) | Err(live::LiveError::UnknownKind { .. }) => continue,
            Err(e) => return Err(e.to_string()),
        };
        let ours = ctx.tracking.app_of(&live).as_deref() == Some(instance.as_str())
            && ctx.tracking.is_self_referenced(&live, None);
        let seen = owned.iter().any(|o: &Value| same(o, &live));
        if ours && !seen {
            owned.push(live);
        }
    }
    Ok(owned)
}

fn same(a: &Value, b: &Value) -> bool {
    ferry_api::meta::uid(a).is_some() && ferry_api::meta::uid(a) == ferry_api::meta::uid(b)
}

/// Argo CD's `shouldBeDeleted`.
fn should_be_deleted(app: &Application, obj: &Value) -> bool {
    let gvk = ferry_api::meta::GroupVersionKind::of(obj).unwrap_or_default();
    let crd = gvk.group == "apiextensions.k8s.io" && gvk.kind == "CustomResourceDefinition";
    let keep_annotation = settings::object_has(obj, "Delete=false");
    let keep_app = ferry_api::meta::annotation(obj, settings::SYNC_OPTIONS_ANNOTATION)
        .is_none_or(|o| !o.contains("Delete="))
        && app
            .spec
            .sync_policy
            .iter()
            .flat_map(|p| &p.sync_options)
            .any(|o| o.eq_ignore_ascii_case("Delete=false"));
    let helm_keep = ferry_api::meta::annotation(obj, "helm.sh/resource-policy")
        .is_some_and(|p| p.split(',').any(|p| p.trim() == "keep"));
    !crd && !keep_annotation && !keep_app && !helm_keep
}

/// Removes the resources finalizers, guarded by the resourceVersion read.
async fn remove_finalizers(ctx: &Context, app: &Application) -> Result<(), kube::Error> {
    let rest: Vec<&str> = app
        .metadata
        .finalizers
        .iter()
        .flatten()
        .map(String::as_str)
        .filter(|f| {
            ![
                RESOURCES_FINALIZER,
                FOREGROUND_FINALIZER,
                BACKGROUND_FINALIZER,
            ]
            .contains(f)
        })
        .collect();
    let patch = serde_json::json!({"metadata": {
        "finalizers": rest,
        "resourceVersion": app.metadata.resource_version,
    }});
    let apps: Api<Application> = Api::namespaced(
        ctx.client.clone(),
        app.metadata.namespace.as_deref().unwrap_or(&ctx.namespace),
    );
    match apps
        .patch(app.name(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn app(finalizers: &[&str], options: &[&str]) -> Application {
        serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "web", "namespace": "argocd", "finalizers": finalizers},
            "spec": {"project": "default",
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
                "source": {"repoURL": "https://example.com/r.git", "path": "."},
                "syncPolicy": {"syncOptions": options}}
        }))
        .unwrap()
    }

    #[test]
    fn the_finalizer_names_the_propagation() {
        assert!(matches!(
            cascade(&app(&[RESOURCES_FINALIZER], &[])),
            Some(PropagationPolicy::Foreground)
        ));
        assert!(matches!(
            cascade(&app(&[BACKGROUND_FINALIZER], &[])),
            Some(PropagationPolicy::Background)
        ));
        assert!(cascade(&app(&["other"], &[])).is_none());
    }

    #[test]
    fn what_a_cascade_leaves_alone() {
        let obj = |annotations: Value, api_version: &str, kind: &str| {
            json!({"apiVersion": api_version, "kind": kind,
                "metadata": {"name": "x", "annotations": annotations}})
        };
        let plain = app(&[RESOURCES_FINALIZER], &[]);
        let keep_all = app(&[RESOURCES_FINALIZER], &["Delete=false"]);
        // (app, object, deleted)
        let table = [
            (&plain, obj(json!({}), "v1", "ConfigMap"), true),
            (
                &plain,
                obj(
                    json!({}),
                    "apiextensions.k8s.io/v1",
                    "CustomResourceDefinition",
                ),
                false,
            ),
            (
                &plain,
                obj(
                    json!({"argocd.argoproj.io/sync-options": "Delete=false"}),
                    "v1",
                    "ConfigMap",
                ),
                false,
            ),
            (
                &plain,
                obj(
                    json!({"helm.sh/resource-policy": "keep"}),
                    "v1",
                    "ConfigMap",
                ),
                false,
            ),
            (&keep_all, obj(json!({}), "v1", "ConfigMap"), false),
            (
                &keep_all,
                obj(
                    json!({"argocd.argoproj.io/sync-options": "Delete=true"}),
                    "v1",
                    "ConfigMap",
                ),
                true,
            ),
        ];
        for (app, obj, want) in table {
            assert_eq!(should_be_deleted(app, &obj), want, "{obj}");
        }
    }
}
