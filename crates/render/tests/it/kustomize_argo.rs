//! Kustomize as Argo CD runs it: `source.kustomize` overrides and `helmCharts`. Every
//! `testdata/kustomize-argo/<case>` is rendered with its `overrides.yaml` (the Application's
//! kustomize block), the build environment of `env.yaml` and, for cases with an `enable-helm`
//! file, the real Helm; the result is compared with `expected.yaml`, which
//! `scripts/update-kustomize-expectations` made with `kubectl kustomize` from the input with
//! `edited/` (the kustomization as `kustomize edit` writes it) laid over it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ferry_api::argocd::ApplicationSourceKustomize;
use ferry_render::helm::HelmRenderer;
use ferry_render::kustomize::{KustomizeError, KustomizeOptions, render_with};
use ferry_render::tree::LocalTree;
use ferry_testkit::{helm_binary, kubectl};

use crate::kustomize::{cases_in, diff, parse, repo, to_yaml};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/kustomize-argo")
}

fn cases() -> Vec<PathBuf> {
    cases_in(&corpus())
}

fn name(case: &Path) -> String {
    case.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string()
}

/// The app directory of a case (its `path` file), relative to `input`.
fn app_path(case: &Path) -> String {
    std::fs::read_to_string(case.join("path"))
        .map(|p| p.trim().to_string())
        .unwrap_or_default()
}

fn env() -> BTreeMap<String, String> {
    yaml_serde::from_slice(&std::fs::read(corpus().join("env.yaml")).expect("env.yaml"))
        .expect("env.yaml is a map of strings")
}

fn overrides(case: &Path) -> Option<ApplicationSourceKustomize> {
    let bytes = std::fs::read(case.join("overrides.yaml")).ok()?;
    Some(yaml_serde::from_slice(&bytes).expect("overrides.yaml is a kustomize block"))
}

#[test]
fn corpus_matches_kubectl_kustomize_after_kustomize_edit() {
    let cases = cases();
    assert!(cases.len() >= 10, "only {} cases", cases.len());
    let helm = HelmRenderer::new(helm_binary());
    let env = env();
    let mut failures = Vec::new();
    for case in &cases {
        let expected = parse(
            "expected.yaml",
            &std::fs::read(case.join("expected.yaml")).expect("expected.yaml"),
        );
        let ov = overrides(case);
        let options = KustomizeOptions {
            overrides: ov.as_ref(),
            helm: case.join("enable-helm").exists().then_some(&helm),
            env: Some(&env),
            ..KustomizeOptions::default()
        };
        let tree = LocalTree::new(case.join("input")).expect("input tree");
        match render_with(&tree, &app_path(case), &options) {
            Ok(actual) if actual == expected => {}
            Ok(actual) => failures.push(format!(
                "{}: output differs (- expected, + ours):\n{}",
                name(case),
                diff(&to_yaml(&expected), &to_yaml(&actual))
            )),
            Err(e) => failures.push(format!("{}: {e}", name(case))),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// Copies a directory tree.
fn copy(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn argo_expectations_are_up_to_date() {
    let work = tempfile::tempdir().expect("tempdir");
    // Kustomize v5.5 probes `helm version -c --short` and wants v3; the template runs are
    // Helm v4's (the same shim as scripts/update-kustomize-expectations).
    let shim = work.path().join("helm");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\nif [ \"$1\" = version ]; then echo v3.99.0; exit 0; fi\nexec '{}' \"$@\"\n",
            std::fs::canonicalize(helm_binary())
                .unwrap_or_else(|_| helm_binary())
                .display()
        ),
    )
    .expect("shim");
    let mut perms = std::fs::metadata(&shim).expect("shim").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&shim, perms).expect("chmod");

    let mut stale = Vec::new();
    for case in cases() {
        let build = work.path().join(name(&case));
        std::fs::create_dir_all(&build).expect("mkdir");
        copy(&case.join("input"), &build);
        if case.join("edited").exists() {
            copy(&case.join("edited"), &build);
        }
        let mut command = Command::new(kubectl());
        command.arg("kustomize");
        if case.join("enable-helm").exists() {
            command
                .arg("--enable-helm")
                .arg("--helm-command")
                .arg(&shim);
        }
        let out = command
            .arg(build.join(app_path(&case)))
            .output()
            .expect("run kubectl (it bundles Kustomize)");
        assert!(
            out.status.success(),
            "{}: kubectl kustomize failed: {}",
            name(&case),
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = std::fs::read(case.join("expected.yaml")).unwrap_or_default();
        if parse("kubectl", &out.stdout) != parse("expected.yaml", &expected) {
            stale.push(name(&case));
        }
    }
    assert!(
        stale.is_empty(),
        "stale expected.yaml (run scripts/update-kustomize-expectations): {stale:?}"
    );
}

fn build_with(
    dir: &tempfile::TempDir,
    ov: &str,
    helm: Option<&HelmRenderer>,
) -> Result<Vec<serde_json::Value>, KustomizeError> {
    let tree = LocalTree::new(dir.path().join("repo")).expect("tree");
    let ov: ApplicationSourceKustomize = yaml_serde::from_str(ov).expect("overrides");
    let env = env();
    let options = KustomizeOptions {
        overrides: Some(&ov),
        helm,
        env: Some(&env),
        ..KustomizeOptions::default()
    };
    render_with(&tree, "app", &options)
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n";

#[test]
fn overrides_refuse_what_kustomize_edit_refuses() {
    let dir = repo(&[
        (
            "app/kustomization.yaml",
            "resources: [cm.yaml]\ncommonLabels: {team: a}\ncommonAnnotations: {owner: a}\n",
        ),
        ("app/cm.yaml", CM),
        ("components/c/kustomization.yaml", "kind: Component\n"),
    ]);
    let err = |ov: &str| build_with(&dir, ov, None).unwrap_err().to_string();

    let e = err("commonLabels: {team: b}");
    assert!(
        e.contains("label team already in the kustomization file"),
        "{e}"
    );
    let e = err("commonAnnotations: {owner: b}");
    assert!(e.contains("annotation owner already"), "{e}");
    let e = err("commonLabels: {x: y}\nlabelIncludeTemplates: true");
    assert!(e.contains("labelWithoutSelector"), "{e}");
    let e = err("commonLabels: {x: \"not a valid value!\"}");
    assert!(e.starts_with("source.kustomize.commonLabels:"), "{e}");
    let e = err("namespace: Not_Valid");
    assert!(e.contains("not a valid namespace name"), "{e}");
    let e = err("images: [nginx]");
    assert!(e.contains("invalid format of image"), "{e}");
    let e = err("replicas: [{name: web, count: many}]");
    assert!(e.contains("expected an integer count"), "{e}");
    let e = err("components: [../components/none]");
    assert!(e.contains("../components/none has no match"), "{e}");
    let e = err("components: [../../outside]");
    assert!(e.contains("leaves the repository"), "{e}");
    let e = err("patches: [{path: ../../etc/passwd}]");
    assert!(e.contains("leaves the"), "{e}");

    // Ignored missing components, the others added; labels reach only metadata without
    // selector; a forced label replaces the kustomization's.
    let out = build_with(
        &dir,
        "components: [../components/none, ../components/c]\nignoreMissingComponents: true\n\
         commonLabels: {team: b}\nforceCommonLabels: true\ncommonAnnotations: {app: $ARGOCD_APP_NAME}",
        None,
    )
    .unwrap();
    assert_eq!(out[0]["metadata"]["labels"]["team"], "b");
    // Without commonAnnotationsEnvsubst the value is taken as written.
    assert_eq!(out[0]["metadata"]["annotations"]["app"], "$ARGOCD_APP_NAME");
}

#[test]
fn overrides_touch_only_the_root_kustomization() {
    let dir = repo(&[
        (
            "base/kustomization.yaml",
            "resources: [cm.yaml]\nnamePrefix: base-\n",
        ),
        ("base/cm.yaml", CM),
        ("app/kustomization.yaml", "resources: [../base]\n"),
    ]);
    let out = build_with(&dir, "namePrefix: argo-\nnamespace: apps", None).unwrap();
    assert_eq!(out[0]["metadata"]["name"], "argo-base-a");
    assert_eq!(out[0]["metadata"]["namespace"], "apps");
}

const CHART: &str = "apiVersion: v2\nname: web\nversion: 1.0.0\n";
const TEMPLATE: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  v: {{ .Values.v | quote }}\n";

#[test]
fn helm_charts_are_refused_without_helm_or_outside_the_repository() {
    let dir = repo(&[
        (
            "app/kustomization.yaml",
            "helmCharts:\n- name: web\n  releaseName: r\n",
        ),
        ("app/charts/web/Chart.yaml", CHART),
        ("app/charts/web/values.yaml", "v: a\n"),
        ("app/charts/web/templates/cm.yaml", TEMPLATE),
    ]);
    let err = build_with(&dir, "{}", None).unwrap_err();
    assert!(
        matches!(err, KustomizeError::HelmNotEnabled { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("app/kustomization.yaml"), "{err}");

    let helm = HelmRenderer::new(helm_binary());
    let out = build_with(&dir, "{}", Some(&helm)).unwrap();
    assert_eq!(out[0]["metadata"]["name"], "r");
    assert_eq!(out[0]["data"]["v"], "a");

    let case = |kustomization: &str| {
        let dir = repo(&[
            ("app/kustomization.yaml", kustomization),
            ("app/charts/web/Chart.yaml", CHART),
            ("app/charts/web/values.yaml", "v: a\n"),
            ("app/charts/web/templates/cm.yaml", TEMPLATE),
            ("shared/values.yaml", "v: b\n"),
        ]);
        build_with(&dir, "{}", Some(&helm)).unwrap_err().to_string()
    };
    let e =
        case("helmCharts:\n- name: redis\n  repo: https://charts.example.com\n  version: 1.2.3\n");
    assert!(
        e.contains("chart `redis` is not in the repository at app/charts/redis-1.2.3/redis")
            && e.contains("would pull it from https://charts.example.com"),
        "{e}"
    );
    let e = case("helmCharts:\n- name: nginx\n");
    assert!(
        e.contains("chart `nginx` is not in the repository at app/charts/nginx;"),
        "{e}"
    );
    let e = case("helmCharts:\n- name: web\n  valuesFile: ../shared/values.yaml\n");
    assert!(e.contains("leaves the kustomization directory"), "{e}");
    let e = case("helmCharts:\n- name: web\n  additionalValuesFiles: [/etc/passwd]\n");
    assert!(e.contains("absolute paths are refused"), "{e}");
    let e = case("helmGlobals:\n  chartHome: ../../x\nhelmCharts:\n- name: web\n");
    assert!(e.contains("leaves the repository"), "{e}");
    let e = case("helmCharts:\n- name: web\n  valuesMerge: deep\n  valuesInline: {v: c}\n");
    assert!(e.contains("valuesMerge `deep`"), "{e}");
    let e = case("helmCharts:\n- name: web\n  releaseName: a\n  nameTemplate: b\n");
    assert!(e.contains("nameTemplate"), "{e}");
    let dir = repo(&[
        ("app/kustomization.yaml", "helmCharts:\n- name: web\n"),
        ("app/charts/web/Chart.yaml", CHART),
        ("app/charts/web/templates/cm.yaml", TEMPLATE),
    ]);
    let e = build_with(&dir, "{}", Some(&helm)).unwrap_err().to_string();
    assert!(
        e.contains("app/charts/web/values.yaml: no such file"),
        "{e}"
    );
    let e = case("helmCharts:\n- name: web\n  devel: true\n");
    assert!(e.contains("devel"), "{e}");
}
