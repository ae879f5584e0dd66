//! Store errors, each with its [`Disposition`].

use ferry_api::{Classify, Disposition};

use crate::{ObjectKey, Revision};

/// The result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Why a store call failed.
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
        /// The object written.
        key: ObjectKey,
        /// The revision the caller read.
        expected: Revision,
        /// The object's revision now.
        current: Revision,
    },
    /// A watch started below the compacted revision: list again and watch from there.
    #[error("revision {requested} has been compacted; the oldest available is {compacted}")]
    Expired {
        /// The revision asked for.
        requested: Revision,
        /// The revision events are compacted up to.
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

impl Classify for StoreError {
    /// A lost race (a conflict, a compacted watch) is retried after re-reading; a missing
    /// object may be created later; a taken key, an invalid body and corrupt data stay so.
    fn disposition(&self) -> Disposition {
        match self {
            StoreError::Conflict { .. } | StoreError::Expired { .. } | StoreError::Database(_) => {
                Disposition::Retry
            }
            StoreError::NotFound(_) => Disposition::Wait,
            StoreError::AlreadyExists(_)
            | StoreError::InvalidObject(_)
            | StoreError::Corrupt(_) => Disposition::GiveUp,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_has_its_disposition() {
        let key = || ObjectKey {
            resource: "configmaps".into(),
            namespace: "default".into(),
            name: "a".into(),
        };
        let table = [
            (StoreError::AlreadyExists(key()), Disposition::GiveUp),
            (StoreError::NotFound(key()), Disposition::Wait),
            (
                StoreError::Conflict {
                    key: key(),
                    expected: 1,
                    current: 2,
                },
                Disposition::Retry,
            ),
            (
                StoreError::Expired {
                    requested: 1,
                    compacted: 5,
                },
                Disposition::Retry,
            ),
            (
                StoreError::InvalidObject("no metadata".into()),
                Disposition::GiveUp,
            ),
            (StoreError::Corrupt("bad json".into()), Disposition::GiveUp),
            (StoreError::Database("disk full".into()), Disposition::Retry),
        ];
        for (error, expected) in table {
            assert_eq!(error.disposition(), expected, "{error}");
        }
    }
}
