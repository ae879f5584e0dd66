//! A git smart-HTTP server for tests: `git http-backend` run as CGI behind a small axum
//! server on 127.0.0.1, with basic auth, push enabled, gzip request bodies (decoded by
//! http-backend itself via `HTTP_CONTENT_ENCODING`), a log of every request, and a switch
//! that makes requests for one repository hang (for timeout tests).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The user the server accepts.
pub const USER: &str = "ferry";
/// The password the server accepts; a canary that tests look for in logs and messages.
pub const PASSWORD: &str = "pw-CANARY-7f3a91";

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The HTTP method.
    pub method: String,
    /// Path after the repository, e.g. `/info/refs` or `/git-upload-pack`.
    pub path: String,
    /// The repository's name, without `.git`.
    pub repo: String,
    /// The query string.
    pub query: String,
    /// The status answered.
    pub status: u16,
    /// `Content-Encoding: gzip` on the request body.
    pub gzip: bool,
    /// The protocol v2 command (`ls-refs`, `fetch`) when the body is readable.
    pub command: Option<String>,
}

struct ServerState {
    root: PathBuf,
    seen: Mutex<Vec<Seen>>,
    stalled: Mutex<Option<String>>,
    auth: String,
}

/// A running git server; repositories live under [`GitServer::root`].
pub struct GitServer {
    /// Where the server listens.
    pub addr: SocketAddr,
    state: Arc<ServerState>,
    task: tokio::task::JoinHandle<()>,
    _root: tempfile::TempDir,
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GitServer {
    /// Starts a server with an empty root.
    pub async fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
        );
        let state = Arc::new(ServerState {
            root: root.path().to_path_buf(),
            seen: Mutex::new(Vec::new()),
            stalled: Mutex::new(None),
            auth,
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        GitServer {
            addr,
            state,
            task,
            _root: root,
        }
    }

    /// The directory repositories are served from (`<root>/<name>.git`).
    pub fn root(&self) -> &Path {
        &self.state.root
    }

    /// The URL of repository `name` (served from `<root>/<name>.git`).
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}.git", self.addr)
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Clears the request log.
    pub fn forget(&self) {
        self.state.seen.lock().unwrap().clear();
    }

    /// Makes every request for repository `name` hang (`None` lifts it).
    pub fn stall(&self, name: Option<&str>) {
        *self.state.stalled.lock().unwrap() = name.map(str::to_string);
    }
}

async fn handle(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    let method = parts.method.to_string();
    let body = axum::body::to_bytes(body, 256 << 20)
        .await
        .unwrap_or_default();
    let gzip = header_str(&parts.headers, header::CONTENT_ENCODING.as_str())
        .is_some_and(|e| e.contains("gzip"));
    let (repo, rest) = split_repo(&path);
    let command = (!gzip).then(|| find_command(&body)).flatten();
    let mut seen = Seen {
        method: method.clone(),
        path: rest.clone(),
        repo: repo.clone(),
        query: query.clone(),
        status: 0,
        gzip,
        command,
    };

    if state.stalled.lock().unwrap().as_deref() == Some(repo.as_str()) {
        seen.status = 0;
        state.seen.lock().unwrap().push(seen);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return StatusCode::GATEWAY_TIMEOUT.into_response();
    }

    let authorized =
        header_str(&parts.headers, header::AUTHORIZATION.as_str()).is_some_and(|a| a == state.auth);
    if !authorized {
        seen.status = 401;
        state.seen.lock().unwrap().push(seen);
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"git\""),
        );
        return response;
    }

    let response = cgi(&state, &parts.headers, &method, &path, &query, &body).await;
    seen.status = response.status().as_u16();
    state.seen.lock().unwrap().push(seen);
    response
}

/// `/name.git/info/refs` → (`name`, `/info/refs`).
fn split_repo(path: &str) -> (String, String) {
    match path.find(".git/") {
        Some(i) => (path[1..i].to_string(), path[i + 4..].to_string()),
        None => (path.trim_start_matches('/').to_string(), String::new()),
    }
}

/// The v2 command: the first pkt-line is `command=<name>`.
fn find_command(body: &[u8]) -> Option<String> {
    let len = usize::from_str_radix(std::str::from_utf8(body.get(..4)?).ok()?, 16).ok()?;
    let line = std::str::from_utf8(body.get(4..len)?).ok()?;
    Some(line.strip_prefix("command=")?.trim_end().to_string())
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn cgi(
    state: &ServerState,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> Response {
    let mut cmd = tokio::process::Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &state.root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_PROJECT_ROOT", &state.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REQUEST_METHOD", method)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_USER", USER)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "http.receivepack")
        .env("GIT_CONFIG_VALUE_0", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let Some(v) = header_str(headers, header::CONTENT_TYPE.as_str()) {
        cmd.env("CONTENT_TYPE", v);
    }
    if let Some(v) = header_str(headers, header::CONTENT_ENCODING.as_str()) {
        cmd.env("HTTP_CONTENT_ENCODING", v);
    }
    if let Some(v) = header_str(headers, "git-protocol") {
        cmd.env("GIT_PROTOCOL", v);
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let input = body.to_vec();
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&input).await;
    });
    let mut out = Vec::new();
    let _ = stdout.read_to_end(&mut out).await;
    let _ = writer.await;
    let _ = child.wait().await;

    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)));
    let Some((end, sep)) = split else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "bad CGI output").into_response();
    };
    let head = String::from_utf8_lossy(&out[..end]).into_owned();
    let mut response = Response::new(Body::from(out[end + sep..].to_vec()));
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value
                .split(' ')
                .next()
                .and_then(|c| c.parse().ok())
                .unwrap_or(500);
            *response.status_mut() =
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        } else if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}
