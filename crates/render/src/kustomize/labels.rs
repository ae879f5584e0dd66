//! `labels`, `commonLabels` and `commonAnnotations`: metadata added to every object and, as
//! Kustomize's field specs say, to pod templates and selectors.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::fieldspec::{
    COMMON_ANNOTATIONS, FieldSpec, METADATA_LABELS, SplitSpec, TEMPLATE_LABELS, common_labels,
};
use super::file::Kustomization;
use super::resource::Resource;
use super::{KustomizeError, Location};

/// `labels` entries, then `commonLabels`.
pub fn labels(
    loc: &Location,
    k: &Kustomization,
    acc: &mut [Resource],
) -> Result<(), KustomizeError> {
    for label in &k.labels {
        if !label.fields.is_empty() {
            return Err(loc.invalid("labels: `fields` is not supported by Ferry's Kustomize yet"));
        }
        let specs: Vec<FieldSpec> = if label.include_selectors {
            common_labels()
        } else if label.include_templates {
            std::iter::once(METADATA_LABELS)
                .chain(TEMPLATE_LABELS)
                .collect()
        } else {
            vec![METADATA_LABELS]
        };
        add_pairs(&label.pairs, &specs, acc);
    }
    add_pairs(&k.common_labels, &common_labels(), acc);
    Ok(())
}

pub fn annotations(pairs: &BTreeMap<String, String>, acc: &mut [Resource]) {
    add_pairs(pairs, &COMMON_ANNOTATIONS, acc);
}

/// Sets the pairs in the map each applicable field spec reaches.
fn add_pairs(pairs: &BTreeMap<String, String>, specs: &[FieldSpec], acc: &mut [Resource]) {
    if pairs.is_empty() {
        return;
    }
    let specs: Vec<SplitSpec> = specs.iter().map(FieldSpec::split).collect();
    for r in acc.iter_mut() {
        let (group, version, kind) = (r.group(), r.version(), r.kind());
        let applicable: Vec<&SplitSpec> = specs
            .iter()
            .filter(|s| s.spec.applies_to(group, version, kind))
            .collect();
        for spec in applicable {
            let _ = spec.visit::<()>(&mut r.obj, &mut |v| {
                if v.is_null() {
                    *v = Value::Object(Map::new());
                }
                if let Value::Object(m) = v {
                    for (k, val) in pairs {
                        m.insert(k.clone(), Value::String(val.clone()));
                    }
                }
                Ok(())
            });
        }
    }
}
