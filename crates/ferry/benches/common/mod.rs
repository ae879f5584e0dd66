//! What the `ferry up` benchmarks share: starting `ferry up` as its own process, a kube
//! client for it, object literals, the process's RSS.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const FERRY: &str = env!("CARGO_BIN_EXE_ferry");

/// A typed object from a JSON literal.
pub fn object<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> T {
    serde_json::from_value(body).expect("object")
}

/// A client for the kubeconfig `ferry up` wrote.
pub async fn client(kubeconfig: &Path) -> kube::Client {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig"),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("config");
    kube::Client::try_from(config).expect("client")
}

/// `ferry up` on `dir` (credentials over http allowed): the process, its kubeconfig and its
/// web address.
pub fn start(dir: &Path) -> (Child, PathBuf, String) {
    let mut child = Command::new(FERRY)
        .args([
            "up",
            "--listen",
            "127.0.0.1:0",
            "--allow-http-credentials",
            "--data-dir",
        ])
        .arg(dir)
        .env("FERRY_LOG", "warn")
        .env("HOME", dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("ferry up runs");
    let (mut kubeconfig, mut web) = (None, None);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    for line in lines.by_ref() {
        let line = line.expect("stdout line");
        if let Some(path) = line.trim().strip_prefix("kubeconfig") {
            kubeconfig.get_or_insert_with(|| PathBuf::from(path.trim()));
        }
        if let Some(rest) = line.trim().strip_prefix("web") {
            web = rest
                .trim()
                .trim_start_matches("http://")
                .split_whitespace()
                .next()
                .map(str::to_string);
        }
        if line.starts_with("Try:") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (
        child,
        kubeconfig.expect("kubeconfig printed"),
        web.expect("web address printed"),
    )
}

/// The resident memory of process `pid`.
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}
