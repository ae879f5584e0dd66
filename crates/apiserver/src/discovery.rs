//! Discovery documents: `/version`, `/api`, `/apis`, `/apis/{group}` and the resource lists
//! of each group/version, built from the live [`Resources`] catalog so a CRD shows up the
//! moment it is created.

use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::resources::Resources;

/// The Kubernetes version this server reports; kubectl 1.32–1.35 accept it.
pub const KUBERNETES_MINOR: &str = "33";

pub enum Doc {
    Version,
    CoreVersions,
    Groups,
    Group(String),
    Resources(String, String),
}

pub fn render(doc: &Doc, resources: &Resources, address: &str) -> ApiResult<Value> {
    match doc {
        Doc::Version => Ok(json!({
            "major": "1",
            "minor": KUBERNETES_MINOR,
            "gitVersion": format!("v1.{KUBERNETES_MINOR}.0+ferry-{}", env!("CARGO_PKG_VERSION")),
            "gitCommit": "",
            "gitTreeState": "clean",
            "buildDate": "",
            "goVersion": "",
            "compiler": "rustc",
            "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
        })),
        Doc::CoreVersions => Ok(json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
        })),
        Doc::Groups => {
            let groups: Vec<Value> = resources
                .groups()
                .iter()
                .filter(|(g, _)| !g.is_empty())
                .map(|(g, versions)| group_doc(g, versions))
                .collect();
            Ok(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
        }
        Doc::Group(g) => {
            let groups = resources.groups();
            let versions = groups
                .get(g)
                .filter(|_| !g.is_empty())
                .ok_or_else(|| ApiError::no_route(&format!("/apis/{g}")))?;
            let mut doc = group_doc(g, versions);
            doc["kind"] = json!("APIGroup");
            doc["apiVersion"] = json!("v1");
            Ok(doc)
        }
        Doc::Resources(group, version) => {
            let mut list = Vec::new();
            for t in resources
                .all()
                .iter()
                .filter(|t| t.group == *group && t.version == *version)
            {
                let verbs: &[&str] = if t.review {
                    &["create"]
                } else {
                    &[
                        "create",
                        "delete",
                        "deletecollection",
                        "get",
                        "list",
                        "patch",
                        "update",
                        "watch",
                    ]
                };
                let mut r = json!({
                    "name": t.plural,
                    "singularName": t.singular,
                    "namespaced": t.namespaced,
                    "kind": t.kind,
                    "verbs": verbs,
                });
                if !t.short_names.is_empty() {
                    r["shortNames"] = json!(t.short_names);
                }
                if !t.categories.is_empty() {
                    r["categories"] = json!(t.categories);
                }
                list.push(r);
                if t.has_status {
                    list.push(json!({
                        "name": format!("{}/status", t.plural), "singularName": "",
                        "namespaced": t.namespaced, "kind": t.kind, "verbs": ["get", "patch", "update"],
                    }));
                }
                if crate::scale::scalable(t) {
                    list.push(json!({
                        "name": format!("{}/scale", t.plural), "singularName": "",
                        "namespaced": t.namespaced, "group": "autoscaling", "version": "v1",
                        "kind": "Scale", "verbs": ["get", "patch", "update"],
                    }));
                }
                if t.is("", "pods") {
                    list.push(json!({
                        "name": "pods/log", "singularName": "",
                        "namespaced": true, "kind": "Pod", "verbs": ["get"],
                    }));
                }
                if t.is("", "namespaces") {
                    list.push(json!({
                        "name": "namespaces/finalize", "singularName": "",
                        "namespaced": false, "kind": "Namespace", "verbs": ["update"],
                    }));
                }
            }
            if list.is_empty() {
                let path = if group.is_empty() {
                    format!("/api/{version}")
                } else {
                    format!("/apis/{group}/{version}")
                };
                return Err(ApiError::no_route(&path));
            }
            let gv = if group.is_empty() {
                version.clone()
            } else {
                format!("{group}/{version}")
            };
            Ok(
                json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}),
            )
        }
    }
}

fn group_doc(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({"name": group, "versions": vs, "preferredVersion": vs.first().cloned().unwrap_or(Value::Null)})
}
