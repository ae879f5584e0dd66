//! The kustomization file: finding it in a directory, and reading it into [`Kustomization`]
//! with every field checked: a field Ferry does not implement is an error naming it, never
//! silently ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::KustomizeError;
use super::fieldspec::FieldSpec;
use super::vars::Var;
use crate::manifest::parse_documents;
use crate::tree::{Tree, join};

/// The file names Kustomize recognizes, in its order.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Fields Kustomize knows that Ferry does not implement yet.
const UNSUPPORTED: &[&str] = &["helmChartInflationGenerator", "validators", "nameReference"];

const SUPPORTED: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
    "replicas",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "crds",
    "replacements",
    "vars",
    "sortOptions",
    "helmCharts",
    "helmGlobals",
    "buildMetadata",
    "configurations",
    "transformers",
    "generators",
    "openapi",
];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Kustomization {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub bases: Vec<String>,
    #[serde(default)]
    pub components: Vec<String>,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub name_prefix: String,
    #[serde(default)]
    pub name_suffix: String,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub replicas: Vec<Replica>,
    #[serde(default)]
    pub patches: Vec<Patch>,
    #[serde(default)]
    pub patches_strategic_merge: Vec<String>,
    #[serde(default)]
    pub patches_json6902: Vec<Patch>,
    #[serde(default)]
    pub config_map_generator: Vec<Generator>,
    #[serde(default)]
    pub secret_generator: Vec<Generator>,
    #[serde(default)]
    pub generator_options: Option<GeneratorOptions>,
    #[serde(default)]
    pub crds: Vec<String>,
    #[serde(default)]
    pub replacements: Vec<Value>,
    #[serde(default)]
    pub vars: Vec<Var>,
    #[serde(default)]
    pub sort_options: Option<SortOptions>,
    #[serde(default)]
    pub build_metadata: Vec<String>,
    #[serde(default)]
    pub helm_charts: Vec<HelmChart>,
    #[serde(default)]
    pub helm_globals: Option<HelmGlobals>,
    /// Transformer configuration files ([`super::config`]).
    #[serde(default)]
    pub configurations: Vec<String>,
    /// Built-in transformer configurations: inline, files or kustomization directories.
    #[serde(default)]
    pub transformers: Vec<String>,
    /// Built-in generator configurations, as `transformers`.
    #[serde(default)]
    pub generators: Vec<String>,
    /// The OpenAPI schema for patches (`path` or `version`, [`super::openapi`]).
    #[serde(default)]
    pub openapi: BTreeMap<String, String>,
}

/// `helmGlobals`: where charts live (`chartHome`, default `charts`, relative to the
/// kustomization). `configHome` is accepted and ignored: Helm runs with private directories.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HelmGlobals {
    #[serde(default)]
    pub chart_home: String,
    /// Accepted and ignored.
    #[serde(default, rename = "configHome")]
    _config_home: serde::de::IgnoredAny,
}

/// An entry of `helmCharts` (Kustomize's `HelmChart`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HelmChart {
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "scalar_string")]
    pub version: String,
    #[serde(default)]
    pub repo: String,
    #[serde(default)]
    pub release_name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub additional_values_files: Vec<String>,
    #[serde(default)]
    pub values_file: String,
    #[serde(default)]
    pub values_inline: serde_json::Map<String, Value>,
    #[serde(default)]
    pub values_merge: String,
    #[serde(default, rename = "includeCRDs")]
    pub include_crds: bool,
    #[serde(default)]
    pub skip_hooks: bool,
    #[serde(default)]
    pub api_versions: Vec<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    pub kube_version: String,
    #[serde(default)]
    pub name_template: String,
    #[serde(default)]
    pub skip_tests: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Label {
    #[serde(default)]
    pub pairs: BTreeMap<String, String>,
    #[serde(default)]
    pub include_selectors: bool,
    #[serde(default)]
    pub include_templates: bool,
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Image {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub new_name: String,
    #[serde(default, deserialize_with = "scalar_string")]
    pub new_tag: String,
    /// Appended to the image's tag when neither `newTag` nor `digest` is given.
    #[serde(default, deserialize_with = "scalar_string")]
    pub tag_suffix: String,
    #[serde(default)]
    pub digest: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replica {
    pub name: String,
    pub count: i64,
}

/// An entry of `patches` or `patchesJson6902`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub patch: String,
    #[serde(default)]
    pub target: Option<Selector>,
    #[serde(default)]
    pub options: BTreeMap<String, bool>,
}

/// Which resources a patch or replacement applies to.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Selector {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub label_selector: String,
    #[serde(default)]
    pub annotation_selector: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Generator {
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub behavior: String,
    #[serde(default)]
    pub literals: Vec<String>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub envs: Vec<String>,
    #[serde(default)]
    pub env: String,
    #[serde(default, rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub options: Option<GeneratorOptions>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GeneratorOptions {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub disable_name_suffix_hash: Option<bool>,
    #[serde(default)]
    pub immutable: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SortOptions {
    #[serde(default)]
    pub order: String,
    #[serde(default)]
    pub legacy_sort_options: Option<LegacySortOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegacySortOptions {
    #[serde(default)]
    pub order_first: Vec<String>,
    #[serde(default)]
    pub order_last: Vec<String>,
}

/// A YAML scalar read as a string (`newTag: 1.21` is the tag "1.21").
fn scalar_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// Finds the kustomization file of `dir` (repository-relative): `None` if there is none, an
/// error if there are several.
pub fn find(tree: &dyn Tree, dir: &str) -> Result<Option<String>, KustomizeError> {
    let found: Vec<String> = FILE_NAMES
        .iter()
        .filter_map(|name| join(dir, name))
        .filter(|path| tree.exists(path) && !tree.is_dir(path))
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        _ => Err(KustomizeError::Invalid {
            file: dir.to_string(),
            message: format!("found several kustomization files: {}", found.join(", ")),
        }),
    }
}

/// Reads and checks a kustomization file.
pub fn load(tree: &dyn Tree, file: &str) -> Result<Kustomization, KustomizeError> {
    let bytes = tree.read(file)?;
    let mut docs = parse_documents(file, &bytes)?;
    let doc = match docs.len() {
        0 => return Ok(Kustomization::default()),
        1 => docs.remove(0),
        _ => {
            return Err(KustomizeError::Invalid {
                file: file.to_string(),
                message: "a kustomization file holds one document".into(),
            });
        }
    };
    let Value::Object(written) = doc else {
        return Err(KustomizeError::Invalid {
            file: file.to_string(),
            message: "a kustomization must be a mapping".into(),
        });
    };
    // Kustomize reads the file with Go's JSON decoder, which matches field names ignoring
    // case (`nameprefix` is `namePrefix`).
    let fields: serde_json::Map<String, Value> = written
        .into_iter()
        .map(|(field, value)| {
            let known = SUPPORTED.iter().chain(UNSUPPORTED);
            let canonical = known
                .clone()
                .find(|k| **k == field)
                .or_else(|| known.clone().find(|k| k.eq_ignore_ascii_case(&field)));
            (canonical.map_or(field, |k| k.to_string()), value)
        })
        .collect();
    for field in fields.keys() {
        if UNSUPPORTED.contains(&field.as_str()) {
            return Err(KustomizeError::UnsupportedField {
                file: file.to_string(),
                field: field.clone(),
            });
        }
        if !SUPPORTED.contains(&field.as_str()) {
            return Err(KustomizeError::UnknownField {
                file: file.to_string(),
                field: field.clone(),
            });
        }
    }
    let k: Kustomization =
        serde_json::from_value(Value::Object(fields)).map_err(|e| KustomizeError::Invalid {
            file: file.to_string(),
            message: e.to_string(),
        })?;
    k.check_type(file)?;
    Ok(k)
}

impl Kustomization {
    /// `kind` and `apiVersion` as Kustomize enforces them (both may be left out).
    fn check_type(&self, file: &str) -> Result<(), KustomizeError> {
        let kind = self.kind.as_str();
        if !matches!(kind, "" | "Kustomization" | "Component") {
            return Err(KustomizeError::invalid(
                file,
                "kind should be Kustomization or Component",
            ));
        }
        let required = if kind == "Component" {
            "kustomize.config.k8s.io/v1alpha1"
        } else {
            "kustomize.config.k8s.io/v1beta1"
        };
        if !self.api_version.is_empty() && self.api_version != required {
            let kind = if kind.is_empty() {
                "Kustomization"
            } else {
                kind
            };
            return Err(KustomizeError::invalid(
                file,
                format!("apiVersion for {kind} should be {required}"),
            ));
        }
        Ok(())
    }
}
