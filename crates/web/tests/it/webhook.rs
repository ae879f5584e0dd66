//! `POST /api/webhook` over the embedded API server: a signed GitHub push refreshes exactly
//! the Applications on that repository and branch (and within their manifest paths); a
//! wrong signature, an unknown host and a broken body are refused and refresh nothing.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ferry_api::argocd::Application;
use ferry_testkit::EmbeddedApi;
use ferry_web::webhook::signature::hmac_sha256;
use ferry_web::{WebState, router};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const REPO: &str = "https://git.example.com/org/shop";

async fn application(
    apps: &Api<Application>,
    name: &str,
    repo: &str,
    revision: &str,
    annotations: Value,
) {
    let app = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "annotations": annotations},
        "spec": {"project": "default",
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
            "source": {"repoURL": repo, "targetRevision": revision, "path": "apps/web"}}
    });
    apps.patch(name, &PatchParams::apply("test"), &Patch::Apply(&app))
        .await
        .unwrap();
}

async fn post(state: &WebState, headers: &[(&str, String)], body: &[u8]) -> (StatusCode, String) {
    let mut request = Request::post("/api/webhook");
    for (k, v) in headers {
        request = request.header(*k, v);
    }
    let response = router(state.clone())
        .oneshot(request.body(Body::from(body.to_vec())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn signed(body: &[u8], secret: &str) -> String {
    let mac = hmac_sha256(secret.as_bytes(), body);
    format!(
        "sha256={}",
        mac.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

async fn refreshed(apps: &Api<Application>) -> Vec<String> {
    let mut names: Vec<String> = apps
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|a| {
            a.metadata
                .annotations
                .as_ref()
                .is_some_and(|m| m.contains_key("argocd.argoproj.io/refresh"))
        })
        .map(|a| a.metadata.name.unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_signed_push_refreshes_exactly_the_apps_it_touches() {
    let api = EmbeddedApi::start(&["argocd"]).await;
    let client = api.client();
    ferry_sync::bootstrap(&client, "argocd").await.unwrap();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), "argocd");
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "argocd-secret", "namespace": "argocd"},
        "stringData": {"webhook.github.secret": "$github-hook:token"}});
    secrets
        .patch(
            "argocd-secret",
            &PatchParams::apply("test"),
            &Patch::Apply(&secret),
        )
        .await
        .unwrap();
    let referenced = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "github-hook", "namespace": "argocd"},
        "stringData": {"token": "s3cret"}});
    secrets
        .patch(
            "github-hook",
            &PatchParams::apply("test"),
            &Patch::Apply(&referenced),
        )
        .await
        .unwrap();

    let apps: Api<Application> = Api::namespaced(client.clone(), "argocd");
    application(&apps, "main", &format!("{REPO}.git"), "main", json!({})).await;
    application(
        &apps,
        "ssh-spelling",
        "git@git.example.com:org/shop.git",
        "HEAD",
        json!({}),
    )
    .await;
    application(&apps, "dev", REPO, "dev", json!({})).await;
    application(
        &apps,
        "elsewhere",
        "https://git.example.com/org/other",
        "main",
        json!({}),
    )
    .await;
    application(
        &apps,
        "narrow",
        REPO,
        "main",
        json!({"argocd.argoproj.io/manifest-generate-paths": "/apps/api"}),
    )
    .await;

    let state = WebState {
        client: client.clone(),
        namespace: "argocd".into(),
        metrics: None,
    };
    let body = serde_json::to_vec(&json!({
        "ref": "refs/heads/main",
        "repository": {"html_url": REPO, "default_branch": "main"},
        "commits": [{"added": [], "modified": ["apps/web/deployment.yaml"], "removed": []}],
    }))
    .unwrap();

    // Refused: a wrong signature, no signature, an unknown sender, a broken body.
    let event = ("X-GitHub-Event", "push".to_string());
    let wrong = post(
        &state,
        &[
            event.clone(),
            ("X-Hub-Signature-256", signed(&body, "guess")),
        ],
        &body,
    )
    .await;
    assert_eq!(
        wrong,
        (
            StatusCode::UNAUTHORIZED,
            "Unauthorized: the signature does not match".into()
        )
    );
    let unsigned = post(&state, std::slice::from_ref(&event), &body).await;
    assert_eq!(unsigned.0, StatusCode::UNAUTHORIZED);
    let unknown = post(&state, &[("X-Something", "push".into())], &body).await;
    assert_eq!(
        unknown,
        (StatusCode::BAD_REQUEST, "Unknown webhook event".into())
    );
    let broken = post(
        &state,
        &[
            event.clone(),
            ("X-Hub-Signature-256", signed(b"{", "s3cret")),
        ],
        b"{",
    )
    .await;
    assert_eq!(broken.0, StatusCode::BAD_REQUEST);
    assert!(refreshed(&apps).await.is_empty());

    let (status, text) = post(
        &state,
        &[event, ("X-Hub-Signature-256", signed(&body, "s3cret"))],
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        text,
        r#"{"refreshed":["argocd/main","argocd/ssh-spelling"]}"#
    );
    assert_eq!(refreshed(&apps).await, ["main", "ssh-spelling"]);

    // A secret reference that leads nowhere refuses requests; it never lets them through.
    let dangling = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "argocd-secret", "namespace": "argocd"},
        "stringData": {"webhook.gitlab.secret": "$no-such-secret:token"}});
    secrets
        .patch(
            "argocd-secret",
            &PatchParams::apply("test").force(),
            &Patch::Apply(&dangling),
        )
        .await
        .unwrap();
    let gitlab = post(&state, &[("X-Gitlab-Event", "Push Hook".into())], b"{}").await;
    assert_eq!(gitlab.0, StatusCode::UNAUTHORIZED);
}
