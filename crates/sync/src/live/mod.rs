//! The destination cluster's side of a comparison: which kinds it serves (discovered once per
//! kind and remembered) and the live object for a target, read from a watch-based cache of
//! its kind ([`cache`]): one watch per kind, started when an app first needs the kind and
//! shared by all, so a reconcile reads no object from the API. Changes to watched objects
//! are announced to a subscriber ([`Cluster::subscribe`]).

mod cache;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ferry_api::{Classify, Disposition};
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use serde_json::Value;

/// A read of the destination cluster that failed.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The cluster does not serve the kind (its CRD is not installed).
    #[error(
        "the Kubernetes API could not find {group_kind} for requested resource {object}; make sure the {kind:?} CRD is installed on the destination cluster"
    )]
    UnknownKind {
        /// `group/Kind`, or `Kind` for the core group.
        group_kind: String,
        /// The kind.
        kind: String,
        /// `namespace/name` of the object asked about.
        object: String,
    },
    /// The object has no `apiVersion`, `kind` or name.
    #[error("an object without apiVersion, kind or metadata.name cannot be looked up")]
    Unnamed,
    /// The watch of the kind has not listed its objects in time.
    #[error("the cache of {kind} is not ready: its watch has not listed the objects yet")]
    NotReady {
        /// The kind.
        kind: String,
    },
    /// The API refused or failed the call.
    #[error("reading {object}: {source}")]
    Api {
        /// `Kind namespace/name`.
        object: String,
        /// The API's error.
        #[source]
        source: kube::Error,
    },
}

impl LiveError {
    /// The error for `obj`, whose kind the cluster does not serve.
    pub fn unknown_kind(obj: &Value) -> Self {
        let gvk = ferry_api::meta::GroupVersionKind::of(obj).unwrap_or_default();
        LiveError::UnknownKind {
            group_kind: if gvk.group.is_empty() {
                gvk.kind.clone()
            } else {
                format!("{}/{}", gvk.group, gvk.kind)
            },
            kind: gvk.kind,
            object: format!(
                "{}/{}",
                ferry_api::meta::namespace(obj).unwrap_or_default(),
                ferry_api::meta::name(obj).unwrap_or_default()
            ),
        }
    }
}

impl Classify for LiveError {
    /// A missing CRD may be installed soon; API answers follow their HTTP status.
    fn disposition(&self) -> Disposition {
        match self {
            LiveError::UnknownKind { .. } => Disposition::Wait,
            LiveError::Unnamed => Disposition::GiveUp,
            LiveError::NotReady { .. } => Disposition::Retry,
            LiveError::Api {
                source: kube::Error::Api(status),
                ..
            } => Disposition::of_http_status(status.code),
            LiveError::Api { .. } => Disposition::Retry,
        }
    }
}

/// A kind as the cluster serves it.
#[derive(Clone, Debug)]
pub struct ServedKind {
    /// Its resource (plural, version) for requests.
    pub resource: ApiResource,
    /// Whether objects of the kind live in namespaces.
    pub namespaced: bool,
}

/// How long a read waits for a new watch's first list.
const FIRST_LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// One destination cluster, read through `client`.
pub struct Cluster {
    client: kube::Client,
    kinds: RwLock<HashMap<ferry_api::meta::GroupVersionKind, ServedKind>>,
    caches: tokio::sync::Mutex<HashMap<ferry_api::meta::GroupVersionKind, Arc<cache::KindCache>>>,
    changes: Arc<cache::Changes>,
    /// Where writes are counted, and the server they are counted against.
    metrics: Option<(Arc<crate::metrics::Metrics>, String)>,
}

impl Cluster {
    /// The cluster `client` talks to.
    pub fn new(client: kube::Client) -> Self {
        Cluster {
            client,
            kinds: RwLock::new(HashMap::new()),
            caches: tokio::sync::Mutex::default(),
            changes: Arc::default(),
            metrics: None,
        }
    }

    /// Counts this cluster's writes in `metrics`, as writes to `server`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>, server: &str) -> Self {
        self.metrics = Some((metrics, server.to_string()));
        self
    }

    /// Counts one write (`apply`, `delete`).
    pub fn count_write(&self, command: &str) {
        if let Some((metrics, server)) = &self.metrics {
            metrics.cluster_write(server, command);
        }
    }

    /// From now on, every change to an object of a watched kind (after its first list) is
    /// sent to `sender`.
    pub fn subscribe(&self, sender: tokio::sync::mpsc::UnboundedSender<Arc<Value>>) {
        self.changes.subscribe(sender);
    }

    /// The client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// How the cluster serves `obj`'s kind; [`LiveError::UnknownKind`] when it does not.
    /// Kinds found are remembered; kinds not found are asked again next time (a CRD may
    /// have been installed since).
    pub async fn kind_of(&self, obj: &Value) -> Result<ServedKind, LiveError> {
        let gvk = ferry_api::meta::GroupVersionKind::of(obj).ok_or(LiveError::Unnamed)?;
        if let Some(kind) = self.kinds.read().ok().and_then(|k| k.get(&gvk).cloned()) {
            return Ok(kind);
        }
        let query = kube::api::GroupVersionKind::gvk(&gvk.group, &gvk.version, &gvk.kind);
        let (resource, capabilities): (ApiResource, ApiCapabilities) =
            match kube::discovery::pinned_kind(&self.client, &query).await {
                Ok(found) => found,
                Err(kube::Error::Discovery(_)) => return Err(LiveError::unknown_kind(obj)),
                Err(kube::Error::Api(status)) if status.code == 404 => {
                    return Err(LiveError::unknown_kind(obj));
                }
                Err(source) => {
                    return Err(LiveError::Api {
                        object: describe(obj),
                        source,
                    });
                }
            };
        let kind = ServedKind {
            resource,
            namespaced: capabilities.scope == Scope::Namespaced,
        };
        if let Ok(mut kinds) = self.kinds.write() {
            kinds.insert(gvk, kind.clone());
        }
        Ok(kind)
    }

    /// The live object `obj` names (its namespace already filled in when namespaced), or
    /// `None` when the cluster does not have it; from the cache of its kind.
    pub async fn get(&self, obj: &Value) -> Result<Option<Value>, LiveError> {
        let kind = self.kind_of(obj).await?;
        let name = ferry_api::meta::name(obj)
            .filter(|n| !n.is_empty())
            .ok_or(LiveError::Unnamed)?;
        let namespace = match ferry_api::meta::namespace(obj) {
            Some(ns) if kind.namespaced => ns,
            _ => "",
        };
        let cache = self.cache_of(&kind).await;
        if !cache.wait_ready(FIRST_LIST_TIMEOUT).await {
            return Err(LiveError::NotReady {
                kind: kind.resource.kind.clone(),
            });
        }
        Ok(cache.get(namespace, name).map(|o| (*o).clone()))
    }

    /// Whether the API server has `obj` now, asked directly rather than of the cache (which
    /// may not have seen a create yet).
    pub async fn exists(&self, obj: &Value) -> Result<bool, LiveError> {
        let kind = self.kind_of(obj).await?;
        let name = ferry_api::meta::name(obj)
            .filter(|n| !n.is_empty())
            .ok_or(LiveError::Unnamed)?;
        let api: kube::Api<kube::api::DynamicObject> = match ferry_api::meta::namespace(obj) {
            Some(ns) if kind.namespaced => {
                kube::Api::namespaced_with(self.client.clone(), ns, &kind.resource)
            }
            _ => kube::Api::all_with(self.client.clone(), &kind.resource),
        };
        let found = api.get_opt(name).await.map_err(|source| LiveError::Api {
            object: describe(obj),
            source,
        })?;
        Ok(found.is_some())
    }

    /// The cache of `kind`, its watch started on first use.
    async fn cache_of(&self, kind: &ServedKind) -> Arc<cache::KindCache> {
        let resource = &kind.resource;
        let key = ferry_api::meta::GroupVersionKind::new(
            &resource.group,
            &resource.version,
            &resource.kind,
        );
        let mut caches = self.caches.lock().await;
        caches
            .entry(key)
            .or_insert_with(|| {
                Arc::new(cache::KindCache::start(
                    self.client.clone(),
                    resource.clone(),
                    self.changes.clone(),
                ))
            })
            .clone()
    }
}

/// A stand-in object naming an object by its coordinates, for [`Cluster::get`].
pub fn probe(group: &str, version: &str, kind: &str, namespace: &str, name: &str) -> Value {
    let api_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut metadata = serde_json::json!({"name": name});
    if !namespace.is_empty() {
        metadata["namespace"] = serde_json::json!(namespace);
    }
    serde_json::json!({"apiVersion": api_version, "kind": kind, "metadata": metadata})
}

/// `Kind namespace/name` for messages.
fn describe(obj: &Value) -> String {
    format!(
        "{} {}/{}",
        obj.get("kind").and_then(Value::as_str).unwrap_or_default(),
        ferry_api::meta::namespace(obj).unwrap_or_default(),
        ferry_api::meta::name(obj).unwrap_or_default()
    )
}
