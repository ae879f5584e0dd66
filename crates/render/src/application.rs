//! An Argo CD Application's sources rendered to objects, the way Argo CD's repo-server does
//! it: resolve `targetRevision` to a commit, read the tree at that commit, pick the tool
//! (the source's `helm`/`kustomize`/`directory` block, else detected from the files), render
//! and cache the result by (repository, commit, path, parameters).
//!
//! [`SourceRenderer::render_source`] serves Git sources; [`render_tree`] renders a source from
//! a tree the caller already has (a local checkout, for `ferry render -f --local`). A hard
//! refresh re-renders even when the cache holds the key. Trees of one commit are read once
//! and shared by every Application on that commit (a monorepo with 100 apps reads it once).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ferry_api::argocd::{
    Application, ApplicationSource, ApplicationSourceHelm, ApplicationSourceKustomize, SourceError,
};
use ferry_source::credentials::Credentials;
use ferry_source::git::{CommitId, GitCache, GitError, Mirror};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::cache::BoundedCache;
use crate::directory::{DirectoryError, DirectoryOptions, render_directory};
use crate::helm::{self, HelmError, HelmOptions, HelmRenderer};
use crate::kustomize::{self, KustomizeError};
use crate::manifest::Manifest;
use crate::snapshot::Snapshot;
use crate::tree::{Entry, Tree, TreeError, join};

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
    pub fn of(app: &Application) -> Self {
        AppContext {
            name: app.metadata.name.clone(),
            namespace: app.spec.destination.namespace.clone(),
            project: app.spec.project.clone(),
        }
    }
}

/// Whether a render may be served from the cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Refresh {
    #[default]
    Normal,
    /// Argo CD's hard refresh: render again even if the key is cached.
    Hard,
}

/// A rendered source.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// The commit the revision resolved to.
    pub revision: String,
    pub manifests: Arc<Vec<Manifest>>,
    /// Whether the manifests came from the render cache.
    pub cached: bool,
}

/// The tool a source is rendered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Tool {
    Helm,
    Kustomize,
    Directory,
}

impl Tool {
    /// The tool of `source` at `path` of `tree`: its tool block, else detected from the
    /// files as Argo CD does (a kustomization, else a `Chart.yaml`, else plain files).
    pub fn of(source: &ApplicationSource, tree: &dyn Tree, path: &str) -> Tool {
        if source.helm.is_some() {
            Tool::Helm
        } else if source.kustomize.is_some() {
            Tool::Kustomize
        } else if source.directory.is_some() {
            Tool::Directory
        } else if kustomize::is_kustomization(tree, path) {
            Tool::Kustomize
        } else if join(path, "Chart.yaml").is_some_and(|p| tree.exists(&p)) {
            Tool::Helm
        } else {
            Tool::Directory
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("{field}: {error}")]
    Git { field: String, error: GitError },
    #[error("{field}: path {path:?} leaves the repository")]
    PathEscapes { field: String, path: String },
    #[error("{field}: path {path:?} does not exist at {revision}")]
    PathNotFound {
        field: String,
        path: String,
        revision: String,
    },
    #[error("{field}: {error}")]
    Kustomize {
        field: String,
        error: KustomizeError,
    },
    #[error("{field}: {error}")]
    Helm { field: String, error: HelmError },
    #[error("{field}: {error}")]
    Directory {
        field: String,
        error: DirectoryError,
    },
    #[error("{field}: {what} is not supported yet")]
    Unsupported { field: String, what: &'static str },
    #[error("{field}: value file {file}: no source of the Application has `ref: {name}`")]
    UnknownRef {
        field: String,
        file: String,
        name: String,
    },
    #[error("{field}: rendering stopped unexpectedly: {detail}")]
    Aborted { field: String, detail: String },
}

impl RenderError {
    /// Whether trying again later may succeed (a transport error), as opposed to an error in
    /// the Application or the repository's content.
    pub fn is_retryable(&self) -> bool {
        match self {
            RenderError::Git { error, .. } => error.is_retryable(),
            _ => false,
        }
    }
}

/// Renders Applications' Git sources, with a snapshot per commit and a render cache.
pub struct SourceRenderer {
    git: GitCache,
    helm: Arc<HelmRenderer>,
    snapshots: BoundedCache<(String, String), Arc<Snapshot>>,
    manifests: BoundedCache<String, Arc<Vec<Manifest>>>,
}

/// Commit trees kept in memory; each is a whole repository at one commit.
const SNAPSHOTS: usize = 16;
/// Render results kept in memory.
const RENDERS: usize = 4096;

impl SourceRenderer {
    pub fn new(git: GitCache, helm: Arc<HelmRenderer>) -> Self {
        Self {
            git,
            helm,
            snapshots: BoundedCache::new(SNAPSHOTS),
            manifests: BoundedCache::new(RENDERS),
        }
    }

    /// Renders every source of `app` in order and concatenates their objects. Sources that
    /// only name a `ref` render nothing; their trees serve other sources' `$ref/...` value
    /// files. `credentials` is asked per repository URL.
    pub async fn render_application(
        &self,
        app: &Application,
        refresh: Refresh,
        credentials: &(dyn Fn(&str) -> Option<Credentials> + Send + Sync),
    ) -> Result<Vec<(String, Rendered)>, RenderError> {
        let context = AppContext::of(app);
        let sources = app.sources()?;
        let mut refs = Vec::new();
        for (field, source) in &sources {
            if let Some(name) = &source.reference {
                let creds = credentials(&source.repo_url);
                let checkout = self.checkout(field, source, creds.as_ref()).await?;
                refs.push((name.clone(), checkout));
            }
        }
        let mut rendered = Vec::new();
        for (field, source) in sources {
            if source.reference.is_some() && source.path().is_empty() && !source.is_chart() {
                continue;
            }
            let creds = credentials(&source.repo_url);
            let checkout = self.checkout(&field, source, creds.as_ref()).await?;
            let result = self
                .render_checkout(&field, &context, source, checkout, &refs, refresh)
                .await?;
            rendered.push((field, result));
        }
        Ok(rendered)
    }

    /// Renders one Git source (`field` names it in errors: `spec.source`, `spec.sources[1]`).
    pub async fn render_source(
        &self,
        field: &str,
        context: &AppContext,
        source: &ApplicationSource,
        credentials: Option<&Credentials>,
        refresh: Refresh,
    ) -> Result<Rendered, RenderError> {
        let checkout = self.checkout(field, source, credentials).await?;
        self.render_checkout(field, context, source, checkout, &[], refresh)
            .await
    }

    /// Fetches the source's repository and resolves its revision.
    async fn checkout(
        &self,
        field: &str,
        source: &ApplicationSource,
        credentials: Option<&Credentials>,
    ) -> Result<Checkout, RenderError> {
        if source.is_chart() {
            return Err(RenderError::Unsupported {
                field: field.to_string(),
                what: "a chart from a Helm repository",
            });
        }
        let git = |error| RenderError::Git {
            field: field.to_string(),
            error,
        };
        let mirror = self.git.repo(&source.repo_url).map_err(git)?;
        mirror.fetch(credentials).await.map_err(git)?;
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

    async fn render_checkout(
        &self,
        field: &str,
        context: &AppContext,
        source: &ApplicationSource,
        checkout: Checkout,
        refs: &[(String, Checkout)],
        refresh: Refresh,
    ) -> Result<Rendered, RenderError> {
        let commit = checkout.commit.to_string();
        let key = RenderKey {
            repo: checkout.mirror.url(),
            commit: &commit,
            source,
            context,
            refs: refs
                .iter()
                .map(|(name, c)| (name.as_str(), c.mirror.url(), c.commit.to_string()))
                .collect(),
        }
        .hash();
        if refresh == Refresh::Normal
            && let Some(manifests) = self.manifests.get(&key)
        {
            return Ok(Rendered {
                revision: commit,
                manifests,
                cached: true,
            });
        }

        let snapshot = self.snapshot(&checkout).await?;
        let mut ref_trees = Refs::default();
        for (name, checkout) in refs {
            ref_trees.insert(name, self.snapshot(checkout).await?);
        }
        // Rendering is CPU work and may run `helm`: off the async workers.
        let build = BuildEnv::new(context, source, &commit);
        let (helm, owned) = (
            self.helm.clone(),
            (field.to_string(), context.clone(), source.clone()),
        );
        let manifests = tokio::task::spawn_blocking(move || {
            let (field, context, source) = owned;
            let tree = snapshot.as_ref();
            render_tree(&field, &context, &source, tree, &ref_trees, &build, &helm)
        })
        .await
        .map_err(|e| RenderError::Aborted {
            field: field.to_string(),
            detail: e.to_string(),
        })??;
        let manifests = Arc::new(manifests);
        self.manifests.insert(key, manifests.clone());
        Ok(Rendered {
            revision: commit,
            manifests,
            cached: false,
        })
    }
}

/// A source's repository fetched and its revision resolved.
struct Checkout {
    field: String,
    mirror: Mirror,
    commit: CommitId,
}

/// The trees of the sources that name a `ref`, for `$ref/...` value files.
#[derive(Default, Clone)]
pub struct Refs(HashMap<String, Arc<dyn Tree>>);

impl Refs {
    pub fn insert(&mut self, name: &str, tree: Arc<dyn Tree>) {
        self.0.insert(name.to_string(), tree);
    }
}

/// A source's tree with the `ref` trees mounted at `$name/`: what Helm value files read.
struct Mounted<'a> {
    base: &'a dyn Tree,
    refs: &'a Refs,
}

impl Mounted<'_> {
    fn route<'p>(&self, path: &'p str) -> Result<(&dyn Tree, &'p str), TreeError> {
        let Some(rest) = path.strip_prefix('$') else {
            return Ok((self.base, path));
        };
        let (name, inner) = rest.split_once('/').unwrap_or((rest, ""));
        match self.refs.0.get(name) {
            Some(tree) => Ok((tree.as_ref(), inner)),
            None => Err(TreeError::NotFound(path.to_string())),
        }
    }
}

impl Tree for Mounted<'_> {
    fn read(&self, path: &str) -> Result<Vec<u8>, TreeError> {
        let (tree, path) = self.route(path)?;
        tree.read(path)
    }

    fn list(&self, dir: &str) -> Result<Vec<Entry>, TreeError> {
        let (tree, inner) = self.route(dir)?;
        let prefix = &dir[..dir.len() - inner.len()];
        Ok(tree
            .list(inner)?
            .into_iter()
            .map(|e| Entry {
                path: format!("{prefix}{}", e.path),
                is_dir: e.is_dir,
            })
            .collect())
    }

    fn is_dir(&self, path: &str) -> bool {
        self.route(path).is_ok_and(|(tree, path)| tree.is_dir(path))
    }

    fn exists(&self, path: &str) -> bool {
        self.route(path).is_ok_and(|(tree, path)| tree.exists(path))
    }
}

/// What the render cache is keyed by: the repository, the commit, and everything in the
/// source and the Application that changes the output.
#[derive(Serialize)]
struct RenderKey<'a> {
    repo: &'a str,
    commit: &'a str,
    source: &'a ApplicationSource,
    context: &'a AppContext,
    /// Each `ref` source's name, repository and commit.
    refs: Vec<(&'a str, &'a str, String)>,
}

impl RenderKey<'_> {
    fn hash(&self) -> String {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        let digest = Sha256::digest(&bytes);
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Argo CD's build environment (`$ARGOCD_APP_*`), substituted into value-file paths and,
/// with `commonAnnotationsEnvsubst`, into Kustomize annotations.
#[derive(Clone, Debug, Default)]
pub struct BuildEnv(BTreeMap<String, String>);

impl BuildEnv {
    pub fn new(context: &AppContext, source: &ApplicationSource, revision: &str) -> Self {
        let mut env = BTreeMap::new();
        let mut set = |k: &str, v: &str| {
            env.insert(k.to_string(), v.to_string());
        };
        set("ARGOCD_APP_NAME", &context.name);
        set(
            "ARGOCD_APP_NAMESPACE",
            context.namespace.as_deref().unwrap_or(""),
        );
        set("ARGOCD_APP_PROJECT_NAME", &context.project);
        set("ARGOCD_APP_REVISION", revision);
        set("ARGOCD_APP_REVISION_SHORT", short(revision, 7));
        set("ARGOCD_APP_REVISION_SHORT_8", short(revision, 8));
        set("ARGOCD_APP_SOURCE_PATH", source.path());
        set("ARGOCD_APP_SOURCE_REPO_URL", &source.repo_url);
        set(
            "ARGOCD_APP_SOURCE_TARGET_REVISION",
            source.target_revision.as_deref().unwrap_or(""),
        );
        BuildEnv(env)
    }

    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// `$NAME` and `${NAME}` of the build environment replaced; other text kept as is.
    pub fn substitute(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
                match braced.find('}') {
                    Some(end) => (&braced[..end], end + 2),
                    None => ("", 0),
                }
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            };
            match self.0.get(name) {
                Some(value) if !name.is_empty() => {
                    out.push_str(value);
                    rest = &after[consumed..];
                }
                _ => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

fn short(revision: &str, n: usize) -> &str {
    revision.get(..n).unwrap_or(revision)
}

/// Renders `source` from `tree` (the repository at the source's revision).
pub fn render_tree(
    field: &str,
    context: &AppContext,
    source: &ApplicationSource,
    tree: &dyn Tree,
    refs: &Refs,
    build: &BuildEnv,
    helm: &HelmRenderer,
) -> Result<Vec<Manifest>, RenderError> {
    if source.plugin.is_some() {
        return Err(RenderError::Unsupported {
            field: field.to_string(),
            what: "a config management plugin",
        });
    }
    let Some(path) = join("", source.path()).filter(|_| !source.path().starts_with('/')) else {
        return Err(RenderError::PathEscapes {
            field: field.to_string(),
            path: source.path().to_string(),
        });
    };
    let path = path.as_str();
    if !tree.is_dir(path) {
        return Err(RenderError::PathNotFound {
            field: field.to_string(),
            path: path.to_string(),
            revision: build
                .vars()
                .get("ARGOCD_APP_REVISION")
                .cloned()
                .unwrap_or_default(),
        });
    }
    match Tool::of(source, tree, path) {
        Tool::Kustomize => {
            if let Some(overrides) = &source.kustomize
                && *overrides != ApplicationSourceKustomize::default()
            {
                return Err(RenderError::Unsupported {
                    field: field.to_string(),
                    what: "kustomize overrides",
                });
            }
            kustomize::render(tree, path).map_err(|error| RenderError::Kustomize {
                field: field.to_string(),
                error,
            })
        }
        Tool::Helm => {
            let options = helm_options(field, context, source.helm.as_ref(), refs, build)?;
            let tree = Mounted { base: tree, refs };
            helm.render(&tree, path, &options)
                .map(|m| m.as_ref().clone())
                .map_err(|error| RenderError::Helm {
                    field: field.to_string(),
                    error,
                })
        }
        Tool::Directory => {
            let directory = source.directory.clone().unwrap_or_default();
            if directory.jsonnet.is_some() {
                return Err(RenderError::Unsupported {
                    field: field.to_string(),
                    what: "jsonnet",
                });
            }
            let options = DirectoryOptions {
                recurse: directory.recurse,
                include: directory.include,
                exclude: directory.exclude,
            };
            render_directory(tree, path, &options).map_err(|error| RenderError::Directory {
                field: field.to_string(),
                error,
            })
        }
    }
}

/// Argo CD's `helm` block as [`HelmOptions`]: the release is named after the Application
/// and goes to the destination namespace unless the block says otherwise; value-file paths
/// get `$ARGOCD_APP_*` substituted, and `$ref/path` (multi-source) reads `path` from the
/// root of the source named `ref`.
fn helm_options(
    field: &str,
    context: &AppContext,
    block: Option<&ApplicationSourceHelm>,
    refs: &Refs,
    build: &BuildEnv,
) -> Result<HelmOptions, RenderError> {
    let block = block.cloned().unwrap_or_default();
    let mut value_files = Vec::with_capacity(block.value_files.len());
    for file in &block.value_files {
        let file = build.substitute(file);
        if let Some(rest) = file.strip_prefix('$') {
            let name = rest.split('/').next().unwrap_or_default();
            if !refs.0.contains_key(name) {
                return Err(RenderError::UnknownRef {
                    field: field.to_string(),
                    file: file.clone(),
                    name: name.to_string(),
                });
            }
            value_files.push(format!("/{file}"));
        } else {
            value_files.push(file);
        }
    }
    Ok(HelmOptions {
        release_name: block
            .release_name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| context.name.clone()),
        namespace: block
            .namespace
            .filter(|n| !n.is_empty())
            .or_else(|| context.namespace.clone()),
        value_files,
        ignore_missing_value_files: block.ignore_missing_value_files,
        values: block.values,
        values_object: block.values_object,
        parameters: block
            .parameters
            .into_iter()
            .map(|p| helm::HelmParameter {
                name: p.name,
                value: p.value,
                force_string: p.force_string,
            })
            .collect(),
        file_parameters: block
            .file_parameters
            .into_iter()
            .map(|p| helm::HelmFileParameter {
                name: p.name,
                path: p.path,
            })
            .collect(),
        kube_version: block.kube_version,
        api_versions: block.api_versions,
        skip_crds: block.skip_crds,
        skip_tests: block.skip_tests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_env_substitutes_known_variables_only() {
        let context = AppContext {
            name: "web-dev".into(),
            namespace: Some("web".into()),
            project: "shop".into(),
        };
        let source = ApplicationSource {
            repo_url: "https://git.example/shop.git".into(),
            path: Some("charts/web".into()),
            ..Default::default()
        };
        let env = BuildEnv::new(&context, &source, "0123456789abcdef");
        assert_eq!(
            env.substitute("/env/$ARGOCD_APP_NAME/values-${ARGOCD_APP_REVISION_SHORT}.yaml"),
            "/env/web-dev/values-0123456.yaml"
        );
        assert_eq!(env.substitute("$HOME/${UNSET} $"), "$HOME/${UNSET} $");
        assert_eq!(env.substitute("ns=$ARGOCD_APP_NAMESPACE."), "ns=web.");
    }
}
