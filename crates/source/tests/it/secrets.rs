//! Credentials found through the Kubernetes API (Ferry's embedded API server) and used
//! against the smart-HTTP git server that requires them.

use std::collections::BTreeMap;

use ferry_apiserver::ApiServer;
use ferry_source::credentials::{ArgoCdRepoType, ArgoCdRequest, KargoCredType, KargoRequest};
use ferry_source::secrets::ClusterSecrets;
use ferry_testkit::git_server::{PASSWORD, USER};
use ferry_testkit::{EmbeddedApi, GitServer, Seed};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, PostParams};

use crate::support;

async fn cluster() -> (ApiServer, kube::Client) {
    let api = EmbeddedApi::start(&["kargo-demo", "argocd", "other"]).await;
    let client = api.client();
    (api.server, client)
}

fn secret(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        },
        string_data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Default::default()
    }
}

async fn create(client: &kube::Client, namespace: &str, s: Secret) {
    Api::<Secret>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &s)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kargo_credentials_from_the_cluster_open_a_private_repository() {
    let git = GitServer::start().await;
    let seed = Seed::new(&git, "private");
    seed.write("a.yaml", "a").commit("first");
    seed.push();
    let url = git.url("private");
    let (server, client) = cluster().await;
    let cred = [("kargo.akuity.io/cred-type", "git")];
    // A regex Secret that also matches, and an exact one that must win; one in a namespace
    // that is not searched.
    create(
        &client,
        "kargo-demo",
        secret(
            "by-regex",
            &cred,
            &[
                ("repoURL", "^http://127\\.0\\.0\\.1:.*$"),
                ("repoURLIsRegex", "true"),
                ("username", USER),
                ("password", "wrong-password"),
            ],
        ),
    )
    .await;
    create(
        &client,
        "kargo-demo",
        secret(
            "exact",
            &cred,
            &[
                ("repoURL", &url),
                ("username", USER),
                ("password", PASSWORD),
            ],
        ),
    )
    .await;
    create(
        &client,
        "other",
        secret(
            "elsewhere",
            &cred,
            &[("repoURL", &url), ("username", USER), ("password", "nope")],
        ),
    )
    .await;

    let secrets = ClusterSecrets::new(client);
    let request = KargoRequest {
        url: &url,
        cred_type: KargoCredType::Git,
        namespaces: &["kargo-demo"],
        allow_http: true,
    };
    let found = secrets.kargo(&request).await.unwrap().found.unwrap();
    assert_eq!(found.secret.name, "exact");
    assert!(
        !format!("{found:?}").contains(PASSWORD),
        "Debug never shows the password"
    );

    let dir = tempfile::tempdir().unwrap();
    let mirror = support::cache(dir.path()).repo(&url).unwrap();
    mirror.fetch(Some(&found.credentials)).await.unwrap();

    // Without opting in, credentials never go to a plain-http URL.
    let refused = KargoRequest {
        allow_http: false,
        ..request
    };
    assert!(secrets.kargo(&refused).await.unwrap().found.is_none());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argocd_repository_and_repo_creds_secrets() {
    let (server, client) = cluster().await;
    create(
        &client,
        "argocd",
        secret(
            "org-creds",
            &[("argocd.argoproj.io/secret-type", "repo-creds")],
            &[
                ("url", "https://git.example.com/org"),
                ("username", "org-bot"),
                ("password", "p1"),
            ],
        ),
    )
    .await;
    create(
        &client,
        "argocd",
        secret(
            "one-repo",
            &[("argocd.argoproj.io/secret-type", "repository")],
            &[
                ("url", "https://git.example.com/org/special.git"),
                ("username", "special-bot"),
                ("password", "p2"),
            ],
        ),
    )
    .await;
    let secrets = ClusterSecrets::new(client);
    let lookup = |url: &'static str| {
        let secrets = secrets.clone();
        async move {
            let request = ArgoCdRequest {
                url,
                repo_type: ArgoCdRepoType::Git,
                project: None,
            };
            secrets
                .argocd("argocd", &request)
                .await
                .unwrap()
                .found
                .map(|f| f.credentials.username.unwrap())
        }
    };
    assert_eq!(
        lookup("https://git.example.com/org/special")
            .await
            .as_deref(),
        Some("special-bot")
    );
    assert_eq!(
        lookup("https://git.example.com/org/app.git")
            .await
            .as_deref(),
        Some("org-bot")
    );
    assert_eq!(lookup("https://git.example.com/org-evil/app").await, None);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argocd_ssh_known_hosts_from_their_configmap() {
    let (_server, client) = cluster().await;
    let secrets = ClusterSecrets::new(client.clone());
    assert_eq!(secrets.argocd_known_hosts("argocd").await.unwrap(), None);
    let lines = "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n";
    let configmap: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "argocd-ssh-known-hosts-cm"},
        "data": {"ssh_known_hosts": lines},
    }))
    .unwrap();
    Api::<ConfigMap>::namespaced(client, "argocd")
        .create(&PostParams::default(), &configmap)
        .await
        .unwrap();
    assert_eq!(
        secrets
            .argocd_known_hosts("argocd")
            .await
            .unwrap()
            .as_deref(),
        Some(lines)
    );
}
