//! An Application's rendered objects compared with the destination cluster, as Argo CD's
//! `CompareAppState`: each target prepared (namespace, tracking), paired with its live
//! object, diffed, judged for health; objects the Application deployed earlier that Git no
//! longer has are found and marked `requiresPruning`. Hooks are prepared but not compared:
//! they run during a sync only.
//!
//! The result is what `status.sync`, `status.resources` and `status.health` show, plus the
//! prepared targets and live objects a sync applies and prunes.

use ferry_api::argocd::{HealthStatus, ResourceIgnoreDifferences, ResourceStatus};
use serde_json::{Value, json};

use crate::diff::{self, IgnoreRules};
use crate::health::aggregate::{self, Managed};
use crate::health::{self, Health};
use crate::hook;
use crate::live::{self, Cluster, LiveError};
use crate::order;
use crate::tracking::Tracking;

/// Argo CD's per-resource compare options annotation.
const COMPARE_OPTIONS_ANNOTATION: &str = "argocd.argoproj.io/compare-options";

/// What one comparison needs to know about the Application.
pub struct AppRef<'a> {
    /// The Application's name.
    pub name: &'a str,
    /// The Application's namespace.
    pub namespace: &'a str,
    /// The instance name its objects are tracked by ([`crate::tracking::instance_name`]).
    pub instance: &'a str,
    /// `spec.destination.namespace`: the namespace of targets that name none.
    pub destination_namespace: &'a str,
}

/// The outcome of comparing an Application.
#[derive(Debug)]
pub struct Comparison {
    /// `Synced`, `OutOfSync`, or `Unknown` when some resource could not be compared.
    pub sync_status: &'static str,
    /// `status.resources`, by group, kind, namespace and name.
    pub resources: Vec<ResourceStatus>,
    /// `status.health`.
    pub health: HealthStatus,
    /// The objects to apply, prepared (namespace, tracking), with their live objects.
    pub targets: Vec<(Value, Option<Value>)>,
    /// Live objects Git no longer has, which a sync with prune deletes.
    pub prunable: Vec<Value>,
    /// The hooks, prepared like the targets; they run during a sync only and are not
    /// compared.
    pub hooks: Vec<Value>,
    /// Resources that could not be compared, each as a `ComparisonError` message.
    pub errors: Vec<LiveError>,
    /// Targets whose live object another app tracks, each as a `SharedResourceWarning`
    /// message (`ConfigMap/settings is part of applications shop and other`).
    pub shared: Vec<String>,
}

/// Compares `targets` (the rendered objects) for `app` with what `cluster` has. `previous` is
/// the last `status.resources`: where to look for objects to prune.
pub async fn compare(
    cluster: &Cluster,
    app: &AppRef<'_>,
    targets: Vec<Value>,
    previous: &[ResourceStatus],
    ignore: &[ResourceIgnoreDifferences],
    tracking: &Tracking,
    health: &health::Checks,
) -> Result<Comparison, String> {
    let rules = IgnoreRules::new(ignore)?;
    let mut errors = Vec::new();
    let mut prepared = Vec::new();
    let mut hooks = Vec::new();
    for mut target in targets {
        if hook::skip(&target) {
            continue;
        }
        let kind = cluster.kind_of(&target).await;
        // A kind the cluster does not serve counts as namespaced, as in Argo CD.
        let namespaced = kind.as_ref().map_or(true, |k| k.namespaced);
        set_namespace(&mut target, namespaced, app.destination_namespace);
        tracking
            .set(&mut target, app.instance, app.destination_namespace)
            .map_err(|e| e.to_string())?;
        if hook::is_hook(&target) {
            hooks.push(target);
            continue;
        }
        let live = match kind {
            Ok(_) => cluster.get(&target).await,
            Err(LiveError::UnknownKind { .. }) => Err(LiveError::unknown_kind(&target)),
            Err(e) => Err(e),
        };
        match live {
            Ok(live) => prepared.push((target, live, None)),
            Err(e) => {
                errors.push(e);
                prepared.push((target, None, Some("Unknown")));
            }
        }
    }

    let mut prunable = Vec::new();
    for old in previous {
        let known = prepared.iter().any(|(t, _, _)| same_object(t, old));
        if known || old.hook {
            continue;
        }
        let probe = live::probe(
            &old.group,
            &old.version,
            &old.kind,
            &old.namespace,
            &old.name,
        );
        let Ok(Some(live)) = cluster.get(&probe).await else {
            continue;
        };
        let ours = tracking.app_of(&live).as_deref() == Some(app.instance)
            && tracking.is_self_referenced(&live, None);
        if ours && !ferry_api::meta::is_being_deleted(&live) {
            prunable.push(live);
        }
    }

    let shared = prepared
        .iter()
        .filter_map(|(target, live, _)| {
            let other = tracking.app_of(live.as_ref()?)?;
            (other != app.instance).then(|| {
                format!(
                    "{}/{} is part of applications {} and {}",
                    target
                        .get("kind")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    ferry_api::meta::name(target).unwrap_or_default(),
                    app.instance.replace('_', "/"),
                    other.replace('_', "/"),
                )
            })
        })
        .collect();

    let mut resources = Vec::new();
    let mut out_of_sync = false;
    for (target, live, failed) in &prepared {
        let status = match (failed, live) {
            (Some(status), _) => *status,
            (None, None) => "OutOfSync",
            (None, Some(live)) => {
                let differs = !diff::differences(
                    &diff::normalize(target, &rules, tracking),
                    &diff::normalize(live, &rules, tracking),
                )
                .is_empty();
                if differs { "OutOfSync" } else { "Synced" }
            }
        };
        out_of_sync |= status == "OutOfSync";
        resources.push(resource_status(target, status, false));
    }
    for live in &prunable {
        let ignored = ferry_api::meta::annotation(live, COMPARE_OPTIONS_ANNOTATION)
            .is_some_and(|o| o.split(',').any(|o| o.trim() == "IgnoreExtraneous"));
        out_of_sync |= !ignored;
        resources.push(resource_status(live, "OutOfSync", true));
    }

    let managed: Vec<Managed<'_>> = prepared
        .iter()
        .map(|(target, live, _)| managed(target, Some(target), live.as_ref()))
        .chain(prunable.iter().map(|live| managed(live, None, Some(live))))
        .collect();
    let verdict = health.in_place(|| {
        aggregate::aggregate(app.namespace, app.name, &managed, |obj| health.assess(obj))
    });
    for (resource, health) in resources.iter_mut().zip(verdict.resources) {
        resource.health = health.map(to_status);
    }
    sort_by_identity(&mut resources);

    let sync_status = if out_of_sync {
        "OutOfSync"
    } else if !errors.is_empty() {
        "Unknown"
    } else {
        "Synced"
    };
    Ok(Comparison {
        sync_status,
        resources,
        health: to_status(verdict.health),
        targets: prepared.into_iter().map(|(t, l, _)| (t, l)).collect(),
        prunable,
        hooks,
        errors,
        shared,
    })
}

/// A namespaced target without a namespace goes to the destination's; a cluster-scoped one
/// has none.
fn set_namespace(target: &mut Value, namespaced: bool, destination: &str) {
    let Some(metadata) = ferry_api::meta::metadata_mut(target) else {
        return;
    };
    let missing = metadata
        .get("namespace")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty);
    if !namespaced {
        metadata.remove("namespace");
    } else if missing && !destination.is_empty() {
        metadata.insert("namespace".into(), json!(destination));
    }
}

/// Whether `obj` is the object `resource` describes.
pub fn same_object(obj: &Value, resource: &ResourceStatus) -> bool {
    let gvk = ferry_api::meta::GroupVersionKind::of(obj).unwrap_or_default();
    gvk.group == resource.group
        && gvk.kind == resource.kind
        && ferry_api::meta::namespace(obj).unwrap_or_default() == resource.namespace
        && ferry_api::meta::name(obj).unwrap_or_default() == resource.name
}

fn managed<'a>(obj: &'a Value, target: Option<&'a Value>, live: Option<&'a Value>) -> Managed<'a> {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Managed {
        group: api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or_default(),
        kind,
        namespace: ferry_api::meta::namespace(obj).unwrap_or_default(),
        name: ferry_api::meta::name(obj).unwrap_or_default(),
        target,
        live,
    }
}

fn resource_status(obj: &Value, status: &str, requires_pruning: bool) -> ResourceStatus {
    let gvk = ferry_api::meta::GroupVersionKind::of(obj).unwrap_or_default();
    ResourceStatus {
        group: gvk.group,
        version: gvk.version,
        kind: gvk.kind,
        namespace: ferry_api::meta::namespace(obj)
            .unwrap_or_default()
            .to_string(),
        name: ferry_api::meta::name(obj).unwrap_or_default().to_string(),
        status: status.to_string(),
        requires_pruning,
        sync_wave: order::wave(obj),
        ..ResourceStatus::default()
    }
}

fn to_status(health: Health) -> HealthStatus {
    HealthStatus {
        status: health.status.as_str().to_string(),
        message: (!health.message.is_empty()).then_some(health.message),
        last_transition_time: None,
    }
}

/// `status.resources` in a stable order: by group, kind, namespace, name.
fn sort_by_identity(resources: &mut [ResourceStatus]) {
    resources.sort_by(|a, b| {
        (&a.group, &a.kind, &a.namespace, &a.name).cmp(&(&b.group, &b.kind, &b.namespace, &b.name))
    });
}
