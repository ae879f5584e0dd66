#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chart_repo;
mod flaky;
mod helm_repo;
mod image_discovery;
mod oci;
mod registry;
mod token_server;

/// A plain reqwest client for test fixtures (the crate shares the process's ring provider).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
