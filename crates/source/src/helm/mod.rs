//! Helm chart repositories: classic HTTP(S) repositories (`index.yaml`, fetched conditionally
//! by ETag and parsed once per change) and OCI registries (`oci://`), chart downloads with
//! their digest checked, and safe unpacking.

mod index;
mod unpack;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use index::{ChartVersion, RepoIndex};
pub use unpack::{UnpackError, UnpackLimits, unpack_tgz};

use ferry_api::{Classify, Disposition};

use crate::credentials::Credentials;
use crate::digest::sha256_hex;
use crate::http_body::{self, BodyError, describe};
use crate::oci::{ImageRepo, ManifestKind, RegistryClient, RegistryError};
use crate::semver::{Constraint, Version};
use crate::url::{RepoUrl, Scheme, UrlPolicy};

const MAX_INDEX_BYTES: usize = 64 << 20;
const MAX_CHART_BYTES: usize = 32 << 20;
const CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// A chart repository call that failed. `repo` is the repository URL without userinfo.
#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    /// The connection failed or timed out.
    #[error("chart repository {repo}: {detail}")]
    Transport {
        /// The repository.
        repo: String,
        /// The transport error.
        detail: String,
    },
    /// The repository answered with an HTTP error status.
    #[error("chart repository {repo} answered {status} for {what}")]
    Status {
        /// The repository.
        repo: String,
        /// What was asked for: `index.yaml` or a chart archive.
        what: String,
        /// The HTTP status.
        status: u16,
    },
    /// A repository URL, index or chart reference that cannot be used.
    #[error("chart repository {repo}: {detail}")]
    Invalid {
        /// The repository.
        repo: String,
        /// What is wrong.
        detail: String,
    },
    /// No version of the chart matches.
    #[error("chart {chart} version {version} not found in {repo}")]
    NotFound {
        /// The repository.
        repo: String,
        /// The chart's name.
        chart: String,
        /// The version or constraint asked for.
        version: String,
    },
    /// The downloaded archive is not the one the index lists.
    #[error("chart {chart} {version} from {repo}: digest {actual}, index says {expected}")]
    DigestMismatch {
        /// The repository.
        repo: String,
        /// The chart's name.
        chart: String,
        /// The chart's version.
        version: String,
        /// The digest the index lists.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// An OCI registry call failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The chart archive could not be unpacked.
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    /// The on-disk chart or index cache could not be read or written.
    #[error("chart cache {path}: {source}")]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl Classify for HelmError {
    /// Network trouble and the local cache are retried, statuses follow
    /// [`Disposition::of_http_status`], a chart version not in the index may be published
    /// later; a broken index or archive stays so.
    fn disposition(&self) -> Disposition {
        match self {
            Self::Transport { .. } | Self::Cache { .. } => Disposition::Retry,
            Self::Status { status, .. } => Disposition::of_http_status(*status),
            Self::NotFound { .. } => Disposition::Wait,
            Self::Invalid { .. } | Self::DigestMismatch { .. } => Disposition::GiveUp,
            Self::Registry(e) => e.disposition(),
            Self::Unpack(e) => e.disposition(),
        }
    }
}

/// One chart version as [`HelmRepos::locate`] finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartLocation {
    /// The exact version, as the repository lists it.
    pub version: String,
    /// Lowercase sha256 hex of the `.tgz`; `None` when an HTTP index lists no digest.
    pub digest: Option<String>,
}

/// Reads chart repositories, caching indexes on disk and in memory.
pub struct HelmRepos {
    http: reqwest::Client,
    registry: Arc<RegistryClient>,
    cache_dir: PathBuf,
    indexes: Mutex<HashMap<String, CachedIndex>>,
    limits: UnpackLimits,
}

struct CachedIndex {
    etag: String,
    index: Arc<RepoIndex>,
}

impl HelmRepos {
    /// Repositories cached under `cache_dir`; OCI ones are read through `registry`.
    pub fn new(
        cache_dir: impl Into<PathBuf>,
        registry: Arc<RegistryClient>,
    ) -> Result<Self, HelmError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let cache_dir = cache_dir.into();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HelmError::Transport {
                repo: String::new(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            http,
            registry,
            cache_dir,
            indexes: Mutex::new(HashMap::new()),
            limits: UnpackLimits::default(),
        })
    }

    /// The index of an HTTP(S) repository. Unchanged since the last call (same ETag) costs one
    /// conditional request and no parsing.
    pub async fn index(
        &self,
        repo_url: &str,
        creds: Option<&Credentials>,
    ) -> Result<Arc<RepoIndex>, HelmError> {
        let (base, shown) = http_repo(repo_url)?;
        let base = base.as_str();
        let dir = self.repo_dir(base);
        let etag_path = dir.join("etag");
        let index_path = dir.join("index.yaml");
        let known_etag = std::fs::read_to_string(&etag_path).ok();

        let mut request = self.http.get(format!("{base}/index.yaml"));
        if let Some(etag) = &known_etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag.as_str());
        }
        if let Some(c) = creds {
            request =
                request.basic_auth(c.username.clone().unwrap_or_default(), c.password.clone());
        }
        let response = request.send().await.map_err(|e| transport(&shown, &e))?;
        let status = response.status();
        if let Some(etag) = known_etag.filter(|_| status == reqwest::StatusCode::NOT_MODIFIED) {
            if let Some(cached) = self.memory_index(base, &etag) {
                return Ok(cached);
            }
            let bytes = std::fs::read(&index_path).map_err(|source| HelmError::Cache {
                path: index_path.clone(),
                source,
            })?;
            return self.remember(base, &shown, etag, &bytes);
        }
        if !status.is_success() {
            return Err(HelmError::Status {
                repo: shown,
                what: "index.yaml".into(),
                status: status.as_u16(),
            });
        }
        let etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = read_limited(&shown, "index.yaml", response, MAX_INDEX_BYTES).await?;
        let index = self.remember(base, &shown, etag.clone().unwrap_or_default(), &bytes)?;
        // Cache on disk only what parsed; a bad index never replaces a good one.
        let cache = |path: &Path, data: &[u8]| {
            std::fs::create_dir_all(&dir)
                .and_then(|()| write_atomically(path, data))
                .map_err(|source| HelmError::Cache {
                    path: path.to_path_buf(),
                    source,
                })
        };
        cache(&index_path, &bytes)?;
        match etag {
            Some(etag) => cache(&etag_path, etag.as_bytes())?,
            None => {
                let _ = std::fs::remove_file(&etag_path);
            }
        }
        Ok(index)
    }

    fn memory_index(&self, base: &str, etag: &str) -> Option<Arc<RepoIndex>> {
        let indexes = self.indexes.lock().unwrap_or_else(|e| e.into_inner());
        indexes
            .get(base)
            .filter(|c| c.etag == etag)
            .map(|c| c.index.clone())
    }

    fn remember(
        &self,
        base: &str,
        shown: &str,
        etag: String,
        bytes: &[u8],
    ) -> Result<Arc<RepoIndex>, HelmError> {
        let index = Arc::new(
            RepoIndex::parse(bytes).map_err(|detail| HelmError::Invalid {
                repo: shown.to_string(),
                detail,
            })?,
        );
        self.indexes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                base.to_string(),
                CachedIndex {
                    etag,
                    index: index.clone(),
                },
            );
        Ok(index)
    }

    /// Every published version of a chart, as written by the repository. For `oci://`
    /// repositories these are the tags (Helm writes `+` as `_` in tags; it is turned back).
    pub async fn versions(
        &self,
        repo_url: &str,
        chart: &str,
        creds: Option<&Credentials>,
    ) -> Result<Vec<String>, HelmError> {
        if let Some(repo) = oci_repo(repo_url, chart)? {
            let tags = self.registry.list_tags(&repo, creds).await?;
            return Ok(tags.into_iter().map(|t| t.replace('_', "+")).collect());
        }
        let index = self.index(repo_url, creds).await?;
        Ok(index
            .versions(chart)
            .iter()
            .map(|v| v.version.clone())
            .collect())
    }

    /// Kargo's chart discovery: the versions satisfying `semver_constraint` (all releases
    /// without one; prereleases only when the constraint names one), newest first, at most
    /// `limit`. Versions that are not semver are skipped.
    pub async fn discover_versions(
        &self,
        repo_url: &str,
        chart: &str,
        semver_constraint: Option<&str>,
        limit: usize,
        creds: Option<&Credentials>,
    ) -> Result<Vec<String>, HelmError> {
        let constraint = Constraint::parse(semver_constraint.unwrap_or_default()).map_err(|e| {
            HelmError::Invalid {
                repo: display_url(repo_url),
                detail: format!("semverConstraint: {e}"),
            }
        })?;
        let mut versions: Vec<Version> = self
            .versions(repo_url, chart, creds)
            .await?
            .iter()
            .filter_map(|v| Version::parse(v).ok())
            .filter(|v| constraint.matches(v))
            .collect();
        versions.sort_by(|a, b| b.cmp(a));
        versions.dedup_by(|a, b| a.cmp_precedence(b).is_eq());
        Ok(versions
            .into_iter()
            .take(limit)
            .map(|v| v.original().to_string())
            .collect())
    }

    /// Where one chart version is and the digest its archive must have, without downloading
    /// it: the index entry (HTTP; one conditional request) or the chart layer of the tag's
    /// manifest (OCI; one manifest request). Callers key caches of archives on this.
    pub async fn locate(
        &self,
        repo_url: &str,
        chart: &str,
        version: &str,
        creds: Option<&Credentials>,
    ) -> Result<ChartLocation, HelmError> {
        if let Some(repo) = oci_repo(repo_url, chart)? {
            let digest = self.oci_chart_layer(&repo, version, creds).await?;
            return Ok(ChartLocation {
                version: version.to_string(),
                digest: Some(digest.trim_start_matches("sha256:").to_ascii_lowercase()),
            });
        }
        let (_, entry) = self.index_entry(repo_url, chart, version, creds).await?;
        Ok(entry.location())
    }

    /// The chart layer's digest (`sha256:...`) of an OCI chart tag.
    async fn oci_chart_layer(
        &self,
        repo: &ImageRepo,
        version: &str,
        creds: Option<&Credentials>,
    ) -> Result<String, HelmError> {
        let manifest = self
            .registry
            .manifest(repo, &version.replace('+', "_"), creds)
            .await?;
        let ManifestKind::Image(image) = manifest.kind else {
            return Err(HelmError::Invalid {
                repo: repo.to_string(),
                detail: format!("{version} is an image index, not a chart"),
            });
        };
        image
            .layers
            .iter()
            .find(|l| l.media_type == CHART_LAYER)
            .map(|l| l.digest.clone())
            .ok_or_else(|| HelmError::Invalid {
                repo: repo.to_string(),
                detail: format!("{version} has no {CHART_LAYER} layer"),
            })
    }

    /// The index entry of one chart version of an HTTP(S) repository.
    async fn index_entry(
        &self,
        repo_url: &str,
        chart: &str,
        version: &str,
        creds: Option<&Credentials>,
    ) -> Result<(Arc<RepoIndex>, ChartVersion), HelmError> {
        let (_, shown) = http_repo(repo_url)?;
        let index = self.index(repo_url, creds).await?;
        let entry = index
            .versions(chart)
            .iter()
            .find(|v| v.version == version)
            .cloned()
            .ok_or_else(|| HelmError::NotFound {
                repo: shown,
                chart: chart.to_string(),
                version: version.to_string(),
            })?;
        Ok((index, entry))
    }

    /// The `.tgz` of one chart version, its digest checked against the index (HTTP) or the
    /// manifest (OCI).
    pub async fn download(
        &self,
        repo_url: &str,
        chart: &str,
        version: &str,
        creds: Option<&Credentials>,
    ) -> Result<Vec<u8>, HelmError> {
        if let Some(repo) = oci_repo(repo_url, chart)? {
            let digest = self.oci_chart_layer(&repo, version, creds).await?;
            return Ok(self
                .registry
                .blob(&repo, &digest, MAX_CHART_BYTES, creds)
                .await?);
        }
        let (base, shown) = http_repo(repo_url)?;
        let (_, entry) = self.index_entry(repo_url, chart, version, creds).await?;
        let url = entry.urls.first().ok_or_else(|| HelmError::NotFound {
            repo: shown.clone(),
            chart: chart.to_string(),
            version: version.to_string(),
        })?;
        let url = chart_url(&base, url).map_err(|detail| HelmError::Invalid {
            repo: shown.clone(),
            detail,
        })?;
        let mut request = self.http.get(url);
        if let Some(c) = creds {
            request =
                request.basic_auth(c.username.clone().unwrap_or_default(), c.password.clone());
        }
        let response = request.send().await.map_err(|e| transport(&shown, &e))?;
        if !response.status().is_success() {
            return Err(HelmError::Status {
                repo: shown,
                what: format!("{chart}-{version}.tgz"),
                status: response.status().as_u16(),
            });
        }
        let bytes = read_limited(&shown, "chart archive", response, MAX_CHART_BYTES).await?;
        if let Some(expected) = entry.digest.as_deref().filter(|d| !d.is_empty()) {
            let actual = sha256_hex(&bytes);
            if !expected
                .trim_start_matches("sha256:")
                .eq_ignore_ascii_case(&actual)
            {
                return Err(HelmError::DigestMismatch {
                    repo: shown,
                    chart: chart.to_string(),
                    version: version.to_string(),
                    expected: expected.to_string(),
                    actual,
                });
            }
        }
        Ok(bytes)
    }

    /// Downloads and unpacks a chart under `dest`, returning the chart's directory.
    pub async fn pull(
        &self,
        repo_url: &str,
        chart: &str,
        version: &str,
        dest: &Path,
        creds: Option<&Credentials>,
    ) -> Result<PathBuf, HelmError> {
        let bytes = self.download(repo_url, chart, version, creds).await?;
        std::fs::create_dir_all(dest).map_err(|source| HelmError::Cache {
            path: dest.to_path_buf(),
            source,
        })?;
        let limits = self.limits;
        let target = dest.to_path_buf();
        let files =
            tokio::task::spawn_blocking(move || unpack_tgz(bytes.as_slice(), &target, limits))
                .await
                .map_err(|e| HelmError::Invalid {
                    repo: display_url(repo_url),
                    detail: format!("unpacking stopped: {e}"),
                })??;
        let top = files
            .first()
            .and_then(|f| f.components().next())
            .map(|c| dest.join(c.as_os_str()))
            .unwrap_or_else(|| dest.to_path_buf());
        Ok(top)
    }

    fn repo_dir(&self, base: &str) -> PathBuf {
        self.cache_dir
            .join("helm")
            .join(&sha256_hex(base.as_bytes())[..32])
    }
}

/// `oci://host/path` (+ chart name, as Argo CD splits it) → the repository holding the chart.
fn oci_repo(repo_url: &str, chart: &str) -> Result<Option<ImageRepo>, HelmError> {
    let Some(rest) = repo_url.strip_prefix("oci://") else {
        return Ok(None);
    };
    let rest = rest.trim_end_matches('/');
    let full = if chart.is_empty() || rest.ends_with(&format!("/{chart}")) {
        rest.to_string()
    } else {
        format!("{rest}/{chart}")
    };
    ImageRepo::parse(&full)
        .map(Some)
        .map_err(|detail| HelmError::Invalid {
            repo: display_url(repo_url),
            detail,
        })
}

/// An HTTP(S) repository URL, checked: its base (no trailing `/`) and its printable form.
fn http_repo(repo_url: &str) -> Result<(String, String), HelmError> {
    let base = repo_url.trim_end_matches('/');
    let invalid = |detail: String| HelmError::Invalid {
        repo: "(refused URL)".into(),
        detail,
    };
    let url = RepoUrl::parse(base, &UrlPolicy::NETWORK).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), Scheme::Https | Scheme::Http) {
        return Err(invalid(
            "a chart repository URL is https://, http:// or oci://".into(),
        ));
    }
    Ok((base.to_string(), url.redacted()))
}

/// A repository URL as it may appear in errors and logs: without userinfo.
pub fn display_url(repo_url: &str) -> String {
    let network = match repo_url.strip_prefix("oci://") {
        Some(rest) => format!("https://{rest}"),
        None => repo_url.to_string(),
    };
    RepoUrl::parse(&network, &UrlPolicy::NETWORK)
        .map(|u| u.redacted())
        .unwrap_or_else(|_| "(refused URL)".into())
}

/// Index URLs may be relative to the repository; absolute ones must be http(s).
fn chart_url(base: &str, url: &str) -> Result<String, String> {
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(url.to_string());
    }
    if url.contains("://") || url.starts_with('/') {
        return Err(format!("chart URL {url:?} is neither http(s) nor relative"));
    }
    Ok(format!("{base}/{url}"))
}

fn transport(repo: &str, e: &reqwest::Error) -> HelmError {
    HelmError::Transport {
        repo: repo.to_string(),
        detail: describe(e),
    }
}

async fn read_limited(
    repo: &str,
    what: &str,
    response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, HelmError> {
    http_body::read_limited(response, limit)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => HelmError::Invalid {
                repo: repo.to_string(),
                detail: format!("{what} is larger than {limit} bytes"),
            },
            BodyError::Transport(detail) => HelmError::Transport {
                repo: repo.to_string(),
                detail,
            },
        })
}

fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_has_its_disposition() {
        let repo = || "https://charts.example".to_string();
        let status = |status| HelmError::Status {
            repo: repo(),
            what: "index.yaml".into(),
            status,
        };
        let table = [
            (
                HelmError::Transport {
                    repo: repo(),
                    detail: "connection refused".into(),
                },
                Disposition::Retry,
            ),
            (status(500), Disposition::Retry),
            (status(502), Disposition::Retry),
            (status(429), Disposition::Retry),
            (status(404), Disposition::Wait),
            (status(403), Disposition::GiveUp),
            (
                HelmError::Invalid {
                    repo: repo(),
                    detail: "index.yaml is not YAML".into(),
                },
                Disposition::GiveUp,
            ),
            (
                HelmError::NotFound {
                    repo: repo(),
                    chart: "app".into(),
                    version: "2.0.0".into(),
                },
                Disposition::Wait,
            ),
            (
                HelmError::DigestMismatch {
                    repo: repo(),
                    chart: "app".into(),
                    version: "1.0.0".into(),
                    expected: "a".into(),
                    actual: "b".into(),
                },
                Disposition::GiveUp,
            ),
            (
                HelmError::Registry(RegistryError::Transport {
                    registry: "r".into(),
                    detail: "reset".into(),
                }),
                Disposition::Retry,
            ),
            (
                HelmError::Unpack(UnpackError::Corrupt("bad gzip".into())),
                Disposition::GiveUp,
            ),
            (
                HelmError::Cache {
                    path: "/cache".into(),
                    source: std::io::Error::other("disk full"),
                },
                Disposition::Retry,
            ),
        ];
        for (error, expected) in table {
            assert_eq!(error.disposition(), expected, "{error}");
        }
    }

    #[test]
    fn chart_urls_and_userinfo() {
        assert_eq!(
            chart_url("https://r.io/charts", "a-1.0.0.tgz").unwrap(),
            "https://r.io/charts/a-1.0.0.tgz"
        );
        assert_eq!(
            chart_url("https://r.io", "https://cdn.io/a.tgz").unwrap(),
            "https://cdn.io/a.tgz"
        );
        assert!(chart_url("https://r.io", "file:///etc/passwd").is_err());
        assert!(chart_url("https://r.io", "/abs.tgz").is_err());
        assert_eq!(
            http_repo("https://u:p@r.io/charts/").unwrap().1,
            "https://r.io/charts"
        );
        assert!(http_repo("ssh://git@r.io/charts").is_err());
        assert!(http_repo("file:///etc").is_err());
        assert_eq!(display_url("oci://u:p@r.io/charts"), "https://r.io/charts");
    }

    #[test]
    fn oci_chart_repositories() {
        let repo = oci_repo("oci://ghcr.io/org/charts", "podinfo")
            .unwrap()
            .unwrap();
        assert_eq!(repo.to_string(), "ghcr.io/org/charts/podinfo");
        let kargo_style = oci_repo("oci://ghcr.io/org/charts/podinfo", "")
            .unwrap()
            .unwrap();
        assert_eq!(kargo_style, repo);
        assert!(oci_repo("https://charts.io", "x").unwrap().is_none());
    }
}
