//! Running the `git` CLI: one place that builds every child's environment, passes
//! credentials, enforces the per-call timeout and turns failures into [`GitError`]s.
//!
//! Every child starts from an empty environment: a private `HOME` with no config,
//! `GIT_CONFIG_NOSYSTEM`, no terminal prompts, literal pathspecs and a protocol allowlist.
//! A username and password reach git only through `GIT_ASKPASS`, a script that echoes two
//! environment variables set on that one child — never argv, never a URL, never a file. An
//! SSH key reaches ssh as a private file that lives as long as the call ([`crate::ssh`]). Each child leads
//! its own process group, so a timeout (or a dropped future) kills git and its helpers
//! (`git-remote-https`) together. Whatever git prints is scrubbed of the password and of URL
//! userinfo before it reaches an error.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::{Child, Command};

use super::GitOptions;
use super::error::{GitError, GitResult};
use super::validate::RepoUrl;
use crate::credentials::Credentials;
use crate::ssh::{SshSession, write_known_hosts};
use crate::url::Scheme;

const ASKPASS: &str = "#!/bin/sh\n\
case \"$1\" in\n\
[Uu]sername*) printf '%s\\n' \"$FERRY_GIT_USERNAME\" ;;\n\
*) printf '%s\\n' \"$FERRY_GIT_PASSWORD\" ;;\n\
esac\n";

/// Environment variables passed through from Ferry's own environment: proxies and TLS
/// trust, which an operator sets for the whole process.
const PASSTHROUGH_ENV: &[&str] = &[
    "PATH",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "all_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
];

/// Runs git with Ferry's environment; shared by the cache and the worktrees.
#[derive(Debug)]
pub(crate) struct GitRunner {
    git: PathBuf,
    home: PathBuf,
    askpass: PathBuf,
    /// The known hosts SSH checks servers against ([`GitOptions::ssh_known_hosts`]).
    known_hosts: PathBuf,
    options: GitOptions,
}

/// One git invocation.
pub(crate) struct GitCall<'a> {
    pub op: &'static str,
    pub args: Vec<OsString>,
    /// Working directory (a worktree) or, with `bare`, the git dir.
    pub dir: Option<&'a Path>,
    pub bare: bool,
    /// The remote this call talks to, for messages and for credentials.
    pub url: &'a RepoUrl,
    pub creds: Option<&'a Credentials>,
    pub stdin: Option<Vec<u8>>,
    pub env: Vec<(&'static str, String)>,
    /// Whether the call talks to the network (its failures are then worth retrying).
    pub network: bool,
}

impl<'a> GitCall<'a> {
    pub fn new(op: &'static str, url: &'a RepoUrl) -> Self {
        GitCall {
            op,
            args: Vec::new(),
            dir: None,
            bare: false,
            url,
            creds: None,
            stdin: None,
            env: Vec::new(),
            network: false,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn git_dir(mut self, dir: &'a Path) -> Self {
        self.dir = Some(dir);
        self.bare = true;
        self
    }

    pub fn work_dir(mut self, dir: &'a Path) -> Self {
        self.dir = Some(dir);
        self.bare = false;
        self
    }

    /// Talks to the remote with these credentials.
    pub fn remote(mut self, creds: Option<&'a Credentials>) -> Self {
        self.creds = creds;
        self.network = true;
        self
    }

    pub fn stdin(mut self, input: Vec<u8>) -> Self {
        self.stdin = Some(input);
        self
    }

    pub fn env(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.env.push((key, value.into()));
        self
    }
}

/// What a finished git child produced.
pub(crate) struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl GitRunner {
    /// Prepares the private home (with the askpass script) under `home`.
    pub fn new(home: PathBuf, options: GitOptions) -> GitResult<Self> {
        std::fs::create_dir_all(&home).map_err(|e| GitError::io(&home, e))?;
        let askpass = home.join("askpass.sh");
        std::fs::write(&askpass, ASKPASS).map_err(|e| GitError::io(&askpass, e))?;
        std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| GitError::io(&askpass, e))?;
        let known_hosts = home.join("ssh_known_hosts");
        write_known_hosts(
            &known_hosts,
            options.ssh_known_hosts.as_deref().unwrap_or_default(),
        )
        .map_err(|e| GitError::io(&known_hosts, e))?;
        Ok(GitRunner {
            git: options.git_binary.clone(),
            home,
            askpass,
            known_hosts,
            options,
        })
    }

    pub fn options(&self) -> &GitOptions {
        &self.options
    }

    /// The child's command, and the SSH session it needs (to keep until it exits).
    fn command(&self, call: &GitCall<'_>) -> GitResult<(Command, Option<SshSession>)> {
        let mut cmd = Command::new(&self.git);
        cmd.env_clear();
        for key in PASSTHROUGH_ENV {
            if let Some(value) = std::env::var_os(key) {
                cmd.env(key, value);
            }
        }
        if std::env::var_os("PATH").is_none() {
            cmd.env("PATH", "/usr/local/bin:/usr/bin:/bin");
        }
        let mut protocols = String::from("https:http:ssh");
        if self.options.allow_file_urls {
            protocols.push_str(":file");
        }
        cmd.env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_LITERAL_PATHSPECS", "1")
            .env("GIT_ALLOW_PROTOCOL", protocols)
            .env("GIT_NO_REPLACE_OBJECTS", "1")
            .env("LC_ALL", "C")
            .env("LANGUAGE", "C");
        for (key, value) in &self.options.extra_env {
            cmd.env(key, value);
        }
        for (key, value) in &call.env {
            cmd.env(key, value);
        }
        // Neither hooks, a pager, nor signing, whatever a repository's files say.
        cmd.args([
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "credential.helper=",
            "-c",
            "core.pager=cat",
            "-c",
            "commit.gpgSign=false",
            "-c",
            "tag.gpgSign=false",
            "-c",
            "gc.autoDetach=false",
            "-c",
            "maintenance.autoDetach=false",
            "-c",
            "core.fsmonitor=false",
            "-c",
            "protocol.version=2",
        ]);
        if call.network {
            // Low-speed abort as a second line behind the per-call timeout.
            cmd.args(["-c", "http.lowSpeedLimit=1", "-c"]).arg(format!(
                "http.lowSpeedTime={}",
                self.options.timeout.as_secs().max(1)
            ));
        }
        let ssh = if call.network && call.url.scheme() == Scheme::Ssh {
            let session = SshSession::new(
                &self.home,
                &self.known_hosts,
                call.creds,
                self.options.timeout,
            )
            .map_err(|e| GitError::io(&self.home, e))?;
            cmd.env("GIT_SSH_COMMAND", &session.command)
                .env("GIT_SSH_VARIANT", "ssh");
            Some(session)
        } else {
            None
        };
        if let Some(creds) = call.creds.filter(|c| c.has_basic()) {
            if call.url.scheme() == Scheme::Http && !self.options.allow_http_credentials {
                return Err(GitError::InsecureCredentials {
                    url: call.url.to_string(),
                });
            }
            // Send them with the first request instead of after a 401 round trip.
            cmd.args(["-c", "http.proactiveAuth=basic"]);
            cmd.env("GIT_ASKPASS", &self.askpass)
                .env(
                    "FERRY_GIT_USERNAME",
                    creds.username.as_deref().unwrap_or_default(),
                )
                .env(
                    "FERRY_GIT_PASSWORD",
                    creds.password.as_deref().unwrap_or_default(),
                );
        }
        match (call.dir, call.bare) {
            (Some(dir), true) => {
                cmd.arg("--git-dir").arg(dir).current_dir(dir);
            }
            (Some(dir), false) => {
                cmd.current_dir(dir);
            }
            (None, _) => {
                cmd.current_dir(&self.home);
            }
        }
        cmd.args(&call.args);
        cmd.stdin(if call.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
        Ok((cmd, ssh))
    }

    /// Starts git with piped stdin/stdout/stderr for streaming use; the guard kills its
    /// process group when dropped unarmed.
    pub fn spawn(&self, call: &GitCall<'_>) -> GitResult<(Child, GroupGuard)> {
        let (mut cmd, ssh) = self.command(call)?;
        cmd.stdin(Stdio::piped());
        let child = cmd.spawn().map_err(|source| GitError::GitUnavailable {
            path: self.git.clone(),
            source,
        })?;
        let guard = GroupGuard::new(child.id(), ssh);
        Ok((child, guard))
    }

    /// Runs git to completion and returns whatever it produced, whatever its exit status.
    pub async fn run_raw(&self, call: GitCall<'_>) -> GitResult<Finished> {
        let (mut cmd, ssh) = self.command(&call)?;
        let mut child = cmd.spawn().map_err(|source| GitError::GitUnavailable {
            path: self.git.clone(),
            source,
        })?;
        let mut guard = GroupGuard::new(child.id(), ssh);
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let input = call.stdin.clone();
        let work = async {
            let write = async {
                if let (Some(mut pipe), Some(input)) = (stdin, input) {
                    // A child that exits early closes the pipe; its status tells the story.
                    let _ = pipe.write_all(&input).await;
                    drop(pipe);
                }
            };
            let read_out = async {
                let mut buf = Vec::new();
                if let Some(pipe) = stdout.as_mut() {
                    pipe.read_to_end(&mut buf).await?;
                }
                Ok::<_, std::io::Error>(buf)
            };
            let read_err = async {
                let mut buf = Vec::new();
                if let Some(pipe) = stderr.as_mut() {
                    // Keep the first 1 MiB (a server can send endless "remote:" lines), but
                    // drain the rest so git never blocks on a full pipe.
                    let mut chunk = [0u8; 8192];
                    loop {
                        let n = pipe.read(&mut chunk).await?;
                        if n == 0 {
                            break;
                        }
                        let room = (1usize << 20).saturating_sub(buf.len());
                        buf.extend_from_slice(&chunk[..n.min(room)]);
                    }
                }
                Ok::<_, std::io::Error>(buf)
            };
            let ((), out, err, status) = tokio::join!(write, read_out, read_err, child.wait());
            Ok::<_, std::io::Error>(Ok((status?, out?, err?)))
        };
        let finished = within(
            self.options.timeout,
            call.op,
            &call.url.to_string(),
            &self.git,
            work,
        )
        .await;
        let (status, stdout, stderr) = match finished {
            Ok(done) => done,
            Err(e) => {
                guard.kill();
                let _ = child.wait().await;
                return Err(e);
            }
        };
        guard.disarm();
        Ok(Finished {
            status,
            stdout,
            stderr: scrub(&String::from_utf8_lossy(&stderr), call.creds),
        })
    }

    /// Runs git and returns its stdout, or an error built from its stderr.
    pub async fn run(&self, call: GitCall<'_>) -> GitResult<Vec<u8>> {
        let op = call.op;
        let url = call.url.clone();
        let network = call.network;
        let started = std::time::Instant::now();
        let done = self.run_raw(call).await;
        if network && let Some(observer) = &self.options.observer {
            let failed = !done.as_ref().is_ok_and(|d| d.status.success());
            observer.remote_call(&url.to_string(), op, started.elapsed(), failed);
        }
        let done = done?;
        if done.status.success() {
            Ok(done.stdout)
        } else {
            Err(classify(op, &url, network, &done.stderr))
        }
    }
}

/// Turns git's complaint into an error that says what went wrong and whether to retry.
pub(crate) fn classify(op: &'static str, url: &RepoUrl, network: bool, stderr: &str) -> GitError {
    let lower = stderr.to_ascii_lowercase();
    let message = last_lines(stderr);
    if lower.contains("host key verification failed") {
        return GitError::HostKey {
            url: url.to_string(),
        };
    }
    if lower.contains("authentication failed")
        || lower.contains("permission denied (publickey")
        || lower.contains("could not read username")
        || lower.contains("could not read password")
        || lower.contains("the requested url returned error: 401")
        || lower.contains("the requested url returned error: 403")
    {
        return GitError::Auth {
            url: url.to_string(),
            detail: message,
        };
    }
    if (lower.contains("repository '") && lower.contains("not found"))
        || lower.contains("the requested url returned error: 404")
        || lower.contains("does not appear to be a git repository")
    {
        return GitError::RepositoryNotFound {
            url: url.to_string(),
        };
    }
    GitError::Command {
        op,
        url: url.to_string(),
        message,
        retryable: network && !lower.contains("not allowed"),
    }
}

/// The tail of git's stderr, enough to explain a failure without flooding a status field.
fn last_lines(stderr: &str) -> String {
    let trimmed = stderr.trim();
    let lines: Vec<&str> = trimmed.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(6)..].join("\n");
    if tail.len() > 2000 {
        let mut cut = tail.len() - 2000;
        while !tail.is_char_boundary(cut) {
            cut += 1;
        }
        tail[cut..].to_string()
    } else {
        tail
    }
}

/// Removes the password and any URL userinfo from text git printed.
pub(crate) fn scrub(text: &str, creds: Option<&Credentials>) -> String {
    let mut out = text.to_string();
    if let Some(password) = creds.and_then(|c| c.password.as_deref())
        && !password.is_empty()
    {
        out = out.replace(password, "***");
    }
    strip_userinfo(&out)
}

fn strip_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (before, after) = rest.split_at(pos + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c == '/' || c == '\'' || c == '"' || c.is_whitespace())
            .unwrap_or(after.len());
        match after[..end].rfind('@') {
            Some(at) => {
                out.push_str("***@");
                rest = &after[at + 1..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

/// Runs `work`, an exchange with a git child, for at most `timeout`: past it the result is a
/// [`GitError::Timeout`] naming `op` on `url`, and an I/O failure of the exchange is an error
/// on `path`. The caller still stops the child ([`GroupGuard`]) and reaps it.
pub(crate) async fn within<T>(
    timeout: std::time::Duration,
    op: &'static str,
    url: &str,
    path: &Path,
    work: impl Future<Output = std::io::Result<GitResult<T>>>,
) -> GitResult<T> {
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(GitError::io(path, e)),
        Err(_) => Err(GitError::Timeout {
            op,
            url: url.to_string(),
            timeout,
        }),
    }
}

/// Kills a child's whole process group unless disarmed.
pub(crate) struct GroupGuard {
    pid: Option<u32>,
    /// The SSH key and settings of the call, removed with the guard.
    _ssh: Option<SshSession>,
}

impl GroupGuard {
    fn new(pid: Option<u32>, ssh: Option<SshSession>) -> Self {
        GroupGuard { pid, _ssh: ssh }
    }

    pub fn kill(&mut self) {
        if let Some(pid) = self.pid.take()
            && let Some(pid) = i32::try_from(pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }

    pub fn disarm(&mut self) {
        self.pid = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use ferry_api::Classify;

    use super::*;

    #[test]
    fn scrub_removes_password_and_userinfo() {
        let creds = Credentials::basic("alice", "s3cr3t-CANARY");
        let text = "fatal: unable to access 'https://alice:s3cr3t-CANARY@host/r.git/': \
                    auth s3cr3t-CANARY; see http://bob@other/x and https://a:b@c";
        let out = scrub(text, Some(&creds));
        assert!(!out.contains("CANARY"), "{out}");
        assert!(!out.contains("alice:"), "{out}");
        assert!(!out.contains("bob@"), "{out}");
        assert!(out.contains("https://***@host/r.git/"), "{out}");
        assert!(out.contains("https://***@c"), "{out}");
    }

    #[test]
    fn classify_auth_and_missing() {
        let url = RepoUrl::parse("https://h/r", false).unwrap();
        assert!(matches!(
            classify(
                "fetch",
                &url,
                true,
                "fatal: Authentication failed for 'https://h/r/'"
            ),
            GitError::Auth { .. }
        ));
        assert!(matches!(
            classify(
                "fetch",
                &url,
                true,
                "fatal: repository 'https://h/r/' not found"
            ),
            GitError::RepositoryNotFound { .. }
        ));
        let ssh = RepoUrl::parse("ssh://git@h/r", false).unwrap();
        assert!(matches!(
            classify(
                "fetch",
                &ssh,
                true,
                "git@h: Permission denied (publickey).\nfatal: Could not read from remote repository."
            ),
            GitError::Auth { .. }
        ));
        assert!(matches!(
            classify(
                "fetch",
                &ssh,
                true,
                "Host key verification failed.\nfatal: Could not read"
            ),
            GitError::HostKey { .. }
        ));
        let err = classify(
            "fetch",
            &url,
            true,
            "fatal: unable to access: Connection refused",
        );
        assert!(err.is_retryable());
        let err = classify("ls-tree", &url, false, "fatal: not a tree object");
        assert!(!err.is_retryable());
    }
}
