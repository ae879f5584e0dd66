//! Manifest generation: from a tree of files (a local directory, or a Git tree at a commit) to
//! the Kubernetes objects an Application deploys, the way Argo CD's repo-server makes them,
//! but in-process.
//!
//! [`tree::Tree`] is what renderers read through: paths are relative to the repository root
//! and can never leave it. [`manifest`] parses YAML/JSON documents with errors that name the
//! file and line. Renderers: [`directory`] (plain YAML/JSON directories), [`kustomize`]
//! (native Kustomize), [`helm`] (`helm template` with Argo CD's parameters, cached).
//!
//! Callers hand this crate a tree (see `ferry-source` for Git). The one thing it fetches
//! itself is Helm charts: `chart:` sources and chart dependencies, through
//! `ferry_source::helm` (see [`helm::ChartFetcher`]).

pub mod directory;
pub mod helm;
pub mod kustomize;
pub mod manifest;
pub mod tree;

pub use manifest::Manifest;
