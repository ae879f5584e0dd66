//! The Kustomize corpus: every `testdata/kustomize/<case>/input` is rendered natively and
//! compared, as parsed YAML (documents in order), with `expected.yaml`, which
//! `scripts/update-kustomize-expectations` produced with `kubectl kustomize`.

use std::path::{Path, PathBuf};
use std::process::Command;

use ferry_render::kustomize::{KustomizeError, render};
use ferry_render::manifest::parse_documents;
use ferry_render::tree::LocalTree;
use serde_json::Value;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/kustomize")
}

fn cases() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

fn parse(name: &str, bytes: &[u8]) -> Vec<Value> {
    parse_documents(name, bytes).unwrap_or_else(|e| panic!("{e}"))
}

fn to_yaml(docs: &[Value]) -> String {
    ferry_render::manifest::to_yaml_stream(docs).unwrap_or_default()
}

/// A line diff of two YAML streams (changed lines with three lines of context).
fn diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let n = e.len().max(a.len());
    let differs = |i: usize| e.get(i) != a.get(i);
    let mut out = String::new();
    for i in 0..n {
        let near = (i.saturating_sub(3)..(i + 4).min(n)).any(differs);
        if !near {
            continue;
        }
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => out.push_str(&format!("  {x}\n")),
            (x, y) => {
                if let Some(x) = x {
                    out.push_str(&format!("- {x}\n"));
                }
                if let Some(y) = y {
                    out.push_str(&format!("+ {y}\n"));
                }
            }
        }
    }
    out
}

#[test]
fn corpus_matches_kubectl_kustomize() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let expected = parse(
            "expected.yaml",
            &std::fs::read(case.join("expected.yaml")).expect("expected.yaml"),
        );
        let tree = LocalTree::new(case.join("input")).expect("input tree");
        match render(&tree, "") {
            Ok(actual) if actual == expected => {}
            Ok(actual) => failures.push(format!(
                "{name}: output differs (- expected, + ours):\n{}",
                diff(&to_yaml(&expected), &to_yaml(&actual))
            )),
            Err(e) => failures.push(format!("{name}: {e}")),
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

#[test]
fn expectations_are_up_to_date() {
    let kubectl = Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output();
    assert!(
        kubectl.is_ok_and(|o| o.status.success()),
        "kubectl is needed to check the Kustomize expectations: install it (it bundles \
         Kustomize), e.g. `curl -LO https://dl.k8s.io/release/v1.32.0/bin/linux/amd64/kubectl \
         && install kubectl /usr/local/bin/`"
    );
    let mut stale = Vec::new();
    for case in cases() {
        let out = Command::new("kubectl")
            .arg("kustomize")
            .arg(case.join("input"))
            .output()
            .expect("run kubectl");
        let name = case
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        assert!(
            out.status.success(),
            "{name}: kubectl kustomize failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = std::fs::read(case.join("expected.yaml")).unwrap_or_default();
        if parse("kubectl", &out.stdout) != parse("expected.yaml", &expected) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale expected.yaml (run scripts/update-kustomize-expectations): {stale:?}"
    );
}

/// A temporary repository with the given files.
fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, content) in files {
        let p = dir.path().join("repo").join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }
    dir
}

fn build(dir: &tempfile::TempDir, at: &str) -> Result<Vec<Value>, KustomizeError> {
    let tree = LocalTree::new(dir.path().join("repo")).expect("tree");
    render(&tree, at)
}

#[test]
fn refuses_paths_leaving_the_repository() {
    let dir = repo(&[("app/kustomization.yaml", "resources:\n- ../../outside\n")]);
    let err = build(&dir, "app").unwrap_err();
    assert!(matches!(err, KustomizeError::Escapes { .. }), "{err}");
    assert!(err.to_string().contains("app/kustomization.yaml"), "{err}");

    let dir = repo(&[("kustomization.yaml", "resources:\n- /etc/passwd\n")]);
    let err = build(&dir, "").unwrap_err();
    assert!(err.to_string().contains("absolute"), "{err}");

    let dir = repo(&[(
        "kustomization.yaml",
        "resources:\n- https://github.com/x/y//base\n",
    )]);
    let err = build(&dir, "").unwrap_err();
    assert!(matches!(err, KustomizeError::Remote { .. }), "{err}");

    // A file of another directory is refused even inside the repository, as Kustomize does.
    let dir = repo(&[
        (
            "other/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        ),
        ("app/kustomization.yaml", "resources:\n- ../other/cm.yaml\n"),
    ]);
    let err = build(&dir, "app").unwrap_err();
    assert!(err.to_string().contains("kustomization directory"), "{err}");
    // ... and so is a missing one (the refusal comes before the lookup); a missing file of the
    // directory itself is reported by name.
    let dir = repo(&[(
        "app/kustomization.yaml",
        "resources:\n- ../other/none.yaml\n",
    )]);
    let err = build(&dir, "app").unwrap_err();
    assert!(err.to_string().contains("kustomization directory"), "{err}");
    let dir = repo(&[("app/kustomization.yaml", "resources:\n- none.yaml\n")]);
    let err = build(&dir, "app").unwrap_err();
    assert!(
        err.to_string()
            .contains("app/none.yaml: no such file or directory"),
        "{err}"
    );
}

#[test]
fn refuses_symlinks_pointing_outside() {
    let dir = repo(&[("kustomization.yaml", "resources:\n- link.yaml\n")]);
    std::fs::write(dir.path().join("secret.yaml"), "kind: Secret\n").expect("write");
    std::os::unix::fs::symlink("../secret.yaml", dir.path().join("repo/link.yaml"))
        .expect("symlink");
    let err = build(&dir, "").unwrap_err();
    assert!(err.to_string().contains("leaves the repository"), "{err}");
}

#[test]
fn refuses_cycles() {
    let dir = repo(&[
        ("a/kustomization.yaml", "resources:\n- ../b\n"),
        ("b/kustomization.yaml", "resources:\n- ../a\n"),
    ]);
    let err = build(&dir, "a").unwrap_err();
    assert!(matches!(err, KustomizeError::Cycle(_)), "{err}");
    assert_eq!(err.to_string(), "kustomization cycle: a -> b -> a");
}

#[test]
fn unknown_and_unsupported_fields_are_errors() {
    let dir = repo(&[("kustomization.yaml", "resources: []\nnamePrefx: a-\n")]);
    let err = build(&dir, "").unwrap_err();
    assert_eq!(
        err.to_string(),
        "kustomization.yaml: unknown field `namePrefx`"
    );

    let dir = repo(&[("kustomization.yaml", "vars: []\n")]);
    let err = build(&dir, "").unwrap_err();
    assert!(
        matches!(err, KustomizeError::UnsupportedField { .. }),
        "{err}"
    );

    let dir = repo(&[("kustomization.yaml", "helmCharts:\n- name: x\n")]);
    let err = build(&dir, "").unwrap_err();
    assert!(err.to_string().contains("not supported yet"), "{err}");

    let dir = repo(&[("kustomization.yaml", "images:\n- name: a\n  newTagg: b\n")]);
    let err = build(&dir, "").unwrap_err();
    assert!(err.to_string().contains("newTagg"), "{err}");

    let dir = repo(&[("kustomization.yaml", "resources: [\n")]);
    let err = build(&dir, "").unwrap_err();
    assert!(err.to_string().starts_with("kustomization.yaml:"), "{err}");
}
