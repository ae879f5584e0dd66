//! `apiregistration.k8s.io`: APIService.

use serde_json::Value;

use super::{Fields, Health, HealthCode};

/// The `Available` condition decides (true ⇒ Healthy, otherwise Progressing, with its reason
/// and message); without one the APIService is "Waiting to be processed".
pub(super) fn api_service(obj: &Value) -> Result<Health, String> {
    let f = Fields::of(obj, "APIService", &["v1", "v1beta1"])?;
    let conditions = f.conditions("/status/conditions")?;
    Ok(match conditions.iter().find(|c| c.type_ == "Available") {
        Some(c) => Health::new(
            if c.status == "True" {
                HealthCode::Healthy
            } else {
                HealthCode::Progressing
            },
            format!("{}: {}", c.reason, c.message),
        ),
        None => Health::new(HealthCode::Progressing, "Waiting to be processed"),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{Health, HealthCode, assess};

    #[test]
    fn api_services() {
        let table = [
            (
                json!([{"type": "Available", "status": "True", "reason": "Passed", "message": "all checks passed"}]),
                HealthCode::Healthy,
                "Passed: all checks passed",
            ),
            (
                json!([{"type": "Available", "status": "False", "reason": "MissingEndpoints", "message": "no endpoints"}]),
                HealthCode::Progressing,
                "MissingEndpoints: no endpoints",
            ),
            (
                json!([]),
                HealthCode::Progressing,
                "Waiting to be processed",
            ),
        ];
        for (conditions, code, message) in table {
            let obj = json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                "metadata": {"name": "v1.metrics"}, "status": {"conditions": conditions}});
            assert_eq!(
                assess(&obj),
                Some(Health::new(code, message)),
                "{conditions}"
            );
        }
    }
}
