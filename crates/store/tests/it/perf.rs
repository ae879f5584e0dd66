//! Throughput smoke tests against the API server's targets. Ignored by default: timings mean
//! something only in release builds (`cargo test --release -p ferry-store -- --ignored perf`).

use std::time::Instant;

use ferry_store::Store;
use serde_json::json;

use crate::support::key;

fn body(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": { "app.kubernetes.io/name": "demo", "app.kubernetes.io/part-of": "ferry" },
            "annotations": { "ferry.dev/source": "git@example.com:org/repo.git#main:apps/demo" },
        },
        "data": { "config.yaml": "x".repeat(300) },
    })
}

#[test]
#[ignore = "timing; run in release"]
fn perf_sqlite_creates_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::sqlite(&dir.path().join("ferry.db")).unwrap();
    const N: usize = 10_000;
    let start = Instant::now();
    for i in 0..N {
        let name = format!("cm-{i:05}");
        store
            .create(&key("configmaps", "default", &name), body(&name))
            .unwrap();
    }
    let elapsed = start.elapsed();
    println!(
        "sqlite: {N} creates in {elapsed:?} = {:.0}/s",
        N as f64 / elapsed.as_secs_f64()
    );
    for _ in 0..3 {
        let start = Instant::now();
        let page = store.list("configmaps", None, None, None).unwrap();
        println!("sqlite: list {} in {:?}", page.items.len(), start.elapsed());
        assert_eq!(page.items.len(), N);
    }
    let start = Instant::now();
    let page = store
        .list(
            "configmaps",
            Some("default"),
            Some(("default", "cm-05000")),
            Some(500),
        )
        .unwrap();
    println!(
        "sqlite: page of {} in {:?}",
        page.items.len(),
        start.elapsed()
    );
}

#[test]
#[ignore = "timing; run in release"]
fn perf_memory_rss() {
    const N: usize = 100_000;
    let rss = || {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .unwrap()
            .to_owned();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    };
    let before = rss();
    let store = Store::memory();
    let mut json_bytes = 0;
    let start = Instant::now();
    for i in 0..N {
        let name = format!("cm-{i:06}");
        let obj = store
            .create(&key("configmaps", "default", &name), body(&name))
            .unwrap();
        json_bytes += obj.body.len();
    }
    println!("memory: {N} creates in {:?}", start.elapsed());
    let used = rss() - before;
    println!(
        "memory: json {} MiB, rss growth {} MiB",
        json_bytes >> 20,
        used >> 20
    );
    let start = Instant::now();
    let page = store.list("configmaps", None, None, None).unwrap();
    println!("memory: list {} in {:?}", page.items.len(), start.elapsed());
}
