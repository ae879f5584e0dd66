//! A sync operation, advanced one step per reconcile as gitops-engine's sync context does.
//! Each step plans the tasks again ([`plan`]) and resumes them from the results so far (kept
//! in `operationState.syncResult.resources`, so a restarted controller carries on), then:
//!
//! 1. **start** (first step only): create the namespace (`CreateNamespace=true`), dry-run
//!    every write; a refused dry run fails the operation before anything is written.
//! 2. **observe**: a running hook completes when its health says so (Healthy or no check:
//!    Succeeded; Degraded: Failed; its object gone: Failed); a running resource succeeds
//!    once Healthy.
//! 3. **wait**: for running hooks, and, when the sync has more than one phase or wave, for
//!    the resources of the wave before to be healthy; for pruned objects still being deleted.
//! 4. **release**: completed hooks lose the hook finalizer.
//! 5. **judge**: a completed task that did not succeed fails the operation; SyncFail hooks
//!    run then, and `HookFailed` hooks are deleted.
//! 6. **run the next wave**: the first pending phase and wave, prunes first, hooks from an
//!    earlier sync deleted before they are created again (`BeforeHookCreation`), then the
//!    writes; when nothing is left, `HookSucceeded` hooks are deleted and the operation
//!    succeeded.

mod plan;
pub mod retry;
pub mod settings;
pub mod task;

use ferry_api::argocd::ResourceResult;

pub use plan::Start;
pub use settings::Settings;
use task::{ResultCode, SyncTask, TaskPhase};

use crate::apply::{self, ApplyOptions};
use crate::compare::Comparison;
use crate::health::HealthCode;
use crate::hook::{HOOK_FINALIZER, SyncPhase};
use crate::live::{self, Cluster};

/// Where an operation stands: `operationState.phase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// More steps to come.
    Running,
    /// Done, every task succeeded.
    Succeeded,
    /// Done, something failed.
    Failed,
}

impl Phase {
    /// As Argo CD spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
        }
    }
}

/// The outcome of one step.
#[derive(Debug)]
pub struct Progress {
    /// The operation's phase.
    pub phase: Phase,
    /// `operationState.message`.
    pub message: String,
    /// `syncResult.resources`, in the order first done.
    pub resources: Vec<ResourceResult>,
}

/// Advances the operation one step: `previous` is its `syncResult.resources` so far (empty
/// for a new one).
pub async fn advance(
    cluster: &Cluster,
    comparison: &Comparison,
    settings: &Settings,
    start: &Start<'_>,
    previous: &[ResourceResult],
) -> Progress {
    if settings.fail_on_shared_resource
        && let Some(shared) = comparison.shared.first()
    {
        return Progress {
            phase: Phase::Failed,
            message: format!("Shared resource found: {shared}"),
            resources: previous.to_vec(),
        };
    }
    let mut run = Run {
        cluster,
        settings,
        results: previous.to_vec(),
    };
    let (phase, message) = run.step(comparison, start).await;
    Progress {
        phase,
        message,
        resources: run.results,
    }
}

/// Stops what a terminated operation left running, as gitops-engine's `Terminate`: each
/// running hook loses the hook finalizer and is deleted, and its result says so. Failures
/// are logged; the operation is over either way.
pub async fn terminate(cluster: &Cluster, results: &mut [ResourceResult]) {
    for result in results
        .iter_mut()
        .filter(|r| r.hook_type.is_some() && r.hook_phase.as_deref() == Some("Running"))
    {
        let probe = live::probe(
            &result.group,
            &result.version,
            &result.kind,
            &result.namespace,
            &result.name,
        );
        if let Ok(Some(live)) = cluster.get(&probe).await {
            let stopped = match apply::remove_finalizer(cluster, &live, HOOK_FINALIZER).await {
                Ok(()) => {
                    apply::delete_object(
                        cluster,
                        &live,
                        &kube::api::PropagationPolicy::Background,
                        false,
                    )
                    .await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = stopped {
                tracing::warn!(hook = %result.name, error = %e, "stopping a hook");
            }
        }
        result.hook_phase = Some(TaskPhase::Failed.as_str().into());
        result.message = Some("Terminated".into());
    }
}

/// How a batch of writes went.
#[derive(PartialEq, Eq)]
enum RunState {
    Successful,
    Failed,
    /// Something was deleted first; the writes wait for the next step.
    Pending,
}

struct Run<'a> {
    cluster: &'a Cluster,
    settings: &'a Settings,
    results: Vec<ResourceResult>,
}

impl Run<'_> {
    async fn step(&mut self, comparison: &Comparison, start: &Start<'_>) -> (Phase, String) {
        let started = !self.results.is_empty();
        let plan = plan::plan(
            self.cluster,
            comparison,
            self.settings,
            start,
            &self.results,
        )
        .await;
        let mut tasks = plan.tasks;
        for task in plan.invalid.iter().chain(&plan.refused) {
            self.record(task);
        }
        if !plan.refused.is_empty() {
            return (
                Phase::Failed,
                with_reasons(
                    "one or more synchronization tasks are not valid",
                    &plan.refused,
                ),
            );
        }

        if !started {
            if let Some((namespace, managed)) = &self.settings.create_namespace {
                let created =
                    apply::ensure_namespace(self.cluster, namespace, managed.as_ref()).await;
                if let Some(result) = created {
                    let failed = result.status.as_deref() == Some("SyncFailed");
                    self.results.push(result);
                    if failed {
                        return (Phase::Failed, "the namespace failed to apply".into());
                    }
                }
            }
            let mut checked: Vec<SyncTask> = tasks
                .iter()
                .filter(|t| !(t.hook && t.live.is_some()))
                .cloned()
                .collect();
            if self.run_tasks(&mut checked, true).await == RunState::Failed {
                return (
                    Phase::Failed,
                    "one or more objects failed to apply (dry run)".into(),
                );
            }
        }

        self.observe(&mut tasks).await;
        let multi_step = tasks
            .first()
            .zip(tasks.last())
            .is_some_and(|(a, b)| (a.phase, a.wave) != (b.phase, b.wave));
        let running: Vec<&SyncTask> = tasks
            .iter()
            .filter(|t| (multi_step || t.hook) && t.running())
            .collect();
        if !running.is_empty() {
            return (Phase::Running, waiting_for(&running, false));
        }
        if let Some(message) = self.pruned_pending_deletion().await {
            return (Phase::Running, message);
        }

        for task in tasks.iter_mut().filter(|t| t.hook && t.completed()) {
            if let Some(live) = &task.live
                && let Err(e) = apply::remove_finalizer(self.cluster, live, HOOK_FINALIZER).await
            {
                self.set(
                    task,
                    TaskPhase::Error,
                    format!("failed to remove hook finalizer: {e}"),
                );
            }
        }
        let delete_on_success: Vec<SyncTask> = tasks
            .iter()
            .filter(|t| !t.running() && t.delete_on_success())
            .cloned()
            .collect();
        let delete_on_failure: Vec<SyncTask> = tasks
            .iter()
            .filter(|t| !t.running() && t.delete_on_failure())
            .cloned()
            .collect();
        let (fail_hooks, mut tasks): (Vec<SyncTask>, Vec<SyncTask>) = tasks
            .into_iter()
            .partition(|t| t.phase == SyncPhase::SyncFail);

        if tasks.iter().any(|t| t.completed() && !t.successful()) {
            self.delete_hooks(&delete_on_failure).await;
            let failed: Vec<SyncTask> = tasks
                .iter()
                .filter(|t| t.code == Some(ResultCode::SyncFailed))
                .cloned()
                .collect();
            let message = "one or more synchronization tasks completed unsuccessfully";
            return self.fail(fail_hooks, &failed, message).await;
        }

        tasks.retain(SyncTask::pending);
        if self.settings.apply_out_of_sync_only {
            tasks.retain(|t| t.hook || t.modified);
        }
        let Some(first) = tasks.first() else {
            self.delete_hooks(&delete_on_success).await;
            return self
                .succeed(
                    fail_hooks,
                    &plan.invalid,
                    "successfully synced (no more tasks)",
                )
                .await;
        };
        let (phase, wave) = (first.phase, first.wave);
        // What is left after this wave: later waves, and this wave's hooks until they complete.
        let remaining: Vec<&SyncTask> = tasks
            .iter()
            .filter(|t| (t.phase, t.wave) != (phase, wave) || t.hook)
            .collect();
        let (remaining_count, waiting) = (remaining.len(), waiting_for(&remaining, false));
        let mut now: Vec<SyncTask> = tasks
            .into_iter()
            .filter(|t| (t.phase, t.wave) == (phase, wave))
            .collect();

        match self.run_tasks(&mut now, false).await {
            RunState::Failed => {
                self.delete_hooks(&delete_on_failure).await;
                let failed: Vec<SyncTask> = now
                    .into_iter()
                    .filter(|t| t.code == Some(ResultCode::SyncFailed))
                    .collect();
                self.fail(fail_hooks, &failed, "one or more objects failed to apply")
                    .await
            }
            RunState::Successful if remaining_count == 0 => {
                self.delete_hooks(&delete_on_success).await;
                self.succeed(
                    fail_hooks,
                    &plan.invalid,
                    "successfully synced (all tasks run)",
                )
                .await
            }
            RunState::Successful => (Phase::Running, waiting),
            RunState::Pending => {
                let deleting: Vec<&SyncTask> =
                    now.iter().filter(|t| t.delete_before_creation()).collect();
                (Phase::Running, waiting_for(&deleting, true))
            }
        }
    }

    /// Observes running tasks on their live objects. A running hook whose object the API
    /// server no longer has (deleted by hand, or by someone else's policy) failed: it cannot
    /// complete any more.
    async fn observe(&mut self, tasks: &mut [SyncTask]) {
        for task in tasks.iter_mut().filter(|t| t.running()) {
            let Some(live) = &task.live else {
                let target = task.target.as_ref();
                let gone = match target {
                    Some(target) if task.hook => {
                        matches!(self.cluster.exists(target).await, Ok(false))
                    }
                    _ => false,
                };
                if gone {
                    let message = "the hook was deleted before it completed".to_string();
                    self.set(task, TaskPhase::Failed, message);
                }
                continue;
            };
            let checks = &self.settings.health;
            let health = checks.in_place(|| checks.assess(live));
            if task.hook {
                let (state, message) = match health {
                    None => (
                        TaskPhase::Succeeded,
                        format!(
                            "{} created",
                            ferry_api::meta::name(live).unwrap_or_default()
                        ),
                    ),
                    Some(h) => match h.status {
                        HealthCode::Unknown | HealthCode::Degraded => {
                            (TaskPhase::Failed, h.message)
                        }
                        HealthCode::Progressing | HealthCode::Suspended => {
                            (TaskPhase::Running, h.message)
                        }
                        HealthCode::Healthy | HealthCode::Missing => {
                            (TaskPhase::Succeeded, h.message)
                        }
                    },
                };
                self.set(task, state, message);
            } else {
                match health.map(|h| (h.status, h.message)) {
                    None => self.set(task, TaskPhase::Succeeded, String::new()),
                    Some((HealthCode::Healthy, message)) => {
                        self.set(task, TaskPhase::Succeeded, message);
                    }
                    Some((HealthCode::Degraded, message)) => {
                        self.set(task, TaskPhase::Failed, message);
                    }
                    Some(_) => {}
                }
            }
        }
    }

    /// A message while an object this operation pruned is still being deleted.
    async fn pruned_pending_deletion(&self) -> Option<String> {
        let mut deleting = Vec::new();
        for result in &self.results {
            if result.status.as_deref() != Some(ResultCode::Pruned.as_str()) {
                continue;
            }
            if let Ok(Some(live)) = self
                .cluster
                .get(&live::probe(
                    &result.group,
                    &result.version,
                    &result.kind,
                    &result.namespace,
                    &result.name,
                ))
                .await
                && ferry_api::meta::is_being_deleted(&live)
            {
                deleting.push(format!("{}/{}/{}", result.group, result.kind, result.name));
            }
        }
        let first = deleting.first()?;
        Some(with_more(
            format!("waiting for deletion of {first}"),
            deleting.len() - 1,
            "resources",
        ))
    }

    /// Runs `tasks`: prunes, then deletions of hooks to be created again, then writes; a
    /// `dry_run` checks them with the API server and records only failures.
    async fn run_tasks(&mut self, tasks: &mut [SyncTask], dry_run: bool) -> RunState {
        let dry_run = dry_run || self.settings.dry_run;
        let record = |this: &Self, failed: bool| !dry_run || this.settings.dry_run || failed;

        if !dry_run {
            for task in tasks.iter_mut().filter(|t| t.hook && t.pending()) {
                if let Some(live) = &task.live
                    && let Err(e) =
                        apply::remove_finalizer(self.cluster, live, HOOK_FINALIZER).await
                {
                    self.set(
                        task,
                        TaskPhase::Error,
                        format!("failed to remove hook finalizer: {e}"),
                    );
                    return RunState::Failed;
                }
            }
        }

        let mut state = RunState::Successful;
        for task in tasks.iter_mut().filter(|t| t.is_prune()) {
            let Some(live) = task.live.clone() else {
                continue;
            };
            let (code, message) = if !self.settings.prune {
                (
                    ResultCode::PruneSkipped,
                    "ignored (requires pruning)".to_string(),
                )
            } else if settings::object_has(&live, "Prune=false") {
                (ResultCode::PruneSkipped, "ignored (no prune)".to_string())
            } else {
                match apply::delete_object(self.cluster, &live, &self.settings.propagation, dry_run)
                    .await
                {
                    Ok(()) if dry_run => (ResultCode::Pruned, "pruned (dry run)".to_string()),
                    Ok(()) => (ResultCode::Pruned, "pruned".to_string()),
                    Err(message) => (ResultCode::SyncFailed, message),
                }
            };
            let failed = code == ResultCode::SyncFailed;
            if failed {
                state = RunState::Failed;
            }
            if record(self, failed) {
                task.code = Some(code);
                self.set(task, code.phase(), message);
            }
        }
        if state != RunState::Successful {
            return state;
        }

        if !dry_run {
            for task in tasks.iter_mut().filter(|t| t.delete_before_creation()) {
                let Some(live) = &task.live else {
                    continue;
                };
                if let Err(e) =
                    apply::delete_object(self.cluster, live, &self.settings.propagation, false)
                        .await
                {
                    self.set(
                        task,
                        TaskPhase::Error,
                        format!("failed to delete resource: {e}"),
                    );
                    return RunState::Failed;
                }
                state = RunState::Pending;
            }
            if state != RunState::Successful {
                return state;
            }
        }

        for task in tasks.iter_mut().filter(|t| !t.is_prune()) {
            if dry_run && task.skip_dry_run {
                continue;
            }
            let Some(target) = &task.target else {
                continue;
            };
            let options = ApplyOptions {
                dry_run,
                validate: self.settings.validate && !settings::object_has(target, "Validate=false"),
            };
            let (code, message) = match apply::apply_object(self.cluster, target, options).await {
                Ok(()) if dry_run => (
                    ResultCode::Synced,
                    format!("{} serverside-applied (dry run)", apply::short_name(target)),
                ),
                Ok(()) => (
                    ResultCode::Synced,
                    format!("{} serverside-applied", apply::short_name(target)),
                ),
                Err(message) => (ResultCode::SyncFailed, message),
            };
            let failed = code == ResultCode::SyncFailed;
            if failed {
                state = RunState::Failed;
            }
            if record(self, failed) {
                let phase = match code.phase() {
                    // Nothing was created by a dry-run operation: it is done.
                    TaskPhase::Running if self.settings.dry_run => TaskPhase::Succeeded,
                    phase => phase,
                };
                task.code = Some(code);
                self.set(task, phase, message);
            }
        }
        state
    }

    /// Fails the operation with `message` (and the failed tasks' messages), after running
    /// the SyncFail hooks once.
    async fn fail(
        &mut self,
        mut fail_hooks: Vec<SyncTask>,
        failed: &[SyncTask],
        message: &str,
    ) -> (Phase, String) {
        let message = with_reasons(message, failed);
        if fail_hooks.is_empty() || fail_hooks.iter().all(SyncTask::completed) {
            return (Phase::Failed, message);
        }
        fail_hooks.retain(SyncTask::pending);
        if self.run_tasks(&mut fail_hooks, false).await == RunState::Failed {
            let failed: Vec<SyncTask> = fail_hooks
                .into_iter()
                .filter(|t| t.code == Some(ResultCode::SyncFailed))
                .collect();
            let hooks = with_reasons("one or more SyncFail hooks failed", &failed);
            return (Phase::Failed, format!("{message}\n{hooks}"));
        }
        // The SyncFail hooks run; the next steps wait for them, then fail.
        (Phase::Running, message)
    }

    /// The end of a sync with nothing left to do: it succeeded, unless a task was invalid.
    async fn succeed(
        &mut self,
        fail_hooks: Vec<SyncTask>,
        invalid: &[SyncTask],
        message: &str,
    ) -> (Phase, String) {
        if invalid.is_empty() {
            (Phase::Succeeded, message.to_string())
        } else {
            self.fail(fail_hooks, invalid, "one or more objects failed to apply")
                .await
        }
    }

    /// Deletes hooks whose delete policy asks for it now; failures are logged, as Argo CD
    /// does.
    async fn delete_hooks(&self, hooks: &[SyncTask]) {
        for task in hooks {
            let Some(live) = &task.live else {
                continue;
            };
            if let Err(e) =
                apply::delete_object(self.cluster, live, &self.settings.propagation, false).await
            {
                tracing::warn!(hook = %task.describe(), error = %e, "deleting hook");
            }
        }
    }

    /// Sets a task's phase and (when not empty) message, and records its result.
    fn set(&mut self, task: &mut SyncTask, state: TaskPhase, message: String) {
        task.state = Some(state);
        if !message.is_empty() {
            task.message = message;
        }
        self.record(task);
    }

    fn record(&mut self, task: &SyncTask) {
        let result = task.result();
        match self.results.iter_mut().find(|r| task.owns(r)) {
            Some(existing) => *existing = result,
            None => self.results.push(result),
        }
    }
}

/// "waiting for healthy state of apps/Deployment/web and 2 more resources", as Argo CD says
/// it; about hooks when the first task is one.
fn waiting_for(tasks: &[&SyncTask], deletion: bool) -> String {
    let Some(first) = tasks.first() else {
        return "one or more tasks are running".into();
    };
    let (what, more) = match (deletion, first.hook) {
        (true, _) => (
            "deletion of",
            if first.hook { "hooks" } else { "resources" },
        ),
        (false, true) => ("completion of hook", "hooks"),
        (false, false) => ("healthy state of", "resources"),
    };
    with_more(
        format!("waiting for {what} {}", first.describe()),
        tasks.len() - 1,
        more,
    )
}

fn with_more(message: String, more: usize, noun: &str) -> String {
    if more == 0 {
        message
    } else {
        format!("{message} and {more} more {noun}")
    }
}

/// `message, reason: a,b` with the tasks' messages, as Argo CD words a failure.
fn with_reasons(message: &str, tasks: &[SyncTask]) -> String {
    let reasons: Vec<&str> = tasks.iter().map(|t| t.message.as_str()).collect();
    if reasons.is_empty() {
        message.to_string()
    } else {
        format!("{message}, reason: {}", reasons.join(","))
    }
}
