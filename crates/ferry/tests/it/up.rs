//! `ferry up`: the printed kubeconfig works with kubectl, Argo CD's kinds and the `default`
//! AppProject are there, `ferry apply/get/delete` work, state survives a restart, SIGTERM
//! stops it cleanly, extra clusters are independent, and `ferry install crds` prepares one.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use ferry_testkit::kubectl;

const FERRY: &str = env!("CARGO_BIN_EXE_ferry");

pub(super) struct Up {
    child: Child,
    pub(super) kubeconfigs: Vec<PathBuf>,
    /// Where the web endpoints listen.
    pub(super) web: Option<std::net::SocketAddr>,
}

impl Up {
    pub(super) fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(FERRY)
            .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("HOME", data_dir)
            .env("FERRY_HELM", ferry_testkit::tools::helm_binary())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ferry runs");
        let mut kubeconfigs = Vec::new();
        let mut web = None;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(path) = line.trim().strip_prefix("kubeconfig") {
                kubeconfigs.push(PathBuf::from(path.trim()));
            }
            if let Some(rest) = line.trim().strip_prefix("web") {
                let addr = rest.trim().trim_start_matches("http://");
                web = addr.split_whitespace().next().and_then(|a| a.parse().ok());
            }
            if line.starts_with("Try:") {
                break;
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        assert!(!kubeconfigs.is_empty(), "ferry up printed no kubeconfig");
        Self {
            child,
            kubeconfigs,
            web,
        }
    }

    /// SIGKILL: the process gets no chance to tidy up.
    pub(super) fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub(super) fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id() as libc::pid_t;
        // SIGTERM, as a service manager would send.
        assert_eq!(
            std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .unwrap()
                .code(),
            Some(0)
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "ferry up did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub(super) fn run(cmd: &str, args: &[&str], kubeconfig: &Path) -> Output {
    Command::new(cmd)
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .output()
        .unwrap()
}

pub(super) fn ok(cmd: &str, args: &[&str], kubeconfig: &Path) -> String {
    let out = run(cmd, args, kubeconfig);
    assert!(
        out.status.success(),
        "{cmd} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn up_serves_kubectl_and_keeps_state_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(dir.path(), &[]);
    let kc = up.kubeconfigs[0].clone();
    assert_eq!(kc, dir.path().join("kubeconfig"));
    let ns = ok(&kubectl(), &["get", "ns"], &kc);
    assert!(ns.contains("default") && ns.contains("kube-system"), "{ns}");
    let project = ok(
        &kubectl(),
        &["get", "appproj", "default", "-n", "argocd", "-o", "name"],
        &kc,
    );
    assert_eq!(project.trim(), "appproject.argoproj.io/default");

    let manifest = dir.path().join("app.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\ndata:\n  color: blue\n",
    )
    .unwrap();
    let out = ok(FERRY, &["apply", "-f", manifest.to_str().unwrap()], &kc);
    assert_eq!(
        out,
        "namespace/shop serverside-applied\nconfigmap/settings serverside-applied\n"
    );
    let got = ok(
        FERRY,
        &["get", "cm", "settings", "-n", "shop", "-o", "json"],
        &kc,
    );
    let got: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(got["data"]["color"], "blue");
    let table = ok(FERRY, &["get", "configmaps", "-n", "shop"], &kc);
    assert!(
        table.starts_with("NAME") && table.contains("settings"),
        "{table}"
    );

    // Bad input: a clear error, nothing applied.
    std::fs::write(&manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n").unwrap();
    let out = run(FERRY, &["apply", "-f", manifest.to_str().unwrap()], &kc);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("metadata.name is required"));
    let out = run(FERRY, &["get", "nosuchkind"], &kc);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("doesn't have a resource type \"nosuchkind\"")
    );

    assert!(up.stop().success(), "ferry up exits 0 on SIGTERM");

    let up = Up::start(dir.path(), &[]);
    let kc = up.kubeconfigs[0].clone();
    let got = ok(
        &kubectl(),
        &[
            "get",
            "cm",
            "settings",
            "-n",
            "shop",
            "-o",
            "jsonpath={.data.color}",
        ],
        &kc,
    );
    assert_eq!(got, "blue");
    let out = ok(FERRY, &["delete", "cm", "settings", "-n", "shop"], &kc);
    assert_eq!(out, "configmap \"settings\" deleted\n");
    assert!(up.stop().success());
}

#[test]
fn one_server_per_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(dir.path(), &[]);
    let out = Command::new(FERRY)
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another `ferry up` is using"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    up.stop();
}

#[test]
fn extra_clusters_are_independent() {
    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(dir.path(), &["--clusters", "2"]);
    assert_eq!(up.kubeconfigs.len(), 3);
    let manifest = dir.path().join("ns.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: only-in-first\n",
    )
    .unwrap();
    ok(
        FERRY,
        &["apply", "-f", manifest.to_str().unwrap()],
        &up.kubeconfigs[1],
    );
    let first = ok(&kubectl(), &["get", "ns", "-o", "name"], &up.kubeconfigs[1]);
    let second = ok(&kubectl(), &["get", "ns", "-o", "name"], &up.kubeconfigs[2]);
    assert!(
        first.contains("namespace/only-in-first") && !second.contains("only-in-first"),
        "{first}\n{second}"
    );
    up.stop();
}

#[test]
fn install_crds_prepares_another_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(dir.path(), &["--clusters", "1"]);
    let other = &up.kubeconfigs[1];
    let absent = run(&kubectl(), &["get", "applications", "-A"], other);
    assert!(
        !absent.status.success(),
        "an extra cluster starts without Argo CD's kinds"
    );

    let crds = Command::new(FERRY)
        .args(["install", "crds"])
        .output()
        .unwrap();
    assert!(crds.status.success());
    let text = String::from_utf8(crds.stdout).unwrap();
    let files = ["applications", "applicationsets", "appprojects"].map(|plural| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../../manifests/crds/{plural}.argoproj.io.yaml"));
        std::fs::read_to_string(path).unwrap()
    });
    assert_eq!(
        text,
        files.join("---\n"),
        "the printed CRDs are the committed files"
    );

    let mut apply = Command::new(kubectl())
        .args(["apply", "--server-side", "-f", "-", "--kubeconfig"])
        .arg(other)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut apply.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let applied = apply.wait_with_output().unwrap();
    assert!(applied.status.success());
    assert_eq!(
        String::from_utf8_lossy(&applied.stdout),
        "customresourcedefinition.apiextensions.k8s.io/applications.argoproj.io serverside-applied\n\
         customresourcedefinition.apiextensions.k8s.io/applicationsets.argoproj.io serverside-applied\n\
         customresourcedefinition.apiextensions.k8s.io/appprojects.argoproj.io serverside-applied\n"
    );
    let listed = ok(&kubectl(), &["get", "applications", "-A"], other);
    assert!(listed.is_empty(), "{listed}");
    up.stop();
}
