//! The Helm renderer against the real `helm` binary: output equal to `helm template` run by
//! hand with the same flags, Argo CD's value-file rules, caching, and bounded failures.

use std::path::Path;
use std::process::Command;

use ferry_render::helm::{HelmError, HelmOptions, HelmParameter, HelmRenderer};
use ferry_render::manifest::parse_documents;
use ferry_render::tree::LocalTree;
use ferry_testkit::{helm_binary, run};

fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, body) in files {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, body).unwrap();
    }
}

const HELPERS: &str = r#"{{- define "web.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "web.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
"#;

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      {{- include "web.labels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "web.labels" . | nindent 8 }}
    spec:
      containers:
      - name: web
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
        env:
        {{- toYaml .Values.env | nindent 8 }}
"#;

const HOOK: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "web.fullname" . }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
"#;

/// A repository with a chart (helpers, nindent, a hook, a local dependency pulled in with
/// `helm dependency update`) and Argo CD-style per-environment value files.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "charts/web/Chart.yaml",
                "apiVersion: v2\nname: web\nversion: 1.0.0\ndependencies:\n- name: cache\n  version: 0.1.0\n  repository: file://../cache\n",
            ),
            (
                "charts/web/values.yaml",
                "replicas: 1\nimage:\n  repository: ghcr.io/example/web\n  tag: \"1.0\"\nenv:\n- name: MODE\n  value: default\ncache:\n  size: 1\n",
            ),
            ("charts/web/templates/_helpers.tpl", HELPERS),
            ("charts/web/templates/deployment.yaml", DEPLOYMENT),
            ("charts/web/templates/hook.yaml", HOOK),
            (
                "charts/cache/Chart.yaml",
                "apiVersion: v2\nname: cache\nversion: 0.1.0\n",
            ),
            (
                "charts/cache/templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cache\ndata:\n  size: {{ .Values.size | quote }}\n",
            ),
            (
                "env/dev/web/web-values.yaml",
                "replicas: 2\nimage:\n  tag: \"1.1-dev\"\n",
            ),
            (
                "charts/web/values-extra.yaml",
                "env:\n- name: MODE\n  value: extra\n",
            ),
        ],
    );
    run(Command::new(helm_binary())
        .args(["dependency", "update"])
        .arg(dir.path().join("charts/web"))
        .env("HELM_CONFIG_HOME", dir.path().join(".helm/config"))
        .env("HELM_CACHE_HOME", dir.path().join(".helm/cache"))
        .env("HELM_DATA_HOME", dir.path().join(".helm/data")));
    let _ = std::fs::remove_dir_all(dir.path().join(".helm"));
    dir
}

/// What `helm template` prints when run by hand.
fn helm_template(chart: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new(helm_binary())
        .arg("template")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = chart;
    parse_documents("helm", &out.stdout).unwrap()
}

#[test]
fn same_objects_as_helm_template_with_argo_cd_parameters() {
    let repo = repo();
    let tree = LocalTree::new(repo.path()).unwrap();
    let renderer = HelmRenderer::new(helm_binary());
    let options = HelmOptions {
        release_name: "shop".into(),
        namespace: Some("dev".into()),
        value_files: vec![
            "/env/dev/web/web-values.yaml".into(),
            "values-extra.yaml".into(),
        ],
        values: Some("cache:\n  size: 7\n".into()),
        parameters: vec![HelmParameter {
            name: "image.tag".into(),
            value: "1.2".into(),
            force_string: true,
        }],
        ..HelmOptions::default()
    };
    let ours = renderer.render(&tree, "charts/web", &options).unwrap();

    let chart = repo.path().join("charts/web");
    let inline = repo.path().join("inline.yaml");
    std::fs::write(&inline, "cache:\n  size: 7\n").unwrap();
    let theirs = helm_template(
        &chart,
        &[
            "shop",
            chart.to_str().unwrap(),
            "--namespace",
            "dev",
            "--values",
            repo.path()
                .join("env/dev/web/web-values.yaml")
                .to_str()
                .unwrap(),
            "--values",
            chart.join("values-extra.yaml").to_str().unwrap(),
            "--values",
            inline.to_str().unwrap(),
            "--set-string",
            "image.tag=1.2",
            "--include-crds",
        ],
    );
    assert_eq!(*ours, theirs);

    let deployment = ours.iter().find(|m| m["kind"] == "Deployment").unwrap();
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/example/web:1.2"
    );
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"],
        "extra"
    );
    let cm = ours.iter().find(|m| m["kind"] == "ConfigMap").unwrap();
    assert_eq!(
        cm["data"]["size"], "7",
        "the dependency got the inline values"
    );
    let hook = ours.iter().find(|m| m["kind"] == "Job").unwrap();
    assert_eq!(
        hook["metadata"]["annotations"]["helm.sh/hook"],
        "pre-install,pre-upgrade"
    );
}

#[test]
fn one_helm_run_per_unique_chart_and_values() {
    let repo = repo();
    let tree = LocalTree::new(repo.path()).unwrap();
    // A wrapper that counts runs, then executes the real helm.
    let counter = repo.path().join("runs");
    let wrapper = repo.path().join("helm-counting");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho run >> '{}'\nexec '{}' \"$@\"\n",
            counter.display(),
            helm_binary().display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&wrapper).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&wrapper, perms).unwrap();
    let renderer = HelmRenderer::new(&wrapper);
    let runs = || {
        std::fs::read_to_string(&counter)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };

    let options = HelmOptions {
        release_name: "a".into(),
        ..HelmOptions::default()
    };
    let first = renderer.render(&tree, "charts/web", &options).unwrap();
    let second = renderer.render(&tree, "charts/web", &options).unwrap();
    assert_eq!(first, second);
    assert_eq!(runs(), 1);
    let other = HelmOptions {
        release_name: "b".into(),
        ..HelmOptions::default()
    };
    renderer.render(&tree, "charts/web", &other).unwrap();
    assert_eq!(runs(), 2);
    // A changed value file is a different input.
    std::fs::write(
        repo.path().join("charts/web/values.yaml"),
        "replicas: 5\nimage:\n  repository: r\n  tag: t\nenv:\n- name: MODE\n  value: changed\n",
    )
    .unwrap();
    let changed = renderer.render(&tree, "charts/web", &options).unwrap();
    assert_eq!(runs(), 3);
    assert_ne!(first, changed);
}

#[test]
fn value_files_stay_inside_the_repository() {
    let outer = tempfile::tempdir().unwrap();
    let repo = repo();
    std::fs::write(outer.path().join("stolen.yaml"), "replicas: 9\n").unwrap();
    std::os::unix::fs::symlink(
        outer.path().join("stolen.yaml"),
        repo.path().join("charts/web/link.yaml"),
    )
    .unwrap();
    let tree = LocalTree::new(repo.path()).unwrap();
    let renderer = HelmRenderer::new(helm_binary());
    let with = |files: &[&str], ignore_missing: bool| HelmOptions {
        release_name: "x".into(),
        value_files: files.iter().map(|f| f.to_string()).collect(),
        ignore_missing_value_files: ignore_missing,
        ..HelmOptions::default()
    };
    for bad in ["../../../etc/passwd", "link.yaml", "/../etc/passwd"] {
        let err = renderer
            .render(&tree, "charts/web", &with(&[bad], false))
            .unwrap_err();
        assert!(
            matches!(err, HelmError::ValueFileEscapes(_)),
            "{bad}: {err}"
        );
        assert!(
            !err.to_string().contains(outer.path().to_str().unwrap()),
            "{err}"
        );
    }
    let err = renderer
        .render(&tree, "charts/web", &with(&["missing.yaml"], false))
        .unwrap_err();
    assert!(matches!(err, HelmError::MissingValueFile(_)), "{err}");
    renderer
        .render(&tree, "charts/web", &with(&["missing.yaml"], true))
        .unwrap();
    // A symlink inside the chart that points out is never copied for Helm to read.
    let err = renderer
        .render(&tree, "charts", &HelmOptions::default())
        .unwrap_err();
    assert!(!err.to_string().contains("replicas: 9"), "{err}");
}

#[test]
fn template_errors_and_huge_output_are_bounded() {
    let repo = repo();
    write(
        repo.path(),
        &[
            (
                "charts/bad/Chart.yaml",
                "apiVersion: v2\nname: bad\nversion: 1.0.0\n",
            ),
            (
                "charts/bad/templates/x.yaml",
                "{{ fail \"the chart says no\" }}\n",
            ),
            (
                "charts/big/Chart.yaml",
                "apiVersion: v2\nname: big\nversion: 1.0.0\n",
            ),
            (
                "charts/big/templates/x.yaml",
                "{{- range until 20000 }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{{ . }}\ndata:\n  pad: {{ repeat 2000 \"x\" | quote }}\n{{- end }}\n",
            ),
        ],
    );
    let tree = LocalTree::new(repo.path()).unwrap();
    let renderer =
        HelmRenderer::new(helm_binary()).with_limits(std::time::Duration::from_secs(60), 8 << 20);
    let err = renderer
        .render(&tree, "charts/bad", &HelmOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("the chart says no"), "{err}");
    assert!(
        !err.to_string().contains("/tmp"),
        "no work paths in errors: {err}"
    );
    let err = renderer
        .render(&tree, "charts/big", &HelmOptions::default())
        .unwrap_err();
    assert!(matches!(err, HelmError::OutputTooLarge(_)), "{err}");
    let missing =
        HelmRenderer::new("/nonexistent/helm").render(&tree, "charts/web", &HelmOptions::default());
    assert!(matches!(missing, Err(HelmError::NotFound { .. })));
}

#[test]
fn schema_validation_is_enforced_unless_skipped() {
    let repo = repo();
    write(
        repo.path(),
        &[(
            "charts/web/values.schema.json",
            r#"{"type": "object", "properties": {"replicas": {"type": "integer"}}}"#,
        )],
    );
    let tree = LocalTree::new(repo.path()).unwrap();
    let renderer = HelmRenderer::new(helm_binary());
    let mut options = HelmOptions {
        release_name: "shop".into(),
        parameters: vec![HelmParameter {
            name: "replicas".into(),
            value: "three".into(),
            force_string: true,
        }],
        ..HelmOptions::default()
    };
    let err = renderer
        .render(&tree, "charts/web", &options)
        .unwrap_err()
        .to_string();
    assert!(err.contains("replicas"), "{err}");
    options.skip_schema_validation = true;
    let objects = renderer.render(&tree, "charts/web", &options).unwrap();
    assert!(!objects.is_empty());
}
