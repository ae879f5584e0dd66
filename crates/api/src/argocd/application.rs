//! The `Application` kind: what to deploy (`spec`), how it went (`status`, in [`super::status`])
//! and the sync someone asked for (`operation`, a top-level field as in Argo CD: writing it is
//! how `argocd app sync`, the UI and automated sync request one).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::source::ApplicationSource;
use super::status::ApplicationStatus;

/// An Argo CD Application (`argoproj.io/v1alpha1`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// `argoproj.io/v1alpha1`.
    #[serde(default = "api_version")]
    pub api_version: String,
    /// `Application`.
    #[serde(default = "kind")]
    pub kind: String,
    /// Name, namespace (the control-plane namespace), labels, finalizers.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// What to deploy, where, and how to sync it.
    #[serde(default)]
    pub spec: ApplicationSpec,
    /// What the controller found and did.
    #[serde(default, skip_serializing_if = "ApplicationStatus::is_empty")]
    pub status: ApplicationStatus,
    /// A requested sync; the controller clears it when the sync ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
}

fn api_version() -> String {
    super::API_VERSION.to_string()
}

fn kind() -> String {
    "Application".to_string()
}

impl Default for Application {
    fn default() -> Self {
        Self {
            api_version: api_version(),
            kind: kind(),
            metadata: ObjectMeta::default(),
            spec: ApplicationSpec::default(),
            status: ApplicationStatus::default(),
            operation: None,
        }
    }
}

super::resource!(Application, "Application", "applications");

/// The Application's `spec`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    /// The AppProject the Application belongs to (`default` always exists).
    #[serde(default)]
    pub project: String,
    /// The single source; ignored when `sources` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    /// Several sources, rendered together; wins over `source`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<ApplicationSource>,
    /// Where the manifests go.
    #[serde(default)]
    pub destination: ApplicationDestination,
    /// Automated sync, sync options, retries and namespace metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<SyncPolicy>,
    /// Differences the comparison ignores.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_differences: Vec<ResourceIgnoreDifferences>,
    /// Name-value pairs shown with the Application.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub info: Vec<Info>,
    /// How many syncs `status.history` keeps (10 when unset; 0 keeps none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i64>,
    /// Argo CD's manifest hydrator. Accepted, not supported: the Application gets an
    /// `InvalidSpecError` saying so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::crd::any_object")]
    pub source_hydrator: Option<serde_json::Value>,
}

/// `spec.destination`: a cluster (by `server` URL or `name`) and a default namespace.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDestination {
    /// The cluster's API server URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The cluster's name, instead of `server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The namespace for namespaced objects that name none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// `spec.syncPolicy`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicy {
    /// Sync without being asked when Git and the cluster differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automated: Option<SyncPolicyAutomated>,
    /// Options such as `CreateNamespace=true` or `ServerSideApply=true`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_options: Vec<String>,
    /// How failed syncs are retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryStrategy>,
    /// Labels and annotations of the namespace `CreateNamespace=true` creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_namespace_metadata: Option<ManagedNamespaceMetadata>,
}

/// `spec.syncPolicy.automated`; `automated: {}` enables automated sync.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicyAutomated {
    /// Delete resources no longer in Git (off by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<bool>,
    /// Sync again when the live state drifts from Git (off by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_heal: Option<bool>,
    /// Allow a sync that leaves the Application with no resources (off by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_empty: Option<bool>,
    /// `false` keeps the block but turns automated sync off; unset means on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `retry`: how a failed sync is tried again.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryStrategy {
    /// Attempts after the first; negative means no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// The pause between attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    /// Retry against the newest revision rather than the one first synced.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refresh: bool,
}

/// `retry.backoff`: `duration * factor^n`, capped at `maxDuration`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Backoff {
    /// The first pause (`5s`; a bare number is seconds). 5 s when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// The growth per attempt. 2 when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<i64>,
    /// The longest pause. 3 min when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<String>,
}

/// `managedNamespaceMetadata`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
pub struct ManagedNamespaceMetadata {
    /// Labels set on the namespace.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations set on the namespace.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// One entry of `ignoreDifferences`: which resources, and which of their fields.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceIgnoreDifferences {
    /// The resources' API group (empty for the core group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The resources' kind.
    #[serde(default)]
    pub kind: String,
    /// Only the resource with this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Only resources in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Fields as JSON pointers (`/spec/replicas`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json_pointers: Vec<String>,
    /// Fields as jq paths (`.spec.template.spec.containers[].image`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jq_path_expressions: Vec<String>,
    /// Fields owned by these field managers (`kube-controller-manager`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_fields_managers: Vec<String>,
}

/// A name-value pair (`spec.info`, `operation.info`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
pub struct Info {
    /// The name.
    #[serde(default)]
    pub name: String,
    /// The value.
    #[serde(default)]
    pub value: String,
}

/// The top-level `operation`: a sync someone (or automated sync) requested.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// The sync to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncOperation>,
    /// Who asked.
    #[serde(default, skip_serializing_if = "OperationInitiator::is_empty")]
    pub initiated_by: OperationInitiator,
    /// Extra information recorded with the operation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub info: Vec<Info>,
    /// How a failed attempt is retried (an automated sync copies `syncPolicy.retry`).
    #[serde(default, skip_serializing_if = "RetryStrategy::is_empty")]
    pub retry: RetryStrategy,
}

/// Who started an operation.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationInitiator {
    /// The user, for a manual sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Whether automated sync started it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub automated: bool,
}

impl OperationInitiator {
    /// Whether nobody is named.
    pub fn is_empty(&self) -> bool {
        self.username.is_none() && !self.automated
    }
}

impl RetryStrategy {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == RetryStrategy::default()
    }
}

/// `operation.sync`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncOperation {
    /// The revision to sync (the source's `targetRevision` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The revisions to sync, one per source, for multi-source Applications.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<String>,
    /// Delete resources no longer in Git.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prune: bool,
    /// Report what would change without changing it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// Apply (`kubectl apply`) or hook (apply plus hooks, the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_strategy: Option<SyncStrategy>,
    /// Only these resources; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<SyncOperationResource>,
    /// Sync options for this operation (the Application's when unset).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_options: Vec<String>,
    /// A source to sync instead of the spec's (a rollback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    /// Sources to sync instead of the spec's (a multi-source rollback).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<ApplicationSource>,
    /// Manifests to sync instead of rendering (`argocd app sync --local`). Accepted, not
    /// supported: the operation fails saying so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<String>,
    /// How many self-heal attempts led to this operation (Argo CD 3's self-heal backoff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_heal_attempts_count: Option<i64>,
}

/// `syncStrategy`: exactly one of `apply` and `hook`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
pub struct SyncStrategy {
    /// Apply only: hooks are skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply: Option<SyncStrategyApply>,
    /// Apply with hooks (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<SyncStrategyApply>,
}

/// The settings of a sync strategy.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
pub struct SyncStrategyApply {
    /// Delete and recreate resources that cannot be patched (`kubectl apply --force`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

/// One resource a sync is limited to.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
pub struct SyncOperationResource {
    /// The API group (empty for the core group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The kind.
    #[serde(default)]
    pub kind: String,
    /// The name.
    #[serde(default)]
    pub name: String,
    /// The namespace, for namespaced resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Why an Application's sources cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SourceError {
    /// Neither `spec.source` nor `spec.sources` is set.
    #[error("spec.source or spec.sources is required")]
    NoSource,
    /// A source without `repoURL`.
    #[error("{field}: repoURL is required")]
    NoRepoUrl {
        /// The source's field (`spec.sources[1]`).
        field: String,
    },
    /// A source with more than one tool block.
    #[error("{field}: only one of helm, kustomize, directory and plugin may be set")]
    SeveralTools {
        /// The source's field.
        field: String,
    },
    /// A Helm repository chart without a version.
    #[error("{field}: targetRevision is required for a Helm chart source")]
    ChartWithoutVersion {
        /// The source's field.
        field: String,
    },
    /// A source with `tagPrefix`, which Ferry does not support yet.
    #[error("{field}: tagPrefix is not supported yet; name the tag in targetRevision")]
    TagPrefix {
        /// The source's field.
        field: String,
    },
    /// A source with both `chart` and `path`.
    #[error("{field}: chart and path are mutually exclusive")]
    ChartAndPath {
        /// The source's field.
        field: String,
    },
}

impl crate::Classify for SourceError {
    /// A spec error: the Application must change.
    fn disposition(&self) -> crate::Disposition {
        crate::Disposition::GiveUp
    }
}

impl Application {
    /// The Application's name (empty when unset).
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// The Application's namespace, if set.
    pub fn namespace(&self) -> Option<&str> {
        self.metadata.namespace.as_deref()
    }

    /// The sources in order, with the field each came from (`spec.source` or
    /// `spec.sources[i]`). `sources`, when non-empty, wins over `source`, as in Argo CD.
    pub fn sources(&self) -> Result<Vec<(String, &ApplicationSource)>, SourceError> {
        let sources: Vec<(String, &ApplicationSource)> = if self.spec.sources.is_empty() {
            self.spec
                .source
                .iter()
                .map(|s| ("spec.source".to_string(), s))
                .collect()
        } else {
            self.spec
                .sources
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("spec.sources[{i}]"), s))
                .collect()
        };
        if sources.is_empty() {
            return Err(SourceError::NoSource);
        }
        for (field, source) in &sources {
            source.validate(field)?;
        }
        Ok(sources)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(yaml: serde_json::Value) -> Application {
        serde_json::from_value(yaml).unwrap()
    }

    #[test]
    fn sources_win_over_source_and_name_their_field() {
        let a = app(serde_json::json!({
            "metadata": {"name": "guestbook"},
            "spec": {
                "source": {"repoURL": "https://a", "path": "x"},
                "sources": [{"repoURL": "https://b", "path": "y"}, {"repoURL": "https://c", "ref": "values"}]
            }
        }));
        let sources = a.sources().unwrap();
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[0].0, "spec.sources[0]");
        assert_eq!(sources[0].1.repo_url, "https://b");
        assert_eq!(sources[1].1.reference.as_deref(), Some("values"));
    }

    #[test]
    fn source_defaults_and_tool_blocks_parse() {
        let a = app(serde_json::json!({
            "spec": {"source": {
                "repoURL": "https://git.example/app.git",
                "kustomize": {"images": ["nginx=ghcr.io/nginx:1.27"], "replicas": [{"name": "web", "count": 3}],
                              "commonLabels": {"team": "a"}}
            }}
        }));
        let (field, source) = a.sources().unwrap().remove(0);
        assert_eq!(field, "spec.source");
        assert_eq!(source.revision(), "HEAD");
        assert_eq!(source.path(), "");
        let k = source.kustomize.as_ref().unwrap();
        assert_eq!(k.images, ["nginx=ghcr.io/nginx:1.27"]);
        assert_eq!(k.replicas[0].count, serde_json::json!(3));
    }

    #[test]
    fn invalid_sources_are_named() {
        let none = app(serde_json::json!({"spec": {}}));
        assert_eq!(none.sources().unwrap_err(), SourceError::NoSource);
        let two = app(serde_json::json!({"spec": {"source": {
            "repoURL": "https://a", "helm": {}, "kustomize": {}}}}));
        assert_eq!(
            two.sources().unwrap_err().to_string(),
            "spec.source: only one of helm, kustomize, directory and plugin may be set"
        );
        let chart = app(serde_json::json!({"spec": {"sources": [{
            "repoURL": "https://charts.example", "chart": "redis"}]}}));
        assert_eq!(
            chart.sources().unwrap_err(),
            SourceError::ChartWithoutVersion {
                field: "spec.sources[0]".into()
            }
        );
    }

    #[test]
    fn the_documented_example_round_trips() {
        // Argo CD's docs/operator-manual/application.yaml, abridged to the fields it sets.
        let value = serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "guestbook", "namespace": "argocd",
                         "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
            "spec": {
                "project": "default",
                "source": {"repoURL": "https://github.com/argoproj/argocd-example-apps.git",
                           "targetRevision": "HEAD", "path": "guestbook"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
                "syncPolicy": {
                    "automated": {"prune": true, "selfHeal": true, "allowEmpty": false},
                    "syncOptions": ["Validate=false", "CreateNamespace=true"],
                    "managedNamespaceMetadata": {"labels": {"any": "label"}},
                    "retry": {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}}
                },
                "ignoreDifferences": [{"group": "apps", "kind": "Deployment",
                                       "jsonPointers": ["/spec/replicas"]}],
                "info": [{"name": "Example:", "value": "https://example.com"}],
                "revisionHistoryLimit": 10
            },
            "operation": {"initiatedBy": {"username": "admin"},
                          "sync": {"revision": "HEAD", "prune": true, "syncStrategy": {"hook": {}}}}
        });
        let app: Application = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(app.name(), "guestbook");
        let automated = app.spec.sync_policy.as_ref().unwrap().automated.as_ref();
        assert_eq!(automated.unwrap().self_heal, Some(true));
        assert_eq!(serde_json::to_value(&app).unwrap(), value);
    }
}
