//! `ferry app`: a manual Application synced with `ferry app sync`, its history, a rollback
//! to an earlier deployment (which leaves it OutOfSync with Git, as in Argo CD), and the
//! refusals: a rollback of an automated app, an unknown history id.

use std::process::Command;

use ferry_testkit::kubectl;

use super::sync::{CONFIGMAP, apply, color_repo, up_with_repository, wait_for};
use super::up::ok;

const FERRY: &str = env!("CARGO_BIN_EXE_ferry");

fn ferry(kubeconfig: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(FERRY)
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .output()
        .unwrap()
}

fn succeeds(kubeconfig: &std::path::Path, args: &[&str]) -> String {
    let out = ferry(kubeconfig, args);
    assert!(
        out.status.success(),
        "ferry {} failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(kubeconfig: &std::path::Path, args: &[&str]) -> String {
    let out = ferry(kubeconfig, args);
    assert!(!out.status.success(), "ferry {} succeeded", args.join(" "));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn sync_history_and_rollback_from_the_cli() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (server, seed, first) = color_repo(&runtime, "cli", "amber");
    let repo = server.url("cli");

    let dir = tempfile::tempdir().unwrap();
    let (up, kc) = up_with_repository(dir.path(), &repo);
    let app = format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: web, namespace: argocd}}
spec:
  project: default
  source: {{repoURL: {repo}, targetRevision: main, path: config}}
  destination: {{server: https://kubernetes.default.svc, namespace: shop}}
  syncPolicy: {{syncOptions: [CreateNamespace=true]}}
"
    );
    apply(dir.path(), &kc, "app.yaml", &app);
    let status = [
        "get",
        "application",
        "web",
        "-n",
        "argocd",
        "-o",
        "jsonpath={.status.sync.status}",
    ];
    wait_for(&kc, &status, "OutOfSync");

    let synced = succeeds(&kc, &["app", "sync", "web"]);
    assert!(synced.contains("Phase:              Succeeded"), "{synced}");
    assert!(
        synced.contains("configmap/settings serverside-applied"),
        "{synced}"
    );
    let color = [
        "get",
        "configmap",
        "settings",
        "-n",
        "shop",
        "-o",
        "jsonpath={.data.color}",
    ];
    wait_for(&kc, &color, "amber");

    seed.write("config/configmap.yaml", &CONFIGMAP.replace("COLOR", "jade"));
    let second = seed.commit("jade");
    seed.push();
    ok(
        &kubectl(),
        &[
            "annotate",
            "application",
            "web",
            "-n",
            "argocd",
            "argocd.argoproj.io/refresh=normal",
        ],
        &kc,
    );
    wait_for(
        &kc,
        &[
            "get",
            "application",
            "web",
            "-n",
            "argocd",
            "-o",
            "jsonpath={.status.sync.revision}",
        ],
        &second,
    );
    succeeds(&kc, &["app", "sync", "web", "--revision", &second]);
    wait_for(&kc, &color, "jade");
    let history = succeeds(&kc, &["app", "history", "web"]);
    assert!(
        history.contains(&format!("main ({first})"))
            && history.contains(&format!("main ({second})")),
        "{history}"
    );

    // Back to the first deployment: the cluster runs it, Git still says jade.
    let rolled = succeeds(&kc, &["app", "rollback", "web", "0"]);
    assert!(
        rolled.contains(&format!("Sync Revision:      {first}")),
        "{rolled}"
    );
    wait_for(&kc, &color, "amber");
    wait_for(&kc, &status, "OutOfSync");
    let listed = succeeds(&kc, &["app", "list"]);
    assert!(
        listed.lines().nth(1).unwrap().starts_with("argocd/web"),
        "{listed}"
    );
    assert!(
        listed.contains("OutOfSync") && listed.contains("Manual"),
        "{listed}"
    );

    assert!(
        fails(&kc, &["app", "rollback", "web", "7"]).contains("does not have deployment with id 7")
    );
    ok(
        &kubectl(),
        &[
            "patch",
            "application",
            "web",
            "-n",
            "argocd",
            "--type=merge",
            "-p",
            r#"{"spec":{"syncPolicy":{"automated":{}}}}"#,
        ],
        &kc,
    );
    assert!(
        fails(&kc, &["app", "rollback", "web"])
            .contains("rollback cannot be initiated when auto-sync is enabled")
    );
    assert!(fails(&kc, &["app", "get", "nope"]).contains("application nope not found"));
    assert!(up.stop().success());
}

#[test]
fn a_deny_window_holds_a_sync_until_it_closes() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (server, _seed, _) = color_repo(&runtime, "windowed", "slate");
    let repo = server.url("windowed");

    let dir = tempfile::tempdir().unwrap();
    let (up, kc) = up_with_repository(dir.path(), &repo);
    let project = "apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: frozen, namespace: argocd}
spec:
  sourceRepos: ['*']
  destinations: [{server: '*', namespace: '*'}]
  syncWindows:
  - {kind: deny, schedule: '* * * * *', duration: 1h, applications: ['*'], timeZone: Europe/Paris}
";
    let app = format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: held, namespace: argocd}}
spec:
  project: frozen
  source: {{repoURL: {repo}, targetRevision: main, path: config}}
  destination: {{server: https://kubernetes.default.svc, namespace: shop}}
  syncPolicy: {{automated: {{}}, syncOptions: [CreateNamespace=true]}}
"
    );
    apply(dir.path(), &kc, "project.yaml", project);
    apply(dir.path(), &kc, "app.yaml", &app);
    let message = [
        "get",
        "application",
        "held",
        "-n",
        "argocd",
        "-o",
        "jsonpath={.status.operationState.phase}: {.status.operationState.message}",
    ];
    wait_for(
        &kc,
        &message,
        "Running: Sync operation blocked by sync window",
    );
    let absent = super::up::run(
        &kubectl(),
        &["get", "configmap", "settings", "-n", "shop"],
        &kc,
    );
    assert!(
        !absent.status.success(),
        "nothing is applied while the window is closed"
    );

    // The window goes: the waiting operation runs.
    ok(
        &kubectl(),
        &[
            "patch",
            "appproject",
            "frozen",
            "-n",
            "argocd",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/spec/syncWindows"}]"#,
        ],
        &kc,
    );
    wait_for(
        &kc,
        &message,
        "Succeeded: successfully synced (all tasks run)",
    );
    wait_for(
        &kc,
        &[
            "get",
            "configmap",
            "settings",
            "-n",
            "shop",
            "-o",
            "jsonpath={.data.color}",
        ],
        "slate",
    );
    assert!(up.stop().success());
}

/// `ferry app set`, `wait`, `get -o`, `list -o name`, `refresh` and `delete` (cascading) on
/// one Application, as a user would run them.
#[test]
fn set_wait_refresh_and_delete_from_the_cli() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (server, _seed, _) = color_repo(&runtime, "lifecycle", "teal");
    let repo = server.url("lifecycle");
    let dir = tempfile::tempdir().unwrap();
    let (up, kc) = up_with_repository(dir.path(), &repo);
    let app = format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: shop, namespace: argocd}}
spec:
  project: default
  source: {{repoURL: {repo}, targetRevision: nowhere, path: config}}
  destination: {{server: https://kubernetes.default.svc, namespace: shop}}
"
    );
    apply(dir.path(), &kc, "app.yaml", &app);

    succeeds(
        &kc,
        &[
            "app",
            "set",
            "shop",
            "--revision",
            "main",
            "--sync-policy",
            "automated",
            "--self-heal",
            "--sync-option",
            "CreateNamespace=true",
        ],
    );
    let waited = succeeds(&kc, &["app", "wait", "shop", "--timeout", "60"]);
    assert!(waited.contains("Synced"), "{waited}");
    assert_eq!(
        ok(
            &kubectl(),
            &[
                "get",
                "configmap",
                "settings",
                "-n",
                "shop",
                "-o",
                "jsonpath={.data.color}"
            ],
            &kc
        ),
        "teal"
    );
    let json: serde_json::Value =
        serde_json::from_str(&succeeds(&kc, &["app", "get", "shop", "-o", "json"])).unwrap();
    assert_eq!(json["spec"]["source"]["targetRevision"], "main");
    assert_eq!(json["spec"]["syncPolicy"]["automated"]["selfHeal"], true);
    assert_eq!(
        json["spec"]["syncPolicy"]["syncOptions"],
        serde_json::json!(["CreateNamespace=true"])
    );
    assert_eq!(succeeds(&kc, &["app", "list", "-o", "name"]), "shop\n");
    let refreshed = succeeds(&kc, &["app", "get", "shop", "--hard-refresh"]);
    assert!(refreshed.contains("Synced"), "{refreshed}");
    let error = fails(
        &kc,
        &[
            "app",
            "set",
            "shop",
            "--auto-prune",
            "--sync-policy",
            "none",
        ],
    );
    assert!(error.contains("need automated sync"), "{error}");

    succeeds(&kc, &["app", "delete", "shop", "--wait"]);
    assert_eq!(
        ok(
            &kubectl(),
            &[
                "get",
                "configmaps",
                "-n",
                "shop",
                "-o",
                "jsonpath={.items[*].metadata.name}"
            ],
            &kc
        ),
        "",
        "the cascade took the app's resources"
    );
    let error = fails(&kc, &["app", "wait", "shop", "--timeout", "1"]);
    assert!(error.contains("not found"), "{error}");
    assert!(up.stop().success());
}
