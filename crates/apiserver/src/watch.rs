//! Watch streams: chunked JSON `{"type": ..., "object": ...}` lines, as kube-apiserver sends
//! them, fed by the store's event log. Supports resuming from a resourceVersion, initial
//! state (no resourceVersion, `0`, or `sendInitialEvents`), bookmarks, timeouts, and the
//! in-stream 410 `ERROR` event when the requested revision was compacted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use ferry_api::meta;
use ferry_api::selector::{FieldSelector, LabelSelector};
use ferry_store::{EventType, Revision, StoreError, WatchFilter};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::error::{ApiError, ApiResult};
use crate::objects::{ListOptions, Objects, to_json};
use crate::resources::ResourceType;
use crate::table;

/// How often a bookmark is sent when the client asked for them.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);
/// The longest a watch stays open before the client must re-establish it.
const MAX_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The query parameters of a watch.
#[derive(Clone, Debug, Default)]
pub struct WatchParams {
    pub resource_version: Option<String>,
    pub labels: Option<LabelSelector>,
    pub fields: Option<FieldSelector>,
    pub bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout: Option<Duration>,
    /// Set when watching one object by its path.
    pub single_name: Option<String>,
}

impl WatchParams {
    pub fn from_query(q: &HashMap<String, String>) -> ApiResult<Self> {
        let flag = |k: &str| matches!(q.get(k).map(String::as_str), Some("1" | "true" | "True"));
        let ListOptions { labels, fields, .. } = crate::http::list_options(q)?;
        let timeout = match q.get("timeoutSeconds").filter(|s| !s.is_empty()) {
            Some(s) => Some(Duration::from_secs(s.parse().map_err(|_| {
                ApiError::bad_request(format!("invalid timeoutSeconds {s:?}"))
            })?)),
            None => None,
        };
        Ok(Self {
            resource_version: q.get("resourceVersion").filter(|s| !s.is_empty()).cloned(),
            labels,
            fields,
            bookmarks: flag("allowWatchBookmarks"),
            send_initial_events: flag("sendInitialEvents"),
            timeout,
            single_name: None,
        })
    }

    fn matches(&self, obj: &Value) -> bool {
        self.single_name
            .as_ref()
            .is_none_or(|n| meta::name(obj) == Some(n))
            && self.labels.as_ref().is_none_or(|s| s.matches_object(obj))
            && self.fields.as_ref().is_none_or(|s| s.matches_object(obj))
    }
}

/// Starts a watch and returns the streaming response.
pub async fn serve(
    objects: Objects,
    t: Arc<ResourceType>,
    namespace: Option<String>,
    params: WatchParams,
    table: bool,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        tokio::select! {
            // Server shutdown ends the stream, so clients reconnect (to the next server).
            _ = async { let _ = stopped.wait_for(|s| *s).await; } => {}
            result = run(&objects, &t, namespace, &params, table, &tx) => {
                if let Err(e) = result {
                    let _ = tx.send(line("ERROR", &e.to_status())).await;
                }
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    let body = Body::from_stream(futures_util::StreamExt::map(
        stream,
        Ok::<_, std::convert::Infallible>,
    ));
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn line(event_type: &str, object: &Value) -> Bytes {
    let mut v =
        serde_json::to_vec(&json!({"type": event_type, "object": object})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

async fn run(
    objects: &Objects,
    t: &Arc<ResourceType>,
    namespace: Option<String>,
    params: &WatchParams,
    table: bool,
    tx: &mpsc::Sender<Bytes>,
) -> ApiResult<()> {
    let encode = |obj: &Value| {
        if table {
            table::render(t, std::slice::from_ref(obj))
        } else {
            obj.clone()
        }
    };
    let requested: Option<Revision> = match params.resource_version.as_deref() {
        None | Some("0") => None,
        Some(s) => Some(
            s.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {s:?}")))?,
        ),
    };
    // No revision (or "0"), or an explicit request: start with the current state.
    let mut from = match requested {
        Some(rv) if !params.send_initial_events => rv,
        _ => {
            let (objects2, t2, ns2) = (objects.clone(), t.clone(), namespace.clone());
            let page = tokio::task::spawn_blocking(move || {
                objects2.list(&t2, ns2.as_deref(), &ListOptions::default())
            })
            .await
            .map_err(|e| ApiError::internal(e.to_string()))??;
            for item in &page.items {
                let obj = to_json(t, item)?;
                if params.matches(&obj) && tx.send(line("ADDED", &encode(&obj))).await.is_err() {
                    return Ok(());
                }
            }
            if params.send_initial_events && params.bookmarks {
                let bookmark = bookmark(t, page.revision, true);
                if tx.send(line("BOOKMARK", &bookmark)).await.is_err() {
                    return Ok(());
                }
            }
            page.revision
        }
    };
    let filter = WatchFilter {
        resource: Some(t.storage_key()),
        namespace: namespace.clone(),
    };
    let mut watch = match objects.store.watch(filter, from) {
        Ok(w) => w,
        Err(StoreError::Expired {
            requested,
            compacted,
        }) => {
            return Err(ApiError::gone(format!(
                "too old resource version: {requested} ({compacted})"
            )));
        }
        Err(e) => return Err(ApiError::internal(e.to_string())),
    };
    let deadline = tokio::time::sleep(params.timeout.unwrap_or(MAX_TIMEOUT).min(MAX_TIMEOUT));
    tokio::pin!(deadline);
    let mut bookmarks = tokio::time::interval(BOOKMARK_INTERVAL);
    bookmarks.tick().await;
    loop {
        tokio::select! {
            _ = &mut deadline => return Ok(()),
            _ = tx.closed() => return Ok(()),
            _ = bookmarks.tick(), if params.bookmarks => {
                if tx.send(line("BOOKMARK", &bookmark(t, from, false))).await.is_err() {
                    return Ok(());
                }
            }
            event = watch.next() => {
                let event = match event {
                    Some(Ok(e)) => e,
                    Some(Err(StoreError::Expired { requested, compacted })) => {
                        return Err(ApiError::gone(format!("too old resource version: {requested} ({compacted})")));
                    }
                    Some(Err(e)) => return Err(ApiError::internal(e.to_string())),
                    None => return Ok(()),
                };
                from = event.revision();
                let obj = to_json(t, &event.object)?;
                if !params.matches(&obj) {
                    continue;
                }
                let kind = match event.event_type {
                    EventType::Added => "ADDED",
                    EventType::Modified => "MODIFIED",
                    EventType::Deleted => "DELETED",
                };
                if tx.send(line(kind, &encode(&obj))).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}

fn bookmark(t: &ResourceType, revision: Revision, initial_events_end: bool) -> Value {
    let mut meta = json!({"resourceVersion": revision.to_string()});
    if initial_events_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"kind": t.kind, "apiVersion": t.api_version(), "metadata": meta})
}
