//! What a request asks for besides its path: list, write, patch and delete options from the
//! query string, headers and a DeleteOptions body, checked and worded as kube-apiserver does.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use ferry_api::selector::{FieldSelector, LabelSelector};
use serde_json::{Value, json};

use super::{decode_body, is_protobuf_body};
use crate::error::{ApiError, ApiResult};
use crate::objects::{
    DeleteOptions, FieldValidation, ListOptions, PatchType, Propagation, WriteOptions,
};
use crate::resources::ResourceType;

/// A boolean query parameter (`watch=1`, `force=true`).
pub(super) fn flag(query: &HashMap<String, String>, key: &str) -> bool {
    matches!(
        query.get(key).map(String::as_str),
        Some("1" | "true" | "True")
    )
}

/// Whether the client asked for a `Table` (kubectl's `get`).
pub(super) fn accepts_table(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.split(',')
                .next()
                .is_some_and(|first| first.contains("as=Table"))
        })
}

/// `labelSelector`, `fieldSelector`, `limit` and `continue` of a list or watch.
pub(crate) fn list_options(query: &HashMap<String, String>) -> ApiResult<ListOptions> {
    let param = |k: &str| query.get(k).filter(|s| !s.is_empty());
    let labels = param("labelSelector")
        .map(|s| LabelSelector::parse(s))
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
    let fields = param("fieldSelector")
        .map(|s| FieldSelector::parse(s))
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("invalid field selector: {e}")))?;
    let limit = match param("limit") {
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n > 0 => Some(n as usize),
            Ok(_) => None,
            Err(_) => return Err(ApiError::bad_request(format!("invalid limit {l:?}"))),
        },
        None => None,
    };
    Ok(ListOptions {
        labels,
        fields,
        limit,
        continue_token: param("continue").cloned(),
    })
}

/// `dryRun`, `fieldManager` (defaulting to the user agent's program) and `fieldValidation`.
pub(super) fn write_options(
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> ApiResult<WriteOptions> {
    let dry_run = match query.get("dryRun").map(String::as_str) {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unsupported dryRun value {other:?}: only \"All\" is supported"
            )));
        }
    };
    let field_manager = query.get("fieldManager").cloned().or_else(|| {
        // Kubernetes defaults the manager to the user agent's program name.
        headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .and_then(|ua| ua.split('/').next())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    });
    if let Some(m) = &field_manager
        && m.len() > 128
    {
        return Err(ApiError::bad_request(
            "fieldManager: Too long: must have at most 128 bytes",
        ));
    }
    // Kubernetes' default is Warn.
    let field_validation = match query.get("fieldValidation").map(String::as_str) {
        None | Some("") | Some("Warn") => FieldValidation::Warn,
        Some("Ignore") => FieldValidation::Ignore,
        Some("Strict") => FieldValidation::Strict,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Warn\", \"Strict\""
            )));
        }
    };
    Ok(WriteOptions {
        dry_run,
        field_manager,
        field_validation,
        warnings: Default::default(),
    })
}

/// The patch format named by the `Content-Type`.
pub(super) fn patch_type(
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> ApiResult<PatchType> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    Ok(match content_type {
        "application/json-patch+json" => PatchType::Json,
        "application/merge-patch+json" => PatchType::Merge,
        "application/strategic-merge-patch+json" => PatchType::Strategic,
        "application/apply-patch+yaml" | "application/apply-patch+json" => PatchType::Apply {
            force: flag(query, "force"),
        },
        other => {
            return Err(ApiError::unsupported_media_type(format!(
                "the body of the request was in an unknown format ({other:?}) - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json"
            )));
        }
    })
}

/// Propagation, dry run and preconditions from the query and a DeleteOptions body.
pub(super) fn delete_options(
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    t: &ResourceType,
    body: &[u8],
) -> ApiResult<DeleteOptions> {
    let mut opts = DeleteOptions::default();
    let body_opts: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else if is_protobuf_body(headers) {
        decode_body(headers, t, body)?
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
    };
    let propagation = query
        .get("propagationPolicy")
        .map(String::as_str)
        .or_else(|| body_opts.get("propagationPolicy").and_then(Value::as_str));
    opts.propagation = match propagation {
        None | Some("") => None,
        Some("Orphan") => Some(Propagation::Orphan),
        Some("Background") => Some(Propagation::Background),
        Some("Foreground") => Some(Propagation::Foreground),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    };
    if body_opts.get("orphanDependents").and_then(Value::as_bool) == Some(true)
        && opts.propagation.is_none()
    {
        opts.propagation = Some(Propagation::Orphan);
    }
    let dry_run = query.get("dryRun").map(String::as_str) == Some("All")
        || body_opts["dryRun"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == "All"));
    opts.dry_run = dry_run;
    opts.precondition_uid = body_opts
        .pointer("/preconditions/uid")
        .and_then(Value::as_str)
        .map(str::to_string);
    opts.precondition_revision = body_opts
        .pointer("/preconditions/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(opts)
}

/// A query string's parameters, for tests.
#[cfg(test)]
pub(crate) fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn message<T>(result: ApiResult<T>) -> String {
        result.err().expect("an error").message
    }

    #[test]
    fn list_options_read_selectors_limit_and_continue() {
        let opts = list_options(&query(&[
            ("labelSelector", "app=web"),
            ("fieldSelector", "metadata.name=a"),
            ("limit", "5"),
            ("continue", "token"),
        ]))
        .unwrap();
        assert_eq!(opts.labels.unwrap().to_string(), "app=web");
        assert_eq!(opts.fields.unwrap().to_string(), "metadata.name=a");
        assert_eq!(
            (opts.limit, opts.continue_token.as_deref()),
            (Some(5), Some("token"))
        );
        // A limit of zero or less means no limit, as in Kubernetes.
        assert_eq!(list_options(&query(&[("limit", "0")])).unwrap().limit, None);
        assert_eq!(
            message(list_options(&query(&[("limit", "ten")]))),
            "invalid limit \"ten\""
        );
        assert!(
            message(list_options(&query(&[("labelSelector", "a in (")])))
                .starts_with("unable to parse requirement: ")
        );
    }

    #[test]
    fn write_options_follow_kube_apiserver_defaults_and_limits() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static("kubectl/v1.32.0"),
        );
        let opts = write_options(&query(&[]), &headers).unwrap();
        assert_eq!(opts.field_manager.as_deref(), Some("kubectl"));
        assert_eq!(opts.field_validation, FieldValidation::Warn);
        assert!(!opts.dry_run);
        let opts = write_options(
            &query(&[
                ("dryRun", "All"),
                ("fieldValidation", "Strict"),
                ("fieldManager", "me"),
            ]),
            &headers,
        )
        .unwrap();
        assert!(opts.dry_run);
        assert_eq!(opts.field_manager.as_deref(), Some("me"));
        assert_eq!(opts.field_validation, FieldValidation::Strict);
        assert!(
            message(write_options(&query(&[("dryRun", "Some")]), &headers))
                .contains("only \"All\" is supported")
        );
        let long = "m".repeat(129);
        assert_eq!(
            message(write_options(&query(&[("fieldManager", &long)]), &headers)),
            "fieldManager: Too long: must have at most 128 bytes"
        );
        assert!(
            message(write_options(
                &query(&[("fieldValidation", "Loose")]),
                &headers
            ))
            .starts_with("fieldValidation: Unsupported value: \"Loose\"")
        );
    }

    #[test]
    fn patch_types_come_from_the_content_type() {
        let patch = |content_type: &'static str, q: &[(&str, &str)]| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            patch_type(&headers, &query(q))
        };
        assert_eq!(
            patch("application/json-patch+json", &[]).unwrap(),
            PatchType::Json
        );
        assert_eq!(
            patch("application/merge-patch+json; charset=utf-8", &[]).unwrap(),
            PatchType::Merge
        );
        assert_eq!(
            patch("application/apply-patch+yaml", &[("force", "true")]).unwrap(),
            PatchType::Apply { force: true }
        );
        let err = patch("text/plain", &[]).err().unwrap();
        assert_eq!(err.code, 415);
    }

    #[test]
    fn delete_options_from_the_query_and_the_body() {
        let t = crate::resources::Resources::new()
            .lookup("", "v1", "configmaps")
            .unwrap();
        let headers = HeaderMap::new();
        let opts = delete_options(
            &query(&[("propagationPolicy", "Foreground")]),
            &headers,
            &t,
            b"",
        )
        .unwrap();
        assert_eq!(opts.propagation, Some(Propagation::Foreground));
        let body = br#"{"orphanDependents": true, "dryRun": ["All"],
            "preconditions": {"uid": "u1", "resourceVersion": "7"}}"#;
        let opts = delete_options(&query(&[]), &headers, &t, body).unwrap();
        assert_eq!(opts.propagation, Some(Propagation::Orphan));
        assert!(opts.dry_run);
        assert_eq!(opts.precondition_uid.as_deref(), Some("u1"));
        assert_eq!(opts.precondition_revision.as_deref(), Some("7"));
        assert!(
            message(delete_options(
                &query(&[("propagationPolicy", "Later")]),
                &headers,
                &t,
                b""
            ))
            .starts_with("propagationPolicy: Unsupported value")
        );
        assert!(
            message(delete_options(&query(&[]), &headers, &t, b"{"))
                .starts_with("invalid DeleteOptions")
        );
    }
}
