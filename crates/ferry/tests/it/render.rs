//! `ferry render DIR` as a user runs it: the type detected, multi-document YAML on stdout,
//! errors on stderr with the file.

use std::path::{Path, PathBuf};
use std::process::Command;

const FERRY: &str = env!("CARGO_BIN_EXE_ferry");

fn documents(yaml: &[u8]) -> Vec<serde_json::Value> {
    ferry_render::manifest::parse_documents("stdout", yaml).unwrap()
}

fn helm_binary() -> PathBuf {
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/bin/helm");
    if local.exists() {
        local
    } else {
        PathBuf::from("helm")
    }
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
    let out = Command::new(FERRY)
        .arg("render")
        .arg(first.join("input"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = std::fs::read(first.join("expected.yaml")).unwrap();
    assert_eq!(
        documents(&out.stdout),
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
