//! RFC 7386 JSON merge patch (`application/merge-patch+json`): objects merge recursively,
//! `null` deletes, everything else (lists included) replaces.

use serde_json::Value;

use super::PatchError;

/// Applies a JSON merge patch to `target`. The patch must be a JSON object (kube-apiserver
/// refuses anything else with 400).
pub fn apply_merge_patch(target: &Value, patch: &[u8]) -> Result<Value, PatchError> {
    let patch: Value = serde_json::from_slice(patch)
        .map_err(|e| PatchError::Invalid(format!("invalid JSON merge patch: {e}")))?;
    if !patch.is_object() {
        return Err(PatchError::Invalid(
            "invalid JSON merge patch: the patch must be a JSON object".into(),
        ));
    }
    let mut doc = target.clone();
    json_patch::merge(&mut doc, &patch);
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merges_deletes_and_replaces() {
        let target = json!({
            "metadata": {"labels": {"a": "1", "b": "2"}},
            "spec": {"replicas": 1, "ports": [80, 443], "paused": true}
        });
        let cases: &[(&str, Value)] = &[
            (
                r#"{"metadata":{"labels":{"a":null,"c":"3"}}}"#,
                json!({"metadata": {"labels": {"b": "2", "c": "3"}},
                       "spec": {"replicas": 1, "ports": [80, 443], "paused": true}}),
            ),
            (
                r#"{"spec":{"ports":[8080],"paused":null,"replicas":2}}"#,
                json!({"metadata": {"labels": {"a": "1", "b": "2"}},
                       "spec": {"replicas": 2, "ports": [8080]}}),
            ),
            (
                r#"{"status":{"phase":"Running","gone":null}}"#,
                json!({"metadata": {"labels": {"a": "1", "b": "2"}},
                       "spec": {"replicas": 1, "ports": [80, 443], "paused": true},
                       "status": {"phase": "Running"}}),
            ),
            (r#"{"metadata":null,"spec":null}"#, json!({})),
        ];
        for (patch, want) in cases {
            assert_eq!(
                &apply_merge_patch(&target, patch.as_bytes()).unwrap(),
                want,
                "{patch}"
            );
        }
    }

    #[test]
    fn non_object_patches_are_malformed() {
        for body in ["[1]", "\"x\"", "null", "{"] {
            let err = apply_merge_patch(&json!({}), body.as_bytes()).unwrap_err();
            assert!(matches!(err, PatchError::Invalid(_)), "{body}");
        }
    }
}
