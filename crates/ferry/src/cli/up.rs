//! `ferry up`: the embedded API server on a SQLite store in the data directory, prepared for
//! the sync engine (Argo CD's kinds served, the control-plane namespace and its `default`
//! AppProject), the Application controller on an in-process client (unless
//! `--no-controller`), plus optional extra clusters for multi-cluster work, each registered
//! as an Argo CD cluster Secret (`cluster-1`, …), and Ferry's web endpoints (Git webhooks).
//! Runs until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use base64::Engine as _;
use ferry_apiserver::{ApiServer, ServerConfig};
use ferry_store::Store;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};

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
    /// Lua health scripts in Argo CD's `resource_customizations/<group>/<Kind>/health.lua`
    /// layout (default: `resource_customizations` in the data directory, when it exists).
    #[arg(long)]
    customizations: Option<PathBuf>,
    /// Serve the API only; run the controllers elsewhere (`ferry controller --kubeconfig`).
    #[arg(long)]
    no_controller: bool,
    /// Address of Ferry's web endpoints (`POST /api/webhook`, `GET /metrics`); default
    /// 127.0.0.1:8080, or a free port when `--listen` asks for one.
    #[arg(long)]
    web_listen: Option<SocketAddr>,
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
    let client = servers[0].server.in_process_client(&datadir::token(&dir)?);
    ferry_sync::bootstrap(&client, &args.namespace)
        .await
        .context("cannot prepare the control plane")?;
    for i in 1..=args.clusters {
        let listen = next_address(args.listen, i);
        let cluster_dir = dir.join("clusters").join(format!("cluster-{i}"));
        datadir::ensure(&cluster_dir)?;
        let name = format!("cluster-{i}");
        let started = start_cluster(&cluster_dir, &format!("ferry-{name}"), listen).await?;
        register(&client, &args.namespace, &name, &started).await?;
        servers.push(started);
    }
    let web_listen = args.web_listen.unwrap_or_else(|| {
        let port = if args.listen.port() == 0 { 0 } else { 8080 };
        SocketAddr::new(args.listen.ip(), port)
    });
    let web_listener = tokio::net::TcpListener::bind(web_listen)
        .await
        .with_context(|| format!("cannot listen on {web_listen} (--web-listen)"))?;
    let web_addr = web_listener.local_addr()?;
    let ctx = if args.no_controller {
        None
    } else {
        let customizations = args
            .customizations
            .clone()
            .unwrap_or_else(|| dir.join(super::controller::CUSTOMIZATIONS));
        Some(
            super::controller::context(
                &dir,
                client.clone(),
                &args.namespace,
                args.allow_http_credentials,
                &customizations,
            )
            .await?,
        )
    };
    let web_state = ferry_web::WebState {
        client,
        namespace: args.namespace.clone(),
        metrics: ctx.as_ref().map(|c| c.metrics.clone()),
    };
    let web = tokio::spawn(async move {
        if let Err(e) = ferry_web::serve(web_listener, web_state).await {
            tracing::error!("web endpoints stopped: {e}");
        }
    });
    let controller = ctx.map(|ctx| tokio::spawn(ferry_sync::run_controllers(Arc::new(ctx))));
    println!("Ferry is up.");
    for started in &servers {
        println!("  API server  https://{}", started.server.addr());
        println!("  kubeconfig  {}", started.kubeconfig.display());
    }
    println!(
        "  namespace   {} (Applications, ApplicationSets, AppProjects)",
        args.namespace
    );
    println!("  web         http://{web_addr} (POST /api/webhook, GET /metrics)");
    if args.clusters > 0 {
        println!(
            "  clusters    cluster-1 … cluster-{} (cluster Secrets in {})",
            args.clusters, args.namespace
        );
    }
    println!(
        "Try: kubectl --kubeconfig {} get namespaces",
        servers[0].kubeconfig.display()
    );

    wait_for_signal().await?;
    eprintln!("shutting down");
    if let Some(controller) = controller {
        controller.abort();
    }
    web.abort();
    for started in servers {
        started.server.shutdown().await;
    }
    drop(lock);
    Ok(())
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

/// A started embedded cluster and how to reach it.
struct Started {
    server: ApiServer,
    kubeconfig: PathBuf,
    token: String,
    ca_pem: String,
}

async fn start_cluster(dir: &Path, name: &str, listen: SocketAddr) -> anyhow::Result<Started> {
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
    Ok(Started {
        server,
        kubeconfig,
        token,
        ca_pem: identity.ca_pem,
    })
}

/// Registers an extra cluster with the control plane as Argo CD's cluster Secret `name`,
/// so Applications (and a clusters generator) can target it by name or URL.
async fn register(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    cluster: &Started,
) -> anyhow::Result<()> {
    let config = serde_json::json!({
        "bearerToken": cluster.token,
        "tlsClientConfig": {
            "insecure": false,
            "caData": base64::engine::general_purpose::STANDARD.encode(&cluster.ca_pem),
        },
    });
    let secret = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"argocd.argoproj.io/secret-type": "cluster"},
        },
        "type": "Opaque",
        "stringData": {
            "name": name,
            "server": format!("https://{}", cluster.server.addr()),
            "config": config.to_string(),
        },
    });
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    secrets
        .patch(
            name,
            &PatchParams::apply("ferry").force(),
            &Patch::Apply(&secret),
        )
        .await
        .with_context(|| format!("cannot register cluster {name}"))?;
    Ok(())
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

pub(super) async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
