//! Integration tests of the git client against real git: `git http-backend` behind a
//! loopback smart-HTTP server with basic auth, plus `file://` repositories.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod history;
mod mirror;
mod read;
mod support;
mod worktree;
