//! A revisioned object store: the persistence layer under Ferry's Kubernetes-compatible API
//! server, in the role etcd (or kine) plays for kube-apiserver.
//!
//! Every write gets the next value of one global, monotonically increasing [`Revision`], which
//! the API server exposes as `metadata.resourceVersion`. Writes are optimistic: an update or
//! delete may name the revision it expects and fails with [`StoreError::Conflict`] otherwise.
//! Every write is also an [`Event`] in an ordered log, so a watcher can start from any
//! revision that has not been compacted away and replay what it missed.
//!
//! This crate knows JSON objects and keys, not Kubernetes semantics (defaulting, generation,
//! finalizers, ...): those live in `ferry-apiserver`. Start at [`Store`]; the two backends are
//! [`Store::sqlite`] (the product default: WAL, acknowledged writes survive `kill -9`) and
//! [`Store::memory`] (tests, throwaway clusters).

mod backend;
mod error;
mod memory;
mod sqlite;
mod watch;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

pub use backend::{Backend, ListPage, Write};
pub use error::{StoreError, StoreResult};
pub use watch::Watch;

/// One global revision counter; `0` means "before the first write".
pub type Revision = u64;

/// Identifies one object. `resource` is opaque to the store; the API server uses
/// Kubernetes' `plural.group` form (`configmaps`, `deployments.apps`). `namespace` is empty
/// for cluster-scoped objects.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The kind of object, as the caller names it (`deployments.apps`).
    pub resource: String,
    /// The namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// The object's name.
    pub name: String,
}

impl ObjectKey {
    /// A key from its three parts.
    pub fn new(
        resource: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            resource: resource.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for ObjectKey {
    /// `resource namespace/name`, as in error messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.resource, self.namespace, self.name)
    }
}

/// An object as stored: its serialized JSON, whose `metadata.resourceVersion` is `revision`.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredObject {
    /// Where the object is stored.
    pub key: ObjectKey,
    /// The revision of the write that produced this state.
    pub revision: Revision,
    /// The JSON document, with `metadata.resourceVersion` set to `revision`.
    pub body: Bytes,
}

impl StoredObject {
    /// Parses the body. Bodies are written by the store from a `serde_json::Value`, so this
    /// fails only on a corrupted database.
    pub fn json(&self) -> StoreResult<serde_json::Value> {
        serde_json::from_slice(&self.body).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

/// What a write did to its object, as a watch reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Created.
    Added,
    /// Updated.
    Modified,
    /// Deleted.
    Deleted,
}

/// One entry of the event log. For `Deleted`, `object` is the last state of the object with
/// `revision` (and `metadata.resourceVersion`) set to the revision of the delete.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// What happened.
    pub event_type: EventType,
    /// The object's state after it (before it, for a delete).
    pub object: StoredObject,
}

impl Event {
    /// The revision of the write.
    pub fn revision(&self) -> Revision {
        self.object.revision
    }
}

/// Which events a [`Watch`] delivers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchFilter {
    /// Only this resource; `None` for every resource.
    pub resource: Option<String>,
    /// Only this namespace; `None` for every namespace.
    pub namespace: Option<String>,
}

impl WatchFilter {
    /// Whether events about `key` pass.
    pub fn matches(&self, key: &ObjectKey) -> bool {
        self.resource.as_ref().is_none_or(|r| *r == key.resource)
            && self.namespace.as_ref().is_none_or(|n| *n == key.namespace)
    }
}

/// The store handle: cheap to clone, safe to share between threads. Methods are blocking
/// (SQLite calls); async callers use `tokio::task::spawn_blocking` for writes and large lists.
#[derive(Clone)]
pub struct Store {
    inner: Arc<watch::Hub>,
}

impl Store {
    /// An in-memory store: fast, lost on exit.
    pub fn memory() -> Self {
        Self::with_backend(Box::new(memory::MemoryBackend::default()))
    }

    /// A SQLite store at `path` (created if missing), in WAL mode.
    pub fn sqlite(path: &Path) -> StoreResult<Self> {
        Ok(Self::with_backend(Box::new(sqlite::SqliteBackend::open(
            path,
        )?)))
    }

    /// A store over any [`Backend`].
    pub fn with_backend(backend: Box<dyn Backend>) -> Self {
        Self {
            inner: Arc::new(watch::Hub::new(backend)),
        }
    }

    /// The revision of the latest write.
    pub fn revision(&self) -> StoreResult<Revision> {
        self.inner.backend().revision()
    }

    /// The oldest revision a watch can start from: events at or below it were compacted.
    pub fn compacted_revision(&self) -> StoreResult<Revision> {
        self.inner.backend().compacted_revision()
    }

    /// The object at `key`, if any.
    pub fn get(&self, key: &ObjectKey) -> StoreResult<Option<StoredObject>> {
        self.inner.backend().get(key)
    }

    /// Objects of `resource` (in `namespace`, or all namespaces), ordered by
    /// (namespace, name), starting after `start_after` (a `(namespace, name)` pair), at most
    /// `limit` of them.
    pub fn list(
        &self,
        resource: &str,
        namespace: Option<&str>,
        start_after: Option<(&str, &str)>,
        limit: Option<usize>,
    ) -> StoreResult<ListPage> {
        self.inner
            .backend()
            .list(resource, namespace, start_after, limit)
    }

    /// Creates `key`; fails with [`StoreError::AlreadyExists`] if it exists. Sets
    /// `metadata.resourceVersion` in `body` to the new revision.
    pub fn create(&self, key: &ObjectKey, body: serde_json::Value) -> StoreResult<StoredObject> {
        self.inner.write(Write::Create {
            key: key.clone(),
            body,
        })
    }

    /// Replaces `key`; fails with [`StoreError::NotFound`] if it does not exist and with
    /// [`StoreError::Conflict`] if `expected` is given and is not its current revision.
    pub fn update(
        &self,
        key: &ObjectKey,
        body: serde_json::Value,
        expected: Option<Revision>,
    ) -> StoreResult<StoredObject> {
        self.inner.write(Write::Update {
            key: key.clone(),
            body,
            expected,
        })
    }

    /// Deletes `key`, returning its last state at the revision of the delete.
    pub fn delete(&self, key: &ObjectKey, expected: Option<Revision>) -> StoreResult<StoredObject> {
        self.inner.write(Write::Delete {
            key: key.clone(),
            expected,
        })
    }

    /// Events matching `filter` with a revision above `after`: first the ones already in the
    /// log, then live ones. Fails with [`StoreError::Expired`] if `after` is below the
    /// compacted revision.
    ///
    /// Read them with `watch.next().await`, which returns `Option<StoreResult<Event>>`:
    /// `None` once the watch has ended, i.e. after it yielded an error (e.g. `Expired`, when
    /// it fell behind a compaction while catching up) or once every `Store` handle is dropped.
    /// `next` is cancel-safe, so it can sit in a `tokio::select!`.
    pub fn watch(&self, filter: WatchFilter, after: Revision) -> StoreResult<Watch> {
        self.inner.watch(filter, after)
    }

    /// Drops log entries at or below `revision` (objects stay). Watches from an older
    /// revision then fail with [`StoreError::Expired`].
    pub fn compact(&self, revision: Revision) -> StoreResult<()> {
        self.inner.backend().compact(revision)
    }
}
