//! `Application.spec.source` / `spec.sources[]`: where manifests come from and which tool
//! renders them (Argo CD's `ApplicationSource` and its `helm`, `kustomize`, `directory`
//! blocks).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::application::SourceError;

/// One source: a Git path, or a chart of a Helm repository (`chart` set).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSource {
    /// The Git repository, Helm repository or OCI registry.
    #[serde(rename = "repoURL", default)]
    pub repo_url: String,
    /// The directory in a Git repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Branch, tag, commit or (for charts) a version or semver range; `HEAD` when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_revision: Option<String>,
    /// The chart name, for a Helm repository source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    /// Names this source for `$ref/...` value files of other sources.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// A name for the source, shown in the UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Only tags with this prefix are candidates for a semver `targetRevision`; the prefix
    /// is stripped before comparing. Not supported yet: a source that sets it is refused
    /// ([`SourceError::TagPrefix`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_prefix: Option<String>,
    /// Helm parameters; set means the source is a Helm chart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm: Option<ApplicationSourceHelm>,
    /// Kustomize overrides; set means the source is a kustomization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<ApplicationSourceKustomize>,
    /// Directory options; set means the source is plain manifests or Jsonnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<ApplicationSourceDirectory>,
    /// Config management plugins are not supported; kept to report that clearly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::crd::any_object")]
    pub plugin: Option<serde_json::Value>,
}

impl ApplicationSource {
    /// The revision to resolve: `targetRevision`, or `HEAD` when empty.
    pub fn revision(&self) -> &str {
        match self.target_revision.as_deref() {
            None | Some("") => "HEAD",
            Some(r) => r,
        }
    }

    /// The source's path in its repository (`""` for the root).
    pub fn path(&self) -> &str {
        self.path.as_deref().unwrap_or("")
    }

    /// Whether this source is a chart of a Helm repository (HTTP or OCI) rather than Git.
    pub fn is_chart(&self) -> bool {
        self.chart.as_deref().is_some_and(|c| !c.is_empty())
    }

    pub(crate) fn validate(&self, field: &str) -> Result<(), SourceError> {
        let field = field.to_string();
        if self.repo_url.is_empty() {
            return Err(SourceError::NoRepoUrl { field });
        }
        let tools = [
            self.helm.is_some(),
            self.kustomize.is_some(),
            self.directory.is_some(),
            self.plugin.is_some(),
        ];
        if tools.iter().filter(|set| **set).count() > 1 {
            return Err(SourceError::SeveralTools { field });
        }
        if self.tag_prefix.as_deref().is_some_and(|p| !p.is_empty()) {
            return Err(SourceError::TagPrefix { field });
        }
        if self.is_chart() {
            if self.target_revision.as_deref().unwrap_or("").is_empty() {
                return Err(SourceError::ChartWithoutVersion { field });
            }
            if !self.path().is_empty() {
                return Err(SourceError::ChartAndPath { field });
            }
        }
        Ok(())
    }
}

/// `source.helm`. Precedence of values: parameters > valuesObject > values > valueFiles >
/// the chart's `values.yaml`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourceHelm {
    /// Value files, relative to the chart (or `$ref/` paths into another source).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value_files: Vec<String>,
    /// `--set` parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<HelmParameter>,
    /// `--set-file` parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_parameters: Vec<HelmFileParameter>,
    /// Defaults to the Application's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_name: Option<String>,
    /// A YAML document, as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<String>,
    /// Wins over `values` when both are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::crd::any_object")]
    pub values_object: Option<serde_json::Value>,
    /// Skip value files that do not exist instead of failing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_missing_value_files: bool,
    /// Pass repository credentials to every chart domain (`--pass-credentials`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pass_credentials: bool,
    /// Leave out the chart's CRDs (`--skip-crds`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_crds: bool,
    /// Skip the chart's values schema (`--skip-schema-validation`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_schema_validation: bool,
    /// Leave out test hooks (`--skip-tests`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_tests: bool,
    /// Defaults to the destination namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The Kubernetes version templates see (`--kube-version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
    /// Extra API versions templates see (`--api-versions`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_versions: Vec<String>,
    /// Ignored since Helm 4 (Argo CD accepts `v3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A `--set` parameter.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmParameter {
    /// The value's path (`image.tag`).
    #[serde(default)]
    pub name: String,
    /// The value.
    #[serde(default)]
    pub value: String,
    /// Keep the value a string (`--set-string`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force_string: bool,
}

/// A `--set-file` parameter.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
pub struct HelmFileParameter {
    /// The value's path.
    #[serde(default)]
    pub name: String,
    /// The file whose content is the value, relative to the chart.
    #[serde(default)]
    pub path: String,
}

/// `source.kustomize`: overrides Argo CD applies on top of the kustomization (it runs
/// `kustomize edit` on the checkout; Ferry applies them to the parsed root kustomization).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourceKustomize {
    /// Prefix for every object's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// Suffix for every object's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_suffix: Option<String>,
    /// `name=newName:tag`, `name:tag`, `name@digest` or `name=newName@digest`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// Labels for every object (and selectors, unless `labelWithoutSelector`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub common_labels: BTreeMap<String, String>,
    /// Annotations for every object.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub common_annotations: BTreeMap<String, String>,
    /// Substitute `$ARGOCD_APP_*` in `commonAnnotations`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub common_annotations_envsubst: bool,
    /// Replace labels the kustomization already sets.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force_common_labels: bool,
    /// Replace annotations the kustomization already sets.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force_common_annotations: bool,
    /// Apply `commonLabels` to objects only, not to selectors.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub label_without_selector: bool,
    /// With `labelWithoutSelector`, label pod templates too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub label_include_templates: bool,
    /// The namespace for every namespaced object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Replica counts by workload name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<KustomizeReplica>,
    /// Patches added to the kustomization.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<KustomizePatch>,
    /// Components added to the kustomization.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// Skip components that do not exist instead of failing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_missing_components: bool,
    /// A named Kustomize version registered in argocd-cm; Ferry has one, native.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The Kubernetes version charts of `helmCharts` see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
    /// Extra API versions charts of `helmCharts` see.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_versions: Vec<String>,
}

/// `replicas[]`: `count` is an integer or a string holding one.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
pub struct KustomizeReplica {
    /// The workload's name.
    #[serde(default)]
    pub name: String,
    /// The replica count.
    #[serde(default)]
    #[schemars(schema_with = "crate::crd::int_or_string")]
    pub count: serde_json::Value,
}

/// `patches[]`, as in a kustomization.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
pub struct KustomizePatch {
    /// A file holding the patch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The patch inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// The objects the patch applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<KustomizeSelector>,
    /// `allowNameChange` and `allowKindChange`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, bool>,
}

/// A patch target: every field set must match.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KustomizeSelector {
    /// The API group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The API version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The name (a regular expression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The namespace (a regular expression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// A label selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
    /// An annotation selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_selector: Option<String>,
}

/// `source.directory`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourceDirectory {
    /// Read subdirectories too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recurse: bool,
    /// Jsonnet arguments, variables and library paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonnet: Option<ApplicationSourceJsonnet>,
    /// Glob with `{a,b}` alternation; wins over `include`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<String>,
    /// Glob with `{a,b}` alternation: only matching files are read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
    /// Read files of any extension (as YAML) that `include` and `exclude` let through, not
    /// only `.yaml`, `.yml`, `.json` and `.jsonnet`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_extension_filter: bool,
}

/// `directory.jsonnet`: top-level arguments, external variables and library paths.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourceJsonnet {
    /// External variables (`std.extVar`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ext_vars: Vec<JsonnetVar>,
    /// Top-level arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tlas: Vec<JsonnetVar>,
    /// Library search paths, relative to the repository root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libs: Vec<String>,
}

/// A Jsonnet variable: a string `value`, or Jsonnet `code` when `code` is true.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
pub struct JsonnetVar {
    /// The variable's name.
    #[serde(default)]
    pub name: String,
    /// Its value, a string or Jsonnet code.
    #[serde(default)]
    pub value: String,
    /// Whether `value` is Jsonnet code.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub code: bool,
}
