//! Output order: Kustomize's legacy order by default (namespaces, then RBAC, config, services,
//! workloads, ... webhooks last; ties by group/version/kind, namespace and name), or the order
//! resources were read (`sortOptions.order: fifo`).

use std::cmp::Reverse;

use super::KustomizeError;
use super::file::SortOptions;
use super::resource::Resource;

const ORDER_FIRST: [&str; 22] = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

const ORDER_LAST: [&str; 2] = [
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

pub fn sort(
    resources: &mut [Resource],
    options: Option<&SortOptions>,
    file: &str,
) -> Result<(), KustomizeError> {
    let (first, last): (Vec<String>, Vec<String>) = match options {
        Some(o) if o.order == "fifo" && o.legacy_sort_options.is_some() => {
            return Err(KustomizeError::invalid(
                file,
                "the field 'sortOptions.legacySortOptions' is set but the selected sort order \
                 is 'fifo', not 'legacy'",
            ));
        }
        Some(o) if o.order == "fifo" => return Ok(()),
        Some(o) if o.order != "legacy" => {
            return Err(KustomizeError::invalid(
                file,
                "the field 'sortOptions.order' must be one of [fifo, legacy]",
            ));
        }
        Some(SortOptions {
            legacy_sort_options: Some(l),
            ..
        }) => (l.order_first.clone(), l.order_last.clone()),
        _ => (
            ORDER_FIRST.iter().map(|s| s.to_string()).collect(),
            ORDER_LAST.iter().map(|s| s.to_string()).collect(),
        ),
    };
    let rank = |kind: &str| -> i64 {
        if let Some(i) = first.iter().position(|k| k == kind) {
            return i as i64 - first.len() as i64;
        }
        if let Some(i) = last.iter().position(|k| k == kind) {
            return 1 + i as i64;
        }
        0
    };
    // Keys are computed once per resource, not once per comparison.
    resources.sort_by_cached_key(|r| (rank(r.kind()), gvk_key(r), legacy_key(r)));
    Ok(())
}

/// `group_version_kind` with `~G`, `~V`, `~K` for empty parts: how Kustomize breaks ties
/// between kinds of the same rank.
fn gvk_text(group: &str, version: &str, kind: &str) -> String {
    fn or<'a>(default: &'a str, v: &'a str) -> &'a str {
        if v.is_empty() { default } else { v }
    }
    format!(
        "{}_{}_{}",
        or("~G", group),
        or("~V", version),
        or("~K", kind)
    )
}

/// Kustomize's order of group/version/kinds (`Gvk.IsLessThan`, which also orders field specs
/// in a transformer configuration): the default rank of the kind, then [`gvk_text`].
pub fn gvk_order(group: &str, version: &str, kind: &str) -> (i64, String) {
    let rank = if let Some(i) = ORDER_FIRST.iter().position(|k| *k == kind) {
        i as i64 - ORDER_FIRST.len() as i64
    } else if let Some(i) = ORDER_LAST.iter().position(|k| *k == kind) {
        1 + i as i64
    } else {
        0
    };
    (rank, gvk_text(group, version, kind))
}

/// Group, version and kind as Kustomize's legacy order compares them ([`gvk_text`]), except
/// that core Namespaces come before other groups' Namespace kinds (and among themselves in
/// reverse).
fn gvk_key(r: &Resource) -> (bool, String, Reverse<String>) {
    let text = gvk_text(r.group(), r.version(), r.kind());
    if r.kind() == "Namespace" && r.group().is_empty() {
        (false, String::new(), Reverse(text))
    } else {
        (true, text, Reverse(String::new()))
    }
}

fn legacy_key(r: &Resource) -> (String, String) {
    let ns = if r.namespace().is_empty() {
        "~X"
    } else {
        r.namespace()
    };
    (ns.to_string(), r.name().to_string())
}
