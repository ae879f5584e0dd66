//! Integration tests against real servers on loopback: `git http-backend` behind a smart-HTTP
//! server with basic auth (plus `file://` repositories), Debian's OpenSSH server with
//! `git-shell`, Debian's `docker-registry`, and charts packaged and pushed by the real `helm`
//! (all from `ferry-testkit`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod git_discovery;
mod helm_repo;
mod history;
mod image_discovery;
mod mirror;
mod oci;
mod read;
mod secrets;
mod ssh;
mod support;
mod worktree;
