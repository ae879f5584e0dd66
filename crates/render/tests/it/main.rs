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

// ferry-source's fixtures are reused, not copied: a static chart repository serving charts
// packaged by the real `helm` (`chart_repo`) and Debian's docker-registry (`registry`, which
// needs `token_server` and `http_client` below). They are compiled from their files in
// crates/source/tests/it, so one copy is maintained; this crate uses only part of them.
#[allow(dead_code)]
#[path = "../../../source/tests/it/chart_repo.rs"]
mod chart_repo;
#[allow(dead_code)]
#[path = "../../../source/tests/it/registry.rs"]
mod registry;
#[allow(dead_code)]
#[path = "../../../source/tests/it/token_server.rs"]
mod token_server;

/// A plain reqwest client for the registry fixture.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
