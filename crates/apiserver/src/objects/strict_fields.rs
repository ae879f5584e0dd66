//! Server-side field validation (`fieldValidation=Strict|Warn|Ignore`): the fields a body has
//! that its kind's schema does not declare, refused or warned about in the words
//! kube-apiserver uses for a decoded body, a patch result and an apply configuration.

use std::collections::HashSet;

use ferry_api::meta;
use serde_json::Value;

use super::{FieldValidation, WriteOptions, schema};
use crate::error::{ApiError, ApiResult};
use crate::patch;
use crate::resources::ResourceType;
use crate::unknown_fields::{self, FieldPath, Step};

/// What strict field validation judges; Kubernetes words each case differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Checked {
    /// A create or update body, decoded strictly.
    Body,
    /// The result of a JSON, merge or strategic merge patch.
    Patch,
    /// A server-side apply configuration, converted to the kind's type.
    Apply,
}

/// Server-side field validation: fields `obj` has that its kind's schema does not declare
/// (and `before` did not have) are a 400 under `Strict` and warnings under `Warn`.
pub(super) fn check_fields(
    t: &ResourceType,
    checked: Checked,
    obj: &Value,
    before: Option<&Value>,
    opts: &WriteOptions,
) -> ApiResult<()> {
    if opts.field_validation == FieldValidation::Ignore {
        return Ok(());
    }
    let mut unknown = unknown_fields::of_object(t, obj);
    if let Some(before) = before
        && !unknown.is_empty()
    {
        let old: HashSet<FieldPath> = unknown_fields::of_object(t, before).into_iter().collect();
        unknown.retain(|p| !old.contains(p));
    }
    if unknown.is_empty() {
        return Ok(());
    }
    let fields: Vec<String> = unknown
        .iter()
        .map(|p| format!("unknown field \"{}\"", unknown_fields::decoding_path(p)))
        .collect();
    if opts.field_validation == FieldValidation::Warn {
        for field in fields {
            opts.warnings.add(field);
        }
        return Ok(());
    }
    let decoding = format!("strict decoding error: {}", fields.join(", "));
    Err(ApiError::bad_request(match checked {
        Checked::Body => format!(
            "{kind} in version {version:?} cannot be handled as a {kind}: {decoding}",
            kind = t.kind,
            version = t.version
        ),
        Checked::Patch => decoding,
        Checked::Apply => apply_error(t, obj, &unknown),
    }))
}

/// Server-side apply's wording: structured-merge-diff's paths (`.spec.containers[name="c"].x`)
/// in its typed-conversion error.
fn apply_error(t: &ResourceType, obj: &Value, unknown: &[FieldPath]) -> String {
    let errors: Vec<String> = unknown
        .iter()
        .map(|p| format!("{}: field not declared in schema", apply_path(t, obj, p)))
        .collect();
    let errors = match errors.as_slice() {
        [one] => one.clone(),
        many => format!("errors:\n  {}", many.join("\n  ")),
    };
    format!(
        "failed to create typed patch object ({}/{}; {}/{}, Kind={}): {errors}",
        meta::namespace(obj).unwrap_or(""),
        meta::name(obj).unwrap_or(""),
        t.group,
        t.version,
        t.kind
    )
}

/// A path in structured-merge-diff's form: associative-list items by their keys.
fn apply_path(t: &ResourceType, obj: &Value, path: &[Step]) -> String {
    let schema = schema(t);
    let mut names: Vec<&str> = Vec::new();
    let mut node = obj;
    let mut elements = Vec::new();
    for step in path {
        match step {
            Step::Field(name) => {
                elements.push(patch::PathElement::Field(name.clone()));
                names.push(name);
                node = &node[name.as_str()];
            }
            Step::Index(i) => {
                let item = &node[*i];
                let element = match schema.list_strategy(&names) {
                    strategy @ patch::ListStrategy::Map { .. } => {
                        patch::list_item_element(item, strategy).ok()
                    }
                    _ => None,
                };
                elements.push(element.unwrap_or(patch::PathElement::Index(*i)));
                node = item;
            }
        }
    }
    patch::path_to_string(&elements)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::resources::Resources;

    fn deployments() -> std::sync::Arc<ResourceType> {
        Resources::new()
            .lookup("apps", "v1", "deployments")
            .unwrap()
    }

    fn strict() -> WriteOptions {
        WriteOptions {
            field_validation: FieldValidation::Strict,
            ..WriteOptions::default()
        }
    }

    fn deployment(extra: serde_json::Value) -> serde_json::Value {
        let mut d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx"}]}}},
        });
        d["spec"]["template"]["spec"]["containers"][0]["colour"] = extra;
        d
    }

    #[test]
    fn each_kind_of_write_is_worded_as_kube_apiserver_words_it() {
        let t = deployments();
        let obj = deployment(json!("blue"));
        let message = |checked| {
            check_fields(&t, checked, &obj, None, &strict())
                .unwrap_err()
                .message
        };
        assert_eq!(
            message(Checked::Body),
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding \
             error: unknown field \"spec.template.spec.containers[0].colour\""
        );
        assert_eq!(
            message(Checked::Patch),
            "strict decoding error: unknown field \"spec.template.spec.containers[0].colour\""
        );
        assert_eq!(
            message(Checked::Apply),
            "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): \
             .spec.template.spec.containers[name=\"app\"].colour: field not declared in schema"
        );
    }

    #[test]
    fn warn_collects_ignore_skips_and_old_unknown_fields_stay_allowed() {
        let t = deployments();
        let obj = deployment(json!("blue"));
        let warn = WriteOptions {
            field_validation: FieldValidation::Warn,
            ..WriteOptions::default()
        };
        check_fields(&t, Checked::Body, &obj, None, &warn).unwrap();
        assert_eq!(
            warn.warnings.take(),
            ["unknown field \"spec.template.spec.containers[0].colour\""]
        );
        let ignore = WriteOptions {
            field_validation: FieldValidation::Ignore,
            ..WriteOptions::default()
        };
        check_fields(&t, Checked::Body, &obj, None, &ignore).unwrap();
        // An update keeping a field the stored object already had is not refused for it.
        check_fields(&t, Checked::Patch, &obj, Some(&obj), &strict()).unwrap();
    }
}
