//! The `AppProject` kind: which repositories an Application may use, where it may deploy,
//! which kinds it may create, and when it may sync.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An Argo CD AppProject (`argoproj.io/v1alpha1`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppProject {
    /// `argoproj.io/v1alpha1`.
    #[serde(default = "api_version")]
    pub api_version: String,
    /// `AppProject`.
    #[serde(default = "kind")]
    pub kind: String,
    /// Name and namespace (the control-plane namespace).
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The project's rules.
    #[serde(default)]
    pub spec: AppProjectSpec,
    /// JWT tokens issued for the project's roles, by role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

fn api_version() -> String {
    super::API_VERSION.to_string()
}

fn kind() -> String {
    "AppProject".to_string()
}

impl Default for AppProject {
    fn default() -> Self {
        Self {
            api_version: api_version(),
            kind: kind(),
            metadata: ObjectMeta::default(),
            spec: AppProjectSpec::default(),
            status: None,
        }
    }
}

super::resource!(AppProject, "AppProject", "appprojects");

impl AppProject {
    /// The `default` project as Argo CD creates it: any repository, any destination, any kind.
    pub fn default_project(namespace: &str) -> Self {
        Self {
            metadata: ObjectMeta {
                name: Some("default".into()),
                namespace: Some(namespace.into()),
                ..ObjectMeta::default()
            },
            spec: AppProjectSpec {
                source_repos: vec!["*".into()],
                destinations: vec![ApplicationDestinationPattern {
                    server: Some("*".into()),
                    namespace: Some("*".into()),
                    name: None,
                }],
                cluster_resource_whitelist: vec![GroupKind {
                    group: "*".into(),
                    kind: "*".into(),
                    name: None,
                }],
                ..AppProjectSpec::default()
            },
            ..Self::default()
        }
    }
}

/// The AppProject's `spec`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppProjectSpec {
    /// Repository URLs Applications may use: globs, `!` negates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_repos: Vec<String>,
    /// Clusters and namespaces Applications may deploy to: globs, `!` negates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<ApplicationDestinationPattern>,
    /// What the project is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Roles for the project's users and tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<ProjectRole>,
    /// Cluster-scoped kinds Applications may create; none when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_resource_whitelist: Vec<GroupKind>,
    /// Cluster-scoped kinds Applications may not create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_resource_blacklist: Vec<GroupKind>,
    /// Namespaced kinds Applications may create; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_resource_whitelist: Vec<GroupKind>,
    /// Namespaced kinds Applications may not create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_resource_blacklist: Vec<GroupKind>,
    /// Warn about resources in the destination namespaces that no Application tracks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphaned_resources: Option<OrphanedResourcesMonitorSettings>,
    /// When syncs may run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_windows: Vec<SyncWindow>,
    /// Namespaces besides the control-plane one where the project's Applications may live.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_namespaces: Vec<String>,
    /// Only clusters registered with this project may be destinations.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub permit_only_project_scoped_clusters: bool,
    /// GPG keys commits must be signed with. Accepted, not supported: Applications of a
    /// project that sets them get an `InvalidSpecError`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "any_list")]
    pub signature_keys: Vec<serde_json::Value>,
    /// Service accounts to impersonate per destination. Accepted, not supported yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_service_accounts: Vec<ApplicationDestinationServiceAccount>,
    /// Source integrity rules. Accepted, not supported: Applications of a project that sets
    /// them get an `InvalidSpecError`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::crd::any_object")]
    pub source_integrity: Option<serde_json::Value>,
}

fn any_list(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let item = crate::crd::any_object(generator);
    schemars::json_schema!({"type": "array", "items": item})
}

/// A destination pattern: `server` or `name` and `namespace`, each a glob (`!` negates).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDestinationPattern {
    /// The cluster's API server URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The cluster's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A kind (and for cluster-scoped restrictions, optionally a name), each a glob.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
pub struct GroupKind {
    /// The API group (`""` for the core group, `*` for any).
    #[serde(default)]
    pub group: String,
    /// The kind (`*` for any).
    #[serde(default)]
    pub kind: String,
    /// The object's name, for cluster-scoped restrictions (Argo CD 3.1+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `orphanedResources`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
pub struct OrphanedResourcesMonitorSettings {
    /// Add an `OrphanedResourceWarning` condition (on when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn: Option<bool>,
    /// Resources that never count as orphaned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<OrphanedResourceKey>,
}

/// A resource `orphanedResources` ignores; each field a glob.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
pub struct OrphanedResourceKey {
    /// The API group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One of `syncWindows`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncWindow {
    /// `allow` or `deny`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// When the window opens, as a cron expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// How long it stays open (`1h`, `30m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Applications it applies to (globs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<String>,
    /// Destination namespaces it applies to (globs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Destination clusters it applies to (globs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
    /// Whether manual syncs may run while the window blocks automated ones.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manual_sync: bool,
    /// The schedule's time zone (`Europe/Berlin`); UTC when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Match only when applications, namespaces and clusters all match.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub and_operator: bool,
    /// What the window is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Let a sync that started inside an allow window finish after it closes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sync_overrun: bool,
}

/// A project role.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRole {
    /// The role's name.
    #[serde(default)]
    pub name: String,
    /// What the role is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Casbin policy lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// Tokens issued for the role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jwt_tokens: Vec<JwtToken>,
    /// OIDC groups bound to the role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// A token issued for a project role.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
pub struct JwtToken {
    /// Issued at (Unix seconds).
    #[serde(default)]
    pub iat: i64,
    /// Expires at (Unix seconds); 0 never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// The token's ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// A service account to impersonate for a destination.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDestinationServiceAccount {
    /// The cluster's API server URL (a glob).
    #[serde(default)]
    pub server: String,
    /// The namespace (a glob).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The service account, `namespace:name` or a name in the destination namespace.
    #[serde(default)]
    pub default_service_account: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_project_round_trips() {
        // Argo CD's docs/operator-manual/project.yaml, abridged.
        let value = serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            "metadata": {"name": "my-project", "namespace": "argocd",
                         "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
            "spec": {
                "description": "Example Project",
                "sourceRepos": ["*"],
                "destinations": [{"namespace": "guestbook", "server": "https://kubernetes.default.svc"},
                                 {"namespace": "!kube-system", "server": "*"}],
                "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
                "namespaceResourceBlacklist": [{"group": "", "kind": "ResourceQuota"}],
                "namespaceResourceWhitelist": [{"group": "apps", "kind": "Deployment"}],
                "orphanedResources": {"warn": false},
                "roles": [{"name": "read-only", "description": "Read-only privileges to my-project",
                           "policies": ["p, proj:my-project:read-only, applications, get, my-project/*, allow"],
                           "groups": ["my-oidc-group"]}],
                "syncWindows": [{"kind": "allow", "schedule": "10 1 * * *", "duration": "1h",
                                 "applications": ["*-prod"], "manualSync": true},
                                {"kind": "deny", "schedule": "0 22 * * *", "duration": "1h",
                                 "namespaces": ["default"], "timeZone": "Europe/Amsterdam"}],
                "sourceNamespaces": ["argocd-apps-*"]
            }
        });
        let project: AppProject = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(
            project.spec.sync_windows[1].time_zone.as_deref(),
            Some("Europe/Amsterdam")
        );
        assert_eq!(serde_json::to_value(&project).unwrap(), value);
    }

    #[test]
    fn the_default_project_allows_everything() {
        let project = serde_json::to_value(AppProject::default_project("argocd")).unwrap();
        assert_eq!(
            project,
            serde_json::json!({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
                "metadata": {"name": "default", "namespace": "argocd"},
                "spec": {"sourceRepos": ["*"],
                         "destinations": [{"server": "*", "namespace": "*"}],
                         "clusterResourceWhitelist": [{"group": "*", "kind": "*"}]}
            })
        );
    }
}
