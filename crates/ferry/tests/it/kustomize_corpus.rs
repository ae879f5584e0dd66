//! The shared Kustomize differential corpus (`../shared/corpus/kustomize`: 306 cases from
//! Kustomize's own end-to-end tests, expected outputs from `kubectl kustomize` 1.35 /
//! Kustomize 5.7.1) through `ferry render`, with its own runner. The number passing may
//! only grow: [`PASSING`] is the figure `docs/benchmarks.md` reports, and a change that
//! loses a case fails here with the runner's line for it.

use std::path::Path;
use std::process::Command;

/// Cases `ferry render` gets right today (of 306); raise it as more pass.
const PASSING: usize = 301;

#[test]
fn shared_kustomize_corpus_passes() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/kustomize");
    assert!(
        corpus.join("run").exists(),
        "the shared Kustomize corpus is missing at {}: it ships beside the repository (../shared)",
        corpus.display()
    );
    let out = Command::new(corpus.join("run"))
        .arg(env!("CARGO_BIN_EXE_ferry"))
        .output()
        .expect("run the corpus runner");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout.lines().last().unwrap_or_default();
    let passed: usize = summary
        .split_once(" passed")
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no summary from the runner: {summary}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(
        passed >= PASSING,
        "{summary}: fewer than the {PASSING} that passed before:\n{stdout}"
    );
}
