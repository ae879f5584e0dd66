//! The simulated scheduler and kubelet: every Pod is bound to [`super::NODE_NAME`], reported
//! Pending (`ContainerCreating`) when first seen, and after `ready_after` Running and Ready
//! with the status fields a real kubelet fills (conditions, container states, IPs, start
//! times). Pods of Jobs run to completion instead. `ferry.dev/simulate` on the Pod or its
//! controlling workload picks a failure shape instead (see the module above).
//!
//! Timestamps already written are kept when the state they describe has not changed, so
//! re-reconciling a settled Pod writes nothing.

use std::time::{Duration, Instant};

use ferry_api::meta::{self, uid};
use serde_json::{Map, Value, json};

use super::events::Event;
use super::{KUBELET, Kind, Mode, NODE_IP, NODE_NAME, PodTrack, Sim, Work, hex_id, set_at, str_at};
use crate::objects::{self, Objects};

const SCHEDULER: &str = "default-scheduler";
/// The longest crash-loop back-off, as the kubelet caps it.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What a Pod looks like at this moment of its simulated life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Scheduled, containers being created.
    Pending,
    /// Running; containers ready or not.
    Running { ready: bool },
    /// Running, containers restarting in back-off.
    CrashLoop { restarts: i64 },
    /// Finished (Job Pods): exit code 0 or 1.
    Finished { success: bool },
}

impl Sim {
    pub(super) fn sync_pod(&mut self, w: &Work) {
        let t = self.types.pods.clone();
        let key = Objects::key(&t, &w.namespace, &w.name);
        let Some(mut pod) = self.get(&t, &w.namespace, &w.name) else {
            self.pods.remove(&key);
            return;
        };
        let phase = str_at(&pod, "/status/phase").unwrap_or("").to_string();
        if meta::is_being_deleted(&pod) || matches!(phase.as_str(), "Succeeded" | "Failed") {
            return;
        }
        if str_at(&pod, "/spec/nodeName").is_none_or(str::is_empty) {
            // The scheduler's binding: one node, so every Pod fits.
            if !set_at(&mut pod, &["spec", "nodeName"], json!(NODE_NAME)) {
                return;
            }
            match self.update(&t, pod, None, SCHEDULER) {
                Some(bound) => pod = bound,
                None => return,
            }
        }
        let (mode, runs_to_completion) = self.pod_mode(&pod);
        let now = Instant::now();
        let track = self.pods.entry(key.clone()).or_insert(PodTrack {
            seen: now,
            next_restart: None,
        });
        let due = track.seen + self.config.ready_after;
        // A Pod already running (seen by an earlier process) does not start over.
        let started = phase == "Running" || now >= due;
        let mut wake = None;
        let shape = if !started {
            wake = Some(due);
            Shape::Pending
        } else {
            match (mode, runs_to_completion) {
                (Mode::Progressing, _) => Shape::Pending,
                (Mode::Healthy, true) => Shape::Finished { success: true },
                (Mode::Degraded | Mode::CrashLoop, true) => Shape::Finished { success: false },
                (Mode::Healthy, false) => Shape::Running { ready: true },
                (Mode::Degraded, false) => Shape::Running { ready: false },
                (Mode::CrashLoop, false) => {
                    let restarts = restart_count(&pod);
                    let base = self.config.ready_after.max(Duration::from_millis(10));
                    let (restarts, next) = match track.next_restart {
                        _ if restarts == 0 => (1, now + backoff(base, 1)),
                        Some(at) if at <= now => (restarts + 1, now + backoff(base, restarts + 1)),
                        Some(at) => (restarts, at),
                        None => (restarts, now + backoff(base, restarts)),
                    };
                    track.next_restart = Some(next);
                    wake = Some(next);
                    Shape::CrashLoop { restarts }
                }
            }
        };
        if let Some(at) = wake {
            self.schedule(at, w.clone());
        }
        let pod_ip = match shape {
            Shape::Pending => None,
            _ => Some(self.ips.get_or_allocate(&key)),
        };
        let status = pod_status(&pod, shape, pod_ip.as_deref(), &objects::now());
        let events = lifecycle_events(&pod, &status);
        if let Some(written) = self.write_status(&t, pod, status, KUBELET) {
            for event in events {
                self.record(&written, event);
            }
        }
    }

    /// The Pod's failure mode (its own annotation, else its workload's) and whether it runs
    /// to completion (a Job's Pod).
    fn pod_mode(&self, pod: &Value) -> (Mode, bool) {
        let ns = meta::namespace(pod).unwrap_or("");
        let owner = meta::controller_of(pod).and_then(|r| super::reference_work(&r, ns));
        let job = owner.as_ref().is_some_and(|o| o.kind == Kind::Job);
        if let Some(mode) = Mode::of_annotation(pod) {
            return (mode, job);
        }
        let Some(owner) = owner else {
            return (Mode::Healthy, job);
        };
        let Some(owner_obj) = self.get(self.types.of(owner.kind), ns, &owner.name) else {
            return (Mode::Healthy, job);
        };
        // A ReplicaSet under a Deployment takes the Deployment's word, which users edit.
        let deployment = (owner.kind == Kind::ReplicaSet)
            .then(|| meta::controller_of(&owner_obj).and_then(|r| super::reference_work(&r, ns)))
            .flatten()
            .filter(|w| w.kind == Kind::Deployment)
            .and_then(|w| self.get(&self.types.deployments, ns, &w.name));
        let source = deployment.as_ref().unwrap_or(&owner_obj);
        (Mode::of_annotation(source).unwrap_or_default(), job)
    }
}

/// The events between the Pod's recorded status and `next`: the scheduler's binding, then
/// per container its start (image, create, start) and each crash's back-off.
fn lifecycle_events(pod: &Value, next: &Value) -> Vec<Event> {
    let mut events = Vec::new();
    let pod_name = meta::name(pod).unwrap_or("");
    let pod_ns = meta::namespace(pod).unwrap_or("");
    if pod.pointer("/status/conditions").is_none() {
        events.push(Event::normal(
            "Scheduled",
            format!("Successfully assigned {pod_ns}/{pod_name} to {NODE_NAME}"),
            SCHEDULER,
        ));
    }
    for (list, statuses) in [
        ("initContainers", "initContainerStatuses"),
        ("containers", "containerStatuses"),
    ] {
        let before = |name: &str| -> Option<&Value> {
            pod.pointer(&format!("/status/{statuses}"))?
                .as_array()?
                .iter()
                .find(|c| str_at(c, "/name") == Some(name))
        };
        for now in next
            .get(statuses)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = str_at(now, "/name").unwrap_or("");
            let image = str_at(now, "/image").unwrap_or("");
            let was = before(name);
            let restarts = |c: Option<&Value>| {
                c.and_then(|c| c.get("restartCount"))
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
            };
            let started = now.get("containerID").is_some()
                && (was.is_none_or(|c| c.get("containerID").is_none())
                    || restarts(Some(now)) > restarts(was));
            if !started {
                continue;
            }
            let container = |event: Event| event.on_container(list, name);
            events.push(container(Event::normal(
                "Pulled",
                format!("Container image \"{image}\" already present on machine"),
                KUBELET,
            )));
            events.push(container(Event::normal(
                "Created",
                format!("Created container: {name}"),
                KUBELET,
            )));
            events.push(container(Event::normal(
                "Started",
                format!("Started container {name}"),
                KUBELET,
            )));
            if restarts(Some(now)) > restarts(was) {
                let pod_uid = uid(pod).unwrap_or("");
                events.push(container(Event::warning(
                    "BackOff",
                    format!(
                        "Back-off restarting failed container {name} in pod {pod_name}_{pod_ns}({pod_uid})"
                    ),
                    KUBELET,
                )));
            }
        }
    }
    events
}

/// A Pod built from a workload's template, as controllers create them: the template's
/// labels and annotations, an ownerReference to the workload, and bound to the node.
pub(super) fn pod_from_template(
    template: &Value,
    namespace: &str,
    owner_ref: Value,
    extra_labels: &Map<String, Value>,
) -> Value {
    let mut labels = meta::labels(template).cloned().unwrap_or_default();
    labels.extend(extra_labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut metadata = Map::new();
    metadata.insert("namespace".into(), json!(namespace));
    if !labels.is_empty() {
        metadata.insert("labels".into(), Value::Object(labels));
    }
    if let Some(a) = template
        .pointer("/metadata/annotations")
        .filter(|a| a.as_object().is_some_and(|m| !m.is_empty()))
    {
        metadata.insert("annotations".into(), a.clone());
    }
    metadata.insert("ownerReferences".into(), json!([owner_ref]));
    let mut spec = template
        .get("spec")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    // The defaults kube-apiserver gives every Pod, which tools show.
    for (k, v) in [
        ("restartPolicy", json!("Always")),
        ("dnsPolicy", json!("ClusterFirst")),
        ("schedulerName", json!("default-scheduler")),
        ("terminationGracePeriodSeconds", json!(30)),
    ] {
        spec.entry(k).or_insert(v);
    }
    spec.insert("nodeName".into(), json!(NODE_NAME));
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
}

/// The highest restart count among the Pod's containers.
fn restart_count(pod: &Value) -> i64 {
    pod.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("restartCount").and_then(Value::as_i64))
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// The wait before restart `n` (1-based): `base`, doubling, capped.
fn backoff(base: Duration, n: i64) -> Duration {
    let doublings = u32::try_from(n.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    base.saturating_mul(1u32 << doublings).min(MAX_BACKOFF)
}

/// The kubelet's back-off as its message prints it: 10s doubling to 5m0s.
fn backoff_text(restarts: i64) -> String {
    let secs = backoff(Duration::from_secs(10), restarts).as_secs();
    if secs >= 60 {
        format!("{}m{}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// The Pod's whole status for `shape`, reusing timestamps from its current status.
fn pod_status(pod: &Value, shape: Shape, pod_ip: Option<&str>, now: &str) -> Value {
    let current = pod.get("status").cloned().unwrap_or(json!({}));
    let pod_name = meta::name(pod).unwrap_or("");
    let pod_ns = meta::namespace(pod).unwrap_or("");
    let pod_uid = uid(pod).unwrap_or("");
    let containers = container_specs(pod, "/spec/containers");
    let init_containers = container_specs(pod, "/spec/initContainers");
    let names: Vec<&str> = containers.iter().map(|(n, _)| n.as_str()).collect();
    let unready = format!("containers with unready status: [{}]", names.join(" "));
    let start_time = str_at(&current, "/startTime").unwrap_or(now).to_string();

    let (phase, sandbox, initialized, ready) = match shape {
        Shape::Pending => ("Pending", false, init_containers.is_empty(), false),
        Shape::Running { ready } => ("Running", true, true, ready),
        Shape::CrashLoop { .. } => ("Running", true, true, false),
        Shape::Finished { success: true } => ("Succeeded", false, true, false),
        Shape::Finished { success: false } => ("Failed", false, true, false),
    };
    let not_ready_reason = match shape {
        Shape::Finished { success: true } => ("PodCompleted", None),
        Shape::Finished { success: false } => ("PodFailed", None),
        _ => ("ContainersNotReady", Some(unready.as_str())),
    };
    let cond = |type_: &str, ok: bool, why: Option<(&str, Option<&str>)>| {
        let status = if ok { "True" } else { "False" };
        let previous = current
            .get("conditions")
            .and_then(Value::as_array)
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
            });
        let since = previous
            .filter(|c| c.get("status").and_then(Value::as_str) == Some(status))
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or(json!(now));
        let mut c = json!({"type": type_, "status": status, "lastProbeTime": null, "lastTransitionTime": since});
        if let Some((reason, message)) = why {
            c["reason"] = json!(reason);
            if let Some(m) = message {
                c["message"] = json!(m);
            }
        }
        c
    };
    let init_why = match shape {
        Shape::Finished { success: true } => Some(("PodCompleted", None)),
        _ if !initialized => Some((
            "ContainersNotInitialized",
            Some("containers with incomplete status: [init]"),
        )),
        _ => None,
    };
    let conditions = json!([
        cond("PodReadyToStartContainers", sandbox, None),
        cond("Initialized", initialized, init_why),
        cond("Ready", ready, (!ready).then_some(not_ready_reason)),
        cond(
            "ContainersReady",
            ready,
            (!ready).then_some(not_ready_reason)
        ),
        cond("PodScheduled", true, None),
    ]);

    let previous_of = |list: &str, name: &str| -> Value {
        current
            .get(list)
            .and_then(Value::as_array)
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
            })
            .cloned()
            .unwrap_or(json!({}))
    };
    let container_status = |name: &str, image: &str, previous: &Value| -> Value {
        let container_id = format!("containerd://{}", hex_id(&format!("{pod_uid}/{name}")));
        let restarts = match shape {
            Shape::CrashLoop { restarts } => restarts,
            _ => previous
                .get("restartCount")
                .and_then(Value::as_i64)
                .unwrap_or(0),
        };
        let running_since = previous
            .pointer("/state/running/startedAt")
            .cloned()
            .unwrap_or(json!(now));
        let (state, is_ready, started) = match shape {
            Shape::Pending => {
                let reason = if init_containers.is_empty() {
                    "ContainerCreating"
                } else {
                    "PodInitializing"
                };
                (json!({"waiting": {"reason": reason}}), false, false)
            }
            Shape::Running { ready } => (
                json!({"running": {"startedAt": running_since}}),
                ready,
                true,
            ),
            Shape::CrashLoop { restarts } => (
                json!({"waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": format!(
                        "back-off {} restarting failed container={name} pod={pod_name}_{pod_ns}({pod_uid})",
                        backoff_text(restarts)
                    ),
                }}),
                false,
                false,
            ),
            Shape::Finished { success } => {
                let (code, reason) = if success {
                    (0, "Completed")
                } else {
                    (1, "Error")
                };
                (
                    json!({"terminated": {
                        "containerID": container_id, "exitCode": code, "reason": reason,
                        "startedAt": start_time, "finishedAt": now,
                    }}),
                    false,
                    false,
                )
            }
        };
        let state = keep_same_state(previous.get("state"), state);
        let last_state = match shape {
            // The last crash: new when the count moves, otherwise as recorded.
            Shape::CrashLoop { restarts } => {
                match previous.get("lastState").filter(|_| {
                    previous.get("restartCount").and_then(Value::as_i64) == Some(restarts)
                }) {
                    Some(last) if last.get("terminated").is_some() => last.clone(),
                    _ => json!({"terminated": {
                        "containerID": container_id, "exitCode": 1, "reason": "Error",
                        "startedAt": now, "finishedAt": now,
                    }}),
                }
            }
            _ => previous.get("lastState").cloned().unwrap_or(json!({})),
        };
        let mut s = json!({
            "name": name,
            "image": image,
            "imageID": "",
            "lastState": last_state,
            "ready": is_ready,
            "restartCount": restarts,
            "started": started,
            "state": state,
        });
        if shape != Shape::Pending {
            s["containerID"] = json!(container_id);
            s["imageID"] = json!(image_id(image));
        }
        s
    };

    let mut status = Map::new();
    status.insert("phase".into(), json!(phase));
    status.insert("conditions".into(), conditions);
    status.insert("hostIP".into(), json!(NODE_IP));
    status.insert("hostIPs".into(), json!([{"ip": NODE_IP}]));
    if let Some(ip) = pod_ip {
        status.insert("podIP".into(), json!(ip));
        status.insert("podIPs".into(), json!([{"ip": ip}]));
    }
    status.insert("startTime".into(), json!(start_time));
    if !init_containers.is_empty() {
        let statuses: Vec<Value> = init_containers
            .iter()
            .map(|(name, image)| {
                let previous = previous_of("initContainerStatuses", name);
                let state = if shape == Shape::Pending {
                    json!({"waiting": {"reason": "PodInitializing"}})
                } else {
                    json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": start_time, "finishedAt": now}})
                };
                let done = shape != Shape::Pending;
                let mut s = json!({
                    "name": name, "image": image, "imageID": "", "lastState": {},
                    "ready": done, "restartCount": 0, "started": false,
                    "state": keep_same_state(previous.get("state"), state),
                });
                if done {
                    s["containerID"] = json!(format!("containerd://{}", hex_id(&format!("{pod_uid}/init/{name}"))));
                    s["imageID"] = json!(image_id(image));
                }
                s
            })
            .collect();
        status.insert("initContainerStatuses".into(), json!(statuses));
    }
    let statuses: Vec<Value> = containers
        .iter()
        .map(|(name, image)| container_status(name, image, &previous_of("containerStatuses", name)))
        .collect();
    status.insert("containerStatuses".into(), json!(statuses));
    status.insert("qosClass".into(), json!(qos_class(pod)));
    Value::Object(status)
}

/// The previous container state when it is the same state for the same reason (keeping its
/// timestamps), else the new one.
fn keep_same_state(previous: Option<&Value>, next: Value) -> Value {
    let Some(previous) = previous.and_then(Value::as_object) else {
        return next;
    };
    let Some((kind, body)) = next.as_object().and_then(|m| m.iter().next()) else {
        return next;
    };
    let same = previous.len() == 1
        && previous.get(kind).is_some_and(|p| {
            p.get("reason") == body.get("reason") && p.get("message") == body.get("message")
        });
    if same {
        Value::Object(previous.clone())
    } else {
        next
    }
}

/// (name, image) of each container at `pointer`.
fn container_specs(pod: &Value, pointer: &str) -> Vec<(String, String)> {
    pod.pointer(pointer)
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    (
                        c.get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        c.get("image")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A digest-pinned reference for an image, as the runtime reports `imageID`.
fn image_id(image: &str) -> String {
    let repository = match image.split_once('@') {
        Some((repo, _)) => repo,
        None => match image.rfind(':') {
            Some(i) if !image[i..].contains('/') => &image[..i],
            _ => image,
        },
    };
    format!("{repository}@sha256:{}", hex_id(image))
}

/// Kubernetes' QoS class: Guaranteed when every container limits CPU and memory with equal
/// requests, BestEffort when none asks for anything, Burstable otherwise.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["/spec/containers", "/spec/initContainers"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .collect();
    let has = |c: &Value, part: &str| {
        c.pointer(&format!("/resources/{part}"))
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
    };
    if containers
        .iter()
        .all(|c| !has(c, "requests") && !has(c, "limits"))
    {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        ["cpu", "memory"].iter().all(|r| {
            let limit = c.pointer(&format!("/resources/limits/{r}"));
            let request = c.pointer(&format!("/resources/requests/{r}")).or(limit);
            limit.is_some() && request == limit
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Whether a Pod still counts toward its controller: not finished, not being deleted.
pub(super) fn is_active(pod: &Value) -> bool {
    !meta::is_being_deleted(pod)
        && !matches!(str_at(pod, "/status/phase"), Some("Succeeded" | "Failed"))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn image_ids_drop_the_tag() {
        assert!(image_id("nginx:1.25").starts_with("nginx@sha256:"));
        assert!(image_id("localhost:5000/app").starts_with("localhost:5000/app@sha256:"));
        assert!(image_id("ghcr.io/x/y@sha256:abc").starts_with("ghcr.io/x/y@sha256:"));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_secs(1);
        assert_eq!(backoff(base, 1), Duration::from_secs(1));
        assert_eq!(backoff(base, 3), Duration::from_secs(4));
        assert_eq!(backoff(base, 100), MAX_BACKOFF);
        assert_eq!(backoff_text(1), "10s");
        assert_eq!(backoff_text(6), "5m0s");
    }

    #[test]
    fn qos_classes() {
        assert_eq!(
            qos_class(&json!({"spec": {"containers": [{"name": "a"}]}})),
            "BestEffort"
        );
        let g = json!({"spec": {"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        assert_eq!(qos_class(&g), "Guaranteed");
        let b = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}});
        assert_eq!(qos_class(&b), "Burstable");
    }
}
