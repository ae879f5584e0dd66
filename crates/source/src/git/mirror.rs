//! The read side: one bare mirror per repository under the cache dir, kept current with
//! incremental fetches, and revisions resolved the way Argo CD resolves `targetRevision`.
//!
//! A mirror's directory is named by the SHA-256 of the normalized URL, so two spellings of
//! one repository share it. Fetches of one repository are serialized by an async mutex;
//! different repositories fetch in parallel. Reads take no lock: git only adds objects
//! while fetching, and every read names a commit. A fetch of an unchanged remote costs one
//! ref advertisement and no pack (protocol v2: the capability request and `ls-refs`).
//!
//! Crash recovery happens on first use in a process: half-finished clones are removed,
//! stale `*.lock` files deleted, and a mirror without its skeleton is cloned again. One
//! process owns a cache dir.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::command::{GitCall, GitRunner};
use super::error::{GitError, GitResult};
use super::history::{self, CommitInfo, CommitQuery, TagInfo};
use super::read::{self, FileContent, Tree, TreeFile};
use super::validate::{self, RepoUrl};
use super::{CommitId, GitOptions};
use crate::credentials::Credentials;
use crate::digest::sha256_hex;

const HEADS: &str = "+refs/heads/*:refs/heads/*";
const TAGS: &str = "+refs/tags/*:refs/tags/*";

/// Picks the tag a version constraint resolves to, for `targetRevision: 1.2.*` and Kargo's
/// `SemVer` strategy. The semver module implements it; the git client only offers tags.
pub trait TagSelector: Send + Sync {
    /// When `constraint` is a constraint this selector understands, the tag among `tags`
    /// with the highest version that satisfies it. `None` when `constraint` is no
    /// constraint or nothing satisfies it.
    fn select<'t>(&self, constraint: &str, tags: &[&'t str]) -> Option<&'t str>;
}

/// A shared cache of bare mirrors. Cheap to clone; clones share mirrors and locks.
#[derive(Clone)]
pub struct GitCache {
    inner: Arc<CacheInner>,
}

struct CacheInner {
    root: PathBuf,
    runner: GitRunner,
    repos: Mutex<HashMap<String, Arc<tokio::sync::Mutex<RepoState>>>>,
}

#[derive(Default)]
struct RepoState {
    recovered: bool,
}

impl std::fmt::Debug for GitCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitCache")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

impl GitCache {
    /// A cache under `dir` (created if missing) with default options.
    pub fn new(dir: impl Into<PathBuf>) -> GitResult<Self> {
        Self::with_options(dir, GitOptions::default())
    }

    /// A cache under `dir` with explicit git options.
    pub fn with_options(dir: impl Into<PathBuf>, options: GitOptions) -> GitResult<Self> {
        let dir = dir.into();
        let root = dir.join("mirrors");
        std::fs::create_dir_all(&root).map_err(|e| GitError::io(&root, e))?;
        let runner = GitRunner::new(dir.join("home"), options)?;
        Ok(GitCache {
            inner: Arc::new(CacheInner {
                root,
                runner,
                repos: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The git options every call uses.
    pub fn options(&self) -> &GitOptions {
        self.inner.runner.options()
    }

    /// The mirror of the repository at `url` (nothing is fetched yet).
    pub fn repo(&self, url: &str) -> GitResult<Mirror> {
        let url = RepoUrl::parse(url, self.options().allow_file_urls)?;
        let name = sha256_hex(url.key().as_bytes());
        let state = {
            let mut repos = self
                .inner
                .repos
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            repos.entry(name.clone()).or_default().clone()
        };
        Ok(Mirror {
            dir: self.inner.root.join(&name),
            name,
            url,
            state,
            inner: self.inner.clone(),
        })
    }
}

/// One repository's mirror. Cheap to clone.
#[derive(Clone)]
pub struct Mirror {
    inner: Arc<CacheInner>,
    url: RepoUrl,
    name: String,
    dir: PathBuf,
    state: Arc<tokio::sync::Mutex<RepoState>>,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror")
            .field("url", &self.url)
            .field("dir", &self.dir)
            .finish()
    }
}

/// What a fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOutcome {
    /// The mirror did not exist and was cloned.
    pub cloned: bool,
    /// Some branch or tag was created, moved or deleted.
    pub changed: bool,
}

/// What kind of name a revision matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefKind {
    /// `HEAD` (or an empty revision): the remote's default branch.
    Head,
    /// A branch (`refs/heads/...`).
    Branch,
    /// A tag (`refs/tags/...`).
    Tag,
    /// A tag chosen by a version constraint.
    Version,
    /// A full or abbreviated commit id.
    Commit,
}

/// A revision resolved to a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The commit.
    pub commit: CommitId,
    /// The full ref name it came from (`refs/heads/main`, `refs/tags/v1.2.0`), if any.
    pub reference: Option<String>,
    /// What kind of name it matched.
    pub kind: RefKind,
}

/// A branch or tag in the mirror.
#[derive(Debug, Clone)]
pub(crate) struct LocalRef {
    pub name: String,
    /// The commit it points at, tags peeled; `None` for tags of trees or blobs.
    pub commit: Option<String>,
}

impl Mirror {
    /// The URL git is given: no password, an SSH URL keeps its user.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The mirror's directory (a bare repository).
    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn runner(&self) -> &GitRunner {
        &self.inner.runner
    }

    pub(crate) fn repo_url(&self) -> &RepoUrl {
        &self.url
    }

    fn call(&self, op: &'static str) -> GitCall<'_> {
        GitCall::new(op, &self.url).git_dir(&self.dir)
    }

    /// Brings the mirror up to date with the remote: clones it the first time, then fetches
    /// branches and tags (pruning deleted ones). Serialized per repository.
    pub async fn fetch(&self, creds: Option<&Credentials>) -> GitResult<FetchOutcome> {
        let mut state = self.state.lock().await;
        if !state.recovered {
            self.recover().await?;
            state.recovered = true;
        }
        if !self.dir.join("HEAD").is_file() {
            self.clone_mirror(creds).await?;
            return Ok(FetchOutcome {
                cloned: true,
                changed: true,
            });
        }
        match self.fetch_into(creds).await {
            Ok(changed) => Ok(FetchOutcome {
                cloned: false,
                changed,
            }),
            Err(GitError::Command { message, .. }) if looks_corrupt(&message) => {
                tracing::warn!(url = %self.url, "mirror looks corrupt; cloning it again");
                remove_dir(&self.dir).await?;
                self.clone_mirror(creds).await?;
                Ok(FetchOutcome {
                    cloned: true,
                    changed: true,
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn fetch_into(&self, creds: Option<&Credentials>) -> GitResult<bool> {
        let out = self
            .inner
            .runner
            .run(
                self.call("fetch")
                    .remote(creds)
                    .args([
                        "fetch",
                        "--porcelain",
                        "--prune",
                        "--no-tags",
                        "--no-write-fetch-head",
                        "--no-recurse-submodules",
                        "--end-of-options",
                    ])
                    .arg(self.url.as_str())
                    .args([HEADS, TAGS]),
            )
            .await?;
        Ok(out.iter().any(|b| !b.is_ascii_whitespace()))
    }

    async fn clone_mirror(&self, creds: Option<&Credentials>) -> GitResult<()> {
        let partial = self
            .inner
            .root
            .join(format!("{}.partial-{}", self.name, super::nonce()));
        let result = self
            .inner
            .runner
            .run(
                GitCall::new("clone", &self.url)
                    .remote(creds)
                    .args([
                        "clone",
                        "--bare",
                        "--quiet",
                        "--no-recurse-submodules",
                        "--end-of-options",
                        self.url.as_str(),
                    ])
                    .arg(&partial),
            )
            .await;
        if let Err(e) = result {
            let _ = remove_dir(&partial).await;
            return Err(e);
        }
        tokio::fs::rename(&partial, &self.dir)
            .await
            .map_err(|e| GitError::io(&self.dir, e))
    }

    /// Removes what a crashed process left behind: half-finished clones, stale locks, a
    /// mirror without its skeleton.
    async fn recover(&self) -> GitResult<()> {
        let root = self.inner.root.clone();
        let name = self.name.clone();
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || recover_blocking(&root, &name, &dir))
            .await
            .map_err(|e| GitError::io(&self.dir, std::io::Error::other(e)))?
    }

    /// Asks the remote for its default branch and points the mirror's `HEAD` at it. A clone
    /// records it; call this if the remote's default branch may have changed since.
    pub async fn refresh_default_branch(&self, creds: Option<&Credentials>) -> GitResult<()> {
        let _state = self.state.lock().await;
        self.ensure_fetched()?;
        let out = self
            .inner
            .runner
            .run(
                self.call("ls-remote")
                    .remote(creds)
                    .args([
                        "ls-remote",
                        "--symref",
                        "--end-of-options",
                        self.url.as_str(),
                    ])
                    .arg("HEAD"),
            )
            .await?;
        let text = String::from_utf8_lossy(&out);
        let target = text.lines().find_map(|l| {
            l.strip_prefix("ref: ")
                .and_then(|r| r.strip_suffix("\tHEAD"))
                .map(str::to_string)
        });
        if let Some(target) = target
            && let Some(branch) = target.strip_prefix("refs/heads/")
        {
            validate::validate_ref_name(branch)?;
            self.inner
                .runner
                .run(
                    self.call("symbolic-ref")
                        .args(["symbolic-ref", "HEAD"])
                        .arg(&target),
                )
                .await?;
        }
        Ok(())
    }

    fn ensure_fetched(&self) -> GitResult<()> {
        if self.dir.join("HEAD").is_file() {
            Ok(())
        } else {
            Err(GitError::NotFetched {
                url: self.url.to_string(),
            })
        }
    }

    /// The remote's default branch as of the clone (or the last
    /// [`refresh_default_branch`](Self::refresh_default_branch)); `None` for an empty
    /// repository.
    pub async fn default_branch(&self) -> GitResult<Option<String>> {
        self.ensure_fetched()?;
        let refs = self.local_refs().await?;
        Ok(self.head_ref().await?.and_then(|head| {
            refs.iter()
                .any(|r| r.name == head)
                .then(|| head.trim_start_matches("refs/heads/").to_string())
        }))
    }

    async fn head_ref(&self) -> GitResult<Option<String>> {
        let path = self.dir.join("HEAD");
        let head = tokio::fs::read_to_string(&path)
            .await
            .map_err(|e| GitError::io(&path, e))?;
        Ok(head
            .trim()
            .strip_prefix("ref: ")
            .filter(|r| r.starts_with("refs/heads/"))
            .map(str::to_string))
    }

    /// The paths a commit changes (against its first parent; every path for a root commit; a
    /// clean merge changes none of its own, as with `git show`).
    pub(crate) async fn changed_paths(&self, commit: &CommitId) -> GitResult<Vec<String>> {
        let out = self
            .inner
            .runner
            .run(self.call("diff-tree").args([
                "diff-tree",
                "--root",
                "-r",
                "--name-only",
                "--no-commit-id",
                "-z",
                "--end-of-options",
                commit.as_str(),
            ]))
            .await?;
        Ok(out
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect())
    }

    /// Every branch and tag, sorted by ref name as `git ls-remote` lists them.
    pub(crate) async fn local_refs(&self) -> GitResult<Vec<LocalRef>> {
        let out = self
            .inner
            .runner
            .run(self.call("for-each-ref").args([
                "for-each-ref",
                "--format=%(refname)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)",
                "--end-of-options",
                "refs/heads/",
                "refs/tags/",
            ]))
            .await?;
        let mut refs = Vec::new();
        for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let line = String::from_utf8_lossy(line);
            let fields: Vec<&str> = line.split('\0').collect();
            let [name, kind, id, peeled_kind, peeled_id] = fields[..] else {
                return Err(GitError::Parse {
                    op: "for-each-ref",
                    detail: line.to_string(),
                });
            };
            let commit = match (kind, peeled_kind) {
                ("commit", _) => Some(id.to_string()),
                ("tag", "commit") => Some(peeled_id.to_string()),
                _ => None,
            };
            refs.push(LocalRef {
                name: name.to_string(),
                commit,
            });
        }
        refs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(refs)
    }

    /// Resolves a revision the way Argo CD resolves `targetRevision`: empty or `HEAD` is the
    /// default branch; a full commit id is itself; a version constraint picks a tag through
    /// `versions`; then a branch or tag by short or full name (branches first); finally an
    /// abbreviated commit id (7+ hex digits). Works on the mirror as last fetched.
    pub async fn resolve(
        &self,
        revision: &str,
        versions: Option<&dyn TagSelector>,
    ) -> GitResult<Resolved> {
        self.ensure_fetched()?;
        let revision = revision.trim();
        let not_found = || GitError::RevisionNotFound {
            url: self.url.to_string(),
            revision: revision.to_string(),
        };
        if validate::is_full_object_id(revision) {
            let commit = self.verify_commit(revision).await?.ok_or_else(not_found)?;
            return Ok(Resolved {
                commit,
                reference: None,
                kind: RefKind::Commit,
            });
        }
        let refs = self.local_refs().await?;
        let commit_of = |name: &str| {
            refs.iter()
                .find(|r| r.name == name)
                .and_then(|r| r.commit.as_deref())
                .map(CommitId::parse)
        };
        if revision.is_empty() || revision == "HEAD" {
            let head = self.head_ref().await?.ok_or_else(not_found)?;
            let commit = commit_of(&head).ok_or_else(not_found)??;
            return Ok(Resolved {
                commit,
                reference: Some(head),
                kind: RefKind::Head,
            });
        }
        if let Some(versions) = versions {
            let tags: Vec<&str> = refs
                .iter()
                .filter(|r| r.commit.is_some())
                .filter_map(|r| r.name.strip_prefix("refs/tags/"))
                .collect();
            if let Some(tag) = versions.select(revision, &tags) {
                let reference = format!("refs/tags/{tag}");
                let commit = commit_of(&reference).ok_or_else(not_found)??;
                return Ok(Resolved {
                    commit,
                    reference: Some(reference),
                    kind: RefKind::Version,
                });
            }
        }
        for r in &refs {
            let (short, kind) = if let Some(b) = r.name.strip_prefix("refs/heads/") {
                (b, RefKind::Branch)
            } else if let Some(t) = r.name.strip_prefix("refs/tags/") {
                (t, RefKind::Tag)
            } else {
                continue;
            };
            if short == revision || r.name == revision {
                let commit = r.commit.as_deref().ok_or_else(not_found)?;
                return Ok(Resolved {
                    commit: CommitId::parse(commit)?,
                    reference: Some(r.name.clone()),
                    kind,
                });
            }
        }
        if validate::is_short_object_id(revision) {
            let commit = self.verify_commit(revision).await?.ok_or_else(not_found)?;
            return Ok(Resolved {
                commit,
                reference: None,
                kind: RefKind::Commit,
            });
        }
        Err(not_found())
    }

    /// The full id of the commit `hex` names, if the mirror has it (and it is unambiguous).
    async fn verify_commit(&self, hex: &str) -> GitResult<Option<CommitId>> {
        let done = self
            .inner
            .runner
            .run_raw(
                self.call("rev-parse")
                    .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
                    .arg(format!("{hex}^{{commit}}")),
            )
            .await?;
        if !done.status.success() {
            return Ok(None);
        }
        let id = String::from_utf8_lossy(&done.stdout).trim().to_string();
        CommitId::parse(&id).map(Some)
    }

    /// Lists the whole tree of `commit` (no contents; symlink targets included).
    pub async fn tree(&self, commit: &CommitId) -> GitResult<Tree> {
        self.ensure_fetched()?;
        read::list_tree(self, commit).await
    }

    /// One file at `commit`. A symlink comes back as its target, not followed.
    pub async fn read_file(&self, commit: &CommitId, path: &str) -> GitResult<FileContent> {
        self.ensure_fetched()?;
        read::read_file(self, commit, path).await
    }

    /// One file at `commit`, following symlinks as long as they stay inside the tree.
    pub async fn read_file_resolved(&self, commit: &CommitId, path: &str) -> GitResult<Vec<u8>> {
        self.ensure_fetched()?;
        read::read_file_following(self, commit, path).await
    }

    /// Contents of the given entries of `tree` through one `cat-file --batch`.
    pub async fn read_files<'p>(
        &self,
        tree: &Tree,
        paths: impl IntoIterator<Item = &'p str>,
    ) -> GitResult<Vec<TreeFile>> {
        self.ensure_fetched()?;
        read::read_entries(self, tree, paths).await
    }

    /// Every file under `dir` (`""` or `"."` for all) at `commit`, paths relative to the
    /// repository root. Symlinks come back as targets; [`Tree::resolve`] follows them.
    pub async fn read_dir(&self, commit: &CommitId, dir: &str) -> GitResult<(Tree, Vec<TreeFile>)> {
        self.ensure_fetched()?;
        let tree = read::list_tree(self, commit).await?;
        let normalized = validate::normalize_repo_path(dir)?;
        if !tree.is_dir(&normalized) {
            return Err(match tree.get(&normalized) {
                Some(_) => GitError::InvalidPath {
                    path: dir.to_string(),
                    reason: "is not a directory (resolve symlinks first)",
                },
                None => GitError::PathNotFound {
                    commit: commit.to_string(),
                    path: normalized,
                },
            });
        }
        let paths: Vec<String> = tree.under(dir)?.map(|e| e.path.clone()).collect();
        let files = read::read_entries(self, &tree, paths.iter().map(String::as_str)).await?;
        Ok((tree, files))
    }

    /// Commits of a branch, newest first, filtered and limited as Kargo's
    /// `NewestFromBranch` discovery does.
    pub async fn list_commits(&self, query: &CommitQuery) -> GitResult<Vec<CommitInfo>> {
        self.ensure_fetched()?;
        let start = match &query.branch {
            Some(branch) => {
                validate::validate_ref_name(branch)?;
                let name = format!("refs/heads/{branch}");
                let refs = self.local_refs().await?;
                let commit = refs
                    .iter()
                    .find(|r| r.name == name)
                    .and_then(|r| r.commit.clone())
                    .ok_or_else(|| GitError::BranchNotFound {
                        url: self.url.to_string(),
                        branch: branch.clone(),
                    })?;
                CommitId::parse(&commit)?
            }
            None => self.resolve("HEAD", None).await?.commit,
        };
        history::list_commits(self, &start, query).await
    }

    /// Every tag that points (possibly through an annotated tag) at a commit, with its
    /// creator date: the tagger date for annotated tags, the committer date otherwise.
    pub async fn list_tags(&self) -> GitResult<Vec<TagInfo>> {
        self.ensure_fetched()?;
        history::list_tags(self).await
    }
}

fn recover_blocking(root: &Path, name: &str, dir: &Path) -> GitResult<()> {
    let prefix = format!("{name}.partial-");
    let entries = std::fs::read_dir(root).map_err(|e| GitError::io(root, e))?;
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let path = entry.path();
            tracing::info!(path = %path.display(), "removing an interrupted clone");
            std::fs::remove_dir_all(&path).map_err(|e| GitError::io(&path, e))?;
        }
    }
    if !dir.exists() {
        return Ok(());
    }
    let skeleton =
        dir.join("HEAD").is_file() && dir.join("objects").is_dir() && dir.join("refs").is_dir();
    if !skeleton {
        tracing::warn!(path = %dir.display(), "removing a broken mirror");
        return std::fs::remove_dir_all(dir).map_err(|e| GitError::io(dir, e));
    }
    remove_lock_files(dir, true)
}

/// Deletes `*.lock` files under `dir` (not descending into `objects/`): only call this while
/// holding the lock that keeps every other git process of ours out of the repository.
pub(crate) fn remove_lock_files(dir: &Path, top: bool) -> GitResult<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| GitError::io(dir, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let name = entry.file_name();
        if kind.is_dir() {
            if !(top && name == "objects") {
                remove_lock_files(&path, false)?;
            }
        } else if kind.is_file() && name.to_string_lossy().ends_with(".lock") {
            tracing::info!(path = %path.display(), "removing a stale git lock");
            std::fs::remove_file(&path).map_err(|e| GitError::io(&path, e))?;
        }
    }
    Ok(())
}

fn looks_corrupt(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "not a git repository",
        "corrupt",
        "bad object",
        "loose object",
        "unable to read",
    ]
    .iter()
    .any(|s| m.contains(s))
}

/// Removes a directory tree; a missing one is fine.
pub(crate) async fn remove_dir(dir: &Path) -> GitResult<()> {
    match tokio::fs::remove_dir_all(dir).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(GitError::io(dir, e)),
    }
}

/// [`TagSelector`] by Masterminds semver constraints (Argo CD's `targetRevision: 1.2.*`,
/// Kargo's `semverConstraint`): the highest tag satisfying the constraint.
pub struct SemverTags;

impl TagSelector for SemverTags {
    fn select<'t>(&self, constraint: &str, tags: &[&'t str]) -> Option<&'t str> {
        // A plain version (`1.2.3`) is a tag name, not a range: only ranges select.
        if crate::semver::Version::parse(constraint).is_ok() {
            return None;
        }
        let constraint = crate::semver::Constraint::parse(constraint).ok()?;
        tags.iter()
            .filter_map(|t| crate::semver::Version::parse(t).ok().map(|v| (v, *t)))
            .filter(|(v, _)| constraint.matches(v))
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, t)| t)
    }
}

#[cfg(test)]
mod semver_tags_tests {
    use super::{SemverTags, TagSelector};

    #[test]
    fn picks_the_highest_satisfying_tag() {
        let tags = [
            "v1.0.0",
            "v1.2.0",
            "v1.2.5",
            "v2.0.0",
            "v1.3.0-rc.1",
            "latest",
        ];
        assert_eq!(SemverTags.select("1.2.*", &tags), Some("v1.2.5"));
        assert_eq!(SemverTags.select("^1", &tags), Some("v1.2.5"));
        assert_eq!(
            SemverTags.select(">=1.3.0-0 <2", &tags),
            Some("v1.3.0-rc.1")
        );
        assert_eq!(SemverTags.select(">5", &tags), None);
        assert_eq!(
            SemverTags.select("v1.2.0", &tags),
            None,
            "a tag name, not a range"
        );
        assert_eq!(SemverTags.select("main", &tags), None);
    }
}
