//! One task of a sync operation and its state: the object, the phase and wave it runs in,
//! and what happened to it so far (its `syncResult.resources[]` entry), as gitops-engine's
//! `syncTask`.

use ferry_api::argocd::ResourceResult;
use serde_json::Value;

use crate::hook::{self, DeletePolicy, SyncPhase};
use crate::order;

/// How far a task has come: the `hookPhase` of its result (Argo CD writes it for every
/// task, hooks or not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskPhase {
    /// Applied; a hook not completed yet, or a resource not healthy yet.
    Running,
    /// Done.
    Succeeded,
    /// Done, unsuccessfully: the hook failed, or the resource turned Degraded.
    Failed,
    /// Something went wrong around the task (say, a hook finalizer could not be removed).
    Error,
}

impl TaskPhase {
    /// As Argo CD spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskPhase::Running => "Running",
            TaskPhase::Succeeded => "Succeeded",
            TaskPhase::Failed => "Failed",
            TaskPhase::Error => "Error",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "Running" => TaskPhase::Running,
            "Succeeded" => TaskPhase::Succeeded,
            "Failed" => TaskPhase::Failed,
            "Error" => TaskPhase::Error,
            _ => return None,
        })
    }
}

/// What a write did: the `status` of a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultCode {
    /// Applied.
    Synced,
    /// The write was refused.
    SyncFailed,
    /// Deleted because Git no longer has it.
    Pruned,
    /// Left in place although Git no longer has it.
    PruneSkipped,
}

impl ResultCode {
    /// As Argo CD spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultCode::Synced => "Synced",
            ResultCode::SyncFailed => "SyncFailed",
            ResultCode::Pruned => "Pruned",
            ResultCode::PruneSkipped => "PruneSkipped",
        }
    }

    /// The task phase a write leaves: an applied object runs until it is judged, a refused
    /// one failed, a prune (done or skipped) succeeded.
    pub fn phase(self) -> TaskPhase {
        match self {
            ResultCode::Synced => TaskPhase::Running,
            ResultCode::SyncFailed => TaskPhase::Failed,
            ResultCode::Pruned | ResultCode::PruneSkipped => TaskPhase::Succeeded,
        }
    }
}

/// One thing the operation does to one object in one phase.
#[derive(Clone, Debug)]
pub struct SyncTask {
    /// The phase it runs in.
    pub phase: SyncPhase,
    /// Its wave (for prunes, possibly moved; see the plan).
    pub wave: i64,
    /// What Git wants; `None` for a prune.
    pub target: Option<Value>,
    /// What the cluster has.
    pub live: Option<Value>,
    /// Whether the object is a hook.
    pub hook: bool,
    /// Its kind is not served yet, but a CRD of this sync (or `SkipDryRunOnMissingResource`)
    /// will serve it: not dry-run.
    pub skip_dry_run: bool,
    /// The target differs from the live object (for `ApplyOutOfSyncOnly`).
    pub modified: bool,
    /// The write's outcome so far.
    pub code: Option<ResultCode>,
    /// How far it has come; `None` while pending.
    pub state: Option<TaskPhase>,
    /// The latest message about it.
    pub message: String,
}

impl SyncTask {
    /// The tasks for one object: one per phase it runs in ([`hook::phases`]), judged on the
    /// target when there is one, else on the live object; pending.
    pub fn for_object(target: Option<Value>, live: Option<Value>) -> Vec<SyncTask> {
        let Some(obj) = target.as_ref().or(live.as_ref()) else {
            return Vec::new();
        };
        let (wave, hook) = (order::wave(obj), hook::is_hook(obj));
        hook::phases(obj)
            .into_iter()
            .map(|phase| SyncTask {
                phase,
                wave,
                target: target.clone(),
                live: live.clone(),
                hook,
                skip_dry_run: false,
                modified: true,
                code: None,
                state: None,
                message: String::new(),
            })
            .collect()
    }

    /// The object: the target, else the live object.
    pub fn obj(&self) -> &Value {
        self.target
            .as_ref()
            .or(self.live.as_ref())
            .unwrap_or(&Value::Null)
    }

    /// A prune: Git has no target.
    pub fn is_prune(&self) -> bool {
        self.target.is_none()
    }

    /// Not started.
    pub fn pending(&self) -> bool {
        self.state.is_none()
    }

    /// Started and not done.
    pub fn running(&self) -> bool {
        self.state == Some(TaskPhase::Running)
    }

    /// Done, one way or the other.
    pub fn completed(&self) -> bool {
        matches!(
            self.state,
            Some(TaskPhase::Succeeded | TaskPhase::Failed | TaskPhase::Error)
        )
    }

    /// Done well.
    pub fn successful(&self) -> bool {
        self.state == Some(TaskPhase::Succeeded)
    }

    fn has_policy(&self, policy: DeletePolicy) -> bool {
        self.hook && hook::delete_policies(self.obj()).contains(&policy)
    }

    /// A pending hook whose object from an earlier sync is still there, to be deleted
    /// before it is created again.
    pub fn delete_before_creation(&self) -> bool {
        self.live.is_some() && self.pending() && self.has_policy(DeletePolicy::BeforeHookCreation)
    }

    /// A hook deleted once the operation succeeded.
    pub fn delete_on_success(&self) -> bool {
        self.live.is_some() && self.has_policy(DeletePolicy::HookSucceeded)
    }

    /// A hook deleted once the operation failed.
    pub fn delete_on_failure(&self) -> bool {
        self.live.is_some() && self.has_policy(DeletePolicy::HookFailed)
    }

    /// `group/Kind/name`, as Argo CD's messages name a task.
    pub fn describe(&self) -> String {
        let obj = self.obj();
        let gvk = ferry_api::meta::GroupVersionKind::of(obj).unwrap_or_default();
        format!(
            "{}/{}/{}",
            gvk.group,
            gvk.kind,
            ferry_api::meta::name(obj).unwrap_or_default()
        )
    }

    /// Whether `result` is this task's: same object, same phase.
    pub fn owns(&self, result: &ResourceResult) -> bool {
        let obj = self.obj();
        let gvk = ferry_api::meta::GroupVersionKind::of(obj).unwrap_or_default();
        result.group == gvk.group
            && result.kind == gvk.kind
            && result.namespace == ferry_api::meta::namespace(obj).unwrap_or_default()
            && result.name == ferry_api::meta::name(obj).unwrap_or_default()
            && result.sync_phase.as_deref() == Some(self.phase.as_str())
    }

    /// Takes up the state an earlier step of the operation left in `result`.
    pub fn resume(&mut self, result: &ResourceResult) {
        self.code = result.status.as_deref().and_then(|s| match s {
            "Synced" => Some(ResultCode::Synced),
            "SyncFailed" => Some(ResultCode::SyncFailed),
            "Pruned" => Some(ResultCode::Pruned),
            "PruneSkipped" => Some(ResultCode::PruneSkipped),
            _ => None,
        });
        self.state = result.hook_phase.as_deref().and_then(TaskPhase::parse);
        self.message = result.message.clone().unwrap_or_default();
    }

    /// The task's `syncResult.resources[]` entry.
    pub fn result(&self) -> ResourceResult {
        let obj = self.obj();
        let gvk = ferry_api::meta::GroupVersionKind::of(obj).unwrap_or_default();
        ResourceResult {
            group: gvk.group,
            version: gvk.version,
            kind: gvk.kind,
            namespace: ferry_api::meta::namespace(obj)
                .unwrap_or_default()
                .to_string(),
            name: ferry_api::meta::name(obj).unwrap_or_default().to_string(),
            status: self.code.map(|c| c.as_str().to_string()),
            message: (!self.message.is_empty()).then(|| self.message.clone()),
            hook_type: self.hook.then(|| self.phase.as_str().to_string()),
            hook_phase: self.state.map(|s| s.as_str().to_string()),
            sync_phase: Some(self.phase.as_str().to_string()),
            images: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn task(annotations: Value, live: bool) -> SyncTask {
        let mut annotations = annotations;
        annotations["argocd.argoproj.io/hook"] = json!("PreSync");
        let obj = json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "migrate", "namespace": "web", "annotations": annotations}});
        let mut tasks = SyncTask::for_object(Some(obj.clone()), live.then_some(obj));
        assert_eq!(tasks.len(), 1);
        tasks.remove(0)
    }

    #[test]
    fn delete_policies_decide_when_a_hook_goes() {
        // (annotations, live exists, before creation, on success, on failure)
        let table = [
            (json!({}), true, true, false, false),
            (json!({}), false, false, false, false),
            (
                json!({"argocd.argoproj.io/hook-delete-policy": "HookSucceeded"}),
                true,
                false,
                true,
                false,
            ),
            (
                json!({"helm.sh/hook-delete-policy": "hook-failed,before-hook-creation"}),
                true,
                true,
                false,
                true,
            ),
        ];
        for (annotations, live, before, success, failure) in table {
            let t = task(annotations.clone(), live);
            assert_eq!(t.delete_before_creation(), before, "{annotations}");
            assert_eq!(t.delete_on_success(), success, "{annotations}");
            assert_eq!(t.delete_on_failure(), failure, "{annotations}");
        }
    }

    #[test]
    fn a_result_round_trips_through_resume() {
        let mut t = task(json!({}), false);
        t.code = Some(ResultCode::Synced);
        t.state = Some(TaskPhase::Running);
        t.message = "job.batch/migrate serverside-applied".into();
        let result = t.result();
        assert_eq!(result.hook_type.as_deref(), Some("PreSync"));
        assert_eq!(result.hook_phase.as_deref(), Some("Running"));
        let mut again = task(json!({}), false);
        assert!(again.owns(&result));
        again.resume(&result);
        assert!(again.running() && !again.pending() && !again.completed());
        assert_eq!(again.message, t.message);
        let mut other_phase = task(json!({}), false);
        other_phase.phase = SyncPhase::PostSync;
        assert!(!other_phase.owns(&result));
    }
}
