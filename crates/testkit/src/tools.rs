//! The command-line tools the tests run side by side with Ferry, found where
//! `scripts/install-test-deps` puts them, with the install hint when they are missing. Each
//! is looked up (and run once to check it works) once per test process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `helm`: `.tools/bin/helm` of this checkout (Helm v4 from `scripts/install-test-deps`),
/// else `helm` on PATH. Panics with the install hint when neither runs.
pub fn helm_binary() -> PathBuf {
    static HELM: OnceLock<PathBuf> = OnceLock::new();
    HELM.get_or_init(|| {
        let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/bin/helm");
        let binary = if local.exists() {
            local
        } else {
            PathBuf::from("helm")
        };
        assert!(
            Command::new(&binary).arg("version").output().is_ok(),
            "helm is missing: run scripts/install-test-deps (Helm v4 into .tools/bin)"
        );
        binary
    })
    .clone()
}

/// `kubectl`: `$KUBECTL`, else `kubectl` on PATH. Panics with the install hint when it does
/// not run.
pub fn kubectl() -> String {
    static KUBECTL: OnceLock<String> = OnceLock::new();
    KUBECTL
        .get_or_init(|| {
            let path = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
            let found = Command::new(&path).arg("version").arg("--client").output();
            assert!(
                found.is_ok_and(|o| o.status.success()),
                "kubectl not found: install kubectl v1.32+ (scripts/install-test-deps) or set KUBECTL"
            );
            path
        })
        .clone()
}
