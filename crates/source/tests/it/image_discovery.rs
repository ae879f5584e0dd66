//! Kargo's image selection strategies against a real docker-registry.

use std::time::Duration;

use ferry_source::oci::{
    DiscoveredImage, ImageMetadataCache, ImageRepo, ImageSelection, ImageSelectionStrategy,
    ManifestKind, RegistryClient, RegistryOptions,
};
use ferry_testkit::registry::TestRegistry;

struct Fixture {
    _registry: TestRegistry,
    client: RegistryClient,
    repo: ImageRepo,
    cache: ImageMetadataCache,
    /// Digest of the `latest` tag.
    latest: String,
}

/// Tags with distinct build dates (`1.2.0` pushed late so it is a newer build than `2.0.0`),
/// `3.0.0` a linux/amd64 + linux/arm64 index, `arm-only` a linux/arm64 image.
async fn fixture() -> Fixture {
    let registry = TestRegistry::start().await;
    let amd = ("linux", "amd64");
    let pushes = [
        ("1.0.0", "2024-01-01T00:00:00Z"),
        ("1.1.0", "2024-02-01T00:00:00Z"),
        ("v1.1.5", "2024-02-15T00:00:00Z"),
        ("1.3.0-rc.1", "2024-03-01T00:00:00Z"),
        ("2.0.0", "2024-04-01T00:00:00Z"),
        ("1.4", "2024-04-15T00:00:00Z"),
        ("latest", "2024-05-01T00:00:00Z"),
        ("nightly-20240601", "2024-06-01T00:00:00Z"),
        ("1.2.0", "2024-07-01T00:00:00Z"),
    ];
    let mut latest = String::new();
    for (tag, created) in pushes {
        let (_, digest) = registry
            .push_image("shop/web", Some(tag), created, amd)
            .await;
        if tag == "latest" {
            latest = digest;
        }
    }
    registry
        .push_index(
            "shop/web",
            "3.0.0",
            "2024-06-15T00:00:00Z",
            &[amd, ("linux", "arm64")],
        )
        .await;
    registry
        .push_image(
            "shop/web",
            Some("arm-only"),
            "2024-08-01T00:00:00Z",
            ("linux", "arm64"),
        )
        .await;
    let client = RegistryClient::new(RegistryOptions {
        retry_backoff: Duration::from_millis(10),
        ..RegistryOptions::default()
    })
    .unwrap();
    let repo = ImageRepo::parse(&format!("{}/shop/web", registry.host)).unwrap();
    Fixture {
        _registry: registry,
        client,
        repo,
        cache: ImageMetadataCache::default(),
        latest,
    }
}

impl Fixture {
    async fn discover(&self, selection: &ImageSelection) -> Vec<DiscoveredImage> {
        self.client
            .discover_images(&self.repo, selection, None, &self.cache)
            .await
            .unwrap()
    }

    async fn tags(&self, selection: ImageSelection) -> Vec<String> {
        self.discover(&selection)
            .await
            .into_iter()
            .map(|i| i.tag)
            .collect()
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn semver_strategy_with_constraints_and_filters() {
    let f = fixture().await;
    let semver = |constraint: &str| ImageSelection {
        constraint: Some(constraint.to_string()).filter(|c| !c.is_empty()),
        ..ImageSelection::default()
    };
    let cases: Vec<(ImageSelection, Vec<String>)> = vec![
        // Strict by default: `1.4` is no strict semver, `v1.1.5` is; prereleases stay out.
        (
            semver(""),
            strings(&["3.0.0", "2.0.0", "1.2.0", "v1.1.5", "1.1.0", "1.0.0"]),
        ),
        (
            semver("^1.0.0"),
            strings(&["1.2.0", "v1.1.5", "1.1.0", "1.0.0"]),
        ),
        (semver("~1.1"), strings(&["v1.1.5", "1.1.0"])),
        (semver(">=1.3.0-0 <2"), strings(&["1.3.0-rc.1"])),
        (
            ImageSelection {
                strict_semvers: false,
                ..semver(">=1.3.0-0 <2")
            },
            strings(&["1.4", "1.3.0-rc.1"]),
        ),
        (
            ImageSelection {
                discovery_limit: 2,
                ..semver("")
            },
            strings(&["3.0.0", "2.0.0"]),
        ),
        (
            ImageSelection {
                allow_tags_regexes: strings(&[r"^\d"]),
                ignore_tags_regexes: strings(&["^2", r"^3\."]),
                ..semver("")
            },
            strings(&["1.2.0", "1.1.0", "1.0.0"]),
        ),
    ];
    for (selection, expected) in cases {
        let label = format!("{selection:?}");
        assert_eq!(f.tags(selection).await, expected, "{label}");
    }
}

#[tokio::test]
async fn lexical_newest_build_digest_and_platform() {
    let f = fixture().await;
    let lexical = ImageSelection {
        strategy: ImageSelectionStrategy::Lexical,
        discovery_limit: 3,
        ..ImageSelection::default()
    };
    assert_eq!(
        f.tags(lexical.clone()).await,
        strings(&["v1.1.5", "nightly-20240601", "latest"])
    );
    let nightly = ImageSelection {
        allow_tags_regexes: strings(&["^nightly-"]),
        ..lexical
    };
    assert_eq!(f.tags(nightly).await, strings(&["nightly-20240601"]));

    let newest = ImageSelection {
        strategy: ImageSelectionStrategy::NewestBuild,
        discovery_limit: 3,
        ..ImageSelection::default()
    };
    let images = f.discover(&newest).await;
    let tags: Vec<_> = images.iter().map(|i| i.tag.as_str()).collect();
    assert_eq!(tags, ["arm-only", "1.2.0", "3.0.0"]);
    assert_eq!(
        images[0].created_at.as_deref(),
        Some("2024-08-01T00:00:00Z")
    );
    // An index without a platform is dated by its newest entry.
    assert_eq!(
        images[2].created_at.as_deref(),
        Some("2024-06-15T00:00:00Z")
    );

    let amd64 = ImageSelection {
        platform: Some("linux/amd64".into()),
        ..newest
    };
    let images = f.discover(&amd64).await;
    let tags: Vec<_> = images.iter().map(|i| i.tag.as_str()).collect();
    assert_eq!(tags, ["1.2.0", "3.0.0", "nightly-20240601"]);
    // With a platform the digest is that platform's manifest, not the index.
    let index = f.client.manifest(&f.repo, "3.0.0", None).await.unwrap();
    let ManifestKind::Index(entries) = index.kind else {
        panic!("3.0.0 is an index")
    };
    assert_eq!(images[1].digest, entries[0].digest);

    let arm64 = ImageSelection {
        platform: Some("linux/arm64".into()),
        ..ImageSelection::default()
    };
    let images = f.discover(&arm64).await;
    assert_eq!(images.len(), 1);
    assert_eq!(
        (images[0].tag.as_str(), &images[0].digest),
        ("3.0.0", &entries[1].digest)
    );

    let digest = ImageSelection {
        strategy: ImageSelectionStrategy::Digest,
        constraint: Some("latest".into()),
        ..ImageSelection::default()
    };
    let images = f.discover(&digest).await;
    assert_eq!(images.len(), 1);
    assert_eq!(
        (images[0].tag.as_str(), &images[0].digest),
        ("latest", &f.latest)
    );
}

#[tokio::test]
async fn cache_by_tag_takes_tags_as_immutable() {
    let f = fixture().await;
    let digest_of_2 = |images: Vec<DiscoveredImage>| {
        images
            .into_iter()
            .find(|i| i.tag == "2.0.0")
            .map(|i| i.digest)
            .unwrap()
    };
    let cached = ImageSelection {
        cache_by_tag: true,
        ..ImageSelection::default()
    };
    let before = digest_of_2(f.discover(&cached).await);
    // Someone pushes a new image under an existing tag.
    let (_, moved) = f
        ._registry
        .push_image(
            "shop/web",
            Some("2.0.0"),
            "2024-09-01T00:00:00Z",
            ("linux", "amd64"),
        )
        .await;
    assert_ne!(before, moved);
    assert_eq!(
        digest_of_2(f.discover(&cached).await),
        before,
        "cacheByTag keeps the first answer"
    );
    assert_eq!(
        digest_of_2(f.discover(&ImageSelection::default()).await),
        moved
    );
}
