//! Connecting to a cluster and resolving what users type (`deploy`, `Deployment`,
//! `deployments.apps`) to API resources through the server's discovery documents.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use kube::Client;
use kube::api::ApiResource;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

use crate::datadir;

/// Kubeconfig precedence: the flag, `$KUBECONFIG`, the one `ferry up` wrote, ~/.kube/config.
pub fn kubeconfig_path(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = flag {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("KUBECONFIG").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let ferry = datadir::kubeconfig_path(&datadir::default_dir());
    if ferry.exists() {
        return Ok(ferry);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let kube = home.join(".kube/config");
    if kube.exists() {
        return Ok(kube);
    }
    bail!("no kubeconfig found: start Ferry with `ferry up`, or pass --kubeconfig")
}

/// A client and the kubeconfig's default namespace.
pub async fn connect(flag: Option<&Path>) -> anyhow::Result<(Client, String)> {
    let path = kubeconfig_path(flag)?;
    let kubeconfig = Kubeconfig::read_from(&path)
        .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("invalid kubeconfig {}", path.display()))?;
    let namespace = config.default_namespace.clone();
    let client = Client::try_from(config).context("cannot build a Kubernetes client")?;
    Ok((client, namespace))
}

/// A served resource as discovery describes it.
#[derive(Clone, Debug)]
pub struct Resource {
    pub api: ApiResource,
    pub namespaced: bool,
    pub singular: String,
    pub short_names: Vec<String>,
}

/// Every resource the server serves, at each group's preferred version first.
pub async fn discover(client: &Client) -> anyhow::Result<Vec<Resource>> {
    let mut out = Vec::new();
    let mut group_versions = vec![("".to_string(), "v1".to_string())];
    let groups = get_json(client, "/apis").await?;
    for g in groups["groups"].as_array().into_iter().flatten() {
        let name = g["name"].as_str().unwrap_or_default().to_string();
        let mut versions: Vec<String> = g["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["version"].as_str().map(str::to_string))
            .collect();
        if let Some(pref) = g
            .pointer("/preferredVersion/version")
            .and_then(Value::as_str)
        {
            versions.retain(|v| v != pref);
            versions.insert(0, pref.to_string());
        }
        group_versions.extend(versions.into_iter().map(|v| (name.clone(), v)));
    }
    for (group, version) in group_versions {
        let path = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let list = get_json(client, &path).await?;
        for r in list["resources"].as_array().into_iter().flatten() {
            let plural = r["name"].as_str().unwrap_or_default();
            if plural.contains('/') {
                continue;
            }
            let kind = r["kind"].as_str().unwrap_or_default();
            let api_version = if group.is_empty() {
                version.clone()
            } else {
                format!("{group}/{version}")
            };
            out.push(Resource {
                api: ApiResource {
                    group: group.clone(),
                    version: version.clone(),
                    api_version,
                    kind: kind.to_string(),
                    plural: plural.to_string(),
                },
                namespaced: r["namespaced"].as_bool().unwrap_or(false),
                singular: r["singularName"].as_str().unwrap_or_default().to_string(),
                short_names: r["shortNames"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect(),
            });
        }
    }
    Ok(out)
}

async fn get_json(client: &Client, path: &str) -> anyhow::Result<Value> {
    let request = http::Request::get(path).body(Vec::new())?;
    client
        .request::<Value>(request)
        .await
        .with_context(|| format!("discovery request {path} failed"))
}

/// Resolves what a user typed: plural, singular, short name or kind, optionally with
/// `.group` (`deploy`, `deployments`, `Deployment`, `deployments.apps`).
pub fn resolve<'a>(resources: &'a [Resource], typed: &str) -> anyhow::Result<&'a Resource> {
    let lower = typed.to_lowercase();
    let (name, group) = match lower.split_once('.') {
        Some((n, g)) => (n.to_string(), Some(g.to_string())),
        None => (lower.clone(), None),
    };
    resources
        .iter()
        .find(|r| {
            group.as_ref().is_none_or(|g| *g == r.api.group)
                && (r.api.plural == name
                    || r.singular == name
                    || r.api.kind.to_lowercase() == name
                    || r.short_names.contains(&name))
        })
        .ok_or_else(|| anyhow::anyhow!("the server doesn't have a resource type \"{typed}\""))
}

/// The resource for a manifest's `apiVersion` and `kind`.
pub fn for_manifest<'a>(
    resources: &'a [Resource],
    api_version: &str,
    kind: &str,
) -> anyhow::Result<&'a Resource> {
    resources
        .iter()
        .find(|r| r.api.api_version == api_version && r.api.kind == kind)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no matches for kind \"{kind}\" in version \"{api_version}\": is its CRD installed?"
            )
        })
}
