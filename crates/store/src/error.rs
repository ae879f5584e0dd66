//! Store errors, each saying whether the caller should retry.

use crate::{ObjectKey, Revision};

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A create found the key taken.
    #[error("{} {}/{} already exists", .0.resource, .0.namespace, .0.name)]
    AlreadyExists(ObjectKey),
    /// An update or delete found no object.
    #[error("{} {}/{} not found", .0.resource, .0.namespace, .0.name)]
    NotFound(ObjectKey),
    /// An update or delete expected another revision: re-read and retry.
    #[error("{} {}/{} is at revision {current}, not {expected}", .key.resource, .key.namespace, .key.name)]
    Conflict {
        key: ObjectKey,
        expected: Revision,
        current: Revision,
    },
    /// A watch started below the compacted revision: list again and watch from there.
    #[error("revision {requested} has been compacted; the oldest available is {compacted}")]
    Expired {
        requested: Revision,
        compacted: Revision,
    },
    /// The body to store is not a JSON object with a `metadata` object.
    #[error("invalid object: {0}")]
    InvalidObject(String),
    /// Stored data could not be decoded.
    #[error("corrupt store data: {0}")]
    Corrupt(String),
    /// The database failed (disk full, I/O error, ...).
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Database(_))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}
