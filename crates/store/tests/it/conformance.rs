//! The backend contract, written once and instantiated for every backend by `conformance!`.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread;

use ferry_store::{EventType, Store, StoreError, WatchFilter};
use serde_json::json;

use crate::support::*;

/// Instantiates each listed test function (`fn(Store)`, given a fresh empty store) once per backend, as
/// `conformance::<backend>::<test>`.
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(#[test]
            fn $test() {
                let fixture = crate::support::Fixture::new(crate::support::Kind::Memory);
                super::$test(fixture.store);
            })*
        }
        mod sqlite {
            $(#[test]
            fn $test() {
                let fixture = crate::support::Fixture::new(crate::support::Kind::Sqlite);
                super::$test(fixture.store);
            })*
        }
    };
}

conformance!(
    create_get_update_delete,
    create_existing_fails,
    missing_object_is_not_found,
    stale_revision_conflicts,
    revisions_increase_across_resources,
    resource_version_in_body_is_revision,
    invalid_objects_are_rejected,
    list_orders_across_namespaces,
    list_filters_by_namespace,
    list_paginates,
    watch_from_zero_replays_everything,
    watch_from_middle_revision,
    watch_filters_by_resource_and_namespace,
    live_events_arrive_after_watch_started,
    compaction_expires_old_watches,
    compaction_keeps_objects,
    concurrent_writers_produce_one_ordered_stream,
    lagging_watch_recovers_from_log,
    watch_lagging_behind_compaction_expires,
    watch_ends_when_store_dropped,
);

fn create_get_update_delete(store: Store) {
    let k = key("configmaps", "default", "a");
    assert_eq!(store.revision().unwrap(), 0);
    assert_eq!(store.get(&k).unwrap(), None);

    let created = store.create(&k, object_with(&k, "one")).unwrap();
    assert_eq!(created.key, k);
    assert_eq!(created.revision, 1);
    assert_eq!(store.get(&k).unwrap().as_ref(), Some(&created));
    assert_eq!(created.json().unwrap()["data"]["k"], "one");

    let updated = store.update(&k, object_with(&k, "two"), Some(1)).unwrap();
    assert_eq!(updated.revision, 2);
    assert_eq!(store.get(&k).unwrap().as_ref(), Some(&updated));
    assert_eq!(updated.json().unwrap()["data"]["k"], "two");

    // An update without a precondition overwrites whatever is there.
    let forced = store.update(&k, object_with(&k, "three"), None).unwrap();
    assert_eq!(forced.revision, 3);

    // A delete returns the last state at the delete's revision.
    let deleted = store.delete(&k, Some(3)).unwrap();
    assert_eq!(deleted.revision, 4);
    assert_eq!(deleted.json().unwrap()["data"]["k"], "three");
    assert_eq!(resource_version(&deleted.body), "4");
    assert_eq!(store.get(&k).unwrap(), None);
    assert_eq!(store.revision().unwrap(), 4);

    // The name is free again.
    assert_eq!(store.create(&k, object(&k)).unwrap().revision, 5);
}

fn create_existing_fails(store: Store) {
    let k = key("configmaps", "default", "a");
    create(&store, &k);
    match store.create(&k, object_with(&k, "other")) {
        Err(StoreError::AlreadyExists(existing)) => assert_eq!(existing, k),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(
        store.get(&k).unwrap().unwrap().json().unwrap()["data"]["k"],
        "v"
    );
    // Failed writes take no revision.
    assert_eq!(store.revision().unwrap(), 1);
}

fn missing_object_is_not_found(store: Store) {
    let k = key("configmaps", "default", "missing");
    for result in [
        store.update(&k, object(&k), None),
        store.update(&k, object(&k), Some(1)),
        store.delete(&k, None),
        store.delete(&k, Some(1)),
    ] {
        match result {
            Err(StoreError::NotFound(missing)) => assert_eq!(missing, k),
            other => panic!("expected NotFound, got {other:?}"),
        }
    }
    // Same name, other resource or namespace: still not found.
    create(&store, &key("secrets", "default", "missing"));
    create(&store, &key("configmaps", "other", "missing"));
    assert!(matches!(
        store.delete(&k, None),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.revision().unwrap(), 2);
}

fn stale_revision_conflicts(store: Store) {
    let k = key("configmaps", "default", "a");
    let first = create(&store, &k);
    let second = store
        .update(&k, object_with(&k, "two"), Some(first))
        .unwrap()
        .revision;

    match store.update(&k, object_with(&k, "stale"), Some(first)) {
        Err(StoreError::Conflict {
            key: conflict,
            expected,
            current,
        }) => {
            assert_eq!((conflict, expected, current), (k.clone(), first, second));
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    match store.delete(&k, Some(first)) {
        Err(StoreError::Conflict {
            expected, current, ..
        }) => {
            assert_eq!((expected, current), (first, second));
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    // Nothing changed, no revision was used.
    assert_eq!(store.get(&k).unwrap().unwrap().revision, second);
    assert_eq!(store.revision().unwrap(), second);
    // With the current revision both succeed.
    let third = store
        .update(&k, object_with(&k, "three"), Some(second))
        .unwrap()
        .revision;
    store.delete(&k, Some(third)).unwrap();
}

fn revisions_increase_across_resources(store: Store) {
    let mut last = store.revision().unwrap();
    for i in 0..30 {
        let k = match i % 3 {
            0 => key("configmaps", "a", &format!("o{i}")),
            1 => key("secrets", "b", &format!("o{i}")),
            _ => key("namespaces", "", &format!("o{i}")),
        };
        let revision = create(&store, &k);
        assert_eq!(revision, last + 1, "revisions are one global counter");
        // A failed write in between does not consume one.
        assert!(store.create(&k, object(&k)).is_err());
        let updated = store
            .update(&k, object_with(&k, "x"), Some(revision))
            .unwrap()
            .revision;
        assert_eq!(updated, revision + 1);
        last = updated;
        assert_eq!(store.revision().unwrap(), last);
    }
}

fn resource_version_in_body_is_revision(store: Store) {
    let k = key("configmaps", "default", "a");
    // A client-supplied resourceVersion is replaced.
    let mut body = object(&k);
    body["metadata"]["resourceVersion"] = json!("999");
    let created = store.create(&k, body).unwrap();
    assert_eq!(
        resource_version(&created.body),
        created.revision.to_string()
    );
    let updated = store.update(&k, object(&k), None).unwrap();
    assert_eq!(
        resource_version(&updated.body),
        updated.revision.to_string()
    );
    let got = store.get(&k).unwrap().unwrap();
    assert_eq!(resource_version(&got.body), got.revision.to_string());
    let listed = store.list("configmaps", None, None, None).unwrap();
    assert_eq!(
        resource_version(&listed.items[0].body),
        updated.revision.to_string()
    );
    // The rest of the body is kept as given.
    let json = got.json().unwrap();
    assert_eq!(json["metadata"]["name"], "a");
    assert_eq!(json["kind"], "ConfigMap");
}

fn invalid_objects_are_rejected(store: Store) {
    let k = key("configmaps", "default", "a");
    for body in [
        json!(null),
        json!("text"),
        json!([1, 2]),
        json!({"kind": "ConfigMap"}),
        json!({"metadata": "name"}),
        json!({"metadata": null}),
    ] {
        match store.create(&k, body.clone()) {
            Err(StoreError::InvalidObject(_)) => {}
            other => panic!("create {body}: expected InvalidObject, got {other:?}"),
        }
    }
    let revision = create(&store, &k);
    match store.update(&k, json!({"spec": {}}), Some(revision)) {
        Err(StoreError::InvalidObject(_)) => {}
        other => panic!("expected InvalidObject, got {other:?}"),
    }
    assert_eq!(store.revision().unwrap(), revision);
    assert_eq!(store.get(&k).unwrap().unwrap().revision, revision);
}

fn list_orders_across_namespaces(store: Store) {
    // Inserted out of order, mixed with other resources that share prefixes.
    let keys = [
        ("configmaps", "kube-system", "b"),
        ("configmaps", "default", "z"),
        ("configmapsx", "default", "a"),
        ("configmaps", "", "cluster"),
        ("configmaps", "default", "a"),
        ("config", "default", "a"),
        ("configmaps", "kube-system", "a"),
        ("secrets", "default", "a"),
        ("configmaps", "default", "m"),
    ];
    for (resource, namespace, name) in keys {
        create(&store, &key(resource, namespace, name));
    }
    let page = store.list("configmaps", None, None, None).unwrap();
    let listed: Vec<(&str, &str)> = page
        .items
        .iter()
        .map(|o| (o.key.namespace.as_str(), o.key.name.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            ("", "cluster"),
            ("default", "a"),
            ("default", "m"),
            ("default", "z"),
            ("kube-system", "a"),
            ("kube-system", "b"),
        ]
    );
    assert!(page.items.iter().all(|o| o.key.resource == "configmaps"));
    assert!(!page.more);
    assert_eq!(page.revision, store.revision().unwrap());
    // Each item is the stored object.
    for item in &page.items {
        assert_eq!(store.get(&item.key).unwrap().as_ref(), Some(item));
    }
    let empty = store.list("nothing", None, None, None).unwrap();
    assert!(empty.items.is_empty() && !empty.more);
    assert_eq!(empty.revision, page.revision);
}

fn list_filters_by_namespace(store: Store) {
    for (namespace, name) in [("b", "2"), ("a", "1"), ("c", "1"), ("b", "1"), ("", "x")] {
        create(&store, &key("pods", namespace, name));
    }
    create(&store, &key("services", "b", "0"));
    let names = |namespace: &str| -> Vec<String> {
        let page = store.list("pods", Some(namespace), None, None).unwrap();
        assert!(page.items.iter().all(|o| o.key.namespace == namespace));
        page.items.into_iter().map(|o| o.key.name).collect()
    };
    assert_eq!(names("b"), ["1", "2"]);
    assert_eq!(names("a"), ["1"]);
    assert_eq!(names(""), ["x"]);
    assert!(names("d").is_empty());
}

fn list_paginates(store: Store) {
    let mut all = Vec::new();
    for namespace in ["a", "b", "c"] {
        for i in 0..7 {
            let k = key("pods", namespace, &format!("p{i:02}"));
            create(&store, &k);
            all.push((namespace.to_owned(), k.name));
        }
    }
    create(&store, &key("other", "a", "zz"));

    for limit in [1, 2, 5, 7, 20, 21, 100] {
        // All namespaces.
        let (pages, seen) = paginate(&store, None, limit);
        assert_eq!(seen, all, "limit {limit}");
        assert_eq!(pages, all.len().div_ceil(limit).max(1), "limit {limit}");
        // One namespace.
        let (_, seen) = paginate(&store, Some("b"), limit);
        let expected: Vec<_> = all.iter().filter(|(ns, _)| ns == "b").cloned().collect();
        assert_eq!(seen, expected, "limit {limit}");
    }

    // A continuation point from another namespace: before "b" starts at its beginning,
    // after it there is nothing left.
    let page = store
        .list("pods", Some("b"), Some(("a", "p03")), Some(3))
        .unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|o| o.key.name.as_str())
            .collect::<Vec<_>>(),
        ["p00", "p01", "p02"]
    );
    assert!(page.more);
    let page = store
        .list("pods", Some("b"), Some(("c", "")), None)
        .unwrap();
    assert!(page.items.is_empty() && !page.more);
    // A continuation point that no longer exists still works.
    let page = store
        .list("pods", None, Some(("b", "p03x")), Some(2))
        .unwrap();
    let names: Vec<_> = page
        .items
        .iter()
        .map(|o| (&*o.key.namespace, &*o.key.name))
        .collect();
    assert_eq!(names, [("b", "p04"), ("b", "p05")]);
    // Exactly the remaining count: no more.
    let page = store
        .list("pods", None, Some(("c", "p04")), Some(2))
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert!(!page.more);
    // A limit of zero returns nothing and says whether anything follows.
    let page = store.list("pods", None, None, Some(0)).unwrap();
    assert!(page.items.is_empty() && page.more);
}

/// Lists `pods` page by page; returns the page count and the (namespace, name) pairs seen.
fn paginate(
    store: &Store,
    namespace: Option<&str>,
    limit: usize,
) -> (usize, Vec<(String, String)>) {
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut pages = 0;
    loop {
        let after = seen.last().map(|(ns, name)| (ns.as_str(), name.as_str()));
        let page = store.list("pods", namespace, after, Some(limit)).unwrap();
        pages += 1;
        assert!(page.items.len() <= limit);
        assert!(
            !page.more || page.items.len() == limit,
            "a short page has no successor"
        );
        seen.extend(
            page.items
                .into_iter()
                .map(|o| (o.key.namespace, o.key.name)),
        );
        if !page.more {
            return (pages, seen);
        }
    }
}

fn watch_from_zero_replays_everything(store: Store) {
    let a = key("configmaps", "default", "a");
    let b = key("secrets", "kube-system", "b");
    let written = [
        store.create(&a, object(&a)).unwrap(),
        store.create(&b, object(&b)).unwrap(),
        store.update(&a, object_with(&a, "2"), None).unwrap(),
        store.delete(&b, None).unwrap(),
    ];
    run(async {
        let mut watch = store.watch(WatchFilter::default(), 0).unwrap();
        let events = take(&mut watch, 4).await;
        let types: Vec<_> = events.iter().map(|e| e.event_type).collect();
        assert_eq!(
            types,
            [
                EventType::Added,
                EventType::Added,
                EventType::Modified,
                EventType::Deleted
            ]
        );
        for (event, object) in events.iter().zip(&written) {
            assert_eq!(&event.object, object);
        }
        assert_eq!(watch.last_revision(), 4);
        assert_idle(&mut watch).await;
    });
}

fn watch_from_middle_revision(store: Store) {
    for i in 0..10 {
        create(&store, &key("configmaps", "default", &format!("c{i}")));
    }
    run(async {
        let mut watch = store.watch(WatchFilter::default(), 6).unwrap();
        assert_eq!(watch.last_revision(), 6);
        let events = take(&mut watch, 4).await;
        assert_eq!(revisions(&events), [7, 8, 9, 10]);
        assert_eq!(events[0].object.key.name, "c6");
        assert_idle(&mut watch).await;
        // From the current revision: only what comes next.
        let mut watch = store.watch(WatchFilter::default(), 10).unwrap();
        assert_idle(&mut watch).await;
        create(&store, &key("configmaps", "default", "new"));
        assert_eq!(next(&mut watch).await.revision(), 11);
    });
}

fn watch_filters_by_resource_and_namespace(store: Store) {
    let keys = [
        key("pods", "a", "1"),
        key("pods", "b", "1"),
        key("services", "a", "1"),
        key("pods", "a", "2"),
        key("pods", "", "3"),
    ];
    let filters = [
        (Some("pods"), Some("a"), vec![1, 4, 6, 9]),
        (Some("pods"), None, vec![1, 2, 4, 5, 6, 7, 9, 10]),
        (None, Some("a"), vec![1, 3, 4, 6, 8, 9]),
        (Some("services"), Some("b"), vec![]),
    ];
    run(async {
        // Started before the writes (live) and after them (replayed): same result.
        let mut live = Vec::new();
        for (resource, namespace, _) in &filters {
            let filter = WatchFilter {
                resource: resource.map(str::to_owned),
                namespace: namespace.map(str::to_owned),
            };
            live.push(store.watch(filter, 0).unwrap());
        }
        for k in &keys {
            create(&store, k);
        }
        for k in &keys {
            store.update(k, object_with(k, "2"), None).unwrap();
        }
        for ((resource, namespace, expected), mut watch) in filters.iter().zip(live) {
            let filter = WatchFilter {
                resource: resource.map(str::to_owned),
                namespace: namespace.map(str::to_owned),
            };
            let mut replayed = store.watch(filter.clone(), 0).unwrap();
            for watch in [&mut watch, &mut replayed] {
                let events = take(watch, expected.len()).await;
                assert_eq!(&revisions(&events), expected, "{filter:?}");
                assert!(events.iter().all(|e| filter.matches(&e.object.key)));
                assert_idle(watch).await;
            }
        }
    });
}

fn live_events_arrive_after_watch_started(store: Store) {
    create(&store, &key("configmaps", "default", "before"));
    run(async {
        let mut watch = store.watch(WatchFilter::default(), 1).unwrap();
        assert_idle(&mut watch).await;
        // A writer on another thread, while the watch waits.
        let writer = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                let k = key("configmaps", "default", "live");
                let created = store.create(&k, object(&k)).unwrap();
                let updated = store.update(&k, object_with(&k, "2"), None).unwrap();
                let deleted = store.delete(&k, None).unwrap();
                [created, updated, deleted]
            })
        };
        let events = take(&mut watch, 3).await;
        let written = writer.await.unwrap();
        let types: Vec<_> = events.iter().map(|e| e.event_type).collect();
        assert_eq!(
            types,
            [EventType::Added, EventType::Modified, EventType::Deleted]
        );
        for (event, object) in events.iter().zip(&written) {
            assert_eq!(&event.object, object);
        }
        assert_eq!(watch.last_revision(), 4);
    });
}

fn compaction_expires_old_watches(store: Store) {
    for i in 0..10 {
        create(&store, &key("configmaps", "default", &format!("c{i}")));
    }
    run(async {
        // Started before the compaction, not yet read: its replay now falls short.
        let mut unread = store.watch(WatchFilter::default(), 2).unwrap();
        // Started before the compaction and already caught up: unaffected.
        let mut caught_up = store.watch(WatchFilter::default(), 0).unwrap();
        assert_eq!(
            revisions(&take(&mut caught_up, 10).await),
            (1..=10).collect::<Vec<_>>()
        );

        store.compact(5).unwrap();
        assert_eq!(store.compacted_revision().unwrap(), 5);

        match unread.next().await {
            Some(Err(StoreError::Expired {
                requested,
                compacted,
            })) => {
                assert_eq!((requested, compacted), (2, 5));
            }
            other => panic!("expected Expired, got {other:?}"),
        }
        assert!(unread.next().await.is_none(), "an expired watch ends");

        // Started after the compaction, from below it: refused.
        match store.watch(WatchFilter::default(), 4) {
            Err(StoreError::Expired {
                requested,
                compacted,
            }) => {
                assert_eq!((requested, compacted), (4, 5));
            }
            other => panic!("expected Expired, got {other:?}"),
        }
        // From the compacted revision itself, or later: fine.
        let mut at = store.watch(WatchFilter::default(), 5).unwrap();
        assert_eq!(revisions(&take(&mut at, 5).await), [6, 7, 8, 9, 10]);
        let mut later = store.watch(WatchFilter::default(), 8).unwrap();
        assert_eq!(revisions(&take(&mut later, 2).await), [9, 10]);

        create(&store, &key("configmaps", "default", "after"));
        for watch in [&mut caught_up, &mut at, &mut later] {
            assert_eq!(next(watch).await.revision(), 11);
        }
    });
}

fn compaction_keeps_objects(store: Store) {
    let a = key("configmaps", "default", "a");
    let b = key("configmaps", "default", "b");
    create(&store, &a);
    create(&store, &b);
    store.update(&a, object_with(&a, "2"), None).unwrap();
    store.delete(&b, None).unwrap();
    let before = store.list("configmaps", None, None, None).unwrap();

    // Beyond the current revision: clamped to it.
    store.compact(100).unwrap();
    assert_eq!(store.compacted_revision().unwrap(), 4);
    assert_eq!(store.revision().unwrap(), 4);
    // Backwards: no effect.
    store.compact(2).unwrap();
    assert_eq!(store.compacted_revision().unwrap(), 4);

    assert_eq!(store.list("configmaps", None, None, None).unwrap(), before);
    assert_eq!(store.get(&a).unwrap().unwrap().revision, 3);
    assert_eq!(store.get(&b).unwrap(), None);

    // Writes continue from the same counter, and the objects are still preconditioned.
    assert!(matches!(
        store.update(&a, object(&a), Some(1)),
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.update(&a, object(&a), Some(3)).unwrap().revision, 5);
    run(async {
        let mut watch = store.watch(WatchFilter::default(), 4).unwrap();
        assert_eq!(next(&mut watch).await.revision(), 5);
    });
}

fn concurrent_writers_produce_one_ordered_stream(store: Store) {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 250;
    const TOTAL: usize = THREADS * PER_THREAD;
    run(async {
        let watchers: Vec<_> = (0..2)
            .map(|_| {
                let mut watch = store.watch(WatchFilter::default(), 0).unwrap();
                tokio::spawn(async move { take(&mut watch, TOTAL).await })
            })
            .collect();
        let barrier = Arc::new(std::sync::Barrier::new(THREADS));
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let store = store.clone();
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    barrier.wait();
                    let resource = if t % 2 == 0 { "configmaps" } else { "secrets" };
                    let k = key(resource, &format!("ns{t}"), "obj");
                    let mut mine = vec![store.create(&k, object(&k)).unwrap().revision];
                    for i in 1..PER_THREAD {
                        let body = object_with(&k, &i.to_string());
                        mine.push(
                            store
                                .update(&k, body, mine.last().copied())
                                .unwrap()
                                .revision,
                        );
                    }
                    mine
                })
            })
            .collect();
        let mut written: HashMap<u64, usize> = HashMap::new();
        for (t, writer) in writers.into_iter().enumerate() {
            let mine = writer.join().unwrap();
            assert!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "a writer's revisions increase"
            );
            written.extend(mine.into_iter().map(|revision| (revision, t)));
        }
        assert_eq!(written.len(), TOTAL);

        let mut streams = Vec::new();
        for watcher in watchers {
            streams.push(watcher.await.unwrap());
        }
        let expected: Vec<u64> = (1..=TOTAL as u64).collect();
        assert_eq!(revisions(&streams[0]), expected, "gap-free and ordered");
        assert_eq!(streams[0], streams[1], "both watchers see the same stream");
        for event in &streams[0] {
            let t = written[&event.revision()];
            assert_eq!(event.object.key.namespace, format!("ns{t}"));
            assert_eq!(
                resource_version(&event.object.body),
                event.revision().to_string()
            );
        }
        assert_eq!(store.revision().unwrap(), TOTAL as u64);
    });
}

fn lagging_watch_recovers_from_log(store: Store) {
    // Far more than the live buffer of one watch (1024 events).
    const BURST: u64 = 3000;
    run(async {
        let mut watch = store.watch(WatchFilter::default(), 0).unwrap();
        let mut quiet = store
            .watch(
                WatchFilter {
                    resource: Some("nothing".into()),
                    namespace: None,
                },
                0,
            )
            .unwrap();
        let k = key("configmaps", "default", "counter");
        create(&store, &k);
        // Caught up: the watch now follows the broadcast...
        assert_eq!(next(&mut watch).await.revision(), 1);
        assert_idle(&mut quiet).await;
        // ...and is not polled while the burst overflows its buffer.
        for i in 0..BURST {
            store
                .update(&k, object_with(&k, &i.to_string()), None)
                .unwrap();
        }
        let events = take(&mut watch, BURST as usize).await;
        assert_eq!(revisions(&events), (2..=BURST + 1).collect::<Vec<_>>());
        assert_eq!(
            events.last().unwrap().object.json().unwrap()["data"]["k"],
            "2999"
        );
        assert_idle(&mut watch).await;
        // A filtered watch skips all of it but keeps its place.
        assert_idle(&mut quiet).await;
        assert_eq!(quiet.last_revision(), BURST + 1);
        // Both are live again.
        store.delete(&k, None).unwrap();
        assert_eq!(next(&mut watch).await.event_type, EventType::Deleted);
    });
}

fn watch_lagging_behind_compaction_expires(store: Store) {
    const BURST: u64 = 2000;
    run(async {
        let mut watch = store.watch(WatchFilter::default(), 0).unwrap();
        let k = key("configmaps", "default", "counter");
        create(&store, &k);
        assert_eq!(next(&mut watch).await.revision(), 1);
        for _ in 0..BURST {
            store.update(&k, object(&k), None).unwrap();
        }
        // The events the watch missed are compacted before it catches up.
        store.compact(BURST).unwrap();
        match watch.next().await {
            Some(Err(StoreError::Expired {
                requested,
                compacted,
            })) => {
                assert_eq!((requested, compacted), (1, BURST));
            }
            other => panic!("expected Expired, got {other:?}"),
        }
        assert!(watch.next().await.is_none());
    });
}

fn watch_ends_when_store_dropped(store: Store) {
    create(&store, &key("configmaps", "default", "a"));
    run(async move {
        let mut watch = store.watch(WatchFilter::default(), 0).unwrap();
        create(&store, &key("configmaps", "default", "b"));
        let other = store.clone();
        drop(store);
        create(&other, &key("configmaps", "default", "c"));
        drop(other);
        // What was written before the last handle went is delivered, then the watch ends.
        assert_eq!(revisions(&take(&mut watch, 3).await), [1, 2, 3]);
        let end = tokio::time::timeout(EVENT_TIMEOUT, watch.next()).await;
        assert!(
            matches!(end, Ok(None)),
            "expected the end of the watch, got {end:?}"
        );
    });
}
