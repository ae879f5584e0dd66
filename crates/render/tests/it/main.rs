//! Integration tests of ferry-render: the Kustomize conformance corpus (compared with
//! `kubectl kustomize`), Helm against the real `helm template` (local charts, and charts and
//! dependencies served by real chart repositories and a real OCI registry on loopback), Jsonnet
//! directories against the reference C++ Jsonnet, Argo CD Applications from real Git
//! repositories (the seeds' layouts), and refusals of bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod application;
mod disposition;
mod helm;
mod helm_remote;
mod jsonnet;
mod kustomize;
mod kustomize_argo;
