//! Integration tests against real servers on loopback: `git http-backend` behind a smart-HTTP
//! server with basic auth (plus `file://` repositories), Debian's OpenSSH server with
//! `git-shell`, Debian's `docker-registry`, and charts packaged and pushed by the real `helm`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chart_repo;
mod flaky;
mod git_discovery;
mod helm_repo;
mod history;
mod image_discovery;
mod mirror;
mod oci;
mod read;
mod registry;
mod secrets;
mod ssh;
mod support;
mod token_server;
mod worktree;

/// A plain reqwest client for test fixtures (the crate shares the process's ring provider).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
