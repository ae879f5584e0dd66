//! The deployment and replica set controllers. A Deployment owns one ReplicaSet per
//! distinct pod template (`<deployment>-<pod-template-hash>`); the one matching the current
//! template gets all replicas at once, older ones are scaled to zero once it is fully
//! available (at once for `Recreate`, where the new one waits for the old Pods to go), and
//! fully scaled-down ones beyond `revisionHistoryLimit` are deleted. Status and conditions
//! follow kube-controller-manager's `calculateStatus` and `syncRolloutStatus`, including
//! the progress deadline, because `kubectl rollout status` and health checks read exactly
//! those fields.

use std::cmp::Reverse;

use ferry_api::meta::{self, OwnerReference, annotation, label, name, uid};
use serde_json::{Map, Value, json};

use super::events::Event;
use super::pods::{is_active, pod_from_template};
use super::{
    Mode, SIMULATE, Sim, Work, available_since, condition, count_at, instant_at, int_at, is_ready,
    owner_reference, parse_time, put_nonzero, set_at, str_at, template_hash,
};
use crate::objects::now;

const DEPLOYMENT_CONTROLLER: &str = "deployment-controller";
const REPLICASET_CONTROLLER: &str = "replicaset-controller";
const REVISION: &str = "deployment.kubernetes.io/revision";
const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
const HASH_LABEL: &str = "pod-template-hash";
/// Deployment annotations the controller does not copy onto its ReplicaSets (its own
/// bookkeeping, kubectl's, and ours).
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
    SIMULATE,
];
/// `progressDeadlineSeconds` at this value means "no deadline".
const NO_DEADLINE: i64 = i32::MAX as i64;

impl Sim {
    pub(super) fn sync_deployment(&mut self, w: &Work) {
        let t = self.types.deployments.clone();
        let rs_t = self.types.replicasets.clone();
        let Some(mut d) = self.get(&t, &w.namespace, &w.name) else {
            return;
        };
        if meta::is_being_deleted(&d) {
            return;
        }
        let Some(d_uid) = uid(&d).map(str::to_string) else {
            return;
        };
        let replicas = count_at(&d, "/spec/replicas", 1);
        // Nothing validates a template's shape; one that is not an object counts as empty,
        // which keeps the indexing below total.
        let template = d
            .pointer("/spec/template")
            .filter(|t| t.is_object())
            .cloned()
            .unwrap_or(json!({}));
        let hash = template_hash(&template);
        let paused = d
            .pointer("/spec/paused")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let recreate = str_at(&d, "/spec/strategy/type") == Some("Recreate");

        let mut olds = self.children_of(&d_uid, &rs_t);
        let mut new_rs = olds
            .iter()
            .position(|rs| label(rs, HASH_LABEL) == Some(hash.as_str()))
            .map(|i| olds.remove(i));
        let max_old_revision = olds.iter().map(revision).max().unwrap_or(0);

        if !paused && recreate {
            self.scale_old_to_zero(&d, &mut olds);
        }
        // Recreate starts the new Pods only once the old ones are gone.
        let old_pods_remain = olds.iter().any(|rs| {
            count_at(rs, "/spec/replicas", 1) > 0 || int_at(rs, "/status/replicas").unwrap_or(0) > 0
        });
        let target = if recreate && old_pods_remain {
            0
        } else {
            replicas
        };
        let mut note = None;
        new_rs = match new_rs {
            Some(rs) => {
                if condition(&d, "Progressing").is_none() {
                    note = Some((
                        "FoundNewReplicaSet",
                        format!("Found new replica set \"{}\"", name(&rs).unwrap_or("")),
                    ));
                }
                // A rollback to an older template makes its ReplicaSet the newest revision.
                let rev = if revision(&rs) <= max_old_revision {
                    max_old_revision + 1
                } else {
                    revision(&rs)
                };
                Some(self.sync_new_replica_set(&d, rs, target, rev))
            }
            None if !paused => {
                let created =
                    self.create_replica_set(&d, &template, &hash, max_old_revision + 1, target);
                if let Some(rs) = &created {
                    note = Some((
                        "NewReplicaSetCreated",
                        format!("Created new replica set \"{}\"", name(rs).unwrap_or("")),
                    ));
                }
                created
            }
            None => None,
        };
        let new_available = new_rs.as_ref().is_some_and(|rs| {
            count_at(rs, "/spec/replicas", 1) == replicas
                && int_at(rs, "/status/observedGeneration").unwrap_or(0)
                    >= meta::generation(rs).unwrap_or(0)
                && int_at(rs, "/status/availableReplicas").unwrap_or(0) >= replicas
        });
        if !paused && !recreate && new_available {
            self.scale_old_to_zero(&d, &mut olds);
        }
        self.clean_up_history(&d, &mut olds);

        // The Deployment carries its current revision, which `kubectl rollout history` shows.
        if let Some(rev) = new_rs.as_ref().map(revision).filter(|r| *r > 0)
            && annotation(&d, REVISION) != Some(rev.to_string().as_str())
        {
            let mut next = d.clone();
            set_annotation(&mut next, REVISION, &rev.to_string());
            match self.update(&t, next, None, DEPLOYMENT_CONTROLLER) {
                Some(updated) => d = updated,
                None => return,
            }
        }
        let status = self.deployment_status(w, &d, new_rs.as_ref(), &olds, note);
        self.write_status(&t, d, status, DEPLOYMENT_CONTROLLER);
    }

    fn scale_old_to_zero(&mut self, d: &Value, olds: &mut [Value]) {
        let rs_t = self.types.replicasets.clone();
        for rs in olds.iter_mut() {
            let from = count_at(rs, "/spec/replicas", 1);
            if from == 0 {
                continue;
            }
            let mut next = rs.clone();
            if !set_at(&mut next, &["spec", "replicas"], json!(0)) {
                continue;
            }
            if let Some(updated) = self.update(&rs_t, next, None, DEPLOYMENT_CONTROLLER) {
                self.record_scaling(d, &updated, from, 0);
                *rs = updated;
            }
        }
    }

    /// `ScalingReplicaSet` on the Deployment, as the deployment controller words it.
    fn record_scaling(&mut self, d: &Value, rs: &Value, from: i64, to: i64) {
        let direction = if to > from { "up" } else { "down" };
        let message = format!(
            "Scaled {direction} replica set {} from {from} to {to}",
            name(rs).unwrap_or("")
        );
        self.record(
            d,
            Event::normal("ScalingReplicaSet", message, DEPLOYMENT_CONTROLLER),
        );
    }

    /// Deletes fully scaled-down old ReplicaSets beyond `revisionHistoryLimit`, oldest first.
    fn clean_up_history(&mut self, d: &Value, olds: &mut Vec<Value>) {
        let limit =
            usize::try_from(count_at(d, "/spec/revisionHistoryLimit", 10)).unwrap_or(usize::MAX);
        let mut idle: Vec<(i64, String)> = olds
            .iter()
            .filter(|rs| {
                count_at(rs, "/spec/replicas", 1) == 0
                    && int_at(rs, "/status/replicas").unwrap_or(0) == 0
                    && int_at(rs, "/status/observedGeneration").unwrap_or(0)
                        >= meta::generation(rs).unwrap_or(0)
            })
            .filter_map(|rs| Some((revision(rs), name(rs)?.to_string())))
            .collect();
        if idle.len() <= limit {
            return;
        }
        idle.sort();
        let excess = idle.len() - limit;
        let rs_t = self.types.replicasets.clone();
        let ns = super::namespace(d).unwrap_or("").to_string();
        for (_, rs_name) in idle.into_iter().take(excess) {
            self.delete(&rs_t, &ns, &rs_name);
            olds.retain(|rs| name(rs) != Some(rs_name.as_str()));
        }
    }

    fn create_replica_set(
        &mut self,
        d: &Value,
        template: &Value,
        hash: &str,
        rev: i64,
        replicas: i64,
    ) -> Option<Value> {
        let rs_t = self.types.replicasets.clone();
        let d_name = name(d).unwrap_or("");
        let ns = super::namespace(d).unwrap_or("").to_string();
        let rs_name = format!("{d_name}-{hash}");
        let mut template = template.clone();
        if !template.get("metadata").is_some_and(Value::is_object) {
            template["metadata"] = json!({});
        }
        if !template["metadata"]
            .get("labels")
            .is_some_and(Value::is_object)
        {
            template["metadata"]["labels"] = json!({});
        }
        template["metadata"]["labels"][HASH_LABEL] = json!(hash);
        let labels = template["metadata"]["labels"].clone();
        let mut selector = d
            .pointer("/spec/selector")
            .filter(|s| s.is_object())
            .cloned()
            .unwrap_or(json!({}));
        if !selector.get("matchLabels").is_some_and(Value::is_object) {
            selector["matchLabels"] = json!({});
        }
        selector["matchLabels"][HASH_LABEL] = json!(hash);
        let mut rs = json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": rs_name,
                "namespace": ns,
                "labels": labels,
                "ownerReferences": [owner_reference(d, "apps/v1", "Deployment")],
            },
            "spec": {"replicas": replicas, "selector": selector, "template": template},
        });
        if let Some(m) = int_at(d, "/spec/minReadySeconds").filter(|m| *m > 0) {
            rs["spec"]["minReadySeconds"] = json!(m);
        }
        copy_annotations(d, &mut rs, rev, count_at(d, "/spec/replicas", 1));
        if let Some(created) = self.create(&rs_t, &ns, rs, DEPLOYMENT_CONTROLLER) {
            if replicas > 0 {
                self.record_scaling(d, &created, 0, replicas);
            }
            return Some(created);
        }
        // A ReplicaSet of this name already exists: adopt it if nobody controls it (left
        // behind by an orphaning delete of an earlier Deployment of the same name).
        let existing = self.get(&rs_t, &ns, &rs_name)?;
        if meta::controller_of(&existing).is_some() || label(&existing, HASH_LABEL) != Some(hash) {
            return None;
        }
        let mut adopted = existing;
        let mut refs = meta::owner_references(&adopted);
        refs.push(OwnerReference::controlled_by(d, "apps/v1", "Deployment"));
        meta::set_owner_references(&mut adopted, &refs);
        let adopted = self.update(&rs_t, adopted, None, DEPLOYMENT_CONTROLLER)?;
        let key = crate::objects::Objects::key(&rs_t, &ns, &rs_name);
        self.index(&key, &adopted);
        Some(adopted)
    }

    /// Brings the current ReplicaSet to `replicas`, the Deployment's annotations and `rev`.
    fn sync_new_replica_set(&mut self, d: &Value, rs: Value, replicas: i64, rev: i64) -> Value {
        let mut next = rs.clone();
        if !set_at(&mut next, &["spec", "replicas"], json!(replicas)) {
            return rs;
        }
        match int_at(d, "/spec/minReadySeconds").filter(|m| *m > 0) {
            Some(m) => {
                set_at(&mut next, &["spec", "minReadySeconds"], json!(m));
            }
            None => {
                if let Some(spec) = next.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.remove("minReadySeconds");
                }
            }
        }
        copy_annotations(d, &mut next, rev, count_at(d, "/spec/replicas", 1));
        if next == rs {
            return rs;
        }
        let rs_t = self.types.replicasets.clone();
        let from = count_at(&rs, "/spec/replicas", 1);
        match self.update(&rs_t, next, None, DEPLOYMENT_CONTROLLER) {
            Some(updated) => {
                if from != replicas {
                    self.record_scaling(d, &updated, from, replicas);
                }
                updated
            }
            None => rs,
        }
    }

    /// The Deployment's status from its ReplicaSets', with conditions carried forward the way
    /// `SetDeploymentCondition` does it.
    fn deployment_status(
        &mut self,
        w: &Work,
        d: &Value,
        new_rs: Option<&Value>,
        olds: &[Value],
        note: Option<(&str, String)>,
    ) -> Value {
        let now = now();
        let replicas = count_at(d, "/spec/replicas", 1);
        let all: Vec<&Value> = new_rs.into_iter().chain(olds.iter()).collect();
        let sum = |p: &str| all.iter().map(|rs| int_at(rs, p).unwrap_or(0)).sum::<i64>();
        let total_spec: i64 = all.iter().map(|rs| count_at(rs, "/spec/replicas", 1)).sum();
        let actual = sum("/status/replicas");
        let updated = new_rs
            .and_then(|rs| int_at(rs, "/status/replicas"))
            .unwrap_or(0);
        let ready = sum("/status/readyReplicas");
        let available = sum("/status/availableReplicas");
        let unavailable = (total_spec - available).max(0);
        let old_status = d.get("status").cloned().unwrap_or(json!({}));
        let old = |field: &str| int_at(&old_status, &format!("/{field}")).unwrap_or(0);

        let mut conds: Vec<Value> = old_status
            .get("conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if let Some((reason, message)) = note {
            set_condition(&mut conds, "Progressing", "True", reason, &message, &now);
        }
        let (_, max_unavailable) = surge_and_unavailable(d, replicas);
        if available >= replicas - max_unavailable {
            set_condition(
                &mut conds,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                &now,
            );
        } else {
            set_condition(
                &mut conds,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                &now,
            );
        }

        let paused = d
            .pointer("/spec/paused")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let progressing_reason = find(&conds, "Progressing")
            .and_then(|c| c.get("reason"))
            .and_then(Value::as_str)
            .map(str::to_string);
        if progressing_reason.as_deref() != Some("ProgressDeadlineExceeded") {
            if paused && progressing_reason.as_deref() != Some("DeploymentPaused") {
                set_condition(
                    &mut conds,
                    "Progressing",
                    "Unknown",
                    "DeploymentPaused",
                    "Deployment is paused",
                    &now,
                );
            } else if !paused && progressing_reason.as_deref() == Some("DeploymentPaused") {
                set_condition(
                    &mut conds,
                    "Progressing",
                    "Unknown",
                    "DeploymentResumed",
                    "Deployment is resumed",
                    &now,
                );
            }
        }

        let deadline = int_at(d, "/spec/progressDeadlineSeconds").filter(|s| *s != NO_DEADLINE);
        if let (false, Some(deadline)) = (paused, deadline) {
            let subject = match new_rs.and_then(name) {
                Some(rs) => format!("ReplicaSet \"{rs}\""),
                None => format!("Deployment \"{}\"", name(d).unwrap_or("")),
            };
            let current = find(&conds, "Progressing").cloned();
            let reason_now = current
                .as_ref()
                .and_then(|c| c.get("reason"))
                .and_then(Value::as_str);
            let complete_before = actual == updated && reason_now == Some("NewReplicaSetAvailable");
            let progressed = updated > old("updatedReplicas")
                || actual - updated < old("replicas") - old("updatedReplicas")
                || ready > old("readyReplicas")
                || available > old("availableReplicas");
            if complete_before {
                // A finished rollout stays finished until a new one starts: scaling does not
                // touch Progressing.
            } else if updated == replicas && actual == replicas && available == replicas {
                let message = format!("{subject} has successfully progressed.");
                set_condition(
                    &mut conds,
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    &message,
                    &now,
                );
            } else if progressed {
                // Progress refreshes lastUpdateTime even with an unchanged reason: that is
                // what the deadline counts from.
                let since = current
                    .as_ref()
                    .filter(|c| c.get("status").and_then(Value::as_str) == Some("True"))
                    .and_then(|c| c.get("lastTransitionTime").cloned())
                    .unwrap_or(json!(now));
                conds.retain(|c| c.get("type").and_then(Value::as_str) != Some("Progressing"));
                conds.push(json!({
                    "type": "Progressing", "status": "True", "lastUpdateTime": now,
                    "lastTransitionTime": since, "reason": "ReplicaSetUpdated",
                    "message": format!("{subject} is progressing."),
                }));
            } else if Mode::of_workload(d) != Mode::Progressing {
                let last_update = current
                    .as_ref()
                    .filter(|_| {
                        !matches!(
                            reason_now,
                            Some("NewReplicaSetAvailable" | "ProgressDeadlineExceeded")
                        )
                    })
                    .and_then(|c| c.get("lastUpdateTime"))
                    .and_then(Value::as_str)
                    .and_then(parse_time);
                if let Some(from) = last_update {
                    let due = from + chrono::Duration::seconds(deadline);
                    if due < chrono::Utc::now() {
                        let message = format!("{subject} has timed out progressing.");
                        set_condition(
                            &mut conds,
                            "Progressing",
                            "False",
                            "ProgressDeadlineExceeded",
                            &message,
                            &now,
                        );
                    } else {
                        self.schedule(instant_at(due), w.clone());
                    }
                }
            }
        }

        let mut status = Map::new();
        status.insert(
            "observedGeneration".into(),
            json!(meta::generation(d).unwrap_or(0)),
        );
        put_nonzero(&mut status, "replicas", actual);
        put_nonzero(&mut status, "updatedReplicas", updated);
        put_nonzero(&mut status, "readyReplicas", ready);
        put_nonzero(&mut status, "availableReplicas", available);
        put_nonzero(&mut status, "unavailableReplicas", unavailable);
        if !conds.is_empty() {
            status.insert("conditions".into(), json!(conds));
        }
        if let Some(c) = old_status.get("collisionCount") {
            status.insert("collisionCount".into(), c.clone());
        }
        Value::Object(status)
    }

    pub(super) fn sync_replicaset(&mut self, w: &Work) {
        let t = self.types.replicasets.clone();
        let pod_t = self.types.pods.clone();
        let Some(rs) = self.get(&t, &w.namespace, &w.name) else {
            return;
        };
        if meta::is_being_deleted(&rs) {
            return;
        }
        let Some(rs_uid) = uid(&rs).map(str::to_string) else {
            return;
        };
        let replicas = count_at(&rs, "/spec/replicas", 1);
        let mut pods: Vec<Value> = self
            .children_of(&rs_uid, &pod_t)
            .into_iter()
            .filter(is_active)
            .collect();
        let have = i64::try_from(pods.len()).unwrap_or(i64::MAX);
        if have < replicas {
            if let Some(template) = rs.pointer("/spec/template") {
                let owner = owner_reference(&rs, "apps/v1", "ReplicaSet");
                for _ in have..replicas {
                    let mut pod =
                        pod_from_template(template, &w.namespace, owner.clone(), &Map::new());
                    pod["metadata"]["generateName"] = json!(format!("{}-", w.name));
                    if let Some(created) =
                        self.create_generated(&pod_t, &w.namespace, pod, REPLICASET_CONTROLLER)
                    {
                        let event = Event::created_pod(name(&created), REPLICASET_CONTROLLER);
                        self.record(&rs, event);
                        pods.push(created);
                    }
                }
            }
        } else if have > replicas {
            pods.sort_by_key(deletion_rank);
            let surplus = usize::try_from(have - replicas).unwrap_or(0);
            for pod in pods.drain(..surplus.min(pods.len())) {
                if let Some(n) = name(&pod) {
                    self.delete_pod_of(&rs, n, Event::deleted_pod(n, REPLICASET_CONTROLLER));
                }
            }
        }

        let template_labels = rs
            .pointer("/spec/template/metadata/labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let fully_labeled = pods
            .iter()
            .filter(|p| {
                template_labels
                    .iter()
                    .all(|(k, v)| p.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v))
            })
            .count();
        let ready = pods.iter().filter(|p| is_ready(p)).count();
        let min_ready = int_at(&rs, "/spec/minReadySeconds").unwrap_or(0);
        let mut available = 0;
        for pod in &pods {
            match available_since(pod, min_ready) {
                (true, _) => available += 1,
                (false, Some(at)) => self.schedule(at, w.clone()),
                (false, None) => {}
            }
        }
        let mut status = Map::new();
        status.insert("replicas".into(), json!(pods.len()));
        put_nonzero(
            &mut status,
            "fullyLabeledReplicas",
            i64::try_from(fully_labeled).unwrap_or(0),
        );
        put_nonzero(
            &mut status,
            "readyReplicas",
            i64::try_from(ready).unwrap_or(0),
        );
        put_nonzero(&mut status, "availableReplicas", available);
        status.insert(
            "observedGeneration".into(),
            json!(meta::generation(&rs).unwrap_or(0)),
        );
        self.write_status(&t, rs, Value::Object(status), REPLICASET_CONTROLLER);
    }

    /// Creates an object named by `generateName`, retrying the rare name collision as
    /// kube-apiserver's clients do.
    pub(super) fn create_generated(
        &mut self,
        t: &crate::resources::ResourceType,
        namespace: &str,
        obj: Value,
        manager: &str,
    ) -> Option<Value> {
        for _ in 0..3 {
            if let Some(created) = self.create(t, namespace, obj.clone(), manager) {
                return Some(created);
            }
        }
        None
    }
}

/// The ReplicaSet's `deployment.kubernetes.io/revision`.
fn revision(rs: &Value) -> i64 {
    annotation(rs, REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// Copies the Deployment's annotations onto a ReplicaSet, with the controller's own.
fn copy_annotations(d: &Value, rs: &mut Value, rev: i64, desired: i64) {
    let (surge, _) = surge_and_unavailable(d, desired);
    if let Some(from) = meta::annotations(d) {
        for (k, v) in from {
            if let Some(s) = v.as_str()
                && !NOT_COPIED.contains(&k.as_str())
            {
                set_annotation(rs, k, s);
            }
        }
    }
    set_annotation(rs, REVISION, &rev.to_string());
    set_annotation(rs, DESIRED_REPLICAS, &desired.to_string());
    set_annotation(rs, MAX_REPLICAS, &(desired + surge).to_string());
}

fn set_annotation(obj: &mut Value, key: &str, value: &str) {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    if !obj["metadata"]
        .get("annotations")
        .is_some_and(Value::is_object)
    {
        obj["metadata"]["annotations"] = json!({});
    }
    obj["metadata"]["annotations"][key] = json!(value);
}

/// `maxSurge` and `maxUnavailable` resolved against `replicas` (surge rounds up,
/// unavailability down; both zero becomes one unavailable), as the deployment controller's
/// `ResolveFenceposts` does. Recreate has neither.
fn surge_and_unavailable(d: &Value, replicas: i64) -> (i64, i64) {
    if str_at(d, "/spec/strategy/type") == Some("Recreate") {
        return (0, 0);
    }
    let surge = int_or_percent(
        d.pointer("/spec/strategy/rollingUpdate/maxSurge"),
        replicas,
        true,
    );
    let mut unavailable = int_or_percent(
        d.pointer("/spec/strategy/rollingUpdate/maxUnavailable"),
        replicas,
        false,
    );
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    if replicas == 0 {
        unavailable = 0;
    }
    (surge, unavailable.min(replicas))
}

/// An IntOrString: a count, or a percentage of `total` (25% when absent).
fn int_or_percent(v: Option<&Value>, total: i64, round_up: bool) -> i64 {
    let percent = |p: i64| {
        let x = p.saturating_mul(total);
        if round_up { (x + 99) / 100 } else { x / 100 }
    };
    let n = match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => match s.trim().strip_suffix('%') {
            Some(p) => p.trim().parse().map(percent).unwrap_or(0),
            None => s.trim().parse().unwrap_or(0),
        },
        _ => percent(25),
    };
    n.max(0)
}

fn find<'a>(conds: &'a [Value], type_: &str) -> Option<&'a Value> {
    conds
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

/// The deployment controller's `SetDeploymentCondition`: nothing changes if status and
/// reason are the same; the transition time survives a reason change within one status;
/// a replaced condition moves to the end.
fn set_condition(
    conds: &mut Vec<Value>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &str,
) {
    let current = find(conds, type_);
    let same_status =
        current.is_some_and(|c| c.get("status").and_then(Value::as_str) == Some(status));
    if same_status
        && current
            .and_then(|c| c.get("reason"))
            .and_then(Value::as_str)
            == Some(reason)
    {
        return;
    }
    let since = current
        .filter(|_| same_status)
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or(json!(now));
    conds.retain(|c| c.get("type").and_then(Value::as_str) != Some(type_));
    conds.push(json!({
        "type": type_, "status": status, "lastUpdateTime": now, "lastTransitionTime": since,
        "reason": reason, "message": message,
    }));
}

/// Which Pods a scale-down removes first: unscheduled, then pending, then not ready, then
/// the newest — the replica set controller's ranking, shortened.
fn deletion_rank(pod: &Value) -> (bool, u8, bool, Reverse<String>, Reverse<String>) {
    let phase = match str_at(pod, "/status/phase") {
        Some("Pending") | None => 0,
        Some("Running") => 2,
        _ => 1,
    };
    (
        str_at(pod, "/spec/nodeName").is_some_and(|n| !n.is_empty()),
        phase,
        is_ready(pod),
        Reverse(meta::creation_timestamp(pod).unwrap_or("").to_string()),
        Reverse(name(pod).unwrap_or("").to_string()),
    )
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn fenceposts_resolve_like_the_deployment_controller() {
        let d = |strategy: Value| json!({"spec": {"strategy": strategy}});
        assert_eq!(surge_and_unavailable(&d(json!({})), 3), (1, 0));
        assert_eq!(surge_and_unavailable(&d(json!({})), 4), (1, 1));
        let fixed = d(
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
        );
        assert_eq!(surge_and_unavailable(&fixed, 3), (0, 1));
        assert_eq!(
            surge_and_unavailable(&d(json!({"type": "Recreate"})), 3),
            (0, 0)
        );
    }

    #[test]
    fn conditions_keep_transition_time_within_a_status() {
        let mut conds = Vec::new();
        set_condition(
            &mut conds,
            "Progressing",
            "True",
            "NewReplicaSetCreated",
            "m",
            "t1",
        );
        set_condition(
            &mut conds,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            "m",
            "t2",
        );
        assert_eq!(conds[0]["lastTransitionTime"], "t1");
        assert_eq!(conds[0]["lastUpdateTime"], "t2");
        set_condition(
            &mut conds,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            "other",
            "t3",
        );
        assert_eq!(conds[0]["lastUpdateTime"], "t2");
    }
}
