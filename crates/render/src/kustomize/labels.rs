//! `labels`, `commonLabels` and `commonAnnotations`: metadata added to every object and, as
//! Kustomize's field specs say, to pod templates and selectors.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::fieldspec::{
    COMMON_ANNOTATIONS, FieldSpec, METADATA_LABELS, SplitSpec, TEMPLATE_LABELS, common_labels,
    merge,
};
use super::file::Kustomization;
use super::resource::Resource;
use super::{KustomizeError, Location};

/// `labels` entries, then `commonLabels`. A `labels` entry's own `fields` come first, then
/// the defaults its flags select, merged as Kustomize merges field specs (the same field with
/// another `create` is an error).
pub fn labels(
    loc: &Location,
    k: &Kustomization,
    acc: &mut [Resource],
) -> Result<(), KustomizeError> {
    for label in &k.labels {
        let mut specs: Vec<FieldSpec> = label.fields.iter().map(|f| f.spec()).collect();
        let merged = if label.include_selectors {
            merge(&mut specs, common_labels())
        } else if label.include_templates {
            merge(
                &mut specs,
                std::iter::once(METADATA_LABELS).chain(TEMPLATE_LABELS),
            )
        } else {
            merge(&mut specs, [METADATA_LABELS])
        };
        if let Err(spec) = merged {
            return Err(loc.invalid(format!(
                "labels: failed to merge labels: conflicting fieldspecs (`{}`{} with create: {})",
                spec.path,
                describe_kind(&spec),
                spec.create
            )));
        }
        add_pairs(loc, &label.pairs, &specs, acc)?;
    }
    add_pairs(loc, &k.common_labels, &common_labels(), acc)
}

/// ` of kind K` (with group and version when given) for messages.
fn describe_kind(spec: &FieldSpec) -> String {
    let gvk: Vec<&str> = [spec.group, spec.version, spec.kind]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if gvk.is_empty() {
        String::new()
    } else {
        format!(" of {}", gvk.join("/"))
    }
}

pub fn annotations(
    loc: &Location,
    pairs: &BTreeMap<String, String>,
    acc: &mut [Resource],
) -> Result<(), KustomizeError> {
    add_pairs(loc, pairs, &COMMON_ANNOTATIONS, acc)
}

/// Sets the pairs in the map each applicable field spec reaches; a field that is there but
/// not a map is an error, as in Kustomize.
fn add_pairs(
    loc: &Location,
    pairs: &BTreeMap<String, String>,
    specs: &[FieldSpec],
    acc: &mut [Resource],
) -> Result<(), KustomizeError> {
    if pairs.is_empty() {
        return Ok(());
    }
    let specs: Vec<SplitSpec> = specs.iter().map(FieldSpec::split).collect();
    for r in acc.iter_mut() {
        let (group, version, kind) = (r.group(), r.version(), r.kind());
        let applicable: Vec<&SplitSpec> = specs
            .iter()
            .filter(|s| s.spec.applies_to(group, version, kind))
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
                    spec.spec.path,
                    r.describe()
                )));
            }
        }
    }
    Ok(())
}
