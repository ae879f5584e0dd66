//! Reading files and trees at a commit without a checkout.
//!
//! A tree is listed once with `ls-tree -r -z -l`; contents come from one `cat-file --batch`
//! per call, fed every object id on stdin while its output is read, so a 10,000-file tree
//! costs two processes, not 10,000. Sizes are checked against the limits before a byte of
//! content is read. Symlinks are data here: a link comes back as its target, and
//! [`Tree::resolve`] follows links only while they stay inside the tree.

use std::collections::{BTreeMap, HashMap};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

use super::CommitId;
use super::command::{GitCall, within};
use super::error::{GitError, GitResult};
use super::mirror::Mirror;
use super::validate::normalize_repo_path;

/// Symlink hops [`Tree::resolve`] follows before calling it a loop (Linux's limit).
const MAX_LINK_HOPS: usize = 40;

/// What a tree entry is, from its git mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file (mode 100644).
    File,
    /// An executable file (mode 100755).
    Executable,
    /// A symbolic link (mode 120000).
    Symlink,
    /// A gitlink: a submodule's commit, with no content in this repository.
    Submodule,
}

/// One entry of a recursively listed tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Relative to the repository root.
    pub path: String,
    /// What the entry is.
    pub kind: EntryKind,
    /// The blob's (or the submodule commit's) object ID.
    pub oid: String,
    /// Blob size in bytes (`None` for submodules).
    pub size: Option<u64>,
}

/// What a path holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileContent {
    /// A file's bytes.
    Bytes(Vec<u8>),
    /// A symlink's target, as stored; not followed.
    Symlink(String),
    /// A submodule's commit id.
    Submodule(String),
}

/// A file read from a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFile {
    /// Relative to the repository root.
    pub path: String,
    /// What the entry is.
    pub kind: EntryKind,
    /// What it holds.
    pub content: FileContent,
}

/// A commit's whole tree: every file, link and submodule, with link targets.
#[derive(Debug, Clone)]
pub struct Tree {
    commit: CommitId,
    entries: BTreeMap<String, TreeEntry>,
    links: HashMap<String, String>,
}

impl Tree {
    /// The commit the tree belongs to.
    pub fn commit(&self) -> &CommitId {
        &self.commit
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the tree has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry at `path` (relative to the root, not resolved through symlinks).
    pub fn get(&self, path: &str) -> Option<&TreeEntry> {
        self.entries.get(path)
    }

    /// Every entry, sorted by path.
    pub fn entries(&self) -> impl Iterator<Item = &TreeEntry> {
        self.entries.values()
    }

    /// A symlink's target, as stored.
    pub fn link_target(&self, path: &str) -> Option<&str> {
        self.links.get(path).map(String::as_str)
    }

    /// Whether `path` is a directory of this tree (the root `""` always is).
    pub fn is_dir(&self, path: &str) -> bool {
        if path.is_empty() {
            return true;
        }
        let prefix = format!("{path}/");
        self.entries
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(p, _)| p.starts_with(&prefix))
    }

    /// Entries under directory `dir` (normalized; `""` or `"."` is the root). A `dir` that is
    /// itself a symlink is not followed: resolve it first.
    pub fn under(&self, dir: &str) -> GitResult<impl Iterator<Item = &TreeEntry>> {
        let dir = normalize_repo_path(dir)?;
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        Ok(self
            .entries
            .range(prefix.clone()..)
            .take_while(move |(p, _)| p.starts_with(&prefix))
            .map(|(_, e)| e))
    }

    /// Follows symlinks in `path` (in any component) and returns the path they lead to,
    /// which exists in the tree as a file or directory. Links that leave the tree, are
    /// absolute, dangle or loop are errors; no path outside the tree is ever produced.
    pub fn resolve(&self, path: &str) -> GitResult<String> {
        let normalized = normalize_repo_path(path)?;
        let mut pending: Vec<String> = normalized.split('/').rev().map(str::to_string).collect();
        pending.retain(|c| !c.is_empty());
        let mut resolved: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(component) = pending.pop() {
            match component.as_str() {
                "" | "." => continue,
                ".." => {
                    if resolved.pop().is_none() {
                        return Err(GitError::OutOfBoundsSymlink {
                            path: normalized.clone(),
                        });
                    }
                    continue;
                }
                _ => {}
            }
            resolved.push(component);
            let current = resolved.join("/");
            match self.entries.get(&current) {
                Some(entry) if entry.kind == EntryKind::Symlink => {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return Err(GitError::BrokenSymlink {
                            path: normalized,
                            problem: "a loop",
                        });
                    }
                    let target = self.links.get(&current).cloned().unwrap_or_default();
                    if target.starts_with('/') || target.is_empty() || target.contains('\0') {
                        return Err(GitError::OutOfBoundsSymlink { path: current });
                    }
                    resolved.pop();
                    pending.extend(target.split('/').rev().map(str::to_string));
                }
                Some(_) if !pending.iter().all(|c| c.is_empty() || c == ".") => {
                    return Err(GitError::BrokenSymlink {
                        path: normalized,
                        problem: "not a directory",
                    });
                }
                Some(_) => {}
                None if self.is_dir(&current) => {}
                None if hops > 0 => {
                    return Err(GitError::BrokenSymlink {
                        path: normalized,
                        problem: "dangling",
                    });
                }
                None => {
                    return Err(GitError::PathNotFound {
                        commit: self.commit.to_string(),
                        path: normalized,
                    });
                }
            }
        }
        Ok(resolved.join("/"))
    }
}

/// `ls-tree -r` of the whole commit, plus the targets of its symlinks.
pub(crate) async fn list_tree(mirror: &Mirror, commit: &CommitId) -> GitResult<Tree> {
    let out = mirror
        .runner()
        .run(
            GitCall::new("ls-tree", mirror.repo_url())
                .git_dir(mirror.path())
                .args([
                    "ls-tree",
                    "-r",
                    "-z",
                    "-l",
                    "--full-tree",
                    "--end-of-options",
                ])
                .arg(commit.as_str()),
        )
        .await
        .map_err(|e| not_found_as(e, commit, ""))?;
    let mut entries = BTreeMap::new();
    for record in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let entry = parse_ls_tree(record)?;
        entries.insert(entry.path.clone(), entry);
    }
    let link_oids: Vec<(String, String)> = entries
        .values()
        .filter(|e| e.kind == EntryKind::Symlink)
        .map(|e| (e.path.clone(), e.oid.clone()))
        .collect();
    let targets = cat_blobs(
        mirror,
        link_oids
            .iter()
            .map(|(p, o)| (p.as_str(), o.as_str(), None)),
    )
    .await?;
    let links = link_oids
        .into_iter()
        .map(|(p, _)| p)
        .zip(
            targets
                .into_iter()
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
        )
        .collect();
    Ok(Tree {
        commit: commit.clone(),
        entries,
        links,
    })
}

/// `<mode> SP <type> SP <oid> SP+ <size> TAB <path>`
fn parse_ls_tree(record: &[u8]) -> GitResult<TreeEntry> {
    let bad = || GitError::Parse {
        op: "ls-tree",
        detail: String::from_utf8_lossy(record).into_owned(),
    };
    let tab = record.iter().position(|b| *b == b'\t').ok_or_else(bad)?;
    let meta = std::str::from_utf8(&record[..tab]).map_err(|_| bad())?;
    let path = String::from_utf8_lossy(&record[tab + 1..]).into_owned();
    let mut fields = meta.split_ascii_whitespace();
    let (Some(mode), Some(_kind), Some(oid), Some(size)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(bad());
    };
    let kind = match mode {
        "100644" | "100664" => EntryKind::File,
        "100755" => EntryKind::Executable,
        "120000" => EntryKind::Symlink,
        "160000" => EntryKind::Submodule,
        _ => return Err(bad()),
    };
    Ok(TreeEntry {
        path,
        kind,
        oid: oid.to_string(),
        size: size.parse().ok(),
    })
}

/// One file at a commit; symlinks come back as targets.
pub(crate) async fn read_file(
    mirror: &Mirror,
    commit: &CommitId,
    path: &str,
) -> GitResult<FileContent> {
    let normalized = normalize_repo_path(path)?;
    if normalized.is_empty() {
        return Err(GitError::InvalidPath {
            path: path.to_string(),
            reason: "the root is a directory",
        });
    }
    let out = mirror
        .runner()
        .run(
            GitCall::new("ls-tree", mirror.repo_url())
                .git_dir(mirror.path())
                .args(["ls-tree", "-z", "-l", "--full-tree", "--end-of-options"])
                .arg(commit.as_str())
                .arg(&normalized),
        )
        .await
        .map_err(|e| not_found_as(e, commit, &normalized))?;
    let records: Vec<&[u8]> = out.split(|b| *b == 0).filter(|r| !r.is_empty()).collect();
    if records.iter().any(|r| r.starts_with(b"040000 ")) {
        return Err(GitError::InvalidPath {
            path: normalized,
            reason: "is a directory",
        });
    }
    let entry = records
        .into_iter()
        .map(parse_ls_tree)
        .find(|e| e.as_ref().map_or(true, |e| e.path == normalized))
        .transpose()?
        .ok_or_else(|| GitError::PathNotFound {
            commit: commit.to_string(),
            path: normalized.clone(),
        })?;
    let tree = Tree {
        commit: commit.clone(),
        entries: BTreeMap::from([(entry.path.clone(), entry)]),
        links: HashMap::new(),
    };
    let mut files = read_entries(mirror, &tree, [normalized.as_str()]).await?;
    files
        .pop()
        .map(|f| f.content)
        .ok_or_else(|| GitError::PathNotFound {
            commit: commit.to_string(),
            path: normalized,
        })
}

/// One file at a commit, symlinks followed by git (`cat-file --follow-symlinks`), which
/// refuses links that leave the tree.
pub(crate) async fn read_file_following(
    mirror: &Mirror,
    commit: &CommitId,
    path: &str,
) -> GitResult<Vec<u8>> {
    let normalized = normalize_repo_path(path)?;
    let limits = mirror.runner().options();
    let (max_file, timeout) = (limits.max_file_bytes, limits.timeout);
    let call = GitCall::new("cat-file", mirror.repo_url())
        .git_dir(mirror.path())
        .args(["cat-file", "--batch", "--follow-symlinks"]);
    let (mut child, mut guard) = mirror.runner().spawn(&call)?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(GitError::Parse {
            op: "cat-file",
            detail: "no pipes".into(),
        });
    };
    let work = async {
        stdin
            .write_all(format!("{commit}:{normalized}\n").as_bytes())
            .await?;
        drop(stdin);
        let mut reader = BufReader::new(stdout);
        let mut header = String::new();
        reader.read_line(&mut header).await?;
        let fields: Vec<&str> = header.trim_end().split(' ').collect();
        let detail = |problem: &'static str| GitError::BrokenSymlink {
            path: normalized.clone(),
            problem,
        };
        match fields[..] {
            [_, "blob", size] => {
                let size: u64 = size.parse().unwrap_or(u64::MAX);
                if size > max_file {
                    return Ok(Err(GitError::LimitExceeded {
                        what: format!("file {normalized:?}"),
                        limit: max_file,
                    }));
                }
                let mut content = Vec::with_capacity(size as usize);
                (&mut reader).take(size).read_to_end(&mut content).await?;
                Ok(Ok(content))
            }
            [_, "tree", _] => Ok(Err(GitError::InvalidPath {
                path: normalized.clone(),
                reason: "is a directory",
            })),
            ["symlink", _] => Ok(Err(GitError::OutOfBoundsSymlink {
                path: normalized.clone(),
            })),
            ["dangling", _] => Ok(Err(detail("dangling"))),
            ["loop", _] => Ok(Err(detail("a loop"))),
            ["notdir", _] => Ok(Err(detail("not a directory"))),
            _ => Ok(Err(GitError::PathNotFound {
                commit: commit.to_string(),
                path: normalized.clone(),
            })),
        }
    };
    let result = within(timeout, "cat-file", mirror.url(), mirror.path(), work).await;
    guard.kill();
    let _ = child.wait().await;
    result
}

/// Contents of `paths` (entries of `tree`) in one `cat-file --batch`.
pub(crate) async fn read_entries<'p>(
    mirror: &Mirror,
    tree: &Tree,
    paths: impl IntoIterator<Item = &'p str>,
) -> GitResult<Vec<TreeFile>> {
    let mut wanted = Vec::new();
    let mut files = Vec::new();
    for path in paths {
        let entry = tree.get(path).ok_or_else(|| GitError::PathNotFound {
            commit: tree.commit.to_string(),
            path: path.to_string(),
        })?;
        if matches!(entry.kind, EntryKind::File | EntryKind::Executable) {
            wanted.push(entry);
        }
        files.push(entry);
    }
    let blobs = cat_blobs(
        mirror,
        wanted
            .iter()
            .map(|e| (e.path.as_str(), e.oid.as_str(), e.size)),
    )
    .await?;
    let mut blobs = blobs.into_iter();
    let mut out = Vec::with_capacity(files.len());
    for entry in files {
        let content = match entry.kind {
            EntryKind::File | EntryKind::Executable => {
                FileContent::Bytes(blobs.next().unwrap_or_default())
            }
            EntryKind::Symlink => match tree.links.get(&entry.path) {
                Some(target) => FileContent::Symlink(target.clone()),
                None => {
                    // A tree built for a single read has no link targets yet: the blob is it.
                    let target = cat_blobs(
                        mirror,
                        std::iter::once((entry.path.as_str(), entry.oid.as_str(), entry.size)),
                    )
                    .await?;
                    FileContent::Symlink(String::from_utf8_lossy(&target.concat()).into_owned())
                }
            },
            EntryKind::Submodule => FileContent::Submodule(entry.oid.clone()),
        };
        out.push(TreeFile {
            path: entry.path.clone(),
            kind: entry.kind,
            content,
        });
    }
    Ok(out)
}

/// Blob contents for `(path, oid, known size)` triples, in order, through one
/// `cat-file --batch --buffer` fed on stdin while its stdout is read.
async fn cat_blobs<'a>(
    mirror: &Mirror,
    blobs: impl Iterator<Item = (&'a str, &'a str, Option<u64>)>,
) -> GitResult<Vec<Vec<u8>>> {
    let options = mirror.runner().options();
    let (max_file, max_total, timeout) = (
        options.max_file_bytes,
        options.max_read_bytes,
        options.timeout,
    );
    let blobs: Vec<(&str, &str, Option<u64>)> = blobs.collect();
    if blobs.is_empty() {
        return Ok(Vec::new());
    }
    // Refuse early from the sizes ls-tree reported, before starting anything.
    let mut total: u64 = 0;
    for (path, _, size) in &blobs {
        let size = size.unwrap_or(0);
        if size > max_file {
            return Err(GitError::LimitExceeded {
                what: format!("file {path:?}"),
                limit: max_file,
            });
        }
        total = total.saturating_add(size);
    }
    if total > max_total {
        return Err(GitError::LimitExceeded {
            what: "the files read".into(),
            limit: max_total,
        });
    }
    let call = GitCall::new("cat-file", mirror.repo_url())
        .git_dir(mirror.path())
        .args(["cat-file", "--batch", "--buffer"]);
    let (mut child, mut guard) = mirror.runner().spawn(&call)?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(GitError::Parse {
            op: "cat-file",
            detail: "no pipes".into(),
        });
    };
    let mut input = Vec::with_capacity(blobs.len() * 41);
    for (_, oid, _) in &blobs {
        input.extend_from_slice(oid.as_bytes());
        input.push(b'\n');
    }
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&input).await;
    });
    let work = async {
        let mut reader = BufReader::with_capacity(1 << 16, stdout);
        let mut out = Vec::with_capacity(blobs.len());
        let mut total: u64 = 0;
        let mut header = String::new();
        for (path, oid, _) in &blobs {
            header.clear();
            reader.read_line(&mut header).await?;
            let fields: Vec<&str> = header.trim_end().split(' ').collect();
            let size = match fields[..] {
                [id, "blob", size] if id == *oid => size.parse::<u64>().ok(),
                _ => None,
            };
            let Some(size) = size else {
                return Ok(Err(GitError::Parse {
                    op: "cat-file",
                    detail: format!("{path:?}: {}", header.trim_end()),
                }));
            };
            total = total.saturating_add(size);
            if size > max_file || total > max_total {
                return Ok(Err(GitError::LimitExceeded {
                    what: if size > max_file {
                        format!("file {path:?}")
                    } else {
                        "the files read".into()
                    },
                    limit: if size > max_file { max_file } else { max_total },
                }));
            }
            let mut content = vec![0u8; size as usize];
            reader.read_exact(&mut content).await?;
            let mut newline = [0u8; 1];
            reader.read_exact(&mut newline).await?;
            out.push(content);
        }
        Ok(Ok(out))
    };
    let result = within(timeout, "cat-file", mirror.url(), mirror.path(), work).await;
    writer.abort();
    if result.is_ok() {
        guard.disarm();
    } else {
        guard.kill();
    }
    let _ = child.wait().await;
    result
}

/// ls-tree's "not a valid object name" for a commit the mirror lacks, as a not-found error.
fn not_found_as(error: GitError, commit: &CommitId, path: &str) -> GitError {
    match error {
        GitError::Command { ref message, .. }
            if message.contains("Not a valid object name")
                || message.contains("not a tree object") =>
        {
            GitError::PathNotFound {
                commit: commit.to_string(),
                path: path.to_string(),
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(entries: &[(&str, EntryKind, Option<&str>)]) -> Tree {
        let mut map = BTreeMap::new();
        let mut links = HashMap::new();
        for (path, kind, target) in entries {
            map.insert(
                path.to_string(),
                TreeEntry {
                    path: path.to_string(),
                    kind: *kind,
                    oid: "0".repeat(40),
                    size: Some(1),
                },
            );
            if let Some(t) = target {
                links.insert(path.to_string(), t.to_string());
            }
        }
        Tree {
            commit: CommitId::parse(&"a".repeat(40)).unwrap(),
            entries: map,
            links,
        }
    }

    #[test]
    fn resolve_stays_inside_the_tree() {
        use EntryKind::*;
        let t = tree(&[
            ("apps/a/values.yaml", File, None),
            ("apps/b/values.yaml", Symlink, Some("../a/values.yaml")),
            ("apps/c", Symlink, Some("a")),
            ("apps/d", Symlink, Some("../apps/./a/")),
            ("passwd", Symlink, Some("/etc/passwd")),
            ("up", Symlink, Some("../..")),
            ("chain1", Symlink, Some("chain2")),
            ("chain2", Symlink, Some("apps/../../x")),
            ("loop1", Symlink, Some("loop2")),
            ("loop2", Symlink, Some("loop1")),
            ("dangling", Symlink, Some("nothing/here")),
            ("file", File, None),
        ]);
        assert_eq!(
            t.resolve("apps/a/values.yaml").unwrap(),
            "apps/a/values.yaml"
        );
        assert_eq!(
            t.resolve("apps/b/values.yaml").unwrap(),
            "apps/a/values.yaml"
        );
        assert_eq!(
            t.resolve("apps/c/values.yaml").unwrap(),
            "apps/a/values.yaml"
        );
        assert_eq!(
            t.resolve("apps/d/values.yaml").unwrap(),
            "apps/a/values.yaml"
        );
        assert_eq!(t.resolve("apps/c").unwrap(), "apps/a");
        assert!(matches!(
            t.resolve("passwd"),
            Err(GitError::OutOfBoundsSymlink { .. })
        ));
        assert!(matches!(
            t.resolve("up/x"),
            Err(GitError::OutOfBoundsSymlink { .. })
        ));
        assert!(matches!(
            t.resolve("chain1"),
            Err(GitError::OutOfBoundsSymlink { .. })
        ));
        assert!(matches!(
            t.resolve("loop1"),
            Err(GitError::BrokenSymlink {
                problem: "a loop",
                ..
            })
        ));
        assert!(matches!(
            t.resolve("dangling"),
            Err(GitError::BrokenSymlink {
                problem: "dangling",
                ..
            })
        ));
        assert!(matches!(
            t.resolve("file/x"),
            Err(GitError::BrokenSymlink {
                problem: "not a directory",
                ..
            })
        ));
        assert!(matches!(
            t.resolve("missing"),
            Err(GitError::PathNotFound { .. })
        ));
        assert!(matches!(
            t.resolve("../x"),
            Err(GitError::InvalidPath { .. })
        ));
    }

    #[test]
    fn under_and_is_dir() {
        use EntryKind::*;
        let t = tree(&[
            ("a/b/c", File, None),
            ("a/bc", File, None),
            ("ab", File, None),
        ]);
        let under: Vec<_> = t.under("a/b").unwrap().map(|e| e.path.as_str()).collect();
        assert_eq!(under, ["a/b/c"]);
        assert_eq!(t.under(".").unwrap().count(), 3);
        assert!(t.is_dir("a") && t.is_dir("a/b") && !t.is_dir("a/bc") && !t.is_dir("b"));
        assert!(t.under("../x").is_err());
    }

    #[test]
    fn ls_tree_records() {
        let e =
            parse_ls_tree(b"100644 blob 0123456789012345678901234567890123456789     12\tdir/a b")
                .unwrap();
        assert_eq!(
            (e.path.as_str(), e.kind, e.size),
            ("dir/a b", EntryKind::File, Some(12))
        );
        let e =
            parse_ls_tree(b"160000 commit 0123456789012345678901234567890123456789       -\tsub")
                .unwrap();
        assert_eq!((e.kind, e.size), (EntryKind::Submodule, None));
        assert!(parse_ls_tree(b"garbage").is_err());
    }
}
