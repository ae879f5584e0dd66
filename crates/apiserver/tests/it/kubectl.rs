//! The machine's `kubectl` as the conformance client: every command here is one a Ferry
//! user runs against the embedded cluster.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use ferry_testkit::cluster::TestCluster;
use serde_json::Value;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports: [{containerPort: 80}]
        env: [{name: A, value: "1"}]
      - name: sidecar
        image: busybox:1.36
"#;

#[test]
fn api_resources_lists_builtins_with_short_names() {
    let c = TestCluster::start();
    let out = c.ok(&["api-resources"]);
    for line in [
        "deployments",
        "configmaps",
        "customresourcedefinitions",
        "namespaces",
    ] {
        assert!(out.contains(line), "{line} missing from:\n{out}");
    }
    let deploy = out.lines().find(|l| l.starts_with("deployments ")).unwrap();
    assert!(
        deploy.contains("deploy")
            && deploy.contains("apps/v1")
            && deploy.contains("true")
            && deploy.contains("Deployment"),
        "{deploy}"
    );
    let ns = c.ok(&["api-resources", "--namespaced=false", "-o", "name"]);
    assert!(
        ns.lines().any(|l| l == "namespaces") && !ns.lines().any(|l| l == "configmaps"),
        "{ns}"
    );
}

#[test]
fn namespaces_create_get_and_delete() {
    let c = TestCluster::start();
    let out = c.ok(&["create", "namespace", "team-a"]);
    assert_eq!(out, "namespace/team-a created\n");
    let out = c.ok(&["get", "ns"]);
    assert!(
        out.contains("team-a") && out.contains("Active") && out.contains("default"),
        "{out}"
    );
    let err = c.fails(&["create", "namespace", "team-a"]);
    assert!(
        err.contains("AlreadyExists") || err.contains("already exists"),
        "{err}"
    );
    let err = c.fails(&["create", "namespace", "Bad_Name"]);
    assert!(err.contains("Invalid") || err.contains("invalid"), "{err}");
    c.ok(&[
        "create",
        "configmap",
        "inside",
        "-n",
        "team-a",
        "--from-literal=k=v",
    ]);
    c.ok(&[
        "delete",
        "namespace",
        "team-a",
        "--wait=true",
        "--timeout=20s",
    ]);
    let err = c.fails(&["get", "configmap", "inside", "-n", "team-a"]);
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{err}"
    );
    let err = c.fails(&["get", "ns", "team-a"]);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn client_side_apply_uses_strategic_merge() {
    let c = TestCluster::start();
    let out = c.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let out = c.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    assert!(out.contains("unchanged"), "{out}");
    let changed = DEPLOYMENT
        .replace("nginx:1.25", "nginx:1.27")
        .replace("replicas: 2", "replicas: 3");
    let out = c.ok_stdin(&["apply", "-f", "-"], &changed);
    assert!(out.contains("configured"), "{out}");
    let d = json(&c.ok(&["get", "deploy", "web", "-o", "json"]));
    assert_eq!(d["spec"]["replicas"], 3);
    let containers = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 2, "{containers:?}");
    assert_eq!(containers[0]["image"], "nginx:1.27");
    assert_eq!(containers[1]["name"], "sidecar");
    assert_eq!(d["metadata"]["generation"], 2);
    assert!(
        d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string()
    );
}

#[test]
fn server_side_apply_conflicts_and_force() {
    let c = TestCluster::start();
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n  size: m\n";
    let out = c.ok_stdin(&["apply", "--server-side", "-f", "-"], cm);
    assert!(
        out.contains("configmap/settings serverside-applied"),
        "{out}"
    );
    let other =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: red\n";
    let out = c.stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=team-b",
            "-f",
            "-",
        ],
        other,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("conflict") && err.contains("kubectl") && err.contains(".data.color"),
        "{err}"
    );
    let out = c.ok_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=team-b",
            "--force-conflicts",
            "-f",
            "-",
        ],
        other,
    );
    assert!(out.contains("serverside-applied"), "{out}");
    let got = json(&c.ok(&[
        "get",
        "cm",
        "settings",
        "-o",
        "json",
        "--show-managed-fields",
    ]));
    assert_eq!(got["data"]["color"], "red");
    assert_eq!(got["data"]["size"], "m");
    let managers: Vec<&str> = got["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert!(
        managers.contains(&"team-b") && managers.contains(&"kubectl"),
        "{managers:?}"
    );
    // The first manager stops applying `size`: the field goes.
    let out = c.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata: {}\n",
    );
    assert!(out.contains("serverside-applied"), "{out}");
    let got = json(&c.ok(&["get", "cm", "settings", "-o", "json"]));
    assert_eq!(got["data"], serde_json::json!({"color": "red"}));
}

#[test]
fn get_yaml_labels_annotations_and_selectors() {
    let c = TestCluster::start();
    c.ok(&["create", "configmap", "a", "--from-literal=x=1"]);
    c.ok(&["create", "configmap", "b", "--from-literal=x=2"]);
    c.ok(&["label", "cm", "a", "tier=web", "env=prod"]);
    c.ok(&["label", "cm", "b", "tier=db"]);
    c.ok(&["annotate", "cm", "a", "owner=team-a"]);
    let yaml = c.ok(&["get", "cm", "a", "-o", "yaml"]);
    assert!(
        yaml.contains("tier: web")
            && yaml.contains("owner: team-a")
            && yaml.contains("resourceVersion:"),
        "{yaml}"
    );
    let names = |sel: &str| c.ok(&["get", "cm", "-l", sel, "-o", "name"]);
    assert_eq!(names("tier=web"), "configmap/a\n");
    assert_eq!(names("tier!=web"), "configmap/b\n");
    assert_eq!(names("tier in (web,db)"), "configmap/a\nconfigmap/b\n");
    assert_eq!(names("env"), "configmap/a\n");
    assert_eq!(names("!env"), "configmap/b\n");
    let err = c.fails(&["get", "cm", "-l", "tier in (web"]);
    assert!(
        err.to_lowercase().contains("parse") || err.contains("BadRequest"),
        "{err}"
    );
    c.ok(&["label", "cm", "a", "env-"]);
    assert_eq!(names("env"), "");
    let by_field = c.ok(&[
        "get",
        "cm",
        "--field-selector",
        "metadata.name=b",
        "-o",
        "name",
    ]);
    assert_eq!(by_field, "configmap/b\n");
}

#[test]
fn patch_merge_json_and_strategic() {
    let c = TestCluster::start();
    c.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    c.ok(&[
        "patch",
        "deploy",
        "web",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"replicas":5}}"#,
    ]);
    c.ok(&[
        "patch",
        "deploy",
        "web",
        "--type",
        "json",
        "-p",
        r#"[{"op":"add","path":"/metadata/labels/patched","value":"yes"}]"#,
    ]);
    c.ok(&["patch", "deploy", "web", "--type", "strategic", "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:1.37"}]}}}}"#]);
    let d = json(&c.ok(&["get", "deploy", "web", "-o", "json"]));
    assert_eq!(d["spec"]["replicas"], 5);
    assert_eq!(d["metadata"]["labels"]["patched"], "yes");
    let containers = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 2);
    assert_eq!(containers[0]["image"], "nginx:1.25");
    assert_eq!(containers[1]["image"], "busybox:1.37");
    let err = c.fails(&[
        "patch",
        "deploy",
        "web",
        "--type",
        "json",
        "-p",
        r#"[{"op":"test","path":"/spec/replicas","value":9}]"#,
    ]);
    assert!(!err.is_empty());
    let err = c.fails(&["patch", "deploy", "missing", "--type", "merge", "-p", "{}"]);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn watch_receives_changes() {
    let c = TestCluster::start();
    c.ok(&["create", "configmap", "watched", "--from-literal=v=1"]);
    let mut child = c
        .kubectl_cmd(&[
            "get",
            "cm",
            "watched",
            "-w",
            "-o",
            "jsonpath={.data.v}{\"\\n\"}",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    assert_eq!(rx.recv_timeout(Duration::from_secs(15)).unwrap(), "1");
    c.ok(&[
        "patch",
        "cm",
        "watched",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"v":"2"}}"#,
    ]);
    assert_eq!(rx.recv_timeout(Duration::from_secs(15)).unwrap(), "2");
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn custom_resource_definitions_serve_their_kind() {
    let c = TestCluster::start();
    let crd = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab, shortNames: [ct]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#;
    c.ok_stdin(&["apply", "-f", "-"], crd);
    c.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/crontabs.stable.example.com",
        "--timeout=10s",
    ]);
    let cr = "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: nightly\nspec:\n  schedule: '0 3 * * *'\n";
    let out = c.ok_stdin(&["apply", "-f", "-"], cr);
    assert!(
        out.contains("crontab.stable.example.com/nightly created"),
        "{out}"
    );
    let out = c.ok(&["get", "ct"]);
    assert!(out.contains("nightly"), "{out}");
    c.ok(&[
        "patch",
        "crontab",
        "nightly",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"schedule":"0 4 * * *"}}"#,
    ]);
    let got = json(&c.ok(&["get", "crontab", "nightly", "-o", "json"]));
    assert_eq!(got["spec"]["schedule"], "0 4 * * *");
    assert_eq!(got["metadata"]["generation"], 2);
    let err = c.fails(&[
        "patch",
        "crontab",
        "nightly",
        "--type",
        "strategic",
        "-p",
        r#"{"spec":{"x":1}}"#,
    ]);
    assert!(
        err.contains("UnsupportedMediaType")
            || err.contains("unknown format")
            || err.contains("strategic"),
        "{err}"
    );
    c.ok(&["delete", "crd", "crontabs.stable.example.com"]);
    let err = c.fails(&["get", "crontabs"]);
    assert!(
        err.contains("the server doesn't have a resource type")
            || err.contains("could not find the requested resource"),
        "{err}"
    );
}

#[test]
fn delete_cascades_through_owner_references() {
    let c = TestCluster::start();
    let owner = json(&c.ok_stdin(
        &["create", "-o", "json", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owner\n",
    ));
    let uid = owner["metadata"]["uid"].as_str().unwrap();
    for name in ["dep-1", "dep-2"] {
        let dep = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: owner\n    uid: {uid}\n"
        );
        c.ok_stdin(&["create", "-f", "-"], &dep);
    }
    c.ok(&["delete", "cm", "owner", "--cascade=orphan"]);
    let dep = json(&c.ok(&["get", "cm", "dep-1", "-o", "json"]));
    c.eventually("orphaned dependents lose their owner reference", || {
        let d = json(&c.ok(&["get", "cm", "dep-2", "-o", "json"]));
        d["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(|r| r.is_empty())
    });
    assert_eq!(dep["metadata"]["name"], "dep-1");

    let owner = json(&c.ok_stdin(
        &["create", "-o", "json", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owner2\n",
    ));
    let uid = owner["metadata"]["uid"].as_str().unwrap();
    let dep = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dep-3\n  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: owner2\n    uid: {uid}\n"
    );
    c.ok_stdin(&["create", "-f", "-"], &dep);
    c.ok(&["delete", "cm", "owner2", "--cascade=foreground"]);
    c.eventually("foreground deletion removes dependent and owner", || {
        !c.kubectl(&["get", "cm", "dep-3"]).status.success()
            && !c.kubectl(&["get", "cm", "owner2"]).status.success()
    });
}

#[test]
fn diff_shows_pending_changes_via_dry_run() {
    let c = TestCluster::start();
    c.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    let out = c.stdin(&["diff", "-f", "-"], DEPLOYMENT);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = c.stdin(
        &["diff", "-f", "-"],
        &DEPLOYMENT.replace("nginx:1.25", "nginx:1.26"),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("-        image: nginx:1.25") && text.contains("+        image: nginx:1.26"),
        "{text}"
    );
    // The dry run changed nothing.
    let d = json(&c.ok(&["get", "deploy", "web", "-o", "json"]));
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.25"
    );
}

#[test]
fn deployments_become_available_and_roll_out() {
    let c = TestCluster::start();
    c.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    c.ok(&[
        "wait",
        "--for=condition=Available",
        "deployment/web",
        "--timeout=20s",
    ]);
    let out = c.ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let pods = c.ok(&["get", "pods", "-l", "app=web", "-o", "name"]);
    assert_eq!(pods.lines().count(), 2, "{pods}");
    let table = c.ok(&["get", "deploy", "web"]);
    assert!(table.contains("2/2"), "{table}");
    c.ok_stdin(
        &["apply", "-f", "-"],
        &DEPLOYMENT.replace("nginx:1.25", "nginx:1.27"),
    );
    let out = c.ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let rs = c.ok(&["get", "rs", "-o", "name"]);
    assert_eq!(rs.lines().count(), 2, "old and new ReplicaSet: {rs}");
    let out = c.ok(&["scale", "deployment/web", "--replicas=4"]);
    assert!(out.contains("scaled"), "{out}");
    c.eventually("four pods after scaling", || {
        c.ok(&["get", "pods", "-l", "app=web", "-o", "name"])
            .lines()
            .count()
            == 4
    });
    let err = c.fails(&[
        "scale",
        "deployment/web",
        "--replicas=1",
        "--resource-version=1",
    ]);
    assert!(
        err.contains("resource version") || err.contains("modified"),
        "{err}"
    );
    c.ok(&["delete", "deployment", "web"]);
    c.eventually("ReplicaSets and Pods are garbage collected", || {
        c.ok(&["get", "rs,pods", "-o", "name"]).trim().is_empty()
    });
}

#[test]
fn strict_field_validation_rejects_undeclared_custom_fields() {
    let c = TestCluster::start();
    let crd = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.ferry.dev
spec:
  group: example.ferry.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
"#;
    c.ok_stdin(&["apply", "-f", "-"], crd);
    c.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.example.ferry.dev",
        "--timeout=10s",
    ]);
    let bad = "apiVersion: example.ferry.dev/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 1\n  colour: red\n";
    for (args, message) in [
        (
            &["apply", "-f", "-"][..],
            "Widget in version \"v1\" cannot be handled as a Widget: strict decoding error: unknown field \"spec.colour\"",
        ),
        (
            &["apply", "--server-side", "-f", "-"][..],
            ".spec.colour: field not declared in schema",
        ),
    ] {
        let out = c.stdin(args, bad);
        assert!(
            !out.status.success(),
            "{args:?} accepted an undeclared field"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let out = c.stdin(&["apply", "--validate=false", "-f", "-"], bad);
    assert!(
        out.status.success(),
        "validation off keeps the object: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let good =
        "apiVersion: example.ferry.dev/v1\nkind: Widget\nmetadata:\n  name: w2\nspec:\n  size: 2\n";
    c.ok_stdin(&["apply", "-f", "-"], good);
}

/// `kubectl create <kind>` and `kubectl run` send protobuf; the objects come out as if sent as
/// JSON, with Go's JSON rules (no empty strings or zero values the user did not set).
#[test]
fn typed_create_commands_send_protobuf() {
    let c = TestCluster::start();
    let get = |what: &str, name: &str| json(&c.ok(&["get", what, name, "-o", "json"]));

    let out = c.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "--replicas=2",
    ]);
    assert_eq!(out, "deployment.apps/web created\n");
    let out = c.ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let d = get("deployment", "web");
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "web");
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate");
    let container = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["name"], "nginx");
    assert_eq!(container["image"], "nginx");
    for unset in ["stdin", "tty", "workingDir", "imagePullPolicy"] {
        assert!(container.get(unset).is_none(), "{unset} in {container}");
    }
    assert!(d["metadata"].get("generateName").is_none(), "{d}");
    assert!(d["metadata"].get("selfLink").is_none(), "{d}");
    assert_eq!(d["metadata"]["generation"], 1);
    // An explicit zero of a pointer field is kept.
    c.ok(&[
        "create",
        "deployment",
        "idle",
        "--image=nginx",
        "--replicas=0",
    ]);
    assert_eq!(get("deployment", "idle")["spec"]["replicas"], 0);

    c.ok(&["create", "secret", "generic", "s", "--from-literal=k=v"]);
    let secret = get("secret", "s");
    assert_eq!(secret["type"], "Opaque");
    let value = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        secret["data"]["k"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(value, b"v");
    // `stringData` is folded into `data` on every write, its keys winning, and not stored.
    c.ok_stdin(
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: Secret\nmetadata: {name: plain}\ndata: {a: YQ==, b: YQ==}\nstringData: {b: bee, c: see}\n",
    );
    c.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        "apiVersion: v1\nkind: Secret\nmetadata: {name: plain}\nstringData: {c: sea}\n",
    );
    let plain = get("secret", "plain");
    assert!(plain.get("stringData").is_none(), "{plain}");
    let decoded = |key: &str| {
        String::from_utf8(
            base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                plain["data"][key].as_str().unwrap(),
            )
            .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(
        (decoded("a"), decoded("b"), decoded("c")),
        ("a".into(), "bee".into(), "sea".into())
    );

    c.ok(&["create", "serviceaccount", "robot"]);
    assert_eq!(get("serviceaccount", "robot")["metadata"]["name"], "robot");

    c.ok(&["create", "service", "clusterip", "svc", "--tcp=80:8080"]);
    let svc = get("service", "svc");
    assert_eq!(svc["spec"]["type"], "ClusterIP");
    assert_eq!(
        svc["spec"]["ports"][0],
        serde_json::json!({"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080})
    );
    assert!(
        svc["spec"]["clusterIP"]
            .as_str()
            .unwrap()
            .starts_with("10."),
        "{svc}"
    );

    c.ok(&["create", "job", "j", "--image=busybox"]);
    let job = get("job", "j");
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox"
    );
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");

    c.ok(&["run", "p", "--image=nginx"]);
    assert_eq!(get("pod", "p")["spec"]["containers"][0]["image"], "nginx");

    c.ok(&["create", "role", "r", "--verb=get", "--resource=pods"]);
    assert_eq!(
        get("role", "r")["rules"],
        serde_json::json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}])
    );
    c.ok(&["create", "rolebinding", "rb", "--role=r", "--user=alice"]);
    let rb = get("rolebinding", "rb");
    assert_eq!(
        rb["roleRef"],
        serde_json::json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"})
    );
    assert_eq!(rb["subjects"][0]["name"], "alice");
    c.ok(&[
        "create",
        "clusterrole",
        "cr",
        "--verb=list",
        "--resource=namespaces",
    ]);
    c.ok(&[
        "create",
        "clusterrolebinding",
        "crb",
        "--clusterrole=cr",
        "--group=ops",
    ]);
    assert_eq!(
        get("clusterrolebinding", "crb")["subjects"][0]["kind"],
        "Group"
    );
}

const TYPO_DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: typo
spec:
  replicaz: 2
  selector:
    matchLabels: {app: typo}
  template:
    metadata:
      labels: {app: typo}
    spec:
      containers:
      - name: nginx
        image: nginx
"#;

#[test]
fn strict_field_validation_of_built_in_kinds() {
    let c = TestCluster::start();
    // kubectl sends fieldValidation=Strict by default: the server rejects the typo.
    let out = c.stdin(&["apply", "-f", "-"], TYPO_DEPLOYMENT);
    assert!(!out.status.success(), "the typo was accepted");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("strict decoding error: unknown field \"spec.replicaz\""),
        "{err}"
    );
    assert!(
        c.fails(&["get", "deployment", "typo"])
            .contains("not found")
    );
    let out = c.stdin(&["apply", "--server-side", "-f", "-"], TYPO_DEPLOYMENT);
    assert!(!out.status.success(), "the typo was accepted");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(".spec.replicaz: field not declared in schema"),
        "{err}"
    );
    let nested = TYPO_DEPLOYMENT
        .replace("replicaz", "replicas")
        .replace(
            "image: nginx",
            "image: nginx\n        imagePullPolicyy: Always",
        )
        .replace("name: typo\n", "name: typo\n  labelz: {a: b}\n");
    let err =
        String::from_utf8_lossy(&c.stdin(&["create", "-f", "-"], &nested).stderr).into_owned();
    assert!(
        err.contains("unknown field \"metadata.labelz\"")
            && err.contains("unknown field \"spec.template.spec.containers[0].imagePullPolicyy\""),
        "{err}"
    );
    // Warn keeps the object and tells; Ignore (--validate=false) keeps it silently.
    let out = c.stdin(&["apply", "--validate=warn", "-f", "-"], TYPO_DEPLOYMENT);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("Warning: unknown field \"spec.replicaz\""),
        "{err}"
    );
    let out = c.stdin(
        &["apply", "--validate=false", "-f", "-"],
        &TYPO_DEPLOYMENT.replace("name: typo", "name: typo-2"),
    );
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("Warning"));
    // A valid manifest passes, and a later strict apply is not blamed for stored fields.
    c.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    let out = c.ok_stdin(
        &["apply", "-f", "-"],
        &TYPO_DEPLOYMENT.replace("replicaz: 2", "replicaz: 2\n  minReadySeconds: 1"),
    );
    assert!(
        out.contains("configured") || out.contains("unchanged"),
        "{out}"
    );
}
