//! The `ApplicationSet` kind: generators produce parameter sets, each rendered through the
//! template into an Application.
//!
//! The list, clusters, git, matrix and merge generators are typed. The SCM provider, pull
//! request, cluster decision resource and plugin generators are accepted as written and
//! refused by the controller with a condition naming them. As in Argo CD, a matrix or merge
//! inside a matrix or merge is kept as JSON and read when it is used.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::application::ApplicationSpec;
use super::status::{HealthStatus, ResourceStatus};
use crate::crd::any_object;

/// An Argo CD ApplicationSet (`argoproj.io/v1alpha1`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSet {
    /// `argoproj.io/v1alpha1`.
    #[serde(default = "api_version")]
    pub api_version: String,
    /// `ApplicationSet`.
    #[serde(default = "kind")]
    pub kind: String,
    /// Name and namespace.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Generators, template and policies.
    #[serde(default)]
    pub spec: ApplicationSetSpec,
    /// Conditions and the Applications generated.
    #[serde(default, skip_serializing_if = "ApplicationSetStatus::is_empty")]
    pub status: ApplicationSetStatus,
}

fn api_version() -> String {
    super::API_VERSION.to_string()
}

fn kind() -> String {
    "ApplicationSet".to_string()
}

impl Default for ApplicationSet {
    fn default() -> Self {
        Self {
            api_version: api_version(),
            kind: kind(),
            metadata: ObjectMeta::default(),
            spec: ApplicationSetSpec::default(),
            status: ApplicationSetStatus::default(),
        }
    }
}

super::resource!(ApplicationSet, "ApplicationSet", "applicationsets");

/// The ApplicationSet's `spec`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetSpec {
    /// Render templates as Go templates (`{{ .path.basename }}`) instead of `{{path.basename}}`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub go_template: bool,
    /// Go template options, such as `missingkey=error`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub go_template_options: Vec<String>,
    /// Where the parameter sets come from.
    #[serde(default)]
    pub generators: Vec<ApplicationSetGenerator>,
    /// The Application each parameter set becomes.
    #[serde(default)]
    pub template: ApplicationSetTemplate,
    /// A template (YAML text) merged over the rendered template, for fields that are not
    /// strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_patch: Option<String>,
    /// What the controller may do to the Applications it generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<ApplicationSetSyncPolicy>,
    /// Progressive syncs (`RollingSync`). Accepted, not supported: a condition says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub strategy: Option<Value>,
    /// Annotations and labels of generated Applications that are kept when others edit them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserved_fields: Option<ApplicationPreservedFields>,
    /// Apply a generator's `selector` inside matrix and merge generators too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub apply_nested_selectors: bool,
    /// Fields of generated Applications the controller leaves as others changed them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_application_differences: Vec<ApplicationSetResourceIgnoreDifferences>,
}

/// One generator; exactly one field is set, plus an optional `selector` on its output.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetGenerator {
    /// Fixed parameter sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<ListGenerator>,
    /// One parameter set per registered cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<ClusterGenerator>,
    /// Directories or files of a Git repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitGenerator>,
    /// The cartesian product of two generators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<MatrixGenerator>,
    /// Generators merged by keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeGenerator>,
    /// Repositories of an SCM provider. Accepted, not supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub scm_provider: Option<Value>,
    /// Pull requests of a repository. Accepted, not supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub pull_request: Option<Value>,
    /// A duck-typed placement resource. Accepted, not supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub cluster_decision_resource: Option<Value>,
    /// An external plugin. Accepted, not supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub plugin: Option<Value>,
    /// Keeps only the parameter sets whose values match (a label selector over parameters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "label_selector")]
    pub selector: Option<Value>,
}

/// A generator inside a matrix or merge: as [`ApplicationSetGenerator`], but a matrix or merge
/// here is kept as JSON (Argo CD limits nesting the same way).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetNestedGenerator {
    /// Fixed parameter sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<ListGenerator>,
    /// One parameter set per registered cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<ClusterGenerator>,
    /// Directories or files of a Git repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitGenerator>,
    /// A nested matrix, as JSON: `{generators: [...]}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub matrix: Option<Value>,
    /// A nested merge, as JSON: `{generators: [...], mergeKeys: [...]}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub merge: Option<Value>,
    /// Repositories of an SCM provider. Accepted, not supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub scm_provider: Option<Value>,
    /// Pull requests of a repository. Accepted, not supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub pull_request: Option<Value>,
    /// A duck-typed placement resource. Accepted, not supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub cluster_decision_resource: Option<Value>,
    /// An external plugin. Accepted, not supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub plugin: Option<Value>,
    /// Keeps only the parameter sets whose values match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "label_selector")]
    pub selector: Option<Value>,
}

/// The `list` generator.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListGenerator {
    /// The parameter sets, each an object.
    #[serde(default)]
    pub elements: Vec<Value>,
    /// The parameter sets as YAML text (a list of objects), usually from a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elements_yaml: Option<String>,
    /// A template overriding the ApplicationSet's for these parameter sets.
    #[serde(default, skip_serializing_if = "ApplicationSetTemplate::is_empty")]
    pub template: ApplicationSetTemplate,
}

/// The `clusters` generator.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterGenerator {
    /// Only clusters whose Secrets carry these labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "label_selector")]
    pub selector: Option<Value>,
    /// Extra parameters (`values.<key>`), templated per cluster.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    /// One parameter set holding every cluster (`clusters` list) instead of one per cluster.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flat_list: bool,
    /// A template overriding the ApplicationSet's.
    #[serde(default, skip_serializing_if = "ApplicationSetTemplate::is_empty")]
    pub template: ApplicationSetTemplate,
}

/// The `git` generator: `directories` or `files`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitGenerator {
    /// The repository.
    #[serde(rename = "repoURL", default)]
    pub repo_url: String,
    /// The branch, tag or commit (`HEAD` when empty).
    #[serde(default)]
    pub revision: String,
    /// Directory globs; one parameter set per matching directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directories: Vec<GitPathItem>,
    /// File globs; one parameter set per matching JSON or YAML file (or per element of one
    /// holding a list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<GitPathItem>,
    /// A prefix for the `path` parameters (`pathParamPrefix: app` gives `app.path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_param_prefix: Option<String>,
    /// Extra parameters (`values.<key>`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    /// How often to look again, in seconds (180 when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requeue_after_seconds: Option<i64>,
    /// A template overriding the ApplicationSet's.
    #[serde(default, skip_serializing_if = "ApplicationSetTemplate::is_empty")]
    pub template: ApplicationSetTemplate,
}

/// A path glob of the git generator.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
pub struct GitPathItem {
    /// The glob (`apps/*`).
    #[serde(default)]
    pub path: String,
    /// Leave out what matches, even when an earlier item included it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclude: bool,
}

/// The `matrix` generator: the product of its two generators' parameter sets.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MatrixGenerator {
    /// Exactly two generators.
    #[serde(default)]
    pub generators: Vec<ApplicationSetNestedGenerator>,
    /// A template overriding the ApplicationSet's.
    #[serde(default, skip_serializing_if = "ApplicationSetTemplate::is_empty")]
    pub template: ApplicationSetTemplate,
}

/// The `merge` generator: the first generator's parameter sets, overridden by the others'
/// where `mergeKeys` match.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MergeGenerator {
    /// The generators; the first is the base.
    #[serde(default)]
    pub generators: Vec<ApplicationSetNestedGenerator>,
    /// The parameters whose values identify a parameter set.
    #[serde(default)]
    pub merge_keys: Vec<String>,
    /// A template overriding the ApplicationSet's.
    #[serde(default, skip_serializing_if = "ApplicationSetTemplate::is_empty")]
    pub template: ApplicationSetTemplate,
}

/// The template of generated Applications.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
pub struct ApplicationSetTemplate {
    /// The Application's name, namespace, labels, annotations and finalizers.
    #[serde(default)]
    pub metadata: ApplicationSetTemplateMeta,
    /// The Application's spec.
    #[serde(default)]
    pub spec: ApplicationSpec,
}

impl ApplicationSetTemplate {
    /// Whether nothing is set (a generator without a template of its own).
    pub fn is_empty(&self) -> bool {
        *self == ApplicationSetTemplate::default()
    }
}

/// The metadata fields a template may set.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
pub struct ApplicationSetTemplateMeta {
    /// The Application's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The Application's namespace (the ApplicationSet's when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Finalizers, such as `resources-finalizer.argocd.argoproj.io`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

/// `spec.syncPolicy`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetSyncPolicy {
    /// Keep the Applications' resources when the ApplicationSet deletes an Application.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preserve_resources_on_deletion: bool,
    /// `create-only`, `create-update`, `create-delete` or `sync` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applications_sync: Option<String>,
}

/// `spec.preservedFields`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
pub struct ApplicationPreservedFields {
    /// Annotation keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<String>,
    /// Label keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

/// One entry of `spec.ignoreApplicationDifferences`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetResourceIgnoreDifferences {
    /// Only the Application with this name; all when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fields as JSON pointers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json_pointers: Vec<String>,
    /// Fields as jq paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jq_path_expressions: Vec<String>,
}

/// The ApplicationSet's `status`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetStatus {
    /// `ErrorOccurred`, `ParametersGenerated`, `ResourcesUpToDate`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ApplicationSetCondition>,
    /// Progressive sync state per Application.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "any_object_list")]
    pub application_status: Vec<Value>,
    /// The generated Applications, with their sync and health status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceStatus>,
    /// How many Applications were generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources_count: Option<i64>,
    /// The generated Applications' aggregated health.
    #[serde(default, skip_serializing_if = "HealthStatus::is_empty")]
    pub health: HealthStatus,
}

impl ApplicationSetStatus {
    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        *self == ApplicationSetStatus::default()
    }
}

/// One entry of the ApplicationSet's `status.conditions`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetCondition {
    /// The condition.
    #[serde(rename = "type", default)]
    pub condition_type: String,
    /// What happened.
    #[serde(default)]
    pub message: String,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: String,
    /// A machine-readable reason (`ApplicationSetUpToDate`, `ErrorOccurred`, ...).
    #[serde(default)]
    pub reason: String,
    /// When the condition changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

fn label_selector(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "properties": {
            "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
            "matchExpressions": {"type": "array", "items": {
                "type": "object",
                "required": ["key", "operator"],
                "properties": {
                    "key": {"type": "string"},
                    "operator": {"type": "string"},
                    "values": {"type": "array", "items": {"type": "string"}},
                },
            }},
        },
    })
}

fn any_object_list(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let item = any_object(generator);
    schemars::json_schema!({"type": "array", "items": item})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_of_every_supported_kind_parse() {
        let value = serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "ApplicationSet",
            "metadata": {"name": "guestbook", "namespace": "argocd"},
            "spec": {
                "goTemplate": true,
                "goTemplateOptions": ["missingkey=error"],
                "generators": [{"matrix": {"generators": [
                    {"git": {"repoURL": "https://github.com/argoproj/argo-cd.git", "revision": "HEAD",
                             "directories": [{"path": "apps/*"}, {"path": "apps/skip", "exclude": true}]}},
                    {"clusters": {"selector": {"matchLabels": {"env": "prod"}}, "values": {"tier": "a"}}}
                ]}}, {"list": {"elements": [{"cluster": "dev", "url": "https://1.2.3.4"}]}}],
                "template": {
                    "metadata": {"name": "{{.path.basename}}-{{.name}}"},
                    "spec": {"project": "default",
                             "source": {"repoURL": "https://github.com/argoproj/argo-cd.git",
                                        "targetRevision": "HEAD", "path": "{{.path.path}}"},
                             "destination": {"server": "{{.server}}", "namespace": "{{.path.basename}}"}}
                },
                "syncPolicy": {"applicationsSync": "create-update", "preserveResourcesOnDeletion": true}
            }
        });
        let set: ApplicationSet = serde_json::from_value(value.clone()).unwrap();
        let matrix = set.spec.generators[0].matrix.as_ref().unwrap();
        assert_eq!(
            matrix.generators[0].git.as_ref().unwrap().directories[1].path,
            "apps/skip"
        );
        assert_eq!(serde_json::to_value(&set).unwrap(), value);
    }
}
