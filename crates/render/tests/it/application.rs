//! Argo CD Applications rendered from real Git repositories (`file://` mirrors through the
//! git CLI): the seeds' layouts compared with `kubectl kustomize` and `helm template` run by
//! hand, a Jsonnet directory against the reference Jsonnet's output, the render cache and
//! hard refresh, and bad sources.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use ferry_api::argocd::Application;
use ferry_render::application::{Refresh, RenderError, SourceRenderer};
use ferry_render::helm::HelmRenderer;
use ferry_render::manifest::parse_documents;
use ferry_source::git::{GitCache, GitOptions};
use ferry_testkit::{git, helm_binary};

fn seeds(layout: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/seeds")
        .join(layout)
}

/// A Git repository holding a copy of `layout`, committed on `main`.
struct Repo {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Repo {
    fn of(layout: &str) -> Repo {
        Repo::copy_of(&seeds(layout))
    }

    fn copy_of(source: &Path) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo");
        copy_dir(source, &path);
        git(&path, &["init", "-q", "-b", "main"]);
        git(&path, &["add", "-A"]);
        git(&path, &["commit", "-q", "-m", "initial"]);
        Repo { _dir: dir, path }
    }

    fn url(&self) -> String {
        format!("file://{}", self.path.display())
    }

    fn commit_file(&self, rel: &str, body: &str) {
        std::fs::write(self.path.join(rel), body).unwrap();
        git(&self.path, &["commit", "-q", "-am", "change"]);
    }

    fn head(&self) -> String {
        git(&self.path, &["rev-parse", "HEAD"])
    }

    /// The Application at `rel`, with `${REPO_URL}` pointing at this repository.
    fn application(&self, rel: &str) -> Application {
        let text = std::fs::read_to_string(self.path.join(rel))
            .unwrap()
            .replace("${REPO_URL}", &self.url());
        let docs = parse_documents(rel, text.as_bytes()).unwrap();
        serde_json::from_value(docs[0].clone()).unwrap()
    }
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn renderer(cache: &Path) -> SourceRenderer {
    let options = GitOptions {
        allow_file_urls: true,
        ..GitOptions::default()
    };
    let git = GitCache::with_options(cache, options).unwrap();
    SourceRenderer::new(git, Arc::new(HelmRenderer::new(helm_binary())))
}

fn run(command: &mut Command) -> Vec<serde_json::Value> {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_documents("reference", &out.stdout).unwrap()
}

async fn render(renderer: &SourceRenderer, app: &Application) -> Vec<serde_json::Value> {
    let rendered = renderer
        .render_application(app, Refresh::Normal, &|_| None)
        .await
        .unwrap();
    rendered
        .into_iter()
        .flat_map(|(_, r)| r.manifests.as_ref().clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kustomize_environments_render_as_kubectl_kustomize() {
    let repo = Repo::of("kustomize-envs");
    let cache = tempfile::tempdir().unwrap();
    let renderer = renderer(cache.path());
    for env in ["dev", "staging", "prod"] {
        let app = repo.application(&format!("argocd/{env}.yaml"));
        let ours = render(&renderer, &app).await;
        let theirs = run(Command::new("kubectl")
            .arg("kustomize")
            .arg(repo.path.join("env").join(env)));
        assert_eq!(ours, theirs, "environment {env}");
        assert_eq!(ours.len(), 3, "{env}: a Deployment, a Service, a ConfigMap");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn craftista_charts_render_as_helm_template_with_env_value_files() {
    let repo = Repo::of("craftista");
    let cache = tempfile::tempdir().unwrap();
    let renderer = renderer(cache.path());
    for env in ["dev", "staging", "prod"] {
        for svc in ["frontend", "catalogue"] {
            let app = repo.application(&format!("argocd/application/{env}/{svc}.yaml"));
            let ours = render(&renderer, &app).await;
            let theirs = run(Command::new(helm_binary())
                .args(["template", &format!("{svc}-{env}")])
                .arg(repo.path.join("service-charts").join(svc))
                .arg("--values")
                .arg(repo.path.join(format!("env/{env}/{svc}/{svc}-values.yaml")))
                .args(["--namespace", &format!("{svc}-{env}"), "--include-crds"]));
            assert_eq!(ours, theirs, "{svc} in {env}");
            let deployment = ours.iter().find(|o| o["kind"] == "Deployment").unwrap();
            let image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap();
            assert!(
                image.starts_with(&format!("nitheesh86/microservice-{svc}:1.0.")),
                "{image}: the env's values file was used"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renders_are_cached_by_commit_until_a_hard_refresh_and_resyncs_reuse_fetched_refs() {
    let repo = Repo::of("kustomize-envs");
    let cache = tempfile::tempdir().unwrap();
    let renderer = renderer(cache.path());
    let app = repo.application("argocd/dev.yaml");
    let once = |refresh| {
        let (renderer, app) = (&renderer, &app);
        async move {
            let mut rendered = renderer
                .render_application(app, refresh, &|_| None)
                .await
                .unwrap();
            rendered.remove(0).1
        }
    };
    let first = once(Refresh::Normal).await;
    assert!(!first.cached);
    assert_eq!(first.revision, repo.head());
    let second = once(Refresh::Normal).await;
    assert!(
        second.cached,
        "same commit, same parameters: served from the cache"
    );
    assert_eq!(second.manifests, first.manifests);
    let hard = once(Refresh::Hard).await;
    assert!(!hard.cached, "a hard refresh renders again");
    assert_eq!(hard.manifests, first.manifests);

    // A new commit is a new key, and the new content shows.
    let overlay = std::fs::read_to_string(repo.path.join("env/dev/kustomization.yaml")).unwrap();
    repo.commit_file(
        "env/dev/kustomization.yaml",
        &overlay.replace("1.27.3", "1.27.4"),
    );
    // A periodic look reuses the refs fetched a moment ago: the new commit waits for a
    // refresh (or the revision cache's three minutes).
    let resync = once(Refresh::Resync).await;
    assert!(resync.cached);
    assert_eq!(
        resync.revision, first.revision,
        "refs fetched just before are reused"
    );
    let changed = once(Refresh::Normal).await;
    assert!(!changed.cached);
    assert_eq!(changed.revision, repo.head());
    let text = serde_json::to_string(changed.manifests.as_ref()).unwrap();
    assert!(text.contains("nginx:1.27.4"), "{text}");

    // Parameters are part of the key: another namespace override is another render.
    let mut other = app.clone();
    other.spec.destination.namespace = Some("elsewhere".into());
    let rendered = renderer
        .render_application(&other, Refresh::Normal, &|_| None)
        .await
        .unwrap();
    assert!(!rendered[0].1.cached);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sources_are_clear_errors() {
    let repo = Repo::of("craftista");
    std::os::unix::fs::symlink(
        "../../../../../etc/passwd",
        repo.path.join("env/dev/frontend/leak.yaml"),
    )
    .unwrap();
    git(&repo.path, &["add", "-A"]);
    git(&repo.path, &["commit", "-q", "-m", "link out"]);
    let cache = tempfile::tempdir().unwrap();
    let renderer = renderer(cache.path());
    let base = repo.application("argocd/application/dev/frontend.yaml");

    let error = |mutate: &dyn Fn(&mut Application)| {
        let mut app = base.clone();
        mutate(&mut app);
        let renderer = &renderer;
        async move {
            renderer
                .render_application(&app, Refresh::Normal, &|_| None)
                .await
                .unwrap_err()
        }
    };
    let e = error(&|app| app.spec.source.as_mut().unwrap().path = Some("missing".into())).await;
    assert!(matches!(e, RenderError::PathNotFound { .. }), "{e}");
    assert!(e.to_string().contains("\"missing\" does not exist"), "{e}");

    let e = error(&|app| app.spec.source.as_mut().unwrap().path = Some("../outside".into())).await;
    assert!(matches!(e, RenderError::PathEscapes { .. }), "{e}");

    let e = error(&|app| {
        app.spec.source.as_mut().unwrap().target_revision = Some("no-such-branch".into())
    })
    .await;
    assert!(matches!(e, RenderError::Git { .. }), "{e}");
    assert!(e.to_string().contains("no-such-branch"), "{e}");

    let e = error(&|app| {
        let helm = app.spec.source.as_mut().unwrap().helm.as_mut().unwrap();
        helm.value_files = vec!["/env/dev/frontend/leak.yaml".into()];
    })
    .await;
    assert!(e.to_string().contains("leaves the repository"), "{e}");

    let e = error(&|app| {
        let source = app.spec.source.as_mut().unwrap();
        source.helm = None;
        source.plugin = Some(serde_json::json!({"name": "cmp"}));
    })
    .await;
    assert!(matches!(e, RenderError::Unsupported { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "spec.source: a config management plugin is not supported yet"
    );

    let e = error(&|app| {
        app.spec.source = None;
    })
    .await;
    assert_eq!(e.to_string(), "spec.source or spec.sources is required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_source_value_files_come_from_the_ref_source() {
    let charts = Repo::of("craftista");
    let values = Repo::of("craftista");
    let file = "env/prod/frontend/frontend-values.yaml";
    let body = std::fs::read_to_string(values.path.join(file)).unwrap();
    values.commit_file(file, &body.replace("tag: 1.0.", "tag: 9.9."));
    let cache = tempfile::tempdir().unwrap();
    let renderer = renderer(cache.path());
    let mut app = charts.application("argocd/application/prod/frontend.yaml");
    let mut chart = app.spec.source.take().unwrap();
    chart.helm.as_mut().unwrap().value_files = vec![format!("$values/{file}")];
    let values_source = ferry_api::argocd::ApplicationSource {
        repo_url: values.url(),
        target_revision: Some("main".into()),
        reference: Some("values".into()),
        ..Default::default()
    };
    app.spec.sources = vec![chart, values_source];

    let ours = render(&renderer, &app).await;
    let theirs = run(Command::new(helm_binary())
        .args(["template", "frontend-prod"])
        .arg(charts.path.join("service-charts/frontend"))
        .arg("--values")
        .arg(values.path.join(file))
        .args(["--namespace", "frontend-prod", "--include-crds"]));
    assert_eq!(ours, theirs);
    assert!(serde_json::to_string(&ours).unwrap().contains(":9.9."));

    // A new commit in the values repository is a new render, even with the chart unchanged.
    let body = std::fs::read_to_string(values.path.join(file)).unwrap();
    values.commit_file(file, &body.replace("tag: 9.9.", "tag: 8.8."));
    let again = render(&renderer, &app).await;
    assert!(serde_json::to_string(&again).unwrap().contains(":8.8."));

    app.spec.sources[0].helm.as_mut().unwrap().value_files = vec![format!("$other/{file}")];
    let e = renderer
        .render_application(&app, Refresh::Normal, &|_| None)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "spec.sources[0]: value file $other/{file}: no source of the Application has `ref: other`"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kustomize_overrides_of_the_application_apply_with_its_build_env() {
    let repo = Repo::of("kustomize-envs");
    let cache = tempfile::tempdir().unwrap();
    let renderer = renderer(cache.path());
    let mut app = repo.application("argocd/dev.yaml");
    let overrides: ferry_api::argocd::ApplicationSourceKustomize =
        serde_json::from_value(serde_json::json!({
            "images": ["public.ecr.aws/nginx/nginx:1.28.0"],
            "nameSuffix": "-v2",
            "commonAnnotations": {"deployed-by": "${ARGOCD_APP_NAME}@${ARGOCD_APP_REVISION_SHORT}"},
            "commonAnnotationsEnvsubst": true
        }))
        .unwrap();
    app.spec.source.as_mut().unwrap().kustomize = Some(overrides);
    let ours = render(&renderer, &app).await;
    let deployment = ours.iter().find(|o| o["kind"] == "Deployment").unwrap();
    assert_eq!(deployment["metadata"]["name"], "guestbook-v2");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "public.ecr.aws/nginx/nginx:1.28.0"
    );
    let short = &repo.head()[..7];
    assert_eq!(
        deployment["metadata"]["annotations"]["deployed-by"],
        format!("guestbook-dev@{short}")
    );
    // The generated ConfigMap keeps its hash and the reference follows the suffix.
    let config = ours.iter().find(|o| o["kind"] == "ConfigMap").unwrap();
    let name = config["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("guestbook-config-v2-"), "{name}");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"],
        name
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonnet_directories_get_the_build_environment_in_their_variables() {
    // The `tlas` case of the Jsonnet corpus, its `name` argument now `$ARGOCD_APP_NAME`.
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/jsonnet/tlas");
    let repo = Repo::copy_of(&case);
    let mut directory: serde_json::Value =
        yaml_serde::from_slice(&std::fs::read(case.join("directory.yaml")).unwrap()).unwrap();
    directory["jsonnet"]["tlas"][0]["value"] = "$ARGOCD_APP_NAME".into();
    let app: Application = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "checkout"},
        "spec": {
            "project": "default",
            "destination": {"namespace": "shop"},
            "source": {
                "repoURL": repo.url(), "targetRevision": "main", "path": "app",
                "directory": directory,
            },
        },
    }))
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let ours = render(&renderer(cache.path()), &app).await;
    let expected = parse_documents(
        "expected.yaml",
        &std::fs::read(case.join("expected.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(ours, expected);
}

/// The common multi-source shape: a chart of a Helm repository (a real chart repository on
/// loopback, `targetRevision` a range) with its values from a Git repository (`$values`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_source_with_values_from_git() {
    let work = tempfile::tempdir().unwrap();
    let (server, site) = crate::helm_remote::web_repository(work.path()).await;
    let values = Repo::of("kustomize-envs");
    std::fs::write(
        values.path.join("web-values.yaml"),
        "replicas: 5\ngreeting: from git\n",
    )
    .unwrap();
    git(&values.path, &["add", "-A"]);
    git(&values.path, &["commit", "-q", "-m", "values"]);

    let cache = tempfile::tempdir().unwrap();
    let with_charts =
        renderer(cache.path()).with_charts(Arc::new(crate::helm_remote::new_fetcher(cache.path())));
    let app: Application = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web-prod"},
        "spec": {
            "project": "default",
            "destination": {"namespace": "web"},
            "sources": [
                {"repoURL": server.url, "chart": "web", "targetRevision": "^1.0.0",
                 "helm": {"valueFiles": ["$values/web-values.yaml"]}},
                {"repoURL": values.url(), "targetRevision": "main", "ref": "values"}
            ]
        }
    }))
    .unwrap();
    let rendered = with_charts
        .render_application(&app, Refresh::Normal, &|_| None)
        .await
        .unwrap();
    assert_eq!(rendered.len(), 1, "the ref source renders nothing itself");
    assert_eq!(
        rendered[0].1.revision, "1.2.0",
        "^1.0.0 resolved in the index"
    );
    let theirs = crate::helm_remote::reference(
        work.path(),
        &site.join("web-1.2.0.tgz"),
        "web-prod",
        &[
            "--namespace",
            "web",
            "--values",
            values.path.join("web-values.yaml").to_str().unwrap(),
        ],
    );
    assert_eq!(rendered[0].1.manifests.as_ref(), &theirs);
    assert!(serde_json::to_string(&theirs).unwrap().contains("from git"));

    let again = with_charts
        .render_application(&app, Refresh::Normal, &|_| None)
        .await
        .unwrap();
    assert!(again[0].1.cached);

    // Without a chart cache, a chart source is a clear error.
    let plain = renderer(cache.path());
    let e = plain
        .render_application(&app, Refresh::Normal, &|_| None)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "spec.sources[0]: a chart of a Helm repository needs a chart cache, and this renderer has none"
    );
}
