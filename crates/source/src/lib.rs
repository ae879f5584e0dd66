//! Where Ferry's manifests and versions come from: Git repositories, OCI registries and Helm
//! chart repositories, plus the credentials to reach them.
//!
//! One cache per repository, shared by the sync engine (which reads manifests at a revision)
//! and the promotion engine (which discovers new commits, images and charts and writes Git).
//! This crate does network and disk I/O but knows nothing of Applications or Stages: callers
//! pass subscription settings in and get candidates out.
//!
//! Start with [`credentials::Credentials`], the one type every client takes, and
//! [`git::GitCache`] for reading Git or [`git::GitWriter`] for promotion steps that write it.

pub mod credentials;
pub mod git;
