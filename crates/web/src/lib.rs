//! Ferry's HTTP surface beside the Kubernetes API, what argocd-server serves there: Git
//! webhooks at `POST /api/webhook` ([`webhook`]). It talks to the cluster only through a
//! `kube::Client`, as the controllers do; the UI's API and metrics join it later.
//!
//! Where to start: [`router`] builds the routes over a [`WebState`]; `ferry up` serves them
//! on `--web-listen`.

pub mod webhook;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::post;

/// What the handlers share.
#[derive(Clone)]
pub struct WebState {
    /// The control plane's API.
    pub client: kube::Client,
    /// The control-plane namespace (Applications, `argocd-secret`).
    pub namespace: String,
}

/// The routes.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/api/webhook", post(webhook::handle))
        .layer(DefaultBodyLimit::max(webhook::MAX_PAYLOAD_BYTES))
        .with_state(state)
}

/// Serves the routes on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, state: WebState) -> std::io::Result<()> {
    axum::serve(listener, router(state)).await
}
