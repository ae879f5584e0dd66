//! A front for a real server that fails the first N requests with 500, then forwards
//! faithfully: how the tests meet a registry having a bad moment.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;

/// A running flaky front.
pub struct FlakyFront {
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// Requests received, failed ones included.
    pub requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Front {
    upstream: String,
    failures: usize,
    requests: Arc<AtomicUsize>,
    http: reqwest::Client,
}

impl FlakyFront {
    /// Forwards to `upstream` (`host:port`) after failing the first `failures` requests.
    pub async fn start(upstream: &str, failures: usize) -> Self {
        let requests = Arc::new(AtomicUsize::new(0));
        let front = Front {
            upstream: upstream.to_string(),
            failures,
            requests: requests.clone(),
            http: crate::http_client(),
        };
        let app = axum::Router::new().fallback(forward).with_state(front);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            host,
            requests,
            task,
        }
    }
}

impl Drop for FlakyFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(front): State<Front>, request: Request) -> Response {
    let n = front.requests.fetch_add(1, Ordering::SeqCst);
    if n < front.failures {
        return Response::builder()
            .status(500)
            .body(Body::from("try again"))
            .unwrap();
    }
    let url = format!(
        "http://{}{}",
        front.upstream,
        request
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut upstream = front.http.request(request.method().clone(), url);
    for (name, value) in request.headers() {
        if name != "host" {
            upstream = upstream.header(name, value);
        }
    }
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap();
    let answer = upstream.body(body).send().await.unwrap();
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        response = response.header(name, value);
    }
    response
        .body(Body::from(answer.bytes().await.unwrap()))
        .unwrap()
}
