//! OCI registries (the Docker Registry HTTP API v2 / OCI distribution spec): a small client of
//! our own over `reqwest` ([`RegistryClient`]) and the image references it speaks of
//! ([`ImageRepo`]).
//!
//! The client does what discovery and chart pulls need and nothing else: list tags (following
//! `Link` pagination), fetch manifests and index entries, fetch blobs with their digest checked.
//! It handles Basic and Bearer-token challenges, retries 5xx/429 and connection errors with
//! backoff, and rate-limits per registry host. Plain HTTP is used for loopback registries and
//! for hosts marked insecure.

mod auth;
mod client;
mod manifest;
mod rate_limit;
mod reference;
mod select;

pub use auth::DockerConfig;
pub use client::{RegistryClient, RegistryError, RegistryOptions};
pub use manifest::{Descriptor, ImageManifest, IndexEntry, Manifest, ManifestKind, Platform};
pub use reference::ImageRepo;
pub use select::{
    DiscoveredImage, DiscoveryError, ImageMetadataCache, ImageSelection, ImageSelectionStrategy,
};
