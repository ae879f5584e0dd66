//! Image discovery over a 5,000-tag repository in a real docker-registry: the bare paged tag
//! list (what any client must fetch) against Ferry's SemVer discovery, cold (new client and
//! caches) and warm (same client, second run).
//!
//! `cargo bench -p ferry-source --bench discovery` prints a Markdown table for
//! docs/benchmarks.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ferry_source::oci::{
    ImageMetadataCache, ImageRepo, ImageSelection, RegistryClient, RegistryOptions,
};
use ferry_testkit::{http_client, registry};
use futures_util::StreamExt as _;

const TAGS: usize = 5000;
const RUNS: usize = 15;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let registry = registry::TestRegistry::start().await;
    let (manifest, _) = registry
        .push_image(
            "bench/app",
            Some("seed"),
            "2024-01-01T00:00:00Z",
            ("linux", "amd64"),
        )
        .await;
    let tags: Vec<String> = (0..TAGS)
        .map(|i| format!("1.{}.{}", i / 100, i % 100))
        .collect();
    futures_util::stream::iter(tags.iter())
        .for_each_concurrent(16, |tag| {
            let (registry, manifest) = (&registry, &manifest);
            async move {
                registry
                    .put_manifest("bench/app", tag, registry::OCI_MANIFEST, manifest)
                    .await;
            }
        })
        .await;
    let repo = ImageRepo::parse(&format!("{}/bench/app", registry.host)).unwrap();
    let options = || RegistryOptions {
        requests_per_second: 10_000,
        ..RegistryOptions::default()
    };
    let selection = ImageSelection::default();

    // The floor: fetching the tag list page by page with a plain HTTP client.
    let http = http_client();
    let mut bare = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let mut next = Some("/v2/bench/app/tags/list?n=1000".to_string());
        let mut count = 0;
        while let Some(path) = next.take() {
            let response = http
                .get(format!("http://{}{path}", registry.host))
                .send()
                .await
                .unwrap();
            next = response
                .headers()
                .get("link")
                .and_then(|l| l.to_str().ok())
                .and_then(|l| l.split(';').next())
                .map(|l| l.trim_matches(['<', '>', ' ']).to_string());
            let body: serde_json::Value =
                serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            count += body["tags"].as_array().unwrap().len();
        }
        assert_eq!(count, TAGS + 1);
        bare.push(started.elapsed());
    }

    let mut cold = Vec::new();
    for _ in 0..RUNS {
        let client = RegistryClient::new(options()).unwrap();
        let cache = ImageMetadataCache::default();
        let started = Instant::now();
        let found = client
            .discover_images(&repo, &selection, None, &cache)
            .await
            .unwrap();
        cold.push(started.elapsed());
        assert_eq!(found.len(), 20);
    }

    let client = RegistryClient::new(options()).unwrap();
    let cache = ImageMetadataCache::default();
    client
        .discover_images(&repo, &selection, None, &cache)
        .await
        .unwrap();
    let mut warm = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        client
            .discover_images(&repo, &selection, None, &cache)
            .await
            .unwrap();
        warm.push(started.elapsed());
    }

    // Kargo's `cacheByTag`: tags taken as immutable, only the tag list is fetched again.
    let by_tag = ImageSelection {
        cache_by_tag: true,
        ..ImageSelection::default()
    };
    client
        .discover_images(&repo, &by_tag, None, &cache)
        .await
        .unwrap();
    let mut warm_by_tag = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        client
            .discover_images(&repo, &by_tag, None, &cache)
            .await
            .unwrap();
        warm_by_tag.push(started.elapsed());
    }

    let (bare, cold, warm, warm_by_tag) = (
        median(bare),
        median(cold),
        median(warm),
        median(warm_by_tag),
    );
    println!("| measure ({TAGS} tags, median of {RUNS}) | time | vs bare tag list |");
    println!("|---|---|---|");
    println!("| bare paged tag list (reqwest) | {} | 1.00× |", ms(bare));
    println!(
        "| `discover` SemVer, cold client | {} | {:.2}× |",
        ms(cold),
        ratio(cold, bare)
    );
    println!(
        "| `discover` SemVer, warm client | {} | {:.2}× |",
        ms(warm),
        ratio(warm, bare)
    );
    println!(
        "| `discover` SemVer, warm client, `cacheByTag` | {} | {:.2}× |",
        ms(warm_by_tag),
        ratio(warm_by_tag, bare)
    );
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}
