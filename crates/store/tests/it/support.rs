//! Fixtures shared by the test modules.

use std::future::Future;
use std::time::Duration;

use ferry_store::{Event, ObjectKey, Store, Watch};
use serde_json::{Value, json};
use tempfile::TempDir;

/// How long a test waits for an event before failing instead of hanging.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Memory,
    Sqlite,
}

/// A fresh, empty store; for SQLite, in a temporary directory that lives as long as this.
pub struct Fixture {
    pub store: Store,
    _dir: Option<TempDir>,
}

impl Fixture {
    pub fn new(kind: Kind) -> Self {
        match kind {
            Kind::Memory => Self {
                store: Store::memory(),
                _dir: None,
            },
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let store = Store::sqlite(&dir.path().join("ferry.db")).expect("open sqlite");
                Self {
                    store,
                    _dir: Some(dir),
                }
            }
        }
    }
}

pub fn key(resource: &str, namespace: &str, name: &str) -> ObjectKey {
    ObjectKey::new(resource, namespace, name)
}

/// A minimal object named after `key`.
pub fn object(key: &ObjectKey) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "name": key.name, "namespace": key.namespace },
        "data": { "k": "v" },
    })
}

/// The body with `data.k` set to `value`, to tell versions apart.
pub fn object_with(key: &ObjectKey, value: &str) -> Value {
    let mut body = object(key);
    body["data"]["k"] = json!(value);
    body
}

pub fn create(store: &Store, key: &ObjectKey) -> u64 {
    store.create(key, object(key)).expect("create").revision
}

/// Runs an async test body on a multi-threaded runtime.
pub fn run<F: Future<Output = ()>>(test: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(test);
}

/// The watch's next event; fails the test on an error, the end of the watch, or a timeout.
pub async fn next(watch: &mut Watch) -> Event {
    match tokio::time::timeout(EVENT_TIMEOUT, watch.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(e))) => panic!("watch failed: {e}"),
        Ok(None) => panic!("watch ended"),
        Err(_) => panic!("no event within {EVENT_TIMEOUT:?}"),
    }
}

/// The next `n` events.
pub async fn take(watch: &mut Watch, n: usize) -> Vec<Event> {
    let mut events = Vec::with_capacity(n);
    for _ in 0..n {
        events.push(next(watch).await);
    }
    events
}

/// Asserts the watch has nothing to deliver right now: a pending `next` is cancelled after a
/// short wait, which also exercises its cancel safety.
pub async fn assert_idle(watch: &mut Watch) {
    if let Ok(event) = tokio::time::timeout(Duration::from_millis(50), watch.next()).await {
        panic!("expected no event, got {event:?}");
    }
}

pub fn revisions(events: &[Event]) -> Vec<u64> {
    events.iter().map(Event::revision).collect()
}

/// `metadata.resourceVersion` of a stored body.
pub fn resource_version(body: &[u8]) -> String {
    let value: Value = serde_json::from_slice(body).expect("stored body is JSON");
    value["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion is a string")
        .to_owned()
}
