//! One ApplicationSet reconcile, as Argo CD's: a fixed sequence of steps.
//!
//! | step | what | failure |
//! |---|---|---|
//! | generate | every generator's parameter sets ([`super::generators`]) | `ApplicationGenerationFromParamsError`; nothing written |
//! | render | each set through the template ([`super::template`]) | `RenderTemplateParamsError`; nothing written |
//! | validate | a name, no duplicates, the project exists, a destination `name` resolves | `ApplicationValidationError`; those apps skipped |
//! | write | create, update, delete as `syncPolicy.applicationsSync` allows ([`super::write`]) | `CreateApplicationError`, `UpdateApplicationError`, `DeleteApplicationError` |
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
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use super::generators::{self, Sources};
use super::template::{self, Engine};
use super::write::{owned_apps, release_if_kept, write};
use crate::application::Context;
use crate::clusters::DestinationError;
use crate::queue::Outcome;

/// Argo CD's refresh annotation of ApplicationSets: generate now, reading repositories
/// afresh; removed once served.
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/application-set-refresh";

/// How long an ApplicationSet waits after an error, and at most between two looks.
pub const REQUEUE_ON_ERROR: Duration = Duration::from_secs(180);

/// A step that failed: the condition reason and message.
pub(super) struct Failure {
    pub(super) reason: &'static str,
    pub(super) message: String,
}

impl Failure {
    pub(super) fn new(reason: &'static str, message: impl ToString) -> Self {
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
pub(super) struct Desired {
    pub(super) valid: Vec<Value>,
    pub(super) generated: BTreeSet<String>,
    pub(super) invalid: Option<Failure>,
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

pub(super) fn set_namespace(set: &ApplicationSet) -> String {
    set.metadata.namespace.clone().unwrap_or_default()
}

pub(super) fn set_name(set: &ApplicationSet) -> &str {
    set.metadata.name.as_deref().unwrap_or_default()
}

fn annotation<'a>(set: &'a ApplicationSet, key: &str) -> Option<&'a String> {
    set.metadata.annotations.as_ref()?.get(key)
}

pub(super) fn app_name(app: &Value) -> &str {
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
}
