//! Git through the `git` CLI, as Argo CD and Kargo do: a shared cache of bare mirrors for
//! reading ([`GitCache`], [`Mirror`]) and throwaway worktrees for promotion steps that write
//! ([`GitWriter`], [`Worktree`]).
//!
//! Reading never checks anything out: files and trees are read at a commit from the mirror
//! with `ls-tree` and one long-lived `cat-file --batch` per call. Writing clones one branch
//! into a work dir, commits, and pushes with fetch-rebase-push retries, serialized per
//! repository and branch. Every child git gets a scrubbed environment, credentials through
//! `GIT_ASKPASS` only, and a per-call timeout that kills it (see `command`).
//!
//! Needs git 2.46 or newer (`fetch --porcelain`, `http.proactiveAuth`). Start with
//! [`GitCache::new`] and [`GitCache::repo`], or [`GitWriter::new`] and [`GitWriter::checkout`].

mod command;
mod error;
mod history;
mod mirror;
mod path_filter;
mod read;
mod select;
mod validate;
mod worktree;

use std::path::PathBuf;
use std::time::Duration;

pub use error::{GitError, GitResult};
pub use history::{CommitInfo, CommitQuery, Person, TagInfo};
pub use mirror::{FetchOutcome, GitCache, Mirror, RefKind, Resolved, SemverTags, TagSelector};
pub use path_filter::PathFilter;
pub use read::{EntryKind, FileContent, Tree, TreeEntry, TreeFile};
pub use select::{CommitSelection, CommitSelectionStrategy, DiscoveredCommit};
pub use validate::{normalize_repo_path, validate_ref_name};
pub use worktree::{
    Checkout, CommitOutcome, GitWriter, IfMissing, PushOptions, PushOutcome, Signature, Worktree,
};

/// Settings shared by every git call of a [`GitCache`] or [`GitWriter`].
#[derive(Debug, Clone)]
pub struct GitOptions {
    /// The git binary; found on `PATH` when not absolute.
    pub git_binary: PathBuf,
    /// Longest a single git call may run before it is killed.
    pub timeout: Duration,
    /// Accept `file://` repository URLs (tests and local development only).
    pub allow_file_urls: bool,
    /// Send credentials to `http://` URLs, in clear text.
    pub allow_http_credentials: bool,
    /// Largest single file a read returns.
    pub max_file_bytes: u64,
    /// Largest total a single read call returns.
    pub max_read_bytes: u64,
    /// `known_hosts` lines SSH servers are checked against (Argo CD's
    /// `argocd-ssh-known-hosts-cm`, [`crate::secrets::ClusterSecrets::argocd_known_hosts`]); `None` knows no host,
    /// so SSH fails host key verification unless the credentials are insecure.
    pub ssh_known_hosts: Option<String>,
    /// Extra environment for every git child (for example `GIT_TRACE_PACKET` while
    /// debugging). Never put credentials here.
    pub extra_env: Vec<(String, String)>,
    /// Told about every call to a remote, for metrics.
    pub observer: Option<std::sync::Arc<dyn RemoteObserver>>,
}

/// Told about every call git makes to a remote (`clone`, `fetch`, `ls-remote`, `push`). The
/// URL never carries credentials.
pub trait RemoteObserver: Send + Sync + std::fmt::Debug {
    /// A call of kind `op` to `url` took `elapsed`; `failed` when git did not succeed.
    fn remote_call(&self, url: &str, op: &str, elapsed: Duration, failed: bool);
}

impl Default for GitOptions {
    fn default() -> Self {
        GitOptions {
            git_binary: PathBuf::from("git"),
            timeout: Duration::from_secs(60),
            allow_file_urls: false,
            allow_http_credentials: false,
            max_file_bytes: 64 << 20,
            max_read_bytes: 1 << 30,
            ssh_known_hosts: None,
            extra_env: Vec::new(),
            observer: None,
        }
    }
}

/// A full commit id (40 hex digits, or 64 in a SHA-256 repository), lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitId(String);

impl CommitId {
    /// Accepts a full hex object id.
    pub fn parse(id: &str) -> GitResult<Self> {
        if validate::is_full_object_id(id) {
            Ok(CommitId(id.to_ascii_lowercase()))
        } else {
            Err(GitError::InvalidRevision {
                revision: id.to_string(),
                reason: "not a full commit id".into(),
            })
        }
    }

    /// The lowercase hex ID.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CommitId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A random hex string that no repository content can predict, used to delimit records in
/// git output that also carries repository-controlled text.
pub(crate) fn nonce() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // Fall back to the clock: still unknown to the repository's author.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes = (nanos as u64).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
