//! Argo CD's `directory` source: the YAML, JSON and Jsonnet files of a path (optionally
//! recursive), filtered by `include`/`exclude` globs, in path order. `.jsonnet` files are
//! evaluated with `directory.jsonnet` (see [`crate::jsonnet`]). Hidden files and directories
//! are skipped, as the repo-server does by default.

use ferry_api::argocd::ApplicationSourceDirectory;
use ferry_api::{Classify, Disposition};
use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::jsonnet::{self, JsonnetError, JsonnetLimits};
use crate::manifest::{Manifest, ParseError, parse_documents};
use crate::tree::{Tree, TreeError};

/// Why a directory source could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// Reading the tree failed.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// A YAML or JSON file does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A Jsonnet file does not evaluate.
    #[error(transparent)]
    Jsonnet(#[from] JsonnetError),
    /// `include` or `exclude` is not a glob.
    #[error("invalid {field} glob {glob:?}: {message}")]
    Glob {
        /// `directory.include` or `directory.exclude`.
        field: &'static str,
        /// The glob.
        glob: String,
        /// Why it does not parse.
        message: String,
    },
}

impl Classify for DirectoryError {
    fn disposition(&self) -> Disposition {
        match self {
            Self::Tree(e) => e.disposition(),
            Self::Parse(e) => e.disposition(),
            Self::Jsonnet(e) => e.disposition(),
            Self::Glob { .. } => Disposition::GiveUp,
        }
    }
}

fn glob_set(
    field: &'static str,
    pattern: &Option<String>,
) -> Result<Option<GlobSet>, DirectoryError> {
    let Some(pattern) = pattern.as_deref().filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let glob = Glob::new(pattern).map_err(|e| DirectoryError::Glob {
        field,
        glob: pattern.to_string(),
        message: e.to_string(),
    })?;
    let set = GlobSetBuilder::new()
        .add(glob)
        .build()
        .map_err(|e| DirectoryError::Glob {
            field,
            glob: pattern.to_string(),
            message: e.to_string(),
        })?;
    Ok(Some(set))
}

/// Renders the manifests under `path` of `tree` as Argo CD's `spec.source.directory` says,
/// Jsonnet within the default [`JsonnetLimits`].
pub fn render_directory(
    tree: &dyn Tree,
    path: &str,
    directory: &ApplicationSourceDirectory,
) -> Result<Vec<Manifest>, DirectoryError> {
    render_directory_with_limits(tree, path, directory, &JsonnetLimits::default())
}

/// [`render_directory`] with explicit bounds for Jsonnet evaluation.
pub fn render_directory_with_limits(
    tree: &dyn Tree,
    path: &str,
    directory: &ApplicationSourceDirectory,
    limits: &JsonnetLimits,
) -> Result<Vec<Manifest>, DirectoryError> {
    let include = glob_set("include", &directory.include)?;
    let exclude = glob_set("exclude", &directory.exclude)?;
    let mut manifests = Vec::new();
    let mut pending = vec![path.to_string()];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in tree.list(&dir)? {
            let name = entry.path.rsplit('/').next().unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if entry.is_dir {
                if directory.recurse {
                    pending.push(entry.path);
                }
                continue;
            }
            let is_manifest = directory.disable_extension_filter
                || [".yaml", ".yml", ".json", ".jsonnet"]
                    .iter()
                    .any(|ext| name.ends_with(ext));
            let rel = entry
                .path
                .strip_prefix(path)
                .unwrap_or(&entry.path)
                .trim_start_matches('/');
            let included = include
                .as_ref()
                .is_none_or(|g| g.is_match(rel) || g.is_match(name));
            let excluded = exclude
                .as_ref()
                .is_some_and(|g| g.is_match(rel) || g.is_match(name));
            if is_manifest && included && !excluded {
                files.push(entry.path);
            }
        }
    }
    files.sort();
    let no_jsonnet_options = Default::default();
    let jsonnet_options = directory.jsonnet.as_ref().unwrap_or(&no_jsonnet_options);
    for file in files {
        if file.ends_with(".jsonnet") {
            manifests.extend(jsonnet::render_file(
                tree,
                &file,
                path,
                jsonnet_options,
                limits,
            )?);
        } else {
            let bytes = tree.read(&file)?;
            manifests.extend(parse_documents(&file, &bytes)?);
        }
    }
    Ok(manifests)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::LocalTree;

    fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, body) in files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, body).unwrap();
        }
        dir
    }

    fn names(manifests: &[Manifest]) -> Vec<&str> {
        manifests
            .iter()
            .map(|m| m["metadata"]["name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn without_the_extension_filter_include_alone_chooses() {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sealed\n";
        let dir = repo(&[
            ("app/x.yaml.sealed", cm),
            ("app/notes.txt", "not a manifest"),
        ]);
        let tree = LocalTree::new(dir.path()).unwrap();
        let filtered = ApplicationSourceDirectory::default();
        assert!(
            render_directory(&tree, "app", &filtered)
                .unwrap()
                .is_empty()
        );
        let unfiltered = ApplicationSourceDirectory {
            disable_extension_filter: true,
            include: Some("*.sealed".into()),
            ..Default::default()
        };
        assert_eq!(
            names(&render_directory(&tree, "app", &unfiltered).unwrap()),
            ["sealed"]
        );
    }

    #[test]
    fn plain_recursive_and_filtered() {
        let cm = |n: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {n}\n");
        let dir = repo(&[
            ("app/a.yaml", &cm("a")),
            (
                "app/b.json",
                r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"}}"#,
            ),
            ("app/notes.txt", "not a manifest"),
            ("app/.hidden.yaml", &cm("hidden")),
            ("app/sub/c.yml", &cm("c")),
            ("app/sub/skip.yaml", &cm("skip")),
        ]);
        let tree = LocalTree::new(dir.path()).unwrap();
        let flat = render_directory(&tree, "app", &ApplicationSourceDirectory::default()).unwrap();
        assert_eq!(names(&flat), ["a", "b"]);
        let deep = ApplicationSourceDirectory {
            recurse: true,
            ..Default::default()
        };
        assert_eq!(
            names(&render_directory(&tree, "app", &deep).unwrap()),
            ["a", "b", "c", "skip"]
        );
        let filtered = ApplicationSourceDirectory {
            recurse: true,
            include: Some("{*.yaml,*.yml}".into()),
            exclude: Some("sub/skip.yaml".into()),
            ..Default::default()
        };
        assert_eq!(
            names(&render_directory(&tree, "app", &filtered).unwrap()),
            ["a", "c"]
        );
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let dir = repo(&[("app/broken.yaml", "kind: ConfigMap\nmetadata: [\n")]);
        let tree = LocalTree::new(dir.path()).unwrap();
        let err =
            render_directory(&tree, "app", &ApplicationSourceDirectory::default()).unwrap_err();
        assert!(err.to_string().starts_with("app/broken.yaml:"), "{err}");
        let err =
            render_directory(&tree, "../etc", &ApplicationSourceDirectory::default()).unwrap_err();
        assert!(err.to_string().contains("leaves the repository"), "{err}");
        let bad_glob = ApplicationSourceDirectory {
            include: Some("[".into()),
            ..Default::default()
        };
        assert!(
            render_directory(&tree, "app", &bad_glob)
                .unwrap_err()
                .to_string()
                .contains("include glob")
        );
    }
}
