//! `ferry render DIR` as a user runs it: the type detected, multi-document YAML on stdout,
//! errors on stderr with the file.

use std::path::Path;
use std::process::Command;

use ferry_testkit::{git, helm_binary, run};

const FERRY: &str = env!("CARGO_BIN_EXE_ferry");

fn documents(yaml: &[u8]) -> Vec<serde_json::Value> {
    ferry_render::manifest::parse_documents("stdout", yaml).unwrap()
}

#[test]
fn renders_kustomize_helm_and_directories() {
    // A Kustomize case of the corpus: same objects as the checked-in kubectl output.
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("../render/testdata/kustomize");
    let first = std::fs::read_dir(&case)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .min()
        .unwrap();
    let out = run(Command::new(FERRY).arg("render").arg(first.join("input")));
    let expected = std::fs::read(first.join("expected.yaml")).unwrap();
    assert_eq!(
        documents(out.as_bytes()),
        documents(&expected),
        "{}",
        first.display()
    );

    // A chart made by `helm create`, with --set, against `helm template`.
    let work = tempfile::tempdir().unwrap();
    let helm = helm_binary();
    assert!(
        Command::new(&helm)
            .current_dir(work.path())
            .args(["create", "web"])
            .status()
            .unwrap()
            .success()
    );
    let chart = work.path().join("web");
    let ours = Command::new(FERRY)
        .arg("render")
        .arg(&chart)
        .args([
            "--release-name",
            "shop",
            "--set",
            "replicaCount=3",
            "--helm",
        ])
        .arg(&helm)
        .output()
        .unwrap();
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let theirs = Command::new(&helm)
        .args(["template", "shop"])
        .arg(&chart)
        .args(["--set", "replicaCount=3", "--include-crds"])
        .output()
        .unwrap();
    assert_eq!(documents(&ours.stdout), documents(&theirs.stdout));

    // A plain directory, and a broken file named with its line.
    let plain = work.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    std::fs::write(
        plain.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
    )
    .unwrap();
    let out = Command::new(FERRY)
        .arg("render")
        .arg(&plain)
        .output()
        .unwrap();
    assert_eq!(documents(&out.stdout).len(), 1);
    std::fs::write(plain.join("bad.yaml"), "kind: ConfigMap\nmetadata: [\n").unwrap();
    let out = Command::new(FERRY)
        .arg("render")
        .arg(&plain)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.yaml:"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// `ferry render -f application.yaml`: the seeds' Craftista layout in a Git repository,
/// rendered from its URL at a revision and from a local checkout, equal to `helm template`.
#[test]
fn renders_an_application_from_git_and_from_a_local_checkout() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../render/testdata/seeds/craftista");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(seeds.join("."))
        .arg(&repo)
        .status()
        .unwrap();
    assert!(copied.success());
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "craftista"]);
    let app = work.path().join("frontend-staging.yaml");
    let text = std::fs::read_to_string(repo.join("argocd/application/staging/frontend.yaml"))
        .unwrap()
        .replace("${REPO_URL}", &format!("file://{}", repo.display()));
    std::fs::write(&app, text).unwrap();

    let expected = Command::new(helm_binary())
        .args(["template", "frontend-staging"])
        .arg(repo.join("service-charts/frontend"))
        .arg("--values")
        .arg(repo.join("env/staging/frontend/frontend-values.yaml"))
        .args(["--namespace", "frontend-staging", "--include-crds"])
        .output()
        .unwrap();
    assert!(expected.status.success());
    let expected = documents(&expected.stdout);

    let ferry = |extra: &[&str]| {
        Command::new(FERRY)
            .env("XDG_DATA_HOME", work.path().join("data"))
            .env("FERRY_HELM", helm_binary())
            .args(["render", "-f"])
            .arg(&app)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = ferry(&["--allow-file-urls"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(documents(&out.stdout), expected);

    let out = ferry(&["--local", repo.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(documents(&out.stdout), expected);

    // Errors name the Application and the source, on stderr, with nothing on stdout.
    let out = ferry(&["--allow-file-urls", "--revision", "no-such-branch"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Application frontend-staging: spec.source:")
            && stderr.contains("no-such-branch"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    let out = ferry(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("file:// URLs are not allowed"), "{stderr}");
    let not_an_app = work.path().join("cm.yaml");
    std::fs::write(
        &not_an_app,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    )
    .unwrap();
    let out = Command::new(FERRY)
        .args(["render", "-f"])
        .arg(&not_an_app)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no Application (kind: Application) found"),
        "{stderr}"
    );
}

#[test]
fn renders_jsonnet_with_top_level_arguments() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(repo.join("apps/web")).unwrap();
    std::fs::create_dir_all(repo.join("lib")).unwrap();
    std::fs::write(
        repo.join("lib/k.libsonnet"),
        "{ deployment(name, replicas):: { apiVersion: 'apps/v1', kind: 'Deployment', \
         metadata: { name: name }, spec: { replicas: replicas } } }",
    )
    .unwrap();
    std::fs::write(
        repo.join("apps/web/main.jsonnet"),
        "local k = import 'k.libsonnet';\n\
         function(name, replicas=1) [k.deployment(name, replicas), \
         { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: name }, \
         data: { env: std.extVar('env') } }]\n",
    )
    .unwrap();
    let render = |extra: &[&str]| {
        Command::new(FERRY)
            .arg("render")
            .arg(repo.join("apps/web"))
            .args(["--jsonnet-libs", "lib", "--jsonnet-ext-var-str", "env=prod"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = render(&[
        "--jsonnet-tla-str",
        "name=shop",
        "--jsonnet-tla-code",
        "replicas=1 + 2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = documents(&out.stdout);
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["kind"], "Deployment");
    assert_eq!(docs[0]["metadata"]["name"], "shop");
    assert_eq!(docs[0]["spec"]["replicas"], 3);
    assert_eq!(docs[1]["data"]["env"], "prod");

    // A missing top-level argument: the error names the file, on stderr, exit code 1.
    let out = render(&[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("apps/web/main.jsonnet: "), "{stderr}");
    assert!(stderr.contains("name"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// Runs `program args` in `dir`, returning (success, stdout, stderr).
fn run_in(dir: &Path, program: &Path, args: &[&str]) -> (bool, Vec<u8>, String) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), out.stdout, stderr)
}

/// Outside a Git work tree `ferry render` reads what the user can read, as `kubectl
/// kustomize` does (`../base` resolves; files outside a kustomization's directory still
/// need `--load-restrictor LoadRestrictionsNone`), and prints kubectl's bytes.
#[test]
fn renders_a_plain_directory_as_kubectl_kustomize_does() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path();
    for (path, text) in [
        ("base/kustomization.yaml", "resources: [cm.yaml]\n"),
        (
            "base/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags}\ndata: {X: \"on\", Y: \"1:30\"}\n",
        ),
        (
            "env/dev/kustomization.yaml",
            "resources: [../../base]\nnamespace: dev\nnameSuffix: -dev\n",
        ),
        (
            "env/loose/kustomization.yaml",
            "resources: [../../base/cm.yaml]\n",
        ),
    ] {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    let ferry = Path::new(FERRY);
    let kubectl = ferry_testkit::kubectl();
    let kubectl = Path::new(&kubectl);

    let (ok, ours, stderr) = run_in(root, ferry, &["render", "env/dev"]);
    assert!(ok, "{stderr}");
    let (_, theirs, _) = run_in(root, kubectl, &["kustomize", "env/dev"]);
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );

    let (ok, _, stderr) = run_in(root, ferry, &["render", "env/loose"]);
    assert!(!ok);
    assert!(stderr.contains("kustomization directory"), "{stderr}");
    let (ok, _, _) = run_in(root, kubectl, &["kustomize", "env/loose"]);
    assert!(!ok, "kubectl refuses the file too");
    let none = ["--load-restrictor", "LoadRestrictionsNone"];
    let (ok, ours, stderr) = run_in(root, ferry, &[&["render", "env/loose"][..], &none].concat());
    assert!(ok, "{stderr}");
    let (_, theirs, _) = run_in(
        root,
        kubectl,
        &[&["kustomize", "env/loose"][..], &none].concat(),
    );
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );
}

/// `--values ./env/prod/values.yaml` is the file the user typed, from the current
/// directory, inside or outside the chart's Git work tree, as `helm template -f`.
#[test]
fn value_files_are_paths_as_typed() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    let helm = helm_binary();
    let (ok, _, stderr) = run_in(&repo, &helm, &["create", "web"]);
    assert!(ok, "{stderr}");
    git(&repo, &["init", "-q"]);
    let prod = repo.join("env/prod");
    std::fs::create_dir_all(&prod).unwrap();
    std::fs::write(prod.join("values.yaml"), "replicaCount: 5\n").unwrap();
    std::fs::write(work.path().join("outside.yaml"), "fullnameOverride: edge\n").unwrap();

    let helm_arg = helm.to_string_lossy().into_owned();
    for values in [
        vec!["--values", "./env/prod/values.yaml"],
        vec![
            "--values",
            "env/prod/values.yaml",
            "--values",
            "../outside.yaml",
        ],
    ] {
        let args = [
            &[
                "render",
                "web",
                "--release-name",
                "shop",
                "--helm",
                &helm_arg,
            ][..],
            &values,
        ]
        .concat();
        let (ok, ours, stderr) = run_in(&repo, Path::new(FERRY), &args);
        assert!(ok, "{values:?}: {stderr}");
        let helm_values: Vec<&str> = values
            .iter()
            .map(|v| if *v == "--values" { "-f" } else { v })
            .collect();
        let helm_args = [
            &["template", "shop", "web", "--include-crds"][..],
            &helm_values,
        ]
        .concat();
        let (ok, theirs, stderr) = run_in(&repo, &helm, &helm_args);
        assert!(ok, "{stderr}");
        assert_eq!(documents(&ours), documents(&theirs), "{values:?}");
    }

    // Argo CD's forms stay: relative to the chart, and `/` from the repository root.
    std::fs::write(repo.join("web/values-small.yaml"), "replicaCount: 2\n").unwrap();
    for value in ["values-small.yaml", "/web/values-small.yaml"] {
        let (ok, ours, stderr) = run_in(
            &repo,
            Path::new(FERRY),
            &["render", "web", "--helm", &helm_arg, "--values", value],
        );
        assert!(ok, "{value}: {stderr}");
        let deployment = documents(&ours)
            .into_iter()
            .find(|d| d["kind"] == "Deployment")
            .unwrap();
        assert_eq!(deployment["spec"]["replicas"], 2, "{value}");
    }
}
