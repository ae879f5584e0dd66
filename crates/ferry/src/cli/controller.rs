//! `ferry controller`: the sync controllers against any Kubernetes API, reached through a
//! kubeconfig: Argo CD's kinds served and the control-plane namespace prepared as `ferry up`
//! prepares its own, then the Application controller, until SIGINT or SIGTERM. The
//! kubeconfig's cluster is the in-cluster destination (`https://kubernetes.default.svc`).
//! `ferry up` runs the same controllers on an in-process client.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use ferry_render::application::SourceRenderer;
use ferry_render::helm::{self, HelmRenderer};
use ferry_source::git::{GitCache, GitOptions};
use ferry_source::secrets::ClusterSecrets;
use ferry_sync::argocd_cm::ArgoCdSettings;
use ferry_sync::clusters::Clusters;
use ferry_sync::health::Checks;
use ferry_sync::health::custom::Customizations;
use ferry_sync::metrics::Metrics;
use ferry_sync::tracking::Tracking;

use super::render;
use crate::{datadir, kubeclient};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Kubeconfig of the cluster to run against (default: $KUBECONFIG, then the one `ferry
    /// up` wrote, then ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Where the Git, chart and render caches live (default: ~/.local/share/ferry).
    #[arg(long, env = "FERRY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The control-plane namespace, where Applications, ApplicationSets and AppProjects live.
    #[arg(long, env = "FERRY_NAMESPACE", default_value = "argocd")]
    namespace: String,
    /// Send repository credentials over plain `http://` (loopback test servers).
    #[arg(long)]
    allow_http_credentials: bool,
    /// Lua health scripts in Argo CD's `resource_customizations/<group>/<Kind>/health.lua`
    /// layout (default: `resource_customizations` in the data directory, when it exists).
    #[arg(long)]
    customizations: Option<PathBuf>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let dir = args.data_dir.clone().unwrap_or_else(datadir::default_dir);
    datadir::ensure(&dir)?;
    let (client, _) = kubeclient::connect(args.kubeconfig.as_deref()).await?;
    ferry_sync::bootstrap(&client, &args.namespace)
        .await
        .context("cannot prepare the cluster for the controllers")?;
    let customizations = args
        .customizations
        .clone()
        .unwrap_or_else(|| dir.join(CUSTOMIZATIONS));
    let ctx = context(
        &dir,
        client,
        &args.namespace,
        args.allow_http_credentials,
        &customizations,
    )
    .await?;
    eprintln!(
        "Ferry's controllers are running (Applications and ApplicationSets in namespace {}).",
        args.namespace
    );
    let controller = tokio::spawn(ferry_sync::run_controllers(Arc::new(ctx)));
    tokio::select! {
        signal = super::up::wait_for_signal() => signal?,
        ended = controller => {
            ended?;
            anyhow::bail!("the controllers' watches ended: the API server went away");
        }
    }
    eprintln!("shutting down");
    Ok(())
}

/// Where the controllers look for Lua health scripts by default, under the data directory.
pub const CUSTOMIZATIONS: &str = "resource_customizations";

/// What the controllers work with: `client` for the control plane and the in-cluster
/// destination, cluster Secrets for the others, the Git, chart and render caches under
/// `dir`, the metrics, and what `argocd-cm` and the `customizations` directory say (read
/// now: a change takes a restart, as in Argo CD).
pub async fn context(
    dir: &Path,
    client: kube::Client,
    namespace: &str,
    allow_http_credentials: bool,
    customizations: &Path,
) -> anyhow::Result<ferry_sync::application::Context> {
    let settings = ArgoCdSettings::read(&client, namespace).await;
    let custom = Customizations::from_settings(&settings).with_directory(customizations)?;
    let cache = dir.join("cache");
    let metrics = Arc::new(Metrics::new());
    let options = GitOptions {
        allow_http_credentials,
        observer: Some(metrics.clone()),
        ..GitOptions::default()
    };
    let git = GitCache::with_options(cache.join("git"), options)?;
    let helm = Arc::new(HelmRenderer::new(helm::default_binary()));
    Ok(ferry_sync::application::Context {
        clusters: Clusters::new(client.clone(), namespace, Some(metrics.clone())),
        renderer: SourceRenderer::new(git, helm).with_charts(render::chart_fetcher(&cache)?),
        secrets: ClusterSecrets::new(client.clone()),
        tracking: Tracking::default(),
        namespace: namespace.to_string(),
        metrics,
        resync: ferry_sync::application::Resync::of(&settings),
        health: Checks::new(custom),
        client,
    })
}
