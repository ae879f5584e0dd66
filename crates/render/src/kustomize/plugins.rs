//! Kustomize's built-in transformers as configured instances. A kustomization's own fields
//! become [`Transformer`]s in Kustomize's fixed order ([`from_kustomization`]), each with the
//! field specs of the build's [`TransformerConfig`]; a `transformers:` entry with
//! `apiVersion: builtin` parses into the same type ([`from_config`]), with the field specs it
//! gives. One runner per transformer, whichever way it was configured. Built-in generator
//! configs (`generators:`) parse into [`Generator`]s the same way.
//!
//! Plugins that are not built in (exec, Go, KRM functions) are refused: Ferry runs no code
//! from the repository.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::config::TransformerConfig;
use super::fieldspec::FieldSpec;
use super::file::{Generator as GeneratorArgs, Image, Kustomization, Patch, Replica, Selector};
use super::names::{Affix, End, Namespace, SubjectMode};
use super::resource::Resource;
use super::{KustomizeError, Location, images, labels, patches, replacements, replicas};

/// One configured transformer.
#[derive(Clone, Debug)]
pub enum Transformer {
    /// Strategic-merge patches matched to objects by their own ids: files or inline YAML.
    PatchStrategicMerge(Vec<String>),
    Patch(Patch),
    Namespace(Namespace),
    Affix(Affix),
    Labels {
        labels: BTreeMap<String, String>,
        field_specs: Vec<FieldSpec>,
    },
    Annotations {
        annotations: BTreeMap<String, String>,
        field_specs: Vec<FieldSpec>,
    },
    Json6902(Patch),
    Replicas {
        replica: Replica,
        field_specs: Vec<FieldSpec>,
    },
    /// Consecutive image transformers with the same field specs (Kustomize's one per
    /// `images` entry), run in one pass.
    Images {
        images: Vec<Image>,
        field_specs: Vec<FieldSpec>,
    },
    Replacements(Vec<Value>),
}

impl Transformer {
    /// Kustomize's name for the plugin (`buildMetadata` records it).
    pub fn kind(&self) -> &'static str {
        match self {
            Transformer::PatchStrategicMerge(_) => "PatchStrategicMergeTransformer",
            Transformer::Patch(_) => "PatchTransformer",
            Transformer::Namespace(_) => "NamespaceTransformer",
            Transformer::Affix(a) if a.end == End::Prefix => "PrefixTransformer",
            Transformer::Affix(_) => "SuffixTransformer",
            Transformer::Labels { .. } => "LabelTransformer",
            Transformer::Annotations { .. } => "AnnotationsTransformer",
            Transformer::Json6902(_) => "PatchJson6902Transformer",
            Transformer::Replicas { .. } => "ReplicaCountTransformer",
            Transformer::Images { .. } => "ImageTagTransformer",
            Transformer::Replacements(_) => "ReplacementTransformer",
        }
    }

    /// How many of Kustomize's plugin instances this stands for (`buildMetadata` records
    /// each).
    pub fn instances(&self) -> usize {
        match self {
            Transformer::Images { images, .. } => images.len(),
            _ => 1,
        }
    }

    pub fn apply(&self, loc: &Location, acc: &mut [Resource]) -> Result<(), KustomizeError> {
        match self {
            Transformer::PatchStrategicMerge(entries) => {
                patches::strategic_merge_legacy(loc, entries, acc)
            }
            Transformer::Patch(p) => patches::patches(loc, std::slice::from_ref(p), acc),
            Transformer::Namespace(ns) => ns.apply(loc, acc),
            Transformer::Affix(affix) => {
                affix.apply(acc);
                Ok(())
            }
            Transformer::Labels {
                labels,
                field_specs,
            } => labels::add_pairs(loc, labels, field_specs, acc),
            Transformer::Annotations {
                annotations,
                field_specs,
            } => labels::add_pairs(loc, annotations, field_specs, acc),
            Transformer::Json6902(p) => patches::json6902_legacy(loc, std::slice::from_ref(p), acc),
            Transformer::Replicas {
                replica,
                field_specs,
            } => replicas::apply(loc, replica, field_specs, acc),
            Transformer::Images {
                images,
                field_specs,
            } => images::apply(loc, images, field_specs, acc),
            Transformer::Replacements(entries) => replacements::apply(loc, entries, acc),
        }
    }
}

/// The transformers a kustomization's fields configure, in the order Kustomize runs them
/// (strategic-merge patches, patches, namespace, prefix, suffix, labels, annotations, JSON
/// 6902 patches, replicas, images, replacements).
pub fn from_kustomization(
    loc: &Location,
    k: &Kustomization,
    config: &TransformerConfig,
) -> Result<Vec<Transformer>, KustomizeError> {
    let mut out = Vec::new();
    if !k.patches_strategic_merge.is_empty() {
        out.push(Transformer::PatchStrategicMerge(
            k.patches_strategic_merge.clone(),
        ));
    }
    out.extend(k.patches.iter().cloned().map(Transformer::Patch));
    if !k.namespace.is_empty() {
        out.push(Transformer::Namespace(Namespace {
            namespace: k.namespace.clone(),
            field_specs: config.namespace.clone(),
            ..Namespace::default()
        }));
    }
    for (end, value, specs) in [
        (End::Prefix, &k.name_prefix, &config.name_prefix),
        (End::Suffix, &k.name_suffix, &config.name_suffix),
    ] {
        if !value.is_empty() {
            out.push(Transformer::Affix(Affix {
                end,
                value: value.clone(),
                field_specs: specs.clone(),
            }));
        }
    }
    if !k.labels.is_empty() || !k.common_labels.is_empty() {
        for label in &k.labels {
            out.push(Transformer::Labels {
                labels: label.pairs.clone(),
                field_specs: labels::label_fields(loc, label, config)?,
            });
        }
        out.push(Transformer::Labels {
            labels: k.common_labels.clone(),
            field_specs: config.common_labels.clone(),
        });
    }
    if !k.common_annotations.is_empty() {
        out.push(Transformer::Annotations {
            annotations: k.common_annotations.clone(),
            field_specs: config.common_annotations.clone(),
        });
    }
    out.extend(
        k.patches_json6902
            .iter()
            .cloned()
            .map(Transformer::Json6902),
    );
    out.extend(k.replicas.iter().map(|replica| Transformer::Replicas {
        replica: replica.clone(),
        field_specs: config.replicas.clone(),
    }));
    if !k.images.is_empty() {
        out.push(Transformer::Images {
            images: k.images.clone(),
            field_specs: config.images.clone(),
        });
    }
    if !k.replacements.is_empty() {
        out.push(Transformer::Replacements(k.replacements.clone()));
    }
    Ok(out)
}

/// A plugin configuration object: its kind, its `metadata` and the rest of its fields.
pub struct PluginConfig {
    pub kind: String,
    pub name: String,
    pub namespace: String,
    fields: Map<String, Value>,
}

impl PluginConfig {
    /// Reads a configuration object, refusing any plugin that is not built in.
    pub fn new(loc: &Location, obj: Value) -> Result<Self, KustomizeError> {
        let Value::Object(mut fields) = obj else {
            return Err(loc.invalid("a plugin configuration must be an object"));
        };
        let text = |v: Option<Value>| match v {
            Some(Value::String(s)) => s,
            _ => String::new(),
        };
        let api_version = text(fields.remove("apiVersion"));
        let kind = text(fields.remove("kind"));
        let meta = fields.remove("metadata").unwrap_or_default();
        let meta_field = |key: &str| meta.get(key).and_then(Value::as_str).unwrap_or_default();
        if api_version != "builtin" {
            return Err(loc.invalid(format!(
                "external plugins are not supported: unable to load plugin `{kind}` \
                 (apiVersion `{api_version}`); only `apiVersion: builtin` plugins run"
            )));
        }
        Ok(Self {
            name: meta_field("name").to_string(),
            namespace: meta_field("namespace").to_string(),
            kind,
            fields,
        })
    }

    /// The configuration's fields as `T`. Fields `T` does not know are ignored, as Kustomize
    /// ignores them in plugin configurations; `known` lists `T`'s when `T` itself refuses
    /// unknown fields (the kustomization's own types do).
    fn parse<T: DeserializeOwned>(
        &self,
        loc: &Location,
        known: Option<&[&str]>,
    ) -> Result<T, KustomizeError> {
        let mut fields: Map<String, Value> = self
            .fields
            .iter()
            .filter(|(k, _)| known.is_none_or(|known| known.contains(&k.as_str())))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(Value::Array(specs)) = fields.get_mut("fieldSpecs") {
            for spec in specs.iter_mut().filter_map(Value::as_object_mut) {
                spec.retain(|k, _| FIELD_SPEC_FIELDS.contains(&k.as_str()));
            }
        }
        serde_json::from_value(Value::Object(fields))
            .map_err(|e| loc.invalid(format!("builtin {} `{}`: {e}", self.kind, self.name)))
    }
}

/// The fields of a field spec.
const FIELD_SPEC_FIELDS: [&str; 5] = ["group", "version", "kind", "path", "create"];

/// The fields of a `PatchTransformer` configuration.
const PATCH_FIELDS: [&str; 4] = ["path", "patch", "target", "options"];

/// The fields of a `ConfigMapGenerator` or `SecretGenerator` configuration.
const GENERATOR_FIELDS: [&str; 9] = [
    "name",
    "namespace",
    "behavior",
    "literals",
    "files",
    "envs",
    "env",
    "type",
    "options",
];

/// The configuration of a built-in prefix, suffix, label or annotation transformer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FieldsConfig {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    suffix: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    field_specs: Option<Vec<FieldSpec>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NamespaceConfig {
    #[serde(default)]
    field_specs: Vec<FieldSpec>,
    #[serde(default)]
    unset_only: bool,
    #[serde(default)]
    set_role_binding_subjects: SubjectMode,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Json6902Config {
    target: Option<Selector>,
    #[serde(default)]
    path: String,
    #[serde(default)]
    json_op: String,
}

#[derive(Deserialize)]
struct StrategicMergeConfig {
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    patches: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageConfig {
    image_tag: Image,
    #[serde(default)]
    field_specs: Vec<FieldSpec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReplicaConfig {
    replica: Replica,
    #[serde(default)]
    field_specs: Vec<FieldSpec>,
}

#[derive(Deserialize)]
struct ReplacementConfig {
    #[serde(default)]
    replacements: Vec<Value>,
}

/// The transformers a built-in transformer configuration (a `transformers:` object)
/// configures: one, or two for the legacy `PrefixSuffixTransformer`.
pub fn from_config(loc: &Location, c: &PluginConfig) -> Result<Vec<Transformer>, KustomizeError> {
    let one = |t| Ok(vec![t]);
    match c.kind.as_str() {
        "PatchStrategicMergeTransformer" => {
            let s: StrategicMergeConfig = c.parse(loc, None)?;
            let mut entries = s.paths;
            if !s.patches.is_empty() {
                entries.push(s.patches);
            }
            if entries.is_empty() {
                return Err(loc.invalid(format!(
                    "builtin {} `{}`: empty file path and empty patch content",
                    c.kind, c.name
                )));
            }
            one(Transformer::PatchStrategicMerge(entries))
        }
        "PatchTransformer" => one(Transformer::Patch(c.parse(loc, Some(&PATCH_FIELDS))?)),
        "PatchJson6902Transformer" => {
            let j: Json6902Config = c.parse(loc, None)?;
            one(Transformer::Json6902(Patch {
                path: j.path,
                patch: j.json_op,
                target: j.target,
                ..Patch::default()
            }))
        }
        "NamespaceTransformer" => {
            let n: NamespaceConfig = c.parse(loc, None)?;
            one(Transformer::Namespace(Namespace {
                namespace: c.namespace.clone(),
                field_specs: n.field_specs,
                unset_only: n.unset_only,
                subjects: n.set_role_binding_subjects,
            }))
        }
        "PrefixTransformer" | "SuffixTransformer" | "PrefixSuffixTransformer" => {
            let f: FieldsConfig = c.parse(loc, None)?;
            let Some(field_specs) = f.field_specs else {
                return Err(loc.invalid(format!(
                    "builtin {} `{}`: fieldSpecs is not expected to be nil",
                    c.kind, c.name
                )));
            };
            let mut out = Vec::new();
            for (end, value, kind) in [
                (End::Prefix, f.prefix, "PrefixTransformer"),
                (End::Suffix, f.suffix, "SuffixTransformer"),
            ] {
                if c.kind == kind || c.kind == "PrefixSuffixTransformer" {
                    out.push(Transformer::Affix(Affix {
                        end,
                        value,
                        field_specs: field_specs.clone(),
                    }));
                }
            }
            Ok(out)
        }
        "LabelTransformer" => {
            let f: FieldsConfig = c.parse(loc, None)?;
            one(Transformer::Labels {
                labels: f.labels,
                field_specs: f.field_specs.unwrap_or_default(),
            })
        }
        "AnnotationsTransformer" => {
            let f: FieldsConfig = c.parse(loc, None)?;
            one(Transformer::Annotations {
                annotations: f.annotations,
                field_specs: f.field_specs.unwrap_or_default(),
            })
        }
        "ImageTagTransformer" => {
            let i: ImageConfig = c.parse(loc, None)?;
            one(Transformer::Images {
                images: vec![i.image_tag],
                field_specs: i.field_specs,
            })
        }
        "ReplicaCountTransformer" => {
            let r: ReplicaConfig = c.parse(loc, None)?;
            one(Transformer::Replicas {
                replica: r.replica,
                field_specs: r.field_specs,
            })
        }
        "ReplacementTransformer" => {
            let r: ReplacementConfig = c.parse(loc, None)?;
            one(Transformer::Replacements(r.replacements))
        }
        other => Err(loc.invalid(format!(
            "`{other}` is not a built-in transformer Ferry runs (transformers: \
             PatchStrategicMergeTransformer, PatchTransformer, PatchJson6902Transformer, \
             NamespaceTransformer, PrefixTransformer, SuffixTransformer, \
             PrefixSuffixTransformer, LabelTransformer, AnnotationsTransformer, \
             ImageTagTransformer, ReplicaCountTransformer, ReplacementTransformer)"
        ))),
    }
}

/// A configured built-in generator.
pub enum Generator {
    ConfigMap(GeneratorArgs),
    Secret(GeneratorArgs),
    /// A GKE workload-identity ServiceAccount (`IAMPolicyGenerator`).
    GkeServiceAccount(Value),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IamPolicyConfig {
    cloud: String,
    kubernetes_service: KubernetesService,
    service_account: GcpServiceAccount,
}

#[derive(Deserialize)]
struct KubernetesService {
    name: String,
    #[serde(default)]
    namespace: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GcpServiceAccount {
    name: String,
    project_id: String,
}

/// The generator a built-in generator configuration (a `generators:` object) configures.
pub fn generator_from_config(
    loc: &Location,
    c: &PluginConfig,
) -> Result<Generator, KustomizeError> {
    match c.kind.as_str() {
        "ConfigMapGenerator" | "SecretGenerator" => {
            let mut config = c.fields.clone();
            if !config.contains_key("name") {
                config.insert("name".into(), Value::String(c.name.clone()));
            }
            let c = &PluginConfig {
                fields: config,
                kind: c.kind.clone(),
                name: c.name.clone(),
                namespace: c.namespace.clone(),
            };
            let mut args: GeneratorArgs = c.parse(loc, Some(&GENERATOR_FIELDS))?;
            if args.namespace.is_empty() {
                args.namespace = c.namespace.clone();
            }
            Ok(if c.kind == "ConfigMapGenerator" {
                Generator::ConfigMap(args)
            } else {
                Generator::Secret(args)
            })
        }
        "IAMPolicyGenerator" => {
            let p: IamPolicyConfig = c.parse(loc, None)?;
            if p.cloud != "gke" {
                return Err(loc.invalid(format!(
                    "builtin IAMPolicyGenerator `{}`: cloud provider {} not supported yet",
                    c.name, p.cloud
                )));
            }
            let mut meta = Map::new();
            meta.insert(
                "annotations".into(),
                serde_json::json!({
                    "iam.gke.io/gcp-service-account": format!(
                        "{}@{}.iam.gserviceaccount.com",
                        p.service_account.name, p.service_account.project_id
                    )
                }),
            );
            meta.insert("name".into(), Value::String(p.kubernetes_service.name));
            if !p.kubernetes_service.namespace.is_empty() {
                meta.insert(
                    "namespace".into(),
                    Value::String(p.kubernetes_service.namespace),
                );
            }
            Ok(Generator::GkeServiceAccount(serde_json::json!({
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": meta,
            })))
        }
        other => Err(loc.invalid(format!(
            "`{other}` is not a built-in generator Ferry runs (generators: \
             ConfigMapGenerator, SecretGenerator, IAMPolicyGenerator)"
        ))),
    }
}
