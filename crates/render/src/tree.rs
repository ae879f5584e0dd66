//! Read access to a repository tree, confined to it: renderers ask for repository-relative
//! paths; `..` past the root, absolute paths and symlinks that resolve outside are refused.

use std::path::{Component, Path, PathBuf};

use ferry_api::{Classify, Disposition};

/// Why a path of a tree could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// The path (or a symlink on it) climbs out of the tree.
    #[error("{0}: path leaves the repository")]
    Escapes(String),
    /// Nothing is at the path.
    #[error("{0}: no such file or directory")]
    NotFound(String),
    /// Reading failed.
    #[error("{path}: {source}")]
    Io {
        /// The path read.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
}

impl Classify for TreeError {
    /// Local disk trouble is retried; a path that escapes or is missing stays so.
    fn disposition(&self) -> Disposition {
        match self {
            Self::Io { .. } => Disposition::Retry,
            Self::Escapes(_) | Self::NotFound(_) => Disposition::GiveUp,
        }
    }
}

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Repository-relative path with `/` separators.
    pub path: String,
    /// Whether the entry is a directory.
    pub is_dir: bool,
}

/// A repository tree. Paths are relative to its root, `/`-separated, without `..`.
pub trait Tree: Send + Sync {
    /// The file at `path`.
    fn read(&self, path: &str) -> Result<Vec<u8>, TreeError>;
    /// Entries of a directory, sorted by name.
    fn list(&self, dir: &str) -> Result<Vec<Entry>, TreeError>;
    /// Whether `path` is a directory.
    fn is_dir(&self, path: &str) -> bool;
    /// Whether `path` exists.
    fn exists(&self, path: &str) -> bool;

    /// A file's bytes, or `None` when the path is a directory: both answers in one lookup.
    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError> {
        if self.is_dir(path) {
            return Ok(None);
        }
        self.read(path).map(Some)
    }
}

/// Joins `base` (a directory) and `rel`, resolving `.` and `..` lexically; `None` when the
/// result climbs above the root. A leading `/` in `rel` means the repository root, as in
/// Argo CD's value files.
pub fn join(base: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    let start = if rel.starts_with('/') { "" } else { base };
    for part in start.split('/').chain(rel.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// A directory on disk as a tree.
pub struct LocalTree {
    root: PathBuf,
}

impl LocalTree {
    /// The tree rooted at `root` (resolved once; what escapes it is refused).
    pub fn new(root: impl AsRef<Path>) -> Result<Self, TreeError> {
        let root = root.as_ref();
        let root = root.canonicalize().map_err(|source| TreeError::Io {
            path: root.display().to_string(),
            source,
        })?;
        Ok(Self { root })
    }

    /// The file for a repository path, with every symlink resolved and checked to stay inside,
    /// and whether it is a directory. The root is canonical already, so only the path's own
    /// components are examined, one `lstat` each; a symlink among them is resolved with
    /// `canonicalize` (the result is what `canonicalize` of the whole path gives).
    fn resolve(&self, path: &str) -> Result<(PathBuf, bool), TreeError> {
        let rel = Path::new(path);
        if rel.components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        }) {
            return Err(TreeError::Escapes(path.to_string()));
        }
        let io = |source: std::io::Error| match source.kind() {
            std::io::ErrorKind::NotFound => TreeError::NotFound(path.to_string()),
            _ => TreeError::Io {
                path: path.to_string(),
                source,
            },
        };
        let mut real = self.root.clone();
        let mut is_dir = None;
        for component in rel.components() {
            let Component::Normal(name) = component else {
                continue;
            };
            real.push(name);
            let meta = real.symlink_metadata().map_err(io)?;
            is_dir = Some(if meta.file_type().is_symlink() {
                real = real.canonicalize().map_err(io)?;
                real.is_dir()
            } else {
                meta.is_dir()
            });
        }
        if !real.starts_with(&self.root) {
            return Err(TreeError::Escapes(path.to_string()));
        }
        let is_dir = is_dir.unwrap_or_else(|| real.is_dir());
        Ok((real, is_dir))
    }
}

impl Tree for LocalTree {
    fn read(&self, path: &str) -> Result<Vec<u8>, TreeError> {
        let (file, _) = self.resolve(path)?;
        read_real(path, &file)
    }

    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError> {
        match self.resolve(path)? {
            (_, true) => Ok(None),
            (file, false) => read_real(path, &file).map(Some),
        }
    }

    fn list(&self, dir: &str) -> Result<Vec<Entry>, TreeError> {
        let (real, _) = self.resolve(dir)?;
        let io = |source| TreeError::Io {
            path: dir.to_string(),
            source,
        };
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&real).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = join(dir, &name).unwrap_or_default();
            // Links are followed only when they stay inside (a link out is skipped here and
            // refused if read by name).
            let Ok((_, is_dir)) = self.resolve(&path) else {
                continue;
            };
            entries.push(Entry { path, is_dir });
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    fn is_dir(&self, path: &str) -> bool {
        self.resolve(path).is_ok_and(|(_, is_dir)| is_dir)
    }

    fn exists(&self, path: &str) -> bool {
        self.resolve(path).is_ok()
    }
}

/// Reads the file `real` that the repository path `path` resolved to.
fn read_real(path: &str, real: &Path) -> Result<Vec<u8>, TreeError> {
    std::fs::read(real).map_err(|source| TreeError::Io {
        path: path.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_inside_the_root_only() {
        assert_eq!(
            join("apps/web", "values.yaml").as_deref(),
            Some("apps/web/values.yaml")
        );
        assert_eq!(join("apps/web", "../base").as_deref(), Some("apps/base"));
        assert_eq!(
            join("apps/web", "/env/dev/v.yaml").as_deref(),
            Some("env/dev/v.yaml")
        );
        assert_eq!(join("apps", "../../etc/passwd"), None);
        assert_eq!(join("", "./a/./b").as_deref(), Some("a/b"));
    }

    #[test]
    fn local_tree_refuses_escapes() {
        let outer = tempfile::tempdir().unwrap();
        let repo = outer.path().join("repo");
        std::fs::create_dir_all(repo.join("app")).unwrap();
        std::fs::write(outer.path().join("secret"), "s").unwrap();
        std::fs::write(repo.join("app/cm.yaml"), "kind: ConfigMap").unwrap();
        std::os::unix::fs::symlink("../../secret", repo.join("app/out")).unwrap();
        std::os::unix::fs::symlink("cm.yaml", repo.join("app/in")).unwrap();
        let tree = LocalTree::new(&repo).unwrap();
        assert_eq!(tree.read("app/in").unwrap(), b"kind: ConfigMap");
        assert!(matches!(tree.read("app/out"), Err(TreeError::Escapes(_))));
        assert!(matches!(tree.read("../secret"), Err(TreeError::Escapes(_))));
        assert!(matches!(
            tree.read("/etc/passwd"),
            Err(TreeError::Escapes(_))
        ));
        assert!(matches!(tree.read("app/none"), Err(TreeError::NotFound(_))));
        let listed: Vec<_> = tree
            .list("app")
            .unwrap()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(listed, ["app/cm.yaml", "app/in"]);
    }

    #[test]
    fn local_tree_follows_directory_links_inside_only() {
        let outer = tempfile::tempdir().unwrap();
        let repo = outer.path().join("repo");
        std::fs::create_dir_all(repo.join("app/base")).unwrap();
        std::fs::write(outer.path().join("secret"), "s").unwrap();
        std::fs::write(repo.join("app/base/cm.yaml"), "kind: ConfigMap").unwrap();
        std::os::unix::fs::symlink("app/base", repo.join("alias")).unwrap();
        std::os::unix::fs::symlink("../..", repo.join("app/base/up")).unwrap();
        std::os::unix::fs::symlink(outer.path(), repo.join("app/out")).unwrap();
        std::os::unix::fs::symlink("missing", repo.join("app/dangling")).unwrap();
        let tree = LocalTree::new(&repo).unwrap();
        assert_eq!(tree.read("alias/cm.yaml").unwrap(), b"kind: ConfigMap");
        assert_eq!(
            tree.read("./alias/up/alias/cm.yaml").unwrap(),
            b"kind: ConfigMap"
        );
        assert!(tree.is_dir("alias") && tree.is_dir("alias/up") && tree.is_dir(""));
        assert!(!tree.is_dir("alias/cm.yaml") && tree.exists("alias/cm.yaml"));
        assert_eq!(
            tree.read_file("alias/cm.yaml").unwrap().as_deref(),
            Some(&b"kind: ConfigMap"[..])
        );
        assert_eq!(tree.read_file("alias/up").unwrap(), None);
        assert!(matches!(
            tree.read_file("app/out/secret"),
            Err(TreeError::Escapes(_))
        ));
        assert!(matches!(
            tree.read("app/out/secret"),
            Err(TreeError::Escapes(_))
        ));
        assert!(matches!(
            tree.read("app/out/repo/alias/cm.yaml"),
            Ok(ref b) if b == b"kind: ConfigMap"
        ));
        assert!(matches!(
            tree.read("app/dangling"),
            Err(TreeError::NotFound(_))
        ));
        assert!(matches!(
            tree.read("alias/cm.yaml/x"),
            Err(TreeError::Io { .. })
        ));
        let listed: Vec<_> = tree.list("app").unwrap();
        assert_eq!(
            listed,
            [Entry {
                path: "app/base".into(),
                is_dir: true
            }]
        );
        let top: Vec<_> = tree.list("").unwrap().into_iter().map(|e| e.path).collect();
        assert_eq!(top, ["alias", "app"]);
    }
}
