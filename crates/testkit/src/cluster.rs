//! Ferry's embedded API server started in-process on a loopback port: [`TestCluster`] owns
//! its runtime and drives `kubectl` and raw HTTP against it from plain tests;
//! [`EmbeddedApi`] runs inside an async test and hands out `kube::Client`s.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use ferry_apiserver::{ApiServer, ServerConfig, TlsIdentity};
use ferry_store::Store;

use crate::kubectl;

/// The bearer token both servers accept.
pub const TOKEN: &str = "test-token-0123456789";

/// The embedded API server inside an async test, over plain HTTP on loopback, with the
/// namespaces a test names already created.
pub struct EmbeddedApi {
    /// The running server; [`ApiServer::objects`] seeds state behind the API's back.
    pub server: ApiServer,
}

impl EmbeddedApi {
    /// Starts a server on an in-memory store with `namespaces` created; simulated Pods
    /// become ready after 200 ms.
    pub async fn start(namespaces: &[&str]) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), TOKEN);
        config.sim.ready_after = Duration::from_millis(200);
        let server = ApiServer::start(Store::memory(), config).await.unwrap();
        server.objects().ensure_namespaces(namespaces).unwrap();
        Self { server }
    }

    /// A kube-rs client authenticated with [`TOKEN`].
    pub fn client(&self) -> kube::Client {
        let mut config =
            kube::Config::new(format!("http://{}", self.server.addr()).parse().unwrap());
        config.auth_info.token = Some(TOKEN.to_string().into());
        kube::Client::try_from(config).unwrap()
    }
}

/// An embedded API server on its own runtime, with a kubeconfig for kubectl.
pub struct TestCluster {
    runtime: tokio::runtime::Runtime,
    server: Option<ApiServer>,
    /// Where the server listens.
    pub addr: SocketAddr,
    /// A kubeconfig for the server, authenticated with [`TOKEN`], namespace `default`.
    pub kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCluster {
    /// An HTTPS server, as kubectl needs: it sends bearer tokens only over TLS.
    pub fn start() -> Self {
        Self::start_with(Store::memory(), true)
    }

    /// A plain HTTP server, for raw requests.
    pub fn start_plain() -> Self {
        Self::start_with(Store::memory(), false)
    }

    /// A server on `store`, over HTTPS when `tls` is set.
    pub fn start_with(store: Store, tls: bool) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut config = ServerConfig::new(listen, TOKEN);
        config.tls = tls.then(|| TlsIdentity::generate(&[]).unwrap());
        config.sim.ready_after = Duration::from_millis(200);
        let ca = config
            .tls
            .as_ref()
            .map(|t| base64::engine::general_purpose::STANDARD.encode(&t.ca_pem));
        let server = runtime.block_on(ApiServer::start(store, config)).unwrap();
        let addr = server.addr();
        server
            .objects()
            .ensure_namespaces(&["default", "kube-system"])
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster:\n    server: {scheme}://{addr}\n{ca_line}users:\n- name: t\n  user:\n    token: {TOKEN}\ncontexts:\n- name: t\n  context:\n    cluster: t\n    user: t\n    namespace: default\ncurrent-context: t\n",
                scheme = if ca.is_some() { "https" } else { "http" },
                ca_line = ca.map(|c| format!("    certificate-authority-data: {c}\n")).unwrap_or_default(),
            ),
        )
        .unwrap();
        Self {
            runtime,
            server: Some(server),
            addr,
            kubeconfig,
            _dir: dir,
        }
    }

    /// A kubectl command for this cluster, not yet run.
    pub fn kubectl_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(kubectl());
        c.arg("--kubeconfig").arg(&self.kubeconfig).args(args);
        // An empty cache directory per cluster: discovery must come from this server.
        c.env("KUBECACHEDIR", self._dir.path().join("cache"));
        c
    }

    /// Runs kubectl and returns its output, whatever the exit status.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_cmd(args).output().expect("kubectl runs")
    }

    /// Runs kubectl and returns stdout, failing the test with stderr on a non-zero exit.
    pub fn ok(&self, args: &[&str]) -> String {
        succeeded(args, self.kubectl(args))
    }

    /// Runs kubectl expecting failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            !out.status.success(),
            "kubectl {} unexpectedly succeeded",
            args.join(" ")
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Runs kubectl with `input` on stdin expecting failure; returns stderr.
    pub fn fails_stdin(&self, args: &[&str], input: &str) -> String {
        let out = self.stdin(args, input);
        assert!(
            !out.status.success(),
            "kubectl {} unexpectedly succeeded",
            args.join(" ")
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Runs kubectl with `input` on stdin.
    pub fn ok_stdin(&self, args: &[&str], input: &str) -> String {
        succeeded(args, self.stdin(args, input))
    }

    /// Runs kubectl with `input` on stdin and returns its output, whatever the exit status.
    pub fn stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .kubectl_cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs `task` on the cluster's runtime with an in-process client, as the controllers of
    /// `ferry up` have one.
    pub fn with_client<F: std::future::Future>(
        &self,
        task: impl FnOnce(kube::Client) -> F,
    ) -> F::Output {
        let server = self.server.as_ref().expect("the server runs until drop");
        self.runtime
            .block_on(async { task(server.in_process_client(TOKEN)).await })
    }

    /// A raw HTTP/1.1 request; returns (status, body).
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        raw_request(self.addr, method, path, headers, body)
    }

    /// Polls `check` until it returns true, for at most 20 s.
    pub fn eventually(&self, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if check() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}");
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

/// kubectl's stdout, failing the test with its output when it exited non-zero.
fn succeeded(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "kubectl {} failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sends one HTTP/1.1 request over a plain socket; returns the status and the body.
pub fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The `Authorization` header carrying [`TOKEN`].
pub fn auth() -> (&'static str, String) {
    ("Authorization", format!("Bearer {TOKEN}"))
}
