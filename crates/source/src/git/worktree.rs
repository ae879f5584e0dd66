//! The write side, for promotion steps: clone one branch into a work dir (or create it, or
//! start an orphan), write files, commit as a given author, and push with
//! fetch-rebase-push retries until the push lands or a real conflict stops it.
//!
//! Pushes to one repository and branch are serialized inside the process (the locks live
//! in the shared [`GitWriter`], so every promotion sees the same ones); across processes
//! the retry loop is the compare-and-swap. A clone is built next to its work dir and
//! renamed into place, so a crash never leaves a half-cloned work dir; a stale lock or an
//! interrupted rebase in a work dir is cleared on [`GitWriter::open`] and before every
//! operation (one [`Worktree`] owns its dir).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::command::{GitCall, GitRunner, classify};
use super::error::{GitError, GitResult};
use super::mirror::{remove_dir, remove_lock_files};
use super::validate::{RepoUrl, normalize_repo_path, validate_ref_name};
use super::{CommitId, GitOptions};
use crate::credentials::Credentials;

/// Clones, commits and pushes. Create one per process and share it (cheap to clone): the
/// per-branch push locks live here.
#[derive(Clone)]
pub struct GitWriter {
    inner: Arc<WriterInner>,
}

/// One async lock per (repository key, branch).
type BranchLocks = HashMap<(String, String), Arc<tokio::sync::Mutex<()>>>;

struct WriterInner {
    runner: GitRunner,
    branches: Mutex<BranchLocks>,
}

impl std::fmt::Debug for GitWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitWriter").finish_non_exhaustive()
    }
}

/// What to check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checkout {
    /// The remote's default branch.
    DefaultBranch,
    /// A branch.
    Branch {
        /// The branch, without `refs/heads/`.
        name: String,
        /// What to do when the remote lacks it.
        if_missing: IfMissing,
    },
    /// A detached commit (full id).
    Commit(String),
    /// A detached tag.
    Tag(String),
}

impl Checkout {
    /// A branch that must exist.
    pub fn branch(name: impl Into<String>) -> Self {
        Checkout::Branch {
            name: name.into(),
            if_missing: IfMissing::Fail,
        }
    }
}

/// What to do when the branch to check out does not exist on the remote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMissing {
    /// Fail with [`GitError::BranchNotFound`].
    Fail,
    /// Start an orphan branch with an empty tree (Kargo's `create: true`).
    Orphan,
    /// Branch off the remote's default branch (an orphan if the repository is empty).
    FromDefault,
}

/// An author or committer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The name git records.
    pub name: String,
    /// The email address git records.
    pub email: String,
}

impl Signature {
    /// A signature from a name and an email; checked when it is used.
    pub fn new(name: impl Into<String>, email: impl Into<String>) -> Self {
        Signature {
            name: name.into(),
            email: email.into(),
        }
    }

    fn validate(&self) -> GitResult<()> {
        for value in [&self.name, &self.email] {
            if value
                .chars()
                .any(|c| c.is_control() || c == '<' || c == '>')
            {
                return Err(GitError::InvalidSignature {
                    value: value.clone(),
                    reason: "contains '<', '>' or a control character",
                });
            }
        }
        if self.name.trim().is_empty() || self.email.trim().is_empty() {
            return Err(GitError::InvalidSignature {
                value: format!("{} <{}>", self.name, self.email),
                reason: "name and email must not be empty",
            });
        }
        Ok(())
    }
}

/// What [`Worktree::commit`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitOutcome {
    /// `HEAD` afterwards.
    pub id: CommitId,
    /// False when nothing had changed and no commit was made.
    pub created: bool,
}

/// How to push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// The remote branch; defaults to the checked-out branch.
    pub target_branch: Option<String>,
    /// Attempts before giving up on a branch that keeps moving (Kargo's `maxAttempts`).
    pub max_attempts: u32,
    /// Overwrite the remote branch instead of integrating with it.
    pub force: bool,
    /// First pause between attempts; grows ×1.5 with jitter, capped at 30 s.
    pub backoff: Duration,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            target_branch: None,
            max_attempts: 10,
            force: false,
            backoff: Duration::from_secs(1),
        }
    }
}

impl PushOptions {
    /// Kargo's `generateTargetBranch: true`: a branch of the promotion's own
    /// (`kargo/promotion/<promotion>`), for a pull request to start from.
    pub fn generated_target_branch(promotion: &str) -> GitResult<String> {
        let branch = format!("kargo/promotion/{promotion}");
        validate_ref_name(&branch)?;
        Ok(branch)
    }
}

/// What [`Worktree::push`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOutcome {
    /// The remote branch pushed to.
    pub branch: String,
    /// The commit the remote branch now points at.
    pub commit: CommitId,
    /// Push attempts it took (1 when nothing moved).
    pub attempts: u32,
}

impl GitWriter {
    /// A writer whose git children get a private home under `state_dir`.
    pub fn new(state_dir: impl Into<PathBuf>) -> GitResult<Self> {
        Self::with_options(state_dir, GitOptions::default())
    }

    /// A writer with explicit git options.
    pub fn with_options(state_dir: impl Into<PathBuf>, options: GitOptions) -> GitResult<Self> {
        let runner = GitRunner::new(state_dir.into().join("home"), options)?;
        Ok(GitWriter {
            inner: Arc::new(WriterInner {
                runner,
                branches: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Clones `checkout` of `url` into `dir`, fresh: whatever an earlier attempt left in
    /// `dir` (an empty dir or an old worktree) is replaced. A `dir` holding anything else is
    /// refused.
    pub async fn checkout(
        &self,
        url: &str,
        creds: Option<&Credentials>,
        dir: &Path,
        checkout: &Checkout,
    ) -> GitResult<Worktree> {
        let runner = &self.inner.runner;
        let url = RepoUrl::parse(url, runner.options().allow_file_urls)?;
        match checkout {
            Checkout::Branch { name, .. } | Checkout::Tag(name) => validate_ref_name(name)?,
            Checkout::Commit(id) => {
                CommitId::parse(id)?;
            }
            Checkout::DefaultBranch => {}
        }
        let workdir_error = |problem: &str| GitError::Workdir {
            dir: dir.to_path_buf(),
            problem: problem.to_string(),
        };
        let name = dir
            .file_name()
            .ok_or_else(|| workdir_error("has no final component"))?;
        let partial = dir.with_file_name(format!("{}.ferry-partial", name.to_string_lossy()));
        let replace = match std::fs::read_dir(dir) {
            Ok(mut entries) => {
                if entries.next().is_some() && !dir.join(".git").is_dir() {
                    return Err(workdir_error("exists and is not a git worktree"));
                }
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(GitError::io(dir, e)),
        };
        remove_dir(&partial).await?;
        if let Some(parent) = dir.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| GitError::io(parent, e))?;
        }
        let result = self.clone_into(&url, creds, &partial, checkout).await;
        let branch = match result {
            Ok(branch) => branch,
            Err(e) => {
                let _ = remove_dir(&partial).await;
                return Err(e);
            }
        };
        if replace {
            remove_dir(dir).await?;
        }
        tokio::fs::rename(&partial, dir)
            .await
            .map_err(|e| GitError::io(dir, e))?;
        Ok(Worktree {
            inner: self.inner.clone(),
            url,
            creds: creds.cloned(),
            dir: dir.to_path_buf(),
            branch,
            committer: Mutex::new(None),
            op: tokio::sync::Mutex::new(()),
        })
    }

    /// Fills `dir` (fresh) and returns the checked-out branch (`None` when detached).
    async fn clone_into(
        &self,
        url: &RepoUrl,
        creds: Option<&Credentials>,
        dir: &Path,
        checkout: &Checkout,
    ) -> GitResult<Option<String>> {
        let runner = &self.inner.runner;
        runner
            .run(
                GitCall::new("init", url)
                    .args(["init", "--quiet", "--end-of-options"])
                    .arg(dir),
            )
            .await?;
        let fresh = FreshClone {
            runner,
            url,
            creds,
            dir,
        };
        runner
            .run(
                fresh
                    .git("config")
                    .args(["config", "remote.origin.url", url.as_str()]),
            )
            .await?;
        match checkout {
            Checkout::Branch { name, if_missing } => {
                fresh.branch(name, *if_missing).await?;
                Ok(Some(name.clone()))
            }
            Checkout::DefaultBranch => {
                let branch = self
                    .remote_default_branch(url, creds)
                    .await?
                    .ok_or_else(|| GitError::BranchNotFound {
                        url: url.to_string(),
                        branch: "HEAD".into(),
                    })?;
                fresh.branch(&branch, IfMissing::Fail).await?;
                Ok(Some(branch))
            }
            Checkout::Commit(id) => fresh.commit(id).await.map(|()| None),
            Checkout::Tag(tag) => fresh.tag(tag).await.map(|()| None),
        }
    }

    async fn remote_default_branch(
        &self,
        url: &RepoUrl,
        creds: Option<&Credentials>,
    ) -> GitResult<Option<String>> {
        let out = self
            .inner
            .runner
            .run(GitCall::new("ls-remote", url).remote(creds).args([
                "ls-remote",
                "--symref",
                "--end-of-options",
                url.as_str(),
                "HEAD",
            ]))
            .await?;
        let text = String::from_utf8_lossy(&out);
        let branch = text.lines().find_map(|l| {
            l.strip_prefix("ref: refs/heads/")
                .and_then(|r| r.strip_suffix("\tHEAD"))
                .map(str::to_string)
        });
        match branch {
            Some(b) => {
                validate_ref_name(&b)?;
                Ok(Some(b))
            }
            None => Ok(None),
        }
    }

    /// Re-attaches to a work dir an earlier [`checkout`](Self::checkout) made (after a restart,
    /// say): checks it is a worktree of `url`, removes stale locks and aborts a rebase or
    /// merge left half-done. A dir that fails the checks is an error; clone again.
    pub async fn open(
        &self,
        url: &str,
        creds: Option<&Credentials>,
        dir: &Path,
    ) -> GitResult<Worktree> {
        let runner = &self.inner.runner;
        let url = RepoUrl::parse(url, runner.options().allow_file_urls)?;
        let broken = |problem: &str| GitError::Workdir {
            dir: dir.to_path_buf(),
            problem: problem.to_string(),
        };
        let git_dir = dir.join(".git");
        if !git_dir.join("HEAD").is_file() {
            return Err(broken("is not a git worktree (clone it again)"));
        }
        let tree = Worktree {
            inner: self.inner.clone(),
            url,
            creds: creds.cloned(),
            dir: dir.to_path_buf(),
            branch: None,
            committer: Mutex::new(None),
            op: tokio::sync::Mutex::new(()),
        };
        let origin = runner
            .run(
                tree.git("config")
                    .args(["config", "--get", "remote.origin.url"]),
            )
            .await
            .map_err(|_| broken("has no origin (clone it again)"))?;
        if String::from_utf8_lossy(&origin).trim() != tree.url.as_str() {
            return Err(broken("is a worktree of another repository"));
        }
        tree.recover().await?;
        let branch = tree.current_branch().await?;
        Ok(Worktree { branch, ..tree })
    }

    fn branch_lock(&self, url: &RepoUrl, branch: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self
            .inner
            .branches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry((url.key().to_string(), branch.to_string()))
            .or_default()
            .clone()
    }
}

/// `git fetch` of `refspecs` from `url` through `call` (no tags, no FETCH_HEAD, no
/// submodules); `false` when the remote has no such ref.
async fn fetch_refs(
    runner: &GitRunner,
    call: GitCall<'_>,
    url: &RepoUrl,
    creds: Option<&Credentials>,
    refspecs: Vec<String>,
) -> GitResult<bool> {
    let call = call
        .remote(creds)
        .args([
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--no-recurse-submodules",
            "--end-of-options",
            url.as_str(),
        ])
        .args(refspecs);
    match runner.run(call).await {
        Ok(_) => Ok(true),
        Err(GitError::Command { message, .. }) if message.contains("couldn't find remote ref") => {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// A repository just initialised in a work dir, filled from its remote for one [`Checkout`].
struct FreshClone<'a> {
    runner: &'a GitRunner,
    url: &'a RepoUrl,
    creds: Option<&'a Credentials>,
    dir: &'a Path,
}

impl<'a> FreshClone<'a> {
    fn git(&self, op: &'static str) -> GitCall<'a> {
        GitCall::new(op, self.url).work_dir(self.dir)
    }

    /// Fetches `refspecs` from the remote; `false` when it has no such ref.
    async fn fetch(&self, refspecs: Vec<String>) -> GitResult<bool> {
        fetch_refs(
            self.runner,
            self.git("fetch"),
            self.url,
            self.creds,
            refspecs,
        )
        .await
    }

    fn detach(&self, revision: String) -> GitCall<'a> {
        self.git("checkout")
            .args(["checkout", "--quiet", "--detach", "--end-of-options"])
            .arg(revision)
            .arg("--")
    }

    /// Every branch and tag, then `id` detached.
    async fn commit(&self, id: &str) -> GitResult<()> {
        self.fetch(vec![
            "+refs/heads/*:refs/remotes/origin/*".into(),
            "+refs/tags/*:refs/tags/*".into(),
        ])
        .await?;
        let done = self
            .runner
            .run_raw(self.detach(format!("{id}^{{commit}}")))
            .await?;
        if !done.status.success() {
            return Err(GitError::RevisionNotFound {
                url: self.url.to_string(),
                revision: id.to_string(),
            });
        }
        Ok(())
    }

    /// The tag alone, detached.
    async fn tag(&self, tag: &str) -> GitResult<()> {
        let reference = format!("refs/tags/{tag}");
        if !self
            .fetch(vec![format!("+{reference}:{reference}")])
            .await?
        {
            return Err(GitError::RevisionNotFound {
                url: self.url.to_string(),
                revision: tag.to_string(),
            });
        }
        self.runner
            .run(self.detach(format!("{reference}^{{commit}}")))
            .await?;
        Ok(())
    }

    /// Branch `name` checked out from the remote's, or, when the remote has none, started as
    /// `if_missing` says: refused, an orphan, or from the remote's default branch (an orphan
    /// when the remote is empty).
    async fn branch(&self, name: &str, if_missing: IfMissing) -> GitResult<()> {
        let tracking = format!("refs/remotes/origin/{name}");
        let start = if self
            .fetch(vec![format!("+refs/heads/{name}:{tracking}")])
            .await?
        {
            Some(tracking)
        } else {
            match if_missing {
                IfMissing::Fail => {
                    return Err(GitError::BranchNotFound {
                        url: self.url.to_string(),
                        branch: name.to_string(),
                    });
                }
                IfMissing::Orphan => None,
                IfMissing::FromDefault => {
                    let head = "refs/remotes/origin/HEAD".to_string();
                    self.fetch(vec![format!("+HEAD:{head}")])
                        .await?
                        .then_some(head)
                }
            }
        };
        let call = match start {
            Some(start) => self
                .git("checkout")
                .args(["checkout", "--quiet", "--no-track", "-B"])
                .arg(name)
                .arg(start)
                .arg("--"),
            None => self
                .git("symbolic-ref")
                .args(["symbolic-ref", "HEAD"])
                .arg(format!("refs/heads/{name}")),
        };
        self.runner.run(call).await?;
        Ok(())
    }
}

/// A work dir with one branch (or a detached commit) checked out.
pub struct Worktree {
    inner: Arc<WriterInner>,
    url: RepoUrl,
    creds: Option<Credentials>,
    dir: PathBuf,
    branch: Option<String>,
    committer: Mutex<Option<Signature>>,
    op: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Worktree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worktree")
            .field("url", &self.url)
            .field("dir", &self.dir)
            .field("branch", &self.branch)
            .finish_non_exhaustive()
    }
}

impl Worktree {
    /// The worktree's directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The checked-out branch; `None` when detached.
    pub fn branch(&self) -> Option<&str> {
        self.branch.as_deref()
    }

    fn git(&self, op: &'static str) -> GitCall<'_> {
        GitCall::new(op, &self.url).work_dir(&self.dir)
    }

    fn runner(&self) -> &GitRunner {
        &self.inner.runner
    }

    /// Clears what a crashed git left: lock files and a half-done rebase or merge. Only
    /// called while holding `op`, so no git of ours is running here.
    async fn recover(&self) -> GitResult<()> {
        let git_dir = self.dir.join(".git");
        let dir = git_dir.clone();
        tokio::task::spawn_blocking(move || remove_lock_files(&dir, true))
            .await
            .map_err(|e| GitError::io(&git_dir, std::io::Error::other(e)))??;
        if git_dir.join("rebase-merge").exists() || git_dir.join("rebase-apply").exists() {
            tracing::info!(dir = %self.dir.display(), "aborting an interrupted rebase");
            self.runner()
                .run(self.git("rebase").args(["rebase", "--abort"]))
                .await?;
        }
        if git_dir.join("MERGE_HEAD").exists() {
            self.runner()
                .run(self.git("merge").args(["merge", "--abort"]))
                .await?;
        }
        Ok(())
    }

    async fn current_branch(&self) -> GitResult<Option<String>> {
        let done = self
            .runner()
            .run_raw(
                self.git("symbolic-ref")
                    .args(["symbolic-ref", "--quiet", "HEAD"]),
            )
            .await?;
        let head = String::from_utf8_lossy(&done.stdout).trim().to_string();
        Ok(head.strip_prefix("refs/heads/").map(str::to_string))
    }

    /// `HEAD`, or `None` on a branch with no commits yet.
    pub async fn head(&self) -> GitResult<Option<CommitId>> {
        let done = self
            .runner()
            .run_raw(self.git("rev-parse").args([
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                "HEAD^{commit}",
            ]))
            .await?;
        if !done.status.success() {
            return Ok(None);
        }
        CommitId::parse(String::from_utf8_lossy(&done.stdout).trim()).map(Some)
    }

    /// The absolute path of repository path `path`, refusing `..`, `.git`, and any
    /// existing symlink on the way (nothing is written or read through a link).
    async fn local_path(&self, path: &str) -> GitResult<PathBuf> {
        let normalized = normalize_repo_path(path)?;
        if normalized.is_empty() {
            return Err(GitError::InvalidPath {
                path: path.to_string(),
                reason: "names the work dir itself",
            });
        }
        let mut current = self.dir.clone();
        for component in normalized.split('/') {
            current.push(component);
            match tokio::fs::symlink_metadata(&current).await {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(GitError::OutOfBoundsSymlink { path: normalized });
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => return Err(GitError::io(&current, e)),
            }
        }
        Ok(self.dir.join(&normalized))
    }

    /// Writes a file (creating directories), replacing what was there.
    pub async fn write_file(&self, path: &str, contents: &[u8]) -> GitResult<()> {
        let _op = self.op.lock().await;
        let target = self.local_path(path).await?;
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| GitError::io(parent, e))?;
        }
        tokio::fs::write(&target, contents)
            .await
            .map_err(|e| GitError::io(&target, e))
    }

    /// Reads a file of the work dir (not through symlinks).
    pub async fn read_file(&self, path: &str) -> GitResult<Vec<u8>> {
        let target = self.local_path(path).await?;
        tokio::fs::read(&target).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => GitError::InvalidPath {
                path: path.to_string(),
                reason: "does not exist in the work dir",
            },
            _ => GitError::io(&target, e),
        })
    }

    /// Removes a file or directory (a symlink itself, never its target).
    pub async fn remove(&self, path: &str) -> GitResult<()> {
        let _op = self.op.lock().await;
        let normalized = normalize_repo_path(path)?;
        if normalized.is_empty() {
            return Err(GitError::InvalidPath {
                path: path.to_string(),
                reason: "names the work dir itself",
            });
        }
        if let Some((parent, _)) = normalized.rsplit_once('/') {
            // No symlink on the way to it.
            self.local_path(parent).await?;
        }
        remove_entry(&self.dir.join(&normalized)).await
    }

    /// Deletes every file of the work dir, tracked or not, keeping `.git` (Kargo's
    /// `git-clear`).
    pub async fn clear(&self) -> GitResult<()> {
        let _op = self.op.lock().await;
        let mut entries = tokio::fs::read_dir(&self.dir)
            .await
            .map_err(|e| GitError::io(&self.dir, e))?;
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| GitError::io(&self.dir, e))?
        {
            if entry.file_name() != ".git" {
                remove_entry(&entry.path()).await?;
            }
        }
        Ok(())
    }

    /// Commits every change in the work dir. With nothing changed it makes no commit and
    /// returns `HEAD` (`created: false`); the first commit of an orphan branch is made even
    /// when empty. `committer` defaults to `author`.
    pub async fn commit(
        &self,
        message: &str,
        author: &Signature,
        committer: Option<&Signature>,
    ) -> GitResult<CommitOutcome> {
        author.validate()?;
        let committer = committer.unwrap_or(author);
        committer.validate()?;
        let _op = self.op.lock().await;
        self.recover().await?;
        self.runner()
            .run(self.git("add").args(["add", "--all"]))
            .await?;
        let head = self.head().await?;
        let diff = self
            .runner()
            .run_raw(
                self.git("diff")
                    .args(["diff", "--cached", "--quiet", "--exit-code"]),
            )
            .await?;
        let changed = match diff.status.code() {
            Some(0) => false,
            Some(1) => true,
            _ => {
                return Err(classify("diff", &self.url, false, &diff.stderr));
            }
        };
        if let (false, Some(id)) = (changed, &head) {
            return Ok(CommitOutcome {
                id: id.clone(),
                created: false,
            });
        }
        let mut call = self
            .git("commit")
            .args([
                "commit",
                "--quiet",
                "--no-verify",
                "--cleanup=whitespace",
                "--file=-",
            ])
            .stdin(message.as_bytes().to_vec())
            .env("GIT_AUTHOR_NAME", &author.name)
            .env("GIT_AUTHOR_EMAIL", &author.email)
            .env("GIT_COMMITTER_NAME", &committer.name)
            .env("GIT_COMMITTER_EMAIL", &committer.email);
        if head.is_none() {
            call = call.arg("--allow-empty");
        }
        self.runner().run(call).await?;
        *self
            .committer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(committer.clone());
        let id = self.head().await?.ok_or_else(|| GitError::Parse {
            op: "commit",
            detail: "no HEAD after committing".into(),
        })?;
        Ok(CommitOutcome { id, created: true })
    }

    /// Pushes `HEAD` to the target branch. When the remote branch moved, fetches it, rebases
    /// onto it and pushes again, up to `max_attempts` times; a rebase conflict is a
    /// terminal [`GitError::Conflict`] naming the files. With `force`, overwrites instead.
    pub async fn push(&self, options: &PushOptions) -> GitResult<PushOutcome> {
        let branch = match (&options.target_branch, &self.branch) {
            (Some(b), _) | (None, Some(b)) => b.clone(),
            (None, None) => {
                return Err(GitError::Workdir {
                    dir: self.dir.clone(),
                    problem: "HEAD is detached: name a target branch".into(),
                });
            }
        };
        validate_ref_name(&branch)?;
        let writer = GitWriter {
            inner: self.inner.clone(),
        };
        let branch_lock = writer.branch_lock(&self.url, &branch);
        let _branch = branch_lock.lock().await;
        let _op = self.op.lock().await;
        self.recover().await?;
        if self.head().await?.is_none() {
            return Err(GitError::Workdir {
                dir: self.dir.clone(),
                problem: "nothing to push: no commit yet".into(),
            });
        }
        let max = options.max_attempts.max(1);
        let mut pause = options.backoff;
        for attempt in 1..=max {
            let mut call = self.git("push").remote(self.creds.as_ref()).args([
                "push",
                "--porcelain",
                "--no-recurse-submodules",
            ]);
            if options.force {
                call = call.arg("--force");
            }
            let call = call
                .args(["--end-of-options", self.url.as_str()])
                .arg(format!("HEAD:refs/heads/{branch}"));
            let done = self.runner().run_raw(call).await?;
            if done.status.success() {
                let commit = self.head().await?.ok_or_else(|| GitError::Parse {
                    op: "push",
                    detail: "no HEAD after pushing".into(),
                })?;
                return Ok(PushOutcome {
                    branch,
                    commit,
                    attempts: attempt,
                });
            }
            let report = format!(
                "{}\n{}",
                super::command::scrub(&String::from_utf8_lossy(&done.stdout), self.creds.as_ref()),
                done.stderr
            );
            match push_failure(&report) {
                PushFailure::Moved => {}
                PushFailure::Refused(reason) => {
                    return Err(GitError::PushRejected { branch, reason });
                }
                PushFailure::Other => {
                    return Err(classify("push", &self.url, true, &done.stderr));
                }
            }
            if attempt == max {
                break;
            }
            tracing::info!(url = %self.url, %branch, attempt, "push rejected: the branch moved; integrating");
            if !options.force {
                self.integrate(&branch).await?;
            }
            tokio::time::sleep(jitter(pause)).await;
            pause = (pause.mul_f64(1.5)).min(Duration::from_secs(30));
        }
        Err(GitError::PushRetriesExhausted {
            branch,
            attempts: max,
        })
    }

    /// Fetches the remote branch and rebases `HEAD` onto it.
    async fn integrate(&self, branch: &str) -> GitResult<()> {
        let tracking = format!("refs/remotes/origin/{branch}");
        let refspec = format!("+refs/heads/{branch}:{tracking}");
        let call = self.git("fetch");
        if !fetch_refs(
            self.runner(),
            call,
            &self.url,
            self.creds.as_ref(),
            vec![refspec],
        )
        .await?
        {
            // Deleted in the meantime: the next push creates it.
            return Ok(());
        }
        let committer = self
            .committer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| Signature::new("Ferry", "ferry@localhost"));
        let done = self
            .runner()
            .run_raw(
                self.git("rebase")
                    .args([
                        "rebase",
                        "--no-autostash",
                        "--no-verify",
                        "--end-of-options",
                    ])
                    .arg(&tracking)
                    .env("GIT_COMMITTER_NAME", &committer.name)
                    .env("GIT_COMMITTER_EMAIL", &committer.email),
            )
            .await?;
        if done.status.success() {
            return Ok(());
        }
        let conflicted = self
            .runner()
            .run(
                self.git("diff")
                    .args(["diff", "--name-only", "--diff-filter=U", "-z"]),
            )
            .await
            .unwrap_or_default();
        let files: Vec<String> = conflicted
            .split(|b| *b == 0)
            .filter(|f| !f.is_empty())
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        let _ = self
            .runner()
            .run(self.git("rebase").args(["rebase", "--abort"]))
            .await;
        if files.is_empty() {
            return Err(classify("rebase", &self.url, false, &done.stderr));
        }
        Err(GitError::Conflict {
            branch: branch.to_string(),
            files,
        })
    }
}

enum PushFailure {
    /// The branch moved under us: integrate and try again.
    Moved,
    /// The remote refused for another reason: a hook, a protected branch.
    Refused(String),
    /// No ref status at all: the transport failed.
    Other,
}

/// Reads `git push --porcelain` output (plus stderr).
fn push_failure(report: &str) -> PushFailure {
    const MOVED: &[&str] = &[
        "fetch first",
        "non-fast-forward",
        "stale info",
        "cannot lock ref",
        "incorrect old value",
        "failed to update ref",
        "failed to lock",
    ];
    let lower = report.to_ascii_lowercase();
    let status_line = report
        .lines()
        .find(|l| l.starts_with('!') && l.contains("refs/heads/"));
    match status_line {
        Some(line) => {
            let line_lower = line.to_ascii_lowercase();
            if MOVED.iter().any(|m| line_lower.contains(m)) {
                PushFailure::Moved
            } else {
                let reason = line.rsplit('\t').next().unwrap_or(line).trim().to_string();
                PushFailure::Refused(reason)
            }
        }
        None if MOVED.iter().any(|m| lower.contains(m)) => PushFailure::Moved,
        None => PushFailure::Other,
    }
}

/// `pause` scaled by a random factor in [0.5, 1.5).
fn jitter(pause: Duration) -> Duration {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let r = f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX);
    pause.mul_f64(0.5 + r)
}

async fn remove_entry(path: &Path) -> GitResult<()> {
    let meta = match tokio::fs::symlink_metadata(path).await {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(GitError::io(path, e)),
    };
    let result = if meta.is_dir() {
        tokio::fs::remove_dir_all(path).await
    } else {
        tokio::fs::remove_file(path).await
    };
    result.map_err(|e| GitError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_reports() {
        let moved = "To http://h/r.git\n!\tHEAD:refs/heads/main\t[rejected] (fetch first)\nDone";
        assert!(matches!(push_failure(moved), PushFailure::Moved));
        let gitlab = "!\tHEAD:refs/heads/main\t[remote rejected] (incorrect old value provided)";
        assert!(matches!(push_failure(gitlab), PushFailure::Moved));
        let lock = "!\tHEAD:refs/heads/main\t[remote rejected] (cannot lock ref 'refs/heads/main')";
        assert!(matches!(push_failure(lock), PushFailure::Moved));
        let hook = "!\tHEAD:refs/heads/main\t[remote rejected] (pre-receive hook declined)";
        match push_failure(hook) {
            PushFailure::Refused(reason) => assert!(reason.contains("hook declined"), "{reason}"),
            _ => panic!("hook rejection must be terminal"),
        }
        assert!(matches!(
            push_failure("fatal: unable to access: Connection refused"),
            PushFailure::Other
        ));
    }

    #[test]
    fn signatures() {
        Signature::new("Kargo", "kargo@example.com")
            .validate()
            .unwrap();
        assert!(Signature::new("a<b", "x@y").validate().is_err());
        assert!(Signature::new("a", "x@y\nEvil: 1").validate().is_err());
        assert!(Signature::new(" ", "x@y").validate().is_err());
    }
}
