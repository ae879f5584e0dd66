//! The kubectl suite, continued with what a newcomer looks at first: the node, the events
//! `describe` shows, container logs, and what `auth` says about them.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ferry_testkit::cluster::{TestCluster, auth};

const TWO_CONTAINERS: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: pair
spec:
  containers:
  - {name: app, image: "app:1"}
  - {name: proxy, image: "envoy:1.30"}
"#;

const CRASHING: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: crashy
  annotations: {ferry.dev/simulate: crashloop}
spec:
  containers:
  - {name: app, image: "app:1"}
"#;

#[test]
fn the_node_is_ready_with_the_machine_as_capacity() {
    let c = TestCluster::start();
    // The kubelet registers its Node after start-up, as on a real cluster; `kubectl wait`
    // refuses an object that does not exist yet.
    c.eventually("the node to register", || {
        c.kubectl(&["get", "node", "ferry-node"]).status.success()
    });
    c.ok(&[
        "wait",
        "--for=condition=Ready",
        "node/ferry-node",
        "--timeout=20s",
    ]);
    let table = c.ok(&["get", "nodes"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        "{table}"
    );
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        (row[0], row[1], row[2]),
        ("ferry-node", "Ready", "control-plane")
    );
    assert!(row[4].starts_with("v1."), "{table}");
    let wide = c.ok(&["get", "no", "-o", "wide"]);
    assert!(
        wide.contains("INTERNAL-IP") && wide.contains("172.18.0.2"),
        "{wide}"
    );
    assert!(
        wide.contains("CONTAINER-RUNTIME") && wide.contains("ferry://"),
        "{wide}"
    );
    let cpus = c.ok(&[
        "get",
        "node",
        "ferry-node",
        "-o",
        "jsonpath={.status.capacity.cpu}",
    ]);
    let machine = std::thread::available_parallelism().unwrap().get();
    assert_eq!(cpus, machine.to_string());
    // describe lists the Pods bound to the node through field selectors.
    c.ok(&["run", "solo", "--image=nginx:1.27"]);
    c.ok(&["wait", "--for=condition=Ready", "pod/solo", "--timeout=20s"]);
    let described = c.ok(&["describe", "node", "ferry-node"]);
    for part in [
        "kubelet is posting ready status",
        "Capacity:",
        "Starting kubelet.",
        "RegisteredNode",
        "solo",
    ] {
        assert!(
            described.contains(part),
            "{part:?} missing from:\n{described}"
        );
    }
}

#[test]
fn describe_shows_what_the_controllers_and_the_kubelet_did() {
    let c = TestCluster::start();
    c.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.25",
        "--replicas=2",
    ]);
    c.ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    let deployment = c.ok(&["describe", "deployment", "web"]);
    assert!(
        deployment.contains("ScalingReplicaSet")
            && deployment.contains("Scaled up replica set web-")
            && deployment.contains("from 0 to 2"),
        "{deployment}"
    );
    let pod = c.ok(&["get", "pods", "-l", "app=web", "-o", "name"]);
    let pod = pod.lines().next().unwrap().trim_start_matches("pod/");
    let described = c.ok(&["describe", "pod", pod]);
    for part in [
        format!("Successfully assigned default/{pod} to ferry-node"),
        "Container image \"nginx:1.25\" already present on machine".into(),
        "Created container: nginx".into(),
        "Started container nginx".into(),
    ] {
        assert!(
            described.contains(&part),
            "{part:?} missing from:\n{described}"
        );
    }
    let events = c.ok(&["get", "events"]);
    let header: Vec<&str> = events.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    );
    assert!(events.contains("deployment/web"), "{events}");
    let for_deployment = c.ok(&["events", "--for", "deployment/web"]);
    assert!(
        for_deployment.contains("ScalingReplicaSet"),
        "{for_deployment}"
    );

    c.ok_stdin(&["apply", "-f", "-"], CRASHING);
    c.eventually("the crash loop to be reported", || {
        let described = c.ok(&["describe", "pod", "crashy"]);
        described.contains("Warning  BackOff")
            && described.contains("Back-off restarting failed container app in pod crashy_default(")
    });
    let warnings = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "type=Warning",
        "-o",
        "name",
    ]);
    assert_eq!(warnings.lines().count(), 1, "{warnings}");
}

#[test]
fn logs_tell_the_simulated_life_of_each_container() {
    let c = TestCluster::start();
    c.ok_stdin(&["apply", "-f", "-"], TWO_CONTAINERS);
    c.ok(&["wait", "--for=condition=Ready", "pod/pair", "--timeout=20s"]);
    let proxy = c.ok(&["logs", "pair", "-c", "proxy"]);
    assert_eq!(
        proxy,
        "ferry: container proxy started from image envoy:1.30 (simulated: no process runs)\n\
         ferry: container proxy is ready\n"
    );
    let tail = c.ok(&["logs", "pair", "-c", "app", "--tail=1", "--timestamps"]);
    let (time, text) = tail.trim_end().split_once(' ').unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{tail}");
    assert_eq!(text, "ferry: container app is ready");
    // Without -c, kubectl picks the first container, as it does on any cluster.
    let first = c.ok(&["logs", "pair"]);
    assert!(first.contains("container app started"), "{first}");
    assert!(
        c.ok(&["logs", "pair", "-c", "app", "--limit-bytes=5"]) == "ferry",
        "limitBytes cuts the stream"
    );

    let err = c.fails(&["logs", "pair", "-c", "nope"]);
    assert!(
        err.contains("container nope is not valid for pod pair"),
        "{err}"
    );
    let err = c.fails(&["logs", "pair", "-c", "app", "--previous"]);
    assert!(
        err.contains("previous terminated container \"app\" in pod \"pair\" not found"),
        "{err}"
    );
    let err = c.fails(&["logs", "missing"]);
    assert!(err.contains("pods \"missing\" not found"), "{err}");

    c.ok_stdin(&["apply", "-f", "-"], CRASHING);
    c.eventually("the first crash", || {
        c.kubectl(&["logs", "crashy"]).status.success()
    });
    let crashed = c.ok(&["logs", "crashy"]);
    assert!(
        crashed.ends_with("exited with code 1 (Error)\n"),
        "{crashed}"
    );

    c.ok(&["create", "deployment", "web", "--image=nginx:1.27"]);
    c.ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    let by_workload = c.ok(&["logs", "deployment/web"]);
    assert!(
        by_workload.contains("container nginx is ready"),
        "{by_workload}"
    );
}

#[test]
fn followed_logs_stream_until_the_pod_goes() {
    let c = TestCluster::start();
    c.ok(&["run", "tail-me", "--image=nginx:1.27"]);
    c.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/tail-me",
        "--timeout=20s",
    ]);
    let mut follow = c
        .kubectl_cmd(&["logs", "-f", "tail-me"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, received) = mpsc::channel();
    let stdout = BufReader::new(follow.stdout.take().unwrap());
    let reader = std::thread::spawn(move || {
        for line in stdout.lines() {
            let _ = lines.send(line.unwrap());
        }
    });
    let first = received.recv_timeout(Duration::from_secs(15)).unwrap();
    assert!(first.contains("container tail-me started"), "{first}");
    let second = received.recv_timeout(Duration::from_secs(15)).unwrap();
    assert_eq!(second, "ferry: container tail-me is ready");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        follow.try_wait().unwrap().is_none(),
        "a followed log stays open while the container runs"
    );
    c.ok(&["delete", "pod", "tail-me", "--wait=false"]);
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = follow.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the followed log did not end");
        std::thread::sleep(Duration::from_millis(50));
    };
    reader.join().unwrap();
    let mut err = String::new();
    follow
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}");
    assert!(
        received.try_recv().is_err(),
        "nothing follows the container's lines"
    );
}

#[test]
fn auth_answers_for_the_admin_the_token_authenticates() {
    let c = TestCluster::start();
    assert_eq!(
        c.ok(&["auth", "can-i", "create", "deployments"]).trim(),
        "yes"
    );
    assert_eq!(
        c.ok(&["auth", "can-i", "delete", "nodes", "--all-namespaces"])
            .trim(),
        "yes"
    );
    assert_eq!(c.ok(&["auth", "can-i", "get", "/healthz"]).trim(), "yes");
    let list = c.ok(&["auth", "can-i", "--list", "-n", "default"]);
    let rules: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(rules.contains(&vec!["*.*", "[]", "[]", "[*]"]), "{list}");
    assert!(rules.contains(&vec!["[*]", "[]", "[*]"]), "{list}");
    let whoami = c.ok(&["auth", "whoami"]);
    assert!(
        whoami.contains("ferry-admin") && whoami.contains("system:masters"),
        "{whoami}"
    );
    let json = c.ok(&["auth", "whoami", "-o", "json"]);
    assert!(json.contains("\"username\": \"ferry-admin\""), "{json}");
    // Reviews are only created.
    let plain = TestCluster::start_plain();
    let (k, v) = auth();
    let (code, body) = plain.raw(
        "GET",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        &[(k, v.as_str())],
        b"",
    );
    assert_eq!(code, 405, "{body}");
}
