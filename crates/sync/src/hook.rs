//! Which objects are sync hooks, and of which phases: Argo CD's
//! `argocd.argoproj.io/hook` annotation (a comma list), else Helm's `helm.sh/hook` mapped as
//! Argo CD maps it (`pre-install`/`pre-upgrade` → PreSync, `post-install`/`post-upgrade` →
//! PostSync). When an object has the Argo CD annotation, its Helm hooks are ignored.

use serde_json::Value;

/// Argo CD's hook annotation.
pub const HOOK_ANNOTATION: &str = "argocd.argoproj.io/hook";
/// Helm's hook annotation.
pub const HELM_HOOK_ANNOTATION: &str = "helm.sh/hook";

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
}
