//! ferry-web's integration tests: the routes over the embedded API server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod webhook;
