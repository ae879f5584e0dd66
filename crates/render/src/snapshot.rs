//! A commit's files held in memory as a [`Tree`]: what renderers read when a source comes
//! from Git. It is read once per (repository, commit) through `ferry_source::git` (two git
//! processes for the whole tree) and shared by every Application rendered from that commit.
//! Symlinks are followed only while they stay inside the commit, as in a checkout that
//! Argo CD's repo-server has checked for out-of-bounds links.

use std::collections::HashMap;

use ferry_source::git::{self, EntryKind, FileContent, GitError, Mirror};

use crate::tree::{Entry, Tree, TreeError};

/// Every file of one commit.
pub struct Snapshot {
    tree: git::Tree,
    files: HashMap<String, Vec<u8>>,
    bytes: usize,
}

impl Snapshot {
    /// Reads the whole tree of `commit` from `mirror` (already fetched).
    pub async fn read(mirror: &Mirror, commit: &git::CommitId) -> Result<Self, GitError> {
        let (tree, entries) = mirror.read_dir(commit, "").await?;
        let mut files = HashMap::with_capacity(entries.len());
        let mut bytes = 0;
        for file in entries {
            if let FileContent::Bytes(content) = file.content {
                bytes += content.len();
                files.insert(file.path, content);
            }
        }
        Ok(Snapshot { tree, files, bytes })
    }

    /// The commit this is a snapshot of.
    pub fn commit(&self) -> &git::CommitId {
        self.tree.commit()
    }

    /// The commit's entries (files, links, submodules) with their kinds, unresolved.
    pub fn git_tree(&self) -> &git::Tree {
        &self.tree
    }

    /// Total size of the files' contents.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn resolve(&self, path: &str) -> Result<String, TreeError> {
        self.tree.resolve(path).map_err(|e| match e {
            GitError::PathNotFound { .. } => TreeError::NotFound(path.to_string()),
            GitError::BrokenSymlink {
                problem: "dangling",
                ..
            } => TreeError::NotFound(path.to_string()),
            _ => TreeError::Escapes(path.to_string()),
        })
    }
}

impl Tree for Snapshot {
    fn read(&self, path: &str) -> Result<Vec<u8>, TreeError> {
        let resolved = self.resolve(path)?;
        self.files
            .get(&resolved)
            .cloned()
            .ok_or_else(|| TreeError::NotFound(path.to_string()))
    }

    fn list(&self, dir: &str) -> Result<Vec<Entry>, TreeError> {
        let resolved = self.resolve(dir)?;
        if !self.tree.is_dir(&resolved) {
            return Err(TreeError::NotFound(dir.to_string()));
        }
        let prefix = if resolved.is_empty() {
            String::new()
        } else {
            format!("{resolved}/")
        };
        let shown = |name: &str| {
            if dir.is_empty() {
                name.to_string()
            } else {
                format!("{}/{name}", dir.trim_end_matches('/'))
            }
        };
        let mut entries: Vec<Entry> = Vec::new();
        let children = self
            .tree
            .under(&resolved)
            .map_err(|_| TreeError::Escapes(dir.to_string()))?;
        for entry in children {
            let rest = &entry.path[prefix.len()..];
            let (name, nested) = match rest.split_once('/') {
                Some((name, _)) => (name, true),
                None => (rest, false),
            };
            let path = shown(name);
            if entries.last().is_some_and(|last| last.path == path) {
                continue;
            }
            let is_dir = if nested {
                true
            } else {
                match entry.kind {
                    EntryKind::Symlink => match self.resolve(&path) {
                        Ok(target) => self.tree.is_dir(&target),
                        // A link out of the commit is skipped here and refused if read.
                        Err(_) => continue,
                    },
                    EntryKind::Submodule => continue,
                    EntryKind::File | EntryKind::Executable => false,
                }
            };
            entries.push(Entry { path, is_dir });
        }
        // Children of one directory are contiguous in the tree's order, but `a.txt` sorts
        // before `a/…` there and after `a` here.
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    fn is_dir(&self, path: &str) -> bool {
        self.resolve(path).is_ok_and(|p| self.tree.is_dir(&p))
    }

    fn exists(&self, path: &str) -> bool {
        self.resolve(path).is_ok()
    }
}
