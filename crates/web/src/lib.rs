//! Ferry's HTTP surface beside the Kubernetes API, what argocd-server and the controllers'
//! metrics ports serve there: Git webhooks at `POST /api/webhook` ([`webhook`]) and the sync
//! engine's Prometheus metrics at `GET /metrics`. It talks to the cluster only through a
//! `kube::Client`, as the controllers do; the UI's API joins it later.
//!
//! Where to start: [`router`] builds the routes over a [`WebState`]; `ferry up` serves them
//! on `--web-listen`.

pub mod webhook;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ferry_sync::metrics::Metrics;

/// What the handlers share.
#[derive(Clone)]
pub struct WebState {
    /// The control plane's API.
    pub client: kube::Client,
    /// The control-plane namespace (Applications, `argocd-secret`).
    pub namespace: String,
    /// The sync engine's metrics; `None` when the controllers run elsewhere.
    pub metrics: Option<Arc<Metrics>>,
}

/// The routes.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/api/webhook", post(webhook::handle))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(webhook::MAX_PAYLOAD_BYTES))
        .with_state(state)
}

/// Serves the routes on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, state: WebState) -> std::io::Result<()> {
    axum::serve(listener, router(state)).await
}

/// `GET /metrics`: the OpenMetrics text; 404 when the controllers run elsewhere.
async fn metrics(State(state): State<WebState>) -> Response {
    match &state.metrics {
        Some(metrics) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            metrics.encode(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "no controllers run in this process (--no-controller)",
        )
            .into_response(),
    }
}
