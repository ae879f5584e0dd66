//! `argoproj.io`: Argo Workflows' Workflow, and Argo CD's own Application (an app of apps
//! takes its children's health).

use serde_json::Value;

use super::{Health, HealthCode};

/// Pending or Running ⇒ Progressing, Succeeded ⇒ Healthy, Failed or Error ⇒ Degraded, with the
/// Workflow's message.
pub(super) fn workflow(obj: &Value) -> Result<Health, String> {
    let text = |pointer| {
        obj.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let message = text("/status/message");
    let code = match text("/status/phase") {
        "" | "Pending" | "Running" => HealthCode::Progressing,
        "Succeeded" => HealthCode::Healthy,
        "Failed" | "Error" => HealthCode::Degraded,
        _ => HealthCode::Unknown,
    };
    Ok(Health::new(code, message))
}

/// The health the child Application reports in `status.health`, as the check Argo CD
/// documents for apps of apps; a child not yet assessed is Progressing.
pub(super) fn application(obj: &Value) -> Result<Health, String> {
    let text = |pointer| {
        obj.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let code = match text("/status/health/status") {
        "Healthy" => HealthCode::Healthy,
        "Suspended" => HealthCode::Suspended,
        "Missing" => HealthCode::Missing,
        "Degraded" => HealthCode::Degraded,
        "Unknown" => HealthCode::Unknown,
        _ => HealthCode::Progressing,
    };
    Ok(Health::new(code, text("/status/health/message")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{Health, HealthCode, assess};

    #[test]
    fn workflows_and_applications() {
        use HealthCode::*;
        let table = [
            (
                json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "w"}}),
                Progressing,
                "",
            ),
            (
                json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "w"},
                "status": {"phase": "Failed", "message": "step 2 failed"}}),
                Degraded,
                "step 2 failed",
            ),
            (
                json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "w"},
                "status": {"phase": "Succeeded"}}),
                Healthy,
                "",
            ),
            (
                json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "a"}}),
                Progressing,
                "",
            ),
            (
                json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "a"},
                "status": {"health": {"status": "Degraded", "message": "child failed"}}}),
                Degraded,
                "child failed",
            ),
        ];
        for (obj, code, message) in table {
            assert_eq!(assess(&obj), Some(Health::new(code, message)), "{obj}");
        }
    }
}
