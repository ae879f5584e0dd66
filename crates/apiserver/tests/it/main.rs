//! Integration tests of the embedded API server with real clients: the machine's `kubectl`
//! and raw HTTP for malformed input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fuzz;
mod kubectl;
mod support;
