//! Charts from chart repositories and chart dependencies, against real servers on loopback: a
//! static HTTP repository holding charts packaged by the real `helm package` with an index
//! from `helm repo index`, and Debian's docker-registry with charts pushed by `helm push`.
//! Every rendering is compared with the real `helm template` of the same chart and values
//! (after `helm dependency build` against the same repository, for dependencies). Tests run
//! on a multi-threaded runtime: the fixture servers must answer while `helm` blocks a thread.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use ferry_render::helm::{
    ChartFetcher, ChartRepository, HelmError, HelmOptions, HelmParameter, HelmRenderer,
    NoRepositories, RemoteChart, RepositoryList,
};
use ferry_render::manifest::{Manifest, parse_documents};
use ferry_render::tree::LocalTree;
use ferry_source::helm::HelmRepos;
use ferry_source::oci::{RegistryClient, RegistryOptions};
use ferry_testkit::chart_repo::{StaticServer, helm};
use ferry_testkit::registry::TestRegistry;
use ferry_testkit::run;

use crate::application::copy_dir;

fn write(root: &Path, path: &str, body: &str) {
    let full = root.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, body).unwrap();
}

/// A small realistic chart at `dir`: helpers, a ConfigMap and a Deployment, values, and a
/// `values-prod.yaml`. `dependencies` is the YAML of `Chart.yaml`'s `dependencies:` (or "").
fn make_chart(dir: &Path, name: &str, version: &str, dependencies: &str) {
    write(
        dir,
        "Chart.yaml",
        &format!("apiVersion: v2\nname: {name}\nversion: {version}\n{dependencies}"),
    );
    write(
        dir,
        "values.yaml",
        "replicas: 1\ngreeting: hello\nimage: ghcr.io/example/app:1.0\n",
    );
    write(dir, "values-prod.yaml", "replicas: 3\ngreeting: prod\n");
    write(
        dir,
        "templates/_helpers.tpl",
        &format!(
            "{{{{- define \"{name}.fullname\" -}}}}\n{{{{- printf \"%s-%s\" .Release.Name .Chart.Name | trunc 63 | trimSuffix \"-\" -}}}}\n{{{{- end -}}}}\n{{{{- define \"{name}.labels\" -}}}}\napp.kubernetes.io/name: {{{{ .Chart.Name }}}}\nhelm.sh/chart: {{{{ printf \"%s-%s\" .Chart.Name .Chart.Version }}}}\n{{{{- end -}}}}\n"
        ),
    );
    write(
        dir,
        "templates/configmap.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ include \"{name}.fullname\" . }}}}\n  labels:\n    {{{{- include \"{name}.labels\" . | nindent 4 }}}}\ndata:\n  version: {{{{ .Chart.Version | quote }}}}\n  greeting: {{{{ .Values.greeting | quote }}}}\n"
        ),
    );
    write(
        dir,
        "templates/deployment.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{{{ include \"{name}.fullname\" . }}}}\n  namespace: {{{{ .Release.Namespace }}}}\nspec:\n  replicas: {{{{ .Values.replicas }}}}\n  selector:\n    matchLabels:\n      {{{{- include \"{name}.labels\" . | nindent 6 }}}}\n  template:\n    metadata:\n      labels:\n        {{{{- include \"{name}.labels\" . | nindent 8 }}}}\n    spec:\n      containers:\n      - name: main\n        image: {{{{ .Values.image | quote }}}}\n"
        ),
    );
}

/// `helm package` of a chart made by [`make_chart`], into `site`.
fn publish(work: &Path, site: &Path, name: &str, version: &str) -> PathBuf {
    let dir = work.join(format!("src-{name}-{version}"));
    make_chart(&dir, name, version, "");
    run(helm().args(["package", "-d"]).arg(site).arg(&dir));
    site.join(format!("{name}-{version}.tgz"))
}

/// [`publish`]es each version and `helm push`es it to the registry's `charts/` repository.
fn push(registry: &TestRegistry, work: &Path, site: &Path, name: &str, versions: &[&str]) {
    for version in versions {
        let tgz = publish(work, site, name, version);
        run(helm()
            .arg("push")
            .arg(&tgz)
            .arg(format!("oci://{}/charts", registry.host))
            .arg("--plain-http"));
    }
}

/// `helm` with configuration homes of its own (for `helm repo add`).
fn helm_in(home: &Path) -> Command {
    let mut command = helm();
    command
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"));
    command
}

/// What `helm template` prints for `chart` (a directory or a `.tgz`).
pub(crate) fn reference(home: &Path, chart: &Path, release: &str, extra: &[&str]) -> Vec<Manifest> {
    let out = run(helm_in(home)
        .args(["template", release])
        .arg(chart)
        .args(extra)
        .arg("--include-crds"));
    parse_documents("helm", out.as_bytes()).unwrap()
}

pub(crate) fn new_fetcher(cache: &Path) -> ChartFetcher {
    let registry = RegistryClient::new(RegistryOptions::default()).unwrap();
    let repos = HelmRepos::new(cache.join("repos"), Arc::new(registry)).unwrap();
    ChartFetcher::new(Arc::new(repos), cache.join("charts"))
}

fn renderer() -> HelmRenderer {
    HelmRenderer::new(ferry_testkit::helm_binary())
}

fn data_version(objects: &[Manifest], name: &str) -> String {
    objects
        .iter()
        .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no ConfigMap {name} in {objects:?}"))["data"]["version"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A chart repository with several versions of `web` (packaged from the same sources).
pub(crate) async fn web_repository(work: &Path) -> (StaticServer, PathBuf) {
    let site = work.join("site");
    std::fs::create_dir_all(&site).unwrap();
    for version in ["1.0.0", "1.2.0", "1.3.0-rc.1", "2.0.0"] {
        publish(work, &site, "web", version);
    }
    run(helm().args(["repo", "index"]).arg(&site));
    (StaticServer::start(&site).await, site)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_chart_with_a_semver_range_is_cached_on_disk() {
    let work = tempfile::tempdir().unwrap();
    let (server, site) = web_repository(work.path()).await;
    let cache = tempfile::tempdir().unwrap();
    let fetcher = new_fetcher(cache.path());
    let chart = RemoteChart {
        repo_url: format!("{}/", server.url),
        chart: "web".into(),
        target_revision: "^1.0.0".into(),
    };
    let options = HelmOptions {
        release_name: "shop".into(),
        namespace: Some("prod".into()),
        // Relative to the chart; for a chart source, `/` is the chart's root too.
        value_files: vec!["values-prod.yaml".into(), "/values-prod.yaml".into()],
        parameters: vec![HelmParameter {
            name: "greeting".into(),
            value: "hi".into(),
            force_string: true,
        }],
        ..HelmOptions::default()
    };
    let ours = renderer()
        .render_remote(&fetcher, &chart, None, &options)
        .await
        .unwrap();
    let values = work.path().join("src-web-1.2.0/values-prod.yaml");
    let values = values.to_str().unwrap();
    let theirs = reference(
        work.path(),
        &site.join("web-1.2.0.tgz"),
        "shop",
        &[
            "--namespace",
            "prod",
            "--values",
            values,
            "--values",
            values,
            "--set-string",
            "greeting=hi",
        ],
    );
    assert_eq!(*ours, theirs);
    assert_eq!(data_version(&ours, "shop-web"), "1.2.0");

    for (wanted, resolved) in [
        ("^1.0.0", "1.2.0"),
        (">=1.3.0-0 <2", "1.3.0-rc.1"),
        ("2.0.0", "2.0.0"),
        ("1.x", "1.2.0"),
        ("1.0", "1.0.0"),
    ] {
        assert_eq!(
            fetcher
                .resolve_version(&server.url, "web", wanted, None)
                .await
                .unwrap(),
            resolved,
            "{wanted}"
        );
    }

    // A second render with a fresh renderer (no memory cache) and fetcher (no memory index)
    // over the same cache directory downloads nothing: the index answers 304.
    let downloads = server.full_responses();
    let again = renderer()
        .render_remote(&new_fetcher(cache.path()), &chart, None, &options)
        .await
        .unwrap();
    assert_eq!(again, ours);
    assert_eq!(server.full_responses(), downloads);

    for escaping in ["../values-prod.yaml", "/../../etc/passwd"] {
        let err = renderer()
            .render_remote(
                &fetcher,
                &chart,
                None,
                &HelmOptions {
                    value_files: vec![escaping.into()],
                    ..HelmOptions::default()
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, HelmError::ValueFileEscapes(_)),
            "{escaping}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_chart_pushed_by_helm() {
    let registry = TestRegistry::start().await;
    let work = tempfile::tempdir().unwrap();
    let site = work.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    push(
        &registry,
        work.path(),
        &site,
        "web",
        &["0.3.0", "0.3.1", "1.0.0+build.7"],
    );
    let cache = tempfile::tempdir().unwrap();
    let fetcher = new_fetcher(cache.path());
    let options = HelmOptions {
        release_name: "shop".into(),
        value_files: vec!["values-prod.yaml".into()],
        ..HelmOptions::default()
    };
    let values = |v: &str| {
        work.path()
            .join(format!("src-web-{v}/values-prod.yaml"))
            .to_str()
            .unwrap()
            .to_string()
    };
    // `oci://` with a constraint, and a bare registry path with an exact version.
    for (repo_url, wanted, version) in [
        (format!("oci://{}/charts", registry.host), "~0.3", "0.3.1"),
        (
            format!("{}/charts", registry.host),
            "1.0.0+build.7",
            "1.0.0+build.7",
        ),
    ] {
        let chart = RemoteChart {
            repo_url,
            chart: "web".into(),
            target_revision: wanted.into(),
        };
        let ours = renderer()
            .render_remote(&fetcher, &chart, None, &options)
            .await
            .unwrap();
        let theirs = reference(
            work.path(),
            &site.join(format!("web-{version}.tgz")),
            "shop",
            &["--values", &values(version)],
        );
        assert_eq!(*ours, theirs, "{wanted}");
        assert_eq!(data_version(&ours, "shop-web"), version);
    }
    let unknown = renderer()
        .render_remote(
            &fetcher,
            &RemoteChart {
                repo_url: format!("oci://{}/charts", registry.host),
                chart: "web".into(),
                target_revision: "9.9.9".into(),
            },
            None,
            &options,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, HelmError::NoMatchingVersion { .. }),
        "{unknown}"
    );
}

/// A Git-like tree with chart `apps/shop` depending on `redis` (by URL, under an alias) and
/// `db` (by repository name), locked by `helm dependency update` before newer versions were
/// published. Returns (repository server, tree root, helm home with the `local` repository).
async fn shop_tree(work: &Path) -> (StaticServer, PathBuf, PathBuf) {
    let site = work.join("site");
    std::fs::create_dir_all(&site).unwrap();
    publish(work, &site, "redis", "1.0.0");
    publish(work, &site, "db", "0.1.0");
    run(helm().args(["repo", "index"]).arg(&site));
    let server = StaticServer::start(&site).await;
    let home = work.join("helm-home");
    run(helm_in(&home).args(["repo", "add", "local", &server.url]));

    let root = work.join("repo");
    let chart = root.join("apps/shop");
    make_chart(
        &chart,
        "shop",
        "1.0.0",
        &format!(
            "dependencies:\n- name: redis\n  version: ^1.0.0\n  repository: {}\n  alias: cache\n- name: db\n  version: ~0.1.0\n  repository: \"@local\"\n",
            server.url
        ),
    );
    write(
        &root,
        "env/prod/shop.yaml",
        "cache:\n  greeting: from-parent\n",
    );
    run(helm_in(&home).args(["dependency", "update"]).arg(&chart));
    assert!(chart.join("Chart.lock").exists());
    // Newer versions appear after the lock was written.
    publish(work, &site, "redis", "1.1.0");
    publish(work, &site, "db", "0.1.1");
    run(helm().args(["repo", "index"]).arg(&site));
    run(helm_in(&home).args(["repo", "update"]));
    // Not vendored: Ferry fetches what `helm dependency build` would.
    std::fs::remove_dir_all(chart.join("charts")).unwrap();
    (server, root, home)
}

/// `helm dependency build` on a copy of `chart`, then `helm template` of it.
fn reference_with_dependencies(
    home: &Path,
    chart: &Path,
    scratch: &Path,
    extra: &[&str],
) -> Vec<Manifest> {
    let copy = scratch.join(chart.file_name().unwrap());
    let _ = std::fs::remove_dir_all(&copy);
    copy_dir(chart, &copy);
    run(helm_in(home).args(["dependency", "build"]).arg(&copy));
    reference(home, &copy, "shop", extra)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_chart_with_http_dependencies_alias_repository_name_and_lock() {
    let work = tempfile::tempdir().unwrap();
    let (server, root, home) = shop_tree(work.path()).await;
    let tree = LocalTree::new(&root).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let fetcher = new_fetcher(cache.path());
    let repositories = RepositoryList(vec![ChartRepository {
        name: Some("local".into()),
        url: server.url.clone(),
        credentials: None,
    }]);
    let options = HelmOptions {
        release_name: "shop".into(),
        value_files: vec!["/env/prod/shop.yaml".into()],
        ..HelmOptions::default()
    };
    let ours = renderer()
        .render_tree(&fetcher, &tree, "apps/shop", &repositories, &options)
        .await
        .unwrap();
    let values = root.join("env/prod/shop.yaml");
    let theirs = reference_with_dependencies(
        &home,
        &root.join("apps/shop"),
        &work.path().join("scratch"),
        &["--values", values.to_str().unwrap()],
    );
    assert_eq!(*ours, theirs);
    // The lock's versions, not the newest matching ones; the alias names the subchart.
    assert_eq!(data_version(&ours, "shop-cache"), "1.0.0");
    assert_eq!(data_version(&ours, "shop-db"), "0.1.0");
    let cache_cm = ours
        .iter()
        .find(|o| o["metadata"]["name"] == "shop-cache")
        .unwrap();
    assert_eq!(cache_cm["data"]["greeting"], "from-parent");

    // Without the lock, constraints resolve against the index, as `helm dependency build`
    // (which then runs an update) does.
    std::fs::remove_file(root.join("apps/shop/Chart.lock")).unwrap();
    let unlocked = renderer()
        .render_tree(&fetcher, &tree, "apps/shop", &repositories, &options)
        .await
        .unwrap();
    let theirs = reference_with_dependencies(
        &home,
        &root.join("apps/shop"),
        &work.path().join("scratch"),
        &["--values", values.to_str().unwrap()],
    );
    assert_eq!(*unlocked, theirs);
    assert_eq!(data_version(&unlocked, "shop-cache"), "1.1.0");
    assert_eq!(data_version(&unlocked, "shop-db"), "0.1.1");

    // The synchronous entry point names what it would have to download.
    let err = renderer().render(&tree, "apps/shop", &options).unwrap_err();
    assert!(matches!(err, HelmError::NeedsFetch { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("redis ^1.0.0 from http://127.0.0.1"),
        "{err}"
    );

    // An unknown repository name is a clear error.
    let err = renderer()
        .render_tree(&fetcher, &tree, "apps/shop", &NoRepositories, &options)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, HelmError::UnknownRepository { repository, .. } if repository == "@local"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_lock_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let (server, root, _home) = shop_tree(work.path()).await;
    let chart_yaml = root.join("apps/shop/Chart.yaml");
    let edited = std::fs::read_to_string(&chart_yaml)
        .unwrap()
        .replace("~0.1.0", "~0.1.1");
    std::fs::write(&chart_yaml, edited).unwrap();
    let tree = LocalTree::new(&root).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let repositories = RepositoryList(vec![ChartRepository {
        name: Some("local".into()),
        url: server.url.clone(),
        credentials: None,
    }]);
    let err = renderer()
        .render_tree(
            &new_fetcher(cache.path()),
            &tree,
            "apps/shop",
            &repositories,
            &HelmOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, HelmError::LockOutOfSync { .. }), "{err}");
    assert!(err.to_string().contains("Chart.lock"), "{err}");
}

#[test]
fn file_dependencies_inside_the_tree_render_synchronously() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("repo");
    make_chart(
        &root.join("charts/app"),
        "app",
        "1.0.0",
        "dependencies:\n- name: common\n  version: \">=0.1.0\"\n  repository: file://../common\n",
    );
    make_chart(
        &root.join("charts/common"),
        "common",
        "0.1.0",
        "dependencies:\n- name: base\n  version: 0.2.0\n  repository: file://../../lib/base\n  alias: foundation\n",
    );
    make_chart(&root.join("lib/base"), "base", "0.2.0", "");
    let tree = LocalTree::new(&root).unwrap();
    let options = HelmOptions {
        release_name: "shop".into(),
        value_files: vec!["values-prod.yaml".into()],
        ..HelmOptions::default()
    };
    let work_root = work.path().join("work");
    std::fs::create_dir(&work_root).unwrap();
    let ours = renderer()
        .with_work_dir(&work_root)
        .render(&tree, "charts/app", &options)
        .unwrap();
    assert_eq!(
        std::fs::read_dir(&work_root).unwrap().count(),
        0,
        "the work directory is removed after the run"
    );

    // Helm's `dependency build` packages a file:// chart as it is, so the reference builds
    // the inner chart first.
    let scratch = work.path().join("scratch");
    copy_dir(&root, &scratch);
    let home = work.path().join("helm-home");
    run(helm_in(&home)
        .args(["dependency", "build"])
        .arg(scratch.join("charts/common")));
    run(helm_in(&home)
        .args(["dependency", "build"])
        .arg(scratch.join("charts/app")));
    let values = scratch.join("charts/app/values-prod.yaml");
    let theirs = reference(
        &home,
        &scratch.join("charts/app"),
        "shop",
        &["--values", values.to_str().unwrap()],
    );
    assert_eq!(*ours, theirs);
    assert_eq!(data_version(&ours, "shop-foundation"), "0.2.0");
    assert_eq!(data_version(&ours, "shop-common"), "0.1.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_dependencies_and_charts_are_clear_errors() {
    let work = tempfile::tempdir().unwrap();
    let outside = work.path().join("outside");
    make_chart(&outside, "outside", "1.0.0", "");
    let root = work.path().join("repo");
    make_chart(
        &root.join("app"),
        "app",
        "1.0.0",
        "dependencies:\n- name: outside\n  version: 1.0.0\n  repository: file://../../outside\n",
    );
    // A link inside the repository that points out of it.
    make_chart(
        &root.join("linked"),
        "linked",
        "1.0.0",
        "dependencies:\n- name: outside\n  version: 1.0.0\n  repository: file://dep\n",
    );
    std::os::unix::fs::symlink(&outside, root.join("linked/dep")).unwrap();
    make_chart(
        &root.join("old"),
        "old",
        "1.0.0",
        "dependencies:\n- name: lib\n  version: ^2.0.0\n  repository: file://../lib\n",
    );
    make_chart(&root.join("lib"), "lib", "1.0.0", "");
    make_chart(
        &root.join("unvendored"),
        "unvendored",
        "1.0.0",
        "dependencies:\n- name: lib\n  version: 1.0.0\n",
    );
    let tree = LocalTree::new(&root).unwrap();
    for chart in ["app", "linked"] {
        let err = renderer()
            .render(&tree, chart, &HelmOptions::default())
            .unwrap_err();
        assert!(
            matches!(err, HelmError::DependencyEscapes { .. }),
            "{chart}: {err}"
        );
        assert!(
            !err.to_string().contains(work.path().to_str().unwrap()),
            "{err}"
        );
    }
    let err = renderer()
        .render(&tree, "old", &HelmOptions::default())
        .unwrap_err();
    assert!(matches!(err, HelmError::InvalidDependency { .. }), "{err}");
    assert!(err.to_string().contains("does not satisfy"), "{err}");
    let err = renderer()
        .render(&tree, "unvendored", &HelmOptions::default())
        .unwrap_err();
    assert!(
        matches!(err, HelmError::DependencyNotVendored { .. }),
        "{err}"
    );

    // Remote: an unknown version, and an archive swapped under the index.
    let (server, site) = web_repository(work.path()).await;
    let cache = tempfile::tempdir().unwrap();
    let fetcher = new_fetcher(cache.path());
    let web = |target: &str| RemoteChart {
        repo_url: server.url.clone(),
        chart: "web".into(),
        target_revision: target.into(),
    };
    for wanted in ["9.9.9", "^3", ""] {
        let err = renderer()
            .render_remote(&fetcher, &web(wanted), None, &HelmOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                HelmError::NoMatchingVersion { .. } | HelmError::NoVersion { .. }
            ),
            "{wanted}: {err}"
        );
    }
    std::fs::copy(site.join("web-1.0.0.tgz"), site.join("web-2.0.0.tgz")).unwrap();
    let err = renderer()
        .render_remote(&fetcher, &web("2.0.0"), None, &HelmOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            HelmError::Repository(ferry_source::helm::HelmError::DigestMismatch { .. })
        ),
        "{err}"
    );
    // Nothing of the bad archive was cached.
    assert!(
        !std::fs::read_dir(cache.path().join("charts"))
            .map(|d| d.flatten().any(|e| e.path().join("Chart.yaml").exists()))
            .unwrap_or(false)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_chart_with_an_oci_dependency() {
    let registry = TestRegistry::start().await;
    let work = tempfile::tempdir().unwrap();
    let site = work.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    push(
        &registry,
        work.path(),
        &site,
        "redis",
        &["1.0.0", "1.0.3", "1.1.0"],
    );
    let root = work.path().join("repo");
    let chart = root.join("shop");
    make_chart(
        &chart,
        "shop",
        "1.0.0",
        &format!(
            "dependencies:\n- name: redis\n  version: ~1.0.0\n  repository: oci://{}/charts\n",
            registry.host
        ),
    );
    let tree = LocalTree::new(&root).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let options = HelmOptions {
        release_name: "shop".into(),
        ..HelmOptions::default()
    };
    let ours = renderer()
        .render_tree(
            &new_fetcher(cache.path()),
            &tree,
            "shop",
            &NoRepositories,
            &options,
        )
        .await
        .unwrap();
    let home = work.path().join("helm-home");
    let scratch = work.path().join("scratch");
    copy_dir(&chart, &scratch.join("shop"));
    run(helm_in(&home)
        .args(["dependency", "build", "--plain-http"])
        .arg(scratch.join("shop")));
    let theirs = reference(&home, &scratch.join("shop"), "shop", &[]);
    assert_eq!(*ours, theirs);
    assert_eq!(data_version(&ours, "shop-redis"), "1.0.3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_v1_chart_with_requirements_and_lock() {
    let work = tempfile::tempdir().unwrap();
    let site = work.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    publish(work.path(), &site, "redis", "1.0.0");
    run(helm().args(["repo", "index"]).arg(&site));
    let server = StaticServer::start(&site).await;
    let home = work.path().join("helm-home");
    // `helm dependency build` with a lock wants the repository added (Argo CD adds its
    // repositories); Ferry fetches from the URL directly.
    run(helm_in(&home).args(["repo", "add", "charts", &server.url]));
    let root = work.path().join("repo");
    let chart = root.join("legacy");
    make_chart(&chart, "legacy", "1.0.0", "");
    write(
        &chart,
        "Chart.yaml",
        "apiVersion: v1\nname: legacy\nversion: 1.0.0\n",
    );
    write(
        &chart,
        "requirements.yaml",
        &format!(
            "dependencies:\n- name: redis\n  version: \">=1.0.0\"\n  repository: {}\n",
            server.url
        ),
    );
    run(helm_in(&home).args(["dependency", "update"]).arg(&chart));
    assert!(chart.join("requirements.lock").exists());
    publish(work.path(), &site, "redis", "1.5.0");
    run(helm().args(["repo", "index"]).arg(&site));
    run(helm_in(&home).args(["repo", "update"]));
    std::fs::remove_dir_all(chart.join("charts")).unwrap();

    let tree = LocalTree::new(&root).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let options = HelmOptions {
        release_name: "shop".into(),
        ..HelmOptions::default()
    };
    let ours = renderer()
        .render_tree(
            &new_fetcher(cache.path()),
            &tree,
            "legacy",
            &NoRepositories,
            &options,
        )
        .await
        .unwrap();
    let theirs = reference_with_dependencies(&home, &chart, &work.path().join("scratch"), &[]);
    assert_eq!(*ours, theirs);
    assert_eq!(data_version(&ours, "shop-redis"), "1.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_oci_chart_takes_the_callers_credentials() {
    let registry = TestRegistry::start_with_basic_auth("deploy", "s3cret").await;
    let work = tempfile::tempdir().unwrap();
    let tgz = publish(work.path(), work.path(), "web", "0.1.0");
    run(helm()
        .arg("push")
        .arg(&tgz)
        .arg(format!("oci://{}/private", registry.host))
        .args([
            "--plain-http",
            "--username",
            "deploy",
            "--password",
            "s3cret",
        ]));
    let cache = tempfile::tempdir().unwrap();
    let fetcher = new_fetcher(cache.path());
    let chart = RemoteChart {
        repo_url: format!("oci://{}/private", registry.host),
        chart: "web".into(),
        target_revision: "0.1.0".into(),
    };
    let options = HelmOptions {
        release_name: "shop".into(),
        ..HelmOptions::default()
    };
    let err = renderer()
        .render_remote(&fetcher, &chart, None, &options)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("authentication failed"), "{err}");
    let creds = ferry_source::credentials::Credentials::basic("deploy", "s3cret");
    let ours = renderer()
        .render_remote(&fetcher, &chart, Some(&creds), &options)
        .await
        .unwrap();
    assert_eq!(*ours, reference(work.path(), &tgz, "shop", &[]));
    // Cached on disk, the chart is still not served without credentials.
    let err = renderer()
        .render_remote(&fetcher, &chart, None, &options)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("authentication failed"), "{err}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
}
