//! The SQLite backend, the product default: one database file in WAL mode.
//!
//! Schema (version [`SCHEMA_VERSION`], kept in `PRAGMA user_version`):
//! - `objects`: the current state, keyed (resource, namespace, name) so a list is one range
//!   scan in key order.
//! - `events`: the log, keyed by revision; every write appends one row in the same transaction
//!   as its object change.
//! - `meta`: `compacted`, the revision the log was compacted up to.
//!
//! The current revision is not stored separately: every write appends an event and compaction
//! only removes events at or below `compacted`, so it is `max(compacted, max(events.revision))`.
//!
//! Writes go through one connection behind a mutex, one `BEGIN IMMEDIATE` transaction each.
//! With `synchronous=NORMAL` a commit reaches the OS before `apply` returns, so acknowledged
//! writes survive the process being killed (not necessarily a power loss before the next
//! checkpoint). Reads use a small pool of separate connections, which WAL lets run alongside
//! the writer; a list or log read is one read transaction, so it sees one consistent snapshot.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::atomic::{self, AtomicU64};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use crate::backend::{Backend, ListPage, Write, prepare};
use crate::{Event, EventType, ObjectKey, Revision, StoreError, StoreResult, StoredObject};

/// The schema version this code reads and writes.
const SCHEMA_VERSION: i32 = 1;

const SCHEMA: &str = "
CREATE TABLE objects (
    resource  TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    revision  INTEGER NOT NULL,
    body      BLOB NOT NULL,
    PRIMARY KEY (resource, namespace, name)
) WITHOUT ROWID;
CREATE TABLE events (
    revision  INTEGER PRIMARY KEY,
    type      INTEGER NOT NULL,
    resource  TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    body      BLOB NOT NULL
);
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('compacted', 0);
";

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Page cache per connection, in KiB.
const WRITER_CACHE_KIB: i64 = 8 * 1024;
const READER_CACHE_KIB: i64 = 4 * 1024;
/// Bytes the WAL file is truncated to after a checkpoint.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;
/// Read connections kept open between reads; more are opened under load and then closed.
const MAX_IDLE_READERS: usize = 4;

const SELECT_REVISION: &str =
    "SELECT revision FROM objects WHERE resource = ?1 AND namespace = ?2 AND name = ?3";
const SELECT_OBJECT: &str =
    "SELECT revision, body FROM objects WHERE resource = ?1 AND namespace = ?2 AND name = ?3";
const SELECT_BODY: &str =
    "SELECT body FROM objects WHERE resource = ?1 AND namespace = ?2 AND name = ?3";
const UPSERT_OBJECT: &str = "
INSERT INTO objects (resource, namespace, name, revision, body) VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (resource, namespace, name) DO UPDATE SET revision = ?4, body = ?5";
const DELETE_OBJECT: &str =
    "DELETE FROM objects WHERE resource = ?1 AND namespace = ?2 AND name = ?3";
const INSERT_EVENT: &str = "
INSERT INTO events (revision, type, resource, namespace, name, body)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const SELECT_EVENTS: &str = "
SELECT revision, type, resource, namespace, name, body FROM events
WHERE revision > ?1 ORDER BY revision LIMIT ?2";
const SELECT_COMPACTED: &str = "SELECT value FROM meta WHERE key = 'compacted'";
const SELECT_LAST_EVENT: &str = "SELECT coalesce(max(revision), 0) FROM events";

// Lists: keyset pagination on the primary key; `LIMIT -1` is no limit.
const LIST: &str = "
SELECT namespace, name, revision, body FROM objects
WHERE resource = ?1 ORDER BY namespace, name LIMIT ?2";
const LIST_AFTER: &str = "
SELECT namespace, name, revision, body FROM objects
WHERE resource = ?1 AND (namespace, name) > (?2, ?3) ORDER BY namespace, name LIMIT ?4";
const LIST_NAMESPACE: &str = "
SELECT namespace, name, revision, body FROM objects
WHERE resource = ?1 AND namespace = ?2 ORDER BY namespace, name LIMIT ?3";
const LIST_NAMESPACE_AFTER: &str = "
SELECT namespace, name, revision, body FROM objects
WHERE resource = ?1 AND namespace = ?2 AND name > ?3 ORDER BY namespace, name LIMIT ?4";

/// A store in one SQLite database file.
pub struct SqliteBackend {
    path: PathBuf,
    writer: Mutex<Writer>,
    /// Idle read connections.
    readers: Mutex<Vec<Connection>>,
    /// Copies of the committed state, for reads that need no snapshot.
    revision: AtomicU64,
    compacted: AtomicU64,
}

struct Writer {
    conn: Connection,
    /// The revision of the last committed write.
    revision: Revision,
}

impl SqliteBackend {
    /// Opens the database at `path`, creating it (not its directory) if missing.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut conn = Connection::open(path)?;
        configure(&conn, WRITER_CACHE_KIB)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Database(format!(
                "{}: cannot enable WAL journaling (got journal_mode={mode})",
                path.display()
            )));
        }
        // Keep the WAL file from staying large after a burst of writes.
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        init_schema(&mut conn, path)?;
        let (revision, compacted) = {
            let tx = conn.transaction()?;
            let compacted = read_compacted(&tx)?;
            let last_event = to_revision(tx.query_row(SELECT_LAST_EVENT, [], |row| row.get(0))?)?;
            tx.commit()?;
            (last_event.max(compacted), compacted)
        };
        tracing::debug!(path = %path.display(), revision, compacted, "opened sqlite store");
        Ok(Self {
            path: path.to_owned(),
            writer: Mutex::new(Writer { conn, revision }),
            readers: Mutex::new(Vec::new()),
            revision: AtomicU64::new(revision),
            compacted: AtomicU64::new(compacted),
        })
    }

    /// Runs `f` on an idle read connection, opening one if none is idle.
    fn read<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        let idle = lock(&self.readers).pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = Connection::open(&self.path)?;
                configure(&conn, READER_CACHE_KIB)?;
                conn.pragma_update(None, "query_only", true)?;
                conn
            }
        };
        let result = f(&mut conn);
        let mut idle = lock(&self.readers);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

impl Backend for SqliteBackend {
    fn revision(&self) -> StoreResult<Revision> {
        Ok(self.revision.load(atomic::Ordering::Acquire))
    }

    fn compacted_revision(&self) -> StoreResult<Revision> {
        Ok(self.compacted.load(atomic::Ordering::Acquire))
    }

    fn get(&self, key: &ObjectKey) -> StoreResult<Option<StoredObject>> {
        self.read(|conn| {
            let found = conn
                .prepare_cached(SELECT_OBJECT)?
                .query_row(params![key.resource, key.namespace, key.name], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
                })
                .optional()?;
            found
                .map(|(revision, body)| {
                    Ok(StoredObject {
                        key: key.clone(),
                        revision: to_revision(revision)?,
                        body: Bytes::from(body),
                    })
                })
                .transpose()
        })
    }

    fn list(
        &self,
        resource: &str,
        namespace: Option<&str>,
        start_after: Option<(&str, &str)>,
        limit: Option<usize>,
    ) -> StoreResult<ListPage> {
        // One row beyond the limit tells whether more follow.
        let sql_limit: i64 = limit
            .and_then(|n| i64::try_from(n).ok())
            .and_then(|n| n.checked_add(1))
            .unwrap_or(-1);
        let query: Option<(&str, Vec<&dyn ToSql>)> = match (&namespace, &start_after) {
            (None, None) => Some((LIST, vec![&resource, &sql_limit])),
            (None, Some((ns, name))) => Some((LIST_AFTER, vec![&resource, ns, name, &sql_limit])),
            (Some(ns), None) => Some((LIST_NAMESPACE, vec![&resource, ns, &sql_limit])),
            // Within one namespace, a continuation point in an earlier namespace means "from
            // the start", one in a later namespace means "nothing left".
            (Some(ns), Some((after_ns, name))) => match after_ns.cmp(ns) {
                Ordering::Less => Some((LIST_NAMESPACE, vec![&resource, ns, &sql_limit])),
                Ordering::Equal => {
                    Some((LIST_NAMESPACE_AFTER, vec![&resource, ns, name, &sql_limit]))
                }
                Ordering::Greater => None,
            },
        };
        self.read(|conn| {
            let tx = conn.transaction()?;
            let revision = snapshot_revision(&tx)?;
            let mut items = Vec::with_capacity(limit.unwrap_or(0).min(4096));
            let mut more = false;
            if let Some((sql, params)) = &query {
                let mut stmt = tx.prepare_cached(sql)?;
                let mut rows = stmt.query(params.as_slice())?;
                while let Some(row) = rows.next()? {
                    if limit.is_some_and(|limit| items.len() >= limit) {
                        more = true;
                        break;
                    }
                    items.push(StoredObject {
                        key: ObjectKey {
                            resource: resource.to_owned(),
                            namespace: row.get(0)?,
                            name: row.get(1)?,
                        },
                        revision: to_revision(row.get(2)?)?,
                        body: Bytes::from(row.get::<_, Vec<u8>>(3)?),
                    });
                }
            }
            tx.commit()?;
            Ok(ListPage {
                items,
                revision,
                more,
            })
        })
    }

    fn apply(&self, write: Write) -> StoreResult<Event> {
        let mut writer = lock(&self.writer);
        let revision = writer.revision + 1;
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = {
            let key = write.key();
            tx.prepare_cached(SELECT_REVISION)?
                .query_row(params![key.resource, key.namespace, key.name], |row| {
                    row.get::<_, i64>(0)
                })
                .optional()?
                .map(to_revision)
                .transpose()?
        };
        let event = prepare(write, revision, current, |key| {
            let body: Vec<u8> = tx
                .prepare_cached(SELECT_BODY)?
                .query_row(params![key.resource, key.namespace, key.name], |row| {
                    row.get(0)
                })?;
            Ok(Bytes::from(body))
        })?;
        let StoredObject { key, body, .. } = &event.object;
        let db_revision = to_db(revision)?;
        match event.event_type {
            EventType::Added | EventType::Modified => {
                tx.prepare_cached(UPSERT_OBJECT)?.execute(params![
                    key.resource,
                    key.namespace,
                    key.name,
                    db_revision,
                    &body[..]
                ])?
            }
            EventType::Deleted => tx.prepare_cached(DELETE_OBJECT)?.execute(params![
                key.resource,
                key.namespace,
                key.name
            ])?,
        };
        tx.prepare_cached(INSERT_EVENT)?.execute(params![
            db_revision,
            type_code(event.event_type),
            key.resource,
            key.namespace,
            key.name,
            &body[..]
        ])?;
        tx.commit()?;
        writer.revision = revision;
        self.revision.store(revision, atomic::Ordering::Release);
        Ok(event)
    }

    fn events_after(&self, after: Revision, limit: usize) -> StoreResult<Vec<Event>> {
        let sql_limit = i64::try_from(limit).unwrap_or(-1);
        let db_after = i64::try_from(after).unwrap_or(i64::MAX);
        self.read(|conn| {
            let tx = conn.transaction()?;
            let compacted = read_compacted(&tx)?;
            if after < compacted {
                return Err(StoreError::Expired {
                    requested: after,
                    compacted,
                });
            }
            let mut events = Vec::new();
            {
                let mut stmt = tx.prepare_cached(SELECT_EVENTS)?;
                let mut rows = stmt.query(params![db_after, sql_limit])?;
                while let Some(row) = rows.next()? {
                    events.push(read_event(row)?);
                }
            }
            tx.commit()?;
            Ok(events)
        })
    }

    fn compact(&self, revision: Revision) -> StoreResult<()> {
        let mut writer = lock(&self.writer);
        let revision = revision.min(writer.revision);
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if revision <= read_compacted(&tx)? {
            return Ok(());
        }
        let db_revision = to_db(revision)?;
        tx.prepare_cached("DELETE FROM events WHERE revision <= ?1")?
            .execute([db_revision])?;
        tx.prepare_cached("UPDATE meta SET value = ?1 WHERE key = 'compacted'")?
            .execute([db_revision])?;
        tx.commit()?;
        self.compacted.store(revision, atomic::Ordering::Release);
        Ok(())
    }
}

/// Per-connection settings. `journal_mode=WAL` is persistent and set once by the writer.
fn configure(conn: &Connection, cache_kib: i64) -> StoreResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    Ok(())
}

/// Creates the schema in a new database, or checks the version of an existing one.
fn init_schema(conn: &mut Connection, path: &Path) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i32 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    match version {
        0 => {
            let tables: i64 =
                tx.query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))?;
            if tables != 0 {
                return Err(StoreError::Corrupt(format!(
                    "{}: has tables but no Ferry schema version; not a Ferry store",
                    path.display()
                )));
            }
            tx.execute_batch(SCHEMA)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        SCHEMA_VERSION => {}
        newer if newer > SCHEMA_VERSION => {
            return Err(StoreError::Corrupt(format!(
                "{}: schema version {newer} is newer than the version {SCHEMA_VERSION} this \
                 Ferry supports; upgrade Ferry to open it",
                path.display()
            )));
        }
        other => {
            return Err(StoreError::Corrupt(format!(
                "{}: unknown schema version {other}",
                path.display()
            )));
        }
    }
    tx.commit()?;
    Ok(())
}

fn read_compacted(tx: &Transaction<'_>) -> StoreResult<Revision> {
    to_revision(
        tx.prepare_cached(SELECT_COMPACTED)?
            .query_row([], |row| row.get(0))?,
    )
}

/// The revision a read transaction sees (see the module docs).
fn snapshot_revision(tx: &Transaction<'_>) -> StoreResult<Revision> {
    let last_event = to_revision(
        tx.prepare_cached(SELECT_LAST_EVENT)?
            .query_row([], |row| row.get(0))?,
    )?;
    Ok(last_event.max(read_compacted(tx)?))
}

fn read_event(row: &Row<'_>) -> StoreResult<Event> {
    let revision = to_revision(row.get(0)?)?;
    let event_type = match row.get::<_, i64>(1)? {
        1 => EventType::Added,
        2 => EventType::Modified,
        3 => EventType::Deleted,
        other => {
            return Err(StoreError::Corrupt(format!(
                "event {revision} has unknown type {other}"
            )));
        }
    };
    let key = ObjectKey {
        resource: row.get(2)?,
        namespace: row.get(3)?,
        name: row.get(4)?,
    };
    let body = Bytes::from(row.get::<_, Vec<u8>>(5)?);
    Ok(Event {
        event_type,
        object: StoredObject {
            key,
            revision,
            body,
        },
    })
}

fn type_code(event_type: EventType) -> i64 {
    match event_type {
        EventType::Added => 1,
        EventType::Modified => 2,
        EventType::Deleted => 3,
    }
}

fn to_revision(value: i64) -> StoreResult<Revision> {
    Revision::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative revision {value}")))
}

fn to_db(revision: Revision) -> StoreResult<i64> {
    i64::try_from(revision)
        .map_err(|_| StoreError::Database(format!("revision {revision} out of range")))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Connections roll back an unfinished transaction when dropped mid-panic, and the
    // writer's revision is updated only after a commit, so a poisoned lock is consistent.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
