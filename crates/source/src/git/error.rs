//! Errors of the git client. Each says, through [`Classify::disposition`], whether the same
//! call may succeed later (network trouble, a timeout, a remote that kept moving), is waiting
//! for something to be pushed (a revision, a branch), or will fail the same way until a person
//! changes something (bad input, wrong credentials, a real conflict).
//!
//! Messages never carry credentials: URLs are shown without userinfo and git's own output is
//! scrubbed of the password before it lands here.

use std::path::PathBuf;
use std::time::Duration;

use ferry_api::{Classify, Disposition};

/// Everything the git client can fail with.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The repository URL is malformed or uses a scheme that is not allowed.
    #[error("invalid repository URL: {0}")]
    InvalidUrl(String),
    /// A revision, branch or tag name that git would misread (or that is no ref name).
    #[error("invalid revision {revision:?}: {reason}")]
    InvalidRevision {
        /// The name as given.
        revision: String,
        /// Why it is refused.
        reason: std::borrow::Cow<'static, str>,
    },
    /// A repository path that is absolute, climbs out with `..`, or holds bad bytes.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An `includePaths`/`excludePaths` pattern that does not parse.
    #[error("invalid path pattern {pattern:?}: {reason}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// The parser's complaint.
        reason: String,
    },
    /// Subscription settings that contradict each other or do not parse.
    #[error("invalid git subscription: {0}")]
    InvalidSubscription(String),
    /// No branch, tag, commit or matching version is called this in the fetched refs.
    #[error("cannot resolve revision {revision:?} in {url}")]
    RevisionNotFound {
        /// The repository, without userinfo.
        url: String,
        /// The revision asked for.
        revision: String,
    },
    /// The path does not exist at the commit.
    #[error("{path:?} not found at commit {commit}")]
    PathNotFound {
        /// The commit read.
        commit: String,
        /// The path looked for.
        path: String,
    },
    /// A symlink that points outside the repository tree (or is absolute).
    #[error("out-of-bounds symlink {path:?}")]
    OutOfBoundsSymlink {
        /// The symlink's path in the repository.
        path: String,
    },
    /// A symlink that dangles, loops, or goes through a file as if it were a directory.
    #[error("symlink {path:?} is {problem}")]
    BrokenSymlink {
        /// The symlink's path in the repository.
        path: String,
        /// What is wrong with it: `dangling`, `a loop`, ...
        problem: &'static str,
    },
    /// A file or a whole read is larger than the configured limit.
    #[error("{what} exceeds the limit of {limit} bytes")]
    LimitExceeded {
        /// What grew too large: a file's path or the whole read.
        what: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The remote refused the credentials, or wanted some and got none.
    #[error("authentication to {url} failed: {detail}")]
    Auth {
        /// The repository, without userinfo.
        url: String,
        /// git's message, scrubbed of secrets.
        detail: String,
    },
    /// The SSH server's host key is not in the known hosts, or is not the one recorded there.
    #[error(
        "SSH host key verification failed for {url}: add the server's key to the known hosts \
         (Argo CD's argocd-ssh-known-hosts-cm), or mark the repository insecure"
    )]
    HostKey {
        /// The repository, without userinfo.
        url: String,
    },
    /// Credentials would travel in clear text over `http://`, which is not enabled.
    #[error("refusing to send credentials to {url} over plain http")]
    InsecureCredentials {
        /// The repository, without userinfo.
        url: String,
    },
    /// The remote says there is no such repository (or hides it from these credentials).
    #[error("repository {url} not found")]
    RepositoryNotFound {
        /// The repository, without userinfo.
        url: String,
    },
    /// A read on a repository that has never been fetched into the cache.
    #[error("repository {url} has not been fetched yet")]
    NotFetched {
        /// The repository, without userinfo.
        url: String,
    },
    /// A branch to check out does not exist and was not asked to be created.
    #[error("branch {branch:?} does not exist in {url}")]
    BranchNotFound {
        /// The repository, without userinfo.
        url: String,
        /// The branch asked for.
        branch: String,
    },
    /// git ran longer than the per-call timeout and was killed.
    #[error("git {op} on {url} timed out after {timeout:?}")]
    Timeout {
        /// The git operation: `fetch`, `push`, ...
        op: &'static str,
        /// The repository, without userinfo.
        url: String,
        /// The limit that was reached.
        timeout: Duration,
    },
    /// git failed; `retryable` tells network trouble from everything else.
    #[error("git {op} on {url} failed: {message}")]
    Command {
        /// The git operation: `fetch`, `push`, ...
        op: &'static str,
        /// The repository, without userinfo.
        url: String,
        /// git's standard error, scrubbed of secrets.
        message: String,
        /// Whether the message reads as network or server trouble.
        retryable: bool,
    },
    /// Integrating the remote's new commits conflicts with ours in these files.
    #[error("push to branch {branch:?} conflicts with the remote in {}", .files.join(", "))]
    Conflict {
        /// The branch pushed to.
        branch: String,
        /// The conflicting paths.
        files: Vec<String>,
    },
    /// The remote refused the push for a reason other than a moved branch (a hook, a
    /// protected branch).
    #[error("push to branch {branch:?} rejected: {reason}")]
    PushRejected {
        /// The branch pushed to.
        branch: String,
        /// The remote's reason.
        reason: String,
    },
    /// Every attempt found the branch moved again.
    #[error(
        "push to branch {branch:?} still rejected after {attempts} attempts: the branch keeps moving"
    )]
    PushRetriesExhausted {
        /// The branch pushed to.
        branch: String,
        /// How many pushes were tried.
        attempts: u32,
    },
    /// An author or committer git would reject or silently change.
    #[error("invalid signature {value:?}: {reason}")]
    InvalidSignature {
        /// The name or email as given.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A work dir that is not a usable git worktree.
    #[error("work dir {}: {problem}", .dir.display())]
    Workdir {
        /// The work dir.
        dir: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// Output from git that does not parse.
    #[error("unexpected output from git {op}: {detail}")]
    Parse {
        /// The git command whose output it was.
        op: &'static str,
        /// What did not parse.
        detail: String,
    },
    /// The git binary could not be started.
    #[error("cannot run {}: {source}", .path.display())]
    GitUnavailable {
        /// The binary tried.
        path: PathBuf,
        /// Why it did not start.
        source: std::io::Error,
    },
    /// Local disk trouble.
    #[error("I/O error on {}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl Classify for GitError {
    fn disposition(&self) -> Disposition {
        match self {
            GitError::Timeout { .. }
            | GitError::PushRetriesExhausted { .. }
            | GitError::Io { .. }
            | GitError::GitUnavailable { .. } => Disposition::Retry,
            GitError::Command { retryable, .. } => {
                if *retryable {
                    Disposition::Retry
                } else {
                    Disposition::GiveUp
                }
            }
            GitError::RevisionNotFound { .. }
            | GitError::NotFetched { .. }
            | GitError::BranchNotFound { .. } => Disposition::Wait,
            GitError::InvalidUrl(_)
            | GitError::InvalidRevision { .. }
            | GitError::InvalidPath { .. }
            | GitError::InvalidPattern { .. }
            | GitError::InvalidSubscription(_)
            | GitError::PathNotFound { .. }
            | GitError::OutOfBoundsSymlink { .. }
            | GitError::BrokenSymlink { .. }
            | GitError::LimitExceeded { .. }
            | GitError::Auth { .. }
            | GitError::HostKey { .. }
            | GitError::InsecureCredentials { .. }
            | GitError::RepositoryNotFound { .. }
            | GitError::Conflict { .. }
            | GitError::PushRejected { .. }
            | GitError::InvalidSignature { .. }
            | GitError::Workdir { .. }
            | GitError::Parse { .. } => Disposition::GiveUp,
        }
    }
}

impl GitError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        GitError::Io {
            path: path.into(),
            source,
        }
    }
}

/// A result of the git client.
pub type GitResult<T> = Result<T, GitError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_has_its_disposition() {
        let url = || "https://git.example/app".to_string();
        let io = || std::io::Error::other("disk");
        let command = |retryable| GitError::Command {
            op: "fetch",
            url: url(),
            message: "fatal".into(),
            retryable,
        };
        use Disposition::*;
        let table = [
            (GitError::InvalidUrl("x".into()), GiveUp),
            (
                GitError::InvalidRevision {
                    revision: "-x".into(),
                    reason: "option".into(),
                },
                GiveUp,
            ),
            (
                GitError::InvalidPath {
                    path: "/x".into(),
                    reason: "absolute",
                },
                GiveUp,
            ),
            (
                GitError::InvalidPattern {
                    pattern: "[".into(),
                    reason: "unclosed".into(),
                },
                GiveUp,
            ),
            (GitError::InvalidSubscription("both".into()), GiveUp),
            (
                GitError::RevisionNotFound {
                    url: url(),
                    revision: "v2".into(),
                },
                Wait,
            ),
            (
                GitError::PathNotFound {
                    commit: "abc".into(),
                    path: "env".into(),
                },
                GiveUp,
            ),
            (GitError::OutOfBoundsSymlink { path: "l".into() }, GiveUp),
            (
                GitError::BrokenSymlink {
                    path: "l".into(),
                    problem: "a loop",
                },
                GiveUp,
            ),
            (
                GitError::LimitExceeded {
                    what: "blob".into(),
                    limit: 1,
                },
                GiveUp,
            ),
            (
                GitError::Auth {
                    url: url(),
                    detail: "401".into(),
                },
                GiveUp,
            ),
            (GitError::HostKey { url: url() }, GiveUp),
            (GitError::InsecureCredentials { url: url() }, GiveUp),
            (GitError::RepositoryNotFound { url: url() }, GiveUp),
            (GitError::NotFetched { url: url() }, Wait),
            (
                GitError::BranchNotFound {
                    url: url(),
                    branch: "stage/dev".into(),
                },
                Wait,
            ),
            (
                GitError::Timeout {
                    op: "fetch",
                    url: url(),
                    timeout: Duration::from_secs(1),
                },
                Retry,
            ),
            (command(true), Retry),
            (command(false), GiveUp),
            (
                GitError::Conflict {
                    branch: "main".into(),
                    files: vec!["a".into()],
                },
                GiveUp,
            ),
            (
                GitError::PushRejected {
                    branch: "main".into(),
                    reason: "hook".into(),
                },
                GiveUp,
            ),
            (
                GitError::PushRetriesExhausted {
                    branch: "main".into(),
                    attempts: 5,
                },
                Retry,
            ),
            (
                GitError::InvalidSignature {
                    value: "<>".into(),
                    reason: "empty name",
                },
                GiveUp,
            ),
            (
                GitError::Workdir {
                    dir: "/w".into(),
                    problem: "not a worktree".into(),
                },
                GiveUp,
            ),
            (
                GitError::Parse {
                    op: "ls-remote",
                    detail: "x".into(),
                },
                GiveUp,
            ),
            (
                GitError::GitUnavailable {
                    path: "git".into(),
                    source: io(),
                },
                Retry,
            ),
            (GitError::io("/cache", io()), Retry),
        ];
        for (error, expected) in table {
            assert_eq!(error.disposition(), expected, "{error}");
        }
    }
}
