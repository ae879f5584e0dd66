//! Server-side printing: the `meta.k8s.io/v1` `Table` kubectl asks for on `get`, with the
//! columns kube-apiserver prints for common built-in kinds and a CRD's
//! `additionalPrinterColumns`.

use ferry_api::meta;
use serde_json::{Value, json};

use crate::resources::ResourceType;

type Cell = fn(&Value) -> Value;

/// Renders `objects` of type `t` as a Table with one row each.
pub fn render(t: &ResourceType, objects: &[Value]) -> Value {
    let columns = columns(t);
    let definitions: Vec<Value> = columns
        .iter()
        .map(|c| json!({"name": c.name, "type": c.type_, "format": c.format, "description": "", "priority": c.priority}))
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let cells: Vec<Value> = columns.iter().map(|c| c.cell(o)).collect();
            json!({"cells": cells, "object": o})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

struct Column {
    name: String,
    type_: &'static str,
    format: &'static str,
    /// 0: always shown; higher: only with `-o wide`.
    priority: u8,
    value: ColumnValue,
}

enum ColumnValue {
    Builtin(Cell),
    Path(String),
}

impl Column {
    fn builtin(name: &str, cell: Cell) -> Self {
        Self {
            name: name.into(),
            type_: "string",
            format: "",
            priority: 0,
            value: ColumnValue::Builtin(cell),
        }
    }

    /// A column only `-o wide` shows.
    fn wide(name: &str, cell: Cell) -> Self {
        Self {
            priority: 1,
            ..Self::builtin(name, cell)
        }
    }

    fn name() -> Self {
        Self {
            format: "name",
            ..Self::builtin("Name", name)
        }
    }

    fn age() -> Self {
        Self::builtin("Age", age)
    }

    fn cell(&self, obj: &Value) -> Value {
        match &self.value {
            ColumnValue::Builtin(f) => f(obj),
            ColumnValue::Path(p) => json_path(obj, p).cloned().unwrap_or(Value::Null),
        }
    }
}

fn columns(t: &ResourceType) -> Vec<Column> {
    if let Some(columns) = builtin_columns(t) {
        return columns;
    }
    let mut cols = vec![Column::name()];
    for c in &t.printer_columns {
        cols.push(Column {
            name: c.name.clone(),
            type_: "string",
            format: "",
            priority: c.priority,
            value: ColumnValue::Path(c.json_path.clone()),
        });
    }
    if t.printer_columns
        .iter()
        .all(|c| !c.name.eq_ignore_ascii_case("age"))
    {
        cols.push(Column::age());
    }
    cols
}

/// The columns kube-apiserver prints for a built-in kind, when it has its own.
fn builtin_columns(t: &ResourceType) -> Option<Vec<Column>> {
    if t.custom {
        return None;
    }
    let c = Column::builtin;
    Some(match (t.group.as_str(), t.plural.as_str()) {
        ("", "namespaces") => vec![
            Column::name(),
            c("Status", |o| str_at(o, "/status/phase")),
            Column::age(),
        ],
        ("", "nodes") => vec![
            Column::name(),
            c("Status", node_status),
            c("Roles", node_roles),
            Column::age(),
            c("Version", |o| str_at(o, "/status/nodeInfo/kubeletVersion")),
            Column::wide("Internal-IP", |o| node_address(o, "InternalIP")),
            Column::wide("External-IP", |o| node_address(o, "ExternalIP")),
            Column::wide("OS-Image", |o| or_unknown(o, "/status/nodeInfo/osImage")),
            Column::wide("Kernel-Version", |o| {
                or_unknown(o, "/status/nodeInfo/kernelVersion")
            }),
            Column::wide("Container-Runtime", |o| {
                str_at(o, "/status/nodeInfo/containerRuntimeVersion")
            }),
        ],
        ("", "pods") => vec![
            Column::name(),
            c("Ready", pod_ready),
            c("Status", pod_status),
            c("Restarts", pod_restarts),
            Column::age(),
            Column::wide("IP", |o| or_none(o, "/status/podIP")),
            Column::wide("Node", |o| or_none(o, "/spec/nodeName")),
            Column::wide("Nominated Node", |o| {
                or_none(o, "/status/nominatedNodeName")
            }),
            Column::wide("Readiness Gates", pod_readiness_gates),
        ],
        ("", "events") => vec![
            c("Last Seen", event_last_seen),
            c("Type", |o| str_at(o, "/type")),
            c("Reason", |o| str_at(o, "/reason")),
            c("Object", event_object),
            Column::wide("Subobject", |o| str_at(o, "/involvedObject/fieldPath")),
            Column::wide("Source", event_source),
            c("Message", |o| {
                json!(o["message"].as_str().unwrap_or("").trim())
            }),
            Column::wide("First Seen", event_first_seen),
            Column::wide("Count", event_count),
            Column {
                format: "name",
                ..Column::wide("Name", name)
            },
        ],
        ("apps", "deployments") => vec![
            Column::name(),
            c("Ready", ready_of_replicas),
            c("Up-to-date", |o| {
                json!(int_at(o, "/status/updatedReplicas"))
            }),
            c("Available", |o| {
                json!(int_at(o, "/status/availableReplicas"))
            }),
            Column::age(),
        ],
        ("apps", "statefulsets") => {
            vec![Column::name(), c("Ready", ready_of_replicas), Column::age()]
        }
        ("apps", "replicasets") => vec![
            Column::name(),
            c("Desired", |o| json!(int_at(o, "/spec/replicas"))),
            c("Current", |o| json!(int_at(o, "/status/replicas"))),
            c("Ready", |o| json!(int_at(o, "/status/readyReplicas"))),
            Column::age(),
        ],
        ("apps", "daemonsets") => vec![
            Column::name(),
            c("Desired", |o| {
                json!(int_at(o, "/status/desiredNumberScheduled"))
            }),
            c("Current", |o| {
                json!(int_at(o, "/status/currentNumberScheduled"))
            }),
            c("Ready", |o| json!(int_at(o, "/status/numberReady"))),
            Column::age(),
        ],
        ("batch", "jobs") => vec![
            Column::name(),
            c("Completions", |o| {
                json!(format!(
                    "{}/{}",
                    int_at(o, "/status/succeeded"),
                    o.pointer("/spec/completions")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                ))
            }),
            Column::age(),
        ],
        ("", "services") => vec![
            Column::name(),
            c("Type", |o| str_at(o, "/spec/type")),
            c("Cluster-IP", |o| str_at(o, "/spec/clusterIP")),
            c("Ports", service_ports),
            Column::age(),
        ],
        ("", "configmaps") => vec![
            Column::name(),
            c("Data", |o| json!(count(o, "data") + count(o, "binaryData"))),
            Column::age(),
        ],
        ("", "secrets") => vec![
            Column::name(),
            c("Type", |o| str_at(o, "/type")),
            c("Data", |o| json!(count(o, "data"))),
            Column::age(),
        ],
        ("", "persistentvolumeclaims") => vec![
            Column::name(),
            c("Status", |o| str_at(o, "/status/phase")),
            Column::age(),
        ],
        _ => return None,
    })
}

fn name(o: &Value) -> Value {
    json!(meta::name(o).unwrap_or(""))
}

fn str_at(o: &Value, p: &str) -> Value {
    json!(o.pointer(p).and_then(Value::as_str).unwrap_or(""))
}

fn int_at(o: &Value, p: &str) -> i64 {
    o.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

fn count(o: &Value, field: &str) -> usize {
    o.get(field)
        .and_then(Value::as_object)
        .map_or(0, |m| m.len())
}

/// `ready/desired` replicas of a Deployment or StatefulSet.
fn ready_of_replicas(o: &Value) -> Value {
    json!(format!(
        "{}/{}",
        int_at(o, "/status/readyReplicas"),
        int_at(o, "/spec/replicas")
    ))
}

fn pod_ready(o: &Value) -> Value {
    let total = o
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ready = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map_or(0, |s| {
            s.iter().filter(|c| c["ready"] == json!(true)).count()
        });
    json!(format!("{ready}/{total}"))
}

/// The pod STATUS kubectl prints: a container's waiting or terminated reason wins over the
/// phase (`CrashLoopBackOff`, `Completed`, `Error`), and `Terminating` over everything.
fn pod_status(o: &Value) -> Value {
    if meta::is_being_deleted(o) {
        return json!("Terminating");
    }
    let mut status = o
        .pointer("/status/reason")
        .or_else(|| o.pointer("/status/phase"))
        .and_then(Value::as_str)
        .unwrap_or("Unknown")
        .to_string();
    for c in o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(reason) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
            status = reason.to_string();
        } else if let Some(terminated) = c.pointer("/state/terminated") {
            status = match terminated["reason"].as_str() {
                Some(r) => r.to_string(),
                None if terminated["exitCode"] == json!(0) => "Completed".into(),
                None => "Error".into(),
            };
        }
    }
    json!(status)
}

fn pod_restarts(o: &Value) -> Value {
    let restarts: i64 = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map_or(0, |s| {
            s.iter().filter_map(|c| c["restartCount"].as_i64()).sum()
        });
    json!(restarts)
}

fn service_ports(o: &Value) -> Value {
    let ports: Vec<String> = o
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP")))
                .collect()
        })
        .unwrap_or_default();
    json!(if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    })
}

fn age(o: &Value) -> Value {
    since(o, "/metadata/creationTimestamp")
}

/// The time since the timestamp at `pointer`, as kubectl prints ages.
fn since(o: &Value, pointer: &str) -> Value {
    let Some(at) = o.pointer(pointer).and_then(Value::as_str) else {
        return json!("<unknown>");
    };
    match chrono::DateTime::parse_from_rfc3339(at) {
        Ok(t) => json!(human_duration(
            chrono::Utc::now().signed_duration_since(t).num_seconds()
        )),
        Err(_) => json!("<invalid>"),
    }
}

/// `<none>` where the string is empty or missing.
fn or_none(o: &Value, pointer: &str) -> Value {
    or(o, pointer, "<none>")
}

/// `<unknown>` where the string is empty or missing.
fn or_unknown(o: &Value, pointer: &str) -> Value {
    or(o, pointer, "<unknown>")
}

fn or(o: &Value, pointer: &str, missing: &str) -> Value {
    match o.pointer(pointer).and_then(Value::as_str) {
        Some(s) if !s.is_empty() => json!(s),
        _ => json!(missing),
    }
}

/// `ready/total` of the Pod's readiness gates, or `<none>` when it has none.
fn pod_readiness_gates(o: &Value) -> Value {
    let Some(gates) = o
        .pointer("/spec/readinessGates")
        .and_then(Value::as_array)
        .filter(|g| !g.is_empty())
    else {
        return json!("<none>");
    };
    let conditions = o.pointer("/status/conditions").and_then(Value::as_array);
    let ready = gates
        .iter()
        .filter(|g| {
            conditions
                .into_iter()
                .flatten()
                .any(|c| c["type"] == g["conditionType"] && c["status"] == "True")
        })
        .count();
    json!(format!("{ready}/{}", gates.len()))
}

/// `Ready`, `NotReady` or `Unknown` from the Ready condition, with `SchedulingDisabled`
/// for a cordoned node.
fn node_status(o: &Value) -> Value {
    let ready = o
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["status"].as_str());
    let mut status = match ready {
        Some("True") => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }
    .to_string();
    if o.pointer("/spec/unschedulable") == Some(&json!(true)) {
        status.push_str(",SchedulingDisabled");
    }
    json!(status)
}

/// The roles a node's labels give it: `node-role.kubernetes.io/<role>` and
/// `kubernetes.io/role`.
fn node_roles(o: &Value) -> Value {
    let mut roles: Vec<String> = meta::labels(o)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| match k.strip_prefix("node-role.kubernetes.io/") {
            Some(role) if !role.is_empty() => Some(role.to_string()),
            _ if k == "kubernetes.io/role" => {
                v.as_str().filter(|r| !r.is_empty()).map(str::to_string)
            }
            _ => None,
        })
        .collect();
    roles.sort();
    roles.dedup();
    json!(if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.join(",")
    })
}

fn node_address(o: &Value, kind: &str) -> Value {
    let address = o
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|a| a["type"] == kind))
        .and_then(|a| a["address"].as_str());
    json!(address.unwrap_or("<none>"))
}

/// When an event first happened: `firstTimestamp`, else the newer API's `eventTime`.
fn event_first_seen(o: &Value) -> Value {
    since(o, first_present(o, &["/firstTimestamp", "/eventTime"]))
}

/// When an event last happened: the series' last observation, `lastTimestamp`, or when it
/// first happened.
fn event_last_seen(o: &Value) -> Value {
    match ["/series/lastObservedTime", "/lastTimestamp"]
        .into_iter()
        .find(|p| present(o, p))
    {
        Some(pointer) => since(o, pointer),
        None => event_first_seen(o),
    }
}

/// How often an event happened; events of the newer API that happened once carry no count.
fn event_count(o: &Value) -> Value {
    let count = o
        .pointer("/series/count")
        .or_else(|| o.get("count"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    json!(count.max(1))
}

/// `kind/name` of the object an event is about, or the kind alone.
fn event_object(o: &Value) -> Value {
    let kind = o
        .pointer("/involvedObject/kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_lowercase();
    match o.pointer("/involvedObject/name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => json!(format!("{kind}/{name}")),
        _ => json!(kind),
    }
}

/// `component, host`, from `source` or the newer API's reporting fields.
fn event_source(o: &Value) -> Value {
    let text = |p: &str| {
        o.pointer(p)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let component = text("/source/component").or(text("/reportingComponent"));
    let host = text("/source/host").or(text("/reportingInstance"));
    json!(match (component, host) {
        (Some(c), Some(h)) => format!("{c}, {h}"),
        (Some(c), None) => c.to_string(),
        (None, Some(h)) => h.to_string(),
        (None, None) => "<unknown>".to_string(),
    })
}

/// Whether a non-empty string is at `pointer`.
fn present(o: &Value, pointer: &str) -> bool {
    o.pointer(pointer)
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
}

/// The first of `pointers` with a non-empty string, else the first.
fn first_present<'a>(o: &Value, pointers: &[&'a str]) -> &'a str {
    pointers
        .iter()
        .find(|p| present(o, p))
        .or(pointers.first())
        .copied()
        .unwrap_or("")
}

/// Kubernetes' `duration.HumanDuration`: two significant units, coarser as time passes.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    let s = seconds.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    let y = d / 365;
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 192 {
        if h % 24 == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{}h", h % 24)
        }
    } else if y < 2 {
        format!("{d}d")
    } else if y < 8 {
        if d % 365 == 0 {
            format!("{y}y")
        } else {
            format!("{y}y{}d", d % 365)
        }
    } else {
        format!("{y}y")
    }
}

/// A CRD printer column's JSONPath, in the simple `.a.b.c` form CRDs use.
fn json_path<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = obj;
    for part in path
        .trim_start_matches('.')
        .split('.')
        .filter(|p| !p.is_empty())
    {
        node = node.get(part)?;
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::human_duration;

    #[test]
    fn pod_status_prefers_container_reasons() {
        use serde_json::json;
        let cases = [
            (json!({"status": {"phase": "Running"}}), "Running"),
            (
                json!({"status": {"phase": "Running", "containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}),
                "CrashLoopBackOff",
            ),
            (
                json!({"status": {"phase": "Succeeded", "containerStatuses": [{"state": {"terminated": {"exitCode": 0}}}]}}),
                "Completed",
            ),
            (
                json!({"status": {"phase": "Failed", "containerStatuses": [{"state": {"terminated": {"exitCode": 1}}}]}}),
                "Error",
            ),
            (
                json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}, "status": {"phase": "Running"}}),
                "Terminating",
            ),
        ];
        for (pod, want) in cases {
            assert_eq!(super::pod_status(&pod), want, "{pod}");
        }
    }

    #[test]
    fn node_and_event_cells() {
        use serde_json::json;
        let node = json!({"metadata": {"labels": {"node-role.kubernetes.io/worker": "",
            "node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "edge"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        assert_eq!(super::node_roles(&node), "control-plane,edge,worker");
        assert_eq!(super::node_status(&node), "NotReady,SchedulingDisabled");
        assert_eq!(super::node_roles(&json!({})), "<none>");
        let event = json!({"involvedObject": {"kind": "Node"}, "reportingComponent": "c"});
        assert_eq!(super::event_object(&event), "node");
        assert_eq!(super::event_count(&event), 1);
        assert_eq!(super::event_source(&event), "c");
        assert_eq!(super::event_last_seen(&event), "<unknown>");
        let pod = json!({"spec": {"readinessGates": [{"conditionType": "a"}, {"conditionType": "b"}]},
            "status": {"conditions": [{"type": "a", "status": "True"}]}});
        assert_eq!(super::pod_readiness_gates(&pod), "1/2");
    }

    #[test]
    fn human_durations_match_kubernetes() {
        for (secs, want) in [
            (0, "0s"),
            (59, "59s"),
            (119, "119s"),
            (125, "2m5s"),
            (600, "10m"),
            (7200, "120m"),
            (3 * 3600 + 60, "3h1m"),
            (10 * 3600, "10h"),
            (50 * 3600, "2d2h"),
            (400 * 86400, "400d"),
            (3 * 365 * 86400, "3y"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}s");
        }
    }
}
