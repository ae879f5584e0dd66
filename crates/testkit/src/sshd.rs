//! A real OpenSSH server (Debian's `openssh-server`) on a loopback port that serves Git
//! through `git-shell`, with its own host key and one authorized client key, both generated
//! for the test. It logs in as the user running the tests (`ForceCommand git-shell`, so the
//! account can do nothing but Git).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

const SSHD: &str = "/usr/sbin/sshd";

/// A running sshd, stopped on drop.
pub struct SshServer {
    dir: tempfile::TempDir,
    child: Child,
    /// The loopback port it listens on.
    pub port: u16,
    user: String,
}

/// A key pair made by `ssh-keygen`: the private key's text and the public key line.
pub struct KeyPair {
    /// The private key, OpenSSH format.
    pub private: String,
    /// The public key line (`ssh-ed25519 AAAA... name`).
    pub public: String,
}

/// Generates an ed25519 key pair without passphrase as `dir/name` and `dir/name.pub`.
pub fn keygen(dir: &Path, name: &str) -> KeyPair {
    let path = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen (openssh-client) is installed");
    assert!(status.success());
    KeyPair {
        private: std::fs::read_to_string(&path).unwrap(),
        public: std::fs::read_to_string(path.with_extension("pub")).unwrap(),
    }
}

impl SshServer {
    /// Starts sshd authorizing `client` (its public key line).
    pub fn start(client: &KeyPair) -> SshServer {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: run scripts/install-test-deps (Debian's openssh-server)"
        );
        // sshd started as root wants its privilege-separation directory (the Debian service
        // creates it at boot; it is a tmpfs).
        let _ = std::fs::create_dir_all("/run/sshd");
        let dir = tempfile::tempdir().unwrap();
        keygen(dir.path(), "host_key");
        std::fs::write(dir.path().join("authorized_keys"), &client.public).unwrap();
        let port = free_port();
        let d = dir.path().display();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
             AuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\nStrictModes no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nUsePAM no\n\
             ForceCommand git-shell -c \"$SSH_ORIGINAL_COMMAND\"\nLogLevel ERROR\n"
        );
        let config_path = dir.path().join("sshd_config");
        std::fs::write(&config_path, config).unwrap();
        // Its log (the readiness probe below makes it complain) stays with the server's files.
        let log = std::fs::File::create(dir.path().join("sshd.log")).unwrap();
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sshd starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_string();
        SshServer {
            dir,
            child,
            port,
            user,
        }
    }

    /// Where bare repositories the server can serve go.
    pub fn repo_path(&self, name: &str) -> PathBuf {
        self.dir.path().join("repos").join(format!("{name}.git"))
    }

    /// `ssh://user@127.0.0.1:port/abs/path/name.git`.
    pub fn url(&self, name: &str) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            self.repo_path(name).display()
        )
    }

    /// The `known_hosts` line for this server.
    pub fn known_hosts(&self) -> String {
        let public = std::fs::read_to_string(self.dir.path().join("host_key.pub")).unwrap();
        let mut fields = public.split_whitespace();
        let (kind, key) = (fields.next().unwrap(), fields.next().unwrap());
        format!("[127.0.0.1]:{} {kind} {key}\n", self.port)
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
