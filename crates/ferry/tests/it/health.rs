//! `ferry health FILE` as a user runs it: Argo CD's verdicts for objects in files, text and
//! JSON, and a clear error for a file that does not parse.

use std::process::Command;

use ferry_testkit::run;

const FERRY: &str = env!("CARGO_BIN_EXE_ferry");

const OBJECTS: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 2}
spec: {replicas: 3}
status: {observedGeneration: 2, replicas: 3, updatedReplicas: 1}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
status:
  conditions: [{type: Complete, status: "True"}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
"#;

#[test]
fn prints_each_objects_health_as_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objects.yaml");
    std::fs::write(&file, OBJECTS).unwrap();

    let text = run(Command::new(FERRY).arg("health").arg(&file));
    assert_eq!(
        text,
        "Deployment/web:\nSTATUS: Progressing\nMESSAGE: Waiting for rollout to finish: 1 out of 3 new replicas have been updated...\n\
         Job/migrate:\nSTATUS: Healthy\nMESSAGE: \n\
         ConfigMap/settings:\nSTATUS: none (ConfigMap has no health check; it does not count toward an application's health)\n"
    );

    let json = run(Command::new(FERRY)
        .args(["health", "-o", "json"])
        .arg(&file));
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"status": "Progressing",
                "message": "Waiting for rollout to finish: 1 out of 3 new replicas have been updated..."}),
            serde_json::json!({"status": "Healthy"}),
            serde_json::Value::Null,
        ]
    );
}

#[test]
fn a_file_that_does_not_parse_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    std::fs::write(&file, "kind: Pod\nmetadata: [unclosed\n").unwrap();
    let out = Command::new(FERRY)
        .arg("health")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.yaml"), "{stderr}");
}

const WIDGET_HEALTH: &str = r#"
hs = {}
if obj.status ~= nil and obj.status.ready ~= nil then
  if obj.status.ready == obj.spec.size then
    hs.status = "Healthy"
    hs.message = obj.status.ready .. " of " .. obj.spec.size .. " ready"
  else
    hs.status = "Progressing"
    hs.message = "waiting: " .. obj.status.ready .. " of " .. obj.spec.size
  end
  return hs
end
hs.status = "Progressing"
hs.message = "no status yet"
return hs
"#;

const WIDGETS: &str = r#"apiVersion: example.com/v1
kind: Widget
metadata: {name: ready}
spec: {size: 3}
status: {ready: 3}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: pending}
spec: {size: 3}
status: {ready: 1}
---
apiVersion: pkg.crossplane.io/v1
kind: Provider
metadata: {name: aws}
---
apiVersion: example.com/v1
kind: Loop
metadata: {name: forever}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 1}
spec: {replicas: 1}
status: {observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1, readyReplicas: 1}
"#;

fn script(dir: &std::path::Path, path: &str, source: &str) {
    std::fs::create_dir_all(dir.join(path)).unwrap();
    std::fs::write(dir.join(path).join("health.lua"), source).unwrap();
}

/// Lua scripts in Argo CD's `resource_customizations` layout (wildcard directories too) and
/// in an `argocd-cm` file judge their kinds; a script that never ends is stopped and
/// reported; built-in checks go on for the rest.
#[test]
fn lua_scripts_from_a_directory_and_argocd_cm_judge_their_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let custom = dir.path().join("resource_customizations");
    script(&custom, "example.com/Widget", WIDGET_HEALTH);
    script(
        &custom,
        "_.crossplane.io/_",
        "return {status = 'Suspended', message = 'crossplane ' .. obj.kind}",
    );
    script(&custom, "example.com/Loop", "while true do end");
    let file = dir.path().join("widgets.yaml");
    std::fs::write(&file, WIDGETS).unwrap();

    let started = std::time::Instant::now();
    let json = run(Command::new(FERRY)
        .env("HOME", dir.path())
        .args(["health", "-o", "json", "--customizations"])
        .arg(&custom)
        .arg(&file));
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0],
        serde_json::json!({"status": "Healthy", "message": "3 of 3 ready"})
    );
    assert_eq!(
        lines[1],
        serde_json::json!({"status": "Progressing", "message": "waiting: 1 of 3"})
    );
    assert_eq!(
        lines[2],
        serde_json::json!({"status": "Suspended", "message": "crossplane Provider"})
    );
    assert_eq!(lines[3]["status"], "Unknown");
    assert!(
        lines[3]["message"]
            .as_str()
            .unwrap()
            .contains("context deadline exceeded"),
        "{}",
        lines[3]
    );
    assert_eq!(lines[4], serde_json::json!({"status": "Healthy"}));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    // argocd-cm's script for the kind comes first.
    let cm = dir.path().join("argocd-cm.yaml");
    std::fs::write(
        &cm,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm}\ndata:\n  resource.customizations.health.example.com_Widget: |\n    return {status = 'Degraded', message = 'held by argocd-cm'}\n",
    )
    .unwrap();
    let text = run(Command::new(FERRY)
        .env("HOME", dir.path())
        .args(["health", "--customizations"])
        .arg(&custom)
        .arg("--argocd-cm")
        .arg(&cm)
        .arg(&file));
    assert!(
        text.starts_with("Widget/ready:\nSTATUS: Degraded\nMESSAGE: held by argocd-cm\n"),
        "{text}"
    );

    let out = Command::new(FERRY)
        .env("HOME", dir.path())
        .args(["health", "--customizations"])
        .arg(dir.path().join("nowhere"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory"));
}

/// In `ferry up`, the data directory's `resource_customizations` judge an Application's
/// resources, and `argocd-cm`'s scripts do after a restart (read when the controllers start).
#[test]
fn an_application_s_health_follows_its_lua_scripts() {
    use super::sync::{apply, color_repo, up_with_repository, wait_for};

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (server, _seed, _) = color_repo(&runtime, "scripted", "teal");
    let repo = server.url("scripted");
    let dir = tempfile::tempdir().unwrap();
    script(
        &dir.path().join("resource_customizations"),
        "ConfigMap",
        "if obj.data.color == 'red' then return {status = 'Healthy'} end\nreturn {status = 'Degraded', message = obj.data.color .. ' is not red'}",
    );
    let app = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: scripted, namespace: argocd}}\nspec:\n  project: default\n  source: {{repoURL: {repo}, targetRevision: main, path: config}}\n  destination: {{server: https://kubernetes.default.svc, namespace: shop}}\n  syncPolicy: {{automated: {{}}, syncOptions: [CreateNamespace=true]}}\n"
    );
    let (up, kc) = up_with_repository(dir.path(), &repo);
    apply(dir.path(), &kc, "app.yaml", &app);
    let health = [
        "get",
        "application",
        "scripted",
        "-n",
        "argocd",
        "-o",
        "jsonpath={.status.health.status} {.status.resources[0].health.message}",
    ];
    wait_for(&kc, &health, "Degraded teal is not red");
    apply(
        dir.path(),
        &kc,
        "argocd-cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm, namespace: argocd}\ndata:\n  resource.customizations.health.ConfigMap: |\n    return {status = 'Healthy', message = 'approved ' .. obj.data.color}\n",
    );
    assert!(up.stop().success());
    let up = super::up::Up::start(dir.path(), &["--allow-http-credentials"]);
    wait_for(&up.kubeconfigs[0], &health, "Healthy approved teal");
    assert!(up.stop().success());
}
