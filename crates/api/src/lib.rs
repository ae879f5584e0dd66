//! Kubernetes API object logic shared by Ferry's API server and controllers:
//! metadata accessors, name and label validation, label/field selectors and
//! patches, all behaving (and wording their errors) like Kubernetes' apimachinery so
//! that kubectl, client-go and Argo CD see the answers they expect.
//!
//! This crate is pure logic over `serde_json::Value` objects and typed kinds: no I/O,
//! no storage, no HTTP, no async. Typed Argo CD kinds are in [`argocd`] (Kargo's
//! will follow); the HTTP mapping of errors (400 vs 422 `Status` bodies) belongs to
//! `ferry-apiserver`.
//!
//! Where to start:
//! * [`error`] — [`Disposition`] (retry, wait, give up) and the [`Classify`] trait every
//!   library error of Ferry implements; [`error::full_message`] for the text a person reads.
//! * [`meta`] — `name(obj)`, `labels(obj)`, owner references,
//!   [`GroupVersionKind`].
//! * [`selector`] — [`LabelSelector::parse`] for `?labelSelector=`,
//!   [`LabelSelector::from_json`] for `spec.selector`,
//!   [`FieldSelector::parse`] for `?fieldSelector=`.
//! * [`validation`] — [`validate_object_meta`] on create/update, the
//!   individual rules (`dns1123_subdomain`, `qualified_name`, ...) and
//!   [`generate_name`].
//! * [`argocd`] — Argo CD's kinds ([`argocd::Application`], [`argocd::AppProject`],
//!   [`argocd::ApplicationSet`]) and their CRDs.
//! * [`crd`] — CustomResourceDefinitions generated from Rust types.
//! * [`patch`] — JSON patch, merge patch and strategic merge patch with the
//!   built-in kinds' merge keys (used by the API server and by Kustomize).
//! * [`yaml`] — YAML text exactly as kubectl and Kustomize print it.

pub mod argocd;
pub mod crd;
pub mod duration;
pub mod error;
pub mod meta;
pub mod patch;
pub mod selector;
pub mod validation;
pub mod yaml;

pub use error::{Classify, Disposition};
pub use meta::{GroupVersionKind, OwnerReference};
pub use selector::{
    FieldOperator, FieldRequirement, FieldSelector, LabelSelector, Operator, Requirement,
    SelectorError,
};
pub use validation::{NameRule, generate_name, validate_object_meta};
