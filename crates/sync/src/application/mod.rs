//! The Application controller: watches the Applications of the control-plane namespace and
//! reconciles each ([`reconcile`]) when its spec, operation or annotations change, when an
//! object it tracks changes in the cluster, when its AppProject changes, and again every
//! 120 s plus jitter (`argocd-cm`, [`resync`]), every second while an operation runs, every 2 s while a rollout is
//! in progress (health Progressing). Its own status writes do not wake it. Up to 16 apps
//! reconcile at once, one app never twice at the same time.

mod auto_sync;
mod events;
mod finalize;
mod project;
pub mod reconcile;
pub mod resync;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_api::argocd::{AppProject, Application};
use futures_util::StreamExt as _;
use kube::api::Api;
use kube::runtime::watcher;
use tokio::sync::mpsc;

pub use reconcile::Context;

use crate::queue::{Outcome, Queue};
pub use resync::Resync;

/// Argo CD's refresh annotation (`normal` or `hard`), removed once served.
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";

/// Runs the controller until the watch ends (the API server shut down).
pub async fn run(ctx: Arc<Context>) {
    let apps: Api<Application> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let queue = Queue::default();
    let latest: Arc<tokio::sync::Mutex<HashMap<String, Application>>> = Arc::default();

    let watch = {
        let latest = latest.clone();
        let waker = queue.waker();
        let metrics = ctx.metrics.clone();
        tokio::spawn(async move {
            let mut seen: HashMap<String, String> = HashMap::new();
            // The names a (re-)list returned so far: after a watch gap, apps deleted in the
            // gap are dropped when the list is done.
            let mut listed: Option<std::collections::HashSet<String>> = None;
            let mut events = std::pin::pin!(watcher(apps, watcher::Config::default()));
            while let Some(event) = events.next().await {
                match event {
                    Ok(watcher::Event::Init) => listed = Some(Default::default()),
                    Ok(watcher::Event::InitDone) => {
                        let Some(listed) = listed.take() else {
                            continue;
                        };
                        let mut latest = latest.lock().await;
                        let gone: Vec<String> = latest
                            .keys()
                            .filter(|n| !listed.contains(*n))
                            .cloned()
                            .collect();
                        for name in gone {
                            if let Some(app) = latest.remove(&name) {
                                metrics.app_deleted(app.namespace().unwrap_or_default(), &name);
                            }
                            seen.remove(&name);
                        }
                    }
                    Ok(watcher::Event::Apply(app) | watcher::Event::InitApply(app)) => {
                        metrics.app_info(&app);
                        let name = app.name().to_string();
                        if let Some(listed) = listed.as_mut() {
                            listed.insert(name.clone());
                        }
                        let fingerprint = fingerprint(&app);
                        latest.lock().await.insert(name.clone(), app);
                        if seen.get(&name) != Some(&fingerprint) {
                            seen.insert(name.clone(), fingerprint);
                            waker.wake(name);
                        }
                    }
                    Ok(watcher::Event::Delete(app)) => {
                        metrics.app_deleted(app.namespace().unwrap_or_default(), app.name());
                        seen.remove(app.name());
                        latest.lock().await.remove(app.name());
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "watching Applications");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        })
    };

    // A change to a live object wakes the app that tracks it (self-heal, hooks completing,
    // rollouts progressing), without waiting for the resync.
    let (changed, mut changes) = mpsc::unbounded_channel();
    ctx.clusters.subscribe(changed);
    {
        let (ctx, latest, waker) = (ctx.clone(), latest.clone(), queue.waker());
        tokio::spawn(async move {
            while let Some(obj) = changes.recv().await {
                let Some(name) = ctx.tracking.app_of(&obj) else {
                    continue;
                };
                if latest.lock().await.contains_key(&name) {
                    waker.wake(name);
                }
            }
        });
    }

    // A project change (created after its apps, windows or lists edited) wakes its apps.
    {
        let (latest, waker) = (latest.clone(), queue.waker());
        let projects: Api<AppProject> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
        tokio::spawn(async move {
            let mut events = std::pin::pin!(watcher(projects, watcher::Config::default()));
            while let Some(event) = events.next().await {
                let project = match event {
                    Ok(watcher::Event::Apply(p) | watcher::Event::Delete(p)) => p,
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "watching AppProjects");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                let name = project.metadata.name.unwrap_or_default();
                let members: Vec<String> = latest
                    .lock()
                    .await
                    .values()
                    .filter(|a| {
                        let p = if a.spec.project.is_empty() {
                            "default"
                        } else {
                            a.spec.project.as_str()
                        };
                        p == name
                    })
                    .map(|a| a.name().to_string())
                    .collect();
                for name in members {
                    waker.wake(name);
                }
            }
        });
    }

    let reconcile = {
        let (ctx, latest) = (ctx.clone(), latest.clone());
        move |name: String, after_write: bool| {
            let (ctx, latest) = (ctx.clone(), latest.clone());
            async move {
                let app = current(&ctx, &latest, &name, after_write).await?;
                let started = std::time::Instant::now();
                let result = reconcile::reconcile(&ctx, &app).await;
                ctx.metrics.reconciled(&app, started.elapsed());
                Some(result.unwrap_or_else(|e| {
                    tracing::warn!(app = %name, error = %e, "writing Application status");
                    Outcome::retry_soon()
                }))
            }
        }
    };
    queue
        .run(CONCURRENT_RECONCILES, reconcile, || watch.is_finished())
        .await;
}

/// How many apps are reconciled at once (Argo CD's `--status-processors` default is 20,
/// `--operation-processors` 10).
const CONCURRENT_RECONCILES: usize = 16;

/// The app to reconcile: the watch's copy, or the API's when the last reconcile wrote it or
/// an operation runs (the watch may not have delivered that write yet, and a step taken from
/// a stale status would redo, or undo, what the last one did).
async fn current(
    ctx: &Context,
    latest: &tokio::sync::Mutex<HashMap<String, Application>>,
    name: &str,
    after_write: bool,
) -> Option<Application> {
    let app = latest.lock().await.get(name).cloned()?;
    let phase = app
        .status
        .operation_state
        .as_ref()
        .map(|s| s.phase.as_str());
    let operating = app.operation.is_some() || matches!(phase, Some("Running" | "Terminating"));
    if !after_write && !operating {
        return Some(app);
    }
    let apps: Api<Application> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    match apps.get_opt(name).await {
        Ok(fresh) => fresh,
        Err(e) => {
            tracing::warn!(app = %name, error = %e, "reading the Application");
            Some(app)
        }
    }
}

/// What a reconcile reacts to: the spec, the operation, annotations and deletion; not the
/// status the controller writes itself.
fn fingerprint(app: &Application) -> String {
    serde_json::json!([
        app.spec,
        app.operation,
        app.metadata.annotations,
        app.metadata.deletion_timestamp,
    ])
    .to_string()
}
