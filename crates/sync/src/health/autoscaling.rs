//! `autoscaling`: HorizontalPodAutoscaler, judged by its conditions (for `v1`, the conditions
//! kept in the `autoscaling.alpha.kubernetes.io/conditions` annotation).

use serde_json::Value;

use super::{Condition, Fields, Health, HealthCode};

/// The `v1` annotation holding the conditions later versions have in `status.conditions`.
const V1_CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";

/// The (type, reason) pairs that mean the autoscaler cannot do its job.
const DEGRADED: [(&str, &str); 8] = [
    ("AbleToScale", "FailedGetScale"),
    ("AbleToScale", "FailedUpdateScale"),
    ("ScalingActive", "FailedGetResourceMetric"),
    ("ScalingActive", "FailedGetObjectMetric"),
    ("ScalingActive", "FailedGetPodsMetric"),
    ("ScalingActive", "FailedGetExternalMetric"),
    ("ScalingActive", "FailedComputeMetricsReplicas"),
    ("ScalingActive", "InvalidSelector"),
];

/// Any failure above makes it Degraded (the first one's message); else the first
/// `AbleToScale` or `ScalingLimited` condition that is true makes it Healthy; otherwise
/// "Waiting to Autoscale". `v2beta1` and `v2beta2`, gone from Kubernetes, are Unknown as in
/// Argo CD 3.
pub(super) fn horizontal_pod_autoscaler(obj: &Value) -> Result<Health, String> {
    let f = Fields::of(obj, "HorizontalPodAutoscaler", &["v1", "v2"])?;
    let from_annotation;
    let conditions = if f.text("/apiVersion")?.ends_with("/v1") {
        let Some(text) = ferry_api::meta::annotation(obj, V1_CONDITIONS) else {
            return Ok(waiting());
        };
        from_annotation = serde_json::from_str::<Value>(text)
            .map_err(|e| format!("failed to parse the {V1_CONDITIONS} annotation: {e}"))?;
        let list = Fields {
            obj: &from_annotation,
            kind: "HorizontalPodAutoscaler",
        };
        list.conditions("")?
    } else {
        f.conditions("/status/conditions")?
    };
    Ok(decide(&conditions))
}

fn decide(conditions: &[Condition<'_>]) -> Health {
    if let Some(c) = conditions
        .iter()
        .find(|c| DEGRADED.contains(&(c.type_, c.reason)))
    {
        return Health::new(HealthCode::Degraded, c.message);
    }
    if let Some(c) = conditions
        .iter()
        .find(|c| matches!(c.type_, "AbleToScale" | "ScalingLimited") && c.status == "True")
    {
        return Health::new(HealthCode::Healthy, c.message);
    }
    waiting()
}

fn waiting() -> Health {
    Health::new(HealthCode::Progressing, "Waiting to Autoscale")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{Health, HealthCode, assess};

    #[test]
    fn autoscalers() {
        use HealthCode::*;
        let able = json!([{"type": "AbleToScale", "status": "True", "reason": "SucceededRescale",
            "message": "the HPA controller was able to update the target scale"}]);
        // A failure listed after a healthy condition still wins.
        let failing = json!([{"type": "AbleToScale", "status": "True"}, {"type": "ScalingActive",
            "status": "False", "reason": "FailedGetResourceMetric", "message": "missing request for cpu"}]);
        let table = [
            (
                "autoscaling/v2",
                json!({"conditions": able}),
                None,
                Healthy,
                "the HPA controller was able to update the target scale",
            ),
            (
                "autoscaling/v2",
                json!({"conditions": failing}),
                None,
                Degraded,
                "missing request for cpu",
            ),
            (
                "autoscaling/v2",
                json!({}),
                None,
                Progressing,
                "Waiting to Autoscale",
            ),
            (
                "autoscaling/v1",
                json!({}),
                None,
                Progressing,
                "Waiting to Autoscale",
            ),
            (
                "autoscaling/v1",
                json!({}),
                Some(able.to_string()),
                Healthy,
                "the HPA controller was able to update the target scale",
            ),
            (
                "autoscaling/v1",
                json!({}),
                Some("[]".to_string()),
                Progressing,
                "Waiting to Autoscale",
            ),
            (
                "autoscaling/v2beta2",
                json!({"conditions": able}),
                None,
                Unknown,
                "unsupported HorizontalPodAutoscaler GVK: autoscaling/v2beta2, Kind=HorizontalPodAutoscaler",
            ),
        ];
        for (api_version, status, annotation, code, message) in table {
            let mut obj = json!({"apiVersion": api_version, "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "h"}, "status": status});
            if let Some(text) = annotation {
                obj["metadata"]["annotations"] =
                    json!({"autoscaling.alpha.kubernetes.io/conditions": text});
            }
            assert_eq!(assess(&obj), Some(Health::new(code, message)), "{obj}");
        }
    }

    #[test]
    fn a_malformed_v1_annotation_is_unknown() {
        let obj = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h", "annotations": {"autoscaling.alpha.kubernetes.io/conditions": "[{"}}});
        assert_eq!(assess(&obj).unwrap().status, HealthCode::Unknown);
    }
}
