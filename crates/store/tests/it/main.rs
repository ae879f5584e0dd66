//! Integration tests: one conformance suite run against every backend, SQLite-specific
//! persistence tests, and a `kill -9` durability test with a real child process.

// Test helpers outside `#[test]` functions unwrap too; a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod conformance;
mod durability;
mod perf;
mod sqlite;
mod support;
