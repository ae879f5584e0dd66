//! The clusters apps deploy to, found as Argo CD finds them: the cluster the controller runs
//! against (`https://kubernetes.default.svc`, named `in-cluster`), and the cluster Secrets
//! of the control-plane namespace (label `argocd.argoproj.io/secret-type: cluster`; keys
//! `name`, `server`, `config` with `bearerToken`, `username`/`password` and
//! `tlsClientConfig` {`insecure`, `caData`, `certData`, `keyData`, `serverName`}). A
//! destination names a cluster by `server` or by `name`, not both. Each cluster is one
//! [`Cluster`] (one client, one watch per kind), kept while its Secret is unchanged.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_api::argocd::ApplicationDestination;
use ferry_api::selector::LabelSelector;
use ferry_api::{Classify, Disposition};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use crate::live::Cluster;
use crate::metrics::Metrics;

/// The cluster Ferry runs against, as Argo CD names it.
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";
/// The name of [`IN_CLUSTER_SERVER`].
pub const IN_CLUSTER_NAME: &str = "in-cluster";
/// The label selector of Argo CD's cluster Secrets.
pub const CLUSTER_SELECTOR: &str = "argocd.argoproj.io/secret-type=cluster";

/// A destination that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    /// Neither `server` nor `name` is set.
    #[error("Destination server missing from app spec")]
    Missing,
    /// Both are set.
    #[error("application destination can't have both name and server defined: {name} {server}")]
    Both {
        /// `destination.name`.
        name: String,
        /// `destination.server`.
        server: String,
    },
    /// No cluster has the URL.
    #[error("unable to find destination server: there are no clusters with this URL: {0}")]
    NoServer(String),
    /// No cluster has the name.
    #[error("unable to find destination server: there are no clusters with this name: {0}")]
    NoName(String),
    /// A cluster Secret that cannot be used; the reason names no value from it.
    #[error("cluster secret {secret} is invalid: {reason}")]
    InvalidSecret {
        /// The Secret's name.
        secret: String,
        /// What is wrong, without its values.
        reason: String,
    },
    /// Listing the cluster Secrets failed.
    #[error("listing cluster secrets: {0}")]
    Api(#[source] kube::Error),
}

impl Classify for DestinationError {
    /// A spec or a Secret has to change; an API failure follows its HTTP status.
    fn disposition(&self) -> Disposition {
        match self {
            DestinationError::Api(kube::Error::Api(status)) => {
                Disposition::of_http_status(status.code)
            }
            DestinationError::Api(_) => Disposition::Retry,
            _ => Disposition::Wait,
        }
    }
}

/// A resolved destination.
#[derive(Clone)]
pub struct Destination {
    /// The cluster's URL.
    pub server: String,
    /// The cluster's name.
    pub name: String,
    /// The cluster.
    pub cluster: Arc<Cluster>,
}

/// Every cluster the controller knows.
pub struct Clusters {
    control_plane: kube::Client,
    namespace: String,
    in_cluster: Arc<Cluster>,
    /// By Secret uid, with the resourceVersion the cluster was built from.
    known: tokio::sync::Mutex<HashMap<String, (String, Arc<Cluster>)>>,
    changes: std::sync::Mutex<Option<UnboundedSender<Arc<Value>>>>,
    metrics: Option<Arc<Metrics>>,
}

impl Clusters {
    /// The clusters of the control plane `client` talks to (also the in-cluster destination),
    /// with cluster Secrets read from `namespace`.
    /// Writes to every cluster are counted in `metrics` when given.
    pub fn new(client: kube::Client, namespace: &str, metrics: Option<Arc<Metrics>>) -> Self {
        let mut in_cluster = Cluster::new(client.clone());
        if let Some(metrics) = &metrics {
            in_cluster = in_cluster.with_metrics(metrics.clone(), IN_CLUSTER_SERVER);
        }
        Clusters {
            in_cluster: Arc::new(in_cluster),
            control_plane: client,
            namespace: namespace.to_string(),
            known: tokio::sync::Mutex::default(),
            changes: std::sync::Mutex::default(),
            metrics,
        }
    }

    /// Changes to live objects on every cluster, known now or later, go to `sender`.
    pub fn subscribe(&self, sender: UnboundedSender<Arc<Value>>) {
        self.in_cluster.subscribe(sender.clone());
        if let Ok(mut slot) = self.changes.lock() {
            *slot = Some(sender);
        }
    }

    /// The cluster the controller runs against.
    pub fn in_cluster(&self) -> &Arc<Cluster> {
        &self.in_cluster
    }

    /// The cluster `destination` names.
    pub async fn resolve(
        &self,
        destination: &ApplicationDestination,
    ) -> Result<Destination, DestinationError> {
        let server = destination.server.as_deref().filter(|s| !s.is_empty());
        let name = destination.name.as_deref().filter(|n| !n.is_empty());
        match (server, name) {
            (Some(server), Some(name)) => Err(DestinationError::Both {
                name: name.into(),
                server: server.into(),
            }),
            (None, None) => Err(DestinationError::Missing),
            (Some(IN_CLUSTER_SERVER), None) | (None, Some(IN_CLUSTER_NAME)) => Ok(self.local()),
            (Some(server), None) => {
                let wanted = server.trim_end_matches('/');
                self.find(|c| c.server.trim_end_matches('/') == wanted)
                    .await?
                    .ok_or_else(|| DestinationError::NoServer(server.into()))
            }
            (None, Some(name)) => self
                .find(|c| c.name == name)
                .await?
                .ok_or_else(|| DestinationError::NoName(name.into())),
        }
    }

    /// The cluster Secrets whose labels `selector` accepts, as the clusters generator of an
    /// ApplicationSet sees them (`name` and `server` as written, empty when missing), sorted
    /// by Secret name; of two Secrets with one `name`, the later stays.
    pub async fn entries(
        &self,
        selector: &LabelSelector,
    ) -> Result<Vec<ClusterEntry>, DestinationError> {
        let secrets: Api<Secret> = Api::namespaced(self.control_plane.clone(), &self.namespace);
        let mut listed = secrets
            .list(&ListParams::default().labels(CLUSTER_SELECTOR))
            .await
            .map_err(DestinationError::Api)?
            .items;
        listed.sort_by_key(secret_name);
        let mut entries: Vec<ClusterEntry> = Vec::new();
        for secret in &listed {
            let labels = secret.metadata.labels.clone().unwrap_or_default();
            let label_map = labels
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            if !selector.matches(&label_map) {
                continue;
            }
            // A Secret without a server (half-written, say) still yields its cluster, so
            // its app stays generated and fails validation rather than being deleted.
            let name = secret_text(secret, "name").unwrap_or_default();
            entries.retain(|e| e.name != name);
            entries.push(ClusterEntry {
                name,
                server: secret_text(secret, "server").unwrap_or_default(),
                project: secret_text(secret, "project").unwrap_or_default(),
                labels,
                annotations: secret.metadata.annotations.clone().unwrap_or_default(),
            });
        }
        Ok(entries)
    }

    fn local(&self) -> Destination {
        Destination {
            server: IN_CLUSTER_SERVER.into(),
            name: IN_CLUSTER_NAME.into(),
            cluster: self.in_cluster.clone(),
        }
    }

    /// The first cluster Secret `matches` accepts, as a destination.
    async fn find(
        &self,
        matches: impl Fn(&ClusterSecret) -> bool,
    ) -> Result<Option<Destination>, DestinationError> {
        let secrets: Api<Secret> = Api::namespaced(self.control_plane.clone(), &self.namespace);
        let listed = secrets
            .list(&ListParams::default().labels(CLUSTER_SELECTOR))
            .await
            .map_err(DestinationError::Api)?;
        for secret in &listed.items {
            // A Secret that cannot be used only fails the apps that name it.
            let Some(identity) = ClusterSecret::identity(secret) else {
                tracing::warn!(secret = %secret_name(secret), "cluster secret without a server");
                continue;
            };
            if matches(&identity) {
                let parsed = ClusterSecret::parse(secret)?;
                return self.destination(secret, parsed).await.map(Some);
            }
        }
        Ok(None)
    }

    async fn destination(
        &self,
        secret: &Secret,
        parsed: ClusterSecret,
    ) -> Result<Destination, DestinationError> {
        let uid = secret.metadata.uid.clone().unwrap_or_default();
        let version = secret.metadata.resource_version.clone().unwrap_or_default();
        let mut known = self.known.lock().await;
        if let Some((built, cluster)) = known.get(&uid)
            && *built == version
        {
            return Ok(Destination {
                server: parsed.server,
                name: parsed.name,
                cluster: cluster.clone(),
            });
        }
        let client = parsed.client(&secret_name(secret)).await?;
        let mut cluster = Cluster::new(client);
        if let Some(metrics) = &self.metrics {
            cluster = cluster.with_metrics(metrics.clone(), &parsed.server);
        }
        let cluster = Arc::new(cluster);
        if let Ok(slot) = self.changes.lock()
            && let Some(sender) = slot.as_ref()
        {
            cluster.subscribe(sender.clone());
        }
        known.insert(uid, (version, cluster.clone()));
        Ok(Destination {
            server: parsed.server,
            name: parsed.name,
            cluster,
        })
    }
}

fn secret_text(secret: &Secret, key: &str) -> Option<String> {
    let data = secret.data.as_ref()?.get(key)?;
    String::from_utf8(data.0.clone()).ok()
}

fn secret_name(secret: &Secret) -> String {
    secret.metadata.name.clone().unwrap_or_default()
}

/// A registered cluster, as an ApplicationSet's clusters generator reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterEntry {
    /// `name`, empty when unset.
    pub name: String,
    /// `server`.
    pub server: String,
    /// `project`, empty when unset.
    pub project: String,
    /// The Secret's labels.
    pub labels: std::collections::BTreeMap<String, String>,
    /// The Secret's annotations.
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// A cluster Secret's contents.
struct ClusterSecret {
    name: String,
    server: String,
    config: ClusterConfig,
}

/// The `config` key, as Argo CD writes it.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClusterConfig {
    #[serde(default)]
    bearer_token: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    tls_client_config: TlsClientConfig,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TlsClientConfig {
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    server_name: Option<String>,
    #[serde(default)]
    ca_data: Option<String>,
    #[serde(default)]
    cert_data: Option<String>,
    #[serde(default)]
    key_data: Option<String>,
}

impl ClusterSecret {
    /// The Secret's `name` and `server` only (its `config` unread), to match a destination.
    fn identity(secret: &Secret) -> Option<ClusterSecret> {
        let server = secret_text(secret, "server")?;
        Some(ClusterSecret {
            name: secret_text(secret, "name").unwrap_or_else(|| server.clone()),
            server,
            config: ClusterConfig::default(),
        })
    }

    fn parse(secret: &Secret) -> Result<Self, DestinationError> {
        let invalid = |reason: String| DestinationError::InvalidSecret {
            secret: secret_name(secret),
            reason,
        };
        let text = |key: &str| secret_text(secret, key);
        let server = text("server").ok_or_else(|| invalid("no server".into()))?;
        let name = text("name").unwrap_or_else(|| server.clone());
        let config = match text("config") {
            Some(raw) if !raw.trim().is_empty() => serde_json::from_str(&raw).map_err(|e| {
                // serde's message may quote a value; say only where it went wrong.
                invalid(format!(
                    "config is not valid JSON at line {} column {}",
                    e.line(),
                    e.column()
                ))
            })?,
            _ => ClusterConfig::default(),
        };
        Ok(ClusterSecret {
            name,
            server,
            config,
        })
    }

    /// A client for the cluster, built the way a kubeconfig would describe it.
    async fn client(&self, secret: &str) -> Result<kube::Client, DestinationError> {
        let invalid = |reason: &str| DestinationError::InvalidSecret {
            secret: secret.to_string(),
            reason: reason.to_string(),
        };
        let tls = &self.config.tls_client_config;
        let mut cluster = json!({"server": self.server});
        if tls.insecure {
            cluster["insecure-skip-tls-verify"] = json!(true);
        }
        if let Some(ca) = &tls.ca_data {
            cluster["certificate-authority-data"] = json!(ca);
        }
        if let Some(server_name) = &tls.server_name {
            cluster["tls-server-name"] = json!(server_name);
        }
        let mut user = json!({});
        if let Some(token) = &self.config.bearer_token {
            user["token"] = json!(token);
        }
        if let (Some(username), Some(password)) = (&self.config.username, &self.config.password) {
            user["username"] = json!(username);
            user["password"] = json!(password);
        }
        if let (Some(cert), Some(key)) = (&tls.cert_data, &tls.key_data) {
            user["client-certificate-data"] = json!(cert);
            user["client-key-data"] = json!(key);
        }
        let kubeconfig = json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "c", "cluster": cluster}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "x",
        });
        let kubeconfig: kube::config::Kubeconfig = serde_json::from_value(kubeconfig)
            .map_err(|_| invalid("server, token or certificates are malformed"))?;
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .map_err(|_| invalid("server, token or certificates are malformed"))?;
        kube::Client::try_from(config).map_err(|_| invalid("cannot build a client from it"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;

    fn secret(data: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: kube::api::ObjectMeta {
                name: Some("prod".into()),
                ..kube::api::ObjectMeta::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Secret::default()
        }
    }

    #[test]
    fn a_cluster_secret_parses_as_argo_cd_writes_it() {
        let parsed = ClusterSecret::parse(&secret(&[
            ("name", "prod"),
            ("server", "https://prod.example.com:6443"),
            (
                "config",
                r#"{"bearerToken": "t0ken", "tlsClientConfig": {"insecure": true, "serverName": "prod"}}"#,
            ),
        ]))
        .unwrap();
        assert_eq!(parsed.name, "prod");
        assert_eq!(parsed.config.bearer_token.as_deref(), Some("t0ken"));
        assert!(parsed.config.tls_client_config.insecure);
        // The name defaults to the server.
        let unnamed = ClusterSecret::parse(&secret(&[("server", "https://x")])).unwrap();
        assert_eq!(unnamed.name, "https://x");
    }

    #[test]
    fn a_broken_secret_is_named_without_its_values() {
        let err = ClusterSecret::parse(&secret(&[
            ("server", "https://x"),
            ("config", r#"{"bearerToken": "s3cret-value", "#),
        ]))
        .err()
        .unwrap();
        let message = err.to_string();
        assert!(message.starts_with("cluster secret prod is invalid: config is not valid JSON"));
        assert!(!message.contains("s3cret"), "{message}");
        assert!(ClusterSecret::parse(&secret(&[("name", "x")])).is_err());
        assert_eq!(err.disposition(), Disposition::Wait);
    }

    #[tokio::test]
    async fn destinations_need_exactly_one_of_server_and_name() {
        let config = kube::Config::new("http://127.0.0.1:1".parse().unwrap());
        let clusters = Clusters::new(kube::Client::try_from(config).unwrap(), "argocd", None);
        let destination = |server: Option<&str>, name: Option<&str>| ApplicationDestination {
            server: server.map(str::to_string),
            name: name.map(str::to_string),
            namespace: None,
        };
        let local = clusters
            .resolve(&destination(Some(IN_CLUSTER_SERVER), None))
            .await
            .unwrap();
        assert!(Arc::ptr_eq(&local.cluster, clusters.in_cluster()));
        assert!(
            clusters
                .resolve(&destination(None, Some("in-cluster")))
                .await
                .is_ok()
        );
        assert!(matches!(
            clusters.resolve(&destination(None, None)).await,
            Err(DestinationError::Missing)
        ));
        assert!(matches!(
            clusters
                .resolve(&destination(Some("https://a"), Some("a")))
                .await,
            Err(DestinationError::Both { .. })
        ));
    }
}
