//! `ferry render DIR`: the objects a source directory renders to, as multi-document YAML on
//! stdout — Kustomize (a kustomization file), plain YAML/JSON directories; Helm charts are
//! recognized but not rendered yet. Files are read confined to the enclosing Git repository
//! (or to DIR when it is not in one), as a repo-server would.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ferry_render::directory::{DirectoryOptions, render_directory};
use ferry_render::kustomize;
use ferry_render::manifest::to_yaml_stream;
use ferry_render::tree::LocalTree;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum SourceType {
    Kustomize,
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
        None if dir.join("Chart.yaml").is_file() => {
            bail!("{}: Helm rendering is not available yet", dir.display())
        }
        None => SourceType::Directory,
    };
    let manifests = match source_type {
        SourceType::Kustomize => kustomize::render(&tree, &rel)?,
        SourceType::Directory => {
            let options = DirectoryOptions {
                recurse: args.recurse,
                ..Default::default()
            };
            render_directory(&tree, &rel, &options)?
        }
    };
    print!(
        "{}",
        to_yaml_stream(&manifests).map_err(anyhow::Error::msg)?
    );
    Ok(())
}

/// The nearest ancestor holding `.git`, else the directory itself.
fn repository_root(dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(dir)
        .to_path_buf()
}
