//! Argo CD's settings ConfigMap, `argocd-cm` in the control-plane namespace, read when the
//! controllers start, as Argo CD's controller reads it (a change takes a restart). The
//! settings Ferry acts on are read from it by their owners: [`crate::application::Resync`]
//! (`timeout.reconciliation`), [`crate::health::custom::Customizations`] (health scripts).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;

/// The ConfigMap's name.
pub const ARGOCD_CM: &str = "argocd-cm";

/// The `data` of `argocd-cm`; empty when there is none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArgoCdSettings {
    data: BTreeMap<String, String>,
}

impl ArgoCdSettings {
    /// Settings from `data`, as the ConfigMap holds them.
    pub fn new(data: BTreeMap<String, String>) -> Self {
        ArgoCdSettings { data }
    }

    /// The ConfigMap of `namespace`; empty, with a warning, when it cannot be read.
    pub async fn read(client: &kube::Client, namespace: &str) -> Self {
        let maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
        match maps.get_opt(ARGOCD_CM).await {
            Ok(found) => ArgoCdSettings::new(found.and_then(|m| m.data).unwrap_or_default()),
            Err(e) => {
                tracing::warn!(error = %e, "reading argocd-cm; its defaults apply");
                ArgoCdSettings::default()
            }
        }
    }

    /// One setting.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.data.get(key).map(String::as_str)
    }

    /// The settings whose keys start with `prefix`, with the rest of the key.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.data
            .range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(move |(k, v)| (&k[prefix.len()..], v.as_str()))
    }
}
