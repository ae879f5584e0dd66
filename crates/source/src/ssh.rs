//! SSH for Git: the known hosts servers are checked against, as Argo CD keeps them (the
//! `ssh_known_hosts` key of the `argocd-ssh-known-hosts-cm` ConfigMap), and the `ssh` command
//! line every git call to an `ssh://` or scp-style URL runs with.
//!
//! Host keys are checked strictly: a host missing from the known hosts, or presenting another
//! key, fails (`Host key verification failed.`), unless the repository's credentials say
//! `insecure`, as Argo CD's do. A private key reaches ssh as a file readable by Ferry only
//! (`0600` in a `0700` directory under the git client's private home) that exists for the one
//! git call and is removed when it ends; it never appears in argv, the environment or a
//! message. ssh reads no user or system configuration, no agent and no other identity, and
//! never prompts.

use std::fmt::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::credentials::Credentials;

/// The ConfigMap Argo CD keeps SSH known hosts in (in its own namespace).
pub const ARGOCD_KNOWN_HOSTS_CONFIGMAP: &str = "argocd-ssh-known-hosts-cm";
/// Its key holding `known_hosts` lines ([`crate::secrets::ClusterSecrets::argocd_known_hosts`]
/// reads it; [`crate::git::GitOptions::ssh_known_hosts`] takes it).
pub const ARGOCD_KNOWN_HOSTS_KEY: &str = "ssh_known_hosts";

/// The files and command line of one git call over SSH. Dropping it removes the key.
pub(crate) struct SshSession {
    /// Holds the key file; removed (with the key) on drop.
    _dir: PrivateDir,
    /// The value of `GIT_SSH_COMMAND`.
    pub command: String,
}

/// A directory only Ferry can enter, removed with everything in it on drop.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn new(parent: &Path) -> std::io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = parent.join(format!("ssh-{}-{n}", std::process::id()));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(PrivateDir(path))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl SshSession {
    /// Prepares a call: the key (if any) written under `home`, strict host checking against
    /// `known_hosts` (a file) unless the credentials are `insecure`.
    pub fn new(
        home: &Path,
        known_hosts: &Path,
        creds: Option<&Credentials>,
        timeout: Duration,
    ) -> std::io::Result<Self> {
        let dir = PrivateDir::new(home)?;
        let mut command = String::from("ssh -F /dev/null");
        if let Some(key) = creds.and_then(|c| c.ssh_private_key.as_deref()) {
            let path = dir.0.join("id");
            write_private(&path, key)?;
            let _ = write!(command, " -i {}", shell_quote(&path));
        }
        command.push_str(
            " -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
             -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no \
             -o GlobalKnownHostsFile=/dev/null",
        );
        if creds.is_some_and(|c| c.insecure_ignore_host_key) {
            command.push_str(" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null");
        } else {
            let _ = write!(
                command,
                " -o StrictHostKeyChecking=yes -o UserKnownHostsFile={}",
                shell_quote(known_hosts)
            );
        }
        let _ = write!(command, " -o ConnectTimeout={}", timeout.as_secs().max(1));
        Ok(SshSession { _dir: dir, command })
    }
}

/// Writes a key readable by its owner only, ending in a newline (OpenSSH refuses a key file
/// without one).
fn write_private(path: &Path, key: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    let key = key.trim_end_matches(['\r', '\n']);
    file.write_all(key.as_bytes())?;
    file.write_all(b"\n")
}

/// Writes known hosts for ssh to read (`0600`).
pub(crate) fn write_known_hosts(path: &Path, lines: &str) -> std::io::Result<()> {
    std::fs::write(path, lines)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

/// A path as one shell word (git runs `GIT_SSH_COMMAND` through `sh`).
fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_lives_as_long_as_the_session() {
        let home = tempfile::tempdir().unwrap();
        let known = home.path().join("known hosts");
        let creds = Credentials::ssh_key("-----BEGIN KEY-----\nabc\n-----END KEY-----");
        let session =
            SshSession::new(home.path(), &known, Some(&creds), Duration::from_secs(5)).unwrap();
        assert!(session.command.contains("StrictHostKeyChecking=yes"));
        assert!(session.command.contains("'"), "{}", session.command);
        let key = std::fs::read_dir(home.path())
            .unwrap()
            .map(|e| e.unwrap().path().join("id"))
            .find(|p| p.exists())
            .unwrap();
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(std::fs::read_to_string(&key).unwrap().ends_with("-----\n"));
        assert!(!session.command.contains("abc"));
        drop(session);
        assert!(!key.exists());

        let insecure = Credentials {
            insecure_ignore_host_key: true,
            ..Credentials::default()
        };
        let session =
            SshSession::new(home.path(), &known, Some(&insecure), Duration::from_secs(5)).unwrap();
        assert!(session.command.contains("StrictHostKeyChecking=no"));
        assert!(!session.command.contains(" -i "));
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(shell_quote(Path::new("/a b/it's")), r"'/a b/it'\''s'");
    }
}
