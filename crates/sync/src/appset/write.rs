//! The write step of an ApplicationSet reconcile: each generated Application created or
//! updated, and those no longer generated deleted, as `syncPolicy.applicationsSync` allows.
//! An update writes only what the set owns of an Application (spec, labels, annotations,
//! finalizers, owner reference), keeps what others may set (Argo CD's preserved annotations,
//! `preservedFields`, pre-/post-delete finalizers) and the fields
//! `ignoreApplicationDifferences` names, and is a JSON patch guarded by the app's
//! `resourceVersion`.

use std::collections::BTreeMap;

use ferry_api::argocd::{Application, ApplicationSet};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::reconcile::{Desired, Failure, app_name, set_name, set_namespace};
use super::template::RESOURCES_FINALIZER;
use crate::application::Context;
use crate::clusters::DestinationError;
use crate::diff::remove_pointer;

/// Annotations of generated Applications others may set and the controller keeps.
const PRESERVED_ANNOTATIONS: &[&str] = &[
    "notified.notifications.argoproj.io",
    "argocd.argoproj.io/refresh",
    "argocd.argoproj.io/hydrate",
];

/// Finalizers of generated Applications others may add and the controller keeps.
const PRESERVED_FINALIZER_PREFIXES: &[&str] = &[
    "pre-delete-finalizer.argocd.argoproj.io",
    "post-delete-finalizer.argocd.argoproj.io",
];

/// What `applicationsSync` lets the controller do.
#[derive(Clone, Copy)]
pub(super) struct Policy {
    update: bool,
    delete: bool,
}

impl Policy {
    pub(super) fn of(set: &ApplicationSet) -> Result<Self, Failure> {
        let policy = set
            .spec
            .sync_policy
            .as_ref()
            .and_then(|p| p.applications_sync.as_deref())
            .unwrap_or("sync");
        let (update, delete) = match policy {
            "sync" | "" => (true, true),
            "create-only" => (false, false),
            "create-update" => (true, false),
            "create-delete" => (false, true),
            other => {
                return Err(Failure::new(
                    "ApplicationGenerationFromParamsError",
                    format!(
                        "invalid applicationsSync {other:?}: use create-only, create-update, \
                         create-delete or sync"
                    ),
                ));
            }
        };
        Ok(Policy { update, delete })
    }
}

/// The write step: creates, updates and deletes as the policy allows; the first failure
/// (by name) is reported, the other apps still written.
pub(super) async fn write(
    ctx: &Context,
    set: &ApplicationSet,
    apps: &Api<Application>,
    desired: Desired,
) -> Result<(), Failure> {
    let policy = Policy::of(set)?;
    if set
        .spec
        .ignore_application_differences
        .iter()
        .any(|rule| !rule.jq_path_expressions.is_empty())
    {
        return Err(Failure::new(
            "UpdateApplicationError",
            "ignoreApplicationDifferences.jqPathExpressions is not supported yet; use jsonPointers",
        ));
    }
    let listed = apps
        .list(&ListParams::default())
        .await
        .map_err(|e| Failure::new("UpdateApplicationError", e))?
        .items;
    let owned = owned_by(set, listed.clone());
    let live: BTreeMap<String, Application> = listed
        .into_iter()
        .map(|app| (app.name().to_string(), app))
        .collect();
    let mut first: Option<Failure> = None;
    for app in &desired.valid {
        let result = create_or_update(set, apps, app, live.get(app_name(app)), policy).await;
        if let Err(e) = result
            && first.is_none()
        {
            let reason = if policy.update {
                "UpdateApplicationError"
            } else {
                "CreateApplicationError"
            };
            first = Some(Failure::new(reason, e));
        }
    }
    if policy.delete {
        for app in owned
            .iter()
            .filter(|a| !desired.generated.contains(a.name()))
        {
            if let Err(e) = delete(ctx, apps, app).await
                && first.is_none()
            {
                first = Some(Failure::new("DeleteApplicationError", e));
            }
        }
    }
    match (first, desired.invalid) {
        (Some(failure), _) | (None, Some(failure)) => Err(failure),
        (None, None) => Ok(()),
    }
}

/// The owner reference generated Applications carry.
fn owner_reference(set: &ApplicationSet) -> Value {
    json!({
        "apiVersion": ferry_api::argocd::API_VERSION,
        "kind": "ApplicationSet",
        "name": set_name(set),
        "uid": set.metadata.uid.clone().unwrap_or_default(),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

fn controller_of(app: &Value) -> Option<&Value> {
    app["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == json!(true))
}

async fn create_or_update(
    set: &ApplicationSet,
    apps: &Api<Application>,
    generated: &Value,
    live: Option<&Application>,
    policy: Policy,
) -> Result<(), String> {
    let name = app_name(generated);
    let Some(live) = live else {
        let mut app = generated.clone();
        app["metadata"]["ownerReferences"] = json!([owner_reference(set)]);
        let app: Application = serde_json::from_value(app).map_err(|e| e.to_string())?;
        return apps
            .create(&PostParams::default(), &app)
            .await
            .map(drop)
            .map_err(|e| format!("creating Application {name}: {e}"));
    };
    let mut live = serde_json::to_value(live).map_err(|e| e.to_string())?;
    // A write that raced another is done again, once, on the app as it is then.
    for attempt in 0..2 {
        if let Some(owner) = controller_of(&live)
            && (owner["kind"] != "ApplicationSet" || owner["name"] != set_name(set))
        {
            return Err(format!(
                "Object {}/{name} is already owned by another ApplicationSet controller {}",
                set_namespace(set),
                owner["name"].as_str().unwrap_or_default()
            ));
        }
        // A terminating app takes no new finalizers: it is on its way out.
        if !policy.update || !live["metadata"]["deletionTimestamp"].is_null() {
            return Ok(());
        }
        let mut desired = updated(set, &live, generated);
        for pointer in ignored_pointers(set, name) {
            keep_live(&mut desired, &live, &pointer);
        }
        let mut patch = json_patch::diff(&managed(&live), &managed(&desired));
        if patch.0.is_empty() {
            return Ok(());
        }
        let guard = json!({"op": "test", "path": "/metadata/resourceVersion",
                           "value": live["metadata"]["resourceVersion"]});
        patch
            .0
            .insert(0, serde_json::from_value(guard).map_err(|e| e.to_string())?);
        match apps
            .patch(name, &PatchParams::default(), &Patch::Json::<()>(patch))
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if attempt == 0 && matches!(status.code, 409 | 422) => {
                let fresh = apps
                    .get_opt(name)
                    .await
                    .map_err(|e| format!("reading Application {name}: {e}"))?;
                let Some(fresh) = fresh else {
                    return Ok(());
                };
                live = serde_json::to_value(&fresh).map_err(|e| e.to_string())?;
            }
            Err(e) => return Err(format!("updating Application {name}: {e}")),
        }
    }
    Ok(())
}

/// `live` with the generated spec, labels, annotations and finalizers, the kept ones kept,
/// and the owner reference.
fn updated(set: &ApplicationSet, live: &Value, generated: &Value) -> Value {
    let mut desired = live.clone();
    desired["spec"] = generated["spec"].clone();
    if !generated["operation"].is_null() {
        desired["operation"] = generated["operation"].clone();
    }
    let preserved = set.spec.preserved_fields.clone().unwrap_or_default();
    let kept_annotations: Vec<&str> = PRESERVED_ANNOTATIONS
        .iter()
        .copied()
        .chain(preserved.annotations.iter().map(String::as_str))
        .collect();
    let kept_labels: Vec<&str> = preserved.labels.iter().map(String::as_str).collect();
    for (field, kept) in [("annotations", kept_annotations), ("labels", kept_labels)] {
        let mut map = generated["metadata"][field]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for key in kept {
            if let Some(value) = live["metadata"][field].get(key) {
                map.insert(key.to_string(), value.clone());
            }
        }
        desired["metadata"][field] = Value::Object(map);
    }
    let mut finalizers: Vec<Value> = generated["metadata"]["finalizers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for finalizer in live["metadata"]["finalizers"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let kept = finalizer.as_str().is_some_and(|f| {
            PRESERVED_FINALIZER_PREFIXES
                .iter()
                .any(|p| f.starts_with(p))
        });
        if kept && !finalizers.contains(finalizer) {
            finalizers.push(finalizer.clone());
        }
    }
    desired["metadata"]["finalizers"] = Value::Array(finalizers);
    let mut owners: Vec<Value> = live["metadata"]["ownerReferences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    owners.retain(|r| r["controller"] != json!(true));
    owners.push(owner_reference(set));
    desired["metadata"]["ownerReferences"] = Value::Array(owners);
    desired
}

/// The parts of an Application the controller writes (empty maps and lists as absent).
fn managed(app: &Value) -> Value {
    let mut metadata = serde_json::Map::new();
    for field in ["labels", "annotations", "finalizers", "ownerReferences"] {
        let value = &app["metadata"][field];
        let empty = value.is_null()
            || value.as_object().is_some_and(|m| m.is_empty())
            || value.as_array().is_some_and(|a| a.is_empty());
        if !empty {
            metadata.insert(field.to_string(), value.clone());
        }
    }
    let mut parts = json!({"metadata": metadata, "spec": app["spec"]});
    if !app["operation"].is_null() {
        parts["operation"] = app["operation"].clone();
    }
    parts
}

/// The `ignoreApplicationDifferences` JSON pointers that apply to `name`.
fn ignored_pointers(set: &ApplicationSet, name: &str) -> Vec<String> {
    set.spec
        .ignore_application_differences
        .iter()
        .filter(|rule| rule.name.as_deref().is_none_or(|n| n == name))
        .flat_map(|rule| rule.json_pointers.iter().cloned())
        .collect()
}

/// `desired` with `live`'s value at `pointer`, or without one where `live` has none: an
/// ignored field is written as it is, whatever the template says.
fn keep_live(desired: &mut Value, live: &Value, pointer: &str) {
    let Some(value) = live.pointer(pointer) else {
        remove_pointer(desired, pointer);
        return;
    };
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some((last, parents)) = tokens.split_last() else {
        return;
    };
    let mut current = desired;
    for token in parents {
        if current.is_null() {
            *current = Value::Object(serde_json::Map::new());
        }
        current = match current {
            Value::Object(map) => map
                .entry(token.clone())
                .or_insert_with(|| Value::Object(serde_json::Map::new())),
            Value::Array(items) => match token.parse::<usize>() {
                Ok(index) if index < items.len() => &mut items[index],
                _ => return,
            },
            _ => return,
        };
    }
    if current.is_null() {
        *current = Value::Object(serde_json::Map::new());
    }
    match current {
        Value::Object(map) => {
            map.insert(last.clone(), value.clone());
        }
        Value::Array(items) => {
            if let Ok(index) = last.parse::<usize>()
                && index < items.len()
            {
                items[index] = value.clone();
            }
        }
        _ => {}
    }
}

/// The Applications `set` controls, by name.
pub(super) async fn owned_apps(
    set: &ApplicationSet,
    apps: &Api<Application>,
) -> Result<Vec<Application>, kube::Error> {
    Ok(owned_by(
        set,
        apps.list(&ListParams::default()).await?.items,
    ))
}

/// Those of `apps` that `set` controls, by name.
fn owned_by(set: &ApplicationSet, apps: Vec<Application>) -> Vec<Application> {
    let mut owned: Vec<Application> = apps
        .into_iter()
        .filter(|app| {
            app.metadata.owner_references.iter().flatten().any(|r| {
                r.controller == Some(true) && r.kind == "ApplicationSet" && r.name == set_name(set)
            })
        })
        .collect();
    owned.sort_by(|a, b| a.name().cmp(b.name()));
    owned
}

/// Deletes an Application the set no longer generates; its resources finalizer is dropped
/// first when its destination cluster is gone (nothing could delete them).
async fn delete(ctx: &Context, apps: &Api<Application>, app: &Application) -> Result<(), String> {
    let name = app.name();
    let finalizers = app.metadata.finalizers.clone().unwrap_or_default();
    if finalizers.iter().any(|f| f == RESOURCES_FINALIZER)
        && matches!(
            ctx.clusters.resolve(&app.spec.destination).await,
            Err(DestinationError::NoServer(_) | DestinationError::NoName(_))
        )
    {
        let kept: Vec<&String> = finalizers
            .iter()
            .filter(|f| *f != RESOURCES_FINALIZER)
            .collect();
        apps.patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": kept}})),
        )
        .await
        .map_err(|e| format!("removing the finalizer of Application {name}: {e}"))?;
    }
    match apps.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(format!("deleting Application {name}: {e}")),
    }
}

/// A set being deleted whose policy keeps its Applications lets go of them (no owner
/// reference), so the garbage collector leaves them.
pub(super) async fn release_if_kept(
    set: &ApplicationSet,
    apps: &Api<Application>,
) -> Result<(), kube::Error> {
    let Ok(policy) = Policy::of(set) else {
        return Ok(());
    };
    if policy.delete {
        return Ok(());
    }
    for app in owned_apps(set, apps).await? {
        apps.patch(
            app.name(),
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"ownerReferences": null}})),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(value: Value) -> ApplicationSet {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn policies_allow_what_their_names_say() {
        for (policy, update, delete) in [
            (None, true, true),
            (Some("create-only"), false, false),
            (Some("create-update"), true, false),
            (Some("create-delete"), false, true),
            (Some("sync"), true, true),
        ] {
            let set = set(json!({"spec": {"syncPolicy": {"applicationsSync": policy}}}));
            let allowed = Policy::of(&set).ok().unwrap();
            assert_eq!(
                (allowed.update, allowed.delete),
                (update, delete),
                "{policy:?}"
            );
        }
        assert!(
            Policy::of(&set(
                json!({"spec": {"syncPolicy": {"applicationsSync": "all"}}})
            ))
            .is_err()
        );
    }

    #[test]
    fn an_update_keeps_preserved_fields_and_delete_hook_finalizers() {
        let set = set(json!({"metadata": {"name": "s", "uid": "u1"},
                             "spec": {"preservedFields": {"labels": ["team"]}}}));
        let live = json!({"metadata": {"name": "a",
            "labels": {"team": "x", "old": "y"},
            "annotations": {"argocd.argoproj.io/refresh": "hard", "note": "n"},
            "finalizers": ["post-delete-finalizer.argocd.argoproj.io", "other"],
            "ownerReferences": [{"kind": "Deployment", "name": "d", "controller": false}]},
            "spec": {"project": "old"}, "status": {"sync": {"status": "Synced"}}});
        let generated = json!({"metadata": {"name": "a", "labels": {"env": "dev"},
            "finalizers": [RESOURCES_FINALIZER]}, "spec": {"project": "default"}});
        let desired = updated(&set, &live, &generated);
        assert_eq!(
            desired["metadata"]["labels"],
            json!({"env": "dev", "team": "x"})
        );
        assert_eq!(
            desired["metadata"]["annotations"],
            json!({"argocd.argoproj.io/refresh": "hard"})
        );
        assert_eq!(
            desired["metadata"]["finalizers"],
            json!([
                RESOURCES_FINALIZER,
                "post-delete-finalizer.argocd.argoproj.io"
            ])
        );
        assert_eq!(
            desired["metadata"]["ownerReferences"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(desired["spec"]["project"], "default");
        assert_eq!(desired["status"]["sync"]["status"], "Synced");
    }

    #[test]
    fn ignored_fields_keep_the_live_value_and_nothing_around_them_changes() {
        let live = json!({"spec": {"syncPolicy": {"automated": {"prune": true}, "syncOptions": ["A"]},
                                   "sources": [{"path": "live"}, {"path": "b"}]}});
        let mut desired = json!({"spec": {"sources": [{"path": "template"}, {"path": "b"}]}});
        for pointer in [
            "/spec/syncPolicy/automated",
            "/spec/sources/0/path",
            "/spec/missing",
        ] {
            keep_live(&mut desired, &live, pointer);
        }
        assert_eq!(
            desired,
            json!({"spec": {"syncPolicy": {"automated": {"prune": true}},
                            "sources": [{"path": "live"}, {"path": "b"}]}})
        );
    }

    #[test]
    fn an_app_as_created_needs_no_update() {
        let set = set(json!({"metadata": {"name": "s", "uid": "u1"}}));
        let generated: Application = serde_json::from_value(json!({
            "metadata": {"name": "a", "namespace": "argocd", "labels": {"env": "dev"},
                         "finalizers": [RESOURCES_FINALIZER]},
            "spec": {"project": "default",
                     "source": {"repoURL": "https://git/x.git", "path": "p", "targetRevision": "HEAD",
                                "helm": {"valuesObject": {"a": 1}}},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"},
                     "syncPolicy": {"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}}}))
        .unwrap();
        let generated = serde_json::to_value(&generated).unwrap();
        let mut created = generated.clone();
        created["metadata"]["ownerReferences"] = json!([owner_reference(&set)]);
        created["metadata"]["resourceVersion"] = json!("7");
        created["status"] = json!({"sync": {"status": "Synced"}, "health": {"status": "Healthy"}});
        let live: Application = serde_json::from_value(created).unwrap();
        let live = serde_json::to_value(&live).unwrap();
        let desired = updated(&set, &live, &generated);
        assert!(
            json_patch::diff(&managed(&live), &managed(&desired))
                .0
                .is_empty()
        );
    }
}
