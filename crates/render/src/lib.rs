//! Manifest generation: from a tree of files (a local directory, or a Git tree at a commit) to
//! the Kubernetes objects an Application deploys, the way Argo CD's repo-server makes them,
//! but in-process.
//!
//! [`tree::Tree`] is what renderers read through: paths are relative to the repository root
//! and can never leave it. [`manifest`] parses YAML/JSON documents with errors that name the
//! file and line. Renderers: [`directory`] (plain YAML/JSON/Jsonnet directories), [`jsonnet`]
//! (the Jsonnet files of directories, through jrsonnet, imports confined to the tree),
//! [`kustomize`] (native Kustomize), [`helm`] (`helm template` with Argo CD's parameters,
//! cached).
//!
//! [`application`] ties them together for Argo CD Applications: it resolves a source's
//! revision through `ferry-source`'s Git cache, reads the commit once into a [`snapshot`],
//! picks the tool and caches the result by (repository, commit, path, parameters).
//!
//! Besides Git trees, it fetches Helm charts: `chart:` sources and chart dependencies, through
//! `ferry_source::helm` (see [`helm::ChartFetcher`]).

pub mod application;
pub mod cache;
pub mod directory;
pub mod helm;
pub mod jsonnet;
pub mod kustomize;
pub mod manifest;
pub mod snapshot;
pub mod tree;

pub use manifest::Manifest;
