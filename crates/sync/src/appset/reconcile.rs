//! One ApplicationSet reconcile, as Argo CD's: a fixed sequence of steps.
//!
//! | step | what | failure |
//! |---|---|---|
//! | generate | every generator's parameter sets ([`super::generators`]) | `ApplicationGenerationFromParamsError`; nothing written |
//! | render | each set through the template ([`super::template`]) | `RenderTemplateParamsError`; nothing written |
//! | validate | a name, no duplicates, the project exists, a destination `name` resolves | `ApplicationValidationError`; those apps skipped |
//! | write | create, update, delete as `syncPolicy.applicationsSync` allows | `CreateApplicationError`, `UpdateApplicationError`, `DeleteApplicationError` |
//! | status | conditions, `resources[]`, `resourcesCount`, `health`; the refresh annotation removed | retried |
//!
//! A generator error never deletes an Application: the write step only runs on a complete
//! render.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ferry_api::argocd::{
    AppProject, Application, ApplicationSet, ApplicationSetCondition, ApplicationSetStatus,
    HealthStatus, ResourceStatus,
};
use ferry_render::application::Refresh;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::generators::{self, Sources};
use super::template::{self, Engine, RESOURCES_FINALIZER};
use crate::application::Context;
use crate::clusters::DestinationError;
use crate::diff::remove_pointer;
use crate::queue::Outcome;

/// Argo CD's refresh annotation of ApplicationSets: generate now, reading repositories
/// afresh; removed once served.
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/application-set-refresh";

/// How long an ApplicationSet waits after an error, and at most between two looks.
pub const REQUEUE_ON_ERROR: Duration = Duration::from_secs(180);

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

/// A step that failed: the condition reason and message.
struct Failure {
    reason: &'static str,
    message: String,
}

impl Failure {
    fn new(reason: &'static str, message: impl ToString) -> Self {
        Failure {
            reason,
            message: message.to_string(),
        }
    }

    /// Whether the parameters (or the Applications from them) could not be made at all, as
    /// opposed to a validation or write failure after them.
    fn before_generation(&self) -> bool {
        matches!(
            self.reason,
            "ApplicationGenerationFromParamsError" | "RenderTemplateParamsError"
        )
    }
}

/// What `applicationsSync` lets the controller do.
#[derive(Clone, Copy)]
struct Policy {
    update: bool,
    delete: bool,
}

impl Policy {
    fn of(set: &ApplicationSet) -> Result<Self, Failure> {
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

/// Reconciles `set`; only a failed status write is an error.
pub async fn reconcile(ctx: &Context, set: &ApplicationSet) -> Result<Outcome, kube::Error> {
    let apps: Api<Application> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    if set.metadata.deletion_timestamp.is_some() {
        release_if_kept(set, &apps).await?;
        return Ok(Outcome {
            requeue_after: REQUEUE_ON_ERROR,
            wrote: false,
        });
    }
    let mut failure = None;
    let mut requeue_after = generators::requeue_after(set).unwrap_or(REQUEUE_ON_ERROR);
    match generate_and_render(ctx, set).await {
        Err(f) => failure = Some(f),
        Ok(desired) => {
            if let Err(f) = write(ctx, set, &apps, desired).await {
                failure = Some(f);
            }
        }
    }
    if failure.is_some() {
        requeue_after = requeue_after.min(REQUEUE_ON_ERROR);
    }
    let owned = owned_apps(set, &apps).await?;
    let wrote = write_status(ctx, set, failure.as_ref(), &owned).await?;
    Ok(Outcome {
        requeue_after,
        wrote,
    })
}

/// The generate, render and validate steps: the Applications to write, and the names of
/// every generated one (invalid ones too: they are not deleted).
struct Desired {
    valid: Vec<Value>,
    generated: BTreeSet<String>,
    invalid: Option<Failure>,
}

async fn generate_and_render(ctx: &Context, set: &ApplicationSet) -> Result<Desired, Failure> {
    let engine = Engine::of(set).map_err(|e| Failure::new("RenderTemplateParamsError", e))?;
    let refresh = if annotation(set, REFRESH_ANNOTATION).is_some() {
        Refresh::Normal
    } else {
        Refresh::Resync
    };
    let sources = Sources {
        namespace: &ctx.namespace,
        clusters: &ctx.clusters,
        renderer: &ctx.renderer,
        secrets: &ctx.secrets,
        refresh,
    };
    let generated = generators::generate(set, engine, &sources)
        .await
        .map_err(|e| Failure::new("ApplicationGenerationFromParamsError", e))?;
    let mut rendered = Vec::new();
    for output in generated {
        let template = template::merge_templates(&output.template, &set.spec.template);
        for params in &output.params {
            let mut app = template::render_application(engine, &template, params, set)
                .map_err(|e| Failure::new("RenderTemplateParamsError", e))?;
            app["apiVersion"] = json!(ferry_api::argocd::API_VERSION);
            app["kind"] = json!("Application");
            app["metadata"]["namespace"] = json!(set_namespace(set));
            let mut typed: Application = serde_json::from_value(app).map_err(|e| {
                Failure::new(
                    "RenderTemplateParamsError",
                    template::TemplateError::NotAnApplication(e.to_string()),
                )
            })?;
            if typed.spec.project.is_empty() {
                typed.spec.project = "default".to_string();
            }
            // Both sides of the update's comparison are written by the same types.
            rendered.push(serde_json::to_value(&typed).unwrap_or_default());
        }
    }
    validate(ctx, set, rendered).await
}

fn set_namespace(set: &ApplicationSet) -> String {
    set.metadata.namespace.clone().unwrap_or_default()
}

fn set_name(set: &ApplicationSet) -> &str {
    set.metadata.name.as_deref().unwrap_or_default()
}

fn annotation<'a>(set: &'a ApplicationSet, key: &str) -> Option<&'a String> {
    set.metadata.annotations.as_ref()?.get(key)
}

fn app_name(app: &Value) -> &str {
    app["metadata"]["name"].as_str().unwrap_or_default()
}

/// Argo CD's `validateGeneratedApplications`: invalid apps are left out, the last one's
/// reason (by name) reported.
async fn validate(
    ctx: &Context,
    set: &ApplicationSet,
    apps: Vec<Value>,
) -> Result<Desired, Failure> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for app in &apps {
        *counts.entry(app_name(app).to_string()).or_default() += 1;
    }
    let projects: Api<AppProject> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let mut known_projects: BTreeMap<String, bool> = BTreeMap::new();
    let mut errors: BTreeMap<String, String> = BTreeMap::new();
    let mut valid = Vec::new();
    for app in apps {
        let name = app_name(&app).to_string();
        let error = if name.is_empty() {
            Some(format!(
                "ApplicationSet {} contains an application with no name; a name must be set in \
                 the template's metadata.name or via a templatePatch (generateName is not supported)",
                set_name(set)
            ))
        } else if counts[&name] > 1 {
            Some(format!(
                "ApplicationSet {} contains applications with duplicate name: {name}",
                set_name(set)
            ))
        } else {
            let project = match app["spec"]["project"].as_str() {
                None | Some("") => "default",
                Some(project) => project,
            };
            let exists = match known_projects.get(project) {
                Some(exists) => *exists,
                None => {
                    let found = projects
                        .get_opt(project)
                        .await
                        .map_err(|e| Failure::new("ApplicationValidationError", e))?
                        .is_some();
                    known_projects.insert(project.to_string(), found);
                    found
                }
            };
            if exists {
                destination_error(ctx, &app).await
            } else {
                Some(format!(
                    "application references project {project} which does not exist"
                ))
            }
        };
        match error {
            Some(error) => {
                errors.insert(name, error);
            }
            None => valid.push(app),
        }
    }
    let generated = counts.into_keys().filter(|n| !n.is_empty()).collect();
    let invalid = errors.iter().next_back().map(|(_, last)| {
        let more = errors.len() - 1;
        let message = if more > 0 {
            format!("{last} (and {more} more)")
        } else {
            last.clone()
        };
        Failure::new("ApplicationValidationError", message)
    });
    valid.sort_by(|a, b| app_name(a).cmp(app_name(b)));
    Ok(Desired {
        valid,
        generated,
        invalid,
    })
}

/// Argo CD's `ValidateDestination`: a `name` must name a cluster, not with a `server`.
async fn destination_error(ctx: &Context, app: &Value) -> Option<String> {
    let destination: ferry_api::argocd::ApplicationDestination =
        serde_json::from_value(app["spec"]["destination"].clone()).unwrap_or_default();
    let named = destination.name.as_deref().is_some_and(|n| !n.is_empty());
    if !named {
        return None;
    }
    match ctx.clusters.resolve(&destination).await {
        Ok(_) | Err(DestinationError::Api(_)) => None,
        Err(e) => Some(format!("application destination spec is invalid: {e}")),
    }
}

/// The write step: creates, updates and deletes as the policy allows; the first failure
/// (by name) is reported, the other apps still written.
async fn write(
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
async fn owned_apps(
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
async fn release_if_kept(set: &ApplicationSet, apps: &Api<Application>) -> Result<(), kube::Error> {
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

/// The status step: conditions, the generated apps and health, written when changed.
async fn write_status(
    ctx: &Context,
    set: &ApplicationSet,
    failure: Option<&Failure>,
    owned: &[Application],
) -> Result<bool, kube::Error> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let conditions = conditions(failure, &set.status.conditions, &now);
    let resources: Vec<ResourceStatus> = owned
        .iter()
        .map(|app| ResourceStatus {
            group: "argoproj.io".to_string(),
            version: "v1alpha1".to_string(),
            kind: "Application".to_string(),
            namespace: app.namespace().unwrap_or_default().to_string(),
            name: app.name().to_string(),
            status: app.status.sync.status.clone(),
            health: Some(HealthStatus {
                status: app.status.health.status.clone(),
                ..HealthStatus::default()
            }),
            ..ResourceStatus::default()
        })
        .collect();
    let health = match failure {
        Some(failure) => HealthStatus {
            status: "Degraded".to_string(),
            message: Some(failure.message.clone()),
            ..HealthStatus::default()
        },
        None => HealthStatus {
            status: "Healthy".to_string(),
            ..HealthStatus::default()
        },
    };
    let status = ApplicationSetStatus {
        conditions,
        application_status: set.status.application_status.clone(),
        resources_count: Some(resources.len() as i64),
        resources,
        health,
    };
    let sets: Api<ApplicationSet> = Api::namespaced(ctx.client.clone(), &set_namespace(set));
    let mut wrote = false;
    if status != set.status {
        let patch = json!([{"op": "add", "path": "/status", "value": status}]);
        let patch: json_patch::Patch =
            serde_json::from_value(patch).map_err(kube::Error::SerdeError)?;
        sets.patch_status(
            set_name(set),
            &PatchParams::default(),
            &Patch::Json::<()>(patch),
        )
        .await?;
        wrote = true;
    }
    if annotation(set, REFRESH_ANNOTATION).is_some() {
        let patch = json!({"metadata": {"annotations": {REFRESH_ANNOTATION: null}}});
        sets.patch(set_name(set), &PatchParams::default(), &Patch::Merge(patch))
            .await?;
        wrote = true;
    }
    Ok(wrote)
}

/// Argo CD's three conditions, each keeping its `lastTransitionTime` while it is unchanged.
fn conditions(
    failure: Option<&Failure>,
    before: &[ApplicationSetCondition],
    now: &str,
) -> Vec<ApplicationSetCondition> {
    const UP_TO_DATE: &str = "All applications have been generated successfully";
    const GENERATED: &str = "Successfully generated parameters for all Applications";
    let stated: [(&str, &str, &str, &str); 3] = match failure {
        Some(failure) => [
            ("ErrorOccurred", "True", failure.reason, &failure.message),
            if failure.before_generation() {
                (
                    "ParametersGenerated",
                    "False",
                    "ErrorOccurred",
                    &failure.message,
                )
            } else {
                (
                    "ParametersGenerated",
                    "True",
                    "ParametersGenerated",
                    GENERATED,
                )
            },
            (
                "ResourcesUpToDate",
                "False",
                "ErrorOccurred",
                &failure.message,
            ),
        ],
        None => [
            (
                "ErrorOccurred",
                "False",
                "ApplicationSetUpToDate",
                UP_TO_DATE,
            ),
            (
                "ParametersGenerated",
                "True",
                "ParametersGenerated",
                GENERATED,
            ),
            (
                "ResourcesUpToDate",
                "True",
                "ApplicationSetUpToDate",
                UP_TO_DATE,
            ),
        ],
    };
    stated
        .into_iter()
        .map(|(kind, status, reason, message)| {
            let kept = before
                .iter()
                .find(|c| {
                    c.condition_type == kind
                        && c.status == status
                        && c.reason == reason
                        && c.message == message
                })
                .and_then(|c| c.last_transition_time.clone());
            ApplicationSetCondition {
                condition_type: kind.to_string(),
                message: message.to_string(),
                status: status.to_string(),
                reason: reason.to_string(),
                last_transition_time: Some(kept.unwrap_or_else(|| now.to_string())),
            }
        })
        .collect()
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
    fn conditions_keep_their_transition_time_while_unchanged() {
        let first = conditions(None, &[], "t1");
        assert_eq!(first.len(), 3);
        let again = conditions(None, &first, "t2");
        assert!(
            again
                .iter()
                .all(|c| c.last_transition_time.as_deref() == Some("t1"))
        );
        let failed = conditions(
            Some(&Failure::new("RenderTemplateParamsError", "bad")),
            &again,
            "t3",
        );
        assert!(
            failed
                .iter()
                .all(|c| c.last_transition_time.as_deref() == Some("t3"))
        );
        assert_eq!(failed[0].condition_type, "ErrorOccurred");
        assert_eq!(failed[0].status, "True");
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
