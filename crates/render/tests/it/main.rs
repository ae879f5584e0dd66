//! Integration tests of ferry-render: the Kustomize conformance corpus (compared with
//! `kubectl kustomize`) and refusals of bad input.

mod kustomize;
