//! The HTTP face: Kubernetes REST paths, query parameters, content types and status codes,
//! mapped onto [`Objects`]. Authentication is a bearer token; health checks are open.

mod options;
mod verbs;

pub(crate) use options::list_options;
#[cfg(test)]
pub(crate) use options::query;
use options::{patch_type, write_options};

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::discovery;
use crate::error::{ApiError, ApiResult};
use crate::objects::{Objects, Subresource, WriteOptions, to_json};
use crate::pod_logs;
use crate::protobuf::{self, ProtobufError};
use crate::resources::ResourceType;
use crate::reviews;
use crate::scale;

/// The largest request body accepted, as kube-apiserver's 3 MiB limit.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Shared state of the HTTP handlers.
pub struct AppState {
    pub objects: Objects,
    pub token: String,
    /// `host:port` clients reach this server at, for `/api`'s address list.
    pub address: String,
    /// Becomes true on shutdown; open watches end then.
    pub stopped: tokio::sync::watch::Receiver<bool>,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/livez", get(health))
        .route("/readyz", get(health))
        .fallback(api)
        .with_state(state)
}

async fn health() -> &'static str {
    "ok"
}

/// A parsed resource path.
#[derive(Debug, Default, PartialEq)]
struct ResourcePath {
    group: String,
    version: String,
    namespace: Option<String>,
    plural: String,
    name: Option<String>,
    subresource: Option<String>,
    /// The legacy `/watch/` path prefix.
    watch: bool,
}

enum Route {
    Discovery(discovery::Doc),
    Resource(ResourcePath),
}

fn parse_path(path: &str, state: &AppState) -> ApiResult<Route> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["version"] => return Ok(Route::Discovery(discovery::Doc::Version)),
        ["api"] => return Ok(Route::Discovery(discovery::Doc::CoreVersions)),
        ["apis"] => return Ok(Route::Discovery(discovery::Doc::Groups)),
        ["api", "v1"] => {
            return Ok(Route::Discovery(discovery::Doc::Resources(
                String::new(),
                "v1".into(),
            )));
        }
        ["apis", g] => return Ok(Route::Discovery(discovery::Doc::Group((*g).into()))),
        ["apis", g, v] => {
            return Ok(Route::Discovery(discovery::Doc::Resources(
                (*g).into(),
                (*v).into(),
            )));
        }
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", g, v, rest @ ..] => (g, v, rest),
        _ => return Err(ApiError::no_route(path)),
    };
    let (watch, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, rest),
    };
    let mut p = ResourcePath {
        group: group.into(),
        version: version.into(),
        watch,
        ..Default::default()
    };
    let rest = match rest {
        ["namespaces", ns, resource, tail @ ..]
            if state
                .objects
                .resources
                .lookup(group, version, resource)
                .is_some_and(|t| t.namespaced) =>
        {
            p.namespace = Some((*ns).into());
            let mut v = vec![*resource];
            v.extend_from_slice(tail);
            v
        }
        other => other.to_vec(),
    };
    match rest.as_slice() {
        [plural] => p.plural = (*plural).into(),
        [plural, name] => {
            p.plural = (*plural).into();
            p.name = Some((*name).into());
        }
        [plural, name, sub] => {
            p.plural = (*plural).into();
            p.name = Some((*name).into());
            p.subresource = Some((*sub).into());
        }
        _ => return Err(ApiError::no_route(path)),
    }
    Ok(Route::Resource(p))
}

/// Every `/api` and `/apis` request, and `/version`.
async fn api(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if !authorized(&parts.headers, &state.token) {
        return error_response(&ApiError::unauthorized());
    }
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return error_response(&ApiError::too_large(MAX_BODY_BYTES)),
    };
    match handle(&state, &parts.method, &parts.uri, &parts.headers, body).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(presented) = value.strip_prefix("Bearer ") else {
        return false;
    };
    constant_time_eq(presented.trim().as_bytes(), token.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn handle(
    state: &Arc<AppState>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let query: HashMap<String, String> = Query::try_from_uri(uri)
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
    if let Some(rest) = uri.path().strip_prefix("/openapi/v3") {
        let doc = match rest.trim_matches('/') {
            "" => crate::openapi::root(&state.objects.resources),
            key => crate::openapi::group_version(&state.objects.resources, key)?,
        };
        return Ok(json_response(StatusCode::OK, &doc));
    }
    let route = parse_path(uri.path(), state)?;
    let path = match route {
        Route::Discovery(doc) => {
            if method != Method::GET {
                return Err(ApiError::method_not_allowed(format!(
                    "{method} is not supported on {}",
                    uri.path()
                )));
            }
            let doc = discovery::render(&doc, &state.objects.resources, &state.address)?;
            return Ok(json_response(StatusCode::OK, &doc));
        }
        Route::Resource(p) => p,
    };
    let t = state
        .objects
        .resources
        .lookup(&path.group, &path.version, &path.plural)
        .ok_or_else(|| ApiError::no_route(uri.path()))?;
    if t.namespaced && path.namespace.is_none() && path.name.is_some() {
        return Err(ApiError::no_route(uri.path()));
    }
    if t.review {
        if *method != Method::POST || path.name.is_some() || path.watch {
            return Err(ApiError::method_not_allowed(format!(
                "{method} is not supported on {}: reviews are only created",
                uri.path()
            )));
        }
        let answered = reviews::answer(&t, decode_body(headers, &t, &body)?)?;
        return Ok(json_response(StatusCode::CREATED, &answered));
    }
    if let (Some("log"), Some(name), true) =
        (path.subresource.as_deref(), &path.name, t.is("", "pods"))
    {
        if *method != Method::GET {
            return Err(ApiError::method_not_allowed(format!(
                "{method} is not supported on pods/log"
            )));
        }
        let opts = pod_logs::LogOptions::from_query(&query, name)?;
        let ns = path.namespace.clone().unwrap_or_default();
        let (objects, stopped) = (state.objects.clone(), state.stopped.clone());
        return pod_logs::serve(objects, t, ns, name.clone(), opts, stopped).await;
    }
    if path.subresource.as_deref() == Some("scale") && scale::scalable(&t) && path.name.is_some() {
        return serve_scale(state, method, &path, &t, headers, &query, body).await;
    }
    let sub = match path.subresource.as_deref() {
        None => None,
        Some("status") if t.has_status => Some(Subresource::Status),
        Some("finalize") if t.is("", "namespaces") => Some(Subresource::Finalize),
        Some(other) => {
            return Err(ApiError::no_route(&format!("{}/{other}", t.plural)));
        }
    };
    let call = verbs::Call {
        state,
        t,
        path: &path,
        headers,
        query: &query,
        body,
        sub,
        write_opts: options::write_options(&query, headers)?,
    };
    verbs::dispatch(call, method, uri.path()).await
}

async fn serve_scale(
    state: &Arc<AppState>,
    method: &Method,
    path: &ResourcePath,
    t: &Arc<ResourceType>,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: Bytes,
) -> ApiResult<Response> {
    let (objects, t) = (state.objects.clone(), t.clone());
    let ns = path.namespace.clone().unwrap_or_default();
    let name = path.name.clone().unwrap_or_default();
    let mut body = body;
    let patch_type = match *method {
        Method::GET => None,
        Method::PUT => {
            if is_protobuf_body(headers) {
                let scale = decode_body(headers, &t, &body)?;
                body = Bytes::from(serde_json::to_vec(&scale).unwrap_or_default());
            }
            None
        }
        Method::PATCH => Some(patch_type(headers, query)?),
        ref m => {
            return Err(ApiError::method_not_allowed(format!(
                "{m} is not supported on scale"
            )));
        }
    };
    let write_opts = write_options(query, headers)?;
    let opts = write_opts.clone();
    let write = *method != Method::GET;
    let scale = blocking(move || {
        if write {
            scale::write(&objects, &t, &ns, &name, patch_type, &body, &opts)
        } else {
            scale::get(&objects, &t, &ns, &name)
        }
    })
    .await?;
    Ok(with_warnings(
        json_response(StatusCode::OK, &scale),
        &write_opts,
    ))
}

/// Runs store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ApiError::internal(format!("request failed: {e}"))))
}

fn is_protobuf_body(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(protobuf::is_protobuf)
}

/// A create, update or delete body as JSON: JSON or YAML as sent, or decoded from protobuf for
/// built-in kinds. Custom resources take no protobuf (415), as in Kubernetes.
fn decode_body(headers: &HeaderMap, t: &ResourceType, body: &[u8]) -> ApiResult<Value> {
    if !is_protobuf_body(headers) {
        return parse_json_body(body);
    }
    if t.custom {
        return Err(ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml ({})",
            protobuf::MEDIA_TYPE
        )));
    }
    protobuf::decode(body).map_err(|e| match e {
        ProtobufError::Schema(_) => ApiError::internal(e.to_string()),
        e => ApiError::bad_request(format!("unable to decode the protobuf body: {e}")),
    })
}

/// Adds the request's warnings as `Warning: 299 - "text"` headers.
fn with_warnings(mut response: Response, opts: &WriteOptions) -> Response {
    for text in opts.warnings.take() {
        let quoted = text.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(value) = HeaderValue::from_str(&format!("299 - \"{quoted}\"")) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

fn parse_json_body(body: &[u8]) -> ApiResult<Value> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    let value: Value = serde_json::from_slice(body).or_else(|json_err| {
        // kubectl and kube-rs send JSON; YAML bodies are accepted as a convenience.
        std::str::from_utf8(body)
            .ok()
            .and_then(|s| yaml_serde::from_str::<Value>(s).ok())
            .filter(Value::is_object)
            .ok_or_else(|| {
                ApiError::bad_request(format!("the request body is not valid JSON: {json_err}"))
            })
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    Ok(value)
}

fn list_metadata(revision: u64, continue_token: Option<&str>) -> Value {
    let mut m = json!({"resourceVersion": revision.to_string()});
    if let Some(c) = continue_token {
        m["continue"] = json!(c);
    }
    m
}

/// Builds a list body from stored bytes without re-encoding each item.
fn list_response(t: &ResourceType, result: crate::objects::ListResult) -> Response {
    let meta = list_metadata(result.revision, result.continue_token.as_deref());
    let mut out =
        Vec::with_capacity(result.items.iter().map(|i| i.body.len() + 1).sum::<usize>() + 256);
    out.extend_from_slice(
        format!(
            "{{\"kind\":{},\"apiVersion\":{},\"metadata\":{},\"items\":[",
            json!(t.list_kind()),
            json!(t.api_version()),
            meta
        )
        .as_bytes(),
    );
    for (i, item) in result.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if t.custom {
            // Custom objects are shown at the requested version.
            match to_json(t, item) {
                Ok(v) => out.extend_from_slice(v.to_string().as_bytes()),
                Err(_) => out.extend_from_slice(&item.body),
            }
        } else {
            out.extend_from_slice(&item.body);
        }
    }
    out.extend_from_slice(b"]}");
    bytes_response(StatusCode::OK, out)
}

pub fn json_response(code: StatusCode, v: &Value) -> Response {
    bytes_response(code, serde_json::to_vec(v).unwrap_or_default())
}

fn bytes_response(code: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub fn error_response(e: &ApiError) -> Response {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if code.is_server_error() {
        tracing::warn!(code = e.code, "request failed: {}", e.message);
    }
    json_response(code, &e.to_status()).into_response()
}
