//! An Argo CD Application's sources rendered to objects, the way Argo CD's repo-server does
//! it: resolve `targetRevision` to a commit, read the tree at that commit, pick the tool
//! (the source's `helm`/`kustomize`/`directory` block, else detected from the files), render
//! and cache the result by (repository, commit, path, parameters).
//!
//! [`SourceRenderer::render_application`] serves Git sources; a [`SourceJob`] renders one source
//! from a tree the caller already has (a local checkout, for `ferry render -f --local`). A hard
//! refresh re-renders even when the cache holds the key; a periodic look ([`Refresh::Resync`])
//! reuses refs fetched within the revision cache's three minutes. Trees of one commit are read once
//! and shared by every Application on that commit (a monorepo with 100 apps reads it once).
//!
//! One file per concern: `tools` (which tool, and running it on a tree), `refs` (`ref`
//! sources mounted for `$ref/` value files), `build_env` (`$ARGOCD_APP_*`).

mod build_env;
mod refs;
mod tools;

pub use build_env::BuildEnv;
pub use refs::Refs;
pub use tools::{ChartAccess, SourceJob, Tool};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use ferry_api::argocd::{Application, ApplicationSource, SourceError};
use ferry_api::{Classify, Disposition};
use ferry_source::credentials::Credentials;
use ferry_source::digest::sha256_hex;
use ferry_source::git::{CommitId, GitCache, GitError, Mirror};
use serde::Serialize;

use crate::cache::BoundedCache;
use crate::directory::DirectoryError;
use crate::helm::{
    ChartFetcher, ChartRepositories, FetchedChart, HelmError, HelmRenderer, RemoteChart,
};
use crate::kustomize::KustomizeError;
use crate::manifest::Manifest;
use crate::snapshot::Snapshot;
use crate::tree::LocalTree;

/// What an Application contributes to rendering besides its source.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AppContext {
    /// The Application's name: Helm's default release name, `$ARGOCD_APP_NAME`.
    pub name: String,
    /// The destination namespace: Helm's default namespace, `$ARGOCD_APP_NAMESPACE`.
    pub namespace: Option<String>,
    /// `spec.project`, `$ARGOCD_APP_PROJECT_NAME`.
    pub project: String,
}

impl AppContext {
    /// The context of `app`.
    pub fn of(app: &Application) -> Self {
        AppContext {
            name: app.name().to_string(),
            namespace: app.spec.destination.namespace.clone(),
            project: app.spec.project.clone(),
        }
    }
}

/// How fresh a render must be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Refresh {
    /// Ask the repository for its refs now; serve the render from the cache when the key is
    /// there (Argo CD's normal refresh).
    #[default]
    Normal,
    /// Argo CD's hard refresh: ask for refs and render again even if the key is cached.
    Hard,
    /// A periodic look: refs fetched from the repository within [`REVISION_CACHE`] are
    /// reused (Argo CD's revision cache), so the apps of one repository share one fetch.
    Resync,
}

/// How long fetched refs serve [`Refresh::Resync`], Argo CD's `--revision-cache-expiration`.
pub const REVISION_CACHE: std::time::Duration = std::time::Duration::from_secs(180);

/// A rendered source.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// The commit the revision resolved to.
    pub revision: String,
    /// The objects, in the order the tool printed them.
    pub manifests: Arc<Vec<Manifest>>,
    /// Whether the manifests came from the render cache.
    pub cached: bool,
}

/// Why an Application's sources could not be rendered; each names the source's field.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The sources are malformed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Resolving the revision or reading the repository failed.
    #[error("{field}: {error}")]
    Git {
        /// The source's field (`spec.source`, `spec.sources[1]`).
        field: String,
        /// What git said.
        #[source]
        error: GitError,
    },
    /// `path` climbs out of the repository.
    #[error("{field}: path {path:?} leaves the repository")]
    PathEscapes {
        /// The source's field (`spec.source`, `spec.sources[1]`).
        field: String,
        /// The source's `path`.
        path: String,
    },
    /// `path` is not in the repository at the resolved commit.
    #[error("{field}: path {path:?} does not exist at {revision}")]
    PathNotFound {
        /// The source's field (`spec.source`, `spec.sources[1]`).
        field: String,
        /// The source's `path`.
        path: String,
        /// The commit read.
        revision: String,
    },
    /// The kustomization does not build.
    #[error("{field}: {error}")]
    Kustomize {
        /// The source's field (`spec.source`, `spec.sources[1]`).
        field: String,
        /// Why.
        #[source]
        error: Box<KustomizeError>,
    },
    /// The chart does not render.
    #[error("{field}: {error}")]
    Helm {
        /// The source's field (`spec.source`, `spec.sources[1]`).
        field: String,
        /// Why.
        #[source]
        error: Box<HelmError>,
    },
    /// The directory's files do not read as manifests.
    #[error("{field}: {error}")]
    Directory {
        /// The source's field (`spec.source`, `spec.sources[1]`).
        field: String,
        /// Why.
        #[source]
        error: DirectoryError,
    },
    /// A source setting Argo CD refuses too.
    #[error("{field}: {message}")]
    Invalid {
        /// The source's field (`spec.source`, `spec.sources[1]`).
        field: String,
        /// What is wrong.
        message: &'static str,
    },
    /// A source kind Ferry does not render (a config management plugin).
    #[error("{field}: {what} is not supported yet")]
    Unsupported {
        /// The source's field (`spec.source`, `spec.sources[1]`).
        field: String,
        /// What the source asks for.
        what: &'static str,
    },
    /// A `$ref/` value file names a `ref` no source has.
    #[error("{field}: value file {file}: no source of the Application has `ref: {name}`")]
    UnknownRef {
        /// The source's field (`spec.source`, `spec.sources[1]`).
        field: String,
        /// The value file.
        file: String,
        /// The `ref` it names.
        name: String,
    },
    /// The render task ended without an answer (the runtime shut down, or it panicked).
    #[error("{field}: rendering stopped unexpectedly: {detail}")]
    Aborted {
        /// The source's field (`spec.source`, `spec.sources[1]`).
        field: String,
        /// What the runtime said.
        detail: String,
    },
}

impl Classify for RenderError {
    /// A wrapped error decides (a chart repository answering 5xx is retried, a revision not
    /// yet pushed is waited for); the Application's own mistakes are given up; a render
    /// stopped by the runtime is retried.
    fn disposition(&self) -> Disposition {
        match self {
            RenderError::Source(e) => e.disposition(),
            RenderError::Git { error, .. } => error.disposition(),
            RenderError::Kustomize { error, .. } => error.disposition(),
            RenderError::Helm { error, .. } => error.disposition(),
            RenderError::Directory { error, .. } => error.disposition(),
            RenderError::Aborted { .. } => Disposition::Retry,
            RenderError::PathEscapes { .. }
            | RenderError::PathNotFound { .. }
            | RenderError::Invalid { .. }
            | RenderError::Unsupported { .. }
            | RenderError::UnknownRef { .. } => Disposition::GiveUp,
        }
    }
}

/// Renders Applications' sources (Git paths, and charts of Helm repositories when a
/// [`ChartFetcher`] is given), with a snapshot per commit and a render cache.
pub struct SourceRenderer {
    git: GitCache,
    helm: Arc<HelmRenderer>,
    charts: Option<Arc<ChartFetcher>>,
    snapshots: BoundedCache<(String, String), Arc<Snapshot>>,
    manifests: BoundedCache<String, Arc<Vec<Manifest>>>,
    /// Per repository URL, when its refs were last fetched; the lock is held across a fetch,
    /// so apps of one repository asking at once share it.
    fetched: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Instant>>>>>,
}

/// Commit trees kept in memory; each is a whole repository at one commit.
const SNAPSHOTS: usize = 16;
/// Render results kept in memory.
const RENDERS: usize = 4096;

/// Credentials per repository URL, as the caller looks them up.
pub type CredentialLookup<'a> = &'a (dyn Fn(&str) -> Option<Credentials> + Send + Sync);

impl SourceRenderer {
    /// A renderer reading repositories through `git` and charts through `helm`.
    pub fn new(git: GitCache, helm: Arc<HelmRenderer>) -> Self {
        Self {
            git,
            helm,
            charts: None,
            snapshots: BoundedCache::new(SNAPSHOTS),
            manifests: BoundedCache::new(RENDERS),
            fetched: std::sync::Mutex::default(),
        }
    }

    /// Enables `chart:` sources and downloads of chart dependencies.
    pub fn with_charts(mut self, fetcher: Arc<ChartFetcher>) -> Self {
        self.charts = Some(fetcher);
        self
    }

    /// Renders every source of `app` in order and concatenates their objects. Sources that
    /// only name a `ref` render nothing; their trees serve other sources' `$ref/...` value
    /// files. `credentials` is asked per repository URL (Git, charts, chart dependencies).
    pub async fn render_application(
        &self,
        app: &Application,
        refresh: Refresh,
        credentials: CredentialLookup<'_>,
    ) -> Result<Vec<(String, Rendered)>, RenderError> {
        let context = AppContext::of(app);
        let sources = app.sources()?;
        let mut refs = Vec::new();
        for (field, source) in &sources {
            if let Some(name) = &source.reference {
                let creds = credentials(&source.repo_url);
                let checkout = self
                    .checkout(field, source, creds.as_ref(), refresh)
                    .await?;
                refs.push((name.clone(), checkout));
            }
        }
        let mut rendered = Vec::new();
        for (field, source) in sources {
            if source.reference.is_some() && source.path().is_empty() && !source.is_chart() {
                continue;
            }
            // A `ref` source with a path renders too: its checkout is already here.
            let fetched_ref = source
                .reference
                .as_ref()
                .and_then(|name| refs.iter().find(|(n, _)| n == name))
                .map(|(_, checkout)| checkout.clone());
            let target = if source.is_chart() {
                self.chart(&field, source, credentials).await?
            } else if let Some(checkout) = fetched_ref {
                Target::Git(checkout)
            } else {
                let creds = credentials(&source.repo_url);
                Target::Git(
                    self.checkout(&field, source, creds.as_ref(), refresh)
                        .await?,
                )
            };
            let result = self
                .render_target(
                    &field,
                    &context,
                    source,
                    target,
                    &refs,
                    refresh,
                    credentials,
                )
                .await?;
            rendered.push((field, result));
        }
        Ok(rendered)
    }

    /// The whole tree of `repo_url` at `revision` (branch, tag, SemVer constraint, commit
    /// or `HEAD`), through the same fetch gate, revision cache and snapshots as renders:
    /// what an ApplicationSet's git generator reads.
    pub async fn snapshot_at(
        &self,
        repo_url: &str,
        revision: &str,
        credentials: Option<&Credentials>,
        refresh: Refresh,
    ) -> Result<Arc<Snapshot>, RenderError> {
        let source = ApplicationSource {
            repo_url: repo_url.to_string(),
            target_revision: Some(revision.to_string()),
            ..ApplicationSource::default()
        };
        let checkout = self
            .checkout("repoURL", &source, credentials, refresh)
            .await?;
        self.snapshot(&checkout).await
    }

    /// Fetches the source's repository and resolves its revision.
    async fn checkout(
        &self,
        field: &str,
        source: &ApplicationSource,
        credentials: Option<&Credentials>,
        refresh: Refresh,
    ) -> Result<Checkout, RenderError> {
        if source.is_chart() {
            return Err(RenderError::Invalid {
                field: field.to_string(),
                message: "a `ref` source names a Git repository, not a chart",
            });
        }
        let git = |error| RenderError::Git {
            field: field.to_string(),
            error,
        };
        let mirror = self.git.repo(&source.repo_url).map_err(git)?;
        let gate = self.fetch_gate(&source.repo_url);
        let mut last = gate.lock().await;
        let fresh =
            refresh == Refresh::Resync && last.is_some_and(|t| t.elapsed() < REVISION_CACHE);
        if !fresh {
            mirror.fetch(credentials).await.map_err(git)?;
            *last = Some(Instant::now());
        }
        drop(last);
        let resolved = mirror
            .resolve(source.revision(), Some(&ferry_source::git::SemverTags))
            .await
            .map_err(git)?;
        Ok(Checkout {
            field: field.to_string(),
            mirror,
            commit: resolved.commit,
        })
    }

    fn fetch_gate(&self, url: &str) -> Arc<tokio::sync::Mutex<Option<Instant>>> {
        let Ok(mut gates) = self.fetched.lock() else {
            return Arc::default();
        };
        gates.entry(url.to_string()).or_default().clone()
    }

    /// Resolves a `chart:` source's version and brings the chart into the fetcher's cache.
    async fn chart(
        &self,
        field: &str,
        source: &ApplicationSource,
        credentials: CredentialLookup<'_>,
    ) -> Result<Target, RenderError> {
        let fetcher = self.charts.clone().ok_or_else(|| RenderError::Invalid {
            field: field.to_string(),
            message: "a chart of a Helm repository needs a chart cache, and this renderer has none",
        })?;
        let chart = RemoteChart {
            repo_url: source.repo_url.clone(),
            chart: source.chart.clone().unwrap_or_default(),
            target_revision: source.revision().to_string(),
        };
        let fetched = fetcher
            .fetch(&chart, credentials(&source.repo_url).as_ref())
            .await
            .map_err(|error| tools::helm_error(field, error))?;
        Ok(Target::Chart {
            fetcher,
            chart,
            fetched,
        })
    }

    /// The commit's tree, read once and shared.
    async fn snapshot(&self, checkout: &Checkout) -> Result<Arc<Snapshot>, RenderError> {
        let key = (
            checkout.mirror.url().to_string(),
            checkout.commit.to_string(),
        );
        if let Some(snapshot) = self.snapshots.get(&key) {
            return Ok(snapshot);
        }
        let snapshot = Snapshot::read(&checkout.mirror, &checkout.commit)
            .await
            .map_err(|error| RenderError::Git {
                field: checkout.field.clone(),
                error,
            })?;
        let snapshot = Arc::new(snapshot);
        self.snapshots.insert(key, snapshot.clone());
        Ok(snapshot)
    }

    #[allow(clippy::too_many_arguments)]
    async fn render_target(
        &self,
        field: &str,
        context: &AppContext,
        source: &ApplicationSource,
        target: Target,
        refs: &[(String, Checkout)],
        refresh: Refresh,
        credentials: CredentialLookup<'_>,
    ) -> Result<Rendered, RenderError> {
        let (repo, revision) = match &target {
            Target::Git(checkout) => (
                checkout.mirror.url().to_string(),
                checkout.commit.to_string(),
            ),
            Target::Chart { chart, fetched, .. } => (
                chart.repo_url.clone(),
                format!(
                    "{}@{}#{}",
                    chart.chart,
                    fetched.version,
                    fetched.digest.as_deref().unwrap_or("")
                ),
            ),
        };
        let key = RenderKey {
            repo: &repo,
            revision: &revision,
            source,
            context,
            refs: refs
                .iter()
                .map(|(name, c)| (name.as_str(), c.mirror.url(), c.commit.to_string()))
                .collect(),
        }
        .hash();
        let revision = match &target {
            Target::Git(_) => revision,
            Target::Chart { fetched, .. } => fetched.version.clone(),
        };
        if refresh != Refresh::Hard
            && let Some(manifests) = self.manifests.get(&key)
        {
            return Ok(Rendered {
                revision,
                manifests,
                cached: true,
            });
        }

        let mut ref_trees = Refs::default();
        for (name, checkout) in refs {
            ref_trees.insert(name, self.snapshot(checkout).await?);
        }
        let build = BuildEnv::new(context, source, &revision);
        let repositories = LookupRepositories(credentials);
        let manifests = match target {
            Target::Chart {
                fetcher, fetched, ..
            } => {
                // A chart source's repository root is the chart itself (value files `/x`).
                let tree = LocalTree::new(&fetched.dir)
                    .map_err(|error| tools::helm_error(field, error.into()))?;
                let job = SourceJob {
                    field,
                    context,
                    source,
                    tree: &tree,
                    refs: &ref_trees,
                    build: &build,
                    helm: &self.helm,
                };
                let charts = ChartAccess {
                    fetcher: &fetcher,
                    repositories: &repositories,
                };
                job.helm_with_downloads("", &charts).await?
            }
            Target::Git(checkout) => {
                let snapshot = self.snapshot(&checkout).await?;
                let job = SourceJob {
                    field,
                    context,
                    source,
                    tree: snapshot.as_ref(),
                    refs: &ref_trees,
                    build: &build,
                    helm: &self.helm,
                };
                let (path, tool) = job.locate()?;
                match (tool, &self.charts) {
                    (Tool::Helm, Some(fetcher)) => {
                        let charts = ChartAccess {
                            fetcher,
                            repositories: &repositories,
                        };
                        job.helm_with_downloads(&path, &charts).await?
                    }
                    // CPU work (and maybe a `helm` run): off the async workers.
                    _ => {
                        let helm = self.helm.clone();
                        let owned = (field.to_string(), context.clone(), source.clone());
                        tokio::task::spawn_blocking(move || {
                            let (field, context, source) = owned;
                            SourceJob {
                                field: &field,
                                context: &context,
                                source: &source,
                                tree: snapshot.as_ref(),
                                refs: &ref_trees,
                                build: &build,
                                helm: &helm,
                            }
                            .render(&path, tool)
                        })
                        .await
                        .map_err(|e| RenderError::Aborted {
                            field: field.to_string(),
                            detail: e.to_string(),
                        })??
                    }
                }
            }
        };
        let manifests = Arc::new(manifests);
        self.manifests.insert(key, manifests.clone());
        Ok(Rendered {
            revision,
            manifests,
            cached: false,
        })
    }
}

/// What a source renders from.
enum Target {
    Git(Checkout),
    Chart {
        fetcher: Arc<ChartFetcher>,
        chart: RemoteChart,
        fetched: FetchedChart,
    },
}

/// Chart dependencies' credentials from the caller's lookup; no `@name` repositories.
struct LookupRepositories<'a>(CredentialLookup<'a>);

impl ChartRepositories for LookupRepositories<'_> {
    fn credentials(&self, repo_url: &str) -> Option<Credentials> {
        (self.0)(repo_url)
    }

    fn url_of(&self, _name: &str) -> Option<String> {
        None
    }
}

/// A source's repository fetched and its revision resolved.
#[derive(Clone)]
struct Checkout {
    field: String,
    mirror: Mirror,
    commit: CommitId,
}

/// What the render cache is keyed by: the repository, the commit, and everything in the
/// source and the Application that changes the output.
#[derive(Serialize)]
struct RenderKey<'a> {
    repo: &'a str,
    /// The commit, or the chart's name, version and digest.
    revision: &'a str,
    source: &'a ApplicationSource,
    context: &'a AppContext,
    /// Each `ref` source's name, repository and commit.
    refs: Vec<(&'a str, &'a str, String)>,
}

impl RenderKey<'_> {
    fn hash(&self) -> String {
        sha256_hex(&serde_json::to_vec(self).unwrap_or_default())
    }
}
