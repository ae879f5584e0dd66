//! `Application.spec.source` / `spec.sources[]`: where manifests come from and which tool
//! renders them (Argo CD's `ApplicationSource` and its `helm`, `kustomize`, `directory`
//! blocks).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The parts of an Argo CD `Application` that rendering needs.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// `metadata.name` and `metadata.namespace`.
    #[serde(default)]
    pub metadata: ApplicationMetadata,
    /// `spec`: project, sources and destination.
    #[serde(default)]
    pub spec: ApplicationSpec,
}

/// The Application's `metadata`, as far as rendering reads it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ApplicationMetadata {
    /// The Application's name (`$ARGOCD_APP_NAME`).
    #[serde(default)]
    pub name: String,
    /// The Application's namespace (`$ARGOCD_APP_NAMESPACE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// The Application's `spec`, as far as rendering reads it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    /// The AppProject the Application belongs to.
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
}

/// `spec.destination`: a cluster (by `server` URL or `name`) and a default namespace.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDestination {
    /// The cluster's API server URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The cluster's name, instead of `server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The namespace for objects that name none.
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

/// One source: a Git path, or a chart of a Helm repository (`chart` set).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
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

    fn validate(&self, field: &str) -> Result<(), SourceError> {
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
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
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
    pub values_object: Option<serde_json::Value>,
    /// Skip value files that do not exist instead of failing.
    #[serde(default)]
    pub ignore_missing_value_files: bool,
    /// Pass repository credentials to every chart domain (`--pass-credentials`).
    #[serde(default)]
    pub pass_credentials: bool,
    /// Leave out the chart's CRDs (`--skip-crds`).
    #[serde(default)]
    pub skip_crds: bool,
    /// Skip the chart's values schema (`--skip-schema-validation`).
    #[serde(default)]
    pub skip_schema_validation: bool,
    /// Leave out test hooks (`--skip-tests`).
    #[serde(default)]
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
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HelmParameter {
    /// The value's path (`image.tag`).
    #[serde(default)]
    pub name: String,
    /// The value.
    #[serde(default)]
    pub value: String,
    /// Keep the value a string (`--set-string`).
    #[serde(default)]
    pub force_string: bool,
}

/// A `--set-file` parameter.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
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
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
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
    #[serde(default)]
    pub common_annotations_envsubst: bool,
    /// Replace labels the kustomization already sets.
    #[serde(default)]
    pub force_common_labels: bool,
    /// Replace annotations the kustomization already sets.
    #[serde(default)]
    pub force_common_annotations: bool,
    /// Apply `commonLabels` to objects only, not to selectors.
    #[serde(default)]
    pub label_without_selector: bool,
    /// With `labelWithoutSelector`, label pod templates too.
    #[serde(default)]
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
    #[serde(default)]
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
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct KustomizeReplica {
    /// The workload's name.
    #[serde(default)]
    pub name: String,
    /// The replica count.
    #[serde(default)]
    pub count: serde_json::Value,
}

/// `patches[]`, as in a kustomization.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
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
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
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
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourceDirectory {
    /// Read subdirectories too.
    #[serde(default)]
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
}

/// `directory.jsonnet`: top-level arguments, external variables and library paths.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
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
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct JsonnetVar {
    /// The variable's name.
    #[serde(default)]
    pub name: String,
    /// Its value, a string or Jsonnet code.
    #[serde(default)]
    pub value: String,
    /// Whether `value` is Jsonnet code.
    #[serde(default)]
    pub code: bool,
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
}
