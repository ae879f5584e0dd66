//! Helm charts rendered by the real `helm template`, with Argo CD's `helm` source parameters.
//!
//! Three entry points on [`HelmRenderer`], all caching results in memory by (chart content,
//! vendored dependencies, parameters), so an unchanged input runs Helm once:
//!
//! - [`HelmRenderer::render`] (sync; what Kustomize's `helmCharts` calls): a chart in a
//!   [`Tree`] whose dependencies are vendored in `charts/` or are `file://` directories inside
//!   the repository. A dependency that needs a download is an error
//!   ([`HelmError::NeedsFetch`]) naming it.
//! - [`HelmRenderer::render_tree`] (async): the same, downloading missing dependencies from
//!   HTTP(S) and OCI chart repositories first, as Argo CD's `helm dependency build` would
//!   ([`dependencies`] plans them, honouring the lock file; [`ChartFetcher`] downloads).
//! - [`HelmRenderer::render_remote`] (async): an Argo CD `chart:` source ([`RemoteChart`]),
//!   fetched, digest-checked and cached unpacked on disk by [`ChartFetcher`].
//!
//! The chart is copied into a private work directory (so Helm reads only what the tree allows:
//! no symlink or path leaves the repository) and Helm runs with empty configuration homes
//! (`run`). Value files are resolved like Argo CD's: relative to the chart, a leading `/`
//! meaning the repository root. For a `chart:` source the repository root is the chart itself,
//! as in Argo CD's repo-server, so `/values-prod.yaml` and `values-prod.yaml` name the same
//! file and nothing outside the chart can be named. Async entry points run Helm on tokio's
//! blocking pool. Tree reads happen on the calling task, as [`Tree`] is synchronous.

pub mod dependencies;
mod metadata;
pub mod remote;
mod run;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferry_api::{Classify, Disposition};
use ferry_source::credentials::Credentials;
use ferry_source::digest::hex;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

pub use dependencies::{
    ChartRepositories, ChartRepository, MAX_DEPENDENCIES, MAX_DEPTH, NoRepositories,
    RepositoryList, normalize_repo_url,
};
pub use remote::{ChartFetcher, FetchedChart, RemoteChart};

use crate::cache::BoundedCache;
use crate::manifest::{Manifest, ParseError, parse_documents};
use crate::tree::{LocalTree, Tree, TreeError, join};
use run::{Job, Runner};

/// Argo CD `spec.source.helm`, plus the release's name and namespace.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HelmOptions {
    /// Defaults to the Application's name.
    pub release_name: String,
    /// The release namespace (`--namespace`).
    pub namespace: Option<String>,
    /// Value files, relative to the chart, in order.
    pub value_files: Vec<String>,
    /// Skip value files that do not exist instead of failing.
    pub ignore_missing_value_files: bool,
    /// A YAML document (`values`); `values_object` wins when both are set.
    pub values: Option<String>,
    /// Values as an object (`valuesObject`).
    pub values_object: Option<serde_json::Value>,
    /// `--set` parameters.
    pub parameters: Vec<HelmParameter>,
    /// `--set-file` parameters.
    pub file_parameters: Vec<HelmFileParameter>,
    /// `--kube-version`.
    pub kube_version: Option<String>,
    /// `--api-versions`.
    pub api_versions: Vec<String>,
    /// `--skip-crds`.
    pub skip_crds: bool,
    /// `--skip-tests`.
    pub skip_tests: bool,
    /// `--skip-schema-validation`: `values.schema.json` is not enforced.
    pub skip_schema_validation: bool,
    /// `--no-hooks` (Kustomize's `skipHooks`).
    pub skip_hooks: bool,
    /// `--name-template`: the release is named by it and `release_name` is not passed.
    pub name_template: Option<String>,
}

/// A `--set` parameter.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HelmParameter {
    /// The value's path (`image.tag`).
    pub name: String,
    /// The value.
    pub value: String,
    /// Keep the value a string (`--set-string`).
    pub force_string: bool,
}

/// A `--set-file` parameter.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HelmFileParameter {
    /// The value's path.
    pub name: String,
    /// The file whose content is the value, relative to the chart.
    pub path: String,
}

/// Why a chart could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    /// Reading the chart or a value file from the tree failed.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// A value file climbs out of the repository.
    #[error("value file {0}: path leaves the repository")]
    ValueFileEscapes(String),
    /// A value file does not exist and `ignoreMissingValueFiles` is not set.
    #[error("value file {0} does not exist (set ignoreMissingValueFiles to skip it)")]
    MissingValueFile(String),
    /// The `helm` binary could not be started.
    #[error("cannot run {binary}: {source} (install Helm or set its path)")]
    NotFound {
        /// The binary's path.
        binary: String,
        /// Why it did not start.
        source: std::io::Error,
    },
    /// `helm template` exited non-zero; its stderr.
    #[error("helm template failed: {0}")]
    Failed(String),
    /// `helm template` ran longer than the timeout and was killed.
    #[error("helm template ran longer than {0:?}")]
    Timeout(Duration),
    /// `helm template` printed more than the limit (bytes).
    #[error("helm template output exceeds {0} bytes")]
    OutputTooLarge(usize),
    /// Its output does not parse as manifests.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The work directory could not be written.
    #[error("work directory: {0}")]
    Io(#[from] std::io::Error),
    /// `Chart.yaml`, `requirements.yaml` or a lock file does not parse.
    #[error("{path}: {detail}")]
    ChartFile {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// The lock file's digest does not match the dependencies.
    #[error(
        "chart {chart}: the lock file ({lock_file}) is out of sync with the dependencies; update it with 'helm dependency update'"
    )]
    LockOutOfSync {
        /// The chart (its path, or its name in the repository).
        chart: String,
        /// `Chart.lock` or `requirements.lock`.
        lock_file: &'static str,
    },
    /// A `file://` dependency climbs out of the repository.
    #[error("chart {chart}: dependency {dependency} ({repository}) leaves the repository")]
    DependencyEscapes {
        /// The chart (its path, or its name in the repository).
        chart: String,
        /// The dependency's name.
        dependency: String,
        /// Its `repository`.
        repository: String,
    },
    /// A dependency without a repository that is not vendored in `charts/`.
    #[error(
        "chart {chart}: dependency {name} names no repository and is not in charts/ (vendor it or set its repository)"
    )]
    DependencyNotVendored {
        /// The chart (its path, or its name in the repository).
        chart: String,
        /// The dependency's name.
        name: String,
    },
    /// A dependency entry that is malformed.
    #[error("chart {chart}: dependency {dependency}: {detail}")]
    InvalidDependency {
        /// The chart (its path, or its name in the repository).
        chart: String,
        /// The dependency's name.
        dependency: String,
        /// What is wrong.
        detail: String,
    },
    /// A dependency's `@name` repository is not known.
    #[error(
        "chart {chart}: dependency {dependency}: no repository definition for {repository:?} (use a URL, or @name of a known repository)"
    )]
    UnknownRepository {
        /// The chart (its path, or its name in the repository).
        chart: String,
        /// The dependency's name.
        dependency: String,
        /// Its `repository`.
        repository: String,
    },
    /// More dependencies than the limit, counted over every level.
    #[error("more than {0} chart dependencies")]
    TooManyDependencies(usize),
    /// `file://` dependencies nest deeper than the limit.
    #[error("chart {chart}: file:// dependencies nest deeper than {limit} levels")]
    DependenciesTooDeep {
        /// The chart (its path, or its name in the repository).
        chart: String,
        /// The deepest nesting followed.
        limit: usize,
    },
    /// Dependencies must be downloaded, which only the async `render_tree` does.
    #[error(
        "chart {chart} needs dependencies from chart repositories ({dependencies}); they are fetched by the async render_tree"
    )]
    NeedsFetch {
        /// The chart (its path, or its name in the repository).
        chart: String,
        /// The dependencies to download, joined by commas.
        dependencies: String,
    },
    /// A repository chart source without `targetRevision`.
    #[error("chart {chart} from {repo}: a version (targetRevision) is required")]
    NoVersion {
        /// The chart repository.
        repo: String,
        /// The chart (its path, or its name in the repository).
        chart: String,
    },
    /// No version of the chart matches the constraint (yet).
    #[error("chart {chart}: no version matching {wanted:?} in {repo}")]
    NoMatchingVersion {
        /// The chart repository.
        repo: String,
        /// The chart (its path, or its name in the repository).
        chart: String,
        /// The constraint.
        wanted: String,
    },
    /// A downloaded archive that is not a chart.
    #[error("chart {chart} from {repo}: {detail}")]
    Archive {
        /// The chart repository.
        repo: String,
        /// The chart (its path, or its name in the repository).
        chart: String,
        /// What is wrong.
        detail: String,
    },
    /// The chart repository or registry failed.
    #[error(transparent)]
    Repository(#[from] ferry_source::helm::HelmError),
    /// A dependency failed to render or download.
    #[error("chart {chart}, dependency {dependency}: {source}")]
    Dependency {
        /// The chart (its path, or its name in the repository).
        chart: String,
        /// The dependency's name.
        dependency: String,
        /// Why.
        source: Box<HelmError>,
    },
    /// The render task was cancelled or panicked.
    #[error("helm template was interrupted: {0}")]
    Interrupted(String),
}

impl Classify for HelmError {
    /// Repository and network trouble follow the repository's error, a slow or interrupted
    /// run and the work directory are retried, a version no chart matches yet is waited for;
    /// the chart's and the Application's own mistakes are given up.
    fn disposition(&self) -> Disposition {
        match self {
            Self::Tree(e) => e.disposition(),
            Self::Repository(e) => e.disposition(),
            Self::Dependency { source, .. } => source.disposition(),
            Self::Timeout(_) | Self::Interrupted(_) | Self::Io(_) => Disposition::Retry,
            Self::NoMatchingVersion { .. } => Disposition::Wait,
            Self::ValueFileEscapes(_)
            | Self::MissingValueFile(_)
            | Self::NotFound { .. }
            | Self::Failed(_)
            | Self::OutputTooLarge(_)
            | Self::Parse(_)
            | Self::ChartFile { .. }
            | Self::LockOutOfSync { .. }
            | Self::DependencyEscapes { .. }
            | Self::DependencyNotVendored { .. }
            | Self::InvalidDependency { .. }
            | Self::UnknownRepository { .. }
            | Self::TooManyDependencies(_)
            | Self::DependenciesTooDeep { .. }
            | Self::NeedsFetch { .. }
            | Self::NoVersion { .. }
            | Self::Archive { .. } => Disposition::GiveUp,
        }
    }
}

/// Runs `helm template`, caching results by chart content and parameters.
pub struct HelmRenderer {
    runner: Runner,
    cache: BoundedCache<String, Arc<Vec<Manifest>>>,
}

/// Results kept in memory; the oldest go first past this.
const CACHE_ENTRIES: usize = 512;

impl HelmRenderer {
    /// A renderer running the `helm` at `binary`, with a 90 s timeout and 32 MiB of output at most.
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        Self {
            runner: Runner {
                binary: binary.into(),
                timeout: Duration::from_secs(90),
                max_output: 32 << 20,
                work_root: None,
            },
            cache: BoundedCache::new(CACHE_ENTRIES),
        }
    }

    /// The same with another timeout and output limit.
    pub fn with_limits(mut self, timeout: Duration, max_output: usize) -> Self {
        self.runner.timeout = timeout;
        self.runner.max_output = max_output;
        self
    }

    /// Makes work directories (one per Helm run, removed after it) under `dir` instead of the
    /// system's temporary directory; a memory-backed one saves writing each chart to disk.
    pub fn with_work_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.runner.work_root = Some(dir.into());
        self
    }

    /// Renders the chart at `chart_path` of `tree`, whose dependencies are vendored or
    /// `file://` inside the tree.
    pub fn render(
        &self,
        tree: &dyn Tree,
        chart_path: &str,
        options: &HelmOptions,
    ) -> Result<Arc<Vec<Manifest>>, HelmError> {
        let (job, remote) = prepare(tree, chart_path, chart_path, options, None)?;
        if !remote.is_empty() {
            let dependencies = remote
                .iter()
                .map(|d| {
                    let repository = if d.repository.contains("://") {
                        ferry_source::helm::display_url(&d.repository)
                    } else {
                        d.repository.clone()
                    };
                    format!("{} {} from {repository}", d.name, d.version)
                })
                .collect::<Vec<_>>()
                .join(", ");
            return Err(HelmError::NeedsFetch {
                chart: chart_path.to_string(),
                dependencies,
            });
        }
        let key = cache_key(&job);
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit);
        }
        let stdout = self.runner.template(&job)?;
        self.store(key, &job.label, &stdout)
    }

    /// Renders the chart at `chart_path` of `tree`, first downloading the dependencies that
    /// are neither vendored nor `file://` (credentials and `@name` repositories come from
    /// `repositories`).
    pub async fn render_tree(
        &self,
        fetcher: &ChartFetcher,
        tree: &dyn Tree,
        chart_path: &str,
        repositories: &dyn ChartRepositories,
        options: &HelmOptions,
    ) -> Result<Arc<Vec<Manifest>>, HelmError> {
        self.render_with_downloads(fetcher, tree, chart_path, chart_path, repositories, options)
            .await
    }

    /// Renders an Argo CD `chart:` source. Value files are relative to the chart.
    /// Dependencies missing from the archive are fetched with the chart's credentials when
    /// they come from the chart's repository, anonymously otherwise.
    pub async fn render_remote(
        &self,
        fetcher: &ChartFetcher,
        chart: &RemoteChart,
        creds: Option<&Credentials>,
        options: &HelmOptions,
    ) -> Result<Arc<Vec<Manifest>>, HelmError> {
        let fetched = fetcher.fetch(chart, creds).await?;
        let tree = LocalTree::new(&fetched.dir)?;
        let repositories = RepositoryList(vec![ChartRepository {
            name: None,
            url: chart.repo_url.clone(),
            credentials: creds.cloned(),
        }]);
        let label = format!("{}@{}", chart.chart, fetched.version);
        self.render_with_downloads(fetcher, &tree, "", &label, &repositories, options)
            .await
    }

    async fn render_with_downloads(
        &self,
        fetcher: &ChartFetcher,
        tree: &dyn Tree,
        chart_path: &str,
        label: &str,
        repositories: &dyn ChartRepositories,
        options: &HelmOptions,
    ) -> Result<Arc<Vec<Manifest>>, HelmError> {
        let (mut job, remote) = prepare(tree, chart_path, label, options, Some(repositories))?;
        for dependency in remote {
            let creds = repositories.credentials(&dependency.repository);
            let (version, bytes) = fetcher
                .archive(
                    &dependency.repository,
                    &dependency.name,
                    &dependency.version,
                    creds.as_ref(),
                )
                .await
                .map_err(|e| HelmError::Dependency {
                    chart: dependency.declared_in.clone(),
                    dependency: dependency.name.clone(),
                    source: Box::new(e),
                })?;
            let path = format!("{}/{}-{version}.tgz", dependency.target, dependency.name);
            if !job.files.iter().any(|(p, _)| *p == path) {
                job.files.push((path, bytes));
            }
        }
        job.files.sort();
        let key = cache_key(&job);
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit);
        }
        let runner = self.runner.clone();
        let (job, stdout) = tokio::task::spawn_blocking(move || {
            let stdout = runner.template(&job);
            (job, stdout)
        })
        .await
        .map_err(|e| HelmError::Interrupted(e.to_string()))?;
        self.store(key, &job.label, &stdout?)
    }

    fn store(
        &self,
        key: String,
        label: &str,
        stdout: &[u8],
    ) -> Result<Arc<Vec<Manifest>>, HelmError> {
        let manifests = Arc::new(parse_documents(&format!("helm template {label}"), stdout)?);
        self.cache.insert(key, manifests.clone());
        Ok(manifests)
    }
}

/// Reads the chart, its value and parameter files and its `file://` dependencies from the
/// tree, and lists the dependencies still to download.
fn prepare(
    tree: &dyn Tree,
    chart_path: &str,
    label: &str,
    options: &HelmOptions,
    repositories: Option<&dyn ChartRepositories>,
) -> Result<(Job, Vec<dependencies::RemoteDependency>), HelmError> {
    let mut files = collect_files(tree, chart_path)?;
    let value_files = value_files(tree, chart_path, options)?;
    let file_parameters = options
        .file_parameters
        .iter()
        .map(|p| {
            let path = join(chart_path, &p.path)
                .ok_or_else(|| HelmError::ValueFileEscapes(p.path.clone()))?;
            Ok((p.name.clone(), tree.read(&path)?))
        })
        .collect::<Result<Vec<_>, HelmError>>()?;
    let plan = dependencies::plan(tree, chart_path, &files, repositories)?;
    files.extend(plan.files);
    files.sort();
    let job = Job {
        label: if label.is_empty() { "." } else { label }.to_string(),
        files,
        value_files,
        file_parameters,
        options: options.clone(),
    };
    Ok((job, plan.remote))
}

/// Value files in order, read through the tree (never from outside the repository).
fn value_files(
    tree: &dyn Tree,
    chart_path: &str,
    options: &HelmOptions,
) -> Result<Vec<Vec<u8>>, HelmError> {
    let mut out = Vec::new();
    for file in &options.value_files {
        let path =
            join(chart_path, file).ok_or_else(|| HelmError::ValueFileEscapes(file.clone()))?;
        match tree.read(&path) {
            Ok(bytes) => out.push(bytes),
            Err(TreeError::NotFound(_)) if options.ignore_missing_value_files => {}
            Err(TreeError::NotFound(_)) => {
                return Err(HelmError::MissingValueFile(file.clone()));
            }
            Err(TreeError::Escapes(_)) => {
                return Err(HelmError::ValueFileEscapes(file.clone()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// Every file under `dir` of the tree, as (path relative to `dir`, contents).
pub(crate) fn collect_files(
    tree: &dyn Tree,
    dir: &str,
) -> Result<Vec<(String, Vec<u8>)>, HelmError> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_string()];
    while let Some(d) = pending.pop() {
        for entry in tree.list(&d)? {
            if entry.is_dir {
                pending.push(entry.path);
            } else {
                let rel = entry
                    .path
                    .strip_prefix(dir)
                    .unwrap_or(&entry.path)
                    .trim_start_matches('/')
                    .to_string();
                out.push((rel, tree.read(&entry.path)?));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn cache_key(job: &Job) -> String {
    let mut h = Sha256::new();
    for (path, bytes) in &job.files {
        h.update(path.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    for bytes in &job.value_files {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    for (name, bytes) in &job.file_parameters {
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    h.update(serde_json::to_vec(&job.options).unwrap_or_default());
    hex(&h.finalize())
}

/// The `helm` binary: `$FERRY_HELM`, else `helm` on PATH.
pub fn default_binary() -> PathBuf {
    std::env::var_os("FERRY_HELM").map_or_else(|| PathBuf::from("helm"), PathBuf::from)
}
