//! Push → synced benchmark (not a test): `ferry up` as its own process and one automated
//! Application of 20 objects (10 ConfigMaps, 5 Deployments, 5 Services) from the test
//! kit's git smart-HTTP server. Each sample commits a change to every object, pushes, posts
//! GitHub's push event to `/api/webhook`, and times until the Application reports the new
//! commit Synced and Healthy (the Deployments rolled out on the simulated cluster).
//!
//! Run: `cargo bench -p ferry --bench push` (`FERRY_BENCH_SAMPLES`, default 20;
//! `FERRY_BENCH_CONFIGMAPS_ONLY=1` makes all 20 objects ConfigMaps, leaving out the simulated
//! containers' start). Prints p50, p90, p99 and max for docs/benchmarks.md.

mod common;

use std::time::{Duration, Instant};

use ferry_api::argocd::Application;
use ferry_testkit::git_server::{GitServer, PASSWORD, USER};
use ferry_testkit::seed::Seed;
use kube::api::{Api, PostParams};
use serde_json::json;

fn objects(round: usize) -> Vec<(String, String)> {
    let configmaps_only = std::env::var_os("FERRY_BENCH_CONFIGMAPS_ONLY").is_some();
    let mut files = Vec::new();
    for i in 0..if configmaps_only { 20 } else { 10 } {
        files.push((
            format!("app/configmap-{i}.yaml"),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings-{i}\ndata:\n  round: \"{round}\"\n"),
        ));
    }
    for i in 0..if configmaps_only { 0 } else { 5 } {
        files.push((
            format!("app/deployment-{i}.yaml"),
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{i}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: web-{i}}}\n  template:\n    metadata:\n      labels: {{app: web-{i}}}\n      annotations: {{round: \"{round}\"}}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n"
            ),
        ));
        files.push((
            format!("app/service-{i}.yaml"),
            format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: web-{i}\n  annotations: {{round: \"{round}\"}}\nspec:\n  selector: {{app: web-{i}}}\n  ports:\n  - port: 80\n"),
        ));
    }
    files
}

fn main() {
    let samples: usize = std::env::var("FERRY_BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let server = runtime.block_on(GitServer::start());
    let seed = Seed::new(&server, "shop");
    for (path, text) in objects(0) {
        seed.write(&path, &text);
    }
    seed.commit("round 0");
    seed.push();

    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, kubeconfig, web) = common::start(dir.path());
    let times = runtime.block_on(async {
        let client = common::client(&kubeconfig).await;
        let secrets: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(client.clone(), "argocd");
        secrets
            .create(
                &PostParams::default(),
                &common::object(json!({"metadata": {"name": "repo",
                        "labels": {"argocd.argoproj.io/secret-type": "repository"}},
                    "stringData": {"url": server.url("shop"), "username": USER, "password": PASSWORD}})),
            )
            .await
            .expect("repository secret");
        let apps: Api<Application> = Api::namespaced(client, "argocd");
        apps.create(
            &PostParams::default(),
            &common::object(json!({
                "metadata": {"name": "shop", "namespace": "argocd"},
                "spec": {"project": "default",
                    "source": {"repoURL": server.url("shop"), "targetRevision": "main", "path": "app"},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
                    "syncPolicy": {"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}}})),
        )
        .await
        .expect("application");
        let first = seed.git(&["rev-parse", "HEAD"]);
        synced(&apps, &first, Duration::from_secs(120)).await;

        let web_url = server.url("shop").trim_end_matches(".git").to_string();
        let addr: std::net::SocketAddr = web.parse().expect("web address");
        let mut times = Vec::with_capacity(samples);
        for round in 1..=samples {
            for (path, text) in objects(round) {
                seed.write(&path, &text);
            }
            let commit = seed.commit(&format!("round {round}"));
            seed.push();
            let body = json!({
                "ref": "refs/heads/main",
                "repository": {"html_url": web_url, "default_branch": "main"},
                "commits": [{"added": [], "modified": ["app/configmap-0.yaml"], "removed": []}],
            })
            .to_string();
            let pushed = Instant::now();
            let (status, _) = tokio::task::spawn_blocking(move || {
                ferry_testkit::cluster::raw_request(
                    addr,
                    "POST",
                    "/api/webhook",
                    &[("X-GitHub-Event", "push"), ("Content-Type", "application/json")],
                    body.as_bytes(),
                )
            })
            .await
            .expect("webhook");
            assert_eq!(status, 200, "webhook answered {status}");
            synced(&apps, &commit, Duration::from_secs(120)).await;
            times.push(pushed.elapsed());
        }
        times
    });
    let rss = common::rss_mib(child.id());
    let _ = child.kill();
    let _ = child.wait();

    let mut sorted = times.clone();
    sorted.sort();
    let at =
        |q: f64| sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1];
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    println!("| push → synced and healthy, 20-object app, webhook ({samples} pushes) | value |");
    println!("|---|---|");
    for (name, q) in [("p50", 0.50), ("p90", 0.90), ("p99", 0.99)] {
        println!("| {name} | {} |", ms(at(q)));
    }
    println!("| max | {} |", ms(*sorted.last().expect("samples")));
    println!("| RSS of `ferry up` afterwards | {rss:.0} MiB |");
}

/// Waits until the app runs `commit`, Synced and Healthy.
async fn synced(apps: &Api<Application>, commit: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let app = apps.get("shop").await.expect("application");
        let status = &app.status;
        if status.sync.revision.as_deref() == Some(commit)
            && status.sync.status == "Synced"
            && status.health.status == "Healthy"
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not synced to {commit} in {timeout:?}: {:?} {} {}",
            status.sync.revision,
            status.sync.status,
            status.health.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
