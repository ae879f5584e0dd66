//! What an operation is asked to do: its own fields (`prune`, `dryRun`, `syncStrategy`,
//! `resources`) and the sync options, from the operation and from `spec.syncPolicy`, read as
//! Argo CD reads them. A resource's own `argocd.argoproj.io/sync-options` annotation adds to
//! them per object ([`object_has`]).

use ferry_api::argocd::{
    AppProject, Application, GroupKind, ManagedNamespaceMetadata, Operation, SyncOperationResource,
};
use kube::api::PropagationPolicy;
use serde_json::Value;

/// Argo CD's per-resource sync options annotation.
pub const SYNC_OPTIONS_ANNOTATION: &str = "argocd.argoproj.io/sync-options";

/// How an operation runs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Delete what Git no longer has.
    pub prune: bool,
    /// Check every write with the API server, persist none.
    pub dry_run: bool,
    /// Run no hooks: the `apply` strategy, or a sync of selected resources.
    pub skip_hooks: bool,
    /// Only these resources (`argocd app sync --resource`); all when empty.
    pub resources: Vec<SyncOperationResource>,
    /// `PruneLast=true`: prune after every other task of the Sync phase.
    pub prune_last: bool,
    /// `ApplyOutOfSyncOnly=true`: leave Synced resources alone.
    pub apply_out_of_sync_only: bool,
    /// Strict field validation, unless `Validate=false`.
    pub validate: bool,
    /// `SkipDryRunOnMissingResource=true` for every resource.
    pub skip_dry_run_on_missing_resource: bool,
    /// `FailOnSharedResource=true`: fail when another app tracks one of the objects.
    pub fail_on_shared_resource: bool,
    /// `PrunePropagationPolicy=foreground|background|orphan` (foreground by default).
    pub propagation: PropagationPolicy,
    /// `CreateNamespace=true`: the destination namespace, with `managedNamespaceMetadata`.
    pub create_namespace: Option<(String, Option<ManagedNamespaceMetadata>)>,
    /// The project's resource lists; every kind is allowed without one.
    pub policy: Option<ResourcePolicy>,
    /// How a wave's and a hook's health is judged.
    pub health: crate::health::Checks,
}

/// An AppProject's resource lists as a sync applies them to each object, Argo CD's
/// `IsGroupKindNamePermitted`: a namespaced kind is allowed unless
/// `namespaceResourceWhitelist` is set without it or `namespaceResourceBlacklist` has it; a
/// cluster-scoped kind only when `clusterResourceWhitelist` has it and
/// `clusterResourceBlacklist` does not. Entries match group, kind and (when set) name, as
/// globs.
#[derive(Clone, Debug, Default)]
pub struct ResourcePolicy {
    project: String,
    cluster_allow: Vec<GroupKind>,
    cluster_deny: Vec<GroupKind>,
    namespace_allow: Vec<GroupKind>,
    namespace_deny: Vec<GroupKind>,
}

impl ResourcePolicy {
    /// The lists of `project`.
    pub fn of(project: &AppProject) -> Self {
        ResourcePolicy {
            project: project.metadata.name.clone().unwrap_or_default(),
            cluster_allow: project.spec.cluster_resource_whitelist.clone(),
            cluster_deny: project.spec.cluster_resource_blacklist.clone(),
            namespace_allow: project.spec.namespace_resource_whitelist.clone(),
            namespace_deny: project.spec.namespace_resource_blacklist.clone(),
        }
    }

    /// `None` when `obj` may be synced, else Argo CD's refusal.
    pub fn refusal(&self, obj: &Value, namespaced: bool) -> Option<String> {
        let gvk = ferry_api::meta::GroupVersionKind::of(obj).unwrap_or_default();
        let name = ferry_api::meta::name(obj).unwrap_or_default();
        let listed = |list: &[GroupKind]| {
            list.iter().any(|e| {
                glob(&e.group, &gvk.group)
                    && glob(&e.kind, &gvk.kind)
                    && e.name
                        .as_deref()
                        .is_none_or(|n| n.is_empty() || glob(n, name))
            })
        };
        let permitted = if namespaced {
            (self.namespace_allow.is_empty() || listed(&self.namespace_allow))
                && !listed(&self.namespace_deny)
        } else {
            listed(&self.cluster_allow) && !listed(&self.cluster_deny)
        };
        (!permitted).then(|| {
            format!(
                "resource {}:{} is not permitted in project {}",
                gvk.group, gvk.kind, self.project
            )
        })
    }
}

/// Whether `value` matches `pattern` as AppProject fields glob (`*` spans `/`); a pattern
/// that is not a glob matches only itself.
pub(crate) fn glob(pattern: &str, value: &str) -> bool {
    pattern == value
        || globset::Glob::new(pattern).is_ok_and(|g| g.compile_matcher().is_match(value))
}

impl Settings {
    /// The settings of `operation` on `app`.
    pub fn new(app: &Application, operation: &Operation) -> Self {
        let sync = operation.sync.clone().unwrap_or_default();
        let options: Vec<&str> = sync
            .sync_options
            .iter()
            .chain(app.spec.sync_policy.iter().flat_map(|p| &p.sync_options))
            .map(String::as_str)
            .collect();
        let has = |option: &str| options.iter().any(|o| o.eq_ignore_ascii_case(option));
        let propagation = match options
            .iter()
            .find_map(|o| o.strip_prefix("PrunePropagationPolicy="))
        {
            Some(p) if p.eq_ignore_ascii_case("background") => PropagationPolicy::Background,
            Some(p) if p.eq_ignore_ascii_case("orphan") => PropagationPolicy::Orphan,
            _ => PropagationPolicy::Foreground,
        };
        let namespace = app.spec.destination.namespace.clone().unwrap_or_default();
        let managed = app
            .spec
            .sync_policy
            .as_ref()
            .and_then(|p| p.managed_namespace_metadata.clone());
        Settings {
            prune: sync.prune,
            dry_run: sync.dry_run,
            skip_hooks: sync
                .sync_strategy
                .as_ref()
                .is_some_and(|s| s.apply.is_some())
                || !sync.resources.is_empty(),
            resources: sync.resources,
            prune_last: has("PruneLast=true"),
            apply_out_of_sync_only: has("ApplyOutOfSyncOnly=true"),
            validate: !has("Validate=false"),
            skip_dry_run_on_missing_resource: has("SkipDryRunOnMissingResource=true"),
            fail_on_shared_resource: has("FailOnSharedResource=true"),
            propagation,
            create_namespace: (has("CreateNamespace=true") && !namespace.is_empty())
                .then_some((namespace, managed)),
            policy: None,
            health: crate::health::Checks::default(),
        }
    }

    /// Whether `obj` is one of the selected resources (every object when none are).
    pub fn selects(&self, obj: &Value) -> bool {
        if self.resources.is_empty() {
            return true;
        }
        let gvk = ferry_api::meta::GroupVersionKind::of(obj).unwrap_or_default();
        let name = ferry_api::meta::name(obj).unwrap_or_default();
        let namespace = ferry_api::meta::namespace(obj).unwrap_or_default();
        self.resources.iter().any(|r| {
            r.kind == gvk.kind
                && r.name == name
                && r.group.as_deref().unwrap_or_default() == gvk.group
                && r.namespace
                    .as_deref()
                    .is_none_or(|ns| ns.is_empty() || ns == namespace)
        })
    }
}

/// Whether `obj`'s sync options annotation sets `option` (`Prune=false`).
pub fn object_has(obj: &Value, option: &str) -> bool {
    ferry_api::meta::annotation(obj, SYNC_OPTIONS_ANNOTATION)
        .unwrap_or_default()
        .split(',')
        .any(|o| o.trim().eq_ignore_ascii_case(option))
}

#[cfg(test)]
mod tests {
    use ferry_api::argocd::{SyncOperation, SyncPolicy, SyncStrategy, SyncStrategyApply};
    use serde_json::json;

    use super::*;

    fn app(spec_options: &[&str]) -> Application {
        let mut app: Application = serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "web", "namespace": "argocd"},
            "spec": {"project": "default",
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
                "source": {"repoURL": "https://example.com/r.git", "path": "."}}
        }))
        .unwrap();
        app.spec.sync_policy = Some(SyncPolicy {
            sync_options: spec_options.iter().map(|o| o.to_string()).collect(),
            ..SyncPolicy::default()
        });
        app
    }

    fn operation(options: &[&str]) -> Operation {
        Operation {
            sync: Some(SyncOperation {
                sync_options: options.iter().map(|o| o.to_string()).collect(),
                ..SyncOperation::default()
            }),
            ..Operation::default()
        }
    }

    #[test]
    fn options_come_from_the_operation_and_the_spec() {
        let s = Settings::new(
            &app(&["CreateNamespace=true", "PrunePropagationPolicy=background"]),
            &operation(&["PruneLast=true", "Validate=false"]),
        );
        assert!(s.prune_last && !s.validate && !s.apply_out_of_sync_only);
        assert!(matches!(s.propagation, PropagationPolicy::Background));
        assert_eq!(s.create_namespace.map(|(ns, _)| ns).as_deref(), Some("web"));
        let s = Settings::new(&app(&[]), &operation(&[]));
        assert!(s.validate && s.create_namespace.is_none() && !s.skip_hooks);
        assert!(matches!(s.propagation, PropagationPolicy::Foreground));
    }

    #[test]
    fn the_apply_strategy_and_a_selective_sync_skip_hooks() {
        let mut op = operation(&[]);
        op.sync.as_mut().unwrap().sync_strategy = Some(SyncStrategy {
            apply: Some(SyncStrategyApply::default()),
            hook: None,
        });
        assert!(Settings::new(&app(&[]), &op).skip_hooks);
        let mut op = operation(&[]);
        op.sync.as_mut().unwrap().resources = vec![SyncOperationResource {
            group: Some("apps".into()),
            kind: "Deployment".into(),
            name: "web".into(),
            namespace: None,
        }];
        let s = Settings::new(&app(&[]), &op);
        assert!(s.skip_hooks);
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "web"}});
        let service = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "web"}});
        assert!(s.selects(&deployment) && !s.selects(&service));
    }

    #[test]
    fn the_project_lists_govern_kinds_as_argo_cd_does() {
        let project: AppProject = serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
            "metadata": {"name": "shop", "namespace": "argocd"},
            "spec": {
                "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"},
                    {"group": "rbac.authorization.k8s.io", "kind": "*"}],
                "clusterResourceBlacklist": [{"group": "rbac.authorization.k8s.io", "kind": "ClusterRoleBinding"}],
                "namespaceResourceBlacklist": [{"group": "", "kind": "Secret", "name": "admin-*"}]}
        }))
        .unwrap();
        let policy = ResourcePolicy::of(&project);
        let obj = |api_version: &str, kind: &str, name: &str| json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}});
        // (object, namespaced, refused)
        let table = [
            (obj("v1", "Namespace", "shop"), false, false),
            (
                obj("rbac.authorization.k8s.io/v1", "ClusterRole", "r"),
                false,
                false,
            ),
            (
                obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "b"),
                false,
                true,
            ),
            (
                obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "c"),
                false,
                true,
            ),
            (obj("apps/v1", "Deployment", "web"), true, false),
            (obj("v1", "Secret", "admin-token"), true, true),
            (obj("v1", "Secret", "app-token"), true, false),
        ];
        for (o, namespaced, refused) in table {
            assert_eq!(policy.refusal(&o, namespaced).is_some(), refused, "{o}");
        }
        assert_eq!(
            policy.refusal(&obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "c"), false),
            Some("resource apiextensions.k8s.io:CustomResourceDefinition is not permitted in project shop".into())
        );
    }

    #[test]
    fn object_options_are_a_comma_list() {
        let obj = json!({"metadata": {"annotations":
            {SYNC_OPTIONS_ANNOTATION: "Prune=false, PruneLast=true"}}});
        assert!(object_has(&obj, "Prune=false") && object_has(&obj, "prunelast=true"));
        assert!(!object_has(&obj, "Replace=true"));
    }
}
