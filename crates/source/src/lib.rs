//! Where Ferry's manifests and versions come from: Git repositories, OCI registries and Helm
//! chart repositories, plus the credentials to reach them.
//!
//! One cache per repository, shared by the sync engine (which reads manifests at a revision)
//! and the promotion engine (which discovers new commits, images and charts and writes Git).
//! This crate does network and disk I/O but knows nothing of Applications or Stages: callers
//! pass subscription settings in and get candidates out.
//!
//! Start with [`credentials::Credentials`], the one type every client takes, then
//! [`git::GitCache`] for reading Git, [`git::GitWriter`] for promotion steps that write it,
//! [`oci::RegistryClient`] for images and [`helm::HelmRepos`] for charts. Before any input
//! reaches a client it passes [`url::RepoUrl::parse`] and [`url::validate_ref`]; [`semver`]
//! orders tags and chart versions and evaluates Masterminds-style constraints;
//! [`secrets::ClusterSecrets`] finds credentials in the Argo CD and Kargo Secrets of a cluster.

pub mod credentials;
pub mod digest;
pub mod git;
pub mod helm;
mod http_body;
pub mod oci;
pub mod secrets;
pub mod semver;
pub mod ssh;
mod subscription;
pub mod url;
