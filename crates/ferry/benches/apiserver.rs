//! API server benchmark (not a test): starts `ferry up` as a separate process on a fresh
//! data directory and drives it over loopback HTTPS/1.1 keep-alive connections, measuring
//! creates/s, gets/s, a list of 10,000 objects, watch delivery to 100 watchers, and the
//! server's RSS (idle, at 10,000 and at 100,000 ConfigMaps of 1 KiB).
//!
//! Run: `cargo bench -p ferry --bench apiserver` (`FERRY_BENCH_LARGE=0` skips 100,000).
//! Results go to stdout as a Markdown table for docs/benchmarks.md.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier, mpsc};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;
use std::time::{Duration, Instant};

const FERRY: &str = env!("CARGO_BIN_EXE_ferry");

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, addr, token) = start(dir.path());
    let ca =
        std::fs::read_to_string(dir.path().join("tls/ca.crt")).expect("CA written by ferry up");
    let pid = server.id();
    std::thread::sleep(Duration::from_millis(500));
    let idle_rss = rss_kib(pid);
    let mut c = Conn::open(addr, &token, &ca);
    let mut rows: Vec<(String, String)> = Vec::new();

    c.request("POST", "/api/v1/namespaces", &namespace("bench"));
    let payload = "x".repeat(1024);

    // Creates, one client, sequential, durable (acknowledged) commits.
    let n = 10_000;
    let start = Instant::now();
    for i in 0..n {
        let (status, _) = c.request(
            "POST",
            "/api/v1/namespaces/bench/configmaps",
            &configmap(i, &payload),
        );
        assert_eq!(status, 201);
    }
    let create_secs = start.elapsed().as_secs_f64();
    rows.push((
        "creates/s (1 client, 1 KiB ConfigMaps)".into(),
        format!("{:.0}", n as f64 / create_secs),
    ));

    let start = Instant::now();
    for i in 0..n {
        let (status, _) = c.request(
            "GET",
            &format!("/api/v1/namespaces/bench/configmaps/cm-{i}"),
            "",
        );
        assert_eq!(status, 200);
    }
    rows.push((
        "gets/s (1 client)".into(),
        format!("{:.0}", n as f64 / start.elapsed().as_secs_f64()),
    ));

    let mut lists = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let (status, body) = c.request("GET", "/api/v1/namespaces/bench/configmaps", "");
        assert_eq!(status, 200);
        assert!(body.len() > n * 1024);
        lists.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    rows.push((
        "list of 10,000 ConfigMaps, median ms".into(),
        format!("{:.1}", median(&mut lists)),
    ));
    let kubectl = time_kubectl_list(dir.path());
    if let Some(ms) = kubectl {
        rows.push((
            "`kubectl get cm -o json` of the same 10,000 (whole process), median ms".into(),
            format!("{ms:.1}"),
        ));
    }

    let latencies = watch_fan_out(addr, &token, &ca, &mut c, 100, 20);
    let mut lat = latencies.clone();
    rows.push((
        "write sent → event at each of 100 watchers, median ms".into(),
        format!("{:.2}", median(&mut lat)),
    ));
    rows.push((
        "write sent → event at each of 100 watchers, p99 ms".into(),
        format!("{:.2}", percentile(&mut lat, 0.99)),
    ));

    rows.push((
        "RSS idle, MiB".into(),
        format!("{:.1}", idle_rss as f64 / 1024.0),
    ));
    rows.push((
        "RSS at 10,000 ConfigMaps, MiB".into(),
        format!("{:.1}", rss_kib(pid) as f64 / 1024.0),
    ));

    if std::env::var("FERRY_BENCH_LARGE").as_deref() != Ok("0") {
        for i in n..100_000 {
            let (status, _) = c.request(
                "POST",
                "/api/v1/namespaces/bench/configmaps",
                &configmap(i, &payload),
            );
            assert_eq!(status, 201);
        }
        let (_, body) = c.request("GET", "/api/v1/namespaces/bench/configmaps", "");
        let json_mib = body.len() as f64 / (1024.0 * 1024.0);
        rows.push((
            "JSON size of 100,000 ConfigMaps, MiB".into(),
            format!("{json_mib:.1}"),
        ));
        rows.push((
            "RSS at 100,000 ConfigMaps, MiB".into(),
            format!("{:.1}", rss_kib(pid) as f64 / 1024.0),
        ));
        rows.push((
            "RSS budget at 100,000 (2 × JSON + 50), MiB".into(),
            format!("{:.1}", 2.0 * json_mib + 50.0),
        ));
    }

    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let _ = server.wait();
    println!("| measure | value |\n|---|---|");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
}

fn start(dir: &Path) -> (Child, SocketAddr, String) {
    let mut child = Command::new(FERRY)
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("FERRY_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("ferry up runs");
    let mut addr = None;
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    for line in lines.by_ref() {
        let line = line.expect("stdout line");
        if let Some(url) = line.trim().strip_prefix("API server") {
            addr = url
                .trim()
                .strip_prefix("https://")
                .and_then(|a| a.parse().ok());
        }
        if line.starts_with("Try:") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let token = std::fs::read_to_string(dir.join("token")).expect("token");
    (
        child,
        addr.expect("address printed"),
        token.trim().to_string(),
    )
}

/// A minimal HTTPS/1.1 keep-alive client: the benchmark measures the server, not a client stack.
struct Conn {
    stream: BufReader<Tls>,
    addr: SocketAddr,
    token: String,
}

/// A TLS connection trusting the CA `ferry up` generated.
fn connect(addr: SocketAddr, ca: &str) -> Tls {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots
            .add(cert.expect("CA certificate"))
            .expect("trusted CA");
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("127.0.0.1").expect("server name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("TLS client");
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    rustls::StreamOwned::new(conn, tcp)
}

impl Conn {
    fn open(addr: SocketAddr, token: &str, ca: &str) -> Self {
        Self {
            stream: BufReader::new(connect(addr, ca)),
            addr,
            token: token.into(),
        }
    }

    fn request(&mut self, method: &str, path: &str, body: &str) -> (u16, String) {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            self.token,
            body.len()
        );
        self.stream
            .get_mut()
            .write_all(req.as_bytes())
            .expect("write");
        read_response(&mut self.stream)
    }
}

fn read_response(reader: &mut BufReader<Tls>) -> (u16, String) {
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("status line");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn namespace(name: &str) -> String {
    format!("{{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{{\"name\":\"{name}\"}}}}")
}

fn configmap(i: usize, payload: &str) -> String {
    format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"cm-{i}\"}},\"data\":{{\"payload\":\"{payload}\"}}}}"
    )
}

/// `watchers` connections watch the namespace; each of `writes` writes is timed from the
/// moment its request is sent to its arrival at every watcher (the commit included). Returns the latencies in ms.
fn watch_fan_out(
    addr: SocketAddr,
    token: &str,
    ca: &str,
    writer: &mut Conn,
    watchers: usize,
    writes: usize,
) -> Vec<f64> {
    let (_, list) = writer.request("GET", "/api/v1/namespaces/bench/configmaps?limit=1", "");
    let rv = list
        .split("\"resourceVersion\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or("0")
        .to_string();
    let ready = Arc::new(Barrier::new(watchers + 1));
    let (tx, rx) = mpsc::channel::<(usize, Instant)>();
    for _ in 0..watchers {
        let (ready, tx, token, rv, ca) = (
            ready.clone(),
            tx.clone(),
            token.to_string(),
            rv.clone(),
            ca.to_string(),
        );
        std::thread::spawn(move || {
            let mut stream = connect(addr, &ca);
            let req = format!(
                "GET /api/v1/namespaces/bench/configmaps?watch=1&resourceVersion={rv} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
            );
            stream.write_all(req.as_bytes()).expect("write");
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            loop {
                line.clear();
                reader.read_line(&mut line).expect("header");
                if line.trim_end().is_empty() {
                    break;
                }
            }
            ready.wait();
            let mut seen = 0;
            let mut line = String::new();
            while seen < writes {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                if let Some(rest) = line.split("\"name\":\"watch-").nth(1) {
                    let i: usize = rest
                        .split('"')
                        .next()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(usize::MAX);
                    let _ = tx.send((i, Instant::now()));
                    seen += 1;
                }
            }
        });
    }
    drop(tx);
    ready.wait();
    std::thread::sleep(Duration::from_millis(200));
    let mut sent = Vec::new();
    for i in 0..writes {
        let body = format!(
            "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"watch-{i}\"}}}}"
        );
        sent.push(Instant::now());
        let (status, _) = writer.request("POST", "/api/v1/namespaces/bench/configmaps", &body);
        assert_eq!(status, 201);
        std::thread::sleep(Duration::from_millis(20));
    }
    rx.iter()
        .take(watchers * writes)
        .map(|(i, at)| at.saturating_duration_since(sent[i]).as_secs_f64() * 1000.0)
        .collect()
}

/// `kubectl get cm -o json` over the same 10,000 objects, whole process, median of 3.
fn time_kubectl_list(dir: &Path) -> Option<f64> {
    let kubeconfig = dir.join("kubeconfig");
    let mut times = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let out = Command::new("kubectl")
            .args(["get", "cm", "-n", "bench", "-o", "json", "--kubeconfig"])
            .arg(&kubeconfig)
            .stdout(Stdio::null())
            .status()
            .ok()?;
        if !out.success() {
            return None;
        }
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    Some(median(&mut times))
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn median(v: &mut [f64]) -> f64 {
    percentile(v, 0.5)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}
