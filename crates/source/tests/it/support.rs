//! Ferry's git clients configured for `ferry-testkit`'s smart-HTTP server.

use std::path::Path;
use std::time::Duration;

use ferry_source::credentials::Credentials;
use ferry_source::git::{GitCache, GitOptions, GitWriter};
use ferry_testkit::git_server::{PASSWORD, USER};

pub fn creds() -> Credentials {
    Credentials::basic(USER, PASSWORD)
}

/// Options for talking to the loopback server: credentials over plain http allowed.
pub fn options() -> GitOptions {
    GitOptions {
        allow_http_credentials: true,
        timeout: Duration::from_secs(30),
        ..GitOptions::default()
    }
}

pub fn cache(dir: &Path) -> GitCache {
    GitCache::with_options(dir, options()).unwrap()
}

pub fn writer(dir: &Path) -> GitWriter {
    GitWriter::with_options(dir, options()).unwrap()
}
