//! [`RegistryClient`]: the HTTP side of the registry API, with authentication, retries,
//! pagination and per-host rate limiting.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferry_api::{Classify, Disposition};
use reqwest::{Method, StatusCode, header};
use sha2::{Digest as _, Sha256};

use crate::digest::{hex, sha256_hex};
use crate::http_body::{self, BodyError, describe};

use super::auth::Challenge;
use super::manifest::{self, Manifest};
use super::rate_limit::RateLimiter;
use super::reference::ImageRepo;
use crate::credentials::Credentials;

/// Tags asked for per page; registries may answer with fewer.
const TAGS_PAGE_SIZE: usize = 1000;
/// A registry that paginates forever is a broken registry.
const MAX_TAG_PAGES: usize = 1000;
const MAX_MANIFEST_BYTES: usize = 4 << 20;
const RETRIES: u32 = 3;

/// How the registry client is set up.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    /// Requests per second per registry host (Kargo's default budget is 20).
    pub requests_per_second: u32,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Hosts reached over plain HTTP besides loopback ones (`insecure` registries).
    pub insecure_hosts: Vec<String>,
    /// First retry delay; doubled for each further attempt.
    pub retry_backoff: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            requests_per_second: 20,
            timeout: Duration::from_secs(30),
            insecure_hosts: Vec::new(),
            retry_backoff: Duration::from_millis(200),
        }
    }
}

/// A registry call that failed. `registry` is the host, `what` the object asked for
/// (`tag list`, `manifest 1.2.3`, ...); no message carries credentials or tokens.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The connection failed or timed out.
    #[error("registry {registry}: {detail}")]
    Transport {
        /// The registry, as the reference names it (`ghcr.io`, `docker.io`).
        registry: String,
        /// The transport error.
        detail: String,
    },
    /// An HTTP status the client has no better variant for.
    #[error("registry {registry} answered {status} for {what}")]
    Status {
        /// The registry, as the reference names it (`ghcr.io`, `docker.io`).
        registry: String,
        /// What was asked for.
        what: String,
        /// The HTTP status.
        status: u16,
    },
    /// 401 or 403, after presenting the credentials (or the token they earned).
    #[error(
        "registry {registry}: authentication failed for {what} ({status}); check the credentials"
    )]
    Unauthorized {
        /// The registry, as the reference names it (`ghcr.io`, `docker.io`).
        registry: String,
        /// What was asked for.
        what: String,
        /// The HTTP status.
        status: u16,
    },
    /// 404: no such repository, tag or digest.
    #[error("registry {registry}: {what} not found")]
    NotFound {
        /// The registry, as the reference names it (`ghcr.io`, `docker.io`).
        registry: String,
        /// What was asked for.
        what: String,
    },
    /// A body that does not parse as what the API promises.
    #[error("registry {registry}: malformed {what}: {detail}")]
    Malformed {
        /// The registry, as the reference names it (`ghcr.io`, `docker.io`).
        registry: String,
        /// What was asked for.
        what: String,
        /// The parser's complaint.
        detail: String,
    },
    /// A body larger than the client reads.
    #[error("registry {registry}: {what} is larger than {limit} bytes")]
    TooLarge {
        /// The registry, as the reference names it (`ghcr.io`, `docker.io`).
        registry: String,
        /// What was asked for.
        what: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// Content whose digest is not the one asked for or announced.
    #[error("registry {registry}: {what} has digest {actual}, expected {expected}")]
    DigestMismatch {
        /// The registry, as the reference names it (`ghcr.io`, `docker.io`).
        registry: String,
        /// What was asked for.
        what: String,
        /// The digest asked for or announced.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// The HTTP client could not be built (TLS set-up).
    #[error("could not start the HTTP client: {0}")]
    Client(String),
}

impl Classify for RegistryError {
    /// Network trouble is retried and statuses follow [`Disposition::of_http_status`]; a tag
    /// or repository not found may be pushed later; refused credentials and malformed or
    /// oversized content stay so.
    fn disposition(&self) -> Disposition {
        match self {
            Self::Transport { .. } => Disposition::Retry,
            Self::Status { status, .. } => Disposition::of_http_status(*status),
            Self::NotFound { .. } => Disposition::Wait,
            Self::Unauthorized { .. }
            | Self::Malformed { .. }
            | Self::TooLarge { .. }
            | Self::DigestMismatch { .. }
            | Self::Client(_) => Disposition::GiveUp,
        }
    }
}

/// A registry client shared by every subscription: one connection pool, one token cache,
/// one rate limit per host.
pub struct RegistryClient {
    http: reqwest::Client,
    options: RegistryOptions,
    limiter: RateLimiter,
    tokens: Mutex<HashMap<TokenKey, CachedToken>>,
    /// Hosts that asked for Basic auth: later requests send it up front.
    basic_hosts: Mutex<HashSet<String>>,
}

/// Tokens are per host, scope and exact credentials (a digest of them: a wrong password must
/// never reuse the token a right one earned).
#[derive(Clone, PartialEq, Eq, Hash)]
struct TokenKey {
    host: String,
    scope: String,
    identity: Option<String>,
}

struct CachedToken {
    token: String,
    expires: Instant,
}

/// How to authenticate the next attempt of a request.
#[derive(Clone)]
enum Auth {
    None,
    Basic,
    Bearer(String),
}

impl RegistryClient {
    /// A client with its own connection pool, token cache and rate limits.
    pub fn new(options: RegistryOptions) -> Result<Self, RegistryError> {
        // Shares the process's rustls provider; install ring when nobody did (tests, tools).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegistryError::Client(e.to_string()))?;
        Ok(Self {
            limiter: RateLimiter::new(options.requests_per_second),
            http,
            options,
            tokens: Mutex::new(HashMap::new()),
            basic_hosts: Mutex::new(HashSet::new()),
        })
    }

    fn base_url(&self, repo: &ImageRepo) -> String {
        let host = repo.api_host();
        let plain = repo.is_loopback() || self.options.insecure_hosts.iter().any(|h| h == host);
        format!("{}://{host}", if plain { "http" } else { "https" })
    }

    /// Every tag of a repository, in the registry's order, following `Link` pagination.
    pub async fn list_tags(
        &self,
        repo: &ImageRepo,
        creds: Option<&Credentials>,
    ) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut tags = Vec::new();
        let mut path = format!("/v2/{}/tags/list?n={TAGS_PAGE_SIZE}", repo.repository);
        for _ in 0..MAX_TAG_PAGES {
            let response = self.get(repo, &path, "tag list", None, creds).await?;
            let next = response
                .headers()
                .get(header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let body = read_limited(repo, "tag list", response, MAX_MANIFEST_BYTES).await?;
            let page: TagList =
                serde_json::from_slice(&body).map_err(|e| malformed(repo, "tag list", e))?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                // Only follow links that stay on this registry's API.
                Some(link) if link.starts_with("/v2/") && link != path => path = link,
                Some(_) | None => return Ok(tags),
            }
        }
        Err(RegistryError::Malformed {
            registry: repo.registry.clone(),
            what: "tag list".into(),
            detail: format!("more than {MAX_TAG_PAGES} pages"),
        })
    }

    /// The manifest a tag or digest names, with the digest of the bytes served (checked
    /// against the reference when it is a digest).
    pub async fn manifest(
        &self,
        repo: &ImageRepo,
        reference: &str,
        creds: Option<&Credentials>,
    ) -> Result<Manifest, RegistryError> {
        let what = format!("manifest {reference}");
        let path = format!("/v2/{}/manifests/{reference}", repo.repository);
        let response = self
            .get(repo, &path, &what, Some(manifest::ACCEPT), creds)
            .await?;
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = read_limited(repo, &what, response, MAX_MANIFEST_BYTES).await?;
        let digest = sha256_digest(&body);
        if reference.starts_with("sha256:") && reference != digest {
            return Err(RegistryError::DigestMismatch {
                registry: repo.registry.clone(),
                what,
                expected: reference.to_string(),
                actual: digest,
            });
        }
        Manifest::parse(digest, &content_type, &body).map_err(|detail| RegistryError::Malformed {
            registry: repo.registry.clone(),
            what,
            detail,
        })
    }

    /// A blob by digest, at most `limit` bytes, its sha256 verified.
    pub async fn blob(
        &self,
        repo: &ImageRepo,
        digest: &str,
        limit: usize,
        creds: Option<&Credentials>,
    ) -> Result<Vec<u8>, RegistryError> {
        let what = format!("blob {digest}");
        let path = format!("/v2/{}/blobs/{digest}", repo.repository);
        let response = self.get(repo, &path, &what, None, creds).await?;
        let body = read_limited(repo, &what, response, limit).await?;
        let actual = sha256_digest(&body);
        if actual != digest {
            return Err(RegistryError::DigestMismatch {
                registry: repo.registry.clone(),
                what,
                expected: digest.to_string(),
                actual,
            });
        }
        Ok(body)
    }

    /// GET with rate limiting, authentication challenges and retries of transient failures.
    async fn get(
        &self,
        repo: &ImageRepo,
        path: &str,
        what: &str,
        accept: Option<&str>,
        creds: Option<&Credentials>,
    ) -> Result<reqwest::Response, RegistryError> {
        let url = format!("{}{path}", self.base_url(repo));
        let scope = format!("repository:{}:pull", repo.repository);
        let mut auth = self.cached_auth(repo, &scope, creds);
        let mut challenged = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.limiter.acquire(repo.api_host()).await;
            let mut request = self.http.request(Method::GET, &url);
            if let Some(accept) = accept {
                request = request.header(header::ACCEPT, accept);
            }
            request = match (&auth, creds) {
                (Auth::Basic, Some(c)) => {
                    request.basic_auth(c.username.clone().unwrap_or_default(), c.password.clone())
                }
                (Auth::Bearer(token), _) => request.bearer_auth(token),
                _ => request,
            };
            let result = request.send().await;
            let error = match result {
                Ok(response) => match response.status() {
                    s if s.is_success() => return Ok(response),
                    StatusCode::UNAUTHORIZED if !challenged => {
                        challenged = true;
                        let challenge = response
                            .headers()
                            .get(header::WWW_AUTHENTICATE)
                            .and_then(|v| v.to_str().ok())
                            .and_then(Challenge::parse);
                        auth = match challenge {
                            Some(Challenge::Basic) if creds.is_some() => {
                                self.basic_hosts
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .insert(repo.api_host().to_string());
                                Auth::Basic
                            }
                            Some(Challenge::Bearer {
                                realm,
                                service,
                                scope: challenge_scope,
                            }) => {
                                let scope = challenge_scope.unwrap_or_else(|| scope.clone());
                                let token = self
                                    .fetch_token(repo, &realm, service.as_deref(), &scope, creds)
                                    .await?;
                                Auth::Bearer(token)
                            }
                            _ => return Err(unauthorized(repo, what, 401)),
                        };
                        attempt -= 1;
                        continue;
                    }
                    s @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
                        return Err(unauthorized(repo, what, s.as_u16()));
                    }
                    StatusCode::NOT_FOUND => {
                        return Err(RegistryError::NotFound {
                            registry: repo.registry.clone(),
                            what: what.to_string(),
                        });
                    }
                    s => RegistryError::Status {
                        registry: repo.registry.clone(),
                        what: what.to_string(),
                        status: s.as_u16(),
                    },
                },
                Err(e) => RegistryError::Transport {
                    registry: repo.registry.clone(),
                    detail: describe(&e),
                },
            };
            if !error.is_retryable() || attempt > RETRIES {
                return Err(error);
            }
            tracing::debug!(%error, attempt, "retrying registry request");
            tokio::time::sleep(self.options.retry_backoff * 2u32.pow(attempt - 1)).await;
        }
    }

    fn cached_auth(&self, repo: &ImageRepo, scope: &str, creds: Option<&Credentials>) -> Auth {
        let basic_host = self
            .basic_hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(repo.api_host());
        if basic_host && creds.is_some() {
            return Auth::Basic;
        }
        let key = token_key(repo, scope, creds);
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        match tokens.get(&key) {
            Some(t) if t.expires > Instant::now() => Auth::Bearer(t.token.clone()),
            _ => Auth::None,
        }
    }

    /// The token endpoint of a Bearer challenge, with the credentials (if any) as Basic auth.
    async fn fetch_token(
        &self,
        repo: &ImageRepo,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        creds: Option<&Credentials>,
    ) -> Result<String, RegistryError> {
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let mut realm_url =
            reqwest::Url::parse(realm).map_err(|e| malformed(repo, "token realm", e))?;
        if !matches!(realm_url.scheme(), "https" | "http") {
            return Err(malformed(repo, "token realm", "not an http(s) URL"));
        }
        self.limiter
            .acquire(realm_url.host_str().unwrap_or_default())
            .await;
        {
            let mut query = realm_url.query_pairs_mut();
            query.append_pair("scope", scope);
            if let Some(service) = service {
                query.append_pair("service", service);
            }
        }
        let mut request = self.http.get(realm_url);
        if let Some(c) = creds {
            request =
                request.basic_auth(c.username.clone().unwrap_or_default(), c.password.clone());
        }
        let response = request.send().await.map_err(|e| RegistryError::Transport {
            registry: repo.registry.clone(),
            detail: describe(&e),
        })?;
        if !response.status().is_success() {
            return Err(unauthorized(repo, "token", response.status().as_u16()));
        }
        let body = read_limited(repo, "token", response, 1 << 20).await?;
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| malformed(repo, "token", e))?;
        let token = parsed
            .token
            .or(parsed.access_token)
            .ok_or_else(|| malformed(repo, "token", "no token in the answer"))?;
        // Docker's default lifetime is 60 s; renew a little early.
        let lifetime =
            Duration::from_secs(parsed.expires_in.unwrap_or(60).saturating_sub(5).max(1));
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                token_key(repo, scope, creds),
                CachedToken {
                    token: token.clone(),
                    expires: Instant::now() + lifetime,
                },
            );
        Ok(token)
    }
}

fn token_key(repo: &ImageRepo, scope: &str, creds: Option<&Credentials>) -> TokenKey {
    TokenKey {
        host: repo.api_host().to_string(),
        scope: scope.to_string(),
        identity: creds.map(|c| {
            let mut hasher = Sha256::new();
            hasher.update(c.username.as_deref().unwrap_or_default());
            hasher.update([0]);
            hasher.update(c.password.as_deref().unwrap_or_default());
            hex(&hasher.finalize())
        }),
    }
}

/// The target of a `Link: <...>; rel="next"` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

async fn read_limited(
    repo: &ImageRepo,
    what: &str,
    response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, RegistryError> {
    http_body::read_limited(response, limit)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => RegistryError::TooLarge {
                registry: repo.registry.clone(),
                what: what.to_string(),
                limit,
            },
            BodyError::Transport(detail) => RegistryError::Transport {
                registry: repo.registry.clone(),
                detail,
            },
        })
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

fn unauthorized(repo: &ImageRepo, what: &str, status: u16) -> RegistryError {
    RegistryError::Unauthorized {
        registry: repo.registry.clone(),
        what: what.to_string(),
        status,
    }
}

fn malformed(repo: &ImageRepo, what: &str, detail: impl std::fmt::Display) -> RegistryError {
    RegistryError::Malformed {
        registry: repo.registry.clone(),
        what: what.to_string(),
        detail: detail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_has_its_disposition() {
        let registry = || "registry.example".to_string();
        let what = || "app:v1".to_string();
        let status = |status| RegistryError::Status {
            registry: registry(),
            what: what(),
            status,
        };
        let table = [
            (
                RegistryError::Transport {
                    registry: registry(),
                    detail: "connection reset".into(),
                },
                Disposition::Retry,
            ),
            (status(500), Disposition::Retry),
            (status(503), Disposition::Retry),
            (status(429), Disposition::Retry),
            (status(400), Disposition::GiveUp),
            (
                RegistryError::Unauthorized {
                    registry: registry(),
                    what: what(),
                    status: 401,
                },
                Disposition::GiveUp,
            ),
            (
                RegistryError::NotFound {
                    registry: registry(),
                    what: what(),
                },
                Disposition::Wait,
            ),
            (
                RegistryError::Malformed {
                    registry: registry(),
                    what: what(),
                    detail: "not json".into(),
                },
                Disposition::GiveUp,
            ),
            (
                RegistryError::TooLarge {
                    registry: registry(),
                    what: what(),
                    limit: 1,
                },
                Disposition::GiveUp,
            ),
            (
                RegistryError::DigestMismatch {
                    registry: registry(),
                    what: what(),
                    expected: "sha256:a".into(),
                    actual: "sha256:b".into(),
                },
                Disposition::GiveUp,
            ),
            (RegistryError::Client("no TLS".into()), Disposition::GiveUp),
        ];
        for (error, expected) in table {
            assert_eq!(error.disposition(), expected, "{error}");
        }
    }

    #[test]
    fn follows_next_links_only() {
        assert_eq!(
            next_link(r#"</v2/app/tags/list?last=v1.9&n=1000>; rel="next""#).as_deref(),
            Some("/v2/app/tags/list?last=v1.9&n=1000")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
    }

    #[test]
    fn digests_are_sha256_hex() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
