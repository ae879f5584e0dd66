//! Argo CD's kinds, as typed Rust mirrors of `argoproj.io/v1alpha1` (field names, defaults
//! and semantics from Argo CD 3's `types.go`): [`Application`], [`AppProject`] and
//! [`ApplicationSet`], their CRDs ([`crds`]), and the parts rendering reads (an Application's
//! sources). Unknown fields are left out of the types, not rejected, so newer manifests still
//! load; fields Ferry accepts but does not act on say so in their docs.
//!
//! Each root type implements `k8s_openapi::Resource` and `Metadata`, so kube-rs serves it
//! as `Api<Application>` and friends.

/// Implements `k8s_openapi::Resource` and `Metadata` for a namespaced `argoproj.io` kind.
macro_rules! resource {
    ($ty:ident, $kind:literal, $plural:literal) => {
        impl k8s_openapi::Resource for $ty {
            const API_VERSION: &'static str = super::API_VERSION;
            const GROUP: &'static str = super::GROUP;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = super::VERSION;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = k8s_openapi::NamespaceResourceScope;
        }

        impl k8s_openapi::Metadata for $ty {
            type Ty = ObjectMeta;

            fn metadata(&self) -> &ObjectMeta {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}
use resource;

mod application;
mod applicationset;
mod crds;
mod project;
mod source;
mod status;

pub use application::{
    Application, ApplicationDestination, ApplicationSpec, Backoff, Info, ManagedNamespaceMetadata,
    Operation, OperationInitiator, ResourceIgnoreDifferences, RetryStrategy, SourceError,
    SyncOperation, SyncOperationResource, SyncPolicy, SyncPolicyAutomated, SyncStrategy,
    SyncStrategyApply,
};
pub use applicationset::{
    ApplicationPreservedFields, ApplicationSet, ApplicationSetCondition, ApplicationSetGenerator,
    ApplicationSetNestedGenerator, ApplicationSetResourceIgnoreDifferences, ApplicationSetSpec,
    ApplicationSetStatus, ApplicationSetSyncPolicy, ApplicationSetTemplate,
    ApplicationSetTemplateMeta, ClusterGenerator, GitGenerator, GitPathItem, ListGenerator,
    MatrixGenerator, MergeGenerator,
};
pub use crds::crds;
pub use project::{
    AppProject, AppProjectSpec, ApplicationDestinationPattern,
    ApplicationDestinationServiceAccount, GroupKind, JwtToken, OrphanedResourceKey,
    OrphanedResourcesMonitorSettings, ProjectRole, SyncWindow,
};
pub use source::{
    ApplicationSource, ApplicationSourceDirectory, ApplicationSourceHelm, ApplicationSourceJsonnet,
    ApplicationSourceKustomize, HelmFileParameter, HelmParameter, JsonnetVar, KustomizePatch,
    KustomizeReplica, KustomizeSelector,
};
pub use status::{
    ApplicationCondition, ApplicationStatus, ApplicationSummary, ComparedTo, HealthStatus,
    OperationState, ResourceResult, ResourceStatus, RevisionHistory, SyncOperationResult,
    SyncStatus,
};

/// Argo CD's API group.
pub const GROUP: &str = "argoproj.io";
/// The version of Argo CD's kinds.
pub const VERSION: &str = "v1alpha1";
/// `argoproj.io/v1alpha1`.
pub const API_VERSION: &str = "argoproj.io/v1alpha1";
