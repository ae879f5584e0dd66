//! ferry-sync's integration tests, against the embedded API server and kubectl.

mod bootstrap;
