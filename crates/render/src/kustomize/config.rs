//! Kustomize's transformer configuration: the fields each built-in transformer touches
//! (names for prefixes and suffixes, namespaces, labels, annotations, images, replica
//! counts, name and var references).
//!
//! The defaults are data ([`defaults.json`](./defaults.json): Kustomize 5.7.1's
//! `api/internal/konfig/builtinpluginconsts`, in a `configurations` file's schema, one field
//! spec per line; JSON because it is read at every start, and read as YAML it cost 0.6 ms of a
//! 4 ms `ferry render`). A kustomization's `configurations` files and the OpenAPI definitions
//! of its `crds` add to them, and what a kustomization adds stays in force in every
//! kustomization built on it, as in Kustomize: a base's custom configuration is its overlays'
//! too.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use super::fieldspec::{Conflict, FieldSpec, merge};
use super::order::gvk_order;
use super::{KustomizeError, Location};

/// The field specs of every built-in transformer (a `configurations` file's schema).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransformerConfig {
    #[serde(default)]
    pub name_prefix: Vec<FieldSpec>,
    #[serde(default)]
    pub name_suffix: Vec<FieldSpec>,
    #[serde(default)]
    pub namespace: Vec<FieldSpec>,
    #[serde(default)]
    pub common_labels: Vec<FieldSpec>,
    /// Added to every `labels` entry's fields.
    #[serde(default)]
    pub labels: Vec<FieldSpec>,
    /// Where `labels` with `includeTemplates` puts labels.
    #[serde(default)]
    pub template_labels: Vec<FieldSpec>,
    #[serde(default)]
    pub common_annotations: Vec<FieldSpec>,
    #[serde(default)]
    pub name_reference: Vec<NameBackReferences>,
    #[serde(default)]
    pub var_reference: Vec<FieldSpec>,
    #[serde(default)]
    pub images: Vec<FieldSpec>,
    #[serde(default)]
    pub replicas: Vec<FieldSpec>,
}

/// "Objects of this group/version/kind are named in these fields of other objects."
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NameBackReferences {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    /// The referring fields.
    #[serde(default)]
    pub field_specs: Vec<FieldSpec>,
}

impl NameBackReferences {
    /// Whether an object of this group, version and kind is the one referred to (the
    /// entry's empty parts match anything).
    pub fn selects(&self, group: &str, version: &str, kind: &str) -> bool {
        (self.kind.is_empty() || self.kind == kind)
            && (self.group.is_empty() || self.group == group)
            && (self.version.is_empty() || self.version == version)
    }
}

impl TransformerConfig {
    /// Kustomize's built-in configuration.
    pub fn defaults() -> &'static TransformerConfig {
        static DEFAULTS: OnceLock<TransformerConfig> = OnceLock::new();
        DEFAULTS.get_or_init(|| {
            let mut defaults: TransformerConfig =
                serde_json::from_str(include_str!("defaults.json"))
                    .expect("the built-in transformer configuration parses");
            defaults.sort();
            defaults
        })
    }

    /// The defaults with a kustomization's `configurations` files merged in, merged as
    /// Kustomize merges them: the files into one, then that into the defaults.
    pub fn load(
        loc: &Location,
        paths: &[String],
    ) -> Result<Cow<'static, TransformerConfig>, KustomizeError> {
        if paths.is_empty() {
            return Ok(Cow::Borrowed(Self::defaults()));
        }
        let mut config = Self::defaults().clone();
        let mut custom = TransformerConfig::default();
        for reference in paths {
            let (path, bytes) = loc.read(reference)?;
            let mut file: TransformerConfig =
                yaml_serde::from_slice(&bytes).map_err(|e| KustomizeError::Invalid {
                    file: path.clone(),
                    message: format!("configurations: {e}"),
                })?;
            file.sort();
            custom
                .merge(&file)
                .map_err(|c| loc.invalid(format!("configurations: {reference}: {c}")))?;
        }
        config
            .merge(&custom)
            .map_err(|c| loc.invalid(format!("configurations: {c}")))?;
        Ok(Cow::Owned(config))
    }

    /// Whether no transformer has a field spec.
    pub fn is_empty(&self) -> bool {
        *self == TransformerConfig::default()
    }

    /// Orders every list as Kustomize does after a merge (by group/version/kind,
    /// [`gvk_order`]); which specs a later merge keeps depends on it.
    fn sort(&mut self) {
        let key = |s: &FieldSpec| gvk_order(&s.group, &s.version, &s.kind);
        for specs in [
            &mut self.name_prefix,
            &mut self.name_suffix,
            &mut self.namespace,
            &mut self.common_labels,
            &mut self.labels,
            &mut self.template_labels,
            &mut self.common_annotations,
            &mut self.var_reference,
            &mut self.images,
            &mut self.replicas,
        ] {
            specs.sort_by_cached_key(key);
        }
        self.name_reference
            .sort_by_cached_key(|n| gvk_order(&n.group, &n.version, &n.kind));
    }

    /// Adds `other`'s field specs, as Kustomize merges configurations: a field already
    /// there for the objects the incoming spec selects is kept (so a spec for one kind, once
    /// sorted first, hides a later one for every kind), the same field with another `create`
    /// is a [`Conflict`]; then every list is sorted.
    pub fn merge(&mut self, other: &TransformerConfig) -> Result<(), Conflict> {
        merge(&mut self.name_prefix, &other.name_prefix)?;
        merge(&mut self.name_suffix, &other.name_suffix)?;
        merge(&mut self.namespace, &other.namespace)?;
        merge(&mut self.common_labels, &other.common_labels)?;
        merge(&mut self.labels, &other.labels)?;
        merge(&mut self.template_labels, &other.template_labels)?;
        merge(&mut self.common_annotations, &other.common_annotations)?;
        merge(&mut self.var_reference, &other.var_reference)?;
        merge(&mut self.images, &other.images)?;
        merge(&mut self.replicas, &other.replicas)?;
        for incoming in &other.name_reference {
            let same = |n: &&mut NameBackReferences| {
                n.group == incoming.group
                    && n.version == incoming.version
                    && n.kind == incoming.kind
            };
            match self.name_reference.iter_mut().find(same) {
                Some(existing) => merge(&mut existing.field_specs, &incoming.field_specs)?,
                None => self.name_reference.push(incoming.clone()),
            }
        }
        self.sort();
        Ok(())
    }

    /// The configuration a `crds` file declares: in OpenAPI definitions (type name →
    /// `Schema`) of Kubernetes-shaped types, properties marked `x-kubernetes-annotation`,
    /// `x-kubernetes-label-selector`, `x-kubernetes-identity` (a name) or
    /// `x-kubernetes-object-ref-kind` (a name reference), followed through `$ref`s.
    pub fn from_crd(path: &str, bytes: &[u8]) -> Result<TransformerConfig, KustomizeError> {
        let invalid = |message: String| KustomizeError::Invalid {
            file: path.to_string(),
            message: format!("unable to parse open API definition: {message}"),
        };
        let defs: serde_json::Map<String, Value> =
            yaml_serde::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
        let mut config = TransformerConfig::default();
        for (name, def) in &defs {
            let Some(props) = properties(def) else {
                continue;
            };
            if !["kind", "apiVersion", "metadata"]
                .iter()
                .all(|p| props.contains_key(*p))
            {
                continue;
            }
            let kind = name.rsplit('.').next().unwrap_or(name);
            let mut found = TransformerConfig::default();
            crd_fields(&mut found, kind, name, &defs, &mut Vec::new());
            config.merge(&found).map_err(|c| invalid(c.to_string()))?;
        }
        Ok(config)
    }
}

fn properties(def: &Value) -> Option<&serde_json::Map<String, Value>> {
    def.pointer("/Schema/properties").and_then(Value::as_object)
}

/// Collects the marked properties of definition `type_name` (reached at `path`) for `kind`.
fn crd_fields(
    config: &mut TransformerConfig,
    kind: &str,
    type_name: &str,
    defs: &serde_json::Map<String, Value>,
    path: &mut Vec<String>,
) {
    // A definition that refers to itself (directly or not) ends the walk.
    if path.len() > 32 {
        return;
    }
    let Some(props) = defs.get(type_name).and_then(properties) else {
        return;
    };
    for (name, prop) in props {
        path.push(name.clone());
        let spec = |path: &[String]| FieldSpec {
            kind: kind.to_string(),
            path: path.join("/").into(),
            ..FieldSpec::default()
        };
        let marked = |key: &str| prop.get(key).is_some_and(Value::is_string);
        // Merging into a configuration built from nothing cannot conflict (`create` is
        // always false here).
        if marked("x-kubernetes-annotation") {
            let _ = merge(&mut config.common_annotations, [&spec(path)]);
        }
        if marked("x-kubernetes-label-selector") {
            let _ = merge(&mut config.common_labels, [&spec(path)]);
        }
        if marked("x-kubernetes-identity") {
            let _ = merge(&mut config.name_prefix, [&spec(path)]);
        }
        let str_of = |key: &str| prop.get(key).and_then(Value::as_str);
        if let (Some(version), Some(referral)) = (
            str_of("x-kubernetes-object-ref-api-version"),
            str_of("x-kubernetes-object-ref-kind"),
        ) {
            let mut field = path.clone();
            field.push(
                str_of("x-kubernetes-object-ref-name-key")
                    .unwrap_or("name")
                    .into(),
            );
            let _ = config.merge(&TransformerConfig {
                name_reference: vec![NameBackReferences {
                    version: version.to_string(),
                    kind: referral.to_string(),
                    field_specs: vec![spec(&field)],
                    ..NameBackReferences::default()
                }],
                ..TransformerConfig::default()
            });
        }
        if let Some(target) = str_of("$ref") {
            crd_fields(config, kind, target, defs, path);
        }
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_merging_keeps_what_is_there() {
        let defaults = TransformerConfig::defaults();
        assert_eq!(defaults.name_prefix.len(), 1);
        assert!(
            defaults
                .name_reference
                .iter()
                .any(|n| n.kind == "ConfigMap")
        );
        let mut config = defaults.clone();
        let custom: TransformerConfig = yaml_serde::from_str(
            "namePrefix:\n- {kind: Bee, path: spec/other}\n- {kind: Bee, path: metadata/name}\n\
             nameReference:\n- {kind: Secret, version: v1, fieldSpecs: [{kind: Bee, path: spec/secret}]}\n",
        )
        .unwrap();
        config.merge(&custom).unwrap();
        // metadata/name for every kind is there already; Bee's own metadata/name is another spec.
        assert_eq!(config.name_prefix.len(), 3);
        let secret = config
            .name_reference
            .iter()
            .find(|n| n.kind == "Secret" && n.version == "v1")
            .unwrap();
        assert_eq!(secret.field_specs.last().unwrap().path, "spec/secret");
        // Accumulated again (as every kustomization does), Bee's metadata/name, sorted first,
        // hides the one for every kind: Kustomize then prefixes only Bees.
        let mut accumulated = TransformerConfig::default();
        accumulated.merge(&config).unwrap();
        let kinds: Vec<&str> = accumulated
            .name_prefix
            .iter()
            .map(|s| s.kind.as_str())
            .collect();
        assert_eq!(kinds, ["Bee", "Bee"]);
        let conflict: TransformerConfig =
            yaml_serde::from_str("namePrefix:\n- {path: metadata/name, create: true}\n").unwrap();
        assert!(config.merge(&conflict).is_err());
    }

    #[test]
    fn the_defaults_merged_into_nothing_are_themselves() {
        // What lets a kustomization without `configurations` share the defaults
        // (`Accumulated::merge_config`).
        let defaults = TransformerConfig::defaults();
        let mut merged = TransformerConfig::default();
        merged.merge(defaults).unwrap();
        assert_eq!(&merged, defaults);
        merged.merge(defaults).unwrap();
        assert_eq!(&merged, defaults);
    }
}
