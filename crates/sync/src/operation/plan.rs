//! The tasks of an operation, planned again at every step as gitops-engine does: one per
//! phase of every compared target and every prunable object (only the selected ones in a
//! selective sync), one per phase of every hook unless hooks are skipped (a hook with only
//! `generateName` gets a name fixed by the revision, phase and start time, and every hook
//! carries the hook finalizer so it is not gone before it is observed); prunes run in
//! reverse wave order, or after the last Sync wave with `PruneLast`; sorted; each task
//! resumed from its result of an earlier step.
//!
//! A task whose kind the cluster does not serve is invalid unless a CRD of this sync provides
//! it or `SkipDryRunOnMissingResource=true` is set: it fails with a message naming the kind,
//! and the rest of the sync goes on. A task the project's resource lists refuse fails, and
//! then nothing is written at all.

use std::collections::BTreeSet;

use ferry_api::argocd::ResourceResult;
use serde_json::{Value, json};

use super::settings::{self, Settings};
use super::task::{ResultCode, SyncTask, TaskPhase};
use crate::compare::{self, Comparison};
use crate::hook::{HOOK_FINALIZER, SyncPhase};
use crate::live::{Cluster, LiveError};
use crate::order;

/// The planned tasks.
pub struct Plan {
    /// What the operation runs, in order.
    pub tasks: Vec<SyncTask>,
    /// Tasks that cannot run (their kind is not served), already failed.
    pub invalid: Vec<SyncTask>,
    /// Tasks the project refuses, already failed: then nothing runs.
    pub refused: Vec<SyncTask>,
}

/// What names an operation's generated hook names.
pub struct Start<'a> {
    /// The revision synced.
    pub revision: &'a str,
    /// When the operation started, in Unix seconds.
    pub started_at: i64,
}

/// Plans the tasks for `comparison`, resumed from `previous` results.
pub async fn plan(
    cluster: &Cluster,
    comparison: &Comparison,
    settings: &Settings,
    start: &Start<'_>,
    previous: &[ResourceResult],
) -> Plan {
    let mut tasks: Vec<SyncTask> = Vec::new();
    for (target, live) in &comparison.targets {
        if !settings.selects(target) {
            continue;
        }
        let modified = comparison
            .resources
            .iter()
            .find(|r| compare::same_object(target, r))
            .is_none_or(|r| r.status != "Synced");
        for mut task in SyncTask::for_object(Some(target.clone()), live.clone()) {
            task.modified = modified;
            tasks.push(task);
        }
    }
    for live in &comparison.prunable {
        if settings.selects(live) {
            tasks.extend(SyncTask::for_object(None, Some(live.clone())));
        }
    }
    if !settings.skip_hooks {
        for hook in &comparison.hooks {
            tasks.extend(hook_tasks(cluster, hook, start).await);
        }
    }

    let provided: BTreeSet<String> = comparison
        .targets
        .iter()
        .filter_map(|(t, _)| order::kind_provided(t))
        .collect();
    let mut invalid = Vec::new();
    let mut refused = Vec::new();
    let mut valid = Vec::new();
    for mut task in tasks {
        let served = cluster.kind_of(task.obj()).await;
        if let (Ok(kind), Some(policy)) = (&served, &settings.policy)
            && let Some(refusal) = policy.refusal(task.obj(), kind.namespaced)
        {
            task.code = Some(ResultCode::SyncFailed);
            task.state = Some(TaskPhase::Failed);
            task.message = refusal;
            refused.push(task);
            continue;
        }
        let Some(target) = &task.target else {
            valid.push(task);
            continue;
        };
        match served {
            Ok(_) => valid.push(task),
            Err(LiveError::UnknownKind { .. })
                if settings.skip_dry_run_on_missing_resource
                    || settings::object_has(target, "SkipDryRunOnMissingResource=true")
                    || order::kind_used(target).is_some_and(|k| provided.contains(&k)) =>
            {
                task.skip_dry_run = true;
                valid.push(task);
            }
            Err(e) => {
                let message = match e {
                    LiveError::UnknownKind { .. } => LiveError::unknown_kind(target).to_string(),
                    other => other.to_string(),
                };
                task.code = Some(ResultCode::SyncFailed);
                task.state = Some(TaskPhase::Failed);
                task.message = message;
                invalid.push(task);
            }
        }
    }

    reverse_prune_waves(&mut valid);
    if settings.prune_last || valid.iter().any(|t| t.is_prune() && prune_last(t)) {
        let last = valid
            .iter()
            .filter(|t| t.phase == SyncPhase::Sync)
            .map(|t| t.wave)
            .max()
            .unwrap_or(0)
            .max(0)
            + 1;
        for task in valid.iter_mut().filter(|t| t.is_prune()) {
            if settings.prune_last || prune_last(task) {
                task.wave = last;
            }
        }
    }
    order::sort(&mut valid);
    for task in valid.iter_mut() {
        if let Some(result) = previous.iter().find(|r| task.owns(r)) {
            task.resume(result);
        }
    }
    Plan {
        tasks: valid,
        invalid,
        refused,
    }
}

/// A hook's tasks, one per phase, each with its name, finalizer and live object.
async fn hook_tasks(cluster: &Cluster, hook: &Value, start: &Start<'_>) -> Vec<SyncTask> {
    let mut tasks = Vec::new();
    for task in SyncTask::for_object(Some(hook.clone()), None) {
        let mut target = hook.clone();
        if ferry_api::meta::name(&target).is_none_or(str::is_empty) {
            let prefix = ferry_api::meta::generate_name(&target).unwrap_or_default();
            let revision: String = start.revision.chars().take(7).collect();
            let name = format!(
                "{prefix}{revision}-{}-{}",
                task.phase.as_str(),
                start.started_at
            )
            .to_ascii_lowercase();
            target["metadata"]["name"] = json!(name);
        }
        let mut finalizers: Vec<String> = ferry_api::meta::finalizers(&target)
            .into_iter()
            .map(str::to_string)
            .collect();
        if !finalizers.iter().any(|f| f == HOOK_FINALIZER) {
            finalizers.push(HOOK_FINALIZER.to_string());
            let finalizers: Vec<&str> = finalizers.iter().map(String::as_str).collect();
            ferry_api::meta::set_finalizers(&mut target, &finalizers);
        }
        let live = cluster.get(&target).await.ok().flatten();
        tasks.push(SyncTask {
            target: Some(target),
            live,
            ..task
        });
    }
    tasks
}

/// Prunes delete in the reverse order of creation: the first prune wave swaps with the last.
fn reverse_prune_waves(tasks: &mut [SyncTask]) {
    let waves: Vec<i64> = tasks
        .iter()
        .filter(|t| t.is_prune())
        .map(|t| t.wave)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for task in tasks.iter_mut().filter(|t| t.is_prune()) {
        if let Some(i) = waves.iter().position(|w| *w == task.wave) {
            task.wave = waves[waves.len() - 1 - i];
        }
    }
}

fn prune_last(task: &SyncTask) -> bool {
    settings::object_has(task.obj(), "PruneLast=true")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prune(name: &str, wave: i64) -> SyncTask {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "web",
                "annotations": {"argocd.argoproj.io/sync-wave": wave.to_string()}}});
        SyncTask::for_object(None, Some(live)).remove(0)
    }

    #[test]
    fn prune_waves_are_reversed() {
        let mut tasks = vec![prune("a", -1), prune("b", 0), prune("c", 3), prune("d", 3)];
        reverse_prune_waves(&mut tasks);
        let waves: Vec<i64> = tasks.iter().map(|t| t.wave).collect();
        assert_eq!(waves, [3, 0, -1, -1]);
    }
}
