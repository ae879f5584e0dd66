//! Checks on what callers hand the git client before any of it reaches a git argv or the
//! disk: repository URLs, branch and tag names, and paths inside a repository.
//!
//! The URL and ref rules here are a minimal private version, replaced by `crate::url` when
//! merged; the path rules belong to the git client.

use super::error::{GitError, GitResult};

/// A repository URL that passed the scheme allowlist, without userinfo.
///
/// `as_str` is what git is given; `key` identifies the repository (lowercased, no trailing
/// `/` or `.git`, as Kargo's `NormalizeGit` does) and names its cache directory.
// replaced by crate::url when merged
#[derive(Clone, PartialEq, Eq)]
pub struct RepoUrl {
    url: String,
    key: String,
    scheme: Scheme,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Https,
    Http,
    File,
}

impl RepoUrl {
    pub fn parse(raw: &str, allow_file: bool) -> GitResult<Self> {
        let raw = raw.trim();
        let bad = |why: &str| GitError::InvalidUrl(format!("{}: {why}", redact(raw)));
        if raw.is_empty() {
            return Err(GitError::InvalidUrl("empty URL".into()));
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad("contains whitespace or control characters"));
        }
        let Some((scheme, rest)) = raw.split_once("://") else {
            return Err(bad("only https://, http:// and file:// URLs are supported"));
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            "file" if allow_file => Scheme::File,
            "file" => return Err(bad("file:// URLs are not enabled")),
            _ => return Err(bad("only https://, http:// and file:// URLs are supported")),
        };
        if scheme == Scheme::File {
            if !rest.starts_with('/') || rest.split('/').any(|s| s == "..") {
                return Err(bad("a file:// URL needs an absolute path without `..`"));
            }
            let path = rest.trim_end_matches('/');
            return Ok(RepoUrl {
                url: format!("file://{path}"),
                key: format!("file://{path}"),
                scheme,
            });
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if host.is_empty() || host.starts_with(':') {
            return Err(bad("no host"));
        }
        if tail.contains('#') {
            return Err(bad("fragments are not allowed"));
        }
        let scheme_str = if scheme == Scheme::Https {
            "https"
        } else {
            "http"
        };
        let url = format!("{scheme_str}://{host}{tail}");
        let mut key = url.to_lowercase();
        if !key.contains('?') {
            while key.ends_with('/') {
                key.pop();
            }
            if let Some(stripped) = key.strip_suffix(".git") {
                key.truncate(stripped.len());
            }
        }
        Ok(RepoUrl { url, key, scheme })
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

/// `raw` with any userinfo replaced, for error messages about a URL that did not parse.
fn redact(raw: &str) -> String {
    match raw.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..end].rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://***@{host}{}", &rest[end..]),
                None => raw.to_string(),
            }
        }
        None => raw
            .split_once('@')
            .map_or(raw.to_string(), |(_, h)| format!("***@{h}")),
    }
}

/// Checks a branch or tag name (without `refs/heads/`) against git's ref-name rules, plus
/// no leading `-`, so it can never be read as an option.
// replaced by crate::url when merged
pub fn validate_ref_name(name: &str) -> GitResult<()> {
    let bad = |reason| {
        Err(GitError::InvalidRevision {
            revision: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > 255 {
        return bad("longer than 255 bytes");
    }
    if name.starts_with('-') {
        return bad("starts with '-'");
    }
    if name
        .chars()
        .any(|c| c.is_control() || " ~^:?*[\\".contains(c))
    {
        return bad("contains a space, control character or one of ~^:?*[\\");
    }
    if name.contains("..") || name.contains("@{") || name.contains("//") {
        return bad("contains '..', '@{' or '//'");
    }
    if name == "@" || name.starts_with('/') || name.ends_with('/') || name.ends_with('.') {
        return bad("is '@', or starts or ends with '/', or ends with '.'");
    }
    if name
        .split('/')
        .any(|c| c.starts_with('.') || c.ends_with(".lock"))
    {
        return bad("a component starts with '.' or ends with '.lock'");
    }
    Ok(())
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
                "https://GitHub.com/A/B/",
                "https://github.com/a/b",
            ),
            (
                "http://127.0.0.1:8080/r.git",
                "http://127.0.0.1:8080/r.git",
                "http://127.0.0.1:8080/r",
            ),
        ];
        for (raw, url, key) in ok {
            let u = RepoUrl::parse(raw, false).unwrap();
            assert_eq!(u.as_str(), url, "{raw}");
            assert_eq!(u.key(), key, "{raw}");
        }
        for raw in [
            "",
            "ext::sh -c id",
            "--upload-pack=x",
            "git@github.com:a/b.git",
            "ssh://git@github.com/a/b",
            "https://",
            "https:///x",
            "https://host/a\nb",
            "https://host/a b",
            "file:///tmp/repo",
            "https://host/a#frag",
        ] {
            assert!(RepoUrl::parse(raw, false).is_err(), "{raw:?} accepted");
        }
        assert_eq!(
            RepoUrl::parse("file:///tmp/repo/", true).unwrap().as_str(),
            "file:///tmp/repo"
        );
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
