//! RFC 6902 JSON Patch (`application/json-patch+json`), via the `json-patch` crate, with
//! failures worded as kube-apiserver's JSON-patch library words them.

use json_patch::{Patch, PatchErrorKind, PatchOperation};
use serde_json::Value;

use super::PatchError;

/// Applies a JSON Patch document to `target`.
///
/// A body that is not a JSON array of operations, and an operation that cannot be applied (a
/// failed `test`, a missing path), are [`PatchError::Invalid`]; nothing of the patch is then
/// applied.
pub fn apply_json_patch(target: &Value, patch: &[u8]) -> Result<Value, PatchError> {
    let ops: Patch = serde_json::from_slice(patch)
        .map_err(|e| PatchError::Invalid(format!("invalid JSON patch: {e}")))?;
    let mut doc = target.clone();
    json_patch::patch_unsafe(&mut doc, &ops).map_err(|e| {
        PatchError::Invalid(describe(
            ops.0.get(e.operation),
            &e.kind,
            &e.path.to_string(),
        ))
    })?;
    Ok(doc)
}

fn describe(op: Option<&PatchOperation>, kind: &PatchErrorKind, path: &str) -> String {
    let (name, from) = match op {
        Some(PatchOperation::Add(_)) => ("add", None),
        Some(PatchOperation::Remove(_)) => ("remove", None),
        Some(PatchOperation::Replace(_)) => ("replace", None),
        Some(PatchOperation::Move(m)) => ("move", Some(m.from.to_string())),
        Some(PatchOperation::Copy(c)) => ("copy", Some(c.from.to_string())),
        Some(PatchOperation::Test(_)) => ("test", None),
        None => ("unknown", None),
    };
    let last = path.rsplit('/').next().unwrap_or(path);
    match kind {
        PatchErrorKind::TestFailed => format!("testing value {path} failed: test failed"),
        PatchErrorKind::InvalidFromPointer => format!(
            "{name} operation does not apply: doc is missing from path: {}: missing value",
            from.unwrap_or_default()
        ),
        PatchErrorKind::CannotMoveInsideItself => format!(
            "move operation does not apply: cannot move {} into its own child {path}",
            from.unwrap_or_default()
        ),
        PatchErrorKind::InvalidPointer => match name {
            "add" => format!(
                "add operation does not apply: doc is missing path: \"{path}\": missing value"
            ),
            "remove" => format!("Unable to remove nonexistent key: {last}: missing value"),
            "replace" => {
                format!(
                    "replace operation does not apply: doc is missing key: {path}: missing value"
                )
            }
            "test" => format!("testing value {path} failed: missing value"),
            _ => format!("{name} operation does not apply: doc is missing path: {path}"),
        },
        other => format!("{name} operation failed at {path}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj() -> Value {
        json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"replicas": 1, "ports": [80, 443]}})
    }

    #[test]
    fn operations_apply() {
        let cases: &[(&str, Value)] = &[
            (
                r#"[{"op":"add","path":"/metadata/labels/y","value":"2"}]"#,
                json!({"metadata": {"name": "a", "labels": {"x": "1", "y": "2"}}, "spec": {"replicas": 1, "ports": [80, 443]}}),
            ),
            (
                r#"[{"op":"replace","path":"/spec/replicas","value":3}]"#,
                json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"replicas": 3, "ports": [80, 443]}}),
            ),
            (
                r#"[{"op":"remove","path":"/metadata/labels/x"},{"op":"add","path":"/spec/ports/-","value":8080}]"#,
                json!({"metadata": {"name": "a", "labels": {}}, "spec": {"replicas": 1, "ports": [80, 443, 8080]}}),
            ),
            (
                r#"[{"op":"test","path":"/spec/replicas","value":1},{"op":"move","from":"/spec/ports","path":"/spec/p"}]"#,
                json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"replicas": 1, "p": [80, 443]}}),
            ),
            ("[]", obj()),
        ];
        for (patch, want) in cases {
            assert_eq!(
                &apply_json_patch(&obj(), patch.as_bytes()).unwrap(),
                want,
                "{patch}"
            );
        }
    }

    #[test]
    fn failures_are_invalid_and_atomic() {
        let cases: &[(&str, &str)] = &[
            (
                r#"[{"op":"replace","path":"/spec/replicas","value":2},{"op":"test","path":"/spec/replicas","value":5}]"#,
                "testing value /spec/replicas failed: test failed",
            ),
            (
                r#"[{"op":"remove","path":"/spec/paused"}]"#,
                "Unable to remove nonexistent key: paused: missing value",
            ),
            (
                r#"[{"op":"replace","path":"/spec/paused","value":true}]"#,
                "replace operation does not apply: doc is missing key: /spec/paused: missing value",
            ),
            (
                r#"[{"op":"add","path":"/status/phase","value":"x"}]"#,
                "add operation does not apply: doc is missing path: \"/status/phase\": missing value",
            ),
        ];
        for (patch, want) in cases {
            assert_eq!(
                apply_json_patch(&obj(), patch.as_bytes()),
                Err(PatchError::Invalid(want.to_string())),
                "{patch}"
            );
        }
    }

    #[test]
    fn malformed_bodies() {
        for body in [
            "{",
            r#"{"op":"add"}"#,
            r#"[{"op":"frobnicate","path":"/a"}]"#,
        ] {
            let err = apply_json_patch(&obj(), body.as_bytes()).unwrap_err();
            assert_eq!(err.status_code(), 400);
            assert!(
                matches!(&err, PatchError::Invalid(m) if m.starts_with("invalid JSON patch")),
                "{body}"
            );
        }
    }
}
