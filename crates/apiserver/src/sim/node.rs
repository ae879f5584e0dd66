//! The simulated kubelet's Node: [`super::NODE_NAME`] registered when the simulation starts
//! (and again if someone deletes it, since every Pod is bound to it), Ready, with the
//! machine's CPUs and memory as its capacity, and its status re-posted every
//! [`STATUS_REPORT_INTERVAL`] as the kubelet does when nothing changes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::events::Event;
use super::{KUBELET, Kind, NODE_IP, NODE_NAME, POD_CIDR, Sim, Work, parse_time, str_at};
use crate::discovery::KUBERNETES_MINOR;
use crate::objects;

/// How often an unchanged status is posted again (the kubelet's `nodeStatusReportFrequency`).
const STATUS_REPORT_INTERVAL: Duration = Duration::from_secs(300);
/// Pods per node, the kubelet's default `maxPods`.
const MAX_PODS: &str = "110";
/// The node runs Linux containers, whatever the host is.
const OS: &str = "linux";

impl Sim {
    pub(super) fn sync_node(&mut self, w: &Work) {
        let t = self.types.nodes.clone();
        let node = match self.get(&t, "", &w.name) {
            Some(node) => node,
            None => {
                let Some(created) = self.create(&t, "", node_object(), KUBELET) else {
                    return;
                };
                for event in registration_events() {
                    self.record(&created, event);
                }
                created
            }
        };
        let now = chrono::Utc::now();
        let heartbeat = node
            .pointer("/status/conditions/0/lastHeartbeatTime")
            .and_then(Value::as_str)
            .and_then(parse_time)
            .filter(|at| {
                (now - *at)
                    .to_std()
                    .is_ok_and(|age| age < STATUS_REPORT_INTERVAL)
            });
        let (heartbeat, next_report) = match heartbeat {
            Some(at) => (
                at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                super::instant_at(at + STATUS_REPORT_INTERVAL),
            ),
            None => (objects::now(), Instant::now() + STATUS_REPORT_INTERVAL),
        };
        self.schedule(next_report, w.clone());
        let status = node_status(&node, &heartbeat, Machine::get());
        self.write_status(&t, node, status, KUBELET);
    }
}

/// What `kubectl describe node` shows of a kubelet's start and the node's registration.
fn registration_events() -> [Event; 3] {
    [
        Event::normal("Starting", "Starting kubelet.".into(), KUBELET),
        Event::normal(
            "NodeReady",
            format!("Node {NODE_NAME} status is now: NodeReady"),
            KUBELET,
        ),
        Event::normal(
            "RegisteredNode",
            format!("Node {NODE_NAME} event: Registered Node {NODE_NAME} in Controller"),
            "node-controller",
        ),
    ]
}

/// The work item of the one node.
pub(super) fn node_work() -> Work {
    Work::new(Kind::Node, "", NODE_NAME)
}

/// The Node as the kubelet registers it (status follows as a separate write).
fn node_object() -> Value {
    let arch = go_arch();
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "labels": {
                "beta.kubernetes.io/arch": arch,
                "beta.kubernetes.io/os": OS,
                "kubernetes.io/arch": arch,
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": OS,
                // One node runs everything, as in kind.
                "node-role.kubernetes.io/control-plane": "",
            },
        },
        "spec": {
            "podCIDR": POD_CIDR,
            "podCIDRs": [POD_CIDR],
            "providerID": format!("ferry://{NODE_NAME}"),
        },
    })
}

/// What the node reports about the machine Ferry runs on.
struct Machine {
    cpus: usize,
    /// `MemTotal` in KiB, when `/proc/meminfo` tells.
    memory_kib: Option<u64>,
    kernel: String,
    os_image: String,
    boot_id: String,
    machine_id: String,
}

impl Machine {
    /// The machine's facts, read once per process: they do not change while it runs.
    fn get() -> &'static Machine {
        static MACHINE: std::sync::OnceLock<Machine> = std::sync::OnceLock::new();
        MACHINE.get_or_init(Machine::read)
    }

    fn read() -> Self {
        let file = |path: &str| {
            std::fs::read_to_string(path)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let memory_kib = file("/proc/meminfo").lines().find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        });
        let os_image = file("/etc/os-release")
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_else(|| "Ferry simulated node".to_string());
        Self {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            memory_kib,
            kernel: file("/proc/sys/kernel/osrelease"),
            os_image,
            boot_id: file("/proc/sys/kernel/random/boot_id"),
            machine_id: file("/etc/machine-id"),
        }
    }
}

/// The node's status: Ready with no pressure, keeping each condition's transition time.
fn node_status(node: &Value, heartbeat: &str, machine: &Machine) -> Value {
    let mut capacity = json!({"cpu": machine.cpus.to_string(), "pods": MAX_PODS});
    if let Some(kib) = machine.memory_kib {
        capacity["memory"] = json!(format!("{kib}Ki"));
    }
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        let since = node
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| {
                cs.iter().find(|c| {
                    str_at(c, "/type") == Some(type_) && str_at(c, "/status") == Some(status)
                })
            })
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or(json!(heartbeat));
        json!({
            "type": type_, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": heartbeat, "lastTransitionTime": since,
        })
    };
    json!({
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": [
            {"type": "InternalIP", "address": NODE_IP},
            {"type": "Hostname", "address": NODE_NAME},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": machine.machine_id,
            "systemUUID": machine.machine_id,
            "bootID": machine.boot_id,
            "kernelVersion": machine.kernel,
            "osImage": machine.os_image,
            // No runtime runs containers here: the simulation is the runtime.
            "containerRuntimeVersion": format!("ferry://{}", env!("CARGO_PKG_VERSION")),
            "kubeletVersion": format!("v1.{KUBERNETES_MINOR}.0"),
            "kubeProxyVersion": "",
            "operatingSystem": OS,
            "architecture": go_arch(),
        },
    })
}

/// The architecture as Go (and so Kubernetes) names it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn status_reports_the_machine_and_keeps_transition_times() {
        let machine = Machine {
            cpus: 2,
            memory_kib: Some(1024),
            kernel: "6.1.0".into(),
            os_image: "Debian GNU/Linux 12 (bookworm)".into(),
            boot_id: String::new(),
            machine_id: String::new(),
        };
        let first = node_status(&json!({}), "2026-01-01T00:00:00Z", &machine);
        assert_eq!(
            first["capacity"],
            json!({"cpu": "2", "pods": "110", "memory": "1024Ki"})
        );
        assert_eq!(first["conditions"][3]["type"], "Ready");
        let node = json!({"status": first});
        let later = node_status(&node, "2026-01-01T00:05:00Z", &machine);
        assert_eq!(
            later["conditions"][3]["lastHeartbeatTime"],
            "2026-01-01T00:05:00Z"
        );
        assert_eq!(
            later["conditions"][3]["lastTransitionTime"],
            "2026-01-01T00:00:00Z"
        );
    }
}
