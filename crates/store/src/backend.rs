//! The contract a storage engine fulfils; [`crate::Store`] adds the live watch fan-out on top.

use bytes::Bytes;
use serde_json::Value;

use crate::{Event, EventType, ObjectKey, Revision, StoreError, StoreResult, StoredObject};

/// One write, applied atomically with its precondition.
#[derive(Clone, Debug)]
pub enum Write {
    /// Stores a new object; fails with `AlreadyExists` when the key is taken.
    Create {
        /// The object's key.
        key: ObjectKey,
        /// Its JSON document.
        body: serde_json::Value,
    },
    /// Replaces an object; fails with `NotFound`, or `Conflict` when `expected` is not its
    /// revision.
    Update {
        /// The object's key.
        key: ObjectKey,
        /// Its new JSON document.
        body: serde_json::Value,
        /// The revision the caller read, or `None` for an unconditional write.
        expected: Option<Revision>,
    },
    /// Removes an object; fails as an update does.
    Delete {
        /// The object's key.
        key: ObjectKey,
        /// The revision the caller read, or `None` for an unconditional delete.
        expected: Option<Revision>,
    },
}

impl Write {
    /// The key this write is about.
    pub fn key(&self) -> &ObjectKey {
        match self {
            Write::Create { key, .. } | Write::Update { key, .. } | Write::Delete { key, .. } => {
                key
            }
        }
    }
}

/// One page of a list, read at `revision`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListPage {
    /// The objects, ordered by namespace and name.
    pub items: Vec<StoredObject>,
    /// The store revision the page was read at.
    pub revision: Revision,
    /// True when more objects follow the last item.
    pub more: bool,
}

/// A storage engine. Implementations serialize writes themselves; `apply` must assign the
/// next revision, set `metadata.resourceVersion` in the stored body to it, persist the object
/// and its event in one transaction, and return the event.
pub trait Backend: Send + Sync + 'static {
    /// The revision of the last write (`0` before the first).
    fn revision(&self) -> StoreResult<Revision>;
    /// The revision events were compacted up to.
    fn compacted_revision(&self) -> StoreResult<Revision>;
    /// The object at `key`, if any.
    fn get(&self, key: &ObjectKey) -> StoreResult<Option<StoredObject>>;
    /// Up to `limit` objects of `resource` (in `namespace`, or all), ordered by namespace
    /// and name, after `start_after` (a namespace and name).
    fn list(
        &self,
        resource: &str,
        namespace: Option<&str>,
        start_after: Option<(&str, &str)>,
        limit: Option<usize>,
    ) -> StoreResult<ListPage>;
    /// Applies one write atomically (see the trait's contract) and returns its event.
    fn apply(&self, write: Write) -> StoreResult<Event>;
    /// Logged events with a revision above `after`, oldest first, at most `limit`.
    /// Fails with `Expired` when `after` is below the compacted revision.
    fn events_after(&self, after: Revision, limit: usize) -> StoreResult<Vec<Event>>;
    /// Drops logged events at or below `revision`.
    fn compact(&self, revision: Revision) -> StoreResult<()>;
}

/// Checks `write`'s precondition and builds its event at `revision`: the part of `apply` every
/// backend shares, so a backend only reads the key's current state and stores the result.
///
/// `current` is the revision of the key's current object, `None` if there is none.
/// `current_body` returns that object's body; it is called only for a delete, whose event
/// carries the last body with its resourceVersion rewritten.
///
/// The backend then stores the event's object for `Added`/`Modified`, removes the key for
/// `Deleted`, and appends the event to its log.
pub(crate) fn prepare(
    write: Write,
    revision: Revision,
    current: Option<Revision>,
    current_body: impl FnOnce(&ObjectKey) -> StoreResult<Bytes>,
) -> StoreResult<Event> {
    let (event_type, key, body) = match write {
        Write::Create { key, body } => {
            if current.is_some() {
                return Err(StoreError::AlreadyExists(key));
            }
            (EventType::Added, key, encode(body, revision)?)
        }
        Write::Update {
            key,
            body,
            expected,
        } => {
            check_expected(&key, current, expected)?;
            (EventType::Modified, key, encode(body, revision)?)
        }
        Write::Delete { key, expected } => {
            check_expected(&key, current, expected)?;
            let last: Value = serde_json::from_slice(&current_body(&key)?)
                .map_err(|e| StoreError::Corrupt(format!("stored body of {key}: {e}")))?;
            let body = encode(last, revision)
                .map_err(|e| StoreError::Corrupt(format!("stored body of {key}: {e}")))?;
            (EventType::Deleted, key, body)
        }
    };
    Ok(Event {
        event_type,
        object: StoredObject {
            key,
            revision,
            body,
        },
    })
}

/// Update and delete: the key must exist, at `expected` if given.
fn check_expected(
    key: &ObjectKey,
    current: Option<Revision>,
    expected: Option<Revision>,
) -> StoreResult<()> {
    match (current, expected) {
        (None, _) => Err(StoreError::NotFound(key.clone())),
        (Some(current), Some(expected)) if current != expected => Err(StoreError::Conflict {
            key: key.clone(),
            expected,
            current,
        }),
        (Some(_), _) => Ok(()),
    }
}

/// Sets `metadata.resourceVersion` to `revision` and serializes the object.
fn encode(mut body: Value, revision: Revision) -> StoreResult<Bytes> {
    let Some(object) = body.as_object_mut() else {
        return Err(StoreError::InvalidObject(format!(
            "expected a JSON object, got {}",
            kind(&body)
        )));
    };
    let metadata = match object.get_mut("metadata") {
        Some(Value::Object(metadata)) => metadata,
        Some(other) => {
            return Err(StoreError::InvalidObject(format!(
                "metadata must be an object, got {}",
                kind(other)
            )));
        }
        None => return Err(StoreError::InvalidObject("metadata is missing".into())),
    };
    metadata.insert(
        "resourceVersion".into(),
        Value::String(revision.to_string()),
    );
    let bytes = serde_json::to_vec(&body).map_err(|e| StoreError::InvalidObject(e.to_string()))?;
    // `to_vec` grows by doubling; stored bodies must not keep that slack alive.
    Ok(Bytes::from(bytes.into_boxed_slice()))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
