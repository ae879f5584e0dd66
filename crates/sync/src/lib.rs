//! The sync engine, Argo CD's half of Ferry: controllers that keep clusters converged on what
//! Applications say, reached only through the Kubernetes API (kube-rs), so the same code runs
//! inside `ferry up` (in-process client) and against any cluster (kubeconfig).
//!
//! Where to start: [`bootstrap()`] prepares a cluster for the controllers: Argo CD's CRDs
//! served, the control-plane namespace and the `default` AppProject present. [`health`]
//! judges a live object as Argo CD's built-in checks do; [`hook`] and [`order`] say which
//! phase and wave a sync applies an object in; [`tracking`] ties objects to their
//! Application; [`clusters`] are the destinations; [`diff`], [`live`] and [`compare`] find the gap between Git and the cluster,
//! [`operation`] closes it wave by wave through [`apply`]; [`application`] is the controller
//! that runs them; [`appset`] generates Applications from ApplicationSets.

pub mod application;
pub mod apply;
pub mod appset;
pub mod argocd_cm;
pub mod bootstrap;
pub mod clusters;
pub mod compare;
pub mod diff;
pub mod health;
pub mod hook;
pub mod live;
pub mod metrics;
pub mod operation;
pub mod order;
pub mod queue;
pub mod tracking;
pub mod windows;

pub use bootstrap::{BootstrapError, bootstrap};

/// Runs the Application and ApplicationSet controllers on `ctx` until one of their watches
/// ends (the API server went away).
pub async fn run_controllers(ctx: std::sync::Arc<application::Context>) {
    tokio::select! {
        () = application::run(ctx.clone()) => {}
        () = appset::run(ctx) => {}
    }
}
