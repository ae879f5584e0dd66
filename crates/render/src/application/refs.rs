//! Multi-source Applications: the trees of sources that name a `ref`, mounted at `$name/`
//! beside the rendered source's tree, so a value file `$values/env/prod.yaml` reads
//! `env/prod.yaml` from the root of the source with `ref: values` (and nothing else).

use std::collections::HashMap;
use std::sync::Arc;

use crate::tree::{Entry, Tree, TreeError};

/// The trees of the sources that name a `ref`, for `$ref/...` value files.
#[derive(Default, Clone)]
pub struct Refs(HashMap<String, Arc<dyn Tree>>);

impl Refs {
    /// Adds the tree of the source whose `ref` is `name`.
    pub fn insert(&mut self, name: &str, tree: Arc<dyn Tree>) {
        self.0.insert(name.to_string(), tree);
    }

    /// Whether a source has `ref: name`.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

/// A source's tree with the `ref` trees mounted at `$name/`: what Helm value files read.
pub(super) struct Mounted<'a> {
    pub base: &'a dyn Tree,
    pub refs: &'a Refs,
}

impl Mounted<'_> {
    fn route<'p>(&self, path: &'p str) -> Result<(&dyn Tree, &'p str), TreeError> {
        let Some(rest) = path.strip_prefix('$') else {
            return Ok((self.base, path));
        };
        let (name, inner) = rest.split_once('/').unwrap_or((rest, ""));
        match self.refs.0.get(name) {
            Some(tree) => Ok((tree.as_ref(), inner)),
            None => Err(TreeError::NotFound(path.to_string())),
        }
    }
}

impl Tree for Mounted<'_> {
    fn read(&self, path: &str) -> Result<Vec<u8>, TreeError> {
        let (tree, path) = self.route(path)?;
        tree.read(path)
    }

    fn list(&self, dir: &str) -> Result<Vec<Entry>, TreeError> {
        let (tree, inner) = self.route(dir)?;
        let prefix = &dir[..dir.len() - inner.len()];
        Ok(tree
            .list(inner)?
            .into_iter()
            .map(|e| Entry {
                path: format!("{prefix}{}", e.path),
                is_dir: e.is_dir,
            })
            .collect())
    }

    fn is_dir(&self, path: &str) -> bool {
        self.route(path).is_ok_and(|(tree, path)| tree.is_dir(path))
    }

    fn exists(&self, path: &str) -> bool {
        self.route(path).is_ok_and(|(tree, path)| tree.exists(path))
    }
}
