//! `ferry up`: the embedded API server on a SQLite store in the data directory, prepared for
//! the sync engine (Argo CD's kinds served, the control-plane namespace and its `default`
//! AppProject), the Application controller on an in-process client, plus optional extra
//! clusters for multi-cluster work. Runs until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use ferry_apiserver::{ApiServer, ServerConfig};
use ferry_render::application::SourceRenderer;
use ferry_render::helm::{self, HelmRenderer};
use ferry_source::git::{GitCache, GitOptions};
use ferry_source::secrets::ClusterSecrets;
use ferry_store::Store;
use ferry_sync::live::Cluster;
use ferry_sync::tracking::Tracking;

use super::render;

use crate::datadir;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where the state, token and kubeconfig live (default: ~/.local/share/ferry).
    #[arg(long, env = "FERRY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address of the API server. Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Extra embedded clusters to start, each with its own port, store and kubeconfig.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=32))]
    clusters: u16,
    /// The control-plane namespace, where Applications, ApplicationSets and AppProjects live
    /// (Argo CD's `argocd`).
    #[arg(long, env = "FERRY_NAMESPACE", default_value = "argocd")]
    namespace: String,
    /// Send repository credentials over plain `http://` (loopback test servers); off by
    /// default so a password never travels in clear text.
    #[arg(long)]
    allow_http_credentials: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let dir = args.data_dir.clone().unwrap_or_else(datadir::default_dir);
    datadir::ensure(&dir)?;
    // One `ferry up` per data directory: SQLite would serialize two, but their kubeconfigs
    // and tokens would fight.
    let lock = std::fs::File::create(dir.join("lock"))?;
    lock.try_lock().map_err(|_| {
        anyhow::anyhow!(
            "another `ferry up` is using {}; stop it or pass --data-dir",
            dir.display()
        )
    })?;

    let mut servers = vec![start_cluster(&dir, "ferry", args.listen).await?];
    let (control_plane, _) = &servers[0];
    let client = control_plane.in_process_client(&datadir::token(&dir)?);
    ferry_sync::bootstrap(&client, &args.namespace)
        .await
        .context("cannot prepare the control plane")?;
    let controller = tokio::spawn(ferry_sync::application::run(Arc::new(controller_context(
        &dir, client, &args,
    )?)));
    for i in 1..=args.clusters {
        let listen = next_address(args.listen, i);
        let cluster_dir = dir.join("clusters").join(format!("cluster-{i}"));
        datadir::ensure(&cluster_dir)?;
        servers.push(start_cluster(&cluster_dir, &format!("ferry-cluster-{i}"), listen).await?);
    }
    println!("Ferry is up.");
    for (server, kubeconfig) in &servers {
        println!("  API server  https://{}", server.addr());
        println!("  kubeconfig  {}", kubeconfig.display());
    }
    println!(
        "  namespace   {} (Applications, ApplicationSets, AppProjects)",
        args.namespace
    );
    println!(
        "Try: kubectl --kubeconfig {} get namespaces",
        servers[0].1.display()
    );

    wait_for_signal().await?;
    eprintln!("shutting down");
    controller.abort();
    for (server, _) in servers {
        server.shutdown().await;
    }
    drop(lock);
    Ok(())
}

/// What the Application controller works with: the in-process client, the in-cluster
/// destination, and the Git, chart and render caches under the data directory.
fn controller_context(
    dir: &Path,
    client: kube::Client,
    args: &Args,
) -> anyhow::Result<ferry_sync::application::Context> {
    let cache = dir.join("cache");
    let options = GitOptions {
        allow_http_credentials: args.allow_http_credentials,
        ..GitOptions::default()
    };
    let git = GitCache::with_options(cache.join("git"), options)?;
    let helm = Arc::new(HelmRenderer::new(helm::default_binary()));
    Ok(ferry_sync::application::Context {
        cluster: Cluster::new(client.clone()),
        renderer: SourceRenderer::new(git, helm).with_charts(render::chart_fetcher(&cache)?),
        secrets: ClusterSecrets::new(client.clone()),
        tracking: Tracking::default(),
        namespace: args.namespace.clone(),
        client,
    })
}

/// Port `base + offset`, or another free port when the base is 0.
fn next_address(base: SocketAddr, offset: u16) -> SocketAddr {
    let port = if base.port() == 0 {
        0
    } else {
        base.port().saturating_add(offset)
    };
    SocketAddr::new(base.ip(), port)
}

async fn start_cluster(
    dir: &Path,
    name: &str,
    listen: SocketAddr,
) -> anyhow::Result<(ApiServer, PathBuf)> {
    let db = dir.join("state.db");
    let store = tokio::task::spawn_blocking({
        let db = db.clone();
        move || Store::sqlite(&db)
    })
    .await?
    .with_context(|| format!("cannot open the store {}", db.display()))?;
    let token = datadir::token(dir)?;
    let identity = datadir::tls_identity(dir)?;
    let mut config = ServerConfig::new(listen, token.clone());
    config.tls = Some(identity.clone());
    let server = ApiServer::start(store, config)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let kubeconfig = datadir::kubeconfig_path(dir);
    datadir::write_kubeconfig(
        &kubeconfig,
        name,
        &format!("https://{}", server.addr()),
        &identity.ca_pem,
        &token,
    )?;
    ensure_default_namespaces(&server).await?;
    Ok((server, kubeconfig))
}

/// A new cluster has `default`, `kube-system` and `kube-public`, as a real one does.
async fn ensure_default_namespaces(server: &ApiServer) -> anyhow::Result<()> {
    let objects = server.objects().clone();
    tokio::task::spawn_blocking(move || {
        objects.ensure_namespaces(&["default", "kube-system", "kube-public", "kube-node-lease"])
    })
    .await?
    .map_err(|e| anyhow::anyhow!("cannot create the default namespaces: {e}"))
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
