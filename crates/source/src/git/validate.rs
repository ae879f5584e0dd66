//! Checks on what callers hand the git client before any of it reaches a git argv or the
//! disk: repository URLs and ref names (by the shared rules of [`crate::url`]) and paths
//! inside a repository.

use std::borrow::Cow;

use super::error::{GitError, GitResult};
use crate::url::{self, Scheme, UrlPolicy};

/// A repository URL the git client accepts (https, http, ssh and scp-style, or `file://` when
/// enabled), as git is given it: without a password (credentials travel through
/// `GIT_ASKPASS` or an SSH key file only); an SSH URL keeps its user (`git@`).
///
/// `as_str` is what git is given; `key` identifies the repository ([`url::RepoUrl::normalized`])
/// and names its cache directory.
#[derive(Clone, PartialEq, Eq)]
pub struct RepoUrl {
    url: String,
    key: String,
    scheme: Scheme,
}

impl RepoUrl {
    pub fn parse(raw: &str, allow_file: bool) -> GitResult<Self> {
        let policy = if allow_file {
            UrlPolicy::WITH_FILE
        } else {
            UrlPolicy::NETWORK
        };
        let parsed = url::RepoUrl::parse(raw.trim(), &policy)
            .map_err(|e| GitError::InvalidUrl(e.to_string()))?;
        let url = if parsed.scheme() == Scheme::Ssh {
            parsed.ssh_address().ok_or_else(|| {
                GitError::InvalidUrl(format!(
                    "{}: an ssh URL cannot carry a password; put the key in `sshPrivateKey`",
                    parsed.redacted()
                ))
            })?
        } else {
            parsed.redacted()
        };
        Ok(RepoUrl {
            url,
            key: parsed.normalized(),
            scheme: parsed.scheme(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }
}

impl std::fmt::Display for RepoUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

impl std::fmt::Debug for RepoUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RepoUrl({})", self.url)
    }
}

/// Checks a branch or tag name with [`url::validate_ref`] (git's ref-name rules, no leading
/// `-`, no shell metacharacters).
pub fn validate_ref_name(name: &str) -> GitResult<()> {
    url::validate_ref(name).map_err(|e| GitError::InvalidRevision {
        revision: e.name,
        reason: Cow::Owned(e.problem.to_string()),
    })
}

/// A path inside a repository tree, normalized: no leading `./`, no empty or `.`
/// components. Rejects absolute paths, `..`, NUL, newlines and backslashes. An empty result
/// means the root.
pub fn normalize_repo_path(path: &str) -> GitResult<String> {
    let bad = |reason| {
        Err(GitError::InvalidPath {
            path: path.to_string(),
            reason,
        })
    };
    if path.starts_with('/') {
        return bad("absolute paths are not allowed");
    }
    if path.contains(['\0', '\n', '\r', '\\']) {
        return bad("contains NUL, a newline or a backslash");
    }
    let mut parts = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => return bad("'..' is not allowed"),
            ".git" => return bad("'.git' is not allowed"),
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// A full object id: 40 (SHA-1) or 64 (SHA-256) hex digits.
pub fn is_full_object_id(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An abbreviated commit id as Argo CD accepts one: at least 7 hex digits.
pub fn is_short_object_id(s: &str) -> bool {
    (7..64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let ok = [
            (
                "https://github.com/a/b.git",
                "https://github.com/a/b.git",
                "https://github.com/a/b",
            ),
            (
                "https://User:pw@GitHub.com/A/B/",
                "https://github.com/A/B/",
                "https://github.com/A/B",
            ),
            (
                "http://127.0.0.1:8080/r.git",
                "http://127.0.0.1:8080/r.git",
                "http://127.0.0.1:8080/r",
            ),
        ];
        let ssh = [
            (
                "git@github.com:a/b.git",
                "git@github.com:a/b.git",
                "ssh://github.com/a/b",
            ),
            (
                "ssh://git@127.0.0.1:2222/srv/r.git",
                "ssh://git@127.0.0.1:2222/srv/r.git",
                "ssh://127.0.0.1:2222/srv/r",
            ),
        ];
        for (raw, url, key) in ok.into_iter().chain(ssh) {
            let u = RepoUrl::parse(raw, false).unwrap();
            assert_eq!(u.as_str(), url, "{raw}");
            assert_eq!(u.key(), key, "{raw}");
        }
        for raw in [
            "",
            "ext::sh -c id",
            "--upload-pack=x",
            "ssh://git:CANARY@github.com/a/b",
            "https://",
            "https:///x",
            "https://host/a\nb",
            "https://host/a b",
            "file:///tmp/repo",
            "https://host/a#frag",
        ] {
            assert!(RepoUrl::parse(raw, false).is_err(), "{raw:?} accepted");
        }
        let file = RepoUrl::parse("file:///tmp/repo/", true).unwrap();
        assert_eq!(file.key(), "file:///tmp/repo");
        assert!(RepoUrl::parse("file://../x", true).is_err());
        assert!(RepoUrl::parse("file:///a/../x", true).is_err());
    }

    #[test]
    fn url_errors_never_show_passwords() {
        let err = RepoUrl::parse("https://u:CANARY@host/a b", false).unwrap_err();
        assert!(!err.to_string().contains("CANARY"), "{err}");
        let err = RepoUrl::parse("ftp://u:CANARY@host/a", false).unwrap_err();
        assert!(!err.to_string().contains("CANARY"), "{err}");
    }

    #[test]
    fn ref_names() {
        for ok in [
            "main",
            "release/1.x",
            "v1.2.3",
            "kargo/promotion/abc",
            "feature-x",
        ] {
            validate_ref_name(ok).unwrap();
        }
        for bad in [
            "",
            "-h",
            "--output=x",
            "a..b",
            "refs/heads/../x",
            "a b",
            "a~1",
            "a^",
            "a:b",
            "a*",
            "a[",
            "a\\b",
            "@",
            "a@{1}",
            "/a",
            "a/",
            "a.",
            ".a",
            "a/.b",
            "a.lock",
            "a//b",
            "a\u{7f}",
        ] {
            assert!(validate_ref_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn repo_paths() {
        assert_eq!(normalize_repo_path("").unwrap(), "");
        assert_eq!(normalize_repo_path(".").unwrap(), "");
        assert_eq!(normalize_repo_path("./apps//x/").unwrap(), "apps/x");
        for bad in [
            "/etc/passwd",
            "../x",
            "a/../../x",
            "./a/../../x",
            "a\0b",
            "a\\b",
            ".git/config",
            "a\nb",
        ] {
            assert!(normalize_repo_path(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn object_ids() {
        assert!(is_full_object_id(&"a".repeat(40)));
        assert!(is_full_object_id(&"A".repeat(64)));
        assert!(!is_full_object_id(&"g".repeat(40)));
        assert!(is_short_object_id("abcdef1"));
        assert!(!is_short_object_id("abcdef"));
        assert!(!is_short_object_id("main"));
    }
}
