//! Fixtures for Ferry's tests and benchmarks, shared by every crate (a dev-dependency only,
//! never published): the real servers the tests run against on loopback and the tools they
//! drive.
//!
//! * Git: [`GitServer`] (`git http-backend` behind smart HTTP with basic auth), [`SshServer`]
//!   (OpenSSH with `git-shell`), [`Seed`] (a bare repository filled from a scratch clone) and
//!   [`git()`] for a repository of one's own.
//! * Registries: [`TestRegistry`] (Debian's `docker-registry`, with image pushing),
//!   [`TokenServer`] (its token authentication), [`FlakyFront`] (a registry having a bad
//!   moment).
//! * Helm: [`chart_repo`] (charts packaged by the real `helm`, a static chart repository).
//! * Kubernetes: [`TestCluster`] (the embedded API server on HTTPS with a kubeconfig, for
//!   `kubectl`) and [`EmbeddedApi`] (the same inside an async test, with a `kube::Client`).
//! * Tools: [`helm_binary`] and [`kubectl`] find the binaries or say how to install them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod chart_repo;
pub mod cluster;
pub mod flaky;
pub mod git_server;
pub mod registry;
pub mod seed;
pub mod sshd;
pub mod token_server;
pub mod tools;

pub use cluster::{EmbeddedApi, TestCluster};
pub use flaky::FlakyFront;
pub use git_server::GitServer;
pub use registry::TestRegistry;
pub use seed::{Seed, git};
pub use sshd::SshServer;
pub use token_server::TokenServer;
pub use tools::{helm_binary, kubectl};

/// A plain reqwest client for the fixtures (installs the process's ring provider if nobody
/// did).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Runs `command` to completion and returns its stdout, failing the test with the command and
/// its stderr when it exits non-zero.
pub fn run(command: &mut std::process::Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A loopback port free at the time of the call.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
