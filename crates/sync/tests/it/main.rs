//! ferry-sync's integration tests, against the embedded API server and kubectl.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bootstrap;
mod compare;
mod operation;
