//! The sync engine inside `ferry up`: an Application applied with kubectl, its repository's
//! credentials in an Argo CD repository Secret, is rendered from a real git server, synced
//! automatically, reported Synced and Healthy, and follows a new commit; a project that does
//! not permit the repository stops it with `InvalidSpecError` and nothing is applied. Hooks
//! and waves run across reconciles; a failed hook fails the sync, which is retried.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ferry_testkit::git_server::{GitServer, PASSWORD, USER};
use ferry_testkit::kubectl;
use ferry_testkit::seed::Seed;

use super::up::{Up, ok, run};

/// The deployed ConfigMap's color, as kubectl reads it.
const COLOR: [&str; 7] = [
    "get",
    "configmap",
    "settings",
    "-n",
    "shop",
    "-o",
    "jsonpath={.data.color}",
];

pub(super) const CONFIGMAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: COLOR\n";

pub(super) fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_str().unwrap().to_string()
}

/// Polls `kubectl get … -o jsonpath=…` until it prints `want`.
pub(super) fn wait_for(kc: &Path, args: &[&str], want: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    while Instant::now() < deadline {
        let out = run(&kubectl(), args, kc);
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() && last.trim() == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let dump = |what: &[&str]| {
        let out = run(&kubectl(), what, kc);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    panic!(
        "kubectl {} never printed {want:?}; last: {last}\nApplications:\n{}\nJobs and Pods:\n{}",
        args.join(" "),
        dump(&["get", "applications", "-n", "argocd", "-o", "yaml"]),
        dump(&["get", "jobs,pods", "-A", "-o", "yaml"]),
    );
}

/// A git server (basic auth) on `runtime` with repository `name`, its
/// `config/configmap.yaml` of `color` committed and pushed; and that commit.
pub(super) fn color_repo(
    runtime: &tokio::runtime::Runtime,
    name: &str,
    color: &str,
) -> (GitServer, Seed, String) {
    let server = runtime.block_on(GitServer::start());
    let seed = Seed::new(&server, name);
    seed.write("config/configmap.yaml", &CONFIGMAP.replace("COLOR", color));
    let commit = seed.commit(color);
    seed.push();
    (server, seed, commit)
}

/// `ferry up` on `dir` (credentials over plain http allowed, for the loopback git server)
/// with the credentials of `url` in a repository Secret; and its kubeconfig.
pub(super) fn up_with_repository(dir: &Path, url: &str) -> (Up, std::path::PathBuf) {
    let up = Up::start(dir, &["--allow-http-credentials"]);
    let kc = up.kubeconfigs[0].clone();
    add_repository(dir, &kc, url);
    (up, kc)
}

/// `kubectl apply -f` of `text`, written to `dir/file`.
pub(super) fn apply(dir: &Path, kc: &Path, file: &str, text: &str) {
    ok(&kubectl(), &["apply", "-f", &write(dir, file, text)], kc);
}

/// An Argo CD repository Secret with the git server's credentials for `url`.
pub(super) fn add_repository(dir: &Path, kc: &Path, url: &str) {
    let secret = format!(
        "apiVersion: v1
kind: Secret
metadata:
  name: repo
  namespace: argocd
  labels:
    argocd.argoproj.io/secret-type: repository
stringData:
  url: {url}
  username: {USER}
  password: {PASSWORD}
"
    );
    ok(
        &kubectl(),
        &["apply", "-f", &write(dir, "secret.yaml", &secret)],
        kc,
    );
}

fn application(name: &str, project: &str, repo: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
spec:
  project: {project}
  source:
    repoURL: {repo}
    targetRevision: main
    path: config
  destination:
    server: https://kubernetes.default.svc
    namespace: shop
  syncPolicy:
    automated:
      prune: true
    syncOptions:
      - CreateNamespace=true
    managedNamespaceMetadata:
      labels:
        team: shop
"
    )
}

#[test]
fn an_application_syncs_from_git_and_follows_new_commits() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (server, seed, first) = color_repo(&runtime, "shop", "blue");

    let dir = tempfile::tempdir().unwrap();
    let (up, kc) = up_with_repository(dir.path(), &server.url("shop"));
    let app = application("shop", "default", &server.url("shop"));
    apply(dir.path(), &kc, "app.yaml", &app);

    let jsonpath = |path: &'static str| ["get", "application", "shop", "-n", "argocd", "-o", path];
    wait_for(
        &kc,
        &jsonpath("jsonpath={.status.sync.status} {.status.health.status}"),
        "Synced Healthy",
    );
    wait_for(&kc, &jsonpath("jsonpath={.status.sync.revision}"), &first);
    wait_for(&kc, &COLOR, "blue");
    let tracking = ok(
        &kubectl(),
        &[
            "get",
            "configmap",
            "settings",
            "-n",
            "shop",
            "-o",
            "jsonpath={.metadata.annotations.argocd\\.argoproj\\.io/tracking-id}",
        ],
        &kc,
    );
    assert_eq!(tracking, "shop:/ConfigMap:shop/settings");
    let namespace_label = ok(
        &kubectl(),
        &[
            "get",
            "namespace",
            "shop",
            "-o",
            "jsonpath={.metadata.labels.team}",
        ],
        &kc,
    );
    assert_eq!(
        namespace_label, "shop",
        "CreateNamespace with managedNamespaceMetadata"
    );
    wait_for(
        &kc,
        &jsonpath("jsonpath={.status.operationState.syncResult.resources[0].message}"),
        "namespace/shop created",
    );
    wait_for(
        &kc,
        &jsonpath("jsonpath={.status.operationState.phase} {.status.history[0].revision}"),
        &format!("Succeeded {first}"),
    );

    // Events on the Application, as Argo CD records them (written just after the status).
    // The status may pass through OutOfSync/Missing first (the cache sees the applied
    // object a moment later), so the transitions are matched by their end.
    let lines = [
        format!("Initiated automated sync to '{first}'"),
        format!("Sync operation to {first} succeeded"),
        "-> Synced\n".to_string(),
        "-> Healthy\n".to_string(),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let described = ok(
            &kubectl(),
            &["describe", "application", "shop", "-n", "argocd"],
            &kc,
        );
        let missing: Vec<&String> = lines.iter().filter(|l| !described.contains(*l)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "{missing:?} not in\n{described}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // A new commit, picked up on a refresh (the webhook's job, later).
    seed.write(
        "config/configmap.yaml",
        &CONFIGMAP.replace("COLOR", "green"),
    );
    let second = seed.commit("green");
    seed.push();
    ok(
        &kubectl(),
        &[
            "annotate",
            "application",
            "shop",
            "-n",
            "argocd",
            "argocd.argoproj.io/refresh=normal",
        ],
        &kc,
    );
    wait_for(&kc, &jsonpath("jsonpath={.status.sync.revision}"), &second);
    wait_for(&kc, &COLOR, "green");
    wait_for(
        &kc,
        &jsonpath("jsonpath={.metadata.annotations.argocd\\.argoproj\\.io/refresh}"),
        "",
    );
    wait_for(&kc, &jsonpath("jsonpath={.status.history[*].id}"), "0 1");

    // A project that does not permit the repository: nothing is rendered or applied.
    let project = "apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: locked
  namespace: argocd
spec:
  sourceRepos: [\"https://git.example.com/*\"]
  destinations: [{server: \"*\", namespace: \"*\"}]
";
    apply(dir.path(), &kc, "project.yaml", project);
    let locked = application("locked", "locked", &server.url("shop"));
    apply(dir.path(), &kc, "locked.yaml", &locked);
    let locked_status = ["get", "application", "locked", "-n", "argocd", "-o"];
    wait_for(
        &kc,
        &[
            &locked_status[..],
            &["jsonpath={.status.conditions[0].type} {.status.sync.status}"],
        ]
        .concat(),
        "InvalidSpecError Unknown",
    );
    let message = ok(
        &kubectl(),
        &[
            &locked_status[..],
            &["jsonpath={.status.conditions[0].message}"],
        ]
        .concat(),
        &kc,
    );
    assert_eq!(
        message,
        format!(
            "application repo {} is not permitted in project 'locked'",
            server.url("shop")
        )
    );
    assert!(up.stop().success());
}

const HOOKED: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    argocd.argoproj.io/hook: PreSync
    argocd.argoproj.io/hook-delete-policy: HookSucceeded
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: after-web
  annotations:
    argocd.argoproj.io/sync-wave: \"1\"
data: {ready: \"yes\"}
---
apiVersion: batch/v1
kind: Job
metadata:
  generateName: smoke-
  annotations:
    argocd.argoproj.io/hook: PostSync
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox}]
";

const FAILING_HOOK: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    argocd.argoproj.io/hook: PreSync
    ferry.dev/simulate: degraded
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: never
data: {applied: \"no\"}
";

fn hooked_application(name: &str, path: &str, repo: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
spec:
  project: default
  source: {{repoURL: {repo}, targetRevision: main, path: {path}}}
  destination: {{server: https://kubernetes.default.svc, namespace: {name}}}
  syncPolicy:
    automated: {{selfHeal: true}}
    syncOptions: [CreateNamespace=true]
    retry: {{limit: 1, backoff: {{duration: 1s}}}}
"
    )
}

#[test]
fn hooks_and_waves_run_across_reconciles_self_heal_and_a_failed_sync_is_retried() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(GitServer::start());
    let seed = Seed::new(&server, "hooks");
    seed.write("good/all.yaml", HOOKED);
    seed.write("bad/all.yaml", FAILING_HOOK);
    seed.commit("hooks");
    seed.push();
    let repo = server.url("hooks");

    let dir = tempfile::tempdir().unwrap();
    let (up, kc) = up_with_repository(dir.path(), &repo);
    let apps = [
        hooked_application("good", "good", &repo),
        hooked_application("bad", "bad", &repo),
    ]
    .join("---\n");
    apply(dir.path(), &kc, "apps.yaml", &apps);

    // PreSync hook, then wave 0, then wave 1 once the Deployment is healthy, then PostSync.
    let good = |path: &'static str| ["get", "application", "good", "-n", "argocd", "-o", path];
    wait_for(
        &kc,
        &good("jsonpath={.status.operationState.phase}"),
        "Succeeded",
    );
    wait_for(
        &kc,
        &good("jsonpath={.status.operationState.syncResult.resources[*].syncPhase}"),
        "PreSync PreSync Sync Sync PostSync",
    );
    wait_for(
        &kc,
        &good("jsonpath={.status.operationState.syncResult.resources[*].hookPhase}"),
        "Succeeded Succeeded Succeeded Succeeded",
    );
    wait_for(&kc, &good("jsonpath={.operation}"), "");
    wait_for(
        &kc,
        &good("jsonpath={.status.sync.status} {.status.health.status}"),
        "Synced Healthy",
    );
    // HookSucceeded removed the PreSync Job; the PostSync one stays (BeforeHookCreation).
    let smoke = ok(
        &kubectl(),
        &good("jsonpath={.status.operationState.syncResult.resources[4].name}"),
        &kc,
    );
    assert!(smoke.starts_with("smoke-"), "{smoke}");
    wait_for(
        &kc,
        &[
            "get",
            "jobs",
            "-n",
            "good",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
        &smoke,
    );

    // Self-heal puts back a hand-edited Deployment, without running the hooks again.
    ok(
        &kubectl(),
        &["scale", "deployment", "web", "-n", "good", "--replicas=5"],
        &kc,
    );
    wait_for(
        &kc,
        &[
            "get",
            "deployment",
            "web",
            "-n",
            "good",
            "-o",
            "jsonpath={.spec.replicas}",
        ],
        "2",
    );
    wait_for(
        &kc,
        &good(
            "jsonpath={.status.operationState.operation.sync.autoHealAttemptsCount} {.status.operationState.syncResult.resources[*].name}",
        ),
        "1 web",
    );
    wait_for(&kc, &good("jsonpath={.status.history[*].id}"), "0");

    // The failing PreSync hook fails the sync; it is retried once, then the sync fails.
    let bad = |path: &'static str| ["get", "application", "bad", "-n", "argocd", "-o", path];
    wait_for(
        &kc,
        &bad("jsonpath={.status.operationState.phase} {.status.operationState.retryCount}"),
        "Failed 1",
    );
    assert_eq!(
        ok(
            &kubectl(),
            &bad("jsonpath={.status.operationState.message}"),
            &kc
        ),
        "one or more synchronization tasks completed unsuccessfully (retried 1 times)."
    );
    wait_for(
        &kc,
        &bad("jsonpath={.status.conditions[0].type}"),
        "SyncError",
    );
    let never = run(&kubectl(), &["get", "configmap", "never", "-n", "bad"], &kc);
    assert!(!never.status.success(), "the Sync phase must not run");
    assert!(up.stop().success());
}

fn parent_application(repo: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: parent
  namespace: argocd
spec:
  project: default
  source: {{repoURL: {repo}, targetRevision: main, path: parent}}
  destination: {{server: https://kubernetes.default.svc, namespace: argocd}}
  syncPolicy:
    automated: {{prune: true, allowEmpty: true}}
"
    )
}

fn child_application(repo: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: child
  namespace: argocd
  finalizers: [resources-finalizer.argocd.argoproj.io]
spec:
  project: default
  source: {{repoURL: {repo}, targetRevision: main, path: child}}
  destination: {{server: https://kubernetes.default.svc, namespace: kids}}
  syncPolicy:
    automated: {{}}
    syncOptions: [CreateNamespace=true]
"
    )
}

#[test]
fn a_child_app_removed_from_git_is_pruned_and_cascades_to_its_resources() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(GitServer::start());
    let repo = server.url("apps");
    let seed = Seed::new(&server, "apps");
    seed.write("parent/child.yaml", &child_application(&repo));
    // Keeps the directory when the child leaves (a missing path is a ComparisonError).
    seed.write("parent/README.md", "The children.\n");
    seed.write("child/configmap.yaml", &CONFIGMAP.replace("COLOR", "red"));
    seed.write(
        "child/kept.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n  annotations:\n    argocd.argoproj.io/sync-options: Delete=false\n",
    );
    seed.commit("app of apps");
    seed.push();

    let dir = tempfile::tempdir().unwrap();
    let (up, kc) = up_with_repository(dir.path(), &repo);
    ok(
        &kubectl(),
        &[
            "apply",
            "-f",
            &write(dir.path(), "parent.yaml", &parent_application(&repo)),
        ],
        &kc,
    );
    let parent = |path: &'static str| ["get", "application", "parent", "-n", "argocd", "-o", path];
    let configmaps = [
        "get",
        "configmaps",
        "-n",
        "kids",
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ];
    wait_for(
        &kc,
        &[
            "get",
            "application",
            "child",
            "-n",
            "argocd",
            "-o",
            "jsonpath={.status.sync.status} {.status.health.status}",
        ],
        "Synced Healthy",
    );
    wait_for(&kc, &configmaps, "kept settings");
    wait_for(
        &kc,
        &parent("jsonpath={.status.sync.status} {.status.health.status}"),
        "Synced Healthy",
    );

    // The child leaves Git: the parent prunes it, and the child's finalizer takes its
    // resources with it (all but the one marked Delete=false).
    seed.git(&["rm", "-q", "parent/child.yaml"]);
    seed.commit("drop the child");
    seed.push();
    ok(
        &kubectl(),
        &[
            "annotate",
            "application",
            "parent",
            "-n",
            "argocd",
            "argocd.argoproj.io/refresh=normal",
        ],
        &kc,
    );
    wait_for(&kc, &configmaps, "kept");
    wait_for(
        &kc,
        &[
            "get",
            "applications",
            "-n",
            "argocd",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
        "parent",
    );
    wait_for(
        &kc,
        &parent("jsonpath={.status.operationState.syncResult.resources[0].status}"),
        "Pruned",
    );
    assert!(up.stop().success());
}

#[test]
fn a_push_webhook_syncs_the_new_commit_without_waiting_for_the_resync_and_metrics_count_it() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (server, seed, _) = color_repo(&runtime, "pushed", "blue");

    let dir = tempfile::tempdir().unwrap();
    let (up, kc) = up_with_repository(dir.path(), &server.url("pushed"));
    let app = application("pushed", "default", &server.url("pushed"));
    apply(dir.path(), &kc, "app.yaml", &app);
    wait_for(&kc, &COLOR, "blue");

    seed.write(
        "config/configmap.yaml",
        &CONFIGMAP.replace("COLOR", "green"),
    );
    seed.commit("green");
    seed.push();
    // GitHub's push event, as it names the repository (its web URL, without `.git`).
    let web_url = server.url("pushed").trim_end_matches(".git").to_string();
    let body = serde_json::json!({
        "ref": "refs/heads/main",
        "repository": {"html_url": web_url, "default_branch": "main"},
        "commits": [{"added": [], "modified": ["config/configmap.yaml"], "removed": []}],
    })
    .to_string();
    let pushed = Instant::now();
    let (status, answer) = ferry_testkit::cluster::raw_request(
        up.web.expect("ferry up printed its web address"),
        "POST",
        "/api/webhook",
        &[
            ("X-GitHub-Event", "push"),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    assert_eq!(
        (status, answer.as_str()),
        (200, r#"{"refreshed":["argocd/pushed"]}"#)
    );
    // The resync is 120 s away; only the webhook can make this quick.
    wait_for(&kc, &COLOR, "green");
    eprintln!("push → synced: {:?}", pushed.elapsed());

    // Argo CD's metrics, for the dashboards people already have.
    let (status, metrics) =
        ferry_testkit::cluster::raw_request(up.web.unwrap(), "GET", "/metrics", &[], b"");
    assert_eq!(status, 200);
    for wanted in [
        r#"argocd_app_sync_total{name="pushed",namespace="argocd",project="default","#,
        r#"request_type="fetch"} "#,
        r#"argocd_kubectl_exec_total{hostname="https://kubernetes.default.svc",command="apply"} "#,
        "argocd_app_reconcile_count{",
    ] {
        assert!(metrics.contains(wanted), "{wanted} not in\n{metrics}");
    }
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("argocd_app_info{name=\"pushed\"")
                && l.contains("sync_status=\"Synced\"")),
        "{metrics}"
    );
    assert!(up.stop().success());
}

const SLOW_HOOK: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    argocd.argoproj.io/hook: PreSync
spec:
  completions: 3
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data: {wave: \"0\"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: later
  annotations:
    argocd.argoproj.io/sync-wave: \"1\"
data: {wave: \"1\"}
";

#[test]
fn a_sync_killed_midway_completes_after_a_restart() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(GitServer::start());
    let seed = Seed::new(&server, "crash");
    seed.write("config/all.yaml", SLOW_HOOK);
    seed.commit("slow hook");
    seed.push();

    let dir = tempfile::tempdir().unwrap();
    let (up, kc) = up_with_repository(dir.path(), &server.url("crash"));
    let app = application("crash", "default", &server.url("crash"));
    apply(dir.path(), &kc, "app.yaml", &app);
    let phase = [
        "get",
        "application",
        "crash",
        "-n",
        "argocd",
        "-o",
        "jsonpath={.status.operationState.phase}",
    ];
    // The PreSync hook runs three Pods one after the other: the sync is mid-way.
    wait_for(&kc, &phase, "Running");
    up.kill();

    let up = Up::start(dir.path(), &["--allow-http-credentials"]);
    let kc = up.kubeconfigs[0].clone();
    wait_for(&kc, &phase, "Succeeded");
    wait_for(
        &kc,
        &[
            "get",
            "configmaps",
            "-n",
            "shop",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
        "later settings",
    );
    let jobs = ok(
        &kubectl(),
        &[
            "get",
            "jobs",
            "-n",
            "shop",
            "-o",
            "jsonpath={.items[*].metadata.name} {.items[*].status.succeeded}",
        ],
        &kc,
    );
    assert_eq!(jobs, "migrate 3", "one hook Job, run to completion");
    wait_for(
        &kc,
        &[
            "get",
            "application",
            "crash",
            "-n",
            "argocd",
            "-o",
            "jsonpath={.operation}{.status.history[*].id}",
        ],
        "0",
    );
    assert!(up.stop().success());
}

#[test]
fn a_kind_the_project_refuses_stops_the_whole_sync() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(GitServer::start());
    let seed = Seed::new(&server, "guarded");
    seed.write("config/configmap.yaml", &CONFIGMAP.replace("COLOR", "red"));
    seed.write(
        "config/role.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\nrules: []\n",
    );
    seed.commit("a cluster role");
    seed.push();

    let dir = tempfile::tempdir().unwrap();
    let (up, kc) = up_with_repository(dir.path(), &server.url("guarded"));
    // The seed's Craftista project: namespaced kinds by default, cluster-scoped ones only
    // when whitelisted (its list names none that is cluster-scoped).
    let project = "apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: craftisia, namespace: argocd}
spec:
  sourceRepos: ['*']
  destinations: [{namespace: '*', server: '*'}]
  clusterResourceWhitelist:
  - {group: '', kind: Pod}
  - {group: apps, kind: Deployment}
  - {group: networking.k8s.io, kind: Ingress}
";
    apply(dir.path(), &kc, "project.yaml", project);
    // No retries: the refusal is final at once.
    let app = application("guarded", "craftisia", &server.url("guarded")).replace(
        "    automated:\n",
        "    retry: {limit: 0}\n    automated:\n",
    );
    apply(dir.path(), &kc, "app.yaml", &app);
    let state = [
        "get",
        "application",
        "guarded",
        "-n",
        "argocd",
        "-o",
        "jsonpath={.status.operationState.phase}: {.status.operationState.message}",
    ];
    wait_for(
        &kc,
        &state,
        "Failed: one or more synchronization tasks are not valid, reason: resource rbac.authorization.k8s.io:ClusterRole is not permitted in project craftisia",
    );
    let nothing = run(
        &kubectl(),
        &["get", "configmap", "settings", "-n", "shop"],
        &kc,
    );
    assert!(
        !nothing.status.success(),
        "nothing is applied when a kind is refused"
    );
    assert!(up.stop().success());
}

const FRONTEND_CHART: &str = "apiVersion: v2\nname: frontend\nversion: 0.1.0\n";
const FRONTEND_DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Chart.Name }}
  labels: {app: {{ .Chart.Name }}}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels: {app: {{ .Chart.Name }}}
  template:
    metadata:
      labels: {app: {{ .Chart.Name }}}
    spec:
      containers:
      - name: {{ .Chart.Name }}
        image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"
        ports: [{containerPort: 3000}]
";
const FRONTEND_SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: {{ .Chart.Name }}
spec:
  selector: {app: {{ .Chart.Name }}}
  ports: [{port: 80, targetPort: 3000}]
";

/// Seed 004's Craftista layout: a Helm chart per service under `service-charts/`, values per
/// environment under `env/`, the AppProject and the Applications applied with
/// `kubectl apply -k` from the `argocd/` directory, the Application as the seed writes it
/// (only `repoURL` changed).
#[test]
fn seed_004s_craftista_frontend_deploys_from_its_chart_and_environment_values() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(GitServer::start());
    let repo = server.url("microservice-helmcharts");
    let seed = Seed::new(&server, "microservice-helmcharts");
    seed.write("service-charts/frontend/Chart.yaml", FRONTEND_CHART);
    seed.write(
        "service-charts/frontend/templates/deployment.yaml",
        FRONTEND_DEPLOYMENT,
    );
    seed.write(
        "service-charts/frontend/templates/service.yaml",
        FRONTEND_SERVICE,
    );
    seed.write(
        "env/dev/frontend/frontend-values.yaml",
        "image:\n  repository: nitheesh86/microservice-frontend\n  tag: 1.0.11\n\nreplicaCount: 2\n",
    );
    seed.commit("frontend chart and dev values");
    seed.push();

    let dir = tempfile::tempdir().unwrap();
    let (up, kc) = up_with_repository(dir.path(), &repo);
    let seeds =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../sync/tests/it/seeds/004-craftisia.yaml");
    let written = std::fs::read_to_string(seeds).unwrap().replace(
        "https://github.com/nitheeshp-irl/microservice-helmcharts",
        &repo,
    );
    let (project, application) = written.split_once("---\n").unwrap();
    let argocd = dir.path().join("argocd");
    std::fs::create_dir_all(argocd.join("application/dev")).unwrap();
    std::fs::write(argocd.join("project.yaml"), project).unwrap();
    std::fs::write(argocd.join("application/dev/frontend.yaml"), application).unwrap();
    std::fs::write(
        argocd.join("kustomization.yaml"),
        "resources: [project.yaml, application/dev/frontend.yaml]\n",
    )
    .unwrap();
    ok(&kubectl(), &["apply", "-k", argocd.to_str().unwrap()], &kc);

    wait_for(
        &kc,
        &[
            "get",
            "application",
            "frontend-dev",
            "-n",
            "argocd",
            "-o",
            "jsonpath={.status.sync.status} {.status.health.status}",
        ],
        "Synced Healthy",
    );
    wait_for(
        &kc,
        &[
            "get",
            "deployment",
            "frontend",
            "-n",
            "front-end-dev",
            "-o",
            "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.status.readyReplicas}",
        ],
        "2 nitheesh86/microservice-frontend:1.0.11 2",
    );
    let source_type = ok(
        &kubectl(),
        &[
            "get",
            "application",
            "frontend-dev",
            "-n",
            "argocd",
            "-o",
            "jsonpath={.status.resources[*].kind}",
        ],
        &kc,
    );
    assert_eq!(source_type, "Service Deployment");
    assert!(up.stop().success());
}

/// The seed's documents whose `metadata.name` is one of `names`, their repository URLs
/// replaced.
pub(super) fn seed_documents(file: &str, names: &[&str], urls: &[(&str, &str)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sync/tests/it/seeds")
        .join(file);
    let mut text = std::fs::read_to_string(path).unwrap();
    for (from, to) in urls {
        text = text.replace(from, to);
    }
    text.split("\n---\n")
        .filter(|doc| {
            names.iter().any(|n| {
                doc.lines()
                    .any(|l| l.trim() == format!("name: {n}") && !l.starts_with("    "))
            })
        })
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// Seed 002's Applications: Argo CD managing itself from a Helm repository chart with
/// `valuesObject` (here a stand-in `argo-cd` 7.4.7 in a local chart repository), the first
/// Application with its `testing` project, and the app-of-apps with `directory.recurse`.
#[test]
fn seed_002s_applications_sync_from_a_chart_repository_and_git() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let work = tempfile::tempdir().unwrap();
    let chart = work.path().join("argo-cd");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: argo-cd\nversion: 7.4.7\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/settings.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\ndata:\n  url: https://{{ .Values.global.domain }}\n  ingress: {{ .Values.server.ingress.enabled | quote }}\n  issuer: {{ .Values.server.certificate.issuer.name }}\n",
    )
    .unwrap();
    let site = work.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    ferry_testkit::chart_repo::package_chart(work.path(), &site, "argo-cd", "7.4.7");
    let indexed = ferry_testkit::chart_repo::helm()
        .args(["repo", "index"])
        .arg(&site)
        .status()
        .unwrap();
    assert!(indexed.success());
    let charts = runtime.block_on(ferry_testkit::chart_repo::StaticServer::start(&site));

    let server = runtime.block_on(GitServer::start());
    let seed = Seed::new(&server, "gitops");
    seed.write(
        "hello-world/configmap.yaml",
        &CONFIGMAP.replace("COLOR", "hello"),
    );
    let child = |name: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}, namespace: argocd}}\nspec:\n  project: default\n  source: {{repoURL: {repo}, targetRevision: HEAD, path: hello-world}}\n  destination: {{server: https://kubernetes.default.svc, namespace: {name}}}\n  syncPolicy: {{automated: {{}}, syncOptions: [CreateNamespace=true]}}\n",
            repo = server.url("gitops")
        )
    };
    seed.write("apps/team-a/child.yaml", &child("team-a"));
    seed.write("apps/team-b/nested/child.yaml", &child("team-b"));
    seed.commit("hello world and apps");
    seed.push();

    let dir = tempfile::tempdir().unwrap();
    let (up, kc) = up_with_repository(dir.path(), &server.url("gitops"));
    let argo_cd = seed_documents(
        "002-argo-cd.yaml",
        &["argo-cd", "argo"],
        &[("https://argoproj.github.io/argo-helm", &charts.url)],
    );
    let git = server.url("gitops");
    let hello = seed_documents(
        "002-hello-world.yaml",
        &["hello-world", "testing", "app-of-apps"],
        &[
            ("https://git.example.com/our/repo", &git),
            ("git@gitlab.example.com:infra/gitops.git", &git),
        ],
    );
    // The seed's app-of-apps names a project `cd` the seed does not show.
    let cd = "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: cd, namespace: argocd}\nspec:\n  sourceRepos: ['*']\n  destinations: [{server: '*', namespace: '*'}]\n  clusterResourceWhitelist: [{group: '*', kind: '*'}]\n";
    for (file, text) in [
        ("argo-cd.yaml", argo_cd.as_str()),
        ("hello.yaml", hello.as_str()),
        ("cd.yaml", cd),
    ] {
        ok(
            &kubectl(),
            &["apply", "-f", &write(dir.path(), file, text)],
            &kc,
        );
    }

    let status = |app: &'static str| {
        [
            "get",
            "application",
            app,
            "-n",
            "argocd",
            "-o",
            "jsonpath={.status.sync.status} {.status.health.status}",
        ]
    };
    wait_for(&kc, &status("argo-cd"), "Synced Healthy");
    wait_for(
        &kc,
        &[
            "get",
            "configmap",
            "argocd-settings",
            "-n",
            "argocd",
            "-o",
            "jsonpath={.data.url} {.data.ingress} {.data.issuer}",
        ],
        "https://argocd.example.com true letsencrypt-dns-production",
    );
    // Manual sync for the first Application, as the seed leaves it.
    wait_for(&kc, &status("hello-world"), "OutOfSync Missing");
    let synced = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["app", "sync", "hello-world", "--kubeconfig"])
        .arg(&kc)
        .output()
        .unwrap();
    assert!(
        synced.status.success(),
        "{}",
        String::from_utf8_lossy(&synced.stderr)
    );
    wait_for(&kc, &status("hello-world"), "Synced Healthy");
    // The app-of-apps finds its children in nested directories.
    for child in ["team-a", "team-b"] {
        wait_for(&kc, &status(child), "Synced Healthy");
    }
    wait_for(&kc, &status("app-of-apps"), "Synced Healthy");
    assert!(up.stop().success());
}

#[test]
fn timeout_reconciliation_in_argocd_cm_sets_the_resync_period() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (server, _seed, _) = color_repo(&runtime, "polled", "blue");

    // Read when the controller starts, as Argo CD's controller reads it.
    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(dir.path(), &["--allow-http-credentials"]);
    let kc = up.kubeconfigs[0].clone();
    let settings = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm, namespace: argocd}\ndata:\n  timeout.reconciliation: 2s\n  timeout.reconciliation.jitter: \"0\"\n";
    ok(
        &kubectl(),
        &[
            "apply",
            "-f",
            &write(dir.path(), "argocd-cm.yaml", settings),
        ],
        &kc,
    );
    assert!(up.stop().success());
    let (up, kc) = up_with_repository(dir.path(), &server.url("polled"));
    let app = application("polled", "default", &server.url("polled"));
    apply(dir.path(), &kc, "app.yaml", &app);
    wait_for(&kc, &COLOR, "blue");

    // With nothing changed, the app is looked at every 2 s (by default every 120–180 s).
    let reconciles = || {
        let (_, text) =
            ferry_testkit::cluster::raw_request(up.web.unwrap(), "GET", "/metrics", &[], b"");
        text.lines()
            .filter(|l| l.starts_with("argocd_app_reconcile_count"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    let before = reconciles();
    std::thread::sleep(Duration::from_secs(7));
    let looked = reconciles() - before;
    assert!(looked >= 2.0, "every 2 s, {looked} reconciles in 7 s");
    assert!(up.stop().success());
}
