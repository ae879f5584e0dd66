//! The simulation driven for real: an in-memory store, the object layer, the garbage
//! collector and this module's loop on a tokio runtime; tests write objects as a client
//! would and poll (bounded) until the controllers have done their part.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_api::meta;
use ferry_store::{ObjectKey, Store};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{NODE_NAME, SimConfig, run};
use crate::objects::{DeleteOptions, Objects, Propagation, WriteOptions};
use crate::resources::{ResourceType, Resources};

const NS: &str = "default";

struct Cluster {
    objects: Objects,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Cluster {
    fn start(ready_after: Duration) -> Self {
        Self::start_with(Objects::new(Store::memory(), Resources::new()), ready_after)
    }

    fn start_with(objects: Objects, ready_after: Duration) -> Self {
        let config = SimConfig {
            ready_after,
            ..SimConfig::default()
        };
        Self::start_configured(objects, config)
    }

    fn start_configured(objects: Objects, config: SimConfig) -> Self {
        objects.ensure_namespaces(&[NS]).unwrap();
        let (stop, stopped) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(run(objects.clone(), config, stopped.clone())),
            tokio::spawn(crate::gc::run(objects.clone(), stopped)),
        ];
        Self {
            objects,
            stop,
            tasks,
        }
    }

    async fn shutdown(self) -> Objects {
        let _ = self.stop.send(true);
        for t in self.tasks {
            tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .unwrap()
                .unwrap();
        }
        self.objects
    }

    fn t(&self, group: &str, plural: &str) -> Arc<ResourceType> {
        self.objects.resources.lookup(group, "v1", plural).unwrap()
    }

    fn create(&self, group: &str, plural: &str, obj: Value) -> Value {
        let opts = WriteOptions::manager("test");
        self.objects
            .create(&self.t(group, plural), NS, obj, &opts)
            .unwrap()
    }

    fn get(&self, group: &str, plural: &str, name: &str) -> Option<Value> {
        self.objects.get_json(&self.t(group, plural), NS, name).ok()
    }

    /// Reads, changes and writes back (retrying lost races with the controllers).
    fn modify(&self, group: &str, plural: &str, name: &str, change: impl Fn(&mut Value)) {
        let t = self.t(group, plural);
        let opts = WriteOptions::manager("test");
        for _ in 0..20 {
            let mut obj = self.objects.get_json(&t, NS, name).unwrap();
            change(&mut obj);
            match self.objects.update(&t, NS, name, obj, None, &opts) {
                Ok(_) => return,
                Err(e) if e.code == 409 => continue,
                Err(e) => panic!("update failed: {e}"),
            }
        }
        panic!("update kept conflicting");
    }

    fn delete(&self, group: &str, plural: &str, name: &str) {
        let opts = DeleteOptions {
            propagation: Some(Propagation::Background),
            ..Default::default()
        };
        self.objects
            .delete(&self.t(group, plural), NS, name, &opts)
            .unwrap();
    }

    fn list(&self, group: &str, plural: &str) -> Vec<Value> {
        let t = self.t(group, plural);
        self.objects
            .list(&t, Some(NS), &Default::default())
            .unwrap()
            .items
            .iter()
            .map(|o| o.json().unwrap())
            .collect()
    }

    /// Objects of a kind whose controller is the object with `uid`.
    fn owned(&self, group: &str, plural: &str, uid: &str) -> Vec<Value> {
        self.list(group, plural)
            .into_iter()
            .filter(|o| meta::controller_of(o).is_some_and(|r| r.uid == uid))
            .collect()
    }
}

/// Polls `check` every 20ms until it yields a value, failing after 10s with `what`.
async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn i(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn cond<'a>(v: &'a Value, type_: &str) -> Option<&'a Value> {
    super::condition(v, type_)
}

fn cond_is(v: &Value, type_: &str, status: &str, reason: &str) -> bool {
    cond(v, type_).is_some_and(|c| c["status"] == status && c["reason"] == reason)
}

fn deployment(name: &str, replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    })
}

/// Sets `ferry.dev/simulate` in the metadata at `metadata` ("/metadata" or the template's).
fn with_annotation(mut obj: Value, metadata: &str, value: &str) -> Value {
    let mut node = &mut obj;
    for part in metadata.trim_start_matches('/').split('/') {
        if node.get(part).is_none() {
            node[part] = json!({});
        }
        node = &mut node[part];
    }
    node["annotations"] = json!({"ferry.dev/simulate": value});
    obj
}

/// The Deployment once `kubectl rollout status` would call it done.
async fn rolled_out(c: &Cluster, name: &str) -> Value {
    eventually(&format!("deployment {name} to roll out"), || {
        let d = c.get("apps", "deployments", name)?;
        let want = i(&d, "/spec/replicas");
        let done = i(&d, "/status/observedGeneration") >= i(&d, "/metadata/generation")
            && i(&d, "/status/updatedReplicas") == want
            && i(&d, "/status/replicas") == want
            && i(&d, "/status/availableReplicas") == want
            && cond_is(&d, "Available", "True", "MinimumReplicasAvailable")
            && cond_is(&d, "Progressing", "True", "NewReplicaSetAvailable");
        done.then_some(d)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_gets_a_replicaset_and_ready_pods() {
    let c = Cluster::start(Duration::from_secs(1));
    let d = c.create("apps", "deployments", deployment("web", 3, "nginx:1.25"));
    let d_uid = s(&d, "/metadata/uid").to_string();

    // Before ready_after, Pods are scheduled but still creating their containers.
    let pending = eventually("three pending pods", || {
        let pods = c.list("", "pods");
        (pods.len() == 3
            && pods
                .iter()
                .all(|p| p["status"]["phase"] == "Pending" && p["status"]["conditions"].is_array()))
        .then_some(pods)
    })
    .await;
    assert_eq!(
        s(
            &pending[0],
            "/status/containerStatuses/0/state/waiting/reason"
        ),
        "ContainerCreating"
    );
    assert_eq!(cond(&pending[0], "PodScheduled").unwrap()["status"], "True");
    assert!(cond_is(&pending[0], "Ready", "False", "ContainersNotReady"));

    let d = rolled_out(&c, "web").await;
    let rss = c.owned("apps", "replicasets", &d_uid);
    assert_eq!(rss.len(), 1);
    let rs = &rss[0];
    let hash = s(rs, "/metadata/labels/pod-template-hash").to_string();
    assert_eq!(hash.len(), 10);
    assert!(hash.bytes().all(|b| super::ALPHABET.contains(&b)), "{hash}");
    assert_eq!(s(rs, "/metadata/name"), format!("web-{hash}"));
    assert_eq!(s(rs, "/spec/selector/matchLabels/pod-template-hash"), hash);
    assert_eq!(s(rs, "/spec/selector/matchLabels/app"), "web");
    assert_eq!(
        s(rs, "/spec/template/metadata/labels/pod-template-hash"),
        hash
    );
    assert_eq!(
        s(
            rs,
            "/metadata/annotations/deployment.kubernetes.io~1revision"
        ),
        "1"
    );
    assert_eq!(
        s(
            &d,
            "/metadata/annotations/deployment.kubernetes.io~1revision"
        ),
        "1"
    );
    let reference = &rs["metadata"]["ownerReferences"][0];
    assert_eq!(reference["kind"], "Deployment");
    assert_eq!(reference["apiVersion"], "apps/v1");
    assert_eq!(reference["name"], "web");
    assert_eq!(reference["controller"], true);
    assert_eq!(reference["blockOwnerDeletion"], true);
    assert_eq!(i(rs, "/status/replicas"), 3);
    assert_eq!(i(rs, "/status/fullyLabeledReplicas"), 3);
    assert_eq!(i(rs, "/status/readyReplicas"), 3);
    assert_eq!(i(rs, "/status/availableReplicas"), 3);
    assert_eq!(
        i(rs, "/status/observedGeneration"),
        i(rs, "/metadata/generation")
    );

    let pods = c.owned("", "pods", s(rs, "/metadata/uid"));
    assert_eq!(pods.len(), 3);
    let mut ips = std::collections::BTreeSet::new();
    for p in &pods {
        let name = s(p, "/metadata/name");
        let suffix = name.strip_prefix(&format!("web-{hash}-")).unwrap();
        assert_eq!(suffix.len(), 5, "{name}");
        assert_eq!(s(p, "/metadata/labels/pod-template-hash"), hash);
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
        assert_eq!(p["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(
            p["metadata"]["ownerReferences"][0]["blockOwnerDeletion"],
            true
        );
        assert_eq!(s(p, "/spec/nodeName"), NODE_NAME);
        assert_eq!(s(p, "/status/phase"), "Running");
        for type_ in ["PodScheduled", "Initialized", "ContainersReady", "Ready"] {
            assert_eq!(cond(p, type_).unwrap()["status"], "True", "{type_}");
        }
        let cs = &p["status"]["containerStatuses"][0];
        assert_eq!(cs["name"], "main");
        assert_eq!(cs["image"], "nginx:1.25");
        assert_eq!(cs["ready"], true);
        assert_eq!(cs["started"], true);
        assert_eq!(cs["restartCount"], 0);
        assert!(cs["state"]["running"]["startedAt"].is_string());
        assert!(s(p, "/status/podIP").starts_with("10.244."));
        assert!(!s(p, "/status/hostIP").is_empty());
        assert!(!s(p, "/status/startTime").is_empty());
        ips.insert(s(p, "/status/podIP").to_string());
    }
    assert_eq!(ips.len(), 3, "pod IPs are distinct");

    assert_eq!(
        i(&d, "/status/observedGeneration"),
        i(&d, "/metadata/generation")
    );
    assert_eq!(i(&d, "/status/readyReplicas"), 3);
    assert!(d.pointer("/status/unavailableReplicas").is_none());
    let available = cond(&d, "Available").unwrap();
    assert_eq!(available["message"], "Deployment has minimum availability.");
    assert!(available["lastUpdateTime"].is_string() && available["lastTransitionTime"].is_string());
    let progressing = cond(&d, "Progressing").unwrap();
    assert_eq!(
        progressing["message"],
        format!("ReplicaSet \"web-{hash}\" has successfully progressed.")
    );

    // Settled: nothing more is written.
    let before = c.objects.store.revision().unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        c.objects.store.revision().unwrap(),
        before,
        "a settled deployment causes no writes"
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_change_rolls_out_to_a_new_replicaset() {
    let c = Cluster::start(Duration::from_millis(100));
    let d = c.create("apps", "deployments", deployment("api", 3, "api:1"));
    let d_uid = s(&d, "/metadata/uid").to_string();
    rolled_out(&c, "api").await;
    let first = c.owned("apps", "replicasets", &d_uid).remove(0);

    c.modify("apps", "deployments", "api", |d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("api:2")
    });
    let d = rolled_out(&c, "api").await;
    assert_eq!(i(&d, "/status/observedGeneration"), 2);
    assert_eq!(
        s(
            &d,
            "/metadata/annotations/deployment.kubernetes.io~1revision"
        ),
        "2"
    );
    let rss = c.owned("apps", "replicasets", &d_uid);
    assert_eq!(rss.len(), 2, "the old ReplicaSet is kept as history");
    let old = rss
        .iter()
        .find(|rs| rs["metadata"]["name"] == first["metadata"]["name"])
        .unwrap();
    let new = rss
        .iter()
        .find(|rs| rs["metadata"]["name"] != first["metadata"]["name"])
        .unwrap();
    assert_eq!(i(old, "/spec/replicas"), 0);
    assert_eq!(
        s(
            old,
            "/metadata/annotations/deployment.kubernetes.io~1revision"
        ),
        "1"
    );
    assert_eq!(i(new, "/spec/replicas"), 3);
    assert_eq!(
        s(
            new,
            "/metadata/annotations/deployment.kubernetes.io~1revision"
        ),
        "2"
    );
    let new_uid = s(new, "/metadata/uid");
    eventually("old pods to go", || {
        (c.owned("", "pods", s(&first, "/metadata/uid")).is_empty()).then_some(())
    })
    .await;
    assert_eq!(c.owned("", "pods", new_uid).len(), 3);
    assert_eq!(
        cond(&d, "Progressing").unwrap()["message"],
        format!(
            "ReplicaSet \"{}\" has successfully progressed.",
            s(new, "/metadata/name")
        )
    );

    // Rolling back to the first template reuses its ReplicaSet as revision 3.
    c.modify("apps", "deployments", "api", |d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("api:1")
    });
    eventually("the rollback", || {
        let rs = c.get("apps", "replicasets", s(&first, "/metadata/name"))?;
        let d = c.get("apps", "deployments", "api")?;
        (i(&rs, "/spec/replicas") == 3
            && s(
                &rs,
                "/metadata/annotations/deployment.kubernetes.io~1revision",
            ) == "3"
            && i(&d, "/status/availableReplicas") == 3
            && i(&d, "/status/replicas") == 3
            && i(&d, "/status/updatedReplicas") == 3)
            .then_some(())
    })
    .await;
    assert_eq!(c.owned("apps", "replicasets", &d_uid).len(), 2);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_changes_the_pod_count() {
    let c = Cluster::start(Duration::from_millis(50));
    c.create("apps", "deployments", deployment("scaled", 3, "app:1"));
    rolled_out(&c, "scaled").await;
    c.modify("apps", "deployments", "scaled", |d| {
        d["spec"]["replicas"] = json!(1)
    });
    let d = rolled_out(&c, "scaled").await;
    assert_eq!(i(&d, "/status/replicas"), 1);
    eventually("one pod", || (c.list("", "pods").len() == 1).then_some(())).await;
    c.modify("apps", "deployments", "scaled", |d| {
        d["spec"]["replicas"] = json!(4)
    });
    eventually("four ready pods", || {
        let d = c.get("apps", "deployments", "scaled")?;
        (i(&d, "/status/availableReplicas") == 4 && c.list("", "pods").len() == 4).then_some(())
    })
    .await;
    c.modify("apps", "deployments", "scaled", |d| {
        d["spec"]["replicas"] = json!(0)
    });
    let d = eventually("no pods", || {
        let d = c.get("apps", "deployments", "scaled")?;
        (c.list("", "pods").is_empty() && d.pointer("/status/replicas").is_none()).then_some(d)
    })
    .await;
    assert!(cond_is(&d, "Available", "True", "MinimumReplicasAvailable"));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_deployment_lets_the_garbage_collector_remove_everything() {
    let c = Cluster::start(Duration::from_millis(50));
    c.create("apps", "deployments", deployment("gone", 2, "app:1"));
    rolled_out(&c, "gone").await;
    assert_eq!(c.list("apps", "replicasets").len(), 1);
    assert_eq!(c.list("", "pods").len(), 2);
    c.delete("apps", "deployments", "gone");
    eventually("replica sets and pods to be collected", || {
        (c.list("apps", "replicasets").is_empty() && c.list("", "pods").is_empty()).then_some(())
    })
    .await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_pods_have_ordinal_names_and_bound_claims() {
    let c = Cluster::start(Duration::from_millis(50));
    c.create(
        "apps",
        "statefulsets",
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {
                "replicas": 3,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}},
                             "spec": {"containers": [{"name": "pg", "image": "postgres:16"}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}],
            },
        }),
    );
    let sts = eventually("the statefulset to be ready", || {
        let sts = c.get("apps", "statefulsets", "db")?;
        (i(&sts, "/status/readyReplicas") == 3
            && i(&sts, "/status/availableReplicas") == 3
            && i(&sts, "/status/currentReplicas") == 3
            && i(&sts, "/status/updatedReplicas") == 3
            && i(&sts, "/status/observedGeneration") == 1)
            .then_some(sts)
    })
    .await;
    assert_eq!(i(&sts, "/status/replicas"), 3);
    let revision = s(&sts, "/status/updateRevision").to_string();
    assert!(revision.starts_with("db-"));
    assert_eq!(s(&sts, "/status/currentRevision"), revision);
    let mut names: Vec<String> = c
        .list("", "pods")
        .iter()
        .map(|p| s(p, "/metadata/name").to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["db-0", "db-1", "db-2"]);
    let pod = c.get("", "pods", "db-1").unwrap();
    assert_eq!(s(&pod, "/spec/hostname"), "db-1");
    assert_eq!(s(&pod, "/spec/subdomain"), "db");
    assert_eq!(
        s(&pod, "/metadata/labels/controller-revision-hash"),
        revision
    );
    assert_eq!(
        s(&pod, "/metadata/labels/statefulset.kubernetes.io~1pod-name"),
        "db-1"
    );
    assert_eq!(
        pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "data-db-1"
    );
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "StatefulSet");
    for n in 0..3 {
        let pvc = eventually("a bound claim", || {
            c.get("", "persistentvolumeclaims", &format!("data-db-{n}"))
                .filter(|p| p["status"]["phase"] == "Bound")
        })
        .await;
        assert_eq!(pvc["status"]["capacity"]["storage"], "1Gi");
        assert_eq!(s(&pvc, "/metadata/labels/app"), "db");
    }

    // A template change replaces every Pod and makes the new revision current.
    c.modify("apps", "statefulsets", "db", |s| {
        s["spec"]["template"]["spec"]["containers"][0]["image"] = json!("postgres:17")
    });
    eventually("the statefulset update", || {
        let sts = c.get("apps", "statefulsets", "db")?;
        let pods = c.list("", "pods");
        (s(&sts, "/status/updateRevision") != revision
            && s(&sts, "/status/currentRevision") == s(&sts, "/status/updateRevision")
            && i(&sts, "/status/readyReplicas") == 3
            && pods.len() == 3
            && pods
                .iter()
                .all(|p| p["spec"]["containers"][0]["image"] == "postgres:17"))
        .then_some(())
    })
    .await;

    // Scaling down removes the highest ordinals and keeps the claims.
    c.modify("apps", "statefulsets", "db", |s| {
        s["spec"]["replicas"] = json!(1)
    });
    eventually("one pod", || {
        let names: Vec<String> = c
            .list("", "pods")
            .iter()
            .map(|p| s(p, "/metadata/name").to_string())
            .collect();
        (names == ["db-0"]).then_some(())
    })
    .await;
    assert_eq!(c.list("", "persistentvolumeclaims").len(), 3);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemonset_runs_one_pod_on_the_node() {
    let c = Cluster::start(Duration::from_millis(50));
    c.create(
        "apps",
        "daemonsets",
        json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {"metadata": {"labels": {"app": "agent"}},
                             "spec": {"containers": [{"name": "a", "image": "agent:1"}]}},
            },
        }),
    );
    let ds = eventually("the daemonset to be ready", || {
        c.get("apps", "daemonsets", "agent")
            .filter(|ds| i(ds, "/status/numberAvailable") == 1)
    })
    .await;
    assert_eq!(i(&ds, "/status/desiredNumberScheduled"), 1);
    assert_eq!(i(&ds, "/status/currentNumberScheduled"), 1);
    assert_eq!(i(&ds, "/status/numberReady"), 1);
    assert_eq!(i(&ds, "/status/updatedNumberScheduled"), 1);
    assert_eq!(i(&ds, "/status/observedGeneration"), 1);
    assert!(ds.pointer("/status/numberUnavailable").is_none());
    let pods = c.list("", "pods");
    assert_eq!(pods.len(), 1);
    assert!(s(&pods[0], "/metadata/name").starts_with("agent-"));
    assert_eq!(s(&pods[0], "/spec/nodeName"), NODE_NAME);

    c.modify("apps", "daemonsets", "agent", |d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("agent:2")
    });
    eventually("the daemonset update", || {
        let ds = c.get("apps", "daemonsets", "agent")?;
        let pods = c.list("", "pods");
        (i(&ds, "/status/observedGeneration") == 2
            && i(&ds, "/status/numberAvailable") == 1
            && i(&ds, "/status/updatedNumberScheduled") == 1
            && pods.len() == 1
            && pods[0]["spec"]["containers"][0]["image"] == "agent:2")
            .then_some(())
    })
    .await;
    c.shutdown().await;
}

fn job(name: &str, completions: i64) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "completions": completions,
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "run", "image": "busybox"}]}},
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_completes() {
    let c = Cluster::start(Duration::from_millis(50));
    let created = c.create("batch", "jobs", job("migrate", 2));
    let j = eventually("the job to complete", || {
        c.get("batch", "jobs", "migrate")
            .filter(|j| cond_is(j, "Complete", "True", "CompletionsReached"))
    })
    .await;
    assert_eq!(i(&j, "/status/succeeded"), 2);
    assert!(cond_is(
        &j,
        "SuccessCriteriaMet",
        "True",
        "CompletionsReached"
    ));
    assert!(j.pointer("/status/active").is_none());
    assert!(!s(&j, "/status/startTime").is_empty());
    assert!(!s(&j, "/status/completionTime").is_empty());
    let pods = c.owned("", "pods", s(&created, "/metadata/uid"));
    assert_eq!(pods.len(), 2);
    for p in &pods {
        assert_eq!(s(p, "/status/phase"), "Succeeded");
        assert_eq!(s(p, "/metadata/labels/job-name"), "migrate");
        assert_eq!(
            p["status"]["containerStatuses"][0]["state"]["terminated"]["reason"],
            "Completed"
        );
    }
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_are_bound() {
    let c = Cluster::start(Duration::from_millis(50));
    let pvc = c.create(
        "",
        "persistentvolumeclaims",
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "cache"},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}}}),
    );
    let bound = eventually("the claim to bind", || {
        c.get("", "persistentvolumeclaims", "cache")
            .filter(|p| p["status"]["phase"] == "Bound")
    })
    .await;
    assert_eq!(bound["status"]["capacity"]["storage"], "5Gi");
    assert_eq!(bound["status"]["accessModes"], json!(["ReadWriteOnce"]));
    assert_eq!(
        s(&bound, "/spec/volumeName"),
        format!("pvc-{}", s(&pvc, "/metadata/uid"))
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn degraded_deployment_is_unavailable_then_misses_its_deadline_and_recovers() {
    let c = Cluster::start(Duration::from_millis(50));
    let mut d = with_annotation(deployment("bad", 2, "app:1"), "/metadata", "degraded");
    d["spec"]["progressDeadlineSeconds"] = json!(1);
    c.create("apps", "deployments", d);
    let d = eventually("the deployment to be unavailable", || {
        let d = c.get("apps", "deployments", "bad")?;
        let pods = c.list("", "pods");
        (cond_is(&d, "Available", "False", "MinimumReplicasUnavailable")
            && pods.len() == 2
            && pods.iter().all(|p| p["status"]["phase"] == "Running"))
        .then_some(d)
    })
    .await;
    assert_eq!(
        cond(&d, "Available").unwrap()["message"],
        "Deployment does not have minimum availability."
    );
    for p in c.list("", "pods") {
        assert!(cond_is(&p, "Ready", "False", "ContainersNotReady"));
        assert_eq!(p["status"]["containerStatuses"][0]["ready"], false);
        assert_eq!(p["status"]["containerStatuses"][0]["started"], true);
    }
    let d = eventually("the progress deadline to pass", || {
        c.get("apps", "deployments", "bad")
            .filter(|d| cond_is(d, "Progressing", "False", "ProgressDeadlineExceeded"))
    })
    .await;
    assert!(
        s(&d, "/status/conditions/1/message").contains("has timed out progressing")
            || s(&d, "/status/conditions/0/message").contains("has timed out progressing")
    );
    assert_eq!(i(&d, "/status/unavailableReplicas"), 2);
    assert!(d.pointer("/status/availableReplicas").is_none());

    // Removing the annotation heals the existing Pods.
    c.modify("apps", "deployments", "bad", |d| {
        d["metadata"]["annotations"] = json!({})
    });
    rolled_out(&c, "bad").await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progressing_deployment_stays_pending() {
    let c = Cluster::start(Duration::from_millis(50));
    let mut d = with_annotation(deployment("slow", 2, "app:1"), "/metadata", "progressing");
    d["spec"]["progressDeadlineSeconds"] = json!(1);
    c.create("apps", "deployments", d);
    eventually("the deployment to report progress", || {
        let d = c.get("apps", "deployments", "slow")?;
        (cond_is(&d, "Progressing", "True", "ReplicaSetUpdated")
            && cond_is(&d, "Available", "False", "MinimumReplicasUnavailable")
            && i(&d, "/status/updatedReplicas") == 2
            && c.list("", "pods")
                .iter()
                .all(|p| p["status"]["containerStatuses"].is_array()))
        .then_some(())
    })
    .await;
    // Well past ready_after and the deadline, nothing moves on.
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        let d = c.get("apps", "deployments", "slow").unwrap();
        assert!(
            cond_is(&d, "Progressing", "True", "ReplicaSetUpdated"),
            "{d}"
        );
        for p in c.list("", "pods") {
            assert_eq!(p["status"]["phase"], "Pending");
            assert_eq!(
                p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
                "ContainerCreating"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.shutdown().await;
}

/// A Deployment `crashy` whose template crash-loops; its Pod once it has restarted 3 times.
async fn crashing_pod(c: &Cluster) -> Value {
    let d = with_annotation(
        deployment("crashy", 1, "app:1"),
        "/spec/template/metadata",
        "crashloop",
    );
    c.create("apps", "deployments", d);
    eventually("restarts to accumulate", || {
        c.list("", "pods")
            .into_iter()
            .find(|p| i(p, "/status/containerStatuses/0/restartCount") >= 3)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashloop_from_the_pod_template_restarts_containers() {
    let c = Cluster::start(Duration::from_millis(50));
    let pod = crashing_pod(&c).await;
    let cs = &pod["status"]["containerStatuses"][0];
    assert_eq!(cs["state"]["waiting"]["reason"], "CrashLoopBackOff");
    assert_eq!(cs["ready"], false);
    assert_eq!(cs["lastState"]["terminated"]["reason"], "Error");
    assert_eq!(s(&pod, "/status/phase"), "Running");
    let d = c.get("apps", "deployments", "crashy").unwrap();
    assert!(cond_is(
        &d,
        "Available",
        "False",
        "MinimumReplicasUnavailable"
    ));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_injection_fails_jobs_and_degrades_other_workloads() {
    let c = Cluster::start(Duration::from_millis(50));
    c.create(
        "batch",
        "jobs",
        with_annotation(job("broken", 1), "/metadata", "degraded"),
    );
    c.create(
        "batch",
        "jobs",
        with_annotation(job("crashing", 1), "/spec/template/metadata", "crashloop"),
    );
    for name in ["broken", "crashing"] {
        let j = eventually("the job to fail", || {
            c.get("batch", "jobs", name)
                .filter(|j| cond_is(j, "Failed", "True", "BackoffLimitExceeded"))
        })
        .await;
        assert!(cond_is(&j, "FailureTarget", "True", "BackoffLimitExceeded"));
        assert!(cond(&j, "Complete").is_none());
        assert_eq!(i(&j, "/status/failed"), 1);
    }

    c.create(
        "apps",
        "daemonsets",
        with_annotation(
            json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "dsbad"},
                   "spec": {"selector": {"matchLabels": {"app": "dsbad"}},
                            "template": {"metadata": {"labels": {"app": "dsbad"}},
                                         "spec": {"containers": [{"name": "a", "image": "a"}]}}}}),
            "/metadata",
            "degraded",
        ),
    );
    let ds = eventually("the daemonset pod to run unready", || {
        let ds = c.get("apps", "daemonsets", "dsbad")?;
        let pod = c
            .list("", "pods")
            .into_iter()
            .find(|p| s(p, "/metadata/name").starts_with("dsbad-"))?;
        (pod["status"]["phase"] == "Running" && i(&ds, "/status/currentNumberScheduled") == 1)
            .then_some(ds)
    })
    .await;
    assert_eq!(i(&ds, "/status/numberReady"), 0);
    assert_eq!(i(&ds, "/status/numberUnavailable"), 1);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_unrelated_objects_do_not_get_in_the_way() {
    let objects = Objects::new(Store::memory(), Resources::new());
    objects.ensure_namespaces(&[NS]).unwrap();
    let configmap = |n: usize| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm-{n}"), "namespace": NS}});
    for n in 0..5_000 {
        objects
            .store
            .create(
                &ObjectKey::new("configmaps", NS, format!("cm-{n}")),
                configmap(n),
            )
            .unwrap();
    }
    let c = Cluster::start_with(objects, Duration::from_millis(50));
    for n in 5_000..10_000 {
        c.objects
            .store
            .create(
                &ObjectKey::new("configmaps", NS, format!("cm-{n}")),
                configmap(n),
            )
            .unwrap();
    }
    c.create("apps", "deployments", deployment("busy", 2, "app:1"));
    rolled_out(&c, "busy").await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_simulation_picks_up_where_it_left() {
    let c = Cluster::start(Duration::from_millis(50));
    c.create("apps", "deployments", deployment("keep", 2, "app:1"));
    rolled_out(&c, "keep").await;
    let objects = c.shutdown().await;
    let before = objects.store.revision().unwrap();
    // A long delay: Pods already running must not start over.
    let c = Cluster::start_with(objects, Duration::from_secs(30));
    c.create("apps", "deployments", deployment("late", 1, "app:1"));
    eventually("the new deployment's pod", || {
        c.list("", "pods")
            .iter()
            .any(|p| s(p, "/metadata/name").starts_with("late-"))
            .then_some(())
    })
    .await;
    for p in c
        .list("", "pods")
        .iter()
        .filter(|p| s(p, "/metadata/name").starts_with("keep-"))
    {
        assert_eq!(s(p, "/status/phase"), "Running");
        assert!(
            p["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                <= before
        );
    }
    let d = c.get("apps", "deployments", "keep").unwrap();
    assert!(cond_is(&d, "Available", "True", "MinimumReplicasAvailable"));
    c.shutdown().await;
}

#[test]
fn template_hashes_ignore_key_order_and_typed_client_noise() {
    let a = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
    let b = json!({"spec": {"containers": [{"image": "i", "name": "c", "resources": {}}]},
                   "metadata": {"creationTimestamp": null, "labels": {"b": "2", "a": "1"}}});
    let c = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"name": "c", "image": "j"}]}});
    assert_eq!(super::template_hash(&a), super::template_hash(&b));
    assert_ne!(super::template_hash(&a), super::template_hash(&c));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_objects_do_not_stop_the_simulation() {
    let c = Cluster::start(Duration::from_millis(50));
    // The object layer checks metadata, not specs: these reach the controllers as written.
    c.create(
        "",
        "pods",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "odd"}, "spec": "x"}),
    );
    c.create("", "persistentvolumeclaims",
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "odd"}, "spec": 5}));
    let mut d = deployment("odd", 1, "app:1");
    d["spec"]["template"] = json!("not a template");
    c.create("apps", "deployments", d);
    c.create("apps", "statefulsets",
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "odd"}, "spec": {"replicas": "two"}}));
    c.create(
        "batch",
        "jobs",
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "odd"}, "spec": []}),
    );
    // The simulation is still alive for well-formed objects.
    c.create("apps", "deployments", deployment("fine", 1, "app:1"));
    rolled_out(&c, "fine").await;
    c.shutdown().await;
}

/// The events about the object with `uid`: (type, reason, message, count), oldest first.
fn events_about(c: &Cluster, uid: &str) -> Vec<(String, String, String, i64)> {
    let mut events: Vec<Value> = c
        .list("", "events")
        .into_iter()
        .filter(|e| s(e, "/involvedObject/uid") == uid)
        .collect();
    events.sort_by(|a, b| s(a, "/metadata/name").cmp(s(b, "/metadata/name")));
    events
        .iter()
        .map(|e| {
            (
                s(e, "/type").to_string(),
                s(e, "/reason").to_string(),
                s(e, "/message").to_string(),
                i(e, "/count"),
            )
        })
        .collect()
}

fn reasons(events: &[(String, String, String, i64)]) -> Vec<&str> {
    events.iter().map(|e| e.1.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_registers_ready_and_comes_back_when_deleted() {
    let c = Cluster::start(Duration::from_millis(50));
    let nodes = c.t("", "nodes");
    let ready = |c: &Cluster| {
        c.objects
            .get_json(&nodes, "", NODE_NAME)
            .ok()
            .filter(|n| cond_is(n, "Ready", "True", "KubeletReady"))
    };
    let node = eventually("the node to be Ready", || ready(&c)).await;
    assert!(s(&node, "/status/capacity/cpu").parse::<u32>().unwrap() >= 1);
    assert_eq!(s(&node, "/status/addresses/0/address"), super::NODE_IP);
    assert_eq!(
        s(&node, "/status/nodeInfo/kubeletVersion"),
        format!("v1.{}.0", crate::discovery::KUBERNETES_MINOR)
    );
    let first_uid = s(&node, "/metadata/uid").to_string();
    c.objects
        .delete(&nodes, "", NODE_NAME, &DeleteOptions::default())
        .unwrap();
    eventually("the node to register again", || {
        ready(&c).filter(|n| s(n, "/metadata/uid") != first_uid)
    })
    .await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workloads_and_pods_record_what_happened() {
    let c = Cluster::start(Duration::from_millis(50));
    let d = c.create("apps", "deployments", deployment("web", 2, "nginx:1.25"));
    rolled_out(&c, "web").await;
    let rs = c
        .owned("apps", "replicasets", s(&d, "/metadata/uid"))
        .remove(0);
    let rs_name = s(&rs, "/metadata/name").to_string();
    let on_deployment = eventually("the scaling event", || {
        Some(events_about(&c, s(&d, "/metadata/uid"))).filter(|e| !e.is_empty())
    })
    .await;
    assert_eq!(
        on_deployment,
        [(
            "Normal".into(),
            "ScalingReplicaSet".into(),
            format!("Scaled up replica set {rs_name} from 0 to 2"),
            1
        )]
    );
    let on_rs = events_about(&c, s(&rs, "/metadata/uid"));
    assert_eq!(reasons(&on_rs), ["SuccessfulCreate", "SuccessfulCreate"]);
    assert!(on_rs[0].2.starts_with(&format!("Created pod: {rs_name}-")));
    let pod = c.owned("", "pods", s(&rs, "/metadata/uid")).remove(0);
    let pod_name = s(&pod, "/metadata/name");
    let on_pod = events_about(&c, s(&pod, "/metadata/uid"));
    assert_eq!(
        reasons(&on_pod),
        ["Scheduled", "Pulled", "Created", "Started"]
    );
    assert_eq!(
        on_pod[0].2,
        format!("Successfully assigned {NS}/{pod_name} to {NODE_NAME}")
    );
    assert_eq!(
        on_pod[1].2,
        "Container image \"nginx:1.25\" already present on machine"
    );
    assert_eq!(on_pod[2].2, "Created container: main");
    assert_eq!(on_pod[3].2, "Started container main");

    c.modify("apps", "deployments", "web", |d| {
        d["spec"]["replicas"] = json!(1)
    });
    eventually("the scale-down event", || {
        let e = events_about(&c, s(&d, "/metadata/uid"));
        e.iter()
            .any(|e| e.2 == format!("Scaled down replica set {rs_name} from 2 to 1"))
            .then_some(())
    })
    .await;
    eventually("the pod deletion event", || {
        reasons(&events_about(&c, s(&rs, "/metadata/uid")))
            .contains(&"SuccessfulDelete")
            .then_some(())
    })
    .await;

    c.create("batch", "jobs", job("once", 1));
    let job = eventually("the job to complete", || {
        c.get("batch", "jobs", "once")
            .filter(|j| cond_is(j, "Complete", "True", "CompletionsReached"))
    })
    .await;
    let on_job = eventually("the completion event", || {
        Some(events_about(&c, s(&job, "/metadata/uid"))).filter(|e| e.len() == 2)
    })
    .await;
    assert_eq!(reasons(&on_job), ["SuccessfulCreate", "Completed"]);
    assert_eq!(on_job[1].2, "Job completed");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loops_count_their_back_offs_on_one_event() {
    let c = Cluster::start(Duration::from_millis(50));
    let pod = crashing_pod(&c).await;
    let pod_uid = s(&pod, "/metadata/uid").to_string();
    let back_off = eventually("the back-off to be counted", || {
        events_about(&c, &pod_uid)
            .into_iter()
            .find(|e| e.1 == "BackOff" && e.3 >= 3)
    })
    .await;
    assert_eq!(back_off.0, "Warning");
    assert_eq!(
        back_off.2,
        format!(
            "Back-off restarting failed container main in pod {}_{NS}({pod_uid})",
            s(&pod, "/metadata/name")
        )
    );
    let started = events_about(&c, &pod_uid)
        .into_iter()
        .filter(|e| e.1 == "Started")
        .count();
    assert_eq!(started, 1, "a repeated event is counted, not repeated");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_expire_an_hour_after_they_last_happened() {
    let objects = Objects::new(Store::memory(), Resources::new());
    objects.ensure_namespaces(&[NS]).unwrap();
    let events = objects.resources.lookup("", "v1", "events").unwrap();
    let event = |name: &str, last: &str| {
        json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
            "involvedObject": {"kind": "Pod", "name": "gone"}, "reason": "Started",
            "firstTimestamp": last, "lastTimestamp": last, "count": 1, "type": "Normal"})
    };
    let opts = WriteOptions::manager("test");
    let stale = (chrono::Utc::now() - chrono::Duration::minutes(61))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    objects
        .create(&events, NS, event("old", &stale), &opts)
        .unwrap();
    objects
        .create(&events, NS, event("new", &crate::objects::now()), &opts)
        .unwrap();
    let c = Cluster::start_with(objects, Duration::from_millis(50));
    eventually("the stale event to expire", || {
        c.get("", "events", "old").is_none().then_some(())
    })
    .await;
    assert!(c.get("", "events", "new").is_some());
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_events_expire_after_the_ttl_and_users_events_too() {
    let config = SimConfig {
        ready_after: Duration::from_millis(50),
        event_ttl: Duration::from_millis(600),
    };
    let c = Cluster::start_configured(Objects::new(Store::memory(), Resources::new()), config);
    let pod = c.create(
        "",
        "pods",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "brief"},
            "spec": {"containers": [{"name": "main", "image": "app:1"}]}}),
    );
    let uid = s(&pod, "/metadata/uid").to_string();
    eventually("the pod's events", || {
        (events_about(&c, &uid).len() == 4).then_some(())
    })
    .await;
    c.create(
        "",
        "events",
        json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "by-hand"},
            "involvedObject": {"kind": "Pod", "name": "brief"}, "reason": "Noted", "type": "Normal"}),
    );
    eventually("every event to expire", || {
        c.list("", "events").is_empty().then_some(())
    })
    .await;
    c.shutdown().await;
}
