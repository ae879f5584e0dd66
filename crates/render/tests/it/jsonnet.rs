//! Jsonnet in directory sources: every `testdata/jsonnet/<case>` (a repository whose
//! `directory.yaml` is the Application's `directory` block and whose `app/` is the source
//! path) is rendered and compared, as parsed YAML, with `expected.yaml`, which
//! `scripts/update-jsonnet-expectations` produced with the reference C++ Jsonnet. Then bad
//! input: escaping imports, runaway recursion, errors, oversized output.

use std::path::{Path, PathBuf};

use ferry_api::argocd::{ApplicationSourceDirectory, ApplicationSourceJsonnet, JsonnetVar};
use ferry_render::directory::{DirectoryError, render_directory, render_directory_with_limits};
use ferry_render::jsonnet::{JsonnetError, JsonnetLimits};
use ferry_render::manifest::parse_documents;
use ferry_render::tree::LocalTree;
use serde_json::Value;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/jsonnet")
}

#[test]
fn corpus_matches_the_reference_implementation() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 8, "{cases:?}");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let directory: ApplicationSourceDirectory =
            yaml_serde::from_slice(&std::fs::read(case.join("directory.yaml")).unwrap())
                .unwrap_or_else(|e| panic!("{name}/directory.yaml: {e}"));
        let expected = parse_documents(
            "expected.yaml",
            &std::fs::read(case.join("expected.yaml")).unwrap(),
        )
        .unwrap();
        let tree = LocalTree::new(case).unwrap();
        match render_directory(&tree, "app", &directory) {
            Ok(actual) if actual == expected => {}
            Ok(actual) => failures.push(format!(
                "{name}: differs\n--- expected\n{}\n--- actual\n{}",
                serde_json::to_string_pretty(&expected).unwrap(),
                serde_json::to_string_pretty(&actual).unwrap()
            )),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A repository in a temporary directory (`outside` is next to it, not in it).
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("repo")).unwrap();
        std::fs::write(dir.path().join("outside.libsonnet"), "{ secret: 's3cr3t' }").unwrap();
        for (path, body) in files {
            let full = dir.path().join("repo").join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, body).unwrap();
        }
        Repo { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn render(&self, directory: &ApplicationSourceDirectory) -> Result<Vec<Value>, DirectoryError> {
        render_directory(&LocalTree::new(self.root()).unwrap(), "app", directory)
    }

    fn error(&self, directory: &ApplicationSourceDirectory) -> String {
        match self.render(directory) {
            Ok(manifests) => panic!("rendered {manifests:?}"),
            Err(e) => e.to_string(),
        }
    }
}

fn main_jsonnet(code: &str) -> Repo {
    Repo::new(&[("app/main.jsonnet", code)])
}

fn plain() -> ApplicationSourceDirectory {
    ApplicationSourceDirectory::default()
}

fn with_jsonnet(jsonnet: ApplicationSourceJsonnet) -> ApplicationSourceDirectory {
    ApplicationSourceDirectory {
        jsonnet: Some(jsonnet),
        ..Default::default()
    }
}

#[test]
fn imports_cannot_leave_the_repository() {
    let up = main_jsonnet("(import '../../outside.libsonnet') { kind: 'ConfigMap' }");
    let err = up.error(&plain());
    assert!(err.starts_with("app/main.jsonnet: "), "{err}");
    assert!(err.contains("\"../../outside.libsonnet\""), "{err}");
    assert!(err.contains("path leaves the repository"), "{err}");

    let outside = Repo::new(&[]).dir.path().join("outside.libsonnet");
    let absolute = main_jsonnet(&format!("importstr '{}'", outside.display()));
    let err = absolute.error(&plain());
    assert!(err.contains("absolute paths leave the repository"), "{err}");

    let text =
        main_jsonnet("{ kind: 'ConfigMap', data: { s: importstr '../../../outside.libsonnet' } }");
    assert!(text.error(&plain()).contains("path leaves the repository"));

    let link = main_jsonnet("import 'link.libsonnet'");
    std::os::unix::fs::symlink(
        link.dir.path().join("outside.libsonnet"),
        link.root().join("app/link.libsonnet"),
    )
    .unwrap();
    let err = link.error(&plain());
    assert!(
        err.contains("app/link.libsonnet: path leaves the repository"),
        "{err}"
    );
    assert!(!err.contains("s3cr3t"), "{err}");

    let lib = with_jsonnet(ApplicationSourceJsonnet {
        libs: vec!["../..".into()],
        ..Default::default()
    });
    let err = main_jsonnet("import 'outside.libsonnet'").error(&lib);
    assert!(
        err.contains("libs: \"../..\" leaves the repository"),
        "{err}"
    );

    let missing = main_jsonnet("import 'nowhere.libsonnet'");
    let err = missing.error(&plain());
    assert!(
        err.contains("no such file next to it or in the library paths"),
        "{err}"
    );
}

#[test]
fn runaway_recursion_is_a_short_error() {
    let repo = main_jsonnet("local f(x) = f(x + 1) + 1;\nf(0)\n");
    let err = repo.error(&plain());
    assert!(
        err.starts_with("app/main.jsonnet: stack overflow: more than 500 nested calls"),
        "{err}"
    );
    assert!(
        err.contains("app/main.jsonnet:1:15: function <f> call ("),
        "{err}"
    );
    assert!(err.lines().count() < 25, "{err}");

    // Deep but finite recursion within a smaller limit fails the same way.
    let deep =
        main_jsonnet("local f(n) = if n == 0 then {kind: 'ConfigMap'} else f(n - 1);\nf(100)");
    let tree = LocalTree::new(deep.root()).unwrap();
    let tight = JsonnetLimits {
        max_stack: 50,
        ..Default::default()
    };
    let err = render_directory_with_limits(&tree, "app", &plain(), &tight).unwrap_err();
    assert!(
        err.to_string().contains("more than 50 nested calls"),
        "{err}"
    );
    let roomy = JsonnetLimits::default();
    assert_eq!(
        render_directory_with_limits(&tree, "app", &plain(), &roomy)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn runtime_and_syntax_errors_name_file_and_line() {
    let boom = Repo::new(&[
        (
            "app/main.jsonnet",
            "local lib = import 'lib.libsonnet';\n{\n  kind: lib.kind,\n}\n",
        ),
        ("app/lib.libsonnet", "{\n  kind: error 'boom',\n}\n"),
    ]);
    let err = boom.error(&plain());
    assert!(
        err.starts_with("app/main.jsonnet: runtime error: boom\n"),
        "{err}"
    );
    assert!(
        err.contains("\n  app/lib.libsonnet:2:9: error statement"),
        "{err}"
    );
    assert!(
        err.contains("\n  app/main.jsonnet:3:13: field <kind> access"),
        "{err}"
    );

    let syntax = main_jsonnet("{\n  a: [1,,\n}\n");
    let err = syntax.error(&plain());
    assert!(err.starts_with("app/main.jsonnet: syntax error: "), "{err}");
    assert!(err.contains("app/main.jsonnet:2:9"), "{err}");

    let tla = with_jsonnet(ApplicationSourceJsonnet {
        tlas: vec![JsonnetVar {
            name: "n".into(),
            value: "1 +".into(),
            code: true,
        }],
        ..Default::default()
    });
    let err = main_jsonnet("function(n) { kind: 'ConfigMap', n: n }").error(&tla);
    assert!(err.contains("syntax error"), "{err}");
    assert!(err.contains("<inline code>:1:"), "{err}");

    let unknown = main_jsonnet("{ kind: 'ConfigMap', env: std.extVar('env') }");
    assert!(unknown.error(&plain()).contains("env"));
}

#[test]
fn output_is_capped() {
    // A hundred thousand objects (several megabytes) against a cap of 64 KiB.
    let repo = main_jsonnet(
        "[{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm-%d' % i } } for i in std.range(1, 100000)]",
    );
    let tree = LocalTree::new(repo.root()).unwrap();
    let limits = JsonnetLimits {
        max_output_bytes: 64 << 10,
        ..Default::default()
    };
    let err = render_directory_with_limits(&tree, "app", &plain(), &limits).unwrap_err();
    assert!(
        matches!(
            &err,
            DirectoryError::Jsonnet(JsonnetError::OutputTooLarge { file, limit: 65536 })
                if file == "app/main.jsonnet"
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "app/main.jsonnet: output exceeds 65536 bytes"
    );

    // A single huge string counts too, with the default limit.
    let string =
        main_jsonnet("{ kind: 'ConfigMap', data: { big: std.repeat('x', 40 * 1024 * 1024) } }");
    let err = string.error(&plain());
    assert!(err.contains("output exceeds 33554432 bytes"), "{err}");
}

#[test]
fn output_must_be_objects_with_a_kind() {
    let cases = [
        (
            "[[{ kind: 'ConfigMap' }]]",
            "element 0 is an array, expected an object",
        ),
        (
            "'text'",
            "the output is a string, expected an object or an array of objects",
        ),
        ("[{ kind: 'ConfigMap' }, 3]", "element 1 is a number"),
        ("{ apiVersion: 'v1' }", "the object has no kind"),
        ("[{ kind: '' }]", "element 0: the object has no kind"),
        ("function() { kind: 'ConfigMap' }", ""),
        (
            "{ kind: 'ConfigMap', f: function(x) x }",
            "couldn't manifest a function",
        ),
    ];
    for (code, message) in cases {
        let repo = main_jsonnet(code);
        match repo.render(&plain()) {
            // A function without parameters is called, as with top-level arguments.
            Ok(manifests) if message.is_empty() => assert_eq!(manifests.len(), 1, "{code}"),
            Ok(manifests) => panic!("{code}: rendered {manifests:?}"),
            Err(e) => {
                let e = e.to_string();
                assert!(!message.is_empty() && e.contains(message), "{code}: {e}");
                assert!(e.starts_with("app/main.jsonnet: "), "{code}: {e}");
            }
        }
    }
}
