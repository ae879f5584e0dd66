//! The statefulset and daemonset controllers, on one simulated node.
//!
//! A StatefulSet's Pods are `<name>-0 .. <name>-N-1` (from `spec.ordinals.start` if set),
//! created together (no ordered start-up), each with its claims from
//! `volumeClaimTemplates` (`<template>-<name>-<i>`), which outlive the Pods; they are owned
//! by the StatefulSet, and so collected with it, only when
//! `persistentVolumeClaimRetentionPolicy.whenDeleted` is `Delete`. A template change replaces outdated Pods from the highest ordinal down, one
//! at a time while all are Ready (not-Ready outdated Pods are replaced at once, so fixing a
//! broken template is not stuck behind the broken Pods), honouring the partition.
//! A DaemonSet has exactly one Pod, on the one node.

use std::collections::BTreeMap;

use ferry_api::meta::{self, label, name, uid};
use serde_json::{Map, Value, json};

use super::events::Event;
use super::pods::{is_active, pod_from_template};
use super::{
    Sim, Work, available_since, count_at, int_at, is_ready, owner_reference, put_nonzero, str_at,
    template_hash,
};

const STATEFULSET_CONTROLLER: &str = "statefulset-controller";
const DAEMONSET_CONTROLLER: &str = "daemonset-controller";
const REVISION_LABEL: &str = "controller-revision-hash";

impl Sim {
    pub(super) fn sync_statefulset(&mut self, w: &Work) {
        let t = self.types.statefulsets.clone();
        let pod_t = self.types.pods.clone();
        let Some(sts) = self.get(&t, &w.namespace, &w.name) else {
            return;
        };
        if meta::is_being_deleted(&sts) {
            return;
        }
        let Some(sts_uid) = uid(&sts).map(str::to_string) else {
            return;
        };
        let replicas = count_at(&sts, "/spec/replicas", 1);
        // `spec.ordinals.start` shifts the ordinals (the StatefulSetStartOrdinal feature).
        let first = count_at(&sts, "/spec/ordinals/start", 0);
        let ordinals = first..first.saturating_add(replicas);
        let template = sts.pointer("/spec/template").cloned();
        let update_revision = format!(
            "{}-{}",
            w.name,
            template_hash(template.as_ref().unwrap_or(&Value::Null))
        );
        let prefix = format!("{}-", w.name);

        let mut by_ordinal: BTreeMap<i64, Value> = BTreeMap::new();
        for pod in self.children_of(&sts_uid, &pod_t) {
            let Some(pod_name) = name(&pod).map(str::to_string) else {
                continue;
            };
            let ordinal = pod_name
                .strip_prefix(&prefix)
                .and_then(|o| o.parse::<i64>().ok());
            match ordinal {
                // Finished or failed Pods are replaced, surplus ones removed.
                Some(i) if ordinals.contains(&i) && is_active(&pod) => {
                    by_ordinal.insert(i, pod);
                }
                _ => self.delete_stateful_pod(&sts, &pod_name),
            }
        }

        let rolling =
            str_at(&sts, "/spec/updateStrategy/type").unwrap_or("RollingUpdate") == "RollingUpdate";
        if rolling {
            let partition =
                int_at(&sts, "/spec/updateStrategy/rollingUpdate/partition").unwrap_or(0);
            let all_ready = ordinals
                .clone()
                .all(|i| by_ordinal.get(&i).is_some_and(is_ready));
            let outdated: Vec<(i64, bool)> = by_ordinal
                .iter()
                .filter(|(i, p)| {
                    **i >= partition && label(p, REVISION_LABEL) != Some(update_revision.as_str())
                })
                .map(|(i, p)| (*i, is_ready(p)))
                .collect();
            let mut doomed: Vec<i64> = outdated
                .iter()
                .filter(|(_, ready)| !ready)
                .map(|(i, _)| *i)
                .collect();
            if all_ready {
                doomed.extend(
                    outdated
                        .iter()
                        .rev()
                        .find(|(_, ready)| *ready)
                        .map(|(i, _)| *i),
                );
            }
            for i in doomed {
                if let Some(pod) = by_ordinal.remove(&i)
                    && let Some(n) = name(&pod)
                {
                    self.delete_stateful_pod(&sts, n);
                }
            }
        }

        if let Some(template) = &template {
            for i in ordinals {
                if by_ordinal.contains_key(&i) {
                    continue;
                }
                self.create_claims(&sts, i);
                let pod = statefulset_pod(&sts, template, &w.namespace, i, &update_revision);
                if let Some(created) =
                    self.create(&pod_t, &w.namespace, pod, STATEFULSET_CONTROLLER)
                {
                    let message = format!(
                        "create Pod {} in StatefulSet {} successful",
                        name(&created).unwrap_or(""),
                        w.name
                    );
                    self.record(
                        &sts,
                        Event::normal("SuccessfulCreate", message, STATEFULSET_CONTROLLER),
                    );
                    by_ordinal.insert(i, created);
                }
            }
        }

        let pods: Vec<&Value> = by_ordinal.values().collect();
        let count = i64::try_from(pods.len()).unwrap_or(0);
        let ready = i64::try_from(pods.iter().filter(|p| is_ready(p)).count()).unwrap_or(0);
        let min_ready = int_at(&sts, "/spec/minReadySeconds").unwrap_or(0);
        let mut available = 0;
        for pod in &pods {
            match available_since(pod, min_ready) {
                (true, _) => available += 1,
                (false, Some(at)) => self.schedule(at, w.clone()),
                (false, None) => {}
            }
        }
        let with_revision = |rev: &str| {
            i64::try_from(
                pods.iter()
                    .filter(|p| label(p, REVISION_LABEL) == Some(rev))
                    .count(),
            )
            .unwrap_or(0)
        };
        let updated = with_revision(&update_revision);
        // The update is complete once every Pod runs it and is Ready: then it is current.
        let (current_revision, current) = match str_at(&sts, "/status/currentRevision") {
            Some(rev) if !(updated == count && ready == count) => {
                (rev.to_string(), with_revision(rev))
            }
            _ => (update_revision.clone(), updated),
        };
        let mut status = Map::new();
        status.insert(
            "observedGeneration".into(),
            json!(meta::generation(&sts).unwrap_or(0)),
        );
        status.insert("replicas".into(), json!(count));
        put_nonzero(&mut status, "readyReplicas", ready);
        put_nonzero(&mut status, "currentReplicas", current);
        put_nonzero(&mut status, "updatedReplicas", updated);
        status.insert("currentRevision".into(), json!(current_revision));
        status.insert("updateRevision".into(), json!(update_revision));
        status.insert("collisionCount".into(), json!(0));
        status.insert("availableReplicas".into(), json!(available));
        self.write_status(&t, sts, Value::Object(status), STATEFULSET_CONTROLLER);
    }

    /// Deletes one of the StatefulSet's Pods, saying so as the statefulset controller does.
    fn delete_stateful_pod(&mut self, sts: &Value, pod_name: &str) {
        let message = format!(
            "delete Pod {pod_name} in StatefulSet {} successful",
            name(sts).unwrap_or("")
        );
        let event = Event::normal("SuccessfulDelete", message, STATEFULSET_CONTROLLER);
        self.delete_pod_of(sts, pod_name, event);
    }

    /// Creates the claims of Pod `ordinal` that do not exist yet.
    fn create_claims(&mut self, sts: &Value, ordinal: i64) {
        let pvc_t = self.types.pvcs.clone();
        let ns = super::namespace(sts).unwrap_or("").to_string();
        let templates = sts
            .pointer("/spec/volumeClaimTemplates")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for tpl in &templates {
            let Some(claim) = claim_name(tpl, sts, ordinal) else {
                continue;
            };
            if self.get(&pvc_t, &ns, &claim).is_some() {
                continue;
            }
            let mut labels = meta::labels(tpl).cloned().unwrap_or_default();
            if let Some(selector) = sts
                .pointer("/spec/selector/matchLabels")
                .and_then(Value::as_object)
            {
                labels.extend(selector.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            let mut pvc = json!({
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim, "namespace": ns, "labels": labels},
                "spec": tpl.get("spec").cloned().unwrap_or(json!({})),
            });
            if let Some(a) = tpl.pointer("/metadata/annotations") {
                pvc["metadata"]["annotations"] = a.clone();
            }
            if str_at(
                sts,
                "/spec/persistentVolumeClaimRetentionPolicy/whenDeleted",
            ) == Some("Delete")
            {
                pvc["metadata"]["ownerReferences"] =
                    json!([owner_reference(sts, "apps/v1", "StatefulSet")]);
            }
            if self
                .create(&pvc_t, &ns, pvc, STATEFULSET_CONTROLLER)
                .is_some()
            {
                let set = name(sts).unwrap_or("");
                let message = format!(
                    "create Claim {claim} Pod {set}-{ordinal} in StatefulSet {set} success"
                );
                self.record(
                    sts,
                    Event::normal("SuccessfulCreate", message, STATEFULSET_CONTROLLER),
                );
            }
        }
    }

    pub(super) fn sync_daemonset(&mut self, w: &Work) {
        let t = self.types.daemonsets.clone();
        let pod_t = self.types.pods.clone();
        let Some(ds) = self.get(&t, &w.namespace, &w.name) else {
            return;
        };
        if meta::is_being_deleted(&ds) {
            return;
        }
        let Some(ds_uid) = uid(&ds).map(str::to_string) else {
            return;
        };
        let template = ds.pointer("/spec/template").cloned();
        let hash = template_hash(template.as_ref().unwrap_or(&Value::Null));
        let on_delete = str_at(&ds, "/spec/updateStrategy/type") == Some("OnDelete");

        let mut current: Vec<Value> = Vec::new();
        let mut outdated: Vec<Value> = Vec::new();
        let mut doomed: Vec<Value> = Vec::new();
        for pod in self.children_of(&ds_uid, &pod_t) {
            if !is_active(&pod) {
                doomed.push(pod);
            } else if label(&pod, REVISION_LABEL) == Some(hash.as_str()) {
                current.push(pod);
            } else if on_delete {
                outdated.push(pod);
            } else {
                doomed.push(pod);
            }
        }
        // One Pod per node: an up-to-date one wins over an outdated one kept by OnDelete.
        doomed.extend(current.drain(current.len().min(1)..));
        if current.is_empty() {
            doomed.extend(outdated.drain(outdated.len().min(1)..));
        } else {
            doomed.append(&mut outdated);
        }
        for pod in &doomed {
            if let Some(n) = name(pod) {
                self.delete_pod_of(&ds, n, Event::deleted_pod(n, DAEMONSET_CONTROLLER));
            }
        }
        if let (true, true, Some(template)) = (current.is_empty(), outdated.is_empty(), &template) {
            let mut extra = Map::new();
            extra.insert(REVISION_LABEL.into(), json!(hash));
            extra.insert(
                "pod-template-generation".into(),
                json!(meta::generation(&ds).unwrap_or(0).to_string()),
            );
            let mut pod = pod_from_template(
                template,
                &w.namespace,
                owner_reference(&ds, "apps/v1", "DaemonSet"),
                &extra,
            );
            pod["metadata"]["generateName"] = json!(format!("{}-", w.name));
            if let Some(created) =
                self.create_generated(&pod_t, &w.namespace, pod, DAEMONSET_CONTROLLER)
            {
                let event = Event::created_pod(name(&created), DAEMONSET_CONTROLLER);
                self.record(&ds, event);
                current.push(created);
            }
        }

        let pods: Vec<&Value> = current.iter().chain(outdated.iter()).collect();
        let min_ready = int_at(&ds, "/spec/minReadySeconds").unwrap_or(0);
        let mut available = 0;
        for pod in &pods {
            match available_since(pod, min_ready) {
                (true, _) => available = 1,
                (false, Some(at)) => self.schedule(at, w.clone()),
                (false, None) => {}
            }
        }
        let scheduled = i64::from(!pods.is_empty());
        let ready = i64::from(pods.iter().any(|p| is_ready(p)));
        let mut status = Map::new();
        status.insert("currentNumberScheduled".into(), json!(scheduled));
        status.insert("desiredNumberScheduled".into(), json!(1));
        status.insert("numberMisscheduled".into(), json!(0));
        status.insert("numberReady".into(), json!(ready));
        status.insert(
            "observedGeneration".into(),
            json!(meta::generation(&ds).unwrap_or(0)),
        );
        put_nonzero(
            &mut status,
            "updatedNumberScheduled",
            i64::from(!current.is_empty()),
        );
        put_nonzero(&mut status, "numberAvailable", available);
        put_nonzero(&mut status, "numberUnavailable", 1 - available);
        self.write_status(&t, ds, Value::Object(status), DAEMONSET_CONTROLLER);
    }
}

fn claim_name(tpl: &Value, sts: &Value, ordinal: i64) -> Option<String> {
    Some(format!("{}-{}-{ordinal}", meta::name(tpl)?, name(sts)?))
}

/// Pod `ordinal` of a StatefulSet: stable name and hostname, its claims mounted.
fn statefulset_pod(
    sts: &Value,
    template: &Value,
    namespace: &str,
    ordinal: i64,
    revision: &str,
) -> Value {
    let sts_name = name(sts).unwrap_or("");
    let pod_name = format!("{sts_name}-{ordinal}");
    let mut extra = Map::new();
    extra.insert(REVISION_LABEL.into(), json!(revision));
    extra.insert("statefulset.kubernetes.io/pod-name".into(), json!(pod_name));
    extra.insert(
        "apps.kubernetes.io/pod-index".into(),
        json!(ordinal.to_string()),
    );
    let mut pod = pod_from_template(
        template,
        namespace,
        owner_reference(sts, "apps/v1", "StatefulSet"),
        &extra,
    );
    pod["metadata"]["name"] = json!(pod_name);
    pod["spec"]["hostname"] = json!(pod_name);
    if let Some(service) = str_at(sts, "/spec/serviceName").filter(|s| !s.is_empty()) {
        pod["spec"]["subdomain"] = json!(service);
    }
    let templates = sts
        .pointer("/spec/volumeClaimTemplates")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !templates.is_empty() {
        let mut volumes = pod
            .pointer("/spec/volumes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for tpl in &templates {
            let (Some(volume), Some(claim)) = (meta::name(tpl), claim_name(tpl, sts, ordinal))
            else {
                continue;
            };
            volumes.retain(|v| v.get("name").and_then(Value::as_str) != Some(volume));
            volumes.push(json!({"name": volume, "persistentVolumeClaim": {"claimName": claim}}));
        }
        pod["spec"]["volumes"] = json!(volumes);
    }
    pod
}
