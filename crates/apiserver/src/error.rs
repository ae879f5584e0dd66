//! API errors and their Kubernetes `Status` form: every failure a client sees has the code,
//! reason and message kube-apiserver would give.

use ferry_store::StoreError;
use serde_json::{Value, json};

use crate::resources::ResourceType;

/// A failed API call, convertible to a `Status` object with the matching HTTP code.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub code: u16,
    /// The `Status` reason (`NotFound`, `Conflict`, ...).
    pub reason: &'static str,
    /// The message, worded as kube-apiserver words it.
    pub message: String,
    /// The `Status` details (name, kind, causes), when there are any.
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 401 Unauthorized: no or a wrong bearer token.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// 404 NotFound for the object `name` of `kind` (a resource such as `configmaps`).
    pub fn not_found(kind: &str, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{kind} \"{name}\" not found"))
            .with_details(json!({"name": name, "kind": kind}))
    }

    /// The resource type itself is unknown (404 with no details, as for an unserved path).
    pub fn no_route(path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// 409 AlreadyExists for a create.
    pub fn already_exists(t: &ResourceType, name: &str) -> Self {
        let gr = t.group_resource();
        Self::new(
            409,
            "AlreadyExists",
            format!("{gr} \"{name}\" already exists"),
        )
        .with_details(json!({"name": name, "group": t.group, "kind": t.plural}))
    }

    /// 409 Conflict, saying why.
    pub fn conflict(t: &ResourceType, name: &str, why: &str) -> Self {
        let gr = t.group_resource();
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {gr} \"{name}\": {why}"),
        )
        .with_details(json!({"name": name, "group": t.group, "kind": t.plural}))
    }

    /// 409 Conflict for a write against an older resourceVersion.
    pub fn stale(t: &ResourceType, name: &str) -> Self {
        Self::conflict(
            t,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// Server-side apply conflicts, with one cause per field.
    pub fn apply_conflict(message: String, causes: Vec<Value>) -> Self {
        Self::new(409, "Conflict", message).with_details(json!({"causes": causes}))
    }

    /// 410 Expired: a watch or continue token below the compacted revision.
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 413 RequestEntityTooLarge for a body over `limit` bytes.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("the request body exceeds the limit of {limit} bytes"),
        )
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", message)
    }

    /// 422 with one cause per invalid field.
    pub fn invalid(t: &ResourceType, name: &str, causes: Vec<(String, String)>) -> Self {
        Self::invalid_kind(&t.group, &t.kind, name, causes)
    }

    /// 422 for a kind that is not a served resource, such as `PodLogOptions`.
    pub fn invalid_kind(
        group: &str,
        kind: &str,
        name: &str,
        causes: Vec<(String, String)>,
    ) -> Self {
        let summary: Vec<String> = causes.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        let message = format!("{kind} \"{name}\" is invalid: {}", summary.join(", "));
        let causes: Vec<Value> = causes
            .into_iter()
            .map(|(field, message)| json!({"reason": "FieldValueInvalid", "message": message, "field": field}))
            .collect();
        Self::new(422, "Invalid", message)
            .with_details(json!({"name": name, "group": group, "kind": kind, "causes": causes}))
    }

    /// 500 InternalError.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// 503 ServiceUnavailable.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message)
    }

    /// The `Status` object kubectl and kube-rs decode.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }

    /// Maps a store failure on `name` of type `t`.
    pub fn from_store(t: &ResourceType, name: &str, e: StoreError) -> Self {
        match e {
            StoreError::AlreadyExists(_) => Self::already_exists(t, name),
            StoreError::NotFound(_) => Self::not_found(&t.group_resource(), name),
            StoreError::Conflict { .. } => Self::stale(t, name),
            StoreError::Expired {
                requested,
                compacted,
            } => Self::gone(format!(
                "too old resource version: {requested} ({compacted})"
            )),
            StoreError::InvalidObject(m) => Self::bad_request(m),
            other => Self::internal(other.to_string()),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.reason)
    }
}

impl std::error::Error for ApiError {}

/// The result of an API call.
pub type ApiResult<T> = Result<T, ApiError>;
