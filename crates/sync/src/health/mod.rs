//! Resource health, assessed as Argo CD assesses it: a status code from most to least healthy
//! (`Healthy`, `Suspended`, `Progressing`, `Missing`, `Degraded`, `Unknown`) and an optional
//! message, from the built-in checks of gitops-engine, one file per API group.
//!
//! [`Checks::assess`] is the entry point: an object being deleted is `Progressing` ("Pending
//! deletion"); a kind with a Lua script ([`custom`], run by [`lua`]) gets the script's
//! verdict; else a kind with a built-in check gets that one's; a kind without either has no
//! health (`None`), which aggregation ignores. An object whose fields do not have the types
//! its kind declares is `Unknown` with the reason, as Argo CD reports a failed conversion.
//! [`aggregate`] combines resources' verdicts into an Application's.

pub mod aggregate;
mod apiregistration;
mod apps;
mod argoproj;
mod autoscaling;
mod batch;
mod core;
pub mod custom;
pub mod lua;
mod networking;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hook::HOOK_FINALIZER;

/// A health status code, ordered from most to least healthy (Argo CD's `healthOrder`), so
/// the worst of several is their maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum HealthCode {
    /// Running as intended.
    Healthy,
    /// Paused or suspended on purpose (a paused Deployment, a suspended Job).
    Suspended,
    /// Not healthy yet, but may become so (a rollout in progress).
    Progressing,
    /// Not in the cluster.
    Missing,
    /// Failed, or cannot become healthy in time.
    Degraded,
    /// The assessment itself failed.
    Unknown,
}

impl HealthCode {
    /// The code as Argo CD spells it in `status.health.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthCode::Healthy => "Healthy",
            HealthCode::Suspended => "Suspended",
            HealthCode::Progressing => "Progressing",
            HealthCode::Missing => "Missing",
            HealthCode::Degraded => "Degraded",
            HealthCode::Unknown => "Unknown",
        }
    }
}

impl std::fmt::Display for HealthCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verdict: the code and, when the check says why, a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The code.
    pub status: HealthCode,
    /// Why; empty when the check gives no reason (then not serialized, as Argo CD's
    /// `omitempty`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl Health {
    /// A verdict with a message.
    pub fn new(status: HealthCode, message: impl Into<String>) -> Self {
        Health {
            status,
            message: message.into(),
        }
    }

    /// A verdict without a message.
    pub fn of(status: HealthCode) -> Self {
        Health::new(status, "")
    }
}

/// How a controller judges health: its Lua scripts, then the built-in checks. Cheap to
/// clone.
#[derive(Clone, Debug, Default)]
pub struct Checks {
    custom: Arc<custom::Customizations>,
}

impl Checks {
    /// Checks with `custom`'s scripts.
    pub fn new(custom: custom::Customizations) -> Self {
        Checks {
            custom: Arc::new(custom),
        }
    }

    /// Runs `judge`, which may run Lua scripts for up to a second each, without holding up
    /// the other tasks of a multi-threaded tokio runtime (tokio's `block_in_place`); with no
    /// scripts, or elsewhere, it just runs.
    pub fn in_place<R>(&self, judge: impl FnOnce() -> R) -> R {
        let multi_threaded = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if !self.custom.is_empty() && multi_threaded {
            tokio::task::block_in_place(judge)
        } else {
            judge()
        }
    }

    /// The health of `obj`, or `None` when nothing judges its kind (or its script returned
    /// no status). A hook being deleted keeps its own verdict until its finalizer is
    /// removed; a script that fails makes it `Unknown` with the reason.
    pub fn assess(&self, obj: &Value) -> Option<Health> {
        if ferry_api::meta::is_being_deleted(obj)
            && !ferry_api::meta::finalizers(obj).contains(&HOOK_FINALIZER)
        {
            return Some(Health::new(HealthCode::Progressing, "Pending deletion"));
        }
        let gvk = ferry_api::meta::GroupVersionKind::of(obj)?;
        match self.custom.script_for(&gvk.group, &gvk.kind) {
            Some(script) => lua::run(script, obj)
                .unwrap_or_else(|message| Some(Health::new(HealthCode::Unknown, message))),
            None => builtin(obj, &gvk),
        }
    }
}

/// The health of `obj` by the built-in checks alone ([`Checks::assess`] without scripts).
pub fn assess(obj: &Value) -> Option<Health> {
    Checks::default().assess(obj)
}

/// The built-in check's verdict, `None` for a kind without one.
fn builtin(obj: &Value, gvk: &ferry_api::meta::GroupVersionKind) -> Option<Health> {
    let check: Check = match (gvk.group.as_str(), gvk.kind.as_str()) {
        ("apps", "Deployment") => apps::deployment,
        ("apps", "StatefulSet") => apps::stateful_set,
        ("apps", "ReplicaSet") => apps::replica_set,
        ("apps", "DaemonSet") => apps::daemon_set,
        ("extensions" | "networking.k8s.io", "Ingress") => networking::ingress,
        ("argoproj.io", "Workflow") => argoproj::workflow,
        ("argoproj.io", "Application") => argoproj::application,
        ("apiregistration.k8s.io", "APIService") => apiregistration::api_service,
        ("", "Service") => core::service,
        ("", "PersistentVolumeClaim") => core::persistent_volume_claim,
        ("", "Pod") => core::pod,
        ("batch", "Job") => batch::job,
        ("autoscaling", "HorizontalPodAutoscaler") => autoscaling::horizontal_pod_autoscaler,
        _ => return None,
    };
    Some(check(obj).unwrap_or_else(|message| Health::new(HealthCode::Unknown, message)))
}

/// A built-in check: a verdict, or why the object could not be read as its kind.
type Check = fn(&Value) -> Result<Health, String>;

/// Typed reads of one object's fields, lenient as Go's unstructured conversion is (a missing
/// field reads as its zero value) and strict where it is (a field of the wrong type fails the
/// check, naming the field).
struct Fields<'a> {
    obj: &'a Value,
    kind: &'static str,
}

/// One entry of a `conditions` list; missing fields read as empty.
struct Condition<'a> {
    type_: &'a str,
    status: &'a str,
    reason: &'a str,
    message: &'a str,
}

impl<'a> Fields<'a> {
    /// The fields of `obj`, a `kind` whose check knows the API `versions`.
    fn of(obj: &'a Value, kind: &'static str, versions: &[&str]) -> Result<Self, String> {
        let gvk = ferry_api::meta::GroupVersionKind::of(obj).unwrap_or_default();
        if !versions.contains(&gvk.version.as_str()) {
            return Err(format!(
                "unsupported {kind} GVK: {}/{}, Kind={kind}",
                gvk.group, gvk.version
            ));
        }
        Ok(Fields { obj, kind })
    }

    fn at(&self, pointer: &str) -> Option<&'a Value> {
        self.obj.pointer(pointer).filter(|v| !v.is_null())
    }

    fn wrong_type(&self, pointer: &str, expected: &str) -> String {
        format!(
            "failed to convert unstructured {} to typed: {}: expected {expected}",
            self.kind,
            pointer.trim_start_matches('/').replace('/', ".")
        )
    }

    /// An integer field; `None` when absent.
    fn int(&self, pointer: &str) -> Result<Option<i64>, String> {
        match self.at(pointer) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.wrong_type(pointer, "an integer")),
        }
    }

    /// An integer field, 0 when absent.
    fn count(&self, pointer: &str) -> Result<i64, String> {
        Ok(self.int(pointer)?.unwrap_or(0))
    }

    /// A string field, `""` when absent.
    fn text(&self, pointer: &str) -> Result<&'a str, String> {
        match self.at(pointer) {
            None => Ok(""),
            Some(v) => v
                .as_str()
                .ok_or_else(|| self.wrong_type(pointer, "a string")),
        }
    }

    /// A boolean field, `false` when absent.
    fn flag(&self, pointer: &str) -> Result<bool, String> {
        match self.at(pointer) {
            None => Ok(false),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.wrong_type(pointer, "a boolean")),
        }
    }

    /// A list field, empty when absent.
    fn list(&self, pointer: &str) -> Result<&'a [Value], String> {
        match self.at(pointer) {
            None => Ok(&[]),
            Some(v) => v
                .as_array()
                .map(Vec::as_slice)
                .ok_or_else(|| self.wrong_type(pointer, "a list")),
        }
    }

    /// The conditions listed at `pointer` (`/status/conditions`).
    fn conditions(&self, pointer: &str) -> Result<Vec<Condition<'a>>, String> {
        self.list(pointer)?
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let entry = Fields {
                    obj: item,
                    kind: self.kind,
                };
                let field = |name: &str| {
                    entry
                        .text(&format!("/{name}"))
                        .map_err(|_| self.wrong_type(&format!("{pointer}/{i}/{name}"), "a string"))
                };
                Ok(Condition {
                    type_: field("type")?,
                    status: field("status")?,
                    reason: field("reason")?,
                    message: field("message")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_order_from_most_to_least_healthy() {
        use HealthCode::*;
        let mut codes = [Unknown, Missing, Healthy, Degraded, Progressing, Suspended];
        codes.sort();
        assert_eq!(
            codes,
            [Healthy, Suspended, Progressing, Missing, Degraded, Unknown]
        );
        assert_eq!(
            [Healthy, Degraded, Progressing].into_iter().max(),
            Some(Degraded)
        );
    }

    #[test]
    fn deletion_pending_unless_a_hook_is_running_and_unknown_kinds_have_no_health() {
        let deleting = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "deletionTimestamp": "2026-01-01T00:00:00Z"}});
        assert_eq!(
            assess(&deleting),
            Some(Health::new(HealthCode::Progressing, "Pending deletion"))
        );
        let hook = json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "j", "deletionTimestamp": "2026-01-01T00:00:00Z",
                "finalizers": [HOOK_FINALIZER]},
            "status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(assess(&hook), Some(Health::of(HealthCode::Healthy)));
        let config_map =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert_eq!(assess(&config_map), None);
    }

    #[test]
    fn a_field_of_the_wrong_type_is_unknown_with_the_reason() {
        let broken = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d"}, "spec": {"replicas": "three"}});
        assert_eq!(
            assess(&broken),
            Some(Health::new(
                HealthCode::Unknown,
                "failed to convert unstructured Deployment to typed: spec.replicas: expected an integer"
            ))
        );
        let broken = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
            "status": {"conditions": [{"type": "Failed", "status": true}]}});
        assert_eq!(
            assess(&broken),
            Some(Health::new(
                HealthCode::Unknown,
                "failed to convert unstructured Job to typed: status.conditions.0.status: expected a string"
            ))
        );
    }

    #[test]
    fn serializes_as_argo_cds_health_status() {
        assert_eq!(
            serde_json::to_value(Health::of(HealthCode::Healthy)).unwrap(),
            json!({"status": "Healthy"})
        );
        assert_eq!(
            serde_json::to_value(Health::new(HealthCode::Degraded, "x")).unwrap(),
            json!({"status": "Degraded", "message": "x"})
        );
    }
}
