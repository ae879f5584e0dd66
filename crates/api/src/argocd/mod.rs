//! Argo CD's kinds, as typed Rust mirrors of `argoproj.io/v1alpha1` (field names, defaults
//! and semantics from Argo CD's `types.go`). Only what Ferry reads so far: an Application's
//! sources. Unknown fields are kept out of the types, not rejected, so newer manifests still
//! load.

mod source;

pub use source::{
    Application, ApplicationDestination, ApplicationMetadata, ApplicationSource,
    ApplicationSourceDirectory, ApplicationSourceHelm, ApplicationSourceJsonnet,
    ApplicationSourceKustomize, ApplicationSpec, HelmFileParameter, HelmParameter, JsonnetVar,
    KustomizePatch, KustomizeReplica, KustomizeSelector, SourceError,
};
