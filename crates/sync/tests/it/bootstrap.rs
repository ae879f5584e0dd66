//! Start-up against the embedded API server: Argo CD's kinds served as kubectl expects them,
//! the `default` AppProject present, and nothing a person changed overwritten.

use ferry_testkit::TestCluster;

const APPLICATION: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
  finalizers:
  - resources-finalizer.argocd.argoproj.io
spec:
  project: default
  source:
    repoURL: https://github.com/argoproj/argocd-example-apps.git
    targetRevision: HEAD
    path: guestbook
    helm:
      valuesObject:
        replicaCount: 2
        ingress: {enabled: true}
  destination:
    server: https://kubernetes.default.svc
    namespace: guestbook
  syncPolicy:
    automated: {prune: true, selfHeal: true}
    syncOptions: [CreateNamespace=true]
    retry: {limit: 5, backoff: {duration: 5s, factor: 2, maxDuration: 3m}}
  ignoreDifferences:
  - group: apps
    kind: Deployment
    jsonPointers: [/spec/replicas]
"#;

fn bootstrapped() -> TestCluster {
    let cluster = TestCluster::start();
    cluster
        .with_client(|client| async move { ferry_sync::bootstrap(&client, "argocd").await })
        .expect("bootstrap the embedded API");
    cluster
}

#[test]
fn argo_cds_kinds_are_served_with_their_names_and_columns() {
    let cluster = bootstrapped();
    let resources = cluster.ok(&[
        "api-resources",
        "--api-group",
        "argoproj.io",
        "--no-headers",
    ]);
    for (name, short) in [
        ("applications", "app,apps"),
        ("applicationsets", "appset,appsets"),
        ("appprojects", "appproj,appprojs"),
    ] {
        assert!(
            resources
                .lines()
                .any(|l| l.split_whitespace().take(2).eq([name, short])),
            "{name} ({short}) not in:\n{resources}"
        );
    }

    cluster.ok_stdin(&["apply", "-f", "-"], APPLICATION);
    let table = cluster.ok(&["get", "app", "-n", "argocd"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "SYNC", "STATUS", "HEALTH", "STATUS", "AGE"]
    );
    let wide = cluster.ok(&["get", "app", "guestbook", "-n", "argocd", "-o", "wide"]);
    assert!(wide.lines().next().unwrap().contains("PROJECT"), "{wide}");
    let stored = cluster.ok(&[
        "get",
        "app",
        "guestbook",
        "-n",
        "argocd",
        "-o",
        "jsonpath={.spec.source.helm.valuesObject.ingress.enabled}",
    ]);
    assert_eq!(stored, "true", "free-form values are kept as written");
}

#[test]
fn a_misspelt_field_is_refused_by_strict_validation() {
    let cluster = bootstrapped();
    let typo = APPLICATION.replace("  syncPolicy:", "  syncPolicyy:");
    let stderr = cluster.fails_stdin(&["apply", "-f", "-"], &typo);
    assert!(stderr.contains("syncPolicyy"), "{stderr}");
    let missing = cluster.fails(&["get", "app", "guestbook", "-n", "argocd"]);
    assert!(
        missing.contains("NotFound") || missing.contains("not found"),
        "{missing}"
    );
}

#[test]
fn the_default_project_exists_and_keeps_a_persons_edits() {
    let cluster = bootstrapped();
    let repos = cluster.ok(&[
        "get",
        "appproj",
        "default",
        "-n",
        "argocd",
        "-o",
        "jsonpath={.spec.sourceRepos}",
    ]);
    assert_eq!(repos, r#"["*"]"#);
    cluster.ok(&[
        "patch",
        "appproj",
        "default",
        "-n",
        "argocd",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"sourceRepos":["https://git.example/*"]}}"#,
    ]);
    cluster
        .with_client(|client| async move { ferry_sync::bootstrap(&client, "argocd").await })
        .expect("bootstrap the embedded API");
    let repos = cluster.ok(&[
        "get",
        "appproj",
        "default",
        "-n",
        "argocd",
        "-o",
        "jsonpath={.spec.sourceRepos}",
    ]);
    assert_eq!(repos, r#"["https://git.example/*"]"#);
    let namespace = cluster.ok(&["get", "namespace", "argocd", "-o", "name"]);
    assert_eq!(namespace.trim(), "namespace/argocd");
}

/// The seeds' Argo CD objects (`tests/it/seeds/`, as the seeds write them) are accepted by
/// strict validation, and the typed kinds read back every field they set.
#[test]
fn the_seeds_argo_cd_objects_are_accepted_and_typed_without_loss() {
    let cluster = bootstrapped();
    let seeds = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/seeds");
    cluster.ok(&["apply", "-n", "argocd", "-f", seeds]);
    let listed = cluster.ok(&["get", "app,appset,appproj", "-n", "argocd", "-o", "json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let items = listed["items"].as_array().unwrap();
    let names: Vec<&str> = items
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "app-of-apps",
            "argo-cd",
            "frontend-dev",
            "guestbook",
            "hello-world", // Applications
            "guestbook",
            "kargo-demo", // ApplicationSets
            "argo",
            "craftisia",
            "default",
            "testing", // AppProjects
        ]
    );
    for item in items {
        let typed_spec = match item["kind"].as_str().unwrap() {
            "Application" => {
                let app: ferry_api::argocd::Application =
                    serde_json::from_value(item.clone()).unwrap();
                serde_json::to_value(app.spec).unwrap()
            }
            "ApplicationSet" => {
                let set: ferry_api::argocd::ApplicationSet =
                    serde_json::from_value(item.clone()).unwrap();
                serde_json::to_value(set.spec).unwrap()
            }
            _ => {
                let project: ferry_api::argocd::AppProject =
                    serde_json::from_value(item.clone()).unwrap();
                serde_json::to_value(project.spec).unwrap()
            }
        };
        assert_eq!(typed_spec, item["spec"], "{}", item["metadata"]["name"]);
    }
}
