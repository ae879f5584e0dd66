//! The API server as a `kube::Client` without a socket. Requests go through the same router
//! as over HTTPS (bearer-token authentication, every handler, the same answers and watch
//! streams) as function calls inside the process, so the controllers of `ferry up` pay for
//! neither TLS nor a loopback connection. Controllers see only the Kubernetes API this way,
//! the same as through a kubeconfig against any other cluster.

use axum::Router;
use axum::http::{HeaderValue, Request, header};
use tower::ServiceBuilder;

/// A client of `router` presenting `token`, with `default` as its default namespace. Must be
/// called inside a Tokio runtime (the client's request buffer runs on it).
pub(crate) fn client(router: Router, token: &str) -> kube::Client {
    // A token that is no valid header value is sent as none, and refused as such.
    let authorization = HeaderValue::from_str(&format!("Bearer {token}")).ok();
    let service = ServiceBuilder::new()
        .map_request(move |mut request: Request<kube::client::Body>| {
            if let Some(value) = &authorization {
                request
                    .headers_mut()
                    .insert(header::AUTHORIZATION, value.clone());
            }
            request
        })
        .service(router);
    kube::Client::new(service, "default")
}
