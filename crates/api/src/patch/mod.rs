//! Patch semantics of the Kubernetes API, as pure functions on `serde_json::Value`:
//!
//! - [`apply_json_patch`]: RFC 6902 JSON Patch (`application/json-patch+json`);
//! - [`apply_merge_patch`]: RFC 7386 JSON merge patch (`application/merge-patch+json`);
//! - [`apply_strategic_merge_patch`]: Kubernetes strategic merge patch
//!   (`application/strategic-merge-patch+json`), built-in kinds only.
//!
//! The per-kind facts (list merge keys, atomic maps, zero values) come from [`Schema`]. The API
//! server (server-side apply, managed fields, HTTP status mapping) and the Kustomize renderer
//! both build on these; nothing here does I/O.

pub mod json;
pub mod merge;
pub mod schema;
pub mod strategic;
mod value_order;

pub use json::apply_json_patch;
pub use merge::apply_merge_patch;
pub use schema::{ListStrategy, Schema};
pub use strategic::{
    ListMerge, ListOrder, StrategicSchema, apply_strategic_merge_patch,
    apply_strategic_merge_patch_ordered,
};
pub use value_order::{compare_values, json_eq};

/// What kube-apiserver answers (415) to a strategic merge patch of a kind it has no Go type for.
pub const STRATEGIC_UNSUPPORTED_MESSAGE: &str = "the body of the request was in an unknown format - \
     accepted media types include: application/json-patch+json, application/merge-patch+json, \
     application/apply-patch+yaml";

/// One field another manager owns with a different value than an apply wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldConflict {
    /// The owning manager's name.
    pub manager: String,
    /// Set when the owner's entry is an `Update` (its API version); `None` for an `Apply` owner
    /// (kube-apiserver leaves the version out of an applier's identity).
    pub api_version: Option<String>,
    /// The owner entry's subresource, if any.
    pub subresource: Option<String>,
    /// The field, in structured-merge-diff's form, e.g. `.spec.replicas`.
    pub field: String,
}

impl FieldConflict {
    /// The manager as kube-apiserver prints it: `"kubectl"`, `"kubectl-edit" using apps/v1`,
    /// `"m" with subresource "status" using v1`.
    pub fn manager_description(&self) -> String {
        let mut out = quote(&self.manager);
        if let Some(sub) = &self.subresource {
            out.push_str(&format!(" with subresource {}", quote(sub)));
        }
        if let Some(version) = &self.api_version {
            out.push_str(&format!(" using {version}"));
        }
        out
    }

    /// The `message` of this conflict's `FieldManagerConflict` status cause
    /// (`conflict with "kubectl-edit" using apps/v1`); the cause's `field` is [`Self::field`].
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.manager_description())
    }

    /// The manager identity kube-apiserver sorts conflicts by (the JSON of a managed-fields
    /// entry without fields and time).
    fn identity(&self) -> String {
        let mut out = format!("{{\"manager\":{}", quote(&self.manager));
        match &self.api_version {
            Some(v) => out.push_str(&format!(
                ",\"operation\":\"Update\",\"apiVersion\":{}",
                quote(v)
            )),
            None => out.push_str(",\"operation\":\"Apply\""),
        }
        if let Some(sub) = &self.subresource {
            out.push_str(&format!(",\"subresource\":{}", quote(sub)));
        }
        out.push('}');
        out
    }
}

fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The status message of an apply conflict, worded as kube-apiserver words it:
/// `Apply failed with 1 conflict: conflict with "m" using apps/v1: .spec.replicas`, or, for
/// several, `Apply failed with 2 conflicts: conflicts with "m" using apps/v1:\n- .a\n- .b`
/// (grouped by manager, managers in kube-apiserver's order).
pub fn conflict_message(conflicts: &[FieldConflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: {}: {}",
            only.cause_message(),
            only.field
        );
    }
    let mut groups: Vec<(String, &FieldConflict, Vec<&str>)> = Vec::new();
    for c in conflicts {
        let id = c.identity();
        match groups.iter_mut().find(|(gid, _, _)| *gid == id) {
            Some((_, _, fields)) => fields.push(&c.field),
            None => groups.push((id, c, vec![&c.field])),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let mut lines = Vec::new();
    for (_, first, fields) in &groups {
        lines.push(format!("conflicts with {}:", first.manager_description()));
        lines.extend(fields.iter().map(|f| format!("- {f}")));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// Why a patch or apply was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatchError {
    /// The patch cannot be applied: the body is not a document of its type (not JSON, not an
    /// object where one is required, a malformed directive), or it does not fit this object (a
    /// failed `test`, a path that does not exist, an apply configuration with list items
    /// missing their keys). HTTP 400 (kube-apiserver answers 422 for the second kind).
    #[error("{0}")]
    Invalid(String),
    /// Server-side apply conflicts with other managers' fields: HTTP 409 Conflict, one
    /// `FieldManagerConflict` cause per entry.
    #[error("{}", conflict_message(.0))]
    Conflict(Vec<FieldConflict>),
    /// Strategic merge patch of a kind without a built-in schema (a custom resource): HTTP 415
    /// Unsupported Media Type.
    #[error("{}", STRATEGIC_UNSUPPORTED_MESSAGE)]
    StrategicUnsupported,
}

impl PatchError {
    /// The HTTP status kube-apiserver answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::Invalid(_) => 400,
            PatchError::Conflict(_) => 409,
            PatchError::StrategicUnsupported => 415,
        }
    }
}

impl crate::Classify for PatchError {
    /// Every refusal is for the request: a field conflict is not a lost race (that would be a
    /// resourceVersion conflict) but another manager owning the field, so the apply must be
    /// forced or the manifest changed.
    fn disposition(&self) -> crate::Disposition {
        crate::Disposition::GiveUp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conflict(manager: &str, version: Option<&str>, field: &str) -> FieldConflict {
        FieldConflict {
            manager: manager.to_string(),
            api_version: version.map(str::to_string),
            subresource: None,
            field: field.to_string(),
        }
    }

    #[test]
    fn single_conflict_message() {
        let err = PatchError::Conflict(vec![conflict(
            "kubectl-client-side-apply",
            Some("apps/v1"),
            ".spec.replicas",
        )]);
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using \
             apps/v1: .spec.replicas"
        );
        assert_eq!(err.status_code(), 409);
    }

    #[test]
    fn plural_conflicts_grouped_by_sorted_manager() {
        let msg = conflict_message(&[
            conflict("zeta", None, ".spec.replicas"),
            conflict("m", Some("apps/v1"), ".spec.replicas"),
            conflict("m", Some("apps/v1"), ".spec.x"),
        ]);
        assert_eq!(
            msg,
            "Apply failed with 3 conflicts: conflicts with \"m\" using apps/v1:\n- .spec.replicas\n\
             - .spec.x\nconflicts with \"zeta\":\n- .spec.replicas"
        );
        let two = conflict_message(&[
            conflict("m", Some("apps/v1"), ".spec.replicas"),
            conflict("m", Some("apps/v1"), ".spec.x"),
        ]);
        assert_eq!(
            two,
            "Apply failed with 2 conflicts: conflicts with \"m\" using apps/v1:\n- .spec.replicas\n- .spec.x"
        );
    }

    #[test]
    fn manager_descriptions() {
        let mut c = conflict("m", Some("v1"), ".status.x");
        c.subresource = Some("status".into());
        assert_eq!(
            c.cause_message(),
            "conflict with \"m\" with subresource \"status\" using v1"
        );
        assert_eq!(
            conflict("kubectl", None, ".a").cause_message(),
            "conflict with \"kubectl\""
        );
        assert_eq!(PatchError::StrategicUnsupported.status_code(), 415);
        assert_eq!(PatchError::Invalid("x".into()).status_code(), 400);
    }
}
