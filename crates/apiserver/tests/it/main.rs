//! Integration tests of the embedded API server with real clients: the machine's `kubectl`,
//! raw HTTP for malformed input and protobuf bodies, and the generator of the built-in schema.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fuzz;
mod in_process;
mod kubectl;
mod kubectl_cluster;
mod protobuf;
mod schema;
