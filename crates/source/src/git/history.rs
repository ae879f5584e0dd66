//! History for discovery: commits of a branch (newest first, path-filtered, limited) and
//! tags with their dates — the data Kargo's commit selection strategies choose from.
//!
//! Commits come from one streaming `git log` that carries each commit's changed paths
//! (`--name-only`, merges as `git show` sees them), read until `limit` commits qualify and
//! then stopped. Records are split on a per-call random marker, so no subject or file name
//! in the repository can forge one.

use chrono::{DateTime, FixedOffset, Utc};
use tokio::io::AsyncReadExt as _;

use super::command::{GitCall, within};
use super::error::{GitError, GitResult};
use super::mirror::Mirror;
use super::path_filter::PathFilter;
use super::{CommitId, nonce};

/// Which commits [`Mirror::list_commits`] returns.
#[derive(Debug, Clone)]
pub struct CommitQuery {
    /// The branch; `None` is the default branch.
    pub branch: Option<String>,
    /// `includePaths` / `excludePaths`.
    pub filter: PathFilter,
    /// `discoveryLimit`: at most this many commits.
    pub limit: usize,
    /// Only commits committed at or after this time (`since`).
    pub since: Option<DateTime<Utc>>,
}

impl Default for CommitQuery {
    fn default() -> Self {
        CommitQuery {
            branch: None,
            filter: PathFilter::default(),
            limit: 20,
            since: None,
        }
    }
}

/// A name and an email, shown as `Name <email>` (Kargo's `author` / `committer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The name.
    pub name: String,
    /// The email address.
    pub email: String,
}

impl std::fmt::Display for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} <{}>", self.name, self.email)
    }
}

/// A commit of a branch's history, as Kargo's discovery reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// The commit's ID.
    pub id: CommitId,
    /// Who wrote the change.
    pub author: Person,
    /// When the change was written.
    pub author_date: DateTime<FixedOffset>,
    /// Who committed it.
    pub committer: Person,
    /// Kargo's `commitDate` / `creatorDate`.
    pub committer_date: DateTime<FixedOffset>,
    /// The first line of the message.
    pub subject: String,
}

/// A tag, as Kargo's tag discovery reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagInfo {
    /// The tag's name, without `refs/tags/`.
    pub name: String,
    /// The commit the tag points at (annotated tags peeled).
    pub commit: CommitId,
    /// Whether it is an annotated tag (not a lightweight one).
    pub annotated: bool,
    /// The tagger date of an annotated tag, the committer date of a lightweight one.
    pub creator_date: DateTime<FixedOffset>,
    /// Annotated tags only.
    pub tagger: Option<Person>,
    /// The annotated tag's message.
    pub annotation: Option<String>,
    /// The commit's author.
    pub author: Person,
    /// The commit's committer.
    pub committer: Person,
    /// The commit's subject.
    pub subject: String,
}

const LOG_FIELDS: usize = 8;

pub(crate) async fn list_commits(
    mirror: &Mirror,
    start: &CommitId,
    query: &CommitQuery,
) -> GitResult<Vec<CommitInfo>> {
    if query.limit == 0 {
        return Ok(Vec::new());
    }
    let marker = format!("\x1e{}", nonce());
    let mut call = GitCall::new("log", mirror.repo_url())
        .git_dir(mirror.path())
        .arg("log")
        .arg(format!(
            "--format={marker}%H%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%s"
        ))
        .args(["-z", "--no-color", "--no-decorate", "--no-show-signature"]);
    let filtered = !query.filter.is_empty();
    if filtered {
        call = call.args(["--name-only", "--diff-merges=dense-combined"]);
    } else {
        call = call.arg(format!("--max-count={}", query.limit));
    }
    if let Some(since) = query.since {
        call = call.arg(format!("--since={}", since.format("%Y-%m-%dT%H:%M:%SZ")));
    }
    let call = call.args(["--end-of-options", start.as_str(), "--"]);

    let runner = mirror.runner();
    let timeout = runner.options().timeout;
    let (mut child, mut guard) = runner.spawn(&call)?;
    drop(child.stdin.take());
    let Some(mut stdout) = child.stdout.take() else {
        return Err(GitError::Parse {
            op: "log",
            detail: "no stdout".into(),
        });
    };
    let mut stderr = child.stderr.take();
    let marker = marker.into_bytes();
    let work = async {
        let mut commits = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 1 << 16];
        let mut eof = false;
        loop {
            // Every complete record: from one marker up to the next (or EOF).
            while let Some(end) = record_end(&buf, &marker, eof) {
                let record: Vec<u8> = buf.drain(..end).collect();
                if record.len() <= marker.len() {
                    continue;
                }
                let (commit, paths) = parse_log_record(&record[marker.len()..])?;
                if !filtered || query.filter.matches_any(&paths) {
                    commits.push(commit);
                    if commits.len() >= query.limit {
                        return Ok(commits);
                    }
                }
            }
            if eof {
                return Ok(commits);
            }
            let n = stdout
                .read(&mut chunk)
                .await
                .map_err(|e| GitError::io(mirror.path(), e))?;
            if n == 0 {
                eof = true;
            } else {
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    };
    let result = within(timeout, "log", mirror.url(), mirror.path(), async {
        Ok(work.await)
    })
    .await;
    // Stop git if it is still walking history we no longer need.
    guard.kill();
    let status = child.wait().await;
    let commits = result?;
    if commits.is_empty()
        && let Ok(status) = status
        && !status.success()
        && status.code().is_some()
    {
        let mut err = Vec::new();
        if let Some(pipe) = stderr.as_mut() {
            let _ = pipe.take(1 << 16).read_to_end(&mut err).await;
        }
        return Err(super::command::classify(
            "log",
            mirror.repo_url(),
            false,
            &String::from_utf8_lossy(&err),
        ));
    }
    Ok(commits)
}

/// Where the record that starts at `buf[0]` ends: at the next marker, or at the end of the
/// buffer once the stream is over.
fn record_end(buf: &[u8], marker: &[u8], eof: bool) -> Option<usize> {
    if buf.is_empty() {
        return None;
    }
    let from = marker.len().min(buf.len());
    match find(&buf[from..], marker) {
        Some(pos) => Some(from + pos),
        None if eof => Some(buf.len()),
        None => None,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_log_record(record: &[u8]) -> GitResult<(CommitInfo, Vec<String>)> {
    let bad = |detail: &str| GitError::Parse {
        op: "log",
        detail: detail.to_string(),
    };
    let mut fields = record.split(|b| *b == 0);
    let mut header = Vec::with_capacity(LOG_FIELDS);
    for _ in 0..LOG_FIELDS {
        let field = fields.next().ok_or_else(|| bad("short record"))?;
        header.push(String::from_utf8_lossy(field).into_owned());
    }
    let paths = fields
        .map(|p| String::from_utf8_lossy(p.strip_prefix(b"\n").unwrap_or(p)).into_owned())
        .filter(|p| !p.is_empty())
        .collect();
    let [id, an, ae, ad, cn, ce, cd, subject] =
        <[String; LOG_FIELDS]>::try_from(header).map_err(|_| bad("short record"))?;
    let commit = CommitInfo {
        id: CommitId::parse(&id)?,
        author: Person {
            name: an,
            email: ae,
        },
        author_date: parse_date(&ad)?,
        committer: Person {
            name: cn,
            email: ce,
        },
        committer_date: parse_date(&cd)?,
        subject,
    };
    Ok((commit, paths))
}

fn parse_date(s: &str) -> GitResult<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s.trim()).map_err(|e| GitError::Parse {
        op: "date",
        detail: format!("{s:?}: {e}"),
    })
}

const TAG_FIELDS: [&str; 19] = [
    "%(refname)",
    "%(objecttype)",
    "%(objectname)",
    "%(*objecttype)",
    "%(*objectname)",
    "%(creatordate:iso-strict)",
    "%(taggername)",
    "%(taggeremail:trim)",
    "%(authorname)",
    "%(authoremail:trim)",
    "%(committername)",
    "%(committeremail:trim)",
    "%(subject)",
    "%(*authorname)",
    "%(*authoremail:trim)",
    "%(*committername)",
    "%(*committeremail:trim)",
    "%(*subject)",
    "%(contents)",
];

pub(crate) async fn list_tags(mirror: &Mirror) -> GitResult<Vec<TagInfo>> {
    let mark = nonce();
    let format = format!("--format=%1e{mark}{}", TAG_FIELDS.join("%00"));
    let out = mirror
        .runner()
        .run(
            GitCall::new("for-each-ref", mirror.repo_url())
                .git_dir(mirror.path())
                .args(["for-each-ref", &format, "--end-of-options", "refs/tags/"]),
        )
        .await?;
    let marker = format!("\x1e{mark}");
    let mut tags = Vec::new();
    let mut rest: &[u8] = &out;
    while !rest.is_empty() {
        let start = find(rest, marker.as_bytes()).map_or(rest.len(), |p| p + marker.len());
        rest = &rest[start..];
        let end = find(rest, marker.as_bytes()).unwrap_or(rest.len());
        let record = &rest[..end];
        rest = &rest[end..];
        if record.is_empty() {
            continue;
        }
        match parse_tag_record(record) {
            Ok(Some(tag)) => tags.push(tag),
            Ok(None) => {}
            Err(e) => tracing::warn!(url = %mirror.url(), error = %e, "skipping a tag"),
        }
    }
    Ok(tags)
}

/// One for-each-ref record; `None` for tags of trees or blobs.
fn parse_tag_record(record: &[u8]) -> GitResult<Option<TagInfo>> {
    let text = String::from_utf8_lossy(record);
    let f: Vec<&str> = text.split('\0').collect();
    if f.len() != TAG_FIELDS.len() {
        return Err(GitError::Parse {
            op: "for-each-ref",
            detail: format!("{} fields in a tag record", f.len()),
        });
    }
    let name = f[0].trim_start_matches("refs/tags/").to_string();
    let annotated = f[1] == "tag";
    let (commit, base) = match (f[1], f[3]) {
        ("commit", _) => (f[2], 8),
        ("tag", "commit") => (f[4], 13),
        _ => return Ok(None),
    };
    let person = |i: usize| Person {
        name: f[base + i].to_string(),
        email: f[base + i + 1].to_string(),
    };
    Ok(Some(TagInfo {
        name,
        commit: CommitId::parse(commit)?,
        annotated,
        creator_date: parse_date(f[5])?,
        tagger: annotated.then(|| Person {
            name: f[6].to_string(),
            email: f[7].to_string(),
        }),
        annotation: annotated.then(|| f[18].trim_end_matches('\n').to_string()),
        author: person(0),
        committer: person(2),
        subject: f[base + 4].to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_records_with_and_without_paths() {
        let id = "a".repeat(40);
        let record = format!(
            "{id}\0Ann\0ann@x\02024-01-02T03:04:05+01:00\0Cid\0cid@x\02024-01-02T03:04:06Z\0subj\0\napps/a.yaml\0b\0"
        );
        let (c, paths) = parse_log_record(record.as_bytes()).unwrap();
        assert_eq!(c.id.as_str(), id);
        assert_eq!(c.author.to_string(), "Ann <ann@x>");
        assert_eq!(c.subject, "subj");
        assert_eq!(paths, ["apps/a.yaml", "b"]);
        let bare = format!("{id}\0A\0a@x\02024-01-02T03:04:05Z\0C\0c@x\02024-01-02T03:04:05Z\0\0");
        let (c, paths) = parse_log_record(bare.as_bytes()).unwrap();
        assert_eq!(c.subject, "");
        assert!(paths.is_empty());
        assert!(parse_log_record(b"short\0record").is_err());
    }

    #[test]
    fn records_split_on_markers() {
        let m = b"\x1eMARK";
        let buf = b"\x1eMARKone\0\x1eMARKtwo";
        assert_eq!(record_end(buf, m, false), Some(9));
        assert_eq!(record_end(&buf[9..], m, false), None);
        assert_eq!(record_end(&buf[9..], m, true), Some(8));
    }
}
