//! SQLite-only behaviour: what survives closing and reopening the database.

use std::path::Path;

use ferry_store::{Event, EventType, Store, StoreError, WatchFilter};

use crate::support::*;

fn reopen(path: &Path) -> Store {
    Store::sqlite(path).expect("reopen")
}

#[test]
fn reopen_keeps_objects_revision_events_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.db");
    let a = key("configmaps", "default", "a");
    let b = key("secrets", "kube-system", "b");
    let c = key("namespaces", "", "c");
    let (objects, events) = {
        let store = Store::sqlite(&path).unwrap();
        create(&store, &a);
        create(&store, &b);
        create(&store, &c);
        store.update(&a, object_with(&a, "2"), Some(1)).unwrap();
        store.delete(&c, None).unwrap();
        store.compact(2).unwrap();
        let objects = [
            store.get(&a).unwrap(),
            store.get(&b).unwrap(),
            store.get(&c).unwrap(),
        ];
        let events = collect_events(&store, 2);
        assert_eq!(revisions(&events), [3, 4, 5]);
        (objects, events)
    };

    let store = reopen(&path);
    assert_eq!(store.revision().unwrap(), 5);
    assert_eq!(store.compacted_revision().unwrap(), 2);
    assert_eq!(
        [
            store.get(&a).unwrap(),
            store.get(&b).unwrap(),
            store.get(&c).unwrap()
        ],
        objects
    );
    assert_eq!(collect_events(&store, 2), events);
    assert!(matches!(
        store.watch(WatchFilter::default(), 1),
        Err(StoreError::Expired {
            requested: 1,
            compacted: 2
        })
    ));
    // Preconditions and the counter carry on.
    assert!(matches!(
        store.create(&b, object(&b)),
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(store.update(&a, object(&a), Some(4)).unwrap().revision, 6);
}

#[test]
fn reopen_after_compacting_everything_keeps_the_revision() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.db");
    let a = key("configmaps", "default", "a");
    {
        let store = Store::sqlite(&path).unwrap();
        create(&store, &a);
        store.update(&a, object(&a), None).unwrap();
        store.delete(&a, None).unwrap();
        store.compact(3).unwrap();
    }
    let store = reopen(&path);
    assert_eq!(store.revision().unwrap(), 3);
    assert_eq!(store.compacted_revision().unwrap(), 3);
    assert!(store.get(&a).unwrap().is_none());
    assert!(collect_events(&store, 3).is_empty());
    assert_eq!(create(&store, &a), 4);
    let list = store.list("configmaps", None, None, None).unwrap();
    assert_eq!(list.revision, 4);
}

#[test]
fn reopen_keeps_event_types_and_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.db");
    let a = key("configmaps", "default", "a");
    {
        let store = Store::sqlite(&path).unwrap();
        create(&store, &a);
        store.update(&a, object_with(&a, "2"), None).unwrap();
        store.delete(&a, None).unwrap();
    }
    let events = collect_events(&reopen(&path), 0);
    let types: Vec<_> = events.iter().map(|e| e.event_type).collect();
    assert_eq!(
        types,
        [EventType::Added, EventType::Modified, EventType::Deleted]
    );
    let deleted = &events[2].object;
    assert_eq!(resource_version(&deleted.body), "3");
    assert_eq!(deleted.json().unwrap()["data"]["k"], "2");
}

#[test]
fn newer_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.db");
    drop(Store::sqlite(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    match Store::sqlite(&path) {
        Err(StoreError::Corrupt(message)) => {
            assert!(message.contains("schema version 99"), "{message}");
            assert!(message.contains("newer"), "{message}");
        }
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
}

#[test]
fn foreign_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE things (id INTEGER PRIMARY KEY)")
            .unwrap();
    }
    assert!(matches!(Store::sqlite(&path), Err(StoreError::Corrupt(_))));
}

#[test]
fn missing_directory_is_a_database_error() {
    let dir = tempfile::tempdir().unwrap();
    let result = Store::sqlite(&dir.path().join("missing").join("ferry.db"));
    assert!(matches!(result, Err(StoreError::Database(_))));
}

/// Every logged event above `after`, read back through a watch.
fn collect_events(store: &Store, after: u64) -> Vec<Event> {
    let count = store.revision().unwrap().saturating_sub(after) as usize;
    let mut events = Vec::new();
    run(async {
        let mut watch = store.watch(WatchFilter::default(), after).unwrap();
        events = take(&mut watch, count).await;
        assert_idle(&mut watch).await;
    });
    events
}
