//! The in-memory backend: a sorted map of objects and an event log (trimmed by compaction)
//! behind one lock.
//!
//! Memory is what limits it, so per object it keeps the serialized body once (shared, as
//! `Bytes`, between the object and its events) and the key once, in a single allocation shared
//! between the map and the log.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;

use crate::backend::{Backend, ListPage, Write, prepare};
use crate::{Event, EventType, ObjectKey, Revision, StoreError, StoreResult, StoredObject};

/// A store that lives and dies with the process.
#[derive(Default)]
pub struct MemoryBackend {
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    /// Ordered like lists are: resource, namespace, name.
    objects: BTreeMap<Arc<Key>, Entry>,
    /// Events above `compacted`, in revision order.
    log: VecDeque<LogEntry>,
    revision: Revision,
    compacted: Revision,
}

struct Entry {
    revision: Revision,
    body: Bytes,
}

struct LogEntry {
    event_type: EventType,
    revision: Revision,
    key: Arc<Key>,
    body: Bytes,
}

impl LogEntry {
    fn to_event(&self) -> Event {
        Event {
            event_type: self.event_type,
            object: StoredObject {
                key: self.key.to_object_key(),
                revision: self.revision,
                body: self.body.clone(),
            },
        }
    }
}

/// An [`ObjectKey`] in one allocation: resource, namespace and name back to back.
struct Key {
    text: Box<str>,
    namespace_at: usize,
    name_at: usize,
}

impl Key {
    fn new(key: &ObjectKey) -> Self {
        let (resource, namespace, name) = key.parts();
        let mut text = String::with_capacity(resource.len() + namespace.len() + name.len());
        text.push_str(resource);
        text.push_str(namespace);
        text.push_str(name);
        Self {
            text: text.into_boxed_str(),
            namespace_at: resource.len(),
            name_at: resource.len() + namespace.len(),
        }
    }

    fn to_object_key(&self) -> ObjectKey {
        let (resource, namespace, name) = self.parts();
        ObjectKey::new(resource, namespace, name)
    }
}

/// The fields of a key however it is stored, so the map of [`Key`]s can be searched with an
/// `&ObjectKey`: both order as the tuple (resource, namespace, name).
trait KeyParts {
    fn parts(&self) -> (&str, &str, &str);
}

impl KeyParts for Key {
    fn parts(&self) -> (&str, &str, &str) {
        // Offsets are the boundaries `new` put between whole strings.
        let (resource, rest) = self.text.split_at(self.namespace_at);
        let (namespace, name) = rest.split_at(self.name_at - self.namespace_at);
        (resource, namespace, name)
    }
}

impl KeyParts for ObjectKey {
    fn parts(&self) -> (&str, &str, &str) {
        (&self.resource, &self.namespace, &self.name)
    }
}

impl PartialEq for dyn KeyParts + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn KeyParts + '_ {}

impl PartialOrd for dyn KeyParts + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn KeyParts + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts().cmp(&other.parts())
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts().cmp(&other.parts())
    }
}

impl<'a> Borrow<dyn KeyParts + 'a> for Arc<Key> {
    fn borrow(&self) -> &(dyn KeyParts + 'a) {
        &**self
    }
}

/// `key` as the map's lookup type.
fn lookup(key: &ObjectKey) -> &dyn KeyParts {
    key
}

impl MemoryBackend {
    // A panic while holding the lock cannot leave `State` half-updated: `apply` mutates only
    // after every fallible step, so a poisoned lock is still consistent.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Backend for MemoryBackend {
    fn revision(&self) -> StoreResult<Revision> {
        Ok(self.read().revision)
    }

    fn compacted_revision(&self) -> StoreResult<Revision> {
        Ok(self.read().compacted)
    }

    fn get(&self, key: &ObjectKey) -> StoreResult<Option<StoredObject>> {
        let state = self.read();
        Ok(state.objects.get(lookup(key)).map(|entry| StoredObject {
            key: key.clone(),
            revision: entry.revision,
            body: entry.body.clone(),
        }))
    }

    fn list(
        &self,
        resource: &str,
        namespace: Option<&str>,
        start_after: Option<(&str, &str)>,
        limit: Option<usize>,
    ) -> StoreResult<ListPage> {
        // Start right after `start_after` unless the namespace filter begins later.
        let start = match (namespace, start_after) {
            (Some(ns), Some((after_ns, _))) if after_ns < ns => {
                Bound::Included(ObjectKey::new(resource, ns, ""))
            }
            (_, Some((after_ns, after_name))) => {
                Bound::Excluded(ObjectKey::new(resource, after_ns, after_name))
            }
            (ns, None) => Bound::Included(ObjectKey::new(resource, ns.unwrap_or_default(), "")),
        };
        let state = self.read();
        let mut matching = state
            .objects
            .range::<dyn KeyParts, _>((start.as_ref().map(lookup), Bound::Unbounded))
            .take_while(|(key, _)| {
                let (key_resource, key_namespace, _) = key.parts();
                key_resource == resource && namespace.is_none_or(|ns| key_namespace == ns)
            });
        let mut items = Vec::with_capacity(limit.unwrap_or(0).min(4096));
        for (key, entry) in matching.by_ref().take(limit.unwrap_or(usize::MAX)) {
            items.push(StoredObject {
                key: key.to_object_key(),
                revision: entry.revision,
                body: entry.body.clone(),
            });
        }
        let more = matching.next().is_some();
        Ok(ListPage {
            items,
            revision: state.revision,
            more,
        })
    }

    fn apply(&self, write: Write) -> StoreResult<Event> {
        let mut state = self.write();
        let state = &mut *state;
        let revision = state.revision + 1;
        let current = state.objects.get_key_value(lookup(write.key()));
        let event = prepare(
            write,
            revision,
            current.map(|(_, entry)| entry.revision),
            |_| {
                current
                    .map(|(_, entry)| entry.body.clone())
                    .ok_or_else(|| StoreError::Corrupt("deleted object vanished".into()))
            },
        )?;
        // Reuse the key the map already holds; allocate one only for a new object.
        let shared_key = match current {
            Some((shared, _)) => Arc::clone(shared),
            None => Arc::new(Key::new(&event.object.key)),
        };
        match event.event_type {
            EventType::Added | EventType::Modified => {
                let entry = Entry {
                    revision,
                    body: event.object.body.clone(),
                };
                state.objects.insert(Arc::clone(&shared_key), entry);
            }
            EventType::Deleted => {
                state.objects.remove(lookup(&event.object.key));
            }
        }
        state.log.push_back(LogEntry {
            event_type: event.event_type,
            revision,
            key: shared_key,
            body: event.object.body.clone(),
        });
        state.revision = revision;
        Ok(event)
    }

    fn events_after(&self, after: Revision, limit: usize) -> StoreResult<Vec<Event>> {
        let state = self.read();
        if after < state.compacted {
            return Err(StoreError::Expired {
                requested: after,
                compacted: state.compacted,
            });
        }
        let start = state.log.partition_point(|entry| entry.revision <= after);
        Ok(state
            .log
            .range(start..)
            .take(limit)
            .map(LogEntry::to_event)
            .collect())
    }

    fn compact(&self, revision: Revision) -> StoreResult<()> {
        let mut state = self.write();
        let revision = revision.min(state.revision);
        if revision <= state.compacted {
            return Ok(());
        }
        let drop = state
            .log
            .partition_point(|entry| entry.revision <= revision);
        state.log.drain(..drop);
        if state.log.capacity() > 2 * state.log.len() + 1024 {
            state.log.shrink_to_fit();
        }
        state.compacted = revision;
        Ok(())
    }
}
