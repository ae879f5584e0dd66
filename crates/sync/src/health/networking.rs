//! `networking.k8s.io` and `extensions`: Ingress.

use serde_json::Value;

use super::{Health, HealthCode};

/// An Ingress is Healthy once its load balancer has an address, Progressing until then. As in
/// gitops-engine, every version is accepted and a malformed status reads as no address.
pub(super) fn ingress(obj: &Value) -> Result<Health, String> {
    let addressed = obj
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .is_some_and(|list| !list.is_empty());
    Ok(Health::of(if addressed {
        HealthCode::Healthy
    } else {
        HealthCode::Progressing
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{Health, HealthCode, assess};

    #[test]
    fn ingresses_wait_for_an_address() {
        for (api_version, status, code) in [
            ("networking.k8s.io/v1", json!({}), HealthCode::Progressing),
            (
                "networking.k8s.io/v1",
                json!({"loadBalancer": {"ingress": [{"hostname": "lb"}]}}),
                HealthCode::Healthy,
            ),
            (
                "extensions/v1beta1",
                json!({"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}),
                HealthCode::Healthy,
            ),
        ] {
            let obj = json!({"apiVersion": api_version, "kind": "Ingress", "metadata": {"name": "i"},
                "status": status});
            assert_eq!(
                assess(&obj),
                Some(Health::of(code)),
                "{api_version} {status}"
            );
        }
    }
}
