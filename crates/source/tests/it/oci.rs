//! The registry client against a real `docker-registry`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use ferry_api::Classify;
use ferry_source::credentials::Credentials;
use ferry_source::oci::{ImageRepo, RegistryClient, RegistryError, RegistryOptions};
use ferry_testkit::FlakyFront;
use ferry_testkit::TokenServer;
use ferry_testkit::registry::{OCI_MANIFEST, TestRegistry};
use futures_util::StreamExt as _;

fn client() -> RegistryClient {
    RegistryClient::new(RegistryOptions {
        retry_backoff: Duration::from_millis(10),
        requests_per_second: 1000,
        ..RegistryOptions::default()
    })
    .unwrap()
}

fn repo(host: &str, path: &str) -> ImageRepo {
    ImageRepo::parse(&format!("{host}/{path}")).unwrap()
}

#[tokio::test]
async fn lists_5000_tags_across_pages() {
    let registry = TestRegistry::start().await;
    let (manifest, _) = registry
        .push_image(
            "big/app",
            Some("seed"),
            "2024-01-01T00:00:00Z",
            ("linux", "amd64"),
        )
        .await;
    let names: Vec<String> = (0..5000)
        .map(|i| format!("1.{}.{}", i / 100, i % 100))
        .collect();
    futures_util::stream::iter(names.iter())
        .for_each_concurrent(16, |tag| {
            let manifest = &manifest;
            let registry = &registry;
            async move {
                registry
                    .put_manifest("big/app", tag, OCI_MANIFEST, manifest)
                    .await;
            }
        })
        .await;
    let tags = client()
        .list_tags(&repo(&registry.host, "big/app"), None)
        .await
        .unwrap();
    assert_eq!(tags.len(), 5001);
    let mut expected = names.clone();
    expected.push("seed".into());
    expected.sort();
    let mut got = tags.clone();
    got.sort();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn manifests_indexes_and_blobs_with_digests_checked() {
    let registry = TestRegistry::start().await;
    let (_, image_digest) = registry
        .push_image(
            "team/app",
            Some("v1"),
            "2024-03-01T10:00:00Z",
            ("linux", "amd64"),
        )
        .await;
    let index_digest = registry
        .push_index(
            "team/app",
            "multi",
            "2024-03-02T10:00:00Z",
            &[("linux", "amd64"), ("linux", "arm64")],
        )
        .await;
    let client = client();
    let repo = repo(&registry.host, "team/app");

    let image = client.manifest(&repo, "v1", None).await.unwrap();
    assert_eq!(image.digest, image_digest);
    let ferry_source::oci::ManifestKind::Image(image) = image.kind else {
        panic!("not an image")
    };
    let config = client
        .blob(&repo, &image.config.digest, 1 << 20, None)
        .await
        .unwrap();
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["created"], "2024-03-01T10:00:00Z");

    let index = client.manifest(&repo, "multi", None).await.unwrap();
    assert_eq!(index.digest, index_digest);
    let ferry_source::oci::ManifestKind::Index(entries) = index.kind else {
        panic!("not an index")
    };
    assert_eq!(entries.len(), 2);
    // Fetching by digest checks the digest of what came back.
    let by_digest = client
        .manifest(&repo, &entries[1].digest, None)
        .await
        .unwrap();
    assert_eq!(by_digest.digest, entries[1].digest);

    let missing = client.manifest(&repo, "nope", None).await.unwrap_err();
    assert!(
        matches!(missing, RegistryError::NotFound { .. }),
        "{missing}"
    );
    let too_small = client
        .blob(&repo, &image.config.digest, 10, None)
        .await
        .unwrap_err();
    assert!(
        matches!(too_small, RegistryError::TooLarge { .. }),
        "{too_small}"
    );
}

#[tokio::test]
async fn basic_auth_registry() {
    let registry = TestRegistry::start_with_basic_auth("ci", "correct horse").await;
    registry
        .push_image(
            "private/app",
            Some("1.0.0"),
            "2024-01-01T00:00:00Z",
            ("linux", "amd64"),
        )
        .await;
    let client = client();
    let repo = repo(&registry.host, "private/app");

    let tags = client
        .list_tags(&repo, Some(&Credentials::basic("ci", "correct horse")))
        .await
        .unwrap();
    assert_eq!(tags, ["1.0.0"]);

    let wrong = client
        .list_tags(&repo, Some(&Credentials::basic("ci", "battery staple")))
        .await
        .unwrap_err();
    assert!(
        matches!(wrong, RegistryError::Unauthorized { status: 401, .. }),
        "{wrong}"
    );
    let message = wrong.to_string();
    assert!(
        message.contains("authentication failed") && !message.contains("battery"),
        "{message}"
    );

    let anonymous = client.list_tags(&repo, None).await.unwrap_err();
    assert!(
        matches!(anonymous, RegistryError::Unauthorized { .. }),
        "{anonymous}"
    );
}

#[tokio::test]
async fn retries_a_registry_answering_500_then_200() {
    let registry = TestRegistry::start().await;
    registry
        .push_image(
            "flaky/app",
            Some("2.0.0"),
            "2024-01-01T00:00:00Z",
            ("linux", "amd64"),
        )
        .await;
    let front = FlakyFront::start(&registry.host, 2).await;
    let tags = client()
        .list_tags(&repo(&front.host, "flaky/app"), None)
        .await
        .unwrap();
    assert_eq!(tags, ["2.0.0"]);
    assert_eq!(
        front.requests.load(Ordering::SeqCst),
        3,
        "two failures, one success"
    );

    // A registry that keeps failing is a clear, retryable error after the retries.
    let broken = FlakyFront::start(&registry.host, 100).await;
    let err = client()
        .list_tags(&repo(&broken.host, "flaky/app"), None)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("500"), "{err}");
    assert_eq!(
        broken.requests.load(Ordering::SeqCst),
        4,
        "one try and three retries"
    );
}

#[tokio::test]
async fn bearer_token_registry_anonymous_and_with_credentials() {
    // Anonymous pulls allowed, as on Docker Hub and GHCR for public images.
    let tokens = TokenServer::start("ci", "s3cret-token-pw", true).await;
    let registry = TestRegistry::start_with_token_auth(&tokens, "ci", "s3cret-token-pw").await;
    registry
        .push_image(
            "public/app",
            Some("1.0.0"),
            "2024-01-01T00:00:00Z",
            ("linux", "amd64"),
        )
        .await;
    let client = client();
    let repo = repo(&registry.host, "public/app");
    let issued_before = tokens.issued.load(Ordering::SeqCst);
    assert_eq!(client.list_tags(&repo, None).await.unwrap(), ["1.0.0"]);
    // The token is cached for its lifetime: the manifest fetch needs no new one.
    client.manifest(&repo, "1.0.0", None).await.unwrap();
    assert_eq!(tokens.issued.load(Ordering::SeqCst), issued_before + 1);

    let with_creds = Credentials::basic("ci", "s3cret-token-pw");
    assert_eq!(
        client.list_tags(&repo, Some(&with_creds)).await.unwrap(),
        ["1.0.0"]
    );

    let wrong = Credentials::basic("ci", "nope-not-it");
    let err = client.list_tags(&repo, Some(&wrong)).await.unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");
    assert!(!err.to_string().contains("nope-not-it"), "{err}");
}

#[tokio::test]
async fn bearer_token_registry_private() {
    let tokens = TokenServer::start("ci", "pw", false).await;
    let registry = TestRegistry::start_with_token_auth(&tokens, "ci", "pw").await;
    registry
        .push_image(
            "private/app",
            Some("2.0.0"),
            "2024-01-01T00:00:00Z",
            ("linux", "amd64"),
        )
        .await;
    let client = client();
    let repo = repo(&registry.host, "private/app");
    // An anonymous token grants nothing: the registry refuses it.
    let err = client.list_tags(&repo, None).await.unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");
    let tags = client
        .list_tags(&repo, Some(&Credentials::basic("ci", "pw")))
        .await
        .unwrap();
    assert_eq!(tags, ["2.0.0"]);
}
