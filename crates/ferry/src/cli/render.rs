//! `ferry render DIR`: the objects a source directory renders to, as multi-document YAML on
//! stdout — Kustomize (a kustomization file), Helm (a `Chart.yaml`, through `helm template`
//! with Argo CD's parameters) or a plain YAML/JSON/Jsonnet directory. Files are read confined to the
//! enclosing Git work tree, as a repo-server would; outside one, from anywhere the user can
//! read, as `kubectl kustomize` does.
//!
//! `ferry render -f application.yaml` renders an Argo CD Application's sources: fetched from
//! `repoURL` at `targetRevision` (through the Git cache in the data directory), or, with
//! `--local CHECKOUT`, from a local working tree.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use ferry_api::argocd::{
    Application, ApplicationSourceDirectory, ApplicationSourceJsonnet, JsonnetVar,
};
use ferry_render::application::{
    AppContext, BuildEnv, ChartAccess, Refresh, Refs, SourceJob, SourceRenderer,
};
use ferry_render::directory::render_directory;
use ferry_render::helm::{
    self, ChartFetcher, HelmOptions, HelmParameter, HelmRenderer, NoRepositories,
};
use ferry_render::kustomize;
use ferry_render::manifest::{Manifest, parse_documents, to_yaml_stream};
use ferry_render::tree::LocalTree;
use ferry_source::helm::HelmRepos;
use ferry_source::oci::{RegistryClient, RegistryOptions};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum SourceType {
    Kustomize,
    Helm,
    Directory,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The directory to render.
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    dir: Option<PathBuf>,
    /// An Argo CD Application manifest (YAML, one or more documents) whose sources to render.
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// With -f: render from this local checkout of the source's repository (its working
    /// tree, uncommitted changes included) instead of fetching `repoURL`.
    #[arg(long, requires = "file")]
    local: Option<PathBuf>,
    /// With -f: render this revision instead of the source's `targetRevision`.
    #[arg(long, requires = "file", conflicts_with = "local")]
    revision: Option<String>,
    #[command(flatten)]
    access: super::git_access::GitAccess,
    /// The source type (default: detected from the directory's files).
    #[arg(long = "type", value_enum)]
    source_type: Option<SourceType>,
    /// For directories: include subdirectories.
    #[arg(long, alias = "directory-recurse")]
    recurse: bool,
    /// For directories: only files matching this glob (`{a,b}` alternation).
    #[arg(long, alias = "directory-include")]
    include: Option<String>,
    /// For directories: skip files matching this glob (wins over --include).
    #[arg(long, alias = "directory-exclude")]
    exclude: Option<String>,
    /// Jsonnet: a top-level argument NAME=VALUE, a string (repeatable).
    #[arg(long, value_name = "NAME=VALUE")]
    jsonnet_tla_str: Vec<String>,
    /// Jsonnet: a top-level argument NAME=CODE, Jsonnet code (repeatable).
    #[arg(long, value_name = "NAME=CODE")]
    jsonnet_tla_code: Vec<String>,
    /// Jsonnet: an external variable NAME=VALUE, a string (repeatable).
    #[arg(long, value_name = "NAME=VALUE")]
    jsonnet_ext_var_str: Vec<String>,
    /// Jsonnet: an external variable NAME=CODE, Jsonnet code (repeatable).
    #[arg(long, value_name = "NAME=CODE")]
    jsonnet_ext_var_code: Vec<String>,
    /// Jsonnet: a library search path, relative to the repository root (repeatable).
    #[arg(long, value_name = "PATH")]
    jsonnet_libs: Vec<String>,
    /// Helm: a values file, as `helm template -f`: a path from the current directory;
    /// when no such file exists, Argo CD's forms (relative to the chart, a leading `/`
    /// from the repository root).
    #[arg(long = "values")]
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
    /// Kustomize: where the files a kustomization names may be, as `kubectl kustomize
    /// --load-restrictor`: inside its own directory (LoadRestrictionsRootOnly) or anywhere
    /// (LoadRestrictionsNone).
    #[arg(long, value_enum, default_value_t = LoadRestrictor::LoadRestrictionsRootOnly)]
    load_restrictor: LoadRestrictor,
}

/// `--load-restrictor`, spelled as kubectl spells it.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
#[value(rename_all = "verbatim")]
enum LoadRestrictor {
    LoadRestrictionsRootOnly,
    LoadRestrictionsNone,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let manifests = match (&args.file, &args.dir) {
        (Some(file), _) => render_applications(file, &args).await?,
        (None, Some(dir)) => render_dir(dir, &args).await?,
        (None, None) => bail!("a directory or -f APPLICATION is required"),
    };
    super::stdout::write(&to_yaml_stream(&manifests));
    Ok(())
}

/// Charts and chart dependencies from Helm repositories, cached under `cache`.
pub fn chart_fetcher(cache: &Path) -> anyhow::Result<Arc<ChartFetcher>> {
    let registry = Arc::new(RegistryClient::new(RegistryOptions::default())?);
    let repos = Arc::new(HelmRepos::new(cache, registry)?);
    Ok(Arc::new(ChartFetcher::new(repos, cache.join("charts"))))
}

fn helm_renderer(args: &Args) -> HelmRenderer {
    HelmRenderer::new(args.helm.clone().unwrap_or_else(helm::default_binary))
}

/// Every Application in `file`, each source rendered in order.
async fn render_applications(file: &Path, args: &Args) -> anyhow::Result<Vec<Manifest>> {
    if args.source_type.is_some()
        || directory_source(args)? != ApplicationSourceDirectory::default()
        || !(args.values.is_empty() && args.set.is_empty() && args.set_string.is_empty())
    {
        bail!(
            "--type, --recurse, --include, --exclude, --jsonnet-*, --values, --set and --set-string do not apply with -f: the Application says how to render"
        );
    }
    let bytes = std::fs::read(file).with_context(|| format!("{}", file.display()))?;
    let shown = file.display().to_string();
    let mut applications = Vec::new();
    for document in parse_documents(&shown, &bytes)? {
        if document.get("kind").and_then(|k| k.as_str()) != Some("Application") {
            continue;
        }
        let app: Application = serde_json::from_value(document)
            .with_context(|| format!("{shown}: not an Argo CD Application"))?;
        applications.push(app);
    }
    if applications.is_empty() {
        bail!("{shown}: no Application (kind: Application) found");
    }
    let helm = Arc::new(helm_renderer(args));
    let fetcher = chart_fetcher(&crate::datadir::default_dir().join("cache"))?;
    let mut manifests = Vec::new();
    if let Some(local) = &args.local {
        let tree: Arc<LocalTree> =
            Arc::new(LocalTree::new(local).with_context(|| format!("{}", local.display()))?);
        for app in &applications {
            let context = AppContext::of(app);
            let name = app.name();
            let sources = app.sources()?;
            // The checkout serves every source, `ref` sources included: one repository.
            let mut refs = Refs::default();
            for (field, source) in &sources {
                if source.repo_url != sources[0].1.repo_url {
                    bail!(
                        "Application {name}: {field}: --local is one checkout, but this source is in {}",
                        source.repo_url
                    );
                }
                if let Some(reference) = &source.reference {
                    refs.insert(reference, tree.clone());
                }
            }
            for (field, source) in sources {
                if source.reference.is_some() && source.path().is_empty() {
                    continue;
                }
                if source.is_chart() {
                    bail!(
                        "Application {name}: {field}: --local renders Git sources; this is chart {} of {}",
                        source.chart.as_deref().unwrap_or_default(),
                        source.repo_url
                    );
                }
                let build = BuildEnv::new(&context, source, "");
                let job = SourceJob {
                    field: &field,
                    context: &context,
                    source,
                    tree: tree.as_ref(),
                    refs: &refs,
                    build: &build,
                    helm: &helm,
                };
                let charts = ChartAccess {
                    fetcher: &fetcher,
                    repositories: &NoRepositories,
                };
                let rendered = job
                    .run(Some(&charts))
                    .await
                    .with_context(|| format!("Application {name}"))?;
                manifests.extend(rendered);
            }
        }
        return Ok(manifests);
    }
    let creds = args.access.credentials()?;
    let renderer = SourceRenderer::new(args.access.cache()?, helm).with_charts(fetcher);
    for app in &mut applications {
        if let Some(revision) = &args.revision {
            for source in app
                .spec
                .source
                .iter_mut()
                .chain(app.spec.sources.iter_mut())
            {
                source.target_revision = Some(revision.clone());
            }
        }
        let name = app.name().to_string();
        // --username is for the first source's repository only: never sent to another.
        let primary = app.sources()?.first().map(|(_, s)| s.repo_url.clone());
        let credentials = |url: &str| creds.clone().filter(|_| primary.as_deref() == Some(url));
        let rendered = renderer
            .render_application(app, Refresh::Normal, &credentials)
            .await
            .with_context(|| format!("Application {name}"))?;
        for (_, source) in rendered {
            manifests.extend(source.manifests.iter().cloned());
        }
    }
    Ok(manifests)
}

async fn render_dir(dir: &Path, args: &Args) -> anyhow::Result<Vec<Manifest>> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("{}", dir.display()))?;
    let typed_values = existing_value_files(&args.values)?;
    let mut root = readable_root(&dir);
    if typed_values.iter().flatten().any(|f| !f.starts_with(root)) {
        // A value file the user named outside the work tree: read from their file system.
        root = Path::new("/");
    }
    let rel = dir
        .strip_prefix(root)
        .unwrap_or(Path::new(""))
        .to_string_lossy()
        .into_owned();
    let tree = LocalTree::new(root)?;
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
    let directory = directory_source(args)?;
    if source_type != SourceType::Directory
        && (directory.include.is_some()
            || directory.exclude.is_some()
            || directory.jsonnet.is_some())
    {
        bail!("--include, --exclude and --jsonnet-* apply to directories only");
    }
    let manifests = match source_type {
        SourceType::Kustomize => {
            // Like `kubectl kustomize --enable-helm`: charts vendored in the repository.
            let helm = helm_renderer(args);
            let options = kustomize::KustomizeOptions {
                helm: Some(&helm),
                load_restrictor: match args.load_restrictor {
                    LoadRestrictor::LoadRestrictionsRootOnly => kustomize::LoadRestrictor::RootOnly,
                    LoadRestrictor::LoadRestrictionsNone => kustomize::LoadRestrictor::None,
                },
                ..Default::default()
            };
            kustomize::render_with(&tree, &rel, &options)?
        }
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
                value_files: args
                    .values
                    .iter()
                    .zip(&typed_values)
                    .map(|(raw, typed)| match typed {
                        Some(file) => tree_path(file, root),
                        None => raw.clone(),
                    })
                    .collect(),
                parameters,
                ..HelmOptions::default()
            };
            // Dependencies not vendored are downloaded, as `helm dependency build` would.
            helm_renderer(args)
                .render_tree(
                    &*chart_fetcher(&crate::datadir::default_dir().join("cache"))?,
                    &tree,
                    &rel,
                    &NoRepositories,
                    &options,
                )
                .await?
                .as_ref()
                .clone()
        }
        SourceType::Directory => render_directory(&tree, &rel, &directory)?,
    };
    Ok(manifests)
}

/// What `ferry render DIR` may read: the enclosing Git work tree (the nearest ancestor
/// holding `.git`), as a repo-server would; outside one, the whole file system, as
/// `kubectl kustomize` (Kustomize's load restrictor still confines files).
fn readable_root(dir: &Path) -> &Path {
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(Path::new("/"))
}

/// `--values` as Helm users type them: each path that names a file from the current
/// directory, canonical (`None` for the others, which keep Argo CD's meaning: `/…` from
/// the repository root, else relative to the chart).
fn existing_value_files(values: &[String]) -> anyhow::Result<Vec<Option<PathBuf>>> {
    values
        .iter()
        .map(|v| {
            let path = Path::new(v);
            if !path.is_file() {
                return Ok(None);
            }
            let canonical = path.canonicalize().with_context(|| v.clone())?;
            Ok(Some(canonical))
        })
        .collect()
}

/// `file` (canonical, under `root`) as a tree path from the repository root (`/…`).
fn tree_path(file: &Path, root: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap_or(file);
    format!("/{}", rel.to_string_lossy())
}

/// Argo CD's `spec.source.directory` from the directory flags.
fn directory_source(args: &Args) -> anyhow::Result<ApplicationSourceDirectory> {
    let vars = |strings: &[String], codes: &[String]| {
        let var = |raw: &String, code: bool| {
            let (name, value) = raw
                .split_once('=')
                .with_context(|| format!("{raw:?}: expected NAME=VALUE"))?;
            Ok::<_, anyhow::Error>(JsonnetVar {
                name: name.to_string(),
                value: value.to_string(),
                code,
            })
        };
        let strings = strings.iter().map(|raw| var(raw, false));
        let codes = codes.iter().map(|raw| var(raw, true));
        strings.chain(codes).collect::<anyhow::Result<Vec<_>>>()
    };
    let jsonnet = ApplicationSourceJsonnet {
        tlas: vars(&args.jsonnet_tla_str, &args.jsonnet_tla_code)?,
        ext_vars: vars(&args.jsonnet_ext_var_str, &args.jsonnet_ext_var_code)?,
        libs: args.jsonnet_libs.clone(),
    };
    Ok(ApplicationSourceDirectory {
        recurse: args.recurse,
        jsonnet: (jsonnet != ApplicationSourceJsonnet::default()).then_some(jsonnet),
        include: args.include.clone(),
        exclude: args.exclude.clone(),
        disable_extension_filter: false,
    })
}
