//! Which objects are sync hooks, and of which phases: Argo CD's
//! `argocd.argoproj.io/hook` annotation (a comma list), else Helm's `helm.sh/hook` mapped as
//! Argo CD maps it (`pre-install`/`pre-upgrade` → PreSync, `post-install`/`post-upgrade` →
//! PostSync). When an object has the Argo CD annotation, its Helm hooks are ignored. Also the
//! phases a task runs in ([`phases`]) and when a hook object is deleted ([`delete_policies`]).

use serde_json::Value;

/// Argo CD's hook annotation.
pub const HOOK_ANNOTATION: &str = "argocd.argoproj.io/hook";
/// Helm's hook annotation.
pub const HELM_HOOK_ANNOTATION: &str = "helm.sh/hook";
/// Argo CD's hook delete policy annotation.
pub const DELETE_POLICY_ANNOTATION: &str = "argocd.argoproj.io/hook-delete-policy";
/// Helm's hook delete policy annotation.
pub const HELM_DELETE_POLICY_ANNOTATION: &str = "helm.sh/hook-delete-policy";
/// Argo CD's finalizer on hooks, removed once the hook's outcome is recorded.
pub const HOOK_FINALIZER: &str = "argocd.argoproj.io/hook-finalizer";

/// A phase of a sync, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SyncPhase {
    /// Hooks before the resources.
    PreSync,
    /// The resources, and `Sync` hooks.
    Sync,
    /// Hooks after every resource is synced and healthy.
    PostSync,
    /// Hooks run only when the sync failed.
    SyncFail,
}

impl SyncPhase {
    /// The phase as Argo CD spells it (`syncPhase` of a result, `hookPhase`'s hook type).
    pub fn as_str(self) -> &'static str {
        match self {
            SyncPhase::PreSync => "PreSync",
            SyncPhase::Sync => "Sync",
            SyncPhase::PostSync => "PostSync",
            SyncPhase::SyncFail => "SyncFail",
        }
    }
}

/// When a hook object is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeletePolicy {
    /// After the hook succeeded.
    HookSucceeded,
    /// After the hook failed.
    HookFailed,
    /// Before the hook is created again by the next sync (the default).
    BeforeHookCreation,
}

/// A sync phase a hook runs in, or `Skip` (never applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookType {
    /// Before the sync's resources are applied.
    PreSync,
    /// With the sync's resources.
    Sync,
    /// After every resource is synced and healthy.
    PostSync,
    /// When the sync fails.
    SyncFail,
    /// Not applied at all.
    Skip,
}

impl HookType {
    fn of_argo(text: &str) -> Option<Self> {
        Some(match text {
            "PreSync" => HookType::PreSync,
            "Sync" => HookType::Sync,
            "PostSync" => HookType::PostSync,
            "SyncFail" => HookType::SyncFail,
            "Skip" => HookType::Skip,
            _ => return None,
        })
    }

    fn of_helm(text: &str) -> Option<Self> {
        match text {
            "pre-install" | "pre-upgrade" => Some(HookType::PreSync),
            "post-install" | "post-upgrade" => Some(HookType::PostSync),
            _ => None,
        }
    }
}

/// The hook types `obj` declares, deduplicated, in the order written; unknown values are
/// dropped.
pub fn types(obj: &Value) -> Vec<HookType> {
    let argo: Vec<HookType> = csv(obj, HOOK_ANNOTATION)
        .filter_map(HookType::of_argo)
        .collect();
    let mut types = if argo.is_empty() {
        csv(obj, HELM_HOOK_ANNOTATION)
            .filter_map(HookType::of_helm)
            .collect()
    } else {
        argo
    };
    let mut seen = Vec::new();
    types.retain(|t| {
        let first = !seen.contains(t);
        seen.push(*t);
        first
    });
    types
}

/// Whether `obj` is only `Skip`ped: never applied.
pub fn skip(obj: &Value) -> bool {
    types(obj) == [HookType::Skip]
}

/// Whether `obj` is a hook: it carries Argo CD's annotation (and is not only skipped), or
/// Helm's (except `crd-install`, which Helm uses for CRDs that are not hooks).
pub fn is_hook(obj: &Value) -> bool {
    if ferry_api::meta::annotation(obj, HOOK_ANNOTATION).is_some() {
        return !skip(obj);
    }
    ferry_api::meta::annotation(obj, HELM_HOOK_ANNOTATION).is_some_and(|v| v != "crd-install")
}

/// Whether `obj` is a hook of no phase the sync runs (`PreDelete`, a Helm `test`): neither
/// applied with the sync nor counted in the application's health.
pub fn is_ignored(obj: &Value) -> bool {
    is_hook(obj) && types(obj).is_empty()
}

/// The phases `obj` is applied in: none when skipped, its hook phases when it is a hook (a
/// hook of no sync phase has none), else `Sync`.
pub fn phases(obj: &Value) -> Vec<SyncPhase> {
    if skip(obj) {
        return Vec::new();
    }
    if !is_hook(obj) {
        return vec![SyncPhase::Sync];
    }
    let mut phases: Vec<SyncPhase> = types(obj)
        .into_iter()
        .filter_map(|t| match t {
            HookType::PreSync => Some(SyncPhase::PreSync),
            HookType::Sync => Some(SyncPhase::Sync),
            HookType::PostSync => Some(SyncPhase::PostSync),
            HookType::SyncFail => Some(SyncPhase::SyncFail),
            HookType::Skip => None,
        })
        .collect();
    phases.sort();
    phases.dedup();
    phases
}

/// The delete policies of a hook: Argo CD's annotation and Helm's both count;
/// `BeforeHookCreation` when neither names one.
pub fn delete_policies(obj: &Value) -> Vec<DeletePolicy> {
    let argo = csv(obj, DELETE_POLICY_ANNOTATION).filter_map(|v| match v {
        "HookSucceeded" => Some(DeletePolicy::HookSucceeded),
        "HookFailed" => Some(DeletePolicy::HookFailed),
        "BeforeHookCreation" => Some(DeletePolicy::BeforeHookCreation),
        _ => None,
    });
    let helm = csv(obj, HELM_DELETE_POLICY_ANNOTATION).filter_map(|v| match v {
        "hook-succeeded" => Some(DeletePolicy::HookSucceeded),
        "hook-failed" => Some(DeletePolicy::HookFailed),
        "before-hook-creation" => Some(DeletePolicy::BeforeHookCreation),
        _ => None,
    });
    let mut policies: Vec<DeletePolicy> = argo.chain(helm).collect();
    if policies.is_empty() {
        policies.push(DeletePolicy::BeforeHookCreation);
    }
    policies
}

fn csv<'a>(obj: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    ferry_api::meta::annotation(obj, key)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn annotated(annotations: Value) -> Value {
        json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "j", "annotations": annotations}})
    }

    #[test]
    fn hook_types_from_argo_cd_and_helm_annotations() {
        use HookType::*;
        let table = [
            (json!({}), vec![], false, false),
            (
                json!({"argocd.argoproj.io/hook": "PreSync"}),
                vec![PreSync],
                true,
                false,
            ),
            (
                json!({"argocd.argoproj.io/hook": "PreSync, PostSync,PreSync"}),
                vec![PreSync, PostSync],
                true,
                false,
            ),
            (
                json!({"argocd.argoproj.io/hook": "Skip"}),
                vec![Skip],
                false,
                false,
            ),
            (
                json!({"argocd.argoproj.io/hook": "PostDelete"}),
                vec![],
                true,
                true,
            ),
            (
                json!({"helm.sh/hook": "pre-install,pre-upgrade"}),
                vec![PreSync],
                true,
                false,
            ),
            (
                json!({"helm.sh/hook": "post-upgrade"}),
                vec![PostSync],
                true,
                false,
            ),
            (json!({"helm.sh/hook": "test"}), vec![], true, true),
            (json!({"helm.sh/hook": "crd-install"}), vec![], false, false),
            // The Argo CD annotation wins over Helm's.
            (
                json!({"argocd.argoproj.io/hook": "Sync", "helm.sh/hook": "pre-install"}),
                vec![Sync],
                true,
                false,
            ),
        ];
        for (annotations, expected, hook, ignored) in table {
            let obj = annotated(annotations.clone());
            assert_eq!(types(&obj), expected, "{annotations}");
            assert_eq!(is_hook(&obj), hook, "{annotations}");
            assert_eq!(is_ignored(&obj), ignored, "{annotations}");
        }
    }

    #[test]
    fn phases_and_delete_policies() {
        use SyncPhase::*;
        let table = [
            (json!({}), vec![Sync]),
            (json!({"argocd.argoproj.io/hook": "Skip"}), vec![]),
            (
                json!({"argocd.argoproj.io/hook": "PostSync,PreSync"}),
                vec![PreSync, PostSync],
            ),
            (
                json!({"argocd.argoproj.io/hook": "SyncFail"}),
                vec![SyncFail],
            ),
            (json!({"argocd.argoproj.io/hook": "PreDelete"}), vec![]),
            (json!({"helm.sh/hook": "post-install"}), vec![PostSync]),
        ];
        for (annotations, expected) in table {
            assert_eq!(
                phases(&annotated(annotations.clone())),
                expected,
                "{annotations}"
            );
        }

        use DeletePolicy::*;
        let table = [
            (json!({}), vec![BeforeHookCreation]),
            (
                json!({"argocd.argoproj.io/hook-delete-policy": "HookSucceeded,HookFailed"}),
                vec![HookSucceeded, HookFailed],
            ),
            (
                json!({"argocd.argoproj.io/hook-delete-policy": "HookSucceeded",
                "helm.sh/hook-delete-policy": "hook-failed"}),
                vec![HookSucceeded, HookFailed],
            ),
            (
                json!({"helm.sh/hook-delete-policy": "before-hook-creation"}),
                vec![BeforeHookCreation],
            ),
            (
                json!({"argocd.argoproj.io/hook-delete-policy": "Sometimes"}),
                vec![BeforeHookCreation],
            ),
        ];
        for (annotations, expected) in table {
            assert_eq!(
                delete_policies(&annotated(annotations.clone())),
                expected,
                "{annotations}"
            );
        }
    }
}
