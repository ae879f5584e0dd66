//! The core group: Service, PersistentVolumeClaim, Pod.

use serde_json::Value;

use super::{Fields, Health, HealthCode};

/// The Pod annotation that makes a Pod with restart policy OnFailure or Never count as
/// long-running.
const IGNORE_RESTART_POLICY: &str = "argocd.argoproj.io/ignore-restart-policy";

/// A LoadBalancer without an ingress address yet ⇒ Progressing; any other Service is Healthy.
pub(super) fn service(obj: &Value) -> Result<Health, String> {
    let f = Fields::of(obj, "Service", &["v1"])?;
    let waiting = f.text("/spec/type")? == "LoadBalancer"
        && f.list("/status/loadBalancer/ingress")?.is_empty();
    Ok(Health::of(if waiting {
        HealthCode::Progressing
    } else {
        HealthCode::Healthy
    }))
}

/// Bound ⇒ Healthy, Pending ⇒ Progressing, Lost ⇒ Degraded, anything else Unknown.
pub(super) fn persistent_volume_claim(obj: &Value) -> Result<Health, String> {
    let f = Fields::of(obj, "PersistentVolumeClaim", &["v1"])?;
    Ok(Health::of(match f.text("/status/phase")? {
        "Bound" => HealthCode::Healthy,
        "Pending" => HealthCode::Progressing,
        "Lost" => HealthCode::Degraded,
        _ => HealthCode::Unknown,
    }))
}

/// A long-running Pod (`restartPolicy: Always`, the default, or the `ignore-restart-policy`
/// annotation) is Degraded while a container
/// waits on an error or a back-off, Healthy when Ready; a run-to-completion Pod is Healthy
/// when it Succeeded and Degraded when it Failed, with the container's reason.
pub(super) fn pod(obj: &Value) -> Result<Health, String> {
    let f = Fields::of(obj, "Pod", &["v1"])?;
    // The API server defaults `restartPolicy` to Always; an object read before defaulting
    // (a rendered manifest) means the same.
    let restart_policy = match f.text("/spec/restartPolicy")? {
        "" => "Always",
        policy => policy,
    };
    // `ignore-restart-policy` judges a run-to-completion Pod as a long-running one, except a
    // hook, whose completion is what the sync waits for.
    let long_running = restart_policy == "Always"
        || (ferry_api::meta::annotation(obj, IGNORE_RESTART_POLICY) == Some("true")
            && !crate::hook::is_hook(obj));
    let containers = f.list("/status/containerStatuses")?;
    let message = f.text("/status/message")?;
    if long_running {
        let mut failing = Vec::new();
        for (i, container) in containers.iter().enumerate() {
            let c = Fields {
                obj: container,
                kind: "Pod",
            };
            let reason = c.text("/state/waiting/reason").map_err(|_| {
                f.wrong_type(
                    &format!("/status/containerStatuses/{i}/state/waiting/reason"),
                    "a string",
                )
            })?;
            if reason.starts_with("Err") || reason.ends_with("Error") || reason.ends_with("BackOff")
            {
                failing.push(c.text("/state/waiting/message").unwrap_or_default());
            }
        }
        if !failing.is_empty() {
            return Ok(Health::new(HealthCode::Degraded, failing.join(", ")));
        }
    }
    Ok(match f.text("/status/phase")? {
        "Pending" => Health::new(HealthCode::Progressing, message),
        "Succeeded" => Health::new(HealthCode::Healthy, message),
        "Failed" if !message.is_empty() => Health::new(HealthCode::Degraded, message),
        "Failed" => {
            let init = f.list("/status/initContainerStatuses")?;
            let reason = init
                .iter()
                .chain(containers)
                .find_map(failure_of)
                .unwrap_or_default();
            Health::new(HealthCode::Degraded, reason)
        }
        "Running" if long_running => {
            let ready = f
                .conditions("/status/conditions")?
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            let restarted = containers.iter().any(|c| {
                c.pointer("/lastState/terminated")
                    .is_some_and(|t| !t.is_null())
            });
            let code = if ready {
                HealthCode::Healthy
            } else if restarted {
                HealthCode::Degraded
            } else {
                HealthCode::Progressing
            };
            Health::new(code, message)
        }
        "Running" if matches!(restart_policy, "OnFailure" | "Never") => {
            Health::new(HealthCode::Progressing, message)
        }
        _ => Health::new(HealthCode::Unknown, message),
    })
}

/// Why a terminated container failed: its message, `OOMKilled`, or its exit code.
fn failure_of(container: &Value) -> Option<String> {
    let terminated = container.pointer("/state/terminated")?;
    let text = |key: &str| {
        terminated
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    if !text("message").is_empty() {
        return Some(text("message").to_string());
    }
    if text("reason") == "OOMKilled" {
        return Some("OOMKilled".to_string());
    }
    let code = terminated
        .get("exitCode")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let name = container
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    (code != 0).then(|| format!("container {name:?} failed with exit code {code}"))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::{Health, HealthCode, assess};

    fn object(kind: &str, spec: Value, status: Value) -> Value {
        json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": "x"},
            "spec": spec, "status": status})
    }

    #[test]
    fn services_and_claims() {
        use HealthCode::*;
        let table = [
            ("Service", json!({"type": "ClusterIP"}), json!({}), Healthy),
            (
                "Service",
                json!({"type": "LoadBalancer"}),
                json!({}),
                Progressing,
            ),
            (
                "Service",
                json!({"type": "LoadBalancer"}),
                json!({"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}),
                Healthy,
            ),
            (
                "PersistentVolumeClaim",
                json!({}),
                json!({"phase": "Bound"}),
                Healthy,
            ),
            (
                "PersistentVolumeClaim",
                json!({}),
                json!({"phase": "Pending"}),
                Progressing,
            ),
            (
                "PersistentVolumeClaim",
                json!({}),
                json!({"phase": "Lost"}),
                Degraded,
            ),
            ("PersistentVolumeClaim", json!({}), json!({}), Unknown),
        ];
        for (kind, spec, status, code) in table {
            let obj = object(kind, spec.clone(), status.clone());
            assert_eq!(
                assess(&obj),
                Some(Health::of(code)),
                "{kind} {spec} {status}"
            );
        }
    }

    #[test]
    fn pods() {
        use HealthCode::*;
        let ready = json!([{"type": "Ready", "status": "True"}]);
        let table = [
            (
                json!({}),
                json!({"phase": "Pending", "message": "scheduling"}),
                Progressing,
                "scheduling",
            ),
            (
                json!({}),
                json!({"phase": "Running", "conditions": ready}),
                Healthy,
                "",
            ),
            (json!({}), json!({"phase": "Running"}), Progressing, ""),
            (
                json!({}),
                json!({"phase": "Running", "containerStatuses": [
                {"name": "app", "lastState": {"terminated": {"exitCode": 1}}}]}),
                Degraded,
                "",
            ),
            (
                json!({}),
                json!({"phase": "Running", "containerStatuses": [
                {"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}}},
                {"name": "side", "state": {"waiting": {"reason": "ErrImagePull", "message": "no such image"}}}]}),
                Degraded,
                "back-off 10s, no such image",
            ),
            (
                json!({"restartPolicy": "Never"}),
                json!({"phase": "Running"}),
                Progressing,
                "",
            ),
            (
                json!({"restartPolicy": "Never"}),
                json!({"phase": "Succeeded"}),
                Healthy,
                "",
            ),
            (
                json!({"restartPolicy": "Never"}),
                json!({"phase": "Failed", "message": "evicted"}),
                Degraded,
                "evicted",
            ),
            (
                json!({"restartPolicy": "Never"}),
                json!({"phase": "Failed", "containerStatuses": [
                {"name": "app", "state": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}),
                Degraded,
                "OOMKilled",
            ),
            (
                json!({"restartPolicy": "OnFailure"}),
                json!({"phase": "Failed",
                "initContainerStatuses": [{"name": "init", "state": {"terminated": {"exitCode": 0}}}],
                "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 3}}}]}),
                Degraded,
                "container \"app\" failed with exit code 3",
            ),
            // A Never pod is not judged by waiting reasons.
            (
                json!({"restartPolicy": "Never"}),
                json!({"phase": "Pending", "containerStatuses": [
                {"name": "app", "state": {"waiting": {"reason": "ErrImagePull"}}}]}),
                Progressing,
                "",
            ),
            (json!({}), json!({}), Unknown, ""),
        ];
        for (spec, status, code, message) in table {
            let obj = object("Pod", spec.clone(), status.clone());
            assert_eq!(
                assess(&obj),
                Some(Health::new(code, message)),
                "{spec} {status}"
            );
        }
    }

    #[test]
    fn ignore_restart_policy_judges_a_running_pod_by_readiness_except_a_hook() {
        let mut obj = object(
            "Pod",
            json!({"restartPolicy": "Never"}),
            json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}),
        );
        obj["metadata"]["annotations"] =
            json!({"argocd.argoproj.io/ignore-restart-policy": "true"});
        assert_eq!(assess(&obj), Some(Health::of(HealthCode::Healthy)));
        obj["metadata"]["annotations"]["argocd.argoproj.io/hook"] = json!("PostSync");
        assert_eq!(assess(&obj), Some(Health::of(HealthCode::Progressing)));
    }
}
