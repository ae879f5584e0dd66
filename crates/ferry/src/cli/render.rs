//! `ferry render DIR`: the objects a source directory renders to, as multi-document YAML on
//! stdout — Kustomize (a kustomization file), Helm (a `Chart.yaml`, through `helm template`
//! with Argo CD's parameters) or a plain YAML/JSON directory. Files are read confined to the
//! enclosing Git repository (or to DIR when it is not in one), as a repo-server would.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ferry_render::directory::{DirectoryOptions, render_directory};
use ferry_render::helm::{self, HelmOptions, HelmParameter, HelmRenderer};
use ferry_render::kustomize;
use ferry_render::manifest::to_yaml_stream;
use ferry_render::tree::LocalTree;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum SourceType {
    Kustomize,
    Helm,
    Directory,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The directory to render.
    dir: PathBuf,
    /// The source type (default: detected from the directory's files).
    #[arg(long = "type", value_enum)]
    source_type: Option<SourceType>,
    /// For directories: include subdirectories.
    #[arg(long)]
    recurse: bool,
    /// Helm: a values file, relative to the chart (a leading `/` is the repository root).
    #[arg(long = "values", short = 'f')]
    values: Vec<String>,
    /// Helm: NAME=VALUE, as `helm --set` (repeatable).
    #[arg(long)]
    set: Vec<String>,
    /// Helm: NAME=VALUE kept a string, as `helm --set-string` (repeatable).
    #[arg(long)]
    set_string: Vec<String>,
    /// Helm: the release name.
    #[arg(long, default_value = "release")]
    release_name: String,
    /// Helm: the release namespace.
    #[arg(long)]
    namespace: Option<String>,
    /// Helm: the helm binary (default: $FERRY_HELM, else `helm` on PATH).
    #[arg(long)]
    helm: Option<PathBuf>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let dir = args
        .dir
        .canonicalize()
        .with_context(|| format!("{}", args.dir.display()))?;
    let root = repository_root(&dir);
    let rel = dir
        .strip_prefix(&root)
        .unwrap_or(Path::new(""))
        .to_string_lossy()
        .into_owned();
    let tree = LocalTree::new(&root)?;
    let source_type = match args.source_type {
        Some(t) => t,
        None if kustomize::is_kustomization(&tree, &rel) => SourceType::Kustomize,
        None if dir.join("Chart.yaml").is_file() => SourceType::Helm,
        None => SourceType::Directory,
    };
    if source_type != SourceType::Helm
        && !(args.values.is_empty() && args.set.is_empty() && args.set_string.is_empty())
    {
        bail!("--values, --set and --set-string apply to Helm charts only");
    }
    let manifests = match source_type {
        SourceType::Kustomize => kustomize::render(&tree, &rel)?,
        SourceType::Helm => {
            let parameter = |raw: &String, force_string: bool| {
                let (name, value) = raw
                    .split_once('=')
                    .with_context(|| format!("{raw:?}: expected NAME=VALUE"))?;
                Ok::<_, anyhow::Error>(HelmParameter {
                    name: name.to_string(),
                    value: value.to_string(),
                    force_string,
                })
            };
            let mut parameters = Vec::new();
            for raw in &args.set {
                parameters.push(parameter(raw, false)?);
            }
            for raw in &args.set_string {
                parameters.push(parameter(raw, true)?);
            }
            let options = HelmOptions {
                release_name: args.release_name.clone(),
                namespace: args.namespace.clone(),
                value_files: args.values.clone(),
                parameters,
                ..HelmOptions::default()
            };
            let binary = args.helm.clone().unwrap_or_else(helm::default_binary);
            let renderer = HelmRenderer::new(binary);
            renderer.render(&tree, &rel, &options)?.as_ref().clone()
        }
        SourceType::Directory => {
            let options = DirectoryOptions {
                recurse: args.recurse,
                ..Default::default()
            };
            render_directory(&tree, &rel, &options)?
        }
    };
    super::stdout::write(&to_yaml_stream(&manifests).map_err(anyhow::Error::msg)?);
    Ok(())
}

/// The nearest ancestor holding `.git`, else the directory itself.
fn repository_root(dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(dir)
        .to_path_buf()
}
