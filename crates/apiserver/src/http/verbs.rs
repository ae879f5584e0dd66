//! The verbs on a resource's collection or one of its objects — watch, list, get, create,
//! update, patch, delete, deletecollection — each one function of the same [`Call`], chosen
//! by [`dispatch`] from the method and whether the path names an object.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::options::{accepts_table, delete_options, flag, list_options, patch_type};
use super::{
    AppState, ResourcePath, blocking, decode_body, json_response, list_metadata, list_response,
    with_warnings,
};
use crate::error::{ApiError, ApiResult};
use crate::objects::{Deleted, ListOptions, Subresource, WriteOptions, to_json};
use crate::resources::ResourceType;
use crate::table;
use crate::watch::{self, WatchParams};

/// One request on a resource, its options read.
pub(super) struct Call<'a> {
    pub state: &'a Arc<AppState>,
    pub t: Arc<ResourceType>,
    pub path: &'a ResourcePath,
    pub headers: &'a HeaderMap,
    pub query: &'a HashMap<String, String>,
    pub body: Bytes,
    pub sub: Option<Subresource>,
    pub write_opts: WriteOptions,
}

impl Call<'_> {
    /// The namespace of the path, `""` for cluster-scoped paths.
    fn namespace(&self) -> String {
        self.path.namespace.clone().unwrap_or_default()
    }
}

/// Runs the verb `method` names on the path's collection (no name) or object.
pub(super) async fn dispatch(
    call: Call<'_>,
    method: &Method,
    uri_path: &str,
) -> ApiResult<Response> {
    let is_watch = call.path.watch || flag(call.query, "watch");
    match (method, call.path.name.clone()) {
        (&Method::GET, name) if is_watch => watch(call, name).await,
        (&Method::GET, None) => list(call).await,
        (&Method::GET, Some(name)) => get(call, name).await,
        (&Method::POST, None) => create(call).await,
        (&Method::PUT, Some(name)) => update(call, name).await,
        (&Method::PATCH, Some(name)) => patch(call, name).await,
        (&Method::DELETE, Some(name)) => delete(call, name).await,
        (&Method::DELETE, None) => delete_collection(call).await,
        (m, _) => Err(ApiError::method_not_allowed(format!(
            "{m} is not supported on {uri_path}"
        ))),
    }
}

async fn watch(call: Call<'_>, name: Option<String>) -> ApiResult<Response> {
    let mut params = WatchParams::from_query(call.query)?;
    params.single_name = name;
    let namespace = call.path.namespace.clone().filter(|_| call.t.namespaced);
    let objects = call.state.objects.clone();
    let stopped = call.state.stopped.clone();
    let want_table = accepts_table(call.headers);
    Ok(watch::serve(objects, call.t, namespace, params, want_table, stopped).await)
}

async fn list(call: Call<'_>) -> ApiResult<Response> {
    let opts = list_options(call.query)?;
    let namespace = call.path.namespace.clone();
    let (objects, t) = (call.state.objects.clone(), call.t.clone());
    let result = blocking(move || objects.list(&t, namespace.as_deref(), &opts)).await?;
    if accepts_table(call.headers) {
        let items = result
            .items
            .iter()
            .map(|o| to_json(&call.t, o))
            .collect::<ApiResult<Vec<_>>>()?;
        let mut doc = table::render(&call.t, &items);
        doc["metadata"] = list_metadata(result.revision, result.continue_token.as_deref());
        return Ok(json_response(StatusCode::OK, &doc));
    }
    Ok(list_response(&call.t, result))
}

async fn get(call: Call<'_>, name: String) -> ApiResult<Response> {
    let (objects, t, ns) = (call.state.objects.clone(), call.t.clone(), call.namespace());
    let obj = blocking(move || objects.get_json(&t, &ns, &name)).await?;
    if accepts_table(call.headers) {
        return Ok(json_response(
            StatusCode::OK,
            &table::render(&call.t, &[obj]),
        ));
    }
    Ok(json_response(StatusCode::OK, &obj))
}

async fn create(call: Call<'_>) -> ApiResult<Response> {
    let obj = decode_body(call.headers, &call.t, &call.body)?;
    let (objects, t, ns) = (call.state.objects.clone(), call.t.clone(), call.namespace());
    let opts = call.write_opts.clone();
    let created = blocking(move || objects.create(&t, &ns, obj, &opts)).await?;
    Ok(with_warnings(
        json_response(StatusCode::CREATED, &created),
        &call.write_opts,
    ))
}

async fn update(call: Call<'_>, name: String) -> ApiResult<Response> {
    let obj = decode_body(call.headers, &call.t, &call.body)?;
    let (objects, t, ns) = (call.state.objects.clone(), call.t.clone(), call.namespace());
    let (sub, opts) = (call.sub, call.write_opts.clone());
    let updated = blocking(move || objects.update(&t, &ns, &name, obj, sub, &opts)).await?;
    Ok(with_warnings(
        json_response(StatusCode::OK, &updated),
        &call.write_opts,
    ))
}

async fn patch(call: Call<'_>, name: String) -> ApiResult<Response> {
    let patch_type = patch_type(call.headers, call.query)?;
    let (objects, t, ns) = (call.state.objects.clone(), call.t.clone(), call.namespace());
    let (sub, opts, body) = (call.sub, call.write_opts.clone(), call.body.clone());
    let (obj, created) =
        blocking(move || objects.patch(&t, &ns, &name, patch_type, &body, sub, &opts)).await?;
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(with_warnings(json_response(code, &obj), &call.write_opts))
}

async fn delete(call: Call<'_>, name: String) -> ApiResult<Response> {
    let opts = delete_options(call.query, call.headers, &call.t, &call.body)?;
    let (objects, t, ns) = (call.state.objects.clone(), call.t.clone(), call.namespace());
    let deleted = blocking(move || objects.delete(&t, &ns, &name, &opts)).await?;
    let (Deleted::Gone(obj) | Deleted::Pending(obj)) = deleted;
    Ok(json_response(StatusCode::OK, &obj))
}

async fn delete_collection(call: Call<'_>) -> ApiResult<Response> {
    let opts = delete_options(call.query, call.headers, &call.t, &call.body)?;
    let list_opts = ListOptions {
        limit: None,
        continue_token: None,
        ..list_options(call.query)?
    };
    let namespace = call.path.namespace.clone();
    let (objects, t) = (call.state.objects.clone(), call.t.clone());
    let gone = blocking(move || {
        let page = objects.list(&t, namespace.as_deref(), &list_opts)?;
        let mut gone = Vec::new();
        for item in page.items {
            match objects.delete(&t, &item.key.namespace, &item.key.name, &opts) {
                Ok(Deleted::Gone(o)) | Ok(Deleted::Pending(o)) => gone.push(o),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(gone)
    })
    .await?;
    let doc = json!({
        "kind": call.t.list_kind(), "apiVersion": call.t.api_version(),
        "metadata": {}, "items": gone,
    });
    Ok(json_response(StatusCode::OK, &doc))
}
