//! One watch per kind per cluster, shared by every app: the objects of one kind, listed
//! once and kept current from the watch, read without calling the API. Every change after
//! the first list is announced (also the ones found when the watch lists again after a
//! gap), so the controller can look at the app an object belongs to.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures_util::StreamExt as _;
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;

/// `(namespace, name)`; the namespace is empty for cluster-scoped objects.
type Key = (String, String);

/// Where changes go: to whoever subscribed, if anyone has.
#[derive(Default)]
pub struct Changes {
    sender: Mutex<Option<UnboundedSender<Arc<Value>>>>,
}

impl Changes {
    /// From now on, changes go to `sender`.
    pub fn subscribe(&self, sender: UnboundedSender<Arc<Value>>) {
        if let Ok(mut slot) = self.sender.lock() {
            *slot = Some(sender);
        }
    }

    fn announce(&self, obj: Arc<Value>) {
        if let Ok(slot) = self.sender.lock()
            && let Some(sender) = slot.as_ref()
        {
            let _ = sender.send(obj);
        }
    }
}

/// The objects of one kind, kept current by a watch.
pub struct KindCache {
    objects: Arc<RwLock<HashMap<Key, Arc<Value>>>>,
    ready: tokio::sync::watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for KindCache {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl KindCache {
    /// Starts watching `resource` in every namespace.
    pub fn start(client: kube::Client, resource: ApiResource, changes: Arc<Changes>) -> Self {
        let objects: Arc<RwLock<HashMap<Key, Arc<Value>>>> = Arc::default();
        let (ready_tx, ready) = tokio::sync::watch::channel(false);
        let store = objects.clone();
        let task = tokio::spawn(async move {
            let api: Api<DynamicObject> = Api::all_with(client, &resource);
            let events = watcher::watcher(api, watcher::Config::default()).default_backoff();
            let mut events = std::pin::pin!(events);
            let mut listing: Option<HashMap<Key, Arc<Value>>> = None;
            while let Some(event) = events.next().await {
                match event {
                    Ok(Event::Init) => listing = Some(HashMap::new()),
                    Ok(Event::InitApply(obj)) => {
                        if let (Some(listing), Some((key, obj))) =
                            (listing.as_mut(), entry(obj, &resource))
                        {
                            listing.insert(key, obj);
                        }
                    }
                    Ok(Event::InitDone) => {
                        let Some(listed) = listing.take() else {
                            continue;
                        };
                        let first = !*ready_tx.borrow();
                        let before = match store.write() {
                            Ok(mut objects) => std::mem::replace(&mut *objects, listed.clone()),
                            Err(_) => continue,
                        };
                        if !first {
                            announce_differences(&before, &listed, &changes);
                        }
                        let _ = ready_tx.send(true);
                    }
                    Ok(Event::Apply(obj)) => {
                        if let Some((key, obj)) = entry(obj, &resource) {
                            if let Ok(mut objects) = store.write() {
                                objects.insert(key, obj.clone());
                            }
                            changes.announce(obj);
                        }
                    }
                    Ok(Event::Delete(obj)) => {
                        if let Some((key, obj)) = entry(obj, &resource) {
                            if let Ok(mut objects) = store.write() {
                                objects.remove(&key);
                            }
                            changes.announce(obj);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(kind = %resource.kind, error = %e, "watching live objects");
                    }
                }
            }
        });
        KindCache {
            objects,
            ready,
            task,
        }
    }

    /// Waits until the first list is in, at most `timeout`; `false` when it is not.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let mut ready = self.ready.clone();
        matches!(
            tokio::time::timeout(timeout, ready.wait_for(|r| *r)).await,
            Ok(Ok(_))
        )
    }

    /// The object `namespace/name` (namespace empty for cluster-scoped), if the cluster has it.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let objects = self.objects.read().ok()?;
        objects
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }
}

/// The cache entry of a watched object, its `apiVersion` and `kind` filled in (list items
/// may come without them).
fn entry(obj: DynamicObject, resource: &ApiResource) -> Option<(Key, Arc<Value>)> {
    let mut value = serde_json::to_value(obj).ok()?;
    if let Some(root) = value.as_object_mut() {
        root.entry("apiVersion")
            .or_insert_with(|| Value::String(resource.api_version.clone()));
        root.entry("kind")
            .or_insert_with(|| Value::String(resource.kind.clone()));
    }
    let key = (
        ferry_api::meta::namespace(&value)
            .unwrap_or_default()
            .to_string(),
        ferry_api::meta::name(&value)?.to_string(),
    );
    Some((key, Arc::new(value)))
}

/// After a list that followed a watch gap: what appeared, changed or went meanwhile.
fn announce_differences(
    before: &HashMap<Key, Arc<Value>>,
    after: &HashMap<Key, Arc<Value>>,
    changes: &Changes,
) {
    for (key, obj) in after {
        let same = before.get(key).is_some_and(|old| {
            ferry_api::meta::resource_version(old) == ferry_api::meta::resource_version(obj)
        });
        if !same {
            changes.announce(obj.clone());
        }
    }
    for (key, obj) in before {
        if !after.contains_key(key) {
            changes.announce(obj.clone());
        }
    }
}
