//! Fixture repositories: a bare repository under the test server's root, filled from a
//! scratch working clone with the plain git CLI (pushed through the filesystem, so seeding
//! never shows up in the server's request log).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::git_server::GitServer;

/// A fixture repository: a bare repository and a working clone to fill it from.
pub struct Seed {
    /// The working clone.
    pub work: PathBuf,
    /// The bare repository.
    pub bare: PathBuf,
    home: PathBuf,
    _scratch: tempfile::TempDir,
}

/// Runs git in `dir` with a fixed identity and no user or system config; returns its trimmed
/// stdout, panicking with its stderr on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let home = std::env::temp_dir().join("ferry-testkit-git-home");
    std::fs::create_dir_all(&home).unwrap();
    git_with(dir, &home, args, &[])
}

/// [`git()`] with `HOME` at `home` and extra environment variables.
pub fn git_with(dir: &Path, home: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = crate::run(
        Command::new("git")
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Seed Author")
            .env("GIT_AUTHOR_EMAIL", "author@example.com")
            .env("GIT_COMMITTER_NAME", "Seed Committer")
            .env("GIT_COMMITTER_EMAIL", "committer@example.com")
            .envs(env.iter().copied()),
    );
    out.trim().to_string()
}

impl Seed {
    /// A new empty repository `name` served by `server`, default branch `main`.
    pub fn new(server: &GitServer, name: &str) -> Seed {
        Self::at(&server.root().join(format!("{name}.git")))
    }

    /// A new empty bare repository at `bare`.
    pub fn at(bare: &Path) -> Seed {
        let scratch = tempfile::tempdir().unwrap();
        let home = scratch.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(bare).unwrap();
        git_with(
            bare,
            &home,
            &["init", "--quiet", "--bare", "--initial-branch=main"],
            &[],
        );
        let work = scratch.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        git_with(
            &work,
            &home,
            &["init", "--quiet", "--initial-branch=main"],
            &[],
        );
        git_with(
            &work,
            &home,
            &["remote", "add", "origin", bare.to_str().unwrap()],
            &[],
        );
        Seed {
            work,
            bare: bare.to_path_buf(),
            home,
            _scratch: scratch,
        }
    }

    /// Runs git in the working clone.
    pub fn git(&self, args: &[&str]) -> String {
        git_with(&self.work, &self.home, args, &[])
    }

    /// Writes a file in the working clone, creating its directories.
    pub fn write(&self, path: &str, contents: &str) -> &Self {
        let full = self.work.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, contents).unwrap();
        self
    }

    /// Creates a symlink in the working clone.
    pub fn symlink(&self, path: &str, target: &str) -> &Self {
        let full = self.work.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, full).unwrap();
        self
    }

    /// Commits everything; returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "--all"]);
        self.git(&["commit", "--quiet", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Commits with author and committer date `date` (e.g. `2024-01-02T03:04:05Z`).
    pub fn commit_at(&self, message: &str, date: &str) -> String {
        self.git(&["add", "--all"]);
        let env = [("GIT_AUTHOR_DATE", date), ("GIT_COMMITTER_DATE", date)];
        git_with(
            &self.work,
            &self.home,
            &["commit", "--quiet", "--allow-empty", "-m", message],
            &env,
        );
        self.git(&["rev-parse", "HEAD"])
    }

    /// Tags `HEAD` with a lightweight tag.
    pub fn tag(&self, name: &str) {
        self.git(&["tag", name]);
    }

    /// Tags `HEAD` with an annotated tag dated `date`.
    pub fn annotated_tag(&self, name: &str, message: &str, date: &str) {
        git_with(
            &self.work,
            &self.home,
            &["tag", "-a", name, "-m", message],
            &[("GIT_COMMITTER_DATE", date)],
        );
    }

    /// Pushes every branch and tag, mirroring deletions.
    pub fn push(&self) {
        self.git(&[
            "push",
            "--quiet",
            "--force",
            "--prune",
            "origin",
            "refs/heads/*:refs/heads/*",
            "refs/tags/*:refs/tags/*",
        ]);
    }

    /// The remote branch's commit, read from the bare repository.
    pub fn remote_head(&self, branch: &str) -> String {
        git_with(
            &self.bare,
            &self.home,
            &["rev-parse", &format!("refs/heads/{branch}")],
            &[],
        )
    }

    /// `git log` subjects of a remote branch, newest first.
    pub fn remote_subjects(&self, branch: &str) -> Vec<String> {
        git_with(
            &self.bare,
            &self.home,
            &["log", "--format=%s", &format!("refs/heads/{branch}")],
            &[],
        )
        .lines()
        .map(str::to_string)
        .collect()
    }

    /// A file's content on a remote branch.
    pub fn remote_file(&self, branch: &str, path: &str) -> String {
        git_with(
            &self.bare,
            &self.home,
            &["show", &format!("refs/heads/{branch}:{path}")],
            &[],
        )
    }
}
