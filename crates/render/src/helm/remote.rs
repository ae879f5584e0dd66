//! Charts from chart repositories: Argo CD sources with `chart:` (an HTTP(S) repository, or an
//! OCI registry written `oci://host/path` or bare `host/path`) and the archives of remote
//! dependencies.
//!
//! [`ChartFetcher`] resolves a version the way `helm pull --version` does (the exact string
//! when the repository lists it, else the highest version satisfying it as a Masterminds
//! constraint), downloads through [`HelmRepos`] (digest-checked), and keeps what it fetched on
//! disk keyed by (repository, chart, version, digest): unpacked charts under `charts/`,
//! dependency archives under `archives/`. Once cached, a chart costs one index request (HTTP,
//! answered 304 by ETag) or, on OCI, one manifest request (tags can move; a constraint also
//! lists the tags), and no download.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_source::credentials::Credentials;
use ferry_source::digest::{hex, sha256_hex};
use ferry_source::helm::{
    ChartLocation, HelmError as RepoError, HelmRepos, UnpackLimits, display_url, unpack_tgz,
};
use ferry_source::oci::RegistryError;
use ferry_source::semver::{Constraint, Version};
use sha2::{Digest as _, Sha256};

use super::HelmError;
use super::dependencies::normalize_repo_url;

/// An Argo CD source with `chart:`: `repoURL`, `chart` and `targetRevision`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteChart {
    /// `https://…`, `http://…`, `oci://host/path` or `host/path` (OCI).
    pub repo_url: String,
    /// The chart's name in the repository.
    pub chart: String,
    /// An exact version or a semver constraint (`^1.2`, `>=1.0 <2`, `1.x`).
    pub target_revision: String,
}

/// A chart unpacked in the fetcher's cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedChart {
    /// The version fetched.
    pub version: String,
    /// sha256 hex of the archive; `None` when the repository's index lists none.
    pub digest: Option<String>,
    /// The chart's directory (holding `Chart.yaml`). Read-only: shared by later renders.
    pub dir: PathBuf,
}

/// Downloads charts and dependency archives, caching them on disk.
pub struct ChartFetcher {
    repos: Arc<HelmRepos>,
    dir: PathBuf,
    limits: UnpackLimits,
}

impl ChartFetcher {
    /// `cache_dir` holds unpacked charts and archives (created on first use).
    pub fn new(repos: Arc<HelmRepos>, cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            repos,
            dir: cache_dir.into(),
            limits: UnpackLimits::default(),
        }
    }

    /// The version `wanted` names in the repository: itself when listed, else the highest
    /// listed version satisfying it as a constraint (prereleases only when it names one).
    pub async fn resolve_version(
        &self,
        repo_url: &str,
        chart: &str,
        wanted: &str,
        creds: Option<&Credentials>,
    ) -> Result<String, HelmError> {
        Ok(self.locate(repo_url, chart, wanted, creds).await?.version)
    }

    async fn locate(
        &self,
        repo_url: &str,
        chart: &str,
        wanted: &str,
        creds: Option<&Credentials>,
    ) -> Result<ChartLocation, HelmError> {
        let repo_url = normalize_repo_url(repo_url);
        let wanted = wanted.trim();
        if wanted.is_empty() {
            return Err(HelmError::NoVersion {
                repo: display_url(&repo_url),
                chart: chart.to_string(),
            });
        }
        let no_match = || HelmError::NoMatchingVersion {
            repo: display_url(&repo_url),
            chart: chart.to_string(),
            wanted: wanted.to_string(),
        };
        if !repo_url.starts_with("oci://") {
            // One (conditional) index request answers both the version and its digest.
            let index = self.repos.index(&repo_url, creds).await?;
            let entries = index.versions(chart);
            let version =
                choose(entries.iter().map(|e| e.version.as_str()), wanted).ok_or_else(no_match)?;
            return entries
                .iter()
                .find(|e| e.version == version)
                .map(|e| e.location())
                .ok_or_else(no_match);
        }
        // An exact OCI tag usually names itself; skip listing the tags then.
        if Version::parse(wanted).is_ok() {
            match self.repos.locate(&repo_url, chart, wanted, creds).await {
                Ok(location) => return Ok(location),
                Err(RepoError::Registry(RegistryError::NotFound { .. })) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let tags = self.repos.versions(&repo_url, chart, creds).await?;
        let version = choose(tags.iter().map(String::as_str), wanted).ok_or_else(no_match)?;
        Ok(self.repos.locate(&repo_url, chart, &version, creds).await?)
    }

    /// The chart of a `chart:` source, unpacked (from the cache when fetched before).
    pub async fn fetch(
        &self,
        chart: &RemoteChart,
        creds: Option<&Credentials>,
    ) -> Result<FetchedChart, HelmError> {
        let repo_url = normalize_repo_url(&chart.repo_url);
        let location = self
            .locate(&repo_url, &chart.chart, &chart.target_revision, creds)
            .await?;
        let key = cache_key(&repo_url, &chart.chart, &location);
        let charts = self.dir.join("charts");
        let dir = charts.join(&key);
        let fetched = FetchedChart {
            version: location.version.clone(),
            digest: location.digest.clone(),
            dir: dir.clone(),
        };
        if dir.join("Chart.yaml").is_file() {
            return Ok(fetched);
        }
        let bytes = self
            .download(&repo_url, &chart.chart, &location, creds)
            .await?;
        std::fs::create_dir_all(&charts).map_err(|e| cache_error(&charts, e))?;
        let staging = tempfile::Builder::new()
            .prefix(".unpack-")
            .tempdir_in(&charts)
            .map_err(|e| cache_error(&charts, e))?;
        let limits = self.limits;
        let target = staging.path().to_path_buf();
        let shown = display_url(&repo_url);
        let top = tokio::task::spawn_blocking(move || -> Result<PathBuf, HelmError> {
            unpack_tgz(bytes.as_slice(), &target, limits).map_err(RepoError::from)?;
            chart_root(&target)
        })
        .await
        .map_err(|e| HelmError::Archive {
            repo: shown.clone(),
            chart: chart.chart.clone(),
            detail: format!("unpacking stopped: {e}"),
        })?
        .map_err(|e| match e {
            HelmError::Archive { detail, .. } => HelmError::Archive {
                repo: shown.clone(),
                chart: chart.chart.clone(),
                detail,
            },
            other => other,
        })?;
        // Publish atomically; a concurrent fetch of the same chart may have won the race.
        if let Err(e) = std::fs::rename(&top, &dir)
            && !dir.join("Chart.yaml").is_file()
        {
            return Err(cache_error(&dir, e));
        }
        Ok(fetched)
    }

    /// The `.tgz` of a dependency at `version` (exact or a constraint), from the cache when
    /// fetched before. Returns the resolved version and the archive.
    pub(crate) async fn archive(
        &self,
        repo_url: &str,
        chart: &str,
        version: &str,
        creds: Option<&Credentials>,
    ) -> Result<(String, Vec<u8>), HelmError> {
        let location = self.locate(repo_url, chart, version, creds).await?;
        let archives = self.dir.join("archives");
        let path = archives.join(format!("{}.tgz", cache_key(repo_url, chart, &location)));
        if let Ok(bytes) = std::fs::read(&path)
            && location
                .digest
                .as_deref()
                .is_none_or(|d| d == sha256_hex(&bytes))
        {
            return Ok((location.version, bytes));
        }
        let bytes = self.download(repo_url, chart, &location, creds).await?;
        std::fs::create_dir_all(&archives).map_err(|e| cache_error(&archives, e))?;
        let staging =
            tempfile::NamedTempFile::new_in(&archives).map_err(|e| cache_error(&archives, e))?;
        std::fs::write(staging.path(), &bytes).map_err(|e| cache_error(staging.path(), e))?;
        staging
            .persist(&path)
            .map_err(|e| cache_error(&path, e.error))?;
        Ok((location.version, bytes))
    }

    /// Downloads one located version and checks it is the archive that was located.
    async fn download(
        &self,
        repo_url: &str,
        chart: &str,
        location: &ChartLocation,
        creds: Option<&Credentials>,
    ) -> Result<Vec<u8>, HelmError> {
        let bytes = self
            .repos
            .download(repo_url, chart, &location.version, creds)
            .await?;
        if let Some(expected) = &location.digest {
            let actual = sha256_hex(&bytes);
            if &actual != expected {
                return Err(RepoError::DigestMismatch {
                    repo: display_url(repo_url),
                    chart: chart.to_string(),
                    version: location.version.clone(),
                    expected: expected.clone(),
                    actual,
                }
                .into());
            }
        }
        Ok(bytes)
    }
}

/// What `helm pull --version` picks: `wanted` itself when listed, else the highest listed
/// version satisfying it as a constraint (unparsable versions are skipped).
fn choose<'a>(listed: impl Iterator<Item = &'a str> + Clone, wanted: &str) -> Option<String> {
    if listed.clone().any(|v| v == wanted) {
        return Some(wanted.to_string());
    }
    let constraint = Constraint::parse(wanted).ok()?;
    listed
        .filter_map(|v| Version::parse(v).ok())
        .filter(|v| constraint.matches(v))
        .max()
        .map(|v| v.original().to_string())
}

/// The single top-level directory of an unpacked chart archive, which must hold `Chart.yaml`.
fn chart_root(unpacked: &Path) -> Result<PathBuf, HelmError> {
    let archive_error = |detail: String| HelmError::Archive {
        repo: String::new(),
        chart: String::new(),
        detail,
    };
    let entries: Vec<PathBuf> = std::fs::read_dir(unpacked)
        .map_err(|e| cache_error(unpacked, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    match entries.as_slice() {
        [top] if top.join("Chart.yaml").is_file() => Ok(top.clone()),
        [_] => Err(archive_error("the archive holds no Chart.yaml".into())),
        _ => Err(archive_error(
            "the archive must hold exactly one top-level chart directory".into(),
        )),
    }
}

fn cache_key(repo_url: &str, chart: &str, location: &ChartLocation) -> String {
    let mut h = Sha256::new();
    for part in [
        repo_url,
        chart,
        &location.version,
        location.digest.as_deref().unwrap_or_default(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex(&h.finalize()[..16])
}

fn cache_error(path: &Path, source: std::io::Error) -> HelmError {
    RepoError::Cache {
        path: path.to_path_buf(),
        source,
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_like_helm_pull() {
        let listed = [
            "1.0.0",
            "1.2.0",
            "1.3.0-rc.1",
            "2.0.0",
            "v1.1",
            "not-a-version",
        ];
        let pick = |wanted| choose(listed.iter().copied(), wanted);
        assert_eq!(pick("^1.0.0").as_deref(), Some("1.2.0"));
        assert_eq!(pick(">=1.3.0-0 <2").as_deref(), Some("1.3.0-rc.1"));
        assert_eq!(pick("v1.1").as_deref(), Some("v1.1"));
        assert_eq!(pick("1.1").as_deref(), Some("v1.1"));
        assert_eq!(pick("not-a-version").as_deref(), Some("not-a-version"));
        assert_eq!(pick("9.9.9"), None);
        assert_eq!(pick("^^"), None);
    }
}
