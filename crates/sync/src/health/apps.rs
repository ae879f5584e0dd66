//! `apps/v1`: Deployment, StatefulSet, ReplicaSet, DaemonSet, judged by rollout progress the
//! way `kubectl rollout status` does.

use serde_json::Value;

use super::{Fields, Health, HealthCode};

/// Paused ⇒ Suspended; past its progress deadline ⇒ Degraded; replicas not yet updated, old
/// ones not yet gone or updated ones not yet available ⇒ Progressing.
pub(super) fn deployment(obj: &Value) -> Result<Health, String> {
    let f = Fields::of(obj, "Deployment", &["v1"])?;
    if f.flag("/spec/paused")? {
        return Ok(Health::new(HealthCode::Suspended, "Deployment is paused"));
    }
    if f.count("/metadata/generation")? > f.count("/status/observedGeneration")? {
        return Ok(progressing(
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        ));
    }
    let deadline_exceeded = f
        .conditions("/status/conditions")?
        .iter()
        .any(|c| c.type_ == "Progressing" && c.reason == "ProgressDeadlineExceeded");
    let updated = f.count("/status/updatedReplicas")?;
    let replicas = f.count("/status/replicas")?;
    let available = f.count("/status/availableReplicas")?;
    Ok(match f.int("/spec/replicas")? {
        _ if deadline_exceeded => Health::new(
            HealthCode::Degraded,
            format!(
                "Deployment {:?} exceeded its progress deadline",
                f.text("/metadata/name")?
            ),
        ),
        Some(wanted) if updated < wanted => progressing(format!(
            "Waiting for rollout to finish: {updated} out of {wanted} new replicas have been updated..."
        )),
        _ if replicas > updated => progressing(format!(
            "Waiting for rollout to finish: {} old replicas are pending termination...",
            replicas - updated
        )),
        _ if available < updated => progressing(format!(
            "Waiting for rollout to finish: {available} of {updated} updated replicas are available..."
        )),
        _ => Health::of(HealthCode::Healthy),
    })
}

/// Generation not yet observed or pods not ready ⇒ Progressing; a partitioned rolling update
/// is done when the pods above the partition are updated; OnDelete is healthy once pods are
/// ready; otherwise the update revision must be the current one.
pub(super) fn stateful_set(obj: &Value) -> Result<Health, String> {
    let f = Fields::of(obj, "StatefulSet", &["v1"])?;
    let observed = f.count("/status/observedGeneration")?;
    if observed == 0 || f.count("/metadata/generation")? > observed {
        return Ok(progressing(
            "Waiting for statefulset spec update to be observed...",
        ));
    }
    let wanted = f.int("/spec/replicas")?;
    let ready = f.count("/status/readyReplicas")?;
    if let Some(wanted) = wanted
        && ready < wanted
    {
        return Ok(progressing(format!(
            "Waiting for {} pods to be ready...",
            wanted - ready
        )));
    }
    let updated = f.count("/status/updatedReplicas")?;
    let strategy = f.text("/spec/updateStrategy/type")?;
    if strategy == "RollingUpdate" && f.at("/spec/updateStrategy/rollingUpdate").is_some() {
        let partition = f.int("/spec/updateStrategy/rollingUpdate/partition")?;
        if let (Some(wanted), Some(partition)) = (wanted, partition)
            && updated < wanted - partition
        {
            return Ok(progressing(format!(
                "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...",
                wanted - partition
            )));
        }
        return Ok(Health::new(
            HealthCode::Healthy,
            format!("partitioned roll out complete: {updated} new pods have been updated..."),
        ));
    }
    if strategy == "OnDelete" {
        return Ok(Health::new(
            HealthCode::Healthy,
            format!("statefulset has {ready} ready pods"),
        ));
    }
    let update_revision = f.text("/status/updateRevision")?;
    let current_revision = f.text("/status/currentRevision")?;
    if update_revision != current_revision {
        return Ok(progressing(format!(
            "waiting for statefulset rolling update to complete {updated} pods at revision {update_revision}..."
        )));
    }
    Ok(Health::new(
        HealthCode::Healthy,
        format!(
            "statefulset rolling update complete {} pods at revision {current_revision}...",
            f.count("/status/currentReplicas")?
        ),
    ))
}

/// A `ReplicaFailure` condition ⇒ Degraded; fewer available replicas than wanted ⇒ Progressing.
pub(super) fn replica_set(obj: &Value) -> Result<Health, String> {
    let f = Fields::of(obj, "ReplicaSet", &["v1"])?;
    if f.count("/metadata/generation")? > f.count("/status/observedGeneration")? {
        return Ok(progressing(
            "Waiting for rollout to finish: observed replica set generation less than desired generation",
        ));
    }
    let conditions = f.conditions("/status/conditions")?;
    if let Some(failure) = conditions.iter().find(|c| c.type_ == "ReplicaFailure")
        && failure.status == "True"
    {
        return Ok(Health::new(HealthCode::Degraded, failure.message));
    }
    let available = f.count("/status/availableReplicas")?;
    if let Some(wanted) = f.int("/spec/replicas")?
        && available < wanted
    {
        return Ok(progressing(format!(
            "Waiting for rollout to finish: {available} out of {wanted} new replicas are available..."
        )));
    }
    Ok(Health::of(HealthCode::Healthy))
}

/// Generation not yet observed, pods not yet updated or not yet available ⇒ Progressing;
/// OnDelete is healthy as soon as the generation is observed.
pub(super) fn daemon_set(obj: &Value) -> Result<Health, String> {
    let f = Fields::of(obj, "DaemonSet", &["v1"])?;
    if f.count("/metadata/generation")? > f.count("/status/observedGeneration")? {
        return Ok(progressing(
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        ));
    }
    let updated = f.count("/status/updatedNumberScheduled")?;
    let desired = f.count("/status/desiredNumberScheduled")?;
    if f.text("/spec/updateStrategy/type")? == "OnDelete" {
        return Ok(Health::new(
            HealthCode::Healthy,
            format!("daemon set {updated} out of {desired} new pods have been updated"),
        ));
    }
    let name = f.text("/metadata/name")?;
    if updated < desired {
        return Ok(progressing(format!(
            "Waiting for daemon set {name:?} rollout to finish: {updated} out of {desired} new pods have been updated..."
        )));
    }
    let available = f.count("/status/numberAvailable")?;
    if available < desired {
        return Ok(progressing(format!(
            "Waiting for daemon set {name:?} rollout to finish: {available} of {desired} updated pods are available..."
        )));
    }
    Ok(Health::of(HealthCode::Healthy))
}

fn progressing(message: impl Into<String>) -> Health {
    Health::new(HealthCode::Progressing, message)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::{Health, HealthCode, assess};

    fn case(kind: &str, spec: Value, status: Value, generation: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": "web", "generation": generation},
            "spec": spec, "status": status})
    }

    #[test]
    fn deployments() {
        use HealthCode::*;
        let table = [
            (
                json!({"paused": true}),
                json!({}),
                1,
                Suspended,
                "Deployment is paused",
            ),
            (
                json!({"replicas": 2}),
                json!({"observedGeneration": 1}),
                2,
                Progressing,
                "Waiting for rollout to finish: observed deployment generation less than desired generation",
            ),
            (
                json!({"replicas": 2}),
                json!({"observedGeneration": 2, "conditions": [
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}),
                2,
                Degraded,
                "Deployment \"web\" exceeded its progress deadline",
            ),
            (
                json!({"replicas": 3}),
                json!({"observedGeneration": 1, "updatedReplicas": 1}),
                1,
                Progressing,
                "Waiting for rollout to finish: 1 out of 3 new replicas have been updated...",
            ),
            (
                json!({"replicas": 2}),
                json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 2}),
                1,
                Progressing,
                "Waiting for rollout to finish: 1 old replicas are pending termination...",
            ),
            (
                json!({"replicas": 2}),
                json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2,
                "availableReplicas": 1}),
                1,
                Progressing,
                "Waiting for rollout to finish: 1 of 2 updated replicas are available...",
            ),
            (
                json!({"replicas": 2}),
                json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2,
                "availableReplicas": 2}),
                1,
                Healthy,
                "",
            ),
            // No replicas in the spec: only the status is compared.
            (json!({}), json!({"observedGeneration": 1}), 1, Healthy, ""),
        ];
        for (spec, status, generation, code, message) in table {
            let obj = case("Deployment", spec.clone(), status.clone(), generation);
            assert_eq!(
                assess(&obj),
                Some(Health::new(code, message)),
                "{spec} {status}"
            );
        }
    }

    #[test]
    fn a_deployment_of_an_old_version_is_unknown() {
        let mut obj = case("Deployment", json!({}), json!({}), 1);
        obj["apiVersion"] = json!("apps/v1beta2");
        assert_eq!(
            assess(&obj),
            Some(Health::new(
                HealthCode::Unknown,
                "unsupported Deployment GVK: apps/v1beta2, Kind=Deployment"
            ))
        );
    }

    #[test]
    fn stateful_sets() {
        use HealthCode::*;
        let table = [
            (
                json!({"replicas": 1}),
                json!({}),
                1,
                Progressing,
                "Waiting for statefulset spec update to be observed...",
            ),
            (
                json!({"replicas": 3}),
                json!({"observedGeneration": 1, "readyReplicas": 1}),
                1,
                Progressing,
                "Waiting for 2 pods to be ready...",
            ),
            (
                json!({"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}}),
                json!({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 1}),
                1,
                Progressing,
                "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...",
            ),
            (
                json!({"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}}),
                json!({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 2}),
                1,
                Healthy,
                "partitioned roll out complete: 2 new pods have been updated...",
            ),
            (
                json!({"replicas": 1, "updateStrategy": {"type": "OnDelete"}}),
                json!({"observedGeneration": 1, "readyReplicas": 1}),
                1,
                Healthy,
                "statefulset has 1 ready pods",
            ),
            (
                json!({"replicas": 1}),
                json!({"observedGeneration": 1, "readyReplicas": 1,
                "updateRevision": "web-2", "currentRevision": "web-1", "updatedReplicas": 1}),
                1,
                Progressing,
                "waiting for statefulset rolling update to complete 1 pods at revision web-2...",
            ),
            (
                json!({"replicas": 1}),
                json!({"observedGeneration": 1, "readyReplicas": 1,
                "updateRevision": "web-1", "currentRevision": "web-1", "currentReplicas": 1}),
                1,
                Healthy,
                "statefulset rolling update complete 1 pods at revision web-1...",
            ),
        ];
        for (spec, status, generation, code, message) in table {
            let obj = case("StatefulSet", spec.clone(), status.clone(), generation);
            assert_eq!(
                assess(&obj),
                Some(Health::new(code, message)),
                "{spec} {status}"
            );
        }
    }

    #[test]
    fn replica_sets_and_daemon_sets() {
        use HealthCode::*;
        let table = [
            (
                "ReplicaSet",
                json!({"replicas": 1}),
                json!({"observedGeneration": 1, "conditions": [
                {"type": "ReplicaFailure", "status": "True", "message": "quota exceeded"}]}),
                1,
                Degraded,
                "quota exceeded",
            ),
            (
                "ReplicaSet",
                json!({"replicas": 2}),
                json!({"observedGeneration": 1, "availableReplicas": 1}),
                1,
                Progressing,
                "Waiting for rollout to finish: 1 out of 2 new replicas are available...",
            ),
            (
                "ReplicaSet",
                json!({"replicas": 1}),
                json!({"observedGeneration": 0}),
                1,
                Progressing,
                "Waiting for rollout to finish: observed replica set generation less than desired generation",
            ),
            (
                "ReplicaSet",
                json!({"replicas": 1}),
                json!({"observedGeneration": 1, "availableReplicas": 1}),
                1,
                Healthy,
                "",
            ),
            (
                "DaemonSet",
                json!({}),
                json!({"observedGeneration": 1, "desiredNumberScheduled": 2,
                "updatedNumberScheduled": 1, "currentNumberScheduled": 2, "numberMisscheduled": 0,
                "numberReady": 2}),
                1,
                Progressing,
                "Waiting for daemon set \"web\" rollout to finish: 1 out of 2 new pods have been updated...",
            ),
            (
                "DaemonSet",
                json!({}),
                json!({"observedGeneration": 1, "desiredNumberScheduled": 2,
                "updatedNumberScheduled": 2, "numberAvailable": 1, "currentNumberScheduled": 2,
                "numberMisscheduled": 0, "numberReady": 2}),
                1,
                Progressing,
                "Waiting for daemon set \"web\" rollout to finish: 1 of 2 updated pods are available...",
            ),
            (
                "DaemonSet",
                json!({"updateStrategy": {"type": "OnDelete"}}),
                json!({"observedGeneration": 1,
                "desiredNumberScheduled": 2, "updatedNumberScheduled": 0, "currentNumberScheduled": 2,
                "numberMisscheduled": 0, "numberReady": 2}),
                1,
                Healthy,
                "daemon set 0 out of 2 new pods have been updated",
            ),
            (
                "DaemonSet",
                json!({}),
                json!({"observedGeneration": 1, "desiredNumberScheduled": 2,
                "updatedNumberScheduled": 2, "numberAvailable": 2, "currentNumberScheduled": 2,
                "numberMisscheduled": 0, "numberReady": 2}),
                1,
                Healthy,
                "",
            ),
        ];
        for (kind, spec, status, generation, code, message) in table {
            let obj = case(kind, spec.clone(), status.clone(), generation);
            assert_eq!(
                assess(&obj),
                Some(Health::new(code, message)),
                "{kind} {spec} {status}"
            );
        }
    }
}
