//! Destinations beyond the in-cluster one: `ferry up --clusters 2` registers its extra
//! clusters as Argo CD cluster Secrets and Applications deploy to them by name or URL; `ferry
//! controller --kubeconfig` runs the controllers against another `ferry up` process that
//! serves the API only (`--no-controller`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ferry_testkit::kubectl;

use super::sync::{add_repository, apply, color_repo, wait_for};
use super::up::{Up, ok, run};

const FERRY: &str = env!("CARGO_BIN_EXE_ferry");

fn application(name: &str, destination: &str, repo: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
spec:
  project: default
  source: {{repoURL: {repo}, targetRevision: main, path: config}}
  destination: {{{destination}, namespace: shop}}
  syncPolicy:
    automated: {{}}
    syncOptions: [CreateNamespace=true]
"
    )
}

/// The API server URL in a kubeconfig `ferry up` wrote.
fn server_of(kubeconfig: &Path) -> String {
    let text = std::fs::read_to_string(kubeconfig).unwrap();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .unwrap()
        .trim_matches('"')
        .to_string()
}

fn color(kubeconfig: &Path) -> String {
    let out = run(
        &kubectl(),
        &[
            "get",
            "configmap",
            "settings",
            "-n",
            "shop",
            "-o",
            "jsonpath={.data.color}",
        ],
        kubeconfig,
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn applications_deploy_to_registered_clusters_by_name_and_url() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (server, _seed, _) = color_repo(&runtime, "multi", "teal");
    let repo = server.url("multi");

    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(dir.path(), &["--clusters", "2", "--allow-http-credentials"]);
    let kc = up.kubeconfigs[0].clone();
    let registered = ok(
        &kubectl(),
        &[
            "get",
            "secrets",
            "-n",
            "argocd",
            "-l",
            "argocd.argoproj.io/secret-type=cluster",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
        &kc,
    );
    assert_eq!(registered, "cluster-1 cluster-2");
    add_repository(dir.path(), &kc, &repo);
    let apps = [
        application("by-name", "name: cluster-1", &repo),
        application(
            "by-url",
            &format!("server: \"{}\"", server_of(&up.kubeconfigs[2])),
            &repo,
        ),
        application("nowhere", "name: cluster-9", &repo),
    ]
    .join("---\n");
    apply(dir.path(), &kc, "apps.yaml", &apps);

    for app in ["by-name", "by-url"] {
        wait_for(
            &kc,
            &[
                "get",
                "application",
                app,
                "-n",
                "argocd",
                "-o",
                "jsonpath={.status.sync.status} {.status.health.status}",
            ],
            "Synced Healthy",
        );
    }
    assert_eq!(color(&up.kubeconfigs[1]), "teal");
    assert_eq!(color(&up.kubeconfigs[2]), "teal");
    assert_eq!(
        color(&kc),
        "",
        "nothing lands in the control plane's own cluster"
    );
    wait_for(
        &kc,
        &[
            "get",
            "application",
            "nowhere",
            "-n",
            "argocd",
            "-o",
            "jsonpath={.status.conditions[0].message}",
        ],
        "application destination spec for nowhere is invalid: unable to find destination server: there are no clusters with this name: cluster-9",
    );
    assert!(up.stop().success());
}

#[test]
fn the_controller_runs_against_a_kubeconfig() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (server, _seed, _) = color_repo(&runtime, "remote", "plum");
    let repo = server.url("remote");

    // The "external cluster": another `ferry up`, serving the API only.
    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(dir.path(), &["--no-controller"]);
    let kc = up.kubeconfigs[0].clone();
    add_repository(dir.path(), &kc, &repo);
    let app = application("remote", "server: https://kubernetes.default.svc", &repo);
    apply(dir.path(), &kc, "app.yaml", &app);
    std::thread::sleep(Duration::from_secs(1));
    let status = ok(
        &kubectl(),
        &[
            "get",
            "application",
            "remote",
            "-n",
            "argocd",
            "-o",
            "jsonpath={.status.sync.status}",
        ],
        &kc,
    );
    assert_eq!(status, "", "--no-controller leaves Applications alone");

    let controller_dir = tempfile::tempdir().unwrap();
    let mut controller = Command::new(FERRY)
        .args(["controller", "--allow-http-credentials", "--kubeconfig"])
        .arg(&kc)
        .arg("--data-dir")
        .arg(controller_dir.path())
        .env("HOME", controller_dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        &kc,
        &[
            "get",
            "application",
            "remote",
            "-n",
            "argocd",
            "-o",
            "jsonpath={.status.sync.status} {.status.health.status}",
        ],
        "Synced Healthy",
    );
    assert_eq!(color(&kc), "plum");
    controller.kill().unwrap();
    controller.wait().unwrap();
    assert!(up.stop().success());
}
