//! Ferry's data directory: the store, the API token and the kubeconfig `ferry up` writes.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use ferry_apiserver::TlsIdentity;

/// The default data directory: `$XDG_DATA_HOME/ferry`, else `~/.local/share/ferry`.
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("ferry");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/ferry")
}

pub fn kubeconfig_path(dir: &Path) -> PathBuf {
    dir.join("kubeconfig")
}

/// Creates the directory (mode 0700) if needed.
pub fn ensure(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict permissions of {}", dir.display()))?;
    Ok(())
}

/// The API token, generated on first start and kept in `<dir>/token` (mode 0600).
pub fn token(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("token");
    match fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness for the API token: {e}"))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(&path, token.as_bytes())?;
    Ok(token)
}

/// The server's TLS identity, generated on first start and kept in `<dir>/tls/`, so the
/// kubeconfig's CA stays valid across restarts.
pub fn tls_identity(dir: &Path) -> anyhow::Result<TlsIdentity> {
    let tls = dir.join("tls");
    let files = [
        tls.join("ca.crt"),
        tls.join("server.crt"),
        tls.join("server.key"),
    ];
    if files.iter().all(|f| f.exists()) {
        let read = |p: &Path| {
            fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
        };
        return Ok(TlsIdentity {
            ca_pem: read(&files[0])?,
            cert_pem: read(&files[1])?,
            key_pem: read(&files[2])?,
        });
    }
    ensure(&tls)?;
    let identity = TlsIdentity::generate(&[]).context("cannot generate the TLS certificate")?;
    write_private(&files[0], identity.ca_pem.as_bytes())?;
    write_private(&files[1], identity.cert_pem.as_bytes())?;
    write_private(&files[2], identity.key_pem.as_bytes())?;
    Ok(identity)
}

/// Writes a kubeconfig with one cluster, user and context, all named `name`, trusting `ca_pem`.
pub fn write_kubeconfig(
    path: &Path,
    name: &str,
    server: &str,
    ca_pem: &str,
    token: &str,
) -> anyhow::Result<()> {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let doc = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": ca}}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": "default"}}],
        "current-context": name,
        "preferences": {},
    });
    let yaml = ferry_api::yaml::to_string(&doc);
    write_private(path, yaml.as_bytes())
}

fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(data)?;
    f.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
