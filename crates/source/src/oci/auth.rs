//! Registry authentication: the `WWW-Authenticate` challenges registries answer with, and
//! Docker config JSON (`~/.docker/config.json`, `kubernetes.io/dockerconfigjson` Secrets) as a
//! source of credentials.

use std::collections::HashMap;

use base64::Engine as _;

use crate::credentials::Credentials;

/// What a 401 asked for.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Challenge {
    Basic,
    /// Fetch a token from `realm` (with `service` and `scope` query parameters).
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

impl Challenge {
    /// Parses one `WWW-Authenticate` value; `None` for schemes we do not speak.
    pub(super) fn parse(header: &str) -> Option<Self> {
        let header = header.trim();
        let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Self::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let params = parse_params(params);
        Some(Self::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        })
    }
}

/// `key="value", key2=value2` (values may hold commas inside quotes).
fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.insert(key, value.to_string());
        rest = remainder.trim_start().trim_start_matches(',');
    }
    out
}

/// Credentials by registry host, from a Docker config JSON document.
#[derive(Clone, Default)]
pub struct DockerConfig {
    by_host: HashMap<String, Credentials>,
}

impl std::fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut hosts: Vec<_> = self.by_host.keys().collect();
        hosts.sort();
        f.debug_struct("DockerConfig")
            .field("hosts", &hosts)
            .finish()
    }
}

impl DockerConfig {
    /// Parses `{"auths": {"host": {"auth": base64("user:pass")} | {"username", "password"}}}`.
    /// Errors name the host, never the secret.
    pub fn parse(json: &[u8]) -> Result<Self, String> {
        let doc: serde_json::Value =
            serde_json::from_slice(json).map_err(|e| format!("not a Docker config JSON: {e}"))?;
        let Some(auths) = doc.get("auths").and_then(|a| a.as_object()) else {
            return Err("Docker config JSON has no \"auths\" object".into());
        };
        let mut by_host = HashMap::new();
        for (key, entry) in auths {
            let str_field = |name: &str| entry.get(name).and_then(|v| v.as_str());
            let creds = if let Some(auth) = str_field("auth").filter(|a| !a.is_empty()) {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        format!("registry {key:?}: \"auth\" is not base64 of user:pass")
                    })?;
                let (user, pass) = decoded
                    .split_once(':')
                    .ok_or_else(|| format!("registry {key:?}: \"auth\" lacks a ':'"))?;
                Credentials::basic(user, pass)
            } else {
                match (str_field("username"), str_field("password")) {
                    (Some(u), Some(p)) => Credentials::basic(u, p),
                    _ => continue,
                }
            };
            by_host.insert(config_key_host(key), creds);
        }
        Ok(Self { by_host })
    }

    /// The credentials for a registry host (`docker.io` also matches Docker Hub's other names).
    pub fn lookup(&self, registry: &str) -> Option<&Credentials> {
        let host = config_key_host(registry);
        self.by_host.get(&host).or_else(|| {
            is_docker_hub(&host)
                .then(|| {
                    self.by_host
                        .iter()
                        .find(|(k, _)| is_docker_hub(k))
                        .map(|(_, c)| c)
                })
                .flatten()
        })
    }
}

/// `https://index.docker.io/v1/` → `index.docker.io`.
fn config_key_host(key: &str) -> String {
    let without_scheme = key.split_once("://").map_or(key, |(_, rest)| rest);
    without_scheme
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

fn is_docker_hub(host: &str) -> bool {
    matches!(
        host,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_and_basic_challenges() {
        assert_eq!(
            Challenge::parse(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/nginx:pull".into()),
            })
        );
        assert_eq!(
            Challenge::parse(
                r#"Bearer realm="https://ghcr.io/token", scope="repository:a/b:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://ghcr.io/token".into(),
                service: None,
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        assert_eq!(
            Challenge::parse(r#"Basic realm="basic-realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(Challenge::parse("Negotiate"), None);
        assert_eq!(Challenge::parse("Bearer service=x"), None);
    }

    #[test]
    fn docker_config_by_host() {
        let json = br#"{"auths": {
            "https://index.docker.io/v1/": {"auth": "YWxpY2U6czNjcmV0"},
            "localhost:5000": {"username": "bob", "password": "pw"},
            "ghcr.io": {}
        }}"#;
        let config = DockerConfig::parse(json).unwrap();
        assert_eq!(
            config.lookup("docker.io"),
            Some(&Credentials::basic("alice", "s3cret"))
        );
        assert_eq!(
            config.lookup("localhost:5000"),
            Some(&Credentials::basic("bob", "pw"))
        );
        assert_eq!(config.lookup("ghcr.io"), None);
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn docker_config_errors_never_show_the_secret() {
        let err =
            DockerConfig::parse(br#"{"auths": {"r.io": {"auth": "bm9jb2xvbg=="}}}"#).unwrap_err();
        assert!(err.contains("r.io"), "{err}");
        assert!(
            !err.contains("bm9jb2xvbg") && !err.contains("nocolon"),
            "{err}"
        );
        assert!(DockerConfig::parse(b"[]").is_err());
    }
}
