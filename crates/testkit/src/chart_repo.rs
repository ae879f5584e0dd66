//! Helm chart repositories for the tests: charts made and packaged by the real `helm` binary,
//! served by a small static HTTP server with ETags (as GitHub Pages and S3 serve them).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use sha2::{Digest as _, Sha256};

use crate::{helm_binary, run};

/// A `helm` command ([`helm_binary`]) with its config, cache and data kept out of the user's
/// home.
pub fn helm() -> Command {
    let mut command = Command::new(helm_binary());
    // Keep helm's config, cache and registry logins out of the user's home.
    let home = std::env::temp_dir().join("ferry-test-helm-home");
    command
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"));
    command
}

/// `helm create NAME` then `helm package --version VERSION` into `out`; returns the .tgz path.
pub fn package_chart(work: &Path, out: &Path, name: &str, version: &str) -> PathBuf {
    let chart_dir = work.join(name);
    if !chart_dir.exists() {
        run(helm().current_dir(work).args(["create", name]));
    }
    run(helm()
        .args(["package", "--version", version, "-d"])
        .arg(out)
        .arg(&chart_dir));
    out.join(format!("{name}-{version}.tgz"))
}

/// A static file server on a loopback port (a classic chart repository); a matching
/// `If-None-Match` gets 304.
pub struct StaticServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Requests answered with a body (not 304).
    pub full_responses: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Files {
    root: PathBuf,
    full_responses: Arc<AtomicUsize>,
}

impl StaticServer {
    /// Serves the files under `root`.
    pub async fn start(root: &Path) -> Self {
        let files = Files {
            root: root.to_path_buf(),
            full_responses: Arc::new(AtomicUsize::new(0)),
        };
        let full_responses = files.full_responses.clone();
        let app = axum::Router::new().fallback(serve).with_state(files);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            full_responses,
            task,
        }
    }

    /// How many requests were answered with a body so far.
    pub fn full_responses(&self) -> usize {
        self.full_responses.load(Ordering::SeqCst)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(State(files): State<Files>, request: Request) -> Response {
    let rel = request.uri().path().trim_start_matches('/');
    if rel.split('/').any(|c| c == "..") {
        return Response::builder().status(400).body(Body::empty()).unwrap();
    }
    let Ok(bytes) = std::fs::read(files.root.join(rel)) else {
        return Response::builder().status(404).body(Body::empty()).unwrap();
    };
    let etag = format!(
        "\"{}\"",
        Sha256::digest(&bytes)
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let matches = request
        .headers()
        .get("if-none-match")
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    if matches {
        return Response::builder()
            .status(304)
            .header("etag", etag)
            .body(Body::empty())
            .unwrap();
    }
    files.full_responses.fetch_add(1, Ordering::SeqCst);
    Response::builder()
        .status(200)
        .header("etag", etag)
        .body(Body::from(bytes))
        .unwrap()
}
