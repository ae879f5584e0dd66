//! Native Kustomize: a kustomization directory of a [`Tree`] rendered to the objects
//! `kubectl kustomize` prints, in the same order.
//!
//! The build follows Kustomize's: a kustomization accumulates its `resources` (files, and
//! directories built recursively), runs its generators, applies its `components`, then its
//! transformers in Kustomize's fixed order (strategic-merge patches, `patches`, namespace,
//! prefix/suffix, labels, annotations, JSON 6902 patches, replicas, images, replacements).
//! Only the top level then adds generators' content hashes to names, fixes name references
//! and sorts. Everything is read through the tree, so nothing outside the repository is
//! reachable; remote resources are refused.
//!
//! One file per concern: [`file`] (the kustomization file), [`resource`], [`fieldspec`],
//! [`generators`], [`patches`], [`names`] (namespace, prefix/suffix), [`labels`], [`images`],
//! [`replicas`], [`replacements`], [`namereference`], [`order`].

mod fieldspec;
mod file;
mod generators;
mod images;
mod labels;
mod namereference;
mod names;
mod order;
mod patches;
mod replacements;
mod replicas;
mod resource;

use crate::manifest::{Manifest, ParseError, parse_documents};
use crate::tree::{Tree, TreeError, join};
use std::collections::HashSet;

use file::Kustomization;
use resource::Resource;

/// Why a kustomization cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum KustomizeError {
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("{file}: unknown field `{field}`")]
    UnknownField { file: String, field: String },
    #[error("{file}: field `{field}` is not supported by Ferry's Kustomize yet")]
    UnsupportedField { file: String, field: String },
    #[error("{file}: helmCharts: Helm chart inflation in Kustomize is not supported yet")]
    HelmNotSupported { file: String },
    #[error(
        "{file}: {reference}: remote resources are not supported, only paths in the repository"
    )]
    Remote { file: String, reference: String },
    #[error("{file}: {reference}: path leaves the {scope}")]
    Escapes {
        file: String,
        reference: String,
        scope: &'static str,
    },
    #[error("{dir}: no kustomization.yaml, kustomization.yml or Kustomization found")]
    Missing { dir: String },
    #[error("kustomization cycle: {0}")]
    Cycle(String),
}

impl KustomizeError {
    fn invalid(file: &str, message: impl Into<String>) -> Self {
        KustomizeError::Invalid {
            file: file.to_string(),
            message: message.into(),
        }
    }
}

/// Whether `dir` of the tree holds a kustomization file.
pub fn is_kustomization(tree: &dyn Tree, dir: &str) -> bool {
    matches!(file::find(tree, dir), Ok(Some(_)) | Err(_))
}

/// Builds the kustomization in `dir` (repository-relative), as `kubectl kustomize dir` would.
pub fn render(tree: &dyn Tree, dir: &str) -> Result<Vec<Manifest>, KustomizeError> {
    let mut builder = Builder {
        tree,
        stack: Vec::new(),
        crd_refs: Vec::new(),
    };
    let (mut resources, k) = builder.target(dir, Vec::new(), false)?;
    generators::add_hashes(&mut resources);
    namereference::fix(&mut resources, &builder.crd_refs);
    resources.retain(|r| r.annotation("config.kubernetes.io/local-config") != Some("true"));
    let file = file::find(tree, dir)?.unwrap_or_default();
    order::sort(&mut resources, k.sort_options.as_ref(), &file)?;
    Ok(resources.into_iter().map(|r| r.obj).collect())
}

/// A kustomization being built: where its files are read from.
pub(crate) struct Location<'a> {
    pub tree: &'a dyn Tree,
    /// The kustomization's directory.
    pub dir: String,
    /// Its kustomization file (for messages).
    pub file: String,
}

impl Location<'_> {
    /// A path a field of the kustomization names, checked: not remote, not absolute, inside
    /// the repository, and for files (`within_dir`) inside the kustomization's directory, as
    /// Kustomize's default load restrictions require.
    pub fn resolve(&self, reference: &str, within_dir: bool) -> Result<String, KustomizeError> {
        let remote = reference.contains("://")
            || reference.starts_with("git@")
            || reference.starts_with("github.com/")
            || reference.contains("?ref=");
        if remote {
            return Err(KustomizeError::Remote {
                file: self.file.clone(),
                reference: reference.to_string(),
            });
        }
        let escapes = |scope| KustomizeError::Escapes {
            file: self.file.clone(),
            reference: reference.to_string(),
            scope,
        };
        if reference.starts_with('/') {
            return Err(escapes("repository (absolute paths are refused)"));
        }
        let path = join(&self.dir, reference).ok_or_else(|| escapes("repository"))?;
        let inside_dir =
            self.dir.is_empty() || path == self.dir || path.starts_with(&format!("{}/", self.dir));
        if within_dir && !inside_dir {
            return Err(escapes("kustomization directory"));
        }
        Ok(path)
    }

    /// Reads a file the kustomization names (inside its directory).
    pub fn read(&self, reference: &str) -> Result<(String, Vec<u8>), KustomizeError> {
        let path = self.resolve(reference, true)?;
        let bytes = self.tree.read(&path)?;
        Ok((path, bytes))
    }

    pub fn invalid(&self, message: impl Into<String>) -> KustomizeError {
        KustomizeError::invalid(&self.file, message)
    }
}

struct Builder<'a> {
    tree: &'a dyn Tree,
    /// Directories being built, outermost first (cycle detection).
    stack: Vec<String>,
    /// Name-reference field specs read from `crds`.
    crd_refs: Vec<namereference::RefSpec>,
}

impl Builder<'_> {
    /// Accumulates the kustomization (or component) in `dir` onto `acc`.
    fn target(
        &mut self,
        dir: &str,
        acc: Vec<Resource>,
        is_component: bool,
    ) -> Result<(Vec<Resource>, Kustomization), KustomizeError> {
        if self.stack.iter().any(|d| d == dir) {
            let mut chain = self.stack.clone();
            chain.push(dir.to_string());
            return Err(KustomizeError::Cycle(chain.join(" -> ")));
        }
        let file = file::find(self.tree, dir)?.ok_or_else(|| KustomizeError::Missing {
            dir: if dir.is_empty() {
                ".".into()
            } else {
                dir.into()
            },
        })?;
        let k = file::load(self.tree, &file)?;
        let is_component_file = k.kind == "Component";
        if is_component != is_component_file {
            return Err(KustomizeError::invalid(
                &file,
                if is_component {
                    "a component must have `kind: Component`"
                } else {
                    "a component (`kind: Component`) can only be used under `components`"
                },
            ));
        }
        self.stack.push(dir.to_string());
        let loc = Location {
            tree: self.tree,
            dir: dir.to_string(),
            file,
        };
        let mut acc = acc;
        let mut ids: HashSet<String> = acc.iter().map(Resource::id_key).collect();
        for reference in k.resources.iter().chain(&k.bases) {
            self.resource(&loc, reference, &mut acc, &mut ids)?;
        }
        for crd in &k.crds {
            let (path, bytes) = loc.read(crd)?;
            self.crd_refs
                .extend(namereference::from_crd(&path, &bytes)?);
        }
        generators::run(&loc, &k, &mut acc)?;
        for component in &k.components {
            let path = loc.resolve(component, false)?;
            acc = self.target(&path, acc, true)?.0;
        }
        patches::strategic_merge_legacy(&loc, &k.patches_strategic_merge, &mut acc)?;
        patches::patches(&loc, &k.patches, &mut acc)?;
        names::namespace(&k.namespace, &mut acc);
        names::prefix_suffix(&k.name_prefix, &k.name_suffix, &mut acc);
        labels::labels(&loc, &k, &mut acc)?;
        labels::annotations(&k.common_annotations, &mut acc);
        patches::json6902_legacy(&loc, &k.patches_json6902, &mut acc)?;
        replicas::apply(&k.replicas, &mut acc);
        images::apply(&k.images, &mut acc);
        replacements::apply(&loc, &k.replacements, &mut acc)?;
        self.stack.pop();
        Ok((acc, k))
    }

    /// One entry of `resources`: a directory with a kustomization, or a file of manifests.
    fn resource(
        &mut self,
        loc: &Location,
        reference: &str,
        acc: &mut Vec<Resource>,
        ids: &mut HashSet<String>,
    ) -> Result<(), KustomizeError> {
        let path = loc.resolve(reference, false)?;
        let bytes = match self.tree.read_file(&path) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => {
                let (built, _) = self.target(&path, Vec::new(), false)?;
                for r in built {
                    add(acc, ids, r, &loc.file)?;
                }
                return Ok(());
            }
            Err(e) => Err(e),
        };
        // A file must be inside the kustomization's directory (Kustomize's load restrictions);
        // that refusal comes first.
        loc.resolve(reference, true)?;
        for obj in parse_documents(&path, &bytes?)? {
            add(acc, ids, Resource::new(obj), &loc.file)?;
        }
        Ok(())
    }
}

/// Adds a resource, refusing a second one with the same id (`ids` holds those of `acc`).
fn add(
    acc: &mut Vec<Resource>,
    ids: &mut HashSet<String>,
    r: Resource,
    file: &str,
) -> Result<(), KustomizeError> {
    if !ids.insert(r.id_key()) {
        return Err(KustomizeError::invalid(
            file,
            format!(
                "may not add resource with an already registered id: {}",
                r.describe()
            ),
        ));
    }
    acc.push(r);
    Ok(())
}
