//! An Application's `status`, shaped exactly as Argo CD writes it, so that its CLI, UI and
//! dashboards read Ferry's Applications unchanged. Timestamps are RFC 3339 strings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::application::{ApplicationDestination, ManagedNamespaceMetadata, Operation};
use super::application::{OperationInitiator, ResourceIgnoreDifferences};
use super::source::ApplicationSource;

/// `status` of an Application.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationStatus {
    /// Every resource the Application manages, with its sync and health status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceStatus>,
    /// Whether the live state matches Git, and at which revision.
    #[serde(default, skip_serializing_if = "SyncStatus::is_empty")]
    pub sync: SyncStatus,
    /// The Application's aggregated health.
    #[serde(default, skip_serializing_if = "HealthStatus::is_empty")]
    pub health: HealthStatus,
    /// Completed syncs, oldest first, at most `spec.revisionHistoryLimit`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<RevisionHistory>,
    /// Errors and warnings: `ComparisonError`, `InvalidSpecError`, `SyncError`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ApplicationCondition>,
    /// When the Application was last compared with Git.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciled_at: Option<String>,
    /// When the live state was last observed (deprecated in Argo CD; kept for readers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<String>,
    /// The last or running operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_state: Option<OperationState>,
    /// The tool of a single source: `Helm`, `Kustomize`, `Directory` or `Plugin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    /// The tools of each source of a multi-source Application.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_types: Vec<String>,
    /// Images and external URLs found in the resources.
    #[serde(default, skip_serializing_if = "ApplicationSummary::is_empty")]
    pub summary: ApplicationSummary,
    /// Where per-resource health is kept (`appTree` in Argo CD 3); unset means `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_health_source: Option<String>,
    /// The namespace of the controller that reconciles the Application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_namespace: Option<String>,
}

impl ApplicationStatus {
    /// Whether nothing has been recorded yet.
    pub fn is_empty(&self) -> bool {
        *self == ApplicationStatus::default()
    }
}

/// `status.sync`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    /// `Synced`, `OutOfSync` or `Unknown`.
    #[serde(default)]
    pub status: String,
    /// What the comparison was made against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compared_to: Option<ComparedTo>,
    /// The commit (or chart version) compared, for a single source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The revisions compared, one per source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<String>,
}

impl SyncStatus {
    /// Whether nothing has been compared yet.
    pub fn is_empty(&self) -> bool {
        *self == SyncStatus::default()
    }
}

/// `status.sync.comparedTo`: the spec a comparison used.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComparedTo {
    /// The single source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    /// The sources of a multi-source Application.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<ApplicationSource>,
    /// The destination.
    #[serde(default)]
    pub destination: ApplicationDestination,
    /// The ignored differences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_differences: Vec<ResourceIgnoreDifferences>,
}

/// A health status: `Healthy`, `Progressing`, `Degraded`, `Suspended`, `Missing` or `Unknown`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthStatus {
    /// The status.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Why, when the check says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

impl HealthStatus {
    /// Whether no health has been assessed.
    pub fn is_empty(&self) -> bool {
        *self == HealthStatus::default()
    }
}

/// One entry of `status.resources`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    /// The API group (empty for the core group).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// The API version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// The kind.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The namespace, for namespaced resources.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `Synced`, `OutOfSync` or `Unknown`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// The resource's health, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
    /// Whether it is a hook.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hook: bool,
    /// Whether it is no longer in Git and a sync with prune would delete it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub requires_pruning: bool,
    /// Its sync wave.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sync_wave: i64,
    /// Whether deleting it waits for a person (`Delete=confirm`, `Prune=confirm`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub requires_deletion_confirmation: bool,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// `status.operationState`: a running or finished operation.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationState {
    /// The operation, as requested.
    #[serde(default)]
    pub operation: Operation,
    /// `Running`, `Terminating`, `Failed`, `Error` or `Succeeded`.
    #[serde(default)]
    pub phase: String,
    /// What happened, for a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What each resource's sync did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_result: Option<SyncOperationResult>,
    /// When the operation started.
    #[serde(default)]
    pub started_at: String,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Failed attempts so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retry_count: i64,
}

/// `operationState.syncResult`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncOperationResult {
    /// One entry per resource the sync touched, hooks included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceResult>,
    /// The revision synced, for a single source.
    #[serde(default)]
    pub revision: String,
    /// The revisions synced, one per source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<String>,
    /// The source synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    /// The sources synced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<ApplicationSource>,
    /// The namespace metadata applied with `CreateNamespace=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_namespace_metadata: Option<ManagedNamespaceMetadata>,
}

/// What the sync did to one resource.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceResult {
    /// The API group.
    #[serde(default)]
    pub group: String,
    /// The API version.
    #[serde(default)]
    pub version: String,
    /// The kind.
    #[serde(default)]
    pub kind: String,
    /// The namespace.
    #[serde(default)]
    pub namespace: String,
    /// The name.
    #[serde(default)]
    pub name: String,
    /// `Synced`, `SyncFailed`, `Pruned` or `PruneSkipped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// What happened (`deployment.apps/web configured`) or why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For a hook: `PreSync`, `Sync`, `PostSync`, `SyncFail`, `PostDelete` or `Skip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_type: Option<String>,
    /// For a hook: its phase (`Running`, `Succeeded`, `Failed`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_phase: Option<String>,
    /// The sync phase it ran in: `PreSync`, `Sync`, `PostSync` or `SyncFail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_phase: Option<String>,
    /// Images of the resource's pod template.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
}

/// One completed sync in `status.history`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevisionHistory {
    /// The entry's ID, which `rollback` names; one more than the previous entry's.
    #[serde(default)]
    pub id: i64,
    /// The revision synced, for a single source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The revisions synced, one per source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<String>,
    /// The source synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    /// The sources synced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<ApplicationSource>,
    /// When the sync finished.
    #[serde(default)]
    pub deployed_at: String,
    /// When the sync started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_started_at: Option<String>,
    /// Who asked for it.
    #[serde(default, skip_serializing_if = "OperationInitiator::is_empty")]
    pub initiated_by: OperationInitiator,
}

/// One entry of `status.conditions`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationCondition {
    /// `ComparisonError`, `InvalidSpecError`, `SyncError`, `OrphanedResourceWarning`, ...
    #[serde(rename = "type", default)]
    pub condition_type: String,
    /// What is wrong, for a person.
    #[serde(default)]
    pub message: String,
    /// When the condition appeared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

/// `status.summary`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSummary {
    /// URLs of the Application's Ingresses and LoadBalancer Services, and of
    /// `link.argocd.argoproj.io/*` annotations.
    #[serde(
        rename = "externalURLs",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub external_urls: Vec<String>,
    /// Every container image of the Application's resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// Whether the Application manages other Applications.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_app_of_apps: bool,
}

impl ApplicationSummary {
    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        *self == ApplicationSummary::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argo_cds_status_round_trips() {
        // As `kubectl get app guestbook -o json` shows it on Argo CD 3.
        let value = serde_json::json!({
            "resources": [{"version": "v1", "kind": "Service", "namespace": "guestbook",
                           "name": "guestbook-ui", "status": "Synced",
                           "health": {"status": "Healthy"}},
                          {"group": "apps", "version": "v1", "kind": "Deployment",
                           "namespace": "guestbook", "name": "guestbook-ui", "status": "Synced",
                           "health": {"status": "Progressing",
                                      "message": "Waiting for rollout to finish"},
                           "syncWave": 1}],
            "sync": {"status": "Synced", "revision": "53e28ff20cc530b9ada2173fbbd64d48338583ba",
                     "comparedTo": {"source": {"repoURL": "https://github.com/argoproj/argocd-example-apps",
                                               "path": "guestbook", "targetRevision": "HEAD"},
                                    "destination": {"server": "https://kubernetes.default.svc",
                                                    "namespace": "guestbook"}}},
            "health": {"status": "Progressing", "lastTransitionTime": "2026-12-01T10:00:05Z"},
            "history": [{"id": 0, "revision": "53e28ff20cc530b9ada2173fbbd64d48338583ba",
                         "deployedAt": "2026-12-01T10:00:04Z",
                         "deployStartedAt": "2026-12-01T10:00:02Z",
                         "source": {"repoURL": "https://github.com/argoproj/argocd-example-apps",
                                    "path": "guestbook", "targetRevision": "HEAD"},
                         "initiatedBy": {"username": "admin"}}],
            "conditions": [{"type": "OrphanedResourceWarning", "message": "Application has 1 orphaned resources",
                            "lastTransitionTime": "2026-12-01T10:00:05Z"}],
            "reconciledAt": "2026-12-01T10:00:05Z",
            "operationState": {
                "operation": {"sync": {"revision": "53e28ff20cc530b9ada2173fbbd64d48338583ba",
                                       "syncStrategy": {"hook": {}}},
                              "initiatedBy": {"username": "admin"}, "retry": {}},
                "phase": "Succeeded", "message": "successfully synced (all tasks run)",
                "syncResult": {"resources": [{"group": "", "version": "v1", "kind": "Service",
                                              "namespace": "guestbook", "name": "guestbook-ui",
                                              "status": "Synced", "message": "service/guestbook-ui created",
                                              "hookPhase": "Running", "syncPhase": "Sync"}],
                               "revision": "53e28ff20cc530b9ada2173fbbd64d48338583ba",
                               "source": {"repoURL": "https://github.com/argoproj/argocd-example-apps",
                                          "path": "guestbook", "targetRevision": "HEAD"}},
                "startedAt": "2026-12-01T10:00:02Z", "finishedAt": "2026-12-01T10:00:04Z"},
            "sourceType": "Directory",
            "summary": {"images": ["gcr.io/heptio-images/ks-guestbook-demo:0.2"]},
            "resourceHealthSource": "appTree",
            "controllerNamespace": "argocd"
        });
        let status: ApplicationStatus = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(status.resources[1].sync_wave, 1);
        let mut back = serde_json::to_value(&status).unwrap();
        // `retry: {}` is Argo CD's zero value; Ferry leaves it out.
        back["operationState"]["operation"]["retry"] = serde_json::json!({});
        assert_eq!(back, value);
    }
}
