//! Sync engine benchmark (not a test): `ferry up` as its own process, N one-ConfigMap
//! Applications over R Git repositories on the test kit's git smart-HTTP server (basic
//! auth, one `repo-creds` Secret for all), all automated. Measures the cold sync (first
//! create to every app Synced and Healthy), then waits one full resync period and reports
//! that no-op pass from the controller's own metrics: reconciles done, their summed time,
//! Application writes (resourceVersions that moved) and Git remote calls per repository;
//! and the server's RSS.
//!
//! Run: `cargo bench -p ferry --bench sync` (`FERRY_BENCH_APPS`, default 1000;
//! `FERRY_BENCH_REPOS`, default 100). Results go to stdout as a Markdown table for
//! docs/benchmarks.md.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use ferry_api::argocd::Application;
use ferry_testkit::git_server::{GitServer, PASSWORD, USER};
use ferry_testkit::seed::Seed;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

/// The resync period plus its largest jitter (120 s + 60 s), and a margin.
const RESYNC_PASS: Duration = Duration::from_secs(185);

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let apps = env_number("FERRY_BENCH_APPS", 1000);
    let repos = env_number("FERRY_BENCH_REPOS", 100).min(apps).max(1);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let server = runtime.block_on(GitServer::start());
    let per_repo = apps.div_ceil(repos);
    for r in 0..repos {
        let seed = Seed::new(&server, &format!("repo-{r}"));
        for a in 0..per_repo {
            seed.write(
                &format!("apps/app-{a}/configmap.yaml"),
                &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: r{r}-a{a}\ndata:\n  n: \"{a}\"\n"),
            );
        }
        seed.commit("apps");
        seed.push();
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, kubeconfig, web) = common::start(dir.path());
    let pid = child.id();
    let rows = runtime.block_on(measure(
        &server,
        &kubeconfig,
        &web,
        apps,
        repos,
        per_repo,
        pid,
    ));
    let _ = child.kill();
    let _ = child.wait();

    println!("| measure ({apps} apps, {repos} repositories) | value |");
    println!("|---|---|");
    for (measure, value) in rows {
        println!("| {measure} | {value} |");
    }
}

async fn measure(
    server: &GitServer,
    kubeconfig: &Path,
    web: &str,
    apps: usize,
    repos: usize,
    per_repo: usize,
    pid: u32,
) -> Vec<(String, String)> {
    let client = common::client(kubeconfig).await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &common::object(json!({"metadata": {"name": "bench"}})),
        )
        .await
        .expect("namespace");
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), "argocd");
    let prefix = server.url("").trim_end_matches(".git").to_string();
    secrets
        .create(
            &PostParams::default(),
            &common::object(json!({"metadata": {"name": "creds",
                    "labels": {"argocd.argoproj.io/secret-type": "repo-creds"}},
                "stringData": {"url": prefix, "username": USER, "password": PASSWORD}})),
        )
        .await
        .expect("repo-creds");

    let applications: Api<Application> = Api::namespaced(client.clone(), "argocd");
    let started = Instant::now();
    for i in 0..apps {
        let (r, a) = (i / per_repo, i % per_repo);
        let app = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": format!("r{r}-a{a}"), "namespace": "argocd"},
            "spec": {"project": "default",
                "source": {"repoURL": server.url(&format!("repo-{r}")), "targetRevision": "main",
                    "path": format!("apps/app-{a}")},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "bench"},
                "syncPolicy": {"automated": {"prune": true}}}
        });
        applications
            .create(&PostParams::default(), &common::object(app))
            .await
            .expect("application");
    }
    let created = started.elapsed();
    let synced = loop {
        let list = applications
            .list(&ListParams::default())
            .await
            .expect("list");
        let done = list
            .items
            .iter()
            .filter(|a| a.status.sync.status == "Synced" && a.status.health.status == "Healthy")
            .count();
        if done == apps {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(3600),
            "{done}/{apps} synced after an hour"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let rss_synced = common::rss_mib(pid);

    // One full resync period with nothing changed: every app is reconciled once more.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let versions = resource_versions(&applications).await;
    let before = metrics(web).await;
    tokio::time::sleep(RESYNC_PASS).await;
    let after = metrics(web).await;
    let moved = resource_versions(&applications)
        .await
        .iter()
        .filter(|(name, version)| versions.get(*name) != Some(version))
        .count();
    let reconciles = after.reconciles - before.reconciles;
    let reconcile_secs = after.reconcile_seconds - before.reconcile_seconds;
    let git_calls = after.git_calls - before.git_calls;

    vec![
        (
            "creating the Applications (1 client)".into(),
            format!("{:.1} s", created.as_secs_f64()),
        ),
        (
            "cold sync: first create → every app Synced and Healthy".into(),
            format!("{:.1} s", synced.as_secs_f64()),
        ),
        (
            "RSS after the cold sync".into(),
            format!("{rss_synced:.0} MiB"),
        ),
        (
            format!("no-op pass ({} s): reconciles", RESYNC_PASS.as_secs()),
            reconciles.to_string(),
        ),
        (
            "no-op pass: reconcile time, summed over apps".into(),
            format!("{reconcile_secs:.2} s"),
        ),
        ("no-op pass: Applications written".into(), moved.to_string()),
        (
            "no-op pass: Git remote calls per repository".into(),
            format!("{:.2}", git_calls / repos as f64),
        ),
        (
            "RSS after the no-op pass".into(),
            format!("{:.0} MiB", common::rss_mib(pid)),
        ),
    ]
}

async fn resource_versions(apps: &Api<Application>) -> BTreeMap<String, String> {
    apps.list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|a| {
            (
                a.metadata.name.unwrap_or_default(),
                a.metadata.resource_version.unwrap_or_default(),
            )
        })
        .collect()
}

/// The counters the pass is read from.
struct Counters {
    reconciles: f64,
    reconcile_seconds: f64,
    git_calls: f64,
}

async fn metrics(web: &str) -> Counters {
    let addr: std::net::SocketAddr = web.parse().expect("web address");
    let text = tokio::task::spawn_blocking(move || {
        ferry_testkit::cluster::raw_request(addr, "GET", "/metrics", &[], b"").1
    })
    .await
    .expect("metrics");
    let sum = |prefix: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    Counters {
        reconciles: sum("argocd_app_reconcile_count"),
        reconcile_seconds: sum("argocd_app_reconcile_sum"),
        git_calls: sum("argocd_git_request_total"),
    }
}
