//! `POST /api/webhook`: Git push events from GitHub, GitLab, Gitea/Gogs and Bitbucket (Cloud
//! and Server) refresh exactly the Applications whose source the push touched
//! ([`matching`]), by setting Argo CD's refresh annotation, so a pushed commit is synced
//! without waiting for the resync. A request is verified with the secret Argo CD keeps for
//! its host in `argocd-secret` ([`providers::Provider::secret_key`]; a `$secret:key` value
//! points into another Secret), and accepted unverified when none is set, as in Argo CD.
//!
//! Answers: 200 with the refreshed apps, 400 for an unknown host or event or a body that is
//! not JSON, 401 for a missing or wrong signature, 413 for a body over 50 MiB.

pub mod matching;
pub mod providers;
pub mod signature;

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use ferry_api::argocd::Application;
use ferry_api::{Classify, Disposition};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, Patch, PatchParams};
use providers::{Event, Provider, Push};

use crate::WebState;

/// Argo CD's `webhook.maxPayloadSizeMB` default.
pub const MAX_PAYLOAD_BYTES: usize = 50 * 1024 * 1024;
/// The Secret Argo CD keeps its settings' secrets in.
const ARGOCD_SECRET: &str = "argocd-secret";
/// Argo CD's refresh annotation.
const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";

/// A webhook that could not be served.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No known host's event header.
    #[error("Unknown webhook event")]
    Unknown,
    /// A known host, an event Ferry does not act on.
    #[error("Webhook processing failed: unsupported event {0:?}")]
    UnsupportedEvent(String),
    /// The body is not JSON.
    #[error("Webhook processing failed: payload must be valid JSON under 50 MB")]
    Payload,
    /// The request's proof of origin is missing or wrong.
    #[error("Unauthorized: {0}")]
    Unauthorized(&'static str),
    /// Reading secrets or Applications, or refreshing one, failed.
    #[error("Webhook processing failed: {0}")]
    Api(#[source] kube::Error),
}

impl Classify for WebhookError {
    /// The sender must change the request, except when the API failed.
    fn disposition(&self) -> Disposition {
        match self {
            WebhookError::Api(kube::Error::Api(status)) => Disposition::of_http_status(status.code),
            WebhookError::Api(_) => Disposition::Retry,
            _ => Disposition::GiveUp,
        }
    }
}

impl WebhookError {
    fn status(&self) -> StatusCode {
        match self {
            WebhookError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            WebhookError::Api(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// The handler of `POST /api/webhook`.
pub async fn handle(
    State(state): State<WebState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    match serve(&state, &headers, &body).await {
        Ok(refreshed) => {
            let body = serde_json::json!({"refreshed": refreshed}).to_string();
            (StatusCode::OK, body)
        }
        Err(e) => {
            tracing::info!(error = %e, "webhook refused");
            let status = e.status();
            // The API's own words stay in the log, not in an answer to an unknown caller.
            let body = match e {
                WebhookError::Api(_) => "Webhook processing failed".to_string(),
                other => other.to_string(),
            };
            (status, body)
        }
    }
}

/// Verifies, parses and acts on one webhook; the apps refreshed, as `namespace/name`.
async fn serve(
    state: &WebState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<String>, WebhookError> {
    let provider = Provider::of(headers).ok_or(WebhookError::Unknown)?;
    let secret = webhook_secret(state, provider).await?;
    provider.verify(headers, body, secret.as_deref())?;
    let push = match provider.parse(headers, body)? {
        Event::Ping => return Ok(Vec::new()),
        Event::Push(push) => push,
    };
    refresh_touched(state, &push).await
}

/// The secret `argocd-secret` holds for `provider`, following a `$secret:key` reference.
async fn webhook_secret(
    state: &WebState,
    provider: Provider,
) -> Result<Option<String>, WebhookError> {
    let secrets: Api<Secret> = Api::namespaced(state.client.clone(), &state.namespace);
    let Some(value) = secret_value(&secrets, ARGOCD_SECRET, provider.secret_key()).await? else {
        return Ok(None);
    };
    match value.strip_prefix('$').and_then(|r| r.split_once(':')) {
        // A reference that leads nowhere stays as written, as in Argo CD: requests are then
        // refused, never accepted unsigned.
        Some((name, key)) => Ok(Some(
            secret_value(&secrets, name, key).await?.unwrap_or(value),
        )),
        None => Ok(Some(value)),
    }
}

async fn secret_value(
    secrets: &Api<Secret>,
    name: &str,
    key: &str,
) -> Result<Option<String>, WebhookError> {
    let secret = secrets.get_opt(name).await.map_err(WebhookError::Api)?;
    let data: BTreeMap<String, Vec<u8>> = secret
        .and_then(|s| s.data)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    Ok(data
        .get(key)
        .and_then(|v| String::from_utf8(v.clone()).ok())
        .map(|v| v.trim().to_string()))
}

/// Sets the refresh annotation on every app of the control-plane namespace the push touches.
async fn refresh_touched(state: &WebState, push: &Push) -> Result<Vec<String>, WebhookError> {
    let apps: Api<Application> = Api::namespaced(state.client.clone(), &state.namespace);
    let listed = apps
        .list(&ListParams::default())
        .await
        .map_err(WebhookError::Api)?;
    let mut refreshed = Vec::new();
    for app in &listed.items {
        let touched = push.web_urls.iter().any(|url| {
            matching::touches(
                app,
                url,
                &push.revision,
                push.touched_head,
                &push.changed_files,
            )
        });
        if !touched {
            continue;
        }
        let patch =
            serde_json::json!({"metadata": {"annotations": {REFRESH_ANNOTATION: "normal"}}});
        apps.patch(app.name(), &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(WebhookError::Api)?;
        refreshed.push(format!("{}/{}", state.namespace, app.name()));
    }
    tracing::info!(urls = ?push.web_urls, revision = %push.revision, apps = refreshed.len(), "push received");
    Ok(refreshed)
}
