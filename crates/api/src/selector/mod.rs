//! Label and field selectors, parsed and matched as Kubernetes does
//! (`k8s.io/apimachinery/pkg/labels` and `pkg/fields`).
//!
//! * [`LabelSelector::parse`] reads the string form used by
//!   `?labelSelector=` and `kubectl get -l` (`app=web,tier in (a,b),!canary`).
//! * [`LabelSelector::from_json`] reads the structured `metav1.LabelSelector`
//!   (`matchLabels` / `matchExpressions`) found in Deployments, PDBs,
//!   ApplicationSets and friends.
//! * [`FieldSelector::parse`] reads `?fieldSelector=` (`metadata.name=x`).
//!   Which fields a resource supports is the API server's decision: see
//!   [`FieldSelector::ensure_supported`].
//!
//! Both selector types render back to Kubernetes' canonical string form with
//! `Display` (requirements sorted by key, set values sorted).

mod field;
mod label;
mod parse;

pub use field::{FieldOperator, FieldRequirement, FieldSelector, field_value};
pub use label::{LabelSelector, Operator, Requirement};

/// A selector that could not be parsed or is not acceptable. The messages
/// follow Kubernetes' wording and are meant for a 400 `Status` as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// Malformed selector text or structure.
    #[error("{0}")]
    Invalid(String),
    /// A field selector names a field the resource does not index.
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
}

impl crate::Classify for SelectorError {
    /// The selector text must change.
    fn disposition(&self) -> crate::Disposition {
        crate::Disposition::GiveUp
    }
}

fn invalid(message: impl Into<String>) -> SelectorError {
    SelectorError::Invalid(message.into())
}

/// Expected outcomes and Kubernetes' exact messages, shared by the selector tests.
#[cfg(test)]
mod expect {
    use std::fmt;

    pub(super) const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    pub(super) const VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

    /// `Ok(canonical rendering)` or `Err(exact message)`.
    pub(super) type Expect = Result<&'static str, String>;

    pub(super) fn ok(s: &'static str) -> Expect {
        Ok(s)
    }

    pub(super) fn err(s: impl Into<String>) -> Expect {
        Err(s.into())
    }

    pub(super) fn req(e: impl fmt::Display) -> Expect {
        Err(format!("unable to parse requirement: {e}"))
    }
}
