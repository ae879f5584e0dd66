//! The generated built-in schema is up to date with its generator and sources.

use std::path::Path;
use std::process::Command;

#[test]
fn generated_builtin_schema_is_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let checked_in = root.join("crates/apiserver/src/builtin_schema.json");
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("builtin_schema.json");
    let out = Command::new("python3")
        .arg(root.join("scripts/gen-builtin-schema"))
        .arg("--out")
        .arg(&fresh)
        .output()
        .expect("python3 runs scripts/gen-builtin-schema");
    assert!(
        out.status.success(),
        "scripts/gen-builtin-schema failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fresh = std::fs::read_to_string(&fresh).unwrap();
    let checked_in = std::fs::read_to_string(&checked_in).unwrap();
    assert!(
        fresh == checked_in,
        "crates/apiserver/src/builtin_schema.json is stale: run scripts/gen-builtin-schema"
    );
}
