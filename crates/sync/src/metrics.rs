//! The sync engine's Prometheus metrics, with Argo CD's names and labels so existing
//! dashboards work: `argocd_app_info` (one series per app, its current sync and health
//! status), `argocd_app_sync_total` (operations by phase), `argocd_app_reconcile` (reconcile
//! duration), `argocd_git_request_total` and `argocd_git_request_duration_seconds` (calls to
//! Git remotes), `argocd_kubectl_exec_total` (Ferry's writes to clusters: apply, delete).
//! [`Metrics::encode`] renders them in the OpenMetrics text format.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use ferry_api::argocd::Application;
use ferry_source::git::RemoteObserver;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Argo CD's `argocd_app_reconcile` buckets, in seconds.
const RECONCILE_BUCKETS: [f64; 7] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];
/// Argo CD's `argocd_git_request_duration_seconds` buckets.
const GIT_BUCKETS: [f64; 7] = [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppInfo {
    name: String,
    namespace: String,
    project: String,
    repo: String,
    dest_server: String,
    dest_namespace: String,
    sync_status: String,
    health_status: String,
    operation: String,
    autosync_enabled: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppSync {
    name: String,
    namespace: String,
    project: String,
    dest_server: String,
    phase: String,
    dry_run: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reconcile {
    namespace: String,
    dest_server: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GitRequest {
    repo: String,
    request_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClusterWrite {
    hostname: String,
    command: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric of the sync engine.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    app_info: Family<AppInfo, Gauge>,
    /// Each app's current `argocd_app_info` series, replaced when a label changes.
    app_series: Mutex<HashMap<(String, String), AppInfo>>,
    app_sync: Family<AppSync, Counter>,
    reconcile: Histograms<Reconcile>,
    git_requests: Family<GitRequest, Counter>,
    git_duration: Histograms<GitRequest>,
    cluster_writes: Family<ClusterWrite, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// The metrics, registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let app_info = Family::<AppInfo, Gauge>::default();
        registry.register(
            "argocd_app_info",
            "Information about application.",
            app_info.clone(),
        );
        let app_sync = Family::<AppSync, Counter>::default();
        registry.register(
            "argocd_app_sync",
            "Number of application syncs.",
            app_sync.clone(),
        );
        let reconcile: Histograms<Reconcile> =
            Family::new_with_constructor(|| Histogram::new(RECONCILE_BUCKETS));
        registry.register(
            "argocd_app_reconcile",
            "Application reconciliation performance in seconds.",
            reconcile.clone(),
        );
        let git_requests = Family::<GitRequest, Counter>::default();
        registry.register(
            "argocd_git_request",
            "Number of git requests performed by repo server",
            git_requests.clone(),
        );
        let git_duration: Histograms<GitRequest> =
            Family::new_with_constructor(|| Histogram::new(GIT_BUCKETS));
        registry.register(
            "argocd_git_request_duration_seconds",
            "Git requests duration seconds.",
            git_duration.clone(),
        );
        let cluster_writes = Family::<ClusterWrite, Counter>::default();
        registry.register(
            "argocd_kubectl_exec",
            "Number of kubectl executions (Ferry's writes to clusters).",
            cluster_writes.clone(),
        );
        Metrics {
            registry,
            app_info,
            app_series: Mutex::default(),
            app_sync,
            reconcile,
            git_requests,
            git_duration,
            cluster_writes,
        }
    }

    /// Sets `app`'s `argocd_app_info` series from its spec and status.
    pub fn app_info(&self, app: &Application) {
        let namespace = app.metadata.namespace.clone().unwrap_or_default();
        let key = (namespace.clone(), app.name().to_string());
        let source = app.spec.source.as_ref().or(app.spec.sources.first());
        let automated = app
            .spec
            .sync_policy
            .as_ref()
            .and_then(|p| p.automated.as_ref())
            .is_some_and(|a| a.enabled != Some(false));
        let info = AppInfo {
            name: app.name().to_string(),
            namespace,
            project: app.spec.project.clone(),
            repo: source.map(|s| s.repo_url.clone()).unwrap_or_default(),
            dest_server: destination(app),
            dest_namespace: app.spec.destination.namespace.clone().unwrap_or_default(),
            sync_status: app.status.sync.status.clone(),
            health_status: app.status.health.status.clone(),
            operation: if app.operation.is_some() { "sync" } else { "" }.into(),
            autosync_enabled: automated.to_string(),
        };
        let Ok(mut series) = self.app_series.lock() else {
            return;
        };
        if let Some(old) = series.insert(key, info.clone())
            && old != info
        {
            self.app_info.remove(&old);
        }
        self.app_info.get_or_create(&info).set(1);
    }

    /// Drops a deleted app's `argocd_app_info` series.
    pub fn app_deleted(&self, namespace: &str, name: &str) {
        let Ok(mut series) = self.app_series.lock() else {
            return;
        };
        if let Some(old) = series.remove(&(namespace.to_string(), name.to_string())) {
            self.app_info.remove(&old);
        }
    }

    /// Counts an operation that ended in `phase`.
    pub fn sync_completed(&self, app: &Application, phase: &str, dry_run: bool) {
        self.app_sync
            .get_or_create(&AppSync {
                name: app.name().to_string(),
                namespace: app.metadata.namespace.clone().unwrap_or_default(),
                project: app.spec.project.clone(),
                dest_server: destination(app),
                phase: phase.to_string(),
                dry_run: dry_run.to_string(),
            })
            .inc();
    }

    /// Records one reconcile's duration.
    pub fn reconciled(&self, app: &Application, took: Duration) {
        self.reconcile
            .get_or_create(&Reconcile {
                namespace: app.metadata.namespace.clone().unwrap_or_default(),
                dest_server: destination(app),
            })
            .observe(took.as_secs_f64());
    }

    /// Counts a write (`apply`, `delete`) to the cluster at `server`.
    pub fn cluster_write(&self, server: &str, command: &str) {
        self.cluster_writes
            .get_or_create(&ClusterWrite {
                hostname: server.to_string(),
                command: command.to_string(),
            })
            .inc();
    }

    /// Every metric in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

impl RemoteObserver for Metrics {
    fn remote_call(&self, url: &str, op: &str, elapsed: Duration, _failed: bool) {
        // Argo CD's request types: `ls-remote` for ref listing, `fetch` for the rest.
        let request_type = if op == "ls-remote" {
            "ls-remote"
        } else {
            "fetch"
        };
        let labels = GitRequest {
            repo: url.to_string(),
            request_type: request_type.to_string(),
        };
        self.git_requests.get_or_create(&labels).inc();
        self.git_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }
}

fn destination(app: &Application) -> String {
    let destination = &app.spec.destination;
    destination
        .server
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| destination.name.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn app(sync: &str, health: &str) -> Application {
        serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "web", "namespace": "argocd"},
            "spec": {"project": "default",
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
                "source": {"repoURL": "https://example.com/r.git", "path": "."},
                "syncPolicy": {"automated": {}}},
            "status": {"sync": {"status": sync}, "health": {"status": health}}
        }))
        .unwrap()
    }

    #[test]
    fn app_info_keeps_one_series_per_app() {
        let metrics = Metrics::new();
        metrics.app_info(&app("OutOfSync", "Progressing"));
        metrics.app_info(&app("Synced", "Healthy"));
        let text = metrics.encode();
        let series: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("argocd_app_info{"))
            .collect();
        assert_eq!(series.len(), 1, "{text}");
        assert!(
            series[0].contains(r#"sync_status="Synced""#)
                && series[0].contains(r#"health_status="Healthy""#)
        );
        assert!(series[0].contains(r#"autosync_enabled="true""#) && series[0].ends_with(" 1"));
        metrics.app_deleted("argocd", "web");
        assert!(!metrics.encode().contains("argocd_app_info{"));
    }

    #[test]
    fn counters_and_histograms_carry_argo_cd_names() {
        let metrics = Metrics::new();
        let web = app("Synced", "Healthy");
        metrics.sync_completed(&web, "Succeeded", false);
        metrics.reconciled(&web, Duration::from_millis(300));
        metrics.remote_call(
            "https://example.com/r.git",
            "fetch",
            Duration::from_millis(50),
            false,
        );
        metrics.remote_call(
            "https://example.com/r.git",
            "ls-remote",
            Duration::from_millis(20),
            false,
        );
        metrics.cluster_write("https://kubernetes.default.svc", "apply");
        let text = metrics.encode();
        for line in [
            r#"argocd_app_sync_total{name="web",namespace="argocd",project="default",dest_server="https://kubernetes.default.svc",phase="Succeeded",dry_run="false"} 1"#,
            r#"argocd_app_reconcile_bucket{le="0.5",namespace="argocd",dest_server="https://kubernetes.default.svc"} 1"#,
            r#"argocd_git_request_total{repo="https://example.com/r.git",request_type="fetch"} 1"#,
            r#"argocd_git_request_total{repo="https://example.com/r.git",request_type="ls-remote"} 1"#,
            r#"argocd_kubectl_exec_total{hostname="https://kubernetes.default.svc",command="apply"} 1"#,
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
    }
}
