//! Chart repositories: an HTTP repository built with `helm package` + `helm repo index`, and
//! an OCI chart pushed with `helm push` to a real docker-registry.

use std::sync::Arc;

use ferry_source::helm::{HelmError, HelmRepos};
use ferry_source::oci::{RegistryClient, RegistryOptions};
use ferry_testkit::chart_repo::{StaticServer, helm, package_chart};
use ferry_testkit::registry::TestRegistry;
use ferry_testkit::run;

fn helm_repos(cache: &std::path::Path) -> HelmRepos {
    let registry = RegistryClient::new(RegistryOptions::default()).unwrap();
    HelmRepos::new(cache, Arc::new(registry)).unwrap()
}

#[tokio::test]
async fn http_repository_index_etag_download_and_unpack() {
    let work = tempfile::tempdir().unwrap();
    let site = work.path().join("site");
    std::fs::create_dir(&site).unwrap();
    for version in ["0.1.0", "0.2.0", "1.0.0-rc.1"] {
        package_chart(work.path(), &site, "guestbook", version);
    }
    run(helm().args(["repo", "index"]).arg(&site));
    let server = StaticServer::start(&site).await;
    let cache = tempfile::tempdir().unwrap();
    let repos = helm_repos(cache.path());

    let mut versions = repos
        .versions(&server.url, "guestbook", None)
        .await
        .unwrap();
    versions.sort();
    assert_eq!(versions, ["0.1.0", "0.2.0", "1.0.0-rc.1"]);
    assert_eq!(server.full_responses(), 1);

    // Unchanged index: a conditional request answered 304, nothing downloaded again, also
    // from a fresh client that only has the disk cache.
    repos.index(&server.url, None).await.unwrap();
    helm_repos(cache.path())
        .index(&server.url, None)
        .await
        .unwrap();
    assert_eq!(server.full_responses(), 1);

    let discover = |constraint: Option<&'static str>, limit| {
        repos.discover_versions(&server.url, "guestbook", constraint, limit, None)
    };
    assert_eq!(discover(None, 20).await.unwrap(), ["0.2.0", "0.1.0"]);
    assert_eq!(discover(None, 1).await.unwrap(), ["0.2.0"]);
    assert_eq!(discover(Some("^0.1"), 20).await.unwrap(), ["0.1.0"]);
    assert_eq!(
        discover(Some(">=1.0.0-0"), 20).await.unwrap(),
        ["1.0.0-rc.1"]
    );
    let bad = discover(Some("^^"), 20).await.unwrap_err();
    assert!(bad.to_string().contains("semverConstraint"), "{bad}");

    let dest = work.path().join("out");
    let chart_dir = repos
        .pull(&server.url, "guestbook", "0.2.0", &dest, None)
        .await
        .unwrap();
    let chart_yaml = std::fs::read_to_string(chart_dir.join("Chart.yaml")).unwrap();
    assert!(chart_yaml.contains("version: 0.2.0"), "{chart_yaml}");
    assert!(chart_dir.join("templates/deployment.yaml").exists());

    let missing = repos
        .download(&server.url, "guestbook", "9.9.9", None)
        .await
        .unwrap_err();
    assert!(matches!(missing, HelmError::NotFound { .. }), "{missing}");

    // A chart swapped under the index fails its digest check.
    std::fs::copy(
        site.join("guestbook-0.1.0.tgz"),
        site.join("guestbook-0.2.0.tgz"),
    )
    .unwrap();
    let swapped = repos
        .download(&server.url, "guestbook", "0.2.0", None)
        .await
        .unwrap_err();
    assert!(
        matches!(swapped, HelmError::DigestMismatch { .. }),
        "{swapped}"
    );

    // A broken index is a clear error and does not replace the cached good one on disk.
    std::fs::write(
        site.join("index.yaml"),
        "apiVersion: v1\nentries: [unclosed",
    )
    .unwrap();
    let broken = repos.index(&server.url, None).await.unwrap_err();
    assert!(
        broken.to_string().contains("malformed index.yaml"),
        "{broken}"
    );
}

#[tokio::test]
async fn oci_chart_pushed_by_helm() {
    let registry = TestRegistry::start().await;
    let work = tempfile::tempdir().unwrap();
    for version in ["1.2.3", "1.3.0+build.7"] {
        let tgz = package_chart(work.path(), work.path(), "podinfo", version);
        run(helm()
            .arg("push")
            .arg(&tgz)
            .arg(format!("oci://{}/charts", registry.host))
            .arg("--plain-http"));
    }
    let cache = tempfile::tempdir().unwrap();
    let repos = helm_repos(cache.path());
    let url = format!("oci://{}/charts", registry.host);

    let mut versions = repos.versions(&url, "podinfo", None).await.unwrap();
    versions.sort();
    assert_eq!(versions, ["1.2.3", "1.3.0+build.7"]);
    // Kargo writes the chart into the URL and leaves `name` empty.
    let kargo_url = format!("{url}/podinfo");
    assert_eq!(repos.versions(&kargo_url, "", None).await.unwrap().len(), 2);

    let dest = work.path().join("out");
    let chart_dir = repos
        .pull(&url, "podinfo", "1.3.0+build.7", &dest, None)
        .await
        .unwrap();
    let chart_yaml = std::fs::read_to_string(chart_dir.join("Chart.yaml")).unwrap();
    assert!(
        chart_yaml.contains("version: 1.3.0+build.7"),
        "{chart_yaml}"
    );
}
