//! Image repository references as Kargo's `image.repoURL` and Helm's `oci://` URLs write them:
//! a registry host (Docker Hub when omitted) and a repository path, never a tag or digest.

use std::fmt;

const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A repository in a registry, e.g. `ghcr.io/akuity/guestbook` or `localhost:5000/app`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageRepo {
    /// Host and optional port as written (`docker.io` for Docker Hub).
    pub registry: String,
    /// Path inside the registry (`library/nginx` for `nginx`).
    pub repository: String,
}

impl ImageRepo {
    /// Parses `[oci://][host[:port]/]path`. A tag or digest is an error: subscriptions select
    /// tags, they do not name one.
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.strip_prefix("oci://").unwrap_or(input);
        if s.is_empty() {
            return Err("empty image repository".into());
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) || s.starts_with('-') {
            return Err("image repository contains whitespace or starts with '-'".into());
        }
        if s.contains('@') {
            return Err("image repository must not carry a digest (`@sha256:...`)".into());
        }
        let (registry, path) = match s.split_once('/') {
            Some((first, rest)) if looks_like_host(first) => (first.to_string(), rest.to_string()),
            _ => (DOCKER_HUB.to_string(), s.to_string()),
        };
        if path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
        {
            return Err("image repository must not carry a tag (`:tag`)".into());
        }
        let valid_component = |c: &str| {
            !c.is_empty()
                && c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
                && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
        };
        if !path.split('/').all(valid_component) {
            return Err(format!(
                "invalid repository path {path:?}: lowercase letters, digits, '.', '_', '-' and '/' only"
            ));
        }
        let registry = registry.to_ascii_lowercase();
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        Ok(Self {
            registry,
            repository,
        })
    }

    /// The host the API is served from (Docker Hub's differs from its name).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// Whether the registry is on this machine, where plain HTTP is the norm.
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => &self.registry,
        };
        host == "localhost"
            || host == "[::1]"
            || host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for ImageRepo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)
    }
}

/// Docker's rule: the first component is a host if it has a `.` or `:` or is `localhost`.
fn looks_like_host(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_kargo_users_write() {
        let cases = [
            ("nginx", "docker.io", "library/nginx"),
            ("bitnami/nginx", "docker.io", "bitnami/nginx"),
            ("ghcr.io/akuity/guestbook", "ghcr.io", "akuity/guestbook"),
            ("localhost:5000/app", "localhost:5000", "app"),
            ("127.0.0.1:5000/team/app", "127.0.0.1:5000", "team/app"),
            (
                "oci://GHCR.io/org/charts/podinfo",
                "ghcr.io",
                "org/charts/podinfo",
            ),
        ];
        for (input, registry, repository) in cases {
            let r = ImageRepo::parse(input).unwrap();
            assert_eq!(
                (r.registry.as_str(), r.repository.as_str()),
                (registry, repository)
            );
        }
        assert_eq!(
            ImageRepo::parse("nginx").unwrap().api_host(),
            "registry-1.docker.io"
        );
    }

    #[test]
    fn rejects_tags_digests_and_junk() {
        for bad in [
            "",
            "nginx:1.25",
            "ghcr.io/a/b:latest",
            "nginx@sha256:abc",
            "-rm",
            "a b",
            "ghcr.io/UPPER/case",
            "ghcr.io//double",
            "ghcr.io/a/../b",
        ] {
            assert!(ImageRepo::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn knows_loopback_registries() {
        for (repo, loopback) in [
            ("localhost:5000/a", true),
            ("127.0.0.1:5000/a", true),
            ("127.1.2.3/a", true),
            ("[::1]:5000/a", true),
            ("ghcr.io/a", false),
            ("10.0.0.1:5000/a", false),
        ] {
            assert_eq!(
                ImageRepo::parse(repo).unwrap().is_loopback(),
                loopback,
                "{repo}"
            );
        }
    }
}
