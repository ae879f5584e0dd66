//! The label and annotation transformers: metadata added to every object and, as their field
//! specs say, to pod templates and selectors.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::config::TransformerConfig;
use super::fieldspec::{FieldSpec, merge};
use super::file::Label;
use super::resource::Resource;
use super::{KustomizeError, Location};

/// The field specs of a `labels` entry: its own `fields` and the configuration's `labels`,
/// then what its flags select (every `commonLabels` field with `includeSelectors`, template
/// labels with `includeTemplates`, else only `metadata/labels`), merged as Kustomize merges
/// field specs.
pub fn label_fields(
    loc: &Location,
    label: &Label,
    config: &TransformerConfig,
) -> Result<Vec<FieldSpec>, KustomizeError> {
    let metadata = FieldSpec {
        path: "metadata/labels".into(),
        create: true,
        ..FieldSpec::default()
    };
    let mut specs = label.fields.clone();
    let mut merged = merge(&mut specs, &config.labels);
    if merged.is_ok() {
        merged = if label.include_selectors {
            merge(&mut specs, &config.common_labels)
        } else if label.include_templates {
            merge(&mut specs, &config.template_labels).and_then(|()| merge(&mut specs, [&metadata]))
        } else {
            merge(&mut specs, [&metadata])
        };
    }
    merged.map_err(|c| loc.invalid(format!("labels: failed to merge labels: {c}")))?;
    Ok(specs)
}

/// Sets the pairs in the map each applicable field spec reaches; a field that is there but
/// not a map is an error, as in Kustomize.
pub fn add_pairs(
    loc: &Location,
    pairs: &BTreeMap<String, String>,
    specs: &[FieldSpec],
    acc: &mut [Resource],
) -> Result<(), KustomizeError> {
    if pairs.is_empty() {
        return Ok(());
    }
    for r in acc.iter_mut() {
        let (group, version, kind) = (r.group(), r.version(), r.kind());
        let applicable: Vec<&FieldSpec> = specs
            .iter()
            .filter(|s| s.applies_to(group, version, kind))
            .collect();
        for spec in applicable {
            let mut not_a_map = false;
            let _ = spec.visit::<()>(&mut r.obj, &mut |v| {
                if v.is_null() {
                    *v = Value::Object(Map::new());
                }
                match v {
                    Value::Object(m) => {
                        for (k, val) in pairs {
                            m.insert(k.clone(), Value::String(val.clone()));
                        }
                        Ok(())
                    }
                    _ => {
                        not_a_map = true;
                        Err(())
                    }
                }
            });
            if not_a_map {
                return Err(loc.invalid(format!(
                    "considering field '{}' of object {}: expected a map",
                    spec.path,
                    r.describe()
                )));
            }
        }
    }
    Ok(())
}
