//! End-to-end tests of the `ferry` binary: `ferry up` as a user starts it, then `kubectl`
//! and Ferry's own CLI against it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app;
mod appset;
mod clusters;
mod discover;
mod health;
mod kube_client;
mod kustomize_corpus;
mod render;
mod sync;
mod up;
