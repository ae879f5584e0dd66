//! The Kustomize corpus: every `testdata/kustomize/<case>/input` is rendered natively and
//! its YAML compared byte for byte with `expected.yaml`, which
//! `scripts/update-kustomize-expectations` produced with `kubectl kustomize`.

use std::path::{Path, PathBuf};
use std::process::Command;

use ferry_render::kustomize::{
    DEFAULT_MAX_OUTPUT, KustomizeError, KustomizeOptions, render, render_with,
};
use ferry_render::manifest::parse_documents;
use ferry_render::tree::LocalTree;
use serde_json::Value;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/kustomize")
}

fn cases() -> Vec<PathBuf> {
    cases_in(&corpus())
}

/// The case directories of a corpus, sorted.
pub(crate) fn cases_in(corpus: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(corpus)
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

pub(crate) fn parse(name: &str, bytes: &[u8]) -> Vec<Value> {
    parse_documents(name, bytes).unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) fn to_yaml(docs: &[Value]) -> String {
    ferry_render::manifest::to_yaml_stream(docs)
}

/// A line diff of two YAML streams (changed lines with three lines of context).
pub(crate) fn diff(expected: &str, actual: &str) -> String {
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
        let expected = std::fs::read_to_string(case.join("expected.yaml")).expect("expected.yaml");
        let tree = LocalTree::new(case.join("input")).expect("input tree");
        match render(&tree, "").map(|docs| to_yaml(&docs)) {
            Ok(actual) if actual == expected => {}
            Ok(actual) => failures.push(format!(
                "{name}: output differs (- expected, + ours):\n{}",
                diff(&expected, &actual)
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
pub(crate) fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
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

    let dir = repo(&[("kustomization.yaml", "validators: []\n")]);
    let err = build(&dir, "").unwrap_err();
    assert!(
        matches!(err, KustomizeError::UnsupportedField { .. }),
        "{err}"
    );

    let dir = repo(&[("kustomization.yaml", "helmCharts:\n- name: x\n")]);
    let err = build(&dir, "").unwrap_err();
    assert!(
        matches!(err, KustomizeError::HelmNotEnabled { .. }),
        "{err}"
    );

    let dir = repo(&[("kustomization.yaml", "images:\n- name: a\n  newTagg: b\n")]);
    let err = build(&dir, "").unwrap_err();
    assert!(err.to_string().contains("newTagg"), "{err}");

    let dir = repo(&[("kustomization.yaml", "resources: [\n")]);
    let err = build(&dir, "").unwrap_err();
    assert!(err.to_string().starts_with("kustomization.yaml:"), "{err}");
}

fn build_limited(dir: &tempfile::TempDir, max_output: usize) -> Result<Vec<Value>, KustomizeError> {
    let tree = LocalTree::new(dir.path().join("repo")).expect("tree");
    let options = KustomizeOptions {
        max_output: Some(max_output),
        ..KustomizeOptions::default()
    };
    render_with(&tree, "", &options)
}

/// Twenty levels of overlays, each including the level below twice under two prefixes: a
/// tree of a few kilobytes whose build would be 2^20 copies of a 10 KB ConfigMap (10 GB).
fn doubling_overlays(levels: usize) -> tempfile::TempDir {
    let data = "x".repeat(10_000);
    let mut files = vec![
        (
            "l0/cm.yaml".to_string(),
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm}}\ndata: {{v: {data}}}\n"
            ),
        ),
        (
            "l0/kustomization.yaml".to_string(),
            "resources: [cm.yaml]\n".to_string(),
        ),
    ];
    for n in 1..=levels {
        for half in ["a", "b"] {
            files.push((
                format!("l{n}/{half}/kustomization.yaml"),
                format!("resources: [../../l{}]\nnamePrefix: {half}-\n", n - 1),
            ));
        }
        files.push((
            format!("l{n}/kustomization.yaml"),
            "resources: [a, b]\n".to_string(),
        ));
    }
    files.push((
        "kustomization.yaml".to_string(),
        format!("resources: [l{levels}]\n"),
    ));
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    repo(&borrowed)
}

#[test]
fn builds_stop_at_the_output_limit() {
    let dir = doubling_overlays(20);
    let tree = LocalTree::new(dir.path().join("repo")).expect("tree");
    let err = render(&tree, "").unwrap_err();
    assert!(matches!(err, KustomizeError::TooLarge { .. }), "{err}");
    assert!(
        err.to_string().contains(&DEFAULT_MAX_OUTPUT.to_string()),
        "{err}"
    );

    // The limit is the caller's: 2^4 copies fit in 1 MiB, 2^7 do not.
    let dir = doubling_overlays(4);
    assert_eq!(build_limited(&dir, 1 << 20).unwrap().len(), 16);
    let dir = doubling_overlays(7);
    let err = build_limited(&dir, 1 << 20).unwrap_err();
    assert!(matches!(err, KustomizeError::TooLarge { .. }), "{err}");
}

#[test]
fn generators_and_patches_cannot_amplify_past_the_limit() {
    // One 100 KB file under 400 keys: 40 MB of ConfigMap from a 100 KB tree.
    let files: Vec<String> = (0..400).map(|i| format!("k{i}=big.txt")).collect();
    let big = "y".repeat(100_000);
    let kustomization = format!(
        "configMapGenerator:\n- name: big\n  files: [{}]\n",
        files.join(", ")
    );
    let dir = repo(&[("kustomization.yaml", &kustomization), ("big.txt", &big)]);
    let err = build_limited(&dir, 4 << 20).unwrap_err();
    assert!(matches!(err, KustomizeError::TooLarge { .. }), "{err}");

    // A 50 KB patch applied to 2000 small ConfigMaps: 100 MB.
    let cms: String = (0..2000)
        .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm{i}}}\n"))
        .collect();
    let patch = format!(
        "- op: add\n  path: /data\n  value: {{blob: {}}}\n",
        "z".repeat(50_000)
    );
    let dir = repo(&[
        ("cms.yaml", &cms),
        ("blob.yaml", &patch),
        (
            "kustomization.yaml",
            "resources: [cms.yaml]\npatches:\n- path: blob.yaml\n  target: {kind: ConfigMap}\n",
        ),
    ]);
    let err = build_limited(&dir, 8 << 20).unwrap_err();
    assert!(matches!(err, KustomizeError::TooLarge { .. }), "{err}");
    assert!(build_limited(&dir, 200 << 20).is_ok());
}

/// A few hundred bytes of YAML whose aliases expand to 9^9 nodes, under `key`.
fn alias_bomb(key: &str) -> String {
    let mut bomb = format!("{key}:\n  a: &a [x, x, x, x, x, x, x, x, x]\n");
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        bomb.push_str(&format!(
            "  {name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    bomb
}

#[test]
fn yaml_alias_bombs_are_refused() {
    let check = |files: &[(&str, &str)], names: &str| {
        let dir = repo(files);
        let err = build(&dir, "").unwrap_err();
        assert!(err.to_string().contains(names), "{err}");
    };
    // In the kustomization itself.
    check(
        &[(
            "kustomization.yaml",
            &format!("resources: []\n{}", alias_bomb("metadata")),
        )],
        "kustomization.yaml",
    );
    // In a resource.
    let resource = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\n{}",
        alias_bomb("data")
    );
    check(
        &[
            ("kustomization.yaml", "resources: [cm.yaml]\n"),
            ("cm.yaml", &resource),
        ],
        "cm.yaml",
    );
    // In a patch file (strategic merge) and in an inline patch.
    let patch = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\n{}",
        alias_bomb("data")
    );
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n";
    check(
        &[
            (
                "kustomization.yaml",
                "resources: [cm.yaml]\npatches:\n- path: patch.yaml\n",
            ),
            ("cm.yaml", cm),
            ("patch.yaml", &patch),
        ],
        "patch.yaml",
    );
    let inline: String = patch.lines().map(|l| format!("    {l}\n")).collect();
    check(
        &[
            (
                "kustomization.yaml",
                &format!("resources: [cm.yaml]\npatches:\n- patch: |\n{inline}"),
            ),
            ("cm.yaml", cm),
        ],
        "inline patch",
    );
}

const TWO_DEPLOYMENTS: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n---\n\
     apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: other}\n";

#[test]
fn patches_renaming_onto_another_resource_are_errors() {
    // kubectl kustomize: "may not add resource with an already registered id:
    // Deployment.v1.apps/other.[noNs]", for a rename the options allow and for a JSON 6902 one.
    let allowed = "resources: [r.yaml]\npatches:\n- target: {kind: Deployment, name: web}\n  \
                   patch: |\n    kind: Deployment\n    metadata: {name: other}\n  \
                   options: {allowNameChange: true}\n";
    let json6902 = "resources: [r.yaml]\npatches:\n- target: {kind: Deployment, name: web}\n  \
                    patch: '[{op: replace, path: /metadata/name, value: other}]'\n";
    for kustomization in [allowed, json6902] {
        let dir = repo(&[
            ("kustomization.yaml", kustomization),
            ("r.yaml", TWO_DEPLOYMENTS),
        ]);
        let err = build(&dir, "").unwrap_err();
        assert_eq!(
            err.to_string(),
            "kustomization.yaml: may not add resource with an already registered id: \
             Deployment other",
            "{kustomization}"
        );
    }
    // Without the option the same patch keeps the name: no clash.
    let dir = repo(&[
        (
            "kustomization.yaml",
            &allowed.replace("allowNameChange: true", "allowNameChange: false"),
        ),
        ("r.yaml", TWO_DEPLOYMENTS),
    ]);
    let names: Vec<String> = build(&dir, "")
        .expect("build")
        .iter()
        .map(|o| {
            o["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["other", "web"]);
}

#[test]
fn unknown_patch_options_are_errors() {
    let dir = repo(&[
        (
            "kustomization.yaml",
            "resources: [r.yaml]\npatches:\n- target: {kind: Deployment}\n  \
             patch: '[]'\n  options: {allowNamespaceChange: true}\n",
        ),
        ("r.yaml", TWO_DEPLOYMENTS),
    ]);
    let err = build(&dir, "").unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown option `allowNamespaceChange`"),
        "{err}"
    );
}

#[test]
fn labels_fields_conflicts_and_non_maps_are_errors() {
    let widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n";
    // kubectl kustomize: "failed to merge labels: conflicting fieldspecs" (the default
    // metadata/labels spec has create: true).
    let dir = repo(&[
        (
            "kustomization.yaml",
            "resources: [r.yaml]\nlabels:\n- pairs: {team: blue}\n  fields:\n  \
             - {path: metadata/labels, create: false}\n",
        ),
        ("r.yaml", widget),
    ]);
    let err = build(&dir, "").unwrap_err();
    assert!(
        err.to_string().starts_with(
            "kustomization.yaml: labels: failed to merge labels: conflicting fieldspecs"
        ),
        "{err}"
    );
    // kubectl kustomize: "considering field 'metadata/name' of object Widget.v1.example.com/w:
    // wrong node kind: expected MappingNode but got ScalarNode".
    let dir = repo(&[
        (
            "kustomization.yaml",
            "resources: [r.yaml]\nlabels:\n- pairs: {team: blue}\n  fields:\n  \
             - {path: metadata/name}\n",
        ),
        ("r.yaml", widget),
    ]);
    let err = build(&dir, "").unwrap_err();
    assert_eq!(
        err.to_string(),
        "kustomization.yaml: considering field 'metadata/name' of object Widget w: expected a map"
    );
    // An unknown key of a field spec is refused, as kubectl refuses it.
    let dir = repo(&[
        (
            "kustomization.yaml",
            "resources: [r.yaml]\nlabels:\n- pairs: {team: blue}\n  fields:\n  \
             - {path: spec/x, kindd: Widget}\n",
        ),
        ("r.yaml", widget),
    ]);
    let err = build(&dir, "").unwrap_err();
    assert!(err.to_string().contains("kindd"), "{err}");
}

const VAR_SOURCES: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: a}\n---\n\
     apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: b}\n---\n\
     apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n\
     spec: {containers: [{name: c, image: x, args: [$(V)]}]}\n";

fn vars_error(vars: &str) -> String {
    let dir = repo(&[
        (
            "kustomization.yaml",
            &format!("resources: [r.yaml]\nvars:\n{vars}"),
        ),
        ("r.yaml", VAR_SOURCES),
    ]);
    build(&dir, "").unwrap_err().to_string()
}

#[test]
fn vars_errors_are_worded_as_kustomize_words_them() {
    // Each message is kubectl kustomize's, after the file name.
    assert_eq!(
        vars_error("- {name: V, objref: {kind: Service, name: db, namespace: a}}\n"),
        "kustomization.yaml: var '{V Service.[noVer].[noGrp] {metadata.name}}' cannot be \
         mapped to a field in the set of known resources"
    );
    assert_eq!(
        vars_error("- {name: V, objref: {kind: Service, name: db, apiVersion: v1}}\n"),
        "kustomization.yaml: merging vars [{V Service.[noVer].[noGrp] {}}]: found 2 resId \
         matches for var {V Service.v1.[noGrp] {}} (unable to disambiguate)"
    );
    assert_eq!(
        vars_error(
            "- {name: V, objref: {kind: Pod, name: p, apiVersion: v1}}\n\
             - {name: V, objref: {kind: Pod, name: p, apiVersion: v1}}\n"
        ),
        "kustomization.yaml: merging vars [{V Pod.[noVer].[noGrp] {}} \
         {V Pod.[noVer].[noGrp] {}}]: var 'V' already encountered"
    );
    assert_eq!(
        vars_error(
            "- {name: V, objref: {kind: Pod, name: p, apiVersion: v1}, \
             fieldref: {fieldpath: spec.nothing}}\n"
        ),
        "kustomization.yaml: field specified in var '{V Pod.v1.[noGrp] {spec.nothing}}' not \
         found in corresponding resource"
    );
    assert!(
        vars_error("- {name: V, objref: {kind: Pod, name: p, foo: 1}}\n").contains("foo"),
        "unknown objref keys are refused"
    );
}

#[test]
fn vars_of_nested_kustomizations_are_one_set() {
    // kubectl kustomize: "merging vars [{V Pod.[noVer].[noGrp] {}}]: var 'V' already
    // encountered": the overlay declares again a var of its base.
    let var = "vars:\n- {name: V, objref: {kind: Pod, name: p, apiVersion: v1}}\n";
    let dir = repo(&[
        (
            "base/kustomization.yaml",
            &format!("resources: [r.yaml]\n{var}"),
        ),
        ("base/r.yaml", VAR_SOURCES),
        (
            "kustomization.yaml",
            &format!("resources: [base]\nnamePrefix: x-\n{var}"),
        ),
    ]);
    let err = build(&dir, "").unwrap_err();
    assert_eq!(
        err.to_string(),
        "kustomization.yaml: merging vars [{V Pod.[noVer].[noGrp] {}}]: var 'V' already \
         encountered"
    );
    // Declared once, in the base: the overlay's prefix is in the value.
    let dir = repo(&[
        (
            "base/kustomization.yaml",
            &format!("resources: [r.yaml]\n{var}"),
        ),
        ("base/r.yaml", VAR_SOURCES),
        ("kustomization.yaml", "resources: [base]\nnamePrefix: x-\n"),
    ]);
    let pod = build(&dir, "")
        .expect("build")
        .into_iter()
        .find(|o| o["kind"] == "Pod")
        .expect("pod");
    assert_eq!(pod["spec"]["containers"][0]["args"][0], "x-p");
}
