//! What an operation is asked to do: its own fields (`prune`, `dryRun`, `syncStrategy`,
//! `resources`) and the sync options, from the operation and from `spec.syncPolicy`, read as
//! Argo CD reads them. A resource's own `argocd.argoproj.io/sync-options` annotation adds to
//! them per object ([`object_has`]).

use ferry_api::argocd::{Application, ManagedNamespaceMetadata, Operation, SyncOperationResource};
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
    fn object_options_are_a_comma_list() {
        let obj = json!({"metadata": {"annotations":
            {SYNC_OPTIONS_ANNOTATION: "Prune=false, PruneLast=true"}}});
        assert!(object_has(&obj, "Prune=false") && object_has(&obj, "prunelast=true"));
        assert!(!object_has(&obj, "Replace=true"));
    }
}
