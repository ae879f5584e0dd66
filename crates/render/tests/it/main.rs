//! Integration tests of ferry-render: the Kustomize conformance corpus (compared with
//! `kubectl kustomize`), Helm against the real `helm template`, and refusals of bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helm;
mod kustomize;
mod kustomize_argo;
