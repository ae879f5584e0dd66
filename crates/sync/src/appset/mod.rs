//! The ApplicationSet controller, Argo CD's: each ApplicationSet of the control-plane
//! namespace is turned into Applications ([`reconcile`]: generators → template → validate →
//! write → status) when it changes, when an Application it owns changes (its spec, labels,
//! annotations, finalizers; an edit is undone) or goes, when a cluster Secret changes (sets
//! with a clusters generator), when its refresh annotation is set, and as often as
//! its git generators ask (`requeueAfterSeconds`, 180 s by default; 180 s after an error).
//! Up to 10 sets reconcile at once (Argo CD's default), one set never twice at a time.
//! It shares the Application controller's [`Context`]: one Git cache, one cluster list.

pub mod generators;
pub mod reconcile;
pub mod template;
mod write;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_api::argocd::{Application, ApplicationSet};
use futures_util::StreamExt as _;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::watcher;

use crate::application::Context;
use crate::clusters::CLUSTER_SELECTOR;
use crate::queue::{Outcome, Queue, Waker};

/// Argo CD's `applicationsetcontroller.concurrent.reconciliations.max`.
const CONCURRENT_RECONCILES: usize = 10;

/// The sets the watch has seen, by name.
type Latest = Arc<tokio::sync::Mutex<HashMap<String, ApplicationSet>>>;

/// Runs the controller until the ApplicationSet watch ends (the API server shut down).
pub async fn run(ctx: Arc<Context>) {
    let queue = Queue::default();
    let latest: Latest = Arc::default();
    let watch = tokio::spawn(watch_sets(ctx.clone(), latest.clone(), queue.waker()));
    tokio::spawn(watch_owned_apps(ctx.clone(), queue.waker()));
    tokio::spawn(watch_clusters(ctx.clone(), latest.clone(), queue.waker()));

    let reconcile = {
        let (ctx, latest) = (ctx.clone(), latest.clone());
        move |name: String, _after_write: bool| {
            let (ctx, latest) = (ctx.clone(), latest.clone());
            async move {
                let set = current(&ctx, &latest, &name).await?;
                Some(reconcile::reconcile(&ctx, &set).await.unwrap_or_else(|e| {
                    tracing::warn!(applicationset = %name, error = %e, "writing ApplicationSet status");
                    Outcome::retry_soon()
                }))
            }
        }
    };
    queue
        .run(CONCURRENT_RECONCILES, reconcile, || watch.is_finished())
        .await;
}

/// Keeps `latest` current and wakes a set when its spec, annotations or deletion change.
async fn watch_sets(ctx: Arc<Context>, latest: Latest, waker: Waker) {
    let sets: Api<ApplicationSet> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let mut seen: HashMap<String, String> = HashMap::new();
    // The names a (re-)list returned so far: after a watch gap, sets deleted in the gap
    // are dropped when the list is done.
    let mut listed: Option<std::collections::HashSet<String>> = None;
    let mut events = std::pin::pin!(watcher(sets, watcher::Config::default()));
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Init) => listed = Some(Default::default()),
            Ok(watcher::Event::InitDone) => {
                if let Some(listed) = listed.take() {
                    latest.lock().await.retain(|name, _| listed.contains(name));
                    seen.retain(|name, _| listed.contains(name));
                }
            }
            Ok(watcher::Event::Apply(set) | watcher::Event::InitApply(set)) => {
                let name = set.metadata.name.clone().unwrap_or_default();
                if let Some(listed) = listed.as_mut() {
                    listed.insert(name.clone());
                }
                let fingerprint = serde_json::json!([
                    set.spec,
                    set.metadata.annotations,
                    set.metadata.deletion_timestamp,
                    set.metadata.uid,
                ])
                .to_string();
                latest.lock().await.insert(name.clone(), set);
                if seen.get(&name) != Some(&fingerprint) {
                    seen.insert(name.clone(), fingerprint);
                    waker.wake(name);
                }
            }
            Ok(watcher::Event::Delete(set)) => {
                let name = set.metadata.name.unwrap_or_default();
                seen.remove(&name);
                latest.lock().await.remove(&name);
            }
            Err(e) => {
                tracing::warn!(error = %e, "watching ApplicationSets");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Wakes the owning set when an Application it owns changes in what the set writes (its
/// edit is undone), or goes away. Sync and health changes do not: as in Argo CD, the set's
/// `resources[]` catch up at its next reconcile.
async fn watch_owned_apps(ctx: Arc<Context>, waker: Waker) {
    let apps: Api<Application> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut events = std::pin::pin!(watcher(apps, watcher::Config::default()));
    while let Some(event) = events.next().await {
        let (app, deleted) = match event {
            Ok(watcher::Event::Apply(app) | watcher::Event::InitApply(app)) => (app, false),
            Ok(watcher::Event::Delete(app)) => (app, true),
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "watching Applications for their ApplicationSets");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(owner) = app
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.controller == Some(true) && r.kind == "ApplicationSet")
        else {
            continue;
        };
        let name = app.name().to_string();
        if deleted {
            seen.remove(&name);
            waker.wake(owner.name.clone());
            continue;
        }
        let fingerprint = serde_json::json!([
            app.spec,
            app.metadata.labels,
            app.metadata.annotations,
            app.metadata.finalizers,
            app.metadata.deletion_timestamp,
        ])
        .to_string();
        if seen.get(&name) != Some(&fingerprint) {
            seen.insert(name, fingerprint);
            waker.wake(owner.name.clone());
        }
    }
}

/// Wakes the sets with a clusters generator when a cluster Secret is added, changed or
/// removed.
async fn watch_clusters(ctx: Arc<Context>, latest: Latest, waker: Waker) {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let config = watcher::Config::default().labels(CLUSTER_SELECTOR);
    let mut events = std::pin::pin!(watcher(secrets, config));
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_) | watcher::Event::InitDone) => {
                for (name, set) in latest.lock().await.iter() {
                    if uses_clusters(set) {
                        waker.wake(name.clone());
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "watching cluster Secrets");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Whether any generator of `set`, nested ones too, is a clusters generator.
fn uses_clusters(set: &ApplicationSet) -> bool {
    fn walk(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::Object(map) => {
                map.contains_key("clusters") || map.values().any(walk)
            }
            serde_json::Value::Array(items) => items.iter().any(walk),
            _ => false,
        }
    }
    walk(&serde_json::to_value(&set.spec.generators).unwrap_or_default())
}

/// The set to reconcile, read from the API (sets reconcile seldom, and a set deleted since
/// the watch saw it must not generate again); `None`, and forgotten, when it is gone.
async fn current(
    ctx: &Context,
    latest: &tokio::sync::Mutex<HashMap<String, ApplicationSet>>,
    name: &str,
) -> Option<ApplicationSet> {
    let known = latest.lock().await.get(name).cloned()?;
    let sets: Api<ApplicationSet> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    match sets.get_opt(name).await {
        Ok(Some(set)) => Some(set),
        Ok(None) => {
            latest.lock().await.remove(name);
            None
        }
        Err(e) => {
            tracing::warn!(applicationset = %name, error = %e, "reading the ApplicationSet");
            Some(known)
        }
    }
}
