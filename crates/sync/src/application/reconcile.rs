//! One reconcile of one Application, as a fixed sequence of named steps: check the project
//! and destination → render → compare → sync (an `operation`, or automated sync) → write
//! status. A step's failure becomes the condition Argo CD would show
//! (`InvalidSpecError`, `ComparisonError`, `SyncError`); the status is written either way.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_api::argocd::{
    AppProject, Application, ApplicationCondition, ApplicationStatus, HealthStatus, Operation,
    OperationState, ResourceStatus, RevisionHistory, SyncOperationResult, SyncStatus,
};
use ferry_render::application::{Refresh, SourceRenderer};
use ferry_source::credentials::{ArgoCdRepoType, ArgoCdRequest, Credentials};
use ferry_source::secrets::ClusterSecrets;
use kube::api::{Api, Patch, PatchParams};
use serde_json::Value;

use super::auto_sync::{self, Decision};
use super::events::{self, AppEvent};
use super::finalize;
use super::project;
use super::resync::Resync;
use crate::clusters::{Clusters, DestinationError};
use crate::compare::{self, AppRef, Comparison};
use crate::health::Checks;
use crate::live::Cluster;
use crate::metrics::Metrics;
use crate::operation::settings::ResourcePolicy;
use crate::operation::{self, Phase, Settings, Start, retry};
use crate::queue::Outcome;
use crate::tracking::{self, Tracking};
use crate::windows;

/// Argo CD's default `revisionHistoryLimit`.
const HISTORY_LIMIT: usize = 10;

/// What every reconcile shares.
pub struct Context {
    /// The control plane's API.
    pub client: kube::Client,
    /// The control-plane namespace.
    pub namespace: String,
    /// The destination clusters: the in-cluster one and the cluster Secrets'.
    pub clusters: Clusters,
    /// The renderer, with its Git and render caches.
    pub renderer: SourceRenderer,
    /// Repository credentials from Argo CD's Secrets.
    pub secrets: ClusterSecrets,
    /// How objects are tracked.
    pub tracking: Tracking,
    /// Argo CD's metrics.
    pub metrics: Arc<Metrics>,
    /// How often apps are looked at with nothing having changed.
    pub resync: Resync,
    /// How resources' health is judged (Lua customizations, built-in checks).
    pub health: Checks,
}

/// A step that failed, and the condition it becomes.
enum StepError {
    /// The spec or the project refuses it: `InvalidSpecError`.
    InvalidSpec(String),
    /// Rendering or comparing failed: `ComparisonError`.
    Comparison(String),
}

/// Reconciles `app`; only a failed status write is an error.
pub async fn reconcile(ctx: &Context, app: &Application) -> Result<Outcome, kube::Error> {
    if app.metadata.deletion_timestamp.is_some() {
        return delete(ctx, app).await;
    }
    let mut status = app.status.clone();
    status
        .conditions
        .retain(|c| !RECOMPUTED_CONDITIONS.contains(&c.condition_type.as_str()));
    let mut effects = Effects::default();
    let result = steps(ctx, app, &mut status, &mut effects).await;
    let now = now();
    let mut again = None;
    match result {
        Ok(soon) => again = soon,
        Err(error) => {
            let (kind, message) = match error {
                StepError::InvalidSpec(m) => ("InvalidSpecError", m),
                StepError::Comparison(m) => ("ComparisonError", m),
            };
            status.sync.status = "Unknown".into();
            // A requested operation is not left for a whole resync interval.
            if app.operation.is_some() {
                again = Some(STEP_ERROR_REQUEUE);
            }
            status.conditions.push(condition(kind, message));
        }
    }
    keep_transition_times(&app.status.conditions, &mut status.conditions);
    status.controller_namespace = Some(ctx.namespace.clone());
    effects.events.extend(events::updated(&app.status, &status));
    let wrote = write_status(ctx, app, status, effects.operation, &now).await?;
    events::record(&ctx.client, app, &effects.events).await;
    Ok(Outcome {
        wrote,
        requeue_after: again.unwrap_or_else(|| ctx.resync.after(app.name())),
    })
}

/// An app being deleted: with the resources finalizer, its objects go first
/// ([`finalize`]); a failure becomes a `DeletionError` condition.
async fn delete(ctx: &Context, app: &Application) -> Result<Outcome, kube::Error> {
    let outcome = |requeue_after, wrote| Outcome {
        requeue_after,
        wrote,
    };
    let Some(propagation) = finalize::cascade(app) else {
        return Ok(outcome(ctx.resync.after(app.name()), false));
    };
    match finalize::finalize(ctx, app, propagation).await {
        Ok(Some(again)) => Ok(outcome(again, false)),
        Ok(None) => Ok(outcome(ctx.resync.after(app.name()), true)),
        Err(message) => {
            let mut status = app.status.clone();
            status
                .conditions
                .retain(|c| c.condition_type != "DeletionError");
            status.conditions.push(condition("DeletionError", message));
            keep_transition_times(&app.status.conditions, &mut status.conditions);
            let wrote = write_status(ctx, app, status, OperationField::Keep, &now()).await?;
            Ok(outcome(STEP_ERROR_REQUEUE, wrote))
        }
    }
}

/// The conditions each reconcile states afresh.
const RECOMPUTED_CONDITIONS: [&str; 4] = [
    "InvalidSpecError",
    "ComparisonError",
    "SyncError",
    "SharedResourceWarning",
];

fn condition(kind: &str, message: String) -> ApplicationCondition {
    ApplicationCondition {
        condition_type: kind.into(),
        message,
        last_transition_time: Some(now()),
    }
}

/// A condition that was already there (same type, same message) keeps the time it first
/// appeared, so an unchanged app writes no new status.
fn keep_transition_times(before: &[ApplicationCondition], after: &mut [ApplicationCondition]) {
    for condition in after {
        if let Some(old) = before.iter().find(|old| {
            old.condition_type == condition.condition_type && old.message == condition.message
        }) {
            condition.last_transition_time = old.last_transition_time.clone();
        }
    }
}

/// What a reconcile does besides the status: the app's `operation`, and events to record.
#[derive(Default)]
struct Effects {
    operation: OperationField,
    events: Vec<AppEvent>,
}

/// What the status write does to the app's `operation`.
#[derive(Default)]
enum OperationField {
    /// Leave it.
    #[default]
    Keep,
    /// Remove it: the operation is over.
    Clear,
    /// Write it: an automated sync started and runs on in later reconciles.
    Set(Box<Operation>),
}

/// How soon an app with an operation under way is looked at again.
const OPERATION_REQUEUE: Duration = Duration::from_secs(1);
/// How soon an app with an operation whose reconcile failed is looked at again.
const STEP_ERROR_REQUEUE: Duration = Duration::from_secs(5);
/// How soon an operation a sync window holds back is looked at again.
const WINDOW_REQUEUE: Duration = Duration::from_secs(10);
/// How soon an app whose rollout is in progress is looked at again.
const PROGRESSING_REQUEUE: Duration = Duration::from_secs(2);

/// The steps; `Some(d)` when something is still moving (an operation, a rollout in
/// progress) and the app should be looked at again after `d`.
async fn steps(
    ctx: &Context,
    app: &Application,
    status: &mut ApplicationStatus,
    effects: &mut Effects,
) -> Result<Option<Duration>, StepError> {
    let project = project_of(ctx, app).await?;
    project::check(&project, app).map_err(StepError::InvalidSpec)?;
    let cluster = destination_of(ctx, app).await?;
    let (targets, revisions) = render(ctx, app).await?;
    let names = AppNames::of(ctx, app);
    let compare_now = |targets: Vec<Value>, previous: Vec<ResourceStatus>| {
        let (names, cluster) = (&names, &cluster);
        async move {
            compare::compare(
                cluster,
                &names.as_ref(),
                targets,
                &previous,
                &app.spec.ignore_differences,
                &ctx.tracking,
                &ctx.health,
            )
            .await
            .map_err(StepError::Comparison)
        }
    };
    let mut comparison = compare_now(targets.clone(), status.resources.clone()).await?;

    let mut again = None;
    let mut requested = requested_operation(app, status, effects);
    if let Some(state) = status.operation_state.as_mut()
        && matches!(effects.operation, OperationField::Clear)
        && state.message.as_deref() == Some(TERMINATED)
        && let Some(result) = state.sync_result.as_mut()
    {
        operation::terminate(&cluster, &mut result.resources).await;
    }
    if requested.is_none() && app.operation.is_none() && app.metadata.deletion_timestamp.is_none() {
        match auto_sync::decide(app, status, &comparison, &revisions) {
            Decision::Start(operation) => {
                let state = new_state((*operation).clone());
                effects.events.push(events::started(&state));
                requested = Some(state);
                effects.operation = OperationField::Set(operation);
            }
            Decision::Later(wait) => again = Some(wait),
            Decision::Refused(message) => status.conditions.push(condition("SyncError", message)),
            Decision::Nothing => {}
        }
    }
    if let Some(state) = requested {
        again = Some(OPERATION_REQUEUE);
        let blocked = blocked_by_window(&project, app, &state);
        match retry_wait(&state) {
            Some(wait) => {
                again = Some(wait.max(OPERATION_REQUEUE));
                status.operation_state = Some(state);
            }
            None if blocked.is_some() => {
                let mut state = state;
                state.message = blocked;
                again = Some(WINDOW_REQUEUE);
                status.operation_state = Some(state);
            }
            None => {
                // A sync to another revision or source (`--revision`, a rollback) renders
                // and compares what it syncs; the status keeps comparing with the spec.
                // A resumed operation keeps the commits its first step resolved.
                let scope = Scope {
                    cluster: &cluster,
                    project: &project,
                    health: &ctx.health,
                };
                let state = match as_synced(app, &pinned(&state), &revisions) {
                    None => {
                        run_operation(&scope, app, status, state, &comparison, &revisions).await
                    }
                    Some(synced) => {
                        let (targets, revisions) = render(ctx, &synced).await?;
                        let compared = compare_now(targets, status.resources.clone()).await?;
                        run_operation(&scope, &synced, status, state, &compared, &revisions).await
                    }
                };
                if state.phase != Phase::Running.as_str() {
                    effects.operation = OperationField::Clear;
                    effects.events.push(events::completed(&state));
                    let dry_run = state.operation.sync.as_ref().is_some_and(|s| s.dry_run);
                    ctx.metrics.sync_completed(app, &state.phase, dry_run);
                    again = None;
                }
                status.operation_state = Some(state);
                let previous = comparison.resources.clone();
                comparison = compare_now(targets, previous).await?;
            }
        }
    }

    // A rollout in progress is looked at again soon; a Missing object (say, of a kind no CRD
    // serves) waits for the next resync or a change, not a 2 s loop.
    if comparison.health.status == "Progressing" {
        again = again.or(Some(PROGRESSING_REQUEUE));
    }
    for error in &comparison.errors {
        status
            .conditions
            .push(condition("ComparisonError", error.to_string()));
    }
    for shared in &comparison.shared {
        status
            .conditions
            .push(condition("SharedResourceWarning", shared.clone()));
    }
    status.sync = SyncStatus {
        status: comparison.sync_status.into(),
        compared_to: Some(ferry_api::argocd::ComparedTo {
            source: app.spec.source.clone(),
            sources: app.spec.sources.clone(),
            destination: app.spec.destination.clone(),
            ignore_differences: app.spec.ignore_differences.clone(),
        }),
        revision: (revisions.len() == 1).then(|| revisions[0].clone()),
        revisions: multi_source(&revisions),
    };
    status.health = HealthStatus {
        last_transition_time: if status.health.status == comparison.health.status {
            status.health.last_transition_time.clone()
        } else {
            Some(now())
        },
        ..comparison.health
    };
    status.resources = comparison.resources;
    Ok(again)
}

async fn project_of(ctx: &Context, app: &Application) -> Result<AppProject, StepError> {
    let name = if app.spec.project.is_empty() {
        "default"
    } else {
        app.spec.project.as_str()
    };
    let projects: Api<AppProject> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    match projects.get_opt(name).await {
        Ok(Some(project)) => Ok(project),
        Ok(None) => Err(StepError::InvalidSpec(format!(
            "Application referencing project {name} which does not exist"
        ))),
        Err(e) => Err(StepError::Comparison(format!(
            "reading project {name}: {e}"
        ))),
    }
}

/// The destination cluster: the in-cluster one or a cluster Secret's.
async fn destination_of(ctx: &Context, app: &Application) -> Result<Arc<Cluster>, StepError> {
    match ctx.clusters.resolve(&app.spec.destination).await {
        Ok(destination) => Ok(destination.cluster),
        Err(e @ DestinationError::Api(_)) => Err(StepError::Comparison(e.to_string())),
        Err(e) => Err(StepError::InvalidSpec(format!(
            "application destination spec for {} is invalid: {e}",
            app.name()
        ))),
    }
}

/// The rendered objects of every source, in order, and each source's revision.
async fn render(ctx: &Context, app: &Application) -> Result<(Vec<Value>, Vec<String>), StepError> {
    let sources = app
        .sources()
        .map_err(|e| StepError::InvalidSpec(e.to_string()))?;
    let mut credentials: HashMap<String, Credentials> = HashMap::new();
    for (_, source) in &sources {
        let request = ArgoCdRequest {
            url: &source.repo_url,
            repo_type: if source.is_chart() {
                ArgoCdRepoType::Helm
            } else {
                ArgoCdRepoType::Git
            },
            project: Some(app.spec.project.as_str()),
        };
        let lookup = ctx
            .secrets
            .argocd(&ctx.namespace, &request)
            .await
            .map_err(|e| StepError::Comparison(e.to_string()))?;
        if let Some(found) = lookup.found {
            credentials.insert(source.repo_url.clone(), found.credentials);
        }
    }
    let lookup = |url: &str| credentials.get(url).cloned();
    let rendered = ctx
        .renderer
        .render_application(app, refresh_of(app), &lookup)
        .await
        .map_err(|e| StepError::Comparison(e.to_string()))?;
    let revisions = rendered.iter().map(|(_, r)| r.revision.clone()).collect();
    let targets = rendered
        .into_iter()
        .flat_map(|(_, r)| r.manifests.as_ref().clone())
        .collect();
    Ok((targets, revisions))
}

/// `argocd.argoproj.io/refresh: hard` renders again even when the cache has the result;
/// `normal` (what the webhook sets) asks the repository for its refs now; otherwise refs
/// fetched within the revision cache are reused.
fn refresh_of(app: &Application) -> Refresh {
    let annotations = app.metadata.annotations.as_ref();
    match annotations.and_then(|a| a.get(super::REFRESH_ANNOTATION)) {
        Some(value) if value == "hard" => Refresh::Hard,
        Some(_) => Refresh::Normal,
        None => Refresh::Resync,
    }
}

/// The names a comparison needs, owned here and lent out.
struct AppNames {
    name: String,
    namespace: String,
    instance: String,
    destination_namespace: String,
}

impl AppNames {
    fn of(ctx: &Context, app: &Application) -> Self {
        let namespace = app.namespace().unwrap_or(&ctx.namespace).to_string();
        AppNames {
            instance: tracking::instance_name(&namespace, app.name(), &ctx.namespace),
            name: app.name().to_string(),
            namespace,
            destination_namespace: app.spec.destination.namespace.clone().unwrap_or_default(),
        }
    }

    fn as_ref(&self) -> AppRef<'_> {
        AppRef {
            name: &self.name,
            namespace: &self.namespace,
            instance: &self.instance,
            destination_namespace: &self.destination_namespace,
        }
    }
}

/// The message of an operation ended by hand.
const TERMINATED: &str = "Operation terminated";

/// The operation a person (or `argocd app sync`) asked for, in its state: the one under way
/// (`operation` set and the state Running) or a new one. An operation removed while it ran
/// (or marked Terminating) ends here as Failed; its running hooks are then stopped
/// ([`operation::terminate`]).
fn requested_operation(
    app: &Application,
    status: &mut ApplicationStatus,
    effects: &mut Effects,
) -> Option<OperationState> {
    let current = status.operation_state.as_ref();
    let phase = current.map(|s| s.phase.as_str());
    if phase == Some("Terminating") || (app.operation.is_none() && phase == Some("Running")) {
        if let Some(state) = status.operation_state.as_mut() {
            state.phase = Phase::Failed.as_str().into();
            state.message = Some(TERMINATED.into());
            state.finished_at = Some(now());
            effects.events.push(events::completed(state));
        }
        effects.operation = OperationField::Clear;
        return None;
    }
    match &app.operation {
        Some(_) if phase == Some("Running") => current.cloned(),
        Some(operation) => {
            let state = new_state(operation.clone());
            effects.events.push(events::started(&state));
            Some(state)
        }
        None => None,
    }
}

/// `state`'s operation with the revisions its first step resolved (`syncResult`), so a push
/// while it runs does not change what its later waves apply, as in Argo CD.
fn pinned(state: &OperationState) -> Operation {
    let mut operation = state.operation.clone();
    // A retry about to start (finishedAt set) resolves afresh.
    let resumed = state
        .sync_result
        .as_ref()
        .filter(|_| state.finished_at.is_none());
    if let (Some(sync), Some(result)) = (operation.sync.as_mut(), resumed) {
        if !result.revision.is_empty() {
            sync.revision = Some(result.revision.clone());
        }
        if !result.revisions.is_empty() {
            sync.revisions = result.revisions.clone();
        }
    }
    operation
}

/// The app as `operation` syncs it: the operation's sources (a rollback sets them), else the
/// spec's, at the operation's revisions; `None` when that is the spec at the revisions just
/// resolved.
fn as_synced(app: &Application, operation: &Operation, resolved: &[String]) -> Option<Application> {
    let sync = operation.sync.as_ref()?;
    let mut synced = app.clone();
    if !sync.sources.is_empty() {
        synced.spec.sources = sync.sources.clone();
        synced.spec.source = None;
    } else if let Some(source) = &sync.source {
        synced.spec.source = Some(source.clone());
        synced.spec.sources.clear();
    }
    let wanted: Vec<&str> = if synced.spec.sources.is_empty() {
        sync.revision.as_deref().into_iter().collect()
    } else {
        sync.revisions.iter().map(String::as_str).collect()
    };
    let sources: Vec<&mut ferry_api::argocd::ApplicationSource> = if synced.spec.sources.is_empty()
    {
        synced.spec.source.iter_mut().collect()
    } else {
        synced.spec.sources.iter_mut().collect()
    };
    for (i, (source, revision)) in sources.into_iter().zip(wanted).enumerate() {
        let already = resolved.get(i).is_some_and(|r| r == revision);
        if !revision.is_empty() && !already {
            source.target_revision = Some(revision.to_string());
        }
    }
    (synced.spec != app.spec).then_some(synced)
}

fn new_state(operation: Operation) -> OperationState {
    OperationState {
        operation,
        phase: Phase::Running.as_str().into(),
        started_at: now(),
        ..OperationState::default()
    }
}

/// Why the project's sync windows hold `state`'s operation back now, if they do (Argo CD's
/// words; a window that cannot be evaluated holds it back too, and says why).
fn blocked_by_window(
    project: &AppProject,
    app: &Application,
    state: &OperationState,
) -> Option<String> {
    let manual = !state.operation.initiated_by.automated;
    let now = jiff::Timestamp::now();
    match windows::can_sync(&project.spec.sync_windows, app, manual, now) {
        Ok(true) => None,
        Ok(false) => Some("Sync operation blocked by sync window".into()),
        Err(e) => Some(format!("Sync operation blocked by sync window: {e}")),
    }
}

/// How long a failed operation waits before its next attempt (Argo CD marks one waiting to
/// be retried as Running with `finishedAt` set); `None` when it runs now.
fn retry_wait(state: &OperationState) -> Option<Duration> {
    let finished = chrono::DateTime::parse_from_rfc3339(state.finished_at.as_deref()?).ok()?;
    let backoff = retry::backoff(&state.operation.retry, state.retry_count - 1).ok()?;
    let at = finished + chrono::Duration::from_std(backoff).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

/// Where an operation runs and by which rules.
struct Scope<'a> {
    /// The destination.
    cluster: &'a Cluster,
    /// The app's project (its resource lists).
    project: &'a AppProject,
    /// How health is judged.
    health: &'a Checks,
}

/// Steps the operation once and returns its new state: Running, Succeeded (history
/// recorded), Failed, or Running again with `finishedAt` set when `retry` allows another
/// attempt.
async fn run_operation(
    scope: &Scope<'_>,
    app: &Application,
    status: &mut ApplicationStatus,
    mut state: OperationState,
    comparison: &Comparison,
    revisions: &[String],
) -> OperationState {
    if state.finished_at.take().is_some() {
        state.sync_result = None;
        state.message = Some(format!(
            "Retrying operation. Attempt #{}",
            state.retry_count
        ));
    }
    let mut settings = Settings::new(app, &state.operation);
    settings.health = scope.health.clone();
    settings.policy = Some(ResourcePolicy::of(scope.project));
    let revision = revisions.first().cloned().unwrap_or_default();
    let started_at = chrono::DateTime::parse_from_rfc3339(&state.started_at)
        .map(|t| t.timestamp())
        .unwrap_or_default();
    let start = Start {
        revision: &revision,
        started_at,
    };
    let previous = state
        .sync_result
        .as_ref()
        .map(|r| r.resources.clone())
        .unwrap_or_default();
    let progress =
        operation::advance(scope.cluster, comparison, &settings, &start, &previous).await;
    state.sync_result = Some(SyncOperationResult {
        resources: progress.resources,
        revision: revision.clone(),
        revisions: multi_source(revisions),
        source: app.spec.source.clone(),
        sources: app.spec.sources.clone(),
        managed_namespace_metadata: settings.create_namespace.and_then(|(_, m)| m),
    });
    state.phase = progress.phase.as_str().into();
    state.message = Some(progress.message);
    match progress.phase {
        Phase::Running => {}
        Phase::Succeeded => {
            let finished = now();
            state.finished_at = Some(finished.clone());
            if !settings.dry_run && settings.resources.is_empty() {
                let started = state.started_at.clone();
                push_history(
                    app,
                    status,
                    revision,
                    revisions,
                    started,
                    finished,
                    &state.operation,
                );
            }
        }
        Phase::Failed if retry::allowed(&state.operation.retry, state.retry_count) => {
            match retry::backoff(&state.operation.retry, state.retry_count) {
                Ok(wait) => {
                    let at =
                        chrono::Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                    state.phase = Phase::Running.as_str().into();
                    state.finished_at = Some(now());
                    state.retry_count += 1;
                    state.message = Some(format!(
                        "{}. Retrying attempt #{} at {}.",
                        state.message.unwrap_or_default(),
                        state.retry_count,
                        at.format("%-I:%M%p"),
                    ));
                }
                Err(e) => {
                    state.finished_at = Some(now());
                    state.message = Some(format!(
                        "{} (failed to retry: {e})",
                        state.message.unwrap_or_default()
                    ));
                }
            }
        }
        Phase::Failed => {
            state.finished_at = Some(now());
            if state.retry_count > 0 {
                state.message = Some(format!(
                    "{} (retried {} times).",
                    state.message.unwrap_or_default(),
                    state.retry_count
                ));
            }
        }
    }
    state
}

/// The `revisions` field of a status: every source's revision for a multi-source app,
/// empty for a single source (which fills `revision` instead), as Argo CD writes them.
fn multi_source(revisions: &[String]) -> Vec<String> {
    if revisions.len() > 1 {
        revisions.to_vec()
    } else {
        Vec::new()
    }
}

fn push_history(
    app: &Application,
    status: &mut ApplicationStatus,
    revision: String,
    revisions: &[String],
    started: String,
    finished: String,
    operation: &Operation,
) {
    let id = status
        .history
        .iter()
        .map(|h| h.id)
        .max()
        .map_or(0, |id| id + 1);
    status.history.push(RevisionHistory {
        id,
        revision: (revisions.len() <= 1).then_some(revision),
        revisions: multi_source(revisions),
        source: app.spec.source.clone(),
        sources: app.spec.sources.clone(),
        deployed_at: finished,
        deploy_started_at: Some(started),
        initiated_by: operation.initiated_by.clone(),
    });
    let limit = app
        .spec
        .revision_history_limit
        .and_then(|l| usize::try_from(l).ok())
        .unwrap_or(HISTORY_LIMIT);
    let excess = status.history.len().saturating_sub(limit);
    status.history.drain(..excess);
}

/// Writes `status` (and clears `operation`, and the refresh annotation) with a JSON patch
/// from what was read, so nothing is written when nothing changed but the time; `true` when
/// it wrote. When the app changed since it was read (an annotation, a label), the patch is
/// made again on the app as it is now, so a step's record is not lost; not when its
/// operation state moved meanwhile.
async fn write_status(
    ctx: &Context,
    app: &Application,
    mut status: ApplicationStatus,
    operation: OperationField,
    now: &str,
) -> Result<bool, kube::Error> {
    let refresh_requested = has_refresh(app);
    status.reconciled_at = app.status.reconciled_at.clone();
    status.observed_at = app.status.observed_at.clone();
    let operation_changes = match &operation {
        OperationField::Keep => false,
        OperationField::Clear => app.operation.is_some(),
        OperationField::Set(_) => true,
    };
    if status == app.status && !operation_changes && !refresh_requested {
        return Ok(false);
    }
    status.reconciled_at = Some(now.to_string());
    let apps: Api<Application> = Api::namespaced(
        ctx.client.clone(),
        app.namespace().unwrap_or(&ctx.namespace),
    );
    let mut base = app.clone();
    for attempt in 0.. {
        let patch = status_patch(&base, &status, &operation, refresh_requested);
        match apps
            .patch(
                app.name(),
                &PatchParams::default(),
                &Patch::Json::<()>(patch),
            )
            .await
        {
            Ok(_) => return Ok(true),
            Err(kube::Error::Api(e)) if matches!(e.code, 409 | 422) && attempt < 3 => {
                let Some(fresh) = apps.get_opt(app.name()).await? else {
                    return Ok(false);
                };
                if fresh.status.operation_state != app.status.operation_state {
                    return Err(kube::Error::Api(e));
                }
                base = fresh;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

fn has_refresh(app: &Application) -> bool {
    app.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(super::REFRESH_ANNOTATION))
}

/// The JSON patch from `base` to `base` with `status`, `operation` as asked, and the refresh
/// annotation removed when it was served; guarded by `base`'s resourceVersion.
fn status_patch(
    base: &Application,
    status: &ApplicationStatus,
    operation: &OperationField,
    refresh_served: bool,
) -> json_patch::Patch {
    let before = serde_json::to_value(base).unwrap_or_default();
    let mut after = before.clone();
    after["status"] = serde_json::to_value(status).unwrap_or_default();
    if let Some(root) = after.as_object_mut() {
        match operation {
            OperationField::Keep => {}
            OperationField::Clear => {
                root.remove("operation");
            }
            OperationField::Set(operation) => {
                root.insert(
                    "operation".into(),
                    serde_json::to_value(operation).unwrap_or_default(),
                );
            }
        }
    }
    // A refresh asked for after the read stays, for the next reconcile.
    if refresh_served
        && let Some(annotations) = after
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
    {
        annotations.remove(super::REFRESH_ANNOTATION);
    }
    let mut patch = json_patch::diff(&before, &after);
    if let Some(version) = &base.metadata.resource_version {
        patch.0.insert(
            0,
            json_patch::PatchOperation::Test(json_patch::TestOperation {
                path: "/metadata/resourceVersion".parse().unwrap_or_default(),
                value: Value::String(version.clone()),
            }),
        );
    }
    patch
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
