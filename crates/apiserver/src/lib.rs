//! Ferry's embedded Kubernetes-compatible API server: Kubernetes REST (discovery, CRUD,
//! list/watch, patch, server-side apply, status, CRDs) over a [`ferry_store::Store`], plus
//! the controllers a cluster runs behind its API (garbage collection, namespace lifecycle,
//! simulated workloads) so that `kubectl` and kube-rs clients see a small, working cluster.
//!
//! It is not a full kube-apiserver: no admission webhooks, no aggregation, and protobuf only
//! for request bodies of built-in kinds (responses are JSON).
//! Start at [`ApiServer::start`]; request handling is in `http`, object semantics in
//! `objects`.

mod builtin_schema;
mod defaults;
mod discovery;
mod error;
mod gc;
mod http;
mod in_process;
mod objects;
mod openapi;
pub mod patch;
mod pod_logs;
mod protobuf;
mod resources;
mod reviews;
mod scale;
pub mod sim;
mod table;
mod tls;
mod unknown_fields;
mod watch;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferry_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch as signal;
use tokio::task::JoinHandle;

pub use error::{ApiError, ApiResult};
pub use objects::Objects;
pub use resources::{ResourceType, Resources};
pub use tls::TlsIdentity;

/// How the server listens and whom it lets in.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The address to bind (port 0 for any free port).
    pub listen: SocketAddr,
    /// The bearer token every request but health checks must present.
    pub token: String,
    /// Events older than this many revisions behind the head are compacted.
    pub keep_revisions: u64,
    /// Serve HTTPS with this identity; plain HTTP when `None`.
    pub tls: Option<TlsIdentity>,
    /// How simulated workloads behave.
    pub sim: sim::SimConfig,
}

impl ServerConfig {
    /// Plain HTTP on `listen` for `token`, with the default compaction and simulation.
    pub fn new(listen: SocketAddr, token: impl Into<String>) -> Self {
        Self {
            listen,
            token: token.into(),
            keep_revisions: 100_000,
            tls: None,
            sim: sim::SimConfig::default(),
        }
    }
}

/// A running server; dropping it does not stop it, [`ApiServer::shutdown`] does.
pub struct ApiServer {
    addr: SocketAddr,
    objects: Objects,
    /// The router the listener serves, for [`ApiServer::in_process_client`].
    router: axum::Router,
    stop: signal::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl ApiServer {
    /// Binds `config.listen` and serves until [`ApiServer::shutdown`].
    pub async fn start(store: Store, config: ServerConfig) -> std::io::Result<Self> {
        let objects = Objects::new(store, Resources::new());
        let loaded = objects.clone();
        tokio::task::spawn_blocking(move || loaded.load_crds())
            .await
            .map_err(std::io::Error::other)?
            .map_err(std::io::Error::other)?;
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = signal::channel(false);
        let state = Arc::new(http::AppState {
            objects: objects.clone(),
            token: config.token.clone(),
            address: addr.to_string(),
            stopped: stopped.clone(),
        });
        let mut tasks = Vec::new();
        let mut stopped_http = stopped.clone();
        let app = http::router(state);
        let router = app.clone();
        let shutdown = async move {
            let _ = stopped_http.wait_for(|s| *s).await;
        };
        tasks.push(match &config.tls {
            Some(identity) => tokio::spawn(serve(
                tls::TlsListener::new(listener, identity)?,
                app,
                shutdown,
            )),
            None => tokio::spawn(serve(listener, app, shutdown)),
        });
        tasks.push(tokio::spawn(gc::run(objects.clone(), stopped.clone())));
        tasks.push(tokio::spawn(sim::run(
            objects.clone(),
            config.sim.clone(),
            stopped.clone(),
        )));
        tasks.push(tokio::spawn(compact_periodically(
            objects.store.clone(),
            config.keep_revisions,
            stopped,
        )));
        Ok(Self {
            addr,
            objects,
            router,
            stop,
            tasks,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The object layer, for seeding state at start-up (namespaces) and for tests.
    /// Controllers never use it: they call the API through [`ApiServer::in_process_client`].
    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    /// A `kube::Client` that calls this server's router inside the process, presenting
    /// `token`: authorization and every answer as over HTTPS, without TLS or a socket. Call it
    /// inside a Tokio runtime.
    pub fn in_process_client(&self, token: &str) -> kube::Client {
        in_process::client(self.router.clone(), token)
    }

    /// Stops accepting requests, ends open watches and waits for the background tasks.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for mut t in self.tasks {
            if tokio::time::timeout(Duration::from_secs(5), &mut t)
                .await
                .is_err()
            {
                t.abort();
            }
        }
    }
}

async fn serve<L>(
    listener: L,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!("API server stopped: {e}");
    }
}

/// Keeps the event log bounded, as kube-apiserver compacts etcd every five minutes.
async fn compact_periodically(store: Store, keep: u64, mut stopped: signal::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(300));
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = tick.tick() => {
                let store = store.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    let head = store.revision()?;
                    if head > keep {
                        store.compact(head - keep)?;
                    }
                    Ok::<_, ferry_store::StoreError>(())
                })
                .await;
            }
        }
    }
}
