//! `ferry render DIR` against `kubectl kustomize DIR`, whole process, on three trees made
//! here: a trivial overlay, a 50-object overlay (namespace, prefix, labels, images, a
//! generator, a JSON patch) and a 4,000-resource tree; plus Ferry's in-process render time.
//! Outputs are checked equal (as parsed YAML) before timing.
//!
//! `cargo bench -p ferry --bench render` prints a Markdown table for docs/benchmarks.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ferry_render::kustomize;
use ferry_render::manifest::parse_documents;
use ferry_render::tree::LocalTree;

const FERRY: &str = env!("CARGO_BIN_EXE_ferry");

fn write(root: &Path, path: &str, body: &str) {
    let full = root.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, body).unwrap();
}

fn deployment(name: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: main\n        image: ghcr.io/example/{name}:1.0.0\n        envFrom:\n        - configMapRef:\n            name: settings\n"
    )
}

fn service(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector:\n    app: {name}\n  ports:\n  - port: 80\n    targetPort: 8080\n"
    )
}

fn trivial(root: &Path) {
    write(root, "base/deploy.yaml", &deployment("web"));
    write(
        root,
        "base/kustomization.yaml",
        "resources:\n- deploy.yaml\n",
    );
    write(
        root,
        "overlay/kustomization.yaml",
        "resources:\n- ../base\nnamePrefix: dev-\n",
    );
}

fn fifty(root: &Path) {
    let mut resources = String::from("resources:\n");
    for i in 0..24 {
        write(
            root,
            &format!("base/app{i}.yaml"),
            &format!(
                "{}---\n{}",
                deployment(&format!("app{i}")),
                service(&format!("app{i}"))
            ),
        );
        resources.push_str(&format!("- app{i}.yaml\n"));
    }
    write(
        root,
        "base/settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  a: b\n",
    );
    resources.push_str("- settings.yaml\n");
    write(root, "base/kustomization.yaml", &resources);
    let mut images = String::new();
    for i in 0..24 {
        images.push_str(&format!(
            "- name: ghcr.io/example/app{i}\n  newTag: 2.0.{i}\n"
        ));
    }
    write(
        root,
        "overlay/kustomization.yaml",
        &format!(
            "resources:\n- ../base\nnamespace: shop-dev\nnamePrefix: dev-\nlabels:\n- pairs:\n    env: dev\n  includeSelectors: true\nimages:\n{images}configMapGenerator:\n- name: settings\n  literals:\n  - LOG_LEVEL=debug\n  - FEATURE_X=on\npatches:\n- target:\n    kind: Deployment\n    name: app0\n  patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: 3\n"
        ),
    );
}

fn large(root: &Path) {
    let mut top = String::from("resources:\n");
    for d in 0..40 {
        let mut resources = String::from("resources:\n");
        for i in 0..50 {
            let name = format!("d{d}-app{i}");
            write(
                root,
                &format!("tree/d{d}/{name}.yaml"),
                &format!("{}---\n{}", deployment(&name), service(&name)),
            );
            resources.push_str(&format!("- {name}.yaml\n"));
        }
        write(root, &format!("tree/d{d}/kustomization.yaml"), &resources);
        top.push_str(&format!("- d{d}\n"));
    }
    write(
        root,
        "tree/settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n",
    );
    top.push_str("- settings.yaml\nnamespace: big\ncommonLabels:\n  team: platform\n");
    write(root, "tree/kustomization.yaml", &top);
}

fn time_process(runs: usize, program: &str, args: &[&str], dir: &Path) -> (Duration, Vec<u8>) {
    let mut times = Vec::new();
    let mut output = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let out = Command::new(program).args(args).arg(dir).output().unwrap();
        times.push(started.elapsed());
        assert!(
            out.status.success(),
            "{program}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        output = out.stdout;
    }
    (median(times), output)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// (label, fixture maker, directory to render, runs)
type Case = (&'static str, fn(&Path), &'static str, usize);

fn main() {
    let cases: [Case; 3] = [
        ("trivial overlay", trivial, "overlay", 15),
        ("50-object overlay", fifty, "overlay", 15),
        ("4,000-resource tree", large, "tree", 1),
    ];
    println!(
        "| tree | objects | `kubectl kustomize` | `ferry render` | whole-process speed-up | Ferry in-process |"
    );
    println!("|---|---|---|---|---|---|");
    for (label, make, dir, runs) in cases {
        let root = tempfile::tempdir().unwrap();
        make(root.path());
        // `ferry render` confines reads to the enclosing repository, as a repo-server does.
        assert!(
            Command::new("git")
                .args(["init", "-q"])
                .current_dir(root.path())
                .status()
                .unwrap()
                .success()
        );
        let target = root.path().join(dir);
        let (kubectl, theirs) = time_process(runs, "kubectl", &["kustomize"], &target);
        let (ferry, ours) = time_process(runs, FERRY, &["render"], &target);
        let theirs = parse_documents("kubectl", &theirs).unwrap();
        assert_eq!(
            parse_documents("ferry", &ours).unwrap(),
            theirs,
            "{label}: outputs differ"
        );
        let tree = LocalTree::new(root.path()).unwrap();
        let mut in_process = Vec::new();
        for _ in 0..runs.max(15) {
            let started = Instant::now();
            let objects = kustomize::render(&tree, dir).unwrap();
            in_process.push(started.elapsed());
            assert_eq!(objects.len(), theirs.len());
        }
        println!(
            "| {label} | {} | {} | {} | {:.1}× | {} |",
            theirs.len(),
            ms(kubectl),
            ms(ferry),
            kubectl.as_secs_f64() / ferry.as_secs_f64(),
            ms(median(in_process))
        );
    }
}
