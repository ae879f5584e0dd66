//! The ApplicationSet controller inside `ferry up`: the seeds' ApplicationSets generate
//! their Applications as written (repository URLs aside); git directories × clusters over
//! `ferry up --clusters 2` deploy to both clusters, a directory removed from Git removes its
//! apps and their resources, a hand edit of a generated app is undone, and a generator
//! error leaves every app in place.

use std::path::Path;

use ferry_testkit::git_server::GitServer;
use ferry_testkit::kubectl;
use ferry_testkit::seed::Seed;

use super::sync::{CONFIGMAP, add_repository, apply, seed_documents, up_with_repository, wait_for};
use super::up::{Up, ok};

/// `kubectl get <what> -o jsonpath=<path>` in `namespace`.
fn get(kc: &Path, namespace: &str, what: &str, path: &str) -> String {
    ok(
        &kubectl(),
        &[
            "get",
            what,
            "-n",
            namespace,
            "-o",
            &format!("jsonpath={path}"),
        ],
        kc,
    )
}

fn wait_for_app(kc: &Path, name: &str, want: &str) {
    wait_for(
        kc,
        &[
            "get",
            "application",
            name,
            "-n",
            "argocd",
            "-o",
            "jsonpath={.status.sync.status} {.status.health.status}",
        ],
        want,
    );
}

fn wait_for_condition(kc: &Path, set: &str, condition: &str, want: &str) {
    wait_for(
        kc,
        &[
            "get",
            "applicationset",
            set,
            "-n",
            "argocd",
            "-o",
            &format!(
                "jsonpath={{.status.conditions[?(@.type==\"{condition}\")].status}} {{.status.conditions[?(@.type==\"{condition}\")].message}}"
            ),
        ],
        want,
    );
}

fn refresh(kc: &Path, set: &str) {
    ok(
        &kubectl(),
        &[
            "annotate",
            "applicationset",
            set,
            "-n",
            "argocd",
            "--overwrite",
            "argocd.argoproj.io/application-set-refresh=true",
        ],
        kc,
    );
}

/// Seed 002's kargo-demo ApplicationSet (fasttemplate, one app per stage branch) and seed
/// 000's guestbook (Go templates with `missingkey=error`, a project that exists only later).
#[test]
fn the_seeds_application_sets_generate_their_applications() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(GitServer::start());
    let seed = Seed::new(&server, "kargo-demo-gitops");
    seed.write("README.md", "stages live on their branches\n");
    seed.commit("init");
    for (stage, color) in [("test", "teal"), ("uat", "amber"), ("prod", "plum")] {
        seed.git(&[
            "checkout",
            "--quiet",
            "-B",
            &format!("stage/{stage}"),
            "main",
        ]);
        seed.write(
            &format!("stages/{stage}/configmap.yaml"),
            &CONFIGMAP.replace("COLOR", color),
        );
        seed.commit(stage);
    }
    seed.push();
    let repo = server.url("kargo-demo-gitops");

    let dir = tempfile::tempdir().unwrap();
    let (up, kc) = up_with_repository(dir.path(), &repo);
    let kargo_demo = seed_documents(
        "002-hello-world.yaml",
        &["kargo-demo"],
        &[("https://github.com/example/kargo-demo-gitops", &repo)],
    );
    apply(dir.path(), &kc, "kargo-demo.yaml", &kargo_demo);
    for (stage, color) in [("test", "teal"), ("uat", "amber"), ("prod", "plum")] {
        let app = format!("kargo-demo-{stage}");
        wait_for(
            &kc,
            &[
                "get",
                "application",
                &app,
                "-n",
                "argocd",
                "-o",
                "jsonpath={.metadata.annotations.kargo\\.akuity\\.io/authorized-stage}",
            ],
            &format!("kargo-demo:{stage}"),
        );
        assert_eq!(
            get(
                &kc,
                "argocd",
                &format!("application/{app}"),
                "{.spec.source.targetRevision}"
            ),
            format!("stage/{stage}")
        );
        // Not automated: a sync is asked for, as with `argocd app sync`.
        ok(
            &kubectl(),
            &[
                "patch",
                "application",
                &app,
                "-n",
                "argocd",
                "--type",
                "merge",
                "-p",
                r#"{"operation": {"sync": {}}}"#,
            ],
            &kc,
        );
        wait_for_app(&kc, &app, "Synced Healthy");
        assert_eq!(get(&kc, &app, "configmap/settings", "{.data.color}"), color);
    }
    wait_for_condition(
        &kc,
        "kargo-demo",
        "ResourcesUpToDate",
        "True All applications have been generated successfully",
    );
    assert_eq!(
        get(
            &kc,
            "argocd",
            "applicationset/kargo-demo",
            "{.status.resourcesCount}"
        ),
        "3"
    );
    assert_eq!(
        get(
            &kc,
            "argocd",
            "applicationset/kargo-demo",
            "{.status.resources[*].name}"
        ),
        "kargo-demo-prod kargo-demo-test kargo-demo-uat"
    );
    assert_eq!(
        get(
            &kc,
            "argocd",
            "application/kargo-demo-test",
            "{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name} {.metadata.finalizers}"
        ),
        "ApplicationSet/kargo-demo [\"resources-finalizer.argocd.argoproj.io\"]"
    );

    // Seed 000's guestbook, applied as the seed shows it (no namespace: `-n argocd`).
    let guestbook = seed_documents(
        "002-guestbook-appset.yaml",
        &["guestbook"],
        &[(
            "https://git.example.com/infra-team/cluster-deployments.git",
            &repo,
        )],
    );
    let file = super::sync::write(dir.path(), "guestbook.yaml", &guestbook);
    ok(&kubectl(), &["apply", "-n", "argocd", "-f", &file], &kc);
    wait_for_condition(
        &kc,
        "guestbook",
        "ErrorOccurred",
        "True application references project my-project which does not exist (and 2 more)",
    );
    assert_eq!(
        get(&kc, "argocd", "applications", "{.items[*].metadata.name}"),
        "kargo-demo-prod kargo-demo-test kargo-demo-uat"
    );
    apply(
        dir.path(),
        &kc,
        "project.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: my-project, namespace: argocd}\nspec:\n  sourceRepos: ['*']\n  destinations: [{server: '*', namespace: '*'}]\n",
    );
    refresh(&kc, "guestbook");
    wait_for_condition(
        &kc,
        "guestbook",
        "ErrorOccurred",
        "False All applications have been generated successfully",
    );
    assert_eq!(
        get(&kc, "argocd", "applications", "{.items[*].metadata.name}"),
        "engineering-dev-guestbook engineering-prod-guestbook finance-preprod-guestbook kargo-demo-prod kargo-demo-test kargo-demo-uat"
    );
    assert_eq!(
        get(
            &kc,
            "argocd",
            "application/finance-preprod-guestbook",
            "{.spec.project} {.spec.source.path} {.spec.destination.server}"
        ),
        "my-project guestbook/finance-preprod https://9.8.7.6"
    );
    assert_eq!(
        get(
            &kc,
            "argocd",
            "applicationset/guestbook",
            "{.metadata.annotations.argocd\\.argoproj\\.io/application-set-refresh}"
        ),
        "",
        "the refresh annotation is removed once served"
    );
    assert!(up.stop().success());
}

const PLATFORM: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: platform
  namespace: argocd
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - matrix:
      generators:
      - git:
          repoURL: REPO
          revision: REVISION
          directories:
          - path: apps/*
          - path: apps/skip
            exclude: true
      - clusters:
          selector:
            matchLabels:
              argocd.argoproj.io/secret-type: cluster
  template:
    metadata:
      name: '{{.path.basename}}-{{.name}}'
      labels:
        app: '{{ .path.basename | upper | lower }}'
    spec:
      project: default
      source:
        repoURL: REPO
        targetRevision: main
        path: '{{.path.path}}'
      destination:
        server: '{{.server}}'
        namespace: '{{.path.basename}}'
      syncPolicy:
        automated: {}
        syncOptions: [CreateNamespace=true]
"#;

const ENVIRONMENTS: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: environments
  namespace: argocd
spec:
  generators:
  - git:
      repoURL: REPO
      revision: main
      files:
      - path: "envs/**/settings.json"
  template:
    metadata:
      name: 'env-{{env}}'
    spec:
      project: default
      source: {repoURL: REPO, targetRevision: main, path: 'apps/{{app}}'}
      destination: {server: https://kubernetes.default.svc, namespace: 'env-{{path.basename}}'}
"#;

/// Git directories × the clusters of `ferry up --clusters 2`, and git files.
#[test]
fn git_directories_times_clusters_deploy_everywhere_and_follow_git() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(GitServer::start());
    let seed = Seed::new(&server, "platform");
    for (app, color) in [
        ("web", "teal"),
        ("api", "amber"),
        ("skip", "red"),
        (".hidden", "red"),
    ] {
        seed.write(
            &format!("apps/{app}/configmap.yaml"),
            &CONFIGMAP.replace("COLOR", color),
        );
    }
    seed.write("envs/dev/settings.json", r#"{"env": "dev", "app": "web"}"#);
    seed.write(
        "envs/prod/settings.json",
        r#"{"env": "prod", "app": "api"}"#,
    );
    seed.commit("platform");
    seed.push();
    let repo = server.url("platform");

    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(dir.path(), &["--clusters", "2", "--allow-http-credentials"]);
    let kc = up.kubeconfigs[0].clone();
    add_repository(dir.path(), &kc, &repo);
    let platform = PLATFORM.replace("REPO", &repo);
    apply(
        dir.path(),
        &kc,
        "platform.yaml",
        &platform.replace("REVISION", "main"),
    );
    apply(
        dir.path(),
        &kc,
        "environments.yaml",
        &ENVIRONMENTS.replace("REPO", &repo),
    );

    let apps = [
        "api-cluster-1",
        "api-cluster-2",
        "web-cluster-1",
        "web-cluster-2",
    ];
    for app in apps {
        wait_for_app(&kc, app, "Synced Healthy");
    }
    assert_eq!(
        get(&kc, "argocd", "applications", "{.items[*].metadata.name}"),
        "api-cluster-1 api-cluster-2 env-dev env-prod web-cluster-1 web-cluster-2"
    );
    for (index, cluster) in [(1, "cluster-1"), (2, "cluster-2")] {
        assert_eq!(
            get(
                &up.kubeconfigs[index],
                "web",
                "configmap/settings",
                "{.data.color}"
            ),
            "teal",
            "{cluster}"
        );
        assert_eq!(
            get(
                &up.kubeconfigs[index],
                "api",
                "configmap/settings",
                "{.data.color}"
            ),
            "amber",
            "{cluster}"
        );
    }
    assert_eq!(
        get(
            &kc,
            "argocd",
            "application/web-cluster-2",
            "{.metadata.labels.app}"
        ),
        "web"
    );
    assert_eq!(
        get(
            &kc,
            "argocd",
            "application/env-prod",
            "{.spec.source.path} {.spec.destination.namespace}"
        ),
        "apps/api env-prod"
    );
    wait_for_condition(
        &kc,
        "platform",
        "ResourcesUpToDate",
        "True All applications have been generated successfully",
    );
    let listed = ok(env!("CARGO_BIN_EXE_ferry"), &["appset", "list"], &kc);
    assert!(listed.starts_with("NAME"), "{listed}");
    assert!(
        listed.contains("argocd/platform") && listed.contains("argocd/environments"),
        "{listed}"
    );
    let shown = ok(
        env!("CARGO_BIN_EXE_ferry"),
        &["appset", "get", "platform"],
        &kc,
    );
    for expected in [
        "Templating:         Go templates",
        "ResourcesUpToDate",
        "web-cluster-2",
    ] {
        assert!(shown.contains(expected), "{expected} in:\n{shown}");
    }

    // A hand edit of a generated app is undone.
    ok(
        &kubectl(),
        &[
            "patch",
            "application",
            "web-cluster-1",
            "-n",
            "argocd",
            "--type",
            "merge",
            "-p",
            r#"{"spec": {"source": {"path": "elsewhere"}}}"#,
        ],
        &kc,
    );
    wait_for(
        &kc,
        &[
            "get",
            "application",
            "web-cluster-1",
            "-n",
            "argocd",
            "-o",
            "jsonpath={.spec.source.path}",
        ],
        "apps/web",
    );

    // A directory removed from Git removes its apps, and the finalizer their resources.
    std::fs::remove_dir_all(
        Path::new(&seed.git(&["rev-parse", "--show-toplevel"])).join("apps/api"),
    )
    .unwrap();
    seed.commit("no api");
    seed.push();
    refresh(&kc, "platform");
    wait_for(
        &kc,
        &[
            "get",
            "applications",
            "-n",
            "argocd",
            "-l",
            "app",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
        "web-cluster-1 web-cluster-2",
    );
    wait_for(
        &up.kubeconfigs[1],
        &[
            "get",
            "configmaps",
            "-n",
            "api",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
        "",
    );

    // A generator that fails deletes nothing.
    apply(
        dir.path(),
        &kc,
        "platform.yaml",
        &platform.replace("REVISION", "no-such-branch"),
    );
    wait_for(
        &kc,
        &[
            "get",
            "applicationset",
            "platform",
            "-n",
            "argocd",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"ErrorOccurred\")].status} {.status.conditions[?(@.type==\"ErrorOccurred\")].reason}",
        ],
        "True ApplicationGenerationFromParamsError",
    );
    assert_eq!(
        get(&kc, "argocd", "applications", "{.items[*].metadata.name}"),
        "env-dev env-prod web-cluster-1 web-cluster-2"
    );
    assert!(up.stop().success());
}
