//! What the simulated containers print. No process runs in the embedded cluster, so a
//! container's log is its simulated life, read off the Pod's status as the kubelet wrote
//! it: started (from which image), ready or not, exited (with which code). The `pods/log`
//! subresource serves these lines; being a function of the status, they are the same on
//! every read and grow as the container's status moves on.

use chrono::{DateTime, Utc};
use ferry_api::meta;
use ferry_api::{Classify, Disposition};
use serde_json::Value;

use super::{parse_time, str_at};

/// One line a container printed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LogLine {
    pub time: DateTime<Utc>,
    pub text: String,
}

/// One run of a container: its lines, and whether it is over (no more lines will come).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerLog {
    pub lines: Vec<LogLine>,
    pub finished: bool,
}

/// Why a container has no log to show, worded as the kubelet words it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// The Pod has several containers and the request named none.
    #[error("a container name must be specified for pod {pod}, choose one of: [{}]{}", .containers.join(" "), init_choice(.init_containers))]
    ContainerRequired {
        pod: String,
        containers: Vec<String>,
        init_containers: Vec<String>,
    },
    /// The named container is not in the Pod.
    #[error("container {container} is not valid for pod {pod}")]
    NoSuchContainer { pod: String, container: String },
    /// The container has not started yet.
    #[error("container \"{container}\" in pod \"{pod}\" is waiting to start: {reason}")]
    Waiting {
        pod: String,
        container: String,
        reason: String,
    },
    /// `previous` was asked for and the container has not terminated before.
    #[error("previous terminated container \"{container}\" in pod \"{pod}\" not found")]
    NoPrevious { pod: String, container: String },
}

impl Classify for LogError {
    /// A container that has not started yet will have a log; the other requests must change.
    fn disposition(&self) -> Disposition {
        match self {
            Self::Waiting { .. } => Disposition::Wait,
            Self::ContainerRequired { .. }
            | Self::NoSuchContainer { .. }
            | Self::NoPrevious { .. } => Disposition::GiveUp,
        }
    }
}

fn init_choice(init_containers: &[String]) -> String {
    if init_containers.is_empty() {
        String::new()
    } else {
        format!(
            " or one of the init containers: [{}]",
            init_containers.join(" ")
        )
    }
}

/// The log of `container` in `pod` (its only container when `None`): the current run, or
/// with `previous` the last one that terminated before it.
pub fn container_log(
    pod: &Value,
    container: Option<&str>,
    previous: bool,
) -> Result<ContainerLog, LogError> {
    let pod_name = meta::name(pod).unwrap_or("").to_string();
    let names = |list: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| str_at(c, "/name").map(str::to_string))
            .collect()
    };
    let (containers, init_containers) = (names("containers"), names("initContainers"));
    let container = match container.filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return Err(LogError::ContainerRequired {
                pod: pod_name,
                containers,
                init_containers,
            });
        }
    };
    let (init, spec) = if containers.contains(&container) {
        (false, "containers")
    } else if init_containers.contains(&container) {
        (true, "initContainers")
    } else {
        return Err(LogError::NoSuchContainer {
            pod: pod_name,
            container,
        });
    };
    let image = pod
        .pointer(&format!("/spec/{spec}"))
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| str_at(c, "/name") == Some(&container)))
        .and_then(|c| str_at(c, "/image"))
        .unwrap_or("");
    let statuses = if init {
        "/status/initContainerStatuses"
    } else {
        "/status/containerStatuses"
    };
    let status = pod
        .pointer(statuses)
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| str_at(c, "/name") == Some(&container)));
    let waiting = |reason: Option<&str>| LogError::Waiting {
        pod: pod_name.clone(),
        container: container.clone(),
        reason: reason.unwrap_or("ContainerCreating").to_string(),
    };
    let Some(status) = status else {
        return Err(waiting(None));
    };
    let run = |state: &Value, ready_since: Option<DateTime<Utc>>| -> Option<ContainerLog> {
        let (started, ended) = if let Some(running) = state.get("running") {
            (str_at(running, "/startedAt")?, None)
        } else {
            let terminated = state.get("terminated")?;
            (str_at(terminated, "/startedAt")?, Some(terminated))
        };
        let started = parse_time(started)?;
        let mut lines = vec![LogLine {
            time: started,
            text: format!(
                "ferry: container {container} started from image {image} (simulated: no process runs)"
            ),
        }];
        match ended {
            None => lines.push(match ready_since {
                Some(since) => LogLine {
                    time: since.max(started),
                    text: format!("ferry: container {container} is ready"),
                },
                None => LogLine {
                    time: started,
                    text: format!("ferry: container {container} is running and not ready"),
                },
            }),
            Some(terminated) => {
                let code = terminated
                    .get("exitCode")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                let reason = str_at(terminated, "/reason").unwrap_or("");
                let finished = str_at(terminated, "/finishedAt")
                    .and_then(parse_time)
                    .unwrap_or(started);
                lines.push(LogLine {
                    time: finished,
                    text: format!(
                        "ferry: container {container} exited with code {code} ({reason})"
                    ),
                });
            }
        }
        Some(ContainerLog {
            lines,
            finished: ended.is_some(),
        })
    };
    let last_run = status
        .get("lastState")
        .filter(|s| s.get("terminated").is_some())
        .and_then(|s| run(s, None));
    let state = status.get("state").cloned().unwrap_or(Value::Null);
    if previous {
        return last_run.ok_or(LogError::NoPrevious {
            pod: pod_name,
            container,
        });
    }
    let ready_since = (status.get("ready") == Some(&Value::Bool(true)))
        .then(|| {
            pod.pointer("/status/conditions")
                .and_then(Value::as_array)?
                .iter()
                .find(|c| str_at(c, "/type") == Some("ContainersReady"))
                .and_then(|c| str_at(c, "/lastTransitionTime"))
                .and_then(parse_time)
        })
        .flatten();
    // As the kubelet chooses: the current run, else the last one that ended (a container
    // waiting to restart shows the run that crashed), else why there is none yet.
    run(&state, ready_since)
        .or(last_run)
        .ok_or_else(|| waiting(state.pointer("/waiting/reason").and_then(Value::as_str)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_container_yet_to_start_is_waited_for() {
        let pod = || "web".to_string();
        let container = || "app".to_string();
        let table = [
            (
                LogError::ContainerRequired {
                    pod: pod(),
                    containers: vec!["a".into(), "b".into()],
                    init_containers: Vec::new(),
                },
                Disposition::GiveUp,
            ),
            (
                LogError::NoSuchContainer {
                    pod: pod(),
                    container: container(),
                },
                Disposition::GiveUp,
            ),
            (
                LogError::Waiting {
                    pod: pod(),
                    container: container(),
                    reason: "ContainerCreating".into(),
                },
                Disposition::Wait,
            ),
            (
                LogError::NoPrevious {
                    pod: pod(),
                    container: container(),
                },
                Disposition::GiveUp,
            ),
        ];
        for (error, expected) in table {
            assert_eq!(error.disposition(), expected, "{error}");
        }
    }

    fn pod(containers: &[&str], statuses: Value) -> Value {
        let specs: Vec<Value> = containers
            .iter()
            .map(|c| json!({"name": c, "image": format!("{c}:1")}))
            .collect();
        json!({"metadata": {"name": "p"}, "spec": {"containers": specs}, "status": statuses})
    }

    #[test]
    fn a_ready_container_says_so() {
        let p = pod(
            &["web"],
            json!({
            "conditions": [{"type": "ContainersReady", "status": "True", "lastTransitionTime": "2026-01-01T00:00:05Z"}],
            "containerStatuses": [{"name": "web", "ready": true, "containerID": "containerd://1",
                "state": {"running": {"startedAt": "2026-01-01T00:00:04Z"}}}]}),
        );
        let log = container_log(&p, None, false).unwrap();
        assert!(!log.finished);
        let texts: Vec<&str> = log.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "ferry: container web started from image web:1 (simulated: no process runs)",
                "ferry: container web is ready"
            ]
        );
        assert_eq!(log.lines[1].time.to_rfc3339(), "2026-01-01T00:00:05+00:00");
    }

    #[test]
    fn terminated_and_crashed_runs() {
        let crashed = json!({"terminated": {"exitCode": 1, "reason": "Error", "containerID": "containerd://9",
            "startedAt": "2026-01-01T00:00:01Z", "finishedAt": "2026-01-01T00:00:02Z"}});
        let p = pod(
            &["app"],
            json!({"containerStatuses": [{"name": "app", "ready": false, "restartCount": 2,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": crashed}]}),
        );
        let current = container_log(&p, Some("app"), false).unwrap();
        assert!(current.finished);
        assert!(
            current.lines[1]
                .text
                .ends_with("exited with code 1 (Error)")
        );
        assert_eq!(container_log(&p, Some("app"), true).unwrap(), current);
    }

    #[test]
    fn errors_name_the_choices() {
        let two = pod(&["a", "b"], json!({}));
        assert_eq!(
            container_log(&two, None, false).unwrap_err().to_string(),
            "a container name must be specified for pod p, choose one of: [a b]"
        );
        assert_eq!(
            container_log(&two, Some("c"), false)
                .unwrap_err()
                .to_string(),
            "container c is not valid for pod p"
        );
        let waiting = pod(
            &["a"],
            json!({"containerStatuses": [{"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        );
        assert_eq!(
            container_log(&waiting, None, false)
                .unwrap_err()
                .to_string(),
            "container \"a\" in pod \"p\" is waiting to start: ContainerCreating"
        );
        assert!(matches!(
            container_log(&waiting, None, true),
            Err(LogError::NoPrevious { .. })
        ));
    }
}
