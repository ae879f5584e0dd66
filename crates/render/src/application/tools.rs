//! Which tool renders a source, and running it on the repository's tree: Kustomize,
//! Helm (with the Application's `helm` block as `helm template` options) or a plain
//! directory (YAML, JSON and Jsonnet, with the `directory` block as is, `$ARGOCD_APP_*`
//! substituted into its Jsonnet variables).

use ferry_api::argocd::{ApplicationSource, ApplicationSourceHelm};

use super::refs::{Mounted, Refs};
use super::{AppContext, BuildEnv, RenderError};
use crate::directory::render_directory;
use crate::helm::{self, ChartFetcher, ChartRepositories, HelmError, HelmOptions, HelmRenderer};
use crate::kustomize::{self, KustomizeOptions};
use crate::manifest::Manifest;
use crate::tree::{Tree, join};

/// The tool a source is rendered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// `helm template`.
    Helm,
    /// Kustomize.
    Kustomize,
    /// Plain YAML/JSON and Jsonnet files.
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

/// Where charts and chart dependencies that are not in the tree come from. Without it only
/// charts whose dependencies are vendored (or `file://`) render.
pub struct ChartAccess<'a> {
    /// Downloads charts and their dependencies.
    pub fetcher: &'a ChartFetcher,
    /// Credentials per repository URL, `@name` repositories.
    pub repositories: &'a dyn ChartRepositories,
}

/// One source to render from the tree of its repository at the source's revision.
pub struct SourceJob<'a> {
    /// Names the source in errors: `spec.source`, `spec.sources[1]`.
    pub field: &'a str,
    /// The Application's name, namespace and project.
    pub context: &'a AppContext,
    /// The source.
    pub source: &'a ApplicationSource,
    /// The source's repository at its revision.
    pub tree: &'a dyn Tree,
    /// The trees of the sources with a `ref`.
    pub refs: &'a Refs,
    /// The `$ARGOCD_APP_*` environment.
    pub build: &'a BuildEnv,
    /// Runs `helm template`.
    pub helm: &'a HelmRenderer,
}

impl SourceJob<'_> {
    /// Renders the source; Helm charts download what they miss through `charts`.
    pub async fn run(
        &self,
        charts: Option<&ChartAccess<'_>>,
    ) -> Result<Vec<Manifest>, RenderError> {
        let (path, tool) = self.locate()?;
        match (tool, charts) {
            (Tool::Helm, Some(charts)) => self.helm_with_downloads(&path, charts).await,
            _ => self.render(&path, tool),
        }
    }

    /// The source's path in the tree, checked, and the tool that renders it.
    pub fn locate(&self) -> Result<(String, Tool), RenderError> {
        let (field, source) = (self.field, self.source);
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
        if !self.tree.is_dir(&path) {
            return Err(RenderError::PathNotFound {
                field: field.to_string(),
                path,
                revision: self
                    .build
                    .vars()
                    .get("ARGOCD_APP_REVISION")
                    .cloned()
                    .unwrap_or_default(),
            });
        }
        let tool = Tool::of(source, self.tree, &path);
        Ok((path, tool))
    }

    /// Renders with no network: Kustomize, directories, and charts whose dependencies are
    /// all in the tree. CPU work (and maybe a `helm` run): call it off the async workers.
    pub fn render(&self, path: &str, tool: Tool) -> Result<Vec<Manifest>, RenderError> {
        let (field, source, tree, build) = (self.field, self.source, self.tree, self.build);
        match tool {
            Tool::Kustomize => {
                // `helmCharts` are inflated (Argo CD needs `--enable-helm` in its build
                // options; Ferry only renders charts vendored in the repository, so it is on).
                let options = KustomizeOptions {
                    overrides: source.kustomize.as_ref(),
                    helm: Some(self.helm),
                    env: Some(build.vars()),
                    ..KustomizeOptions::default()
                };
                kustomize::render_with(tree, path, &options).map_err(|error| {
                    RenderError::Kustomize {
                        field: field.to_string(),
                        error: Box::new(error),
                    }
                })
            }
            Tool::Helm => {
                let options = self.helm_options()?;
                let tree = Mounted {
                    base: tree,
                    refs: self.refs,
                };
                self.helm
                    .render(&tree, path, &options)
                    .map(|m| m.as_ref().clone())
                    .map_err(|error| helm_error(field, error))
            }
            Tool::Directory => {
                let mut directory = source.directory.clone().unwrap_or_default();
                // The repo-server substitutes its build environment into Jsonnet variables.
                if let Some(jsonnet) = &mut directory.jsonnet {
                    for var in jsonnet.tlas.iter_mut().chain(jsonnet.ext_vars.iter_mut()) {
                        var.value = build.substitute(&var.value);
                    }
                }
                render_directory(tree, path, &directory).map_err(|error| RenderError::Directory {
                    field: field.to_string(),
                    error,
                })
            }
        }
    }

    /// A chart of the tree, its missing dependencies downloaded first.
    pub async fn helm_with_downloads(
        &self,
        path: &str,
        charts: &ChartAccess<'_>,
    ) -> Result<Vec<Manifest>, RenderError> {
        let options = self.helm_options()?;
        let tree = Mounted {
            base: self.tree,
            refs: self.refs,
        };
        self.helm
            .render_tree(charts.fetcher, &tree, path, charts.repositories, &options)
            .await
            .map(|m| m.as_ref().clone())
            .map_err(|error| helm_error(self.field, error))
    }

    fn helm_options(&self) -> Result<HelmOptions, RenderError> {
        helm_options(
            self.field,
            self.context,
            self.source.helm.as_ref(),
            self.refs,
            self.build,
        )
    }
}

pub(super) fn helm_error(field: &str, error: HelmError) -> RenderError {
    RenderError::Helm {
        field: field.to_string(),
        error: Box::new(error),
    }
}

/// Argo CD's `helm` block as [`HelmOptions`]: the release is named after the Application
/// and goes to the destination namespace unless the block says otherwise; value-file paths
/// get `$ARGOCD_APP_*` substituted, and `$ref/path` (multi-source) reads `path` from the
/// root of the source named `ref`.
pub(super) fn helm_options(
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
            if !refs.contains(name) {
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
        skip_schema_validation: block.skip_schema_validation,
        ..HelmOptions::default()
    })
}
