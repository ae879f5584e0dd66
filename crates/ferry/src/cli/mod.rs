//! The command line: one file per subcommand.

mod app;
mod app_lifecycle;
mod apply;
mod appset;
mod controller;
mod delete;
mod discover;
mod get;
mod git_access;
mod health;
mod install;
mod render;
mod stdout;
mod table;
mod up;
mod version;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "ferry",
    version,
    about = "GitOps delivery and promotion in one binary"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where a client command finds the cluster.
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// Kubeconfig to use (default: $KUBECONFIG, then the one `ferry up` wrote, then ~/.kube/config).
    #[arg(long, global = true, env = "FERRY_KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// Namespace for namespaced objects (default: the object's own, then `default`).
    #[arg(short = 'n', long, global = true)]
    namespace: Option<String>,
}

impl Target {
    /// `-n`, else `$FERRY_NAMESPACE`, else `argocd`: where Applications and ApplicationSets
    /// live.
    fn control_plane_namespace(&self) -> String {
        self.namespace
            .clone()
            .or_else(|| std::env::var("FERRY_NAMESPACE").ok())
            .unwrap_or_else(|| "argocd".into())
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the embedded Kubernetes-compatible API server and Ferry's controllers.
    Up(up::Args),
    /// Run Ferry's controllers against any Kubernetes API (a kubeconfig).
    Controller(controller::Args),
    /// Argo CD Applications: list, get, history, sync, rollback, refresh, wait, set, delete.
    App(app::Args),
    /// List and show ApplicationSets, as `argocd appset` does.
    Appset(appset::Args),
    /// Create or update objects from YAML files with server-side apply.
    Apply(apply::Args),
    /// Show objects.
    Get(get::Args),
    /// Delete objects.
    Delete(delete::Args),
    /// Show what a Warehouse subscription would select: image tags, chart versions.
    Discover(discover::Args),
    /// Render a directory or an Argo CD Application (Kustomize, Helm, YAML/JSON/Jsonnet) to YAML.
    Render(render::Args),
    /// Print the health of objects from files, as the sync engine assesses it.
    Health(health::Args),
    /// Print what a real cluster needs before Ferry's controllers run on it (`crds`).
    Install(install::Args),
    /// Print the client and server versions.
    Version(version::Args),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(a) => up::run(a).await,
        Command::Controller(a) => controller::run(a).await,
        Command::App(a) => app::run(a).await,
        Command::Appset(a) => appset::run(a).await,
        Command::Apply(a) => apply::run(a).await,
        Command::Get(a) => get::run(a).await,
        Command::Delete(a) => delete::run(a).await,
        Command::Discover(a) => discover::run(a).await,
        Command::Render(a) => render::run(a).await,
        Command::Health(a) => health::run(a),
        Command::Install(a) => install::run(a),
        Command::Version(a) => version::run(a).await,
    }
}
