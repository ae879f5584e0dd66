//! An Application's health from its resources' (Argo CD's `setApplicationHealth`): the worst
//! verdict wins, with the resources that caused it named in the message.

use serde_json::Value;

use super::{Health, HealthCode};
use crate::hook;

/// Argo CD's annotation that keeps a resource out of its application's health.
pub const IGNORE_HEALTH_CHECK: &str = "argocd.argoproj.io/ignore-healthcheck";
/// At most this many causes are named in the message.
const CAUSES_SHOWN: usize = 3;

/// One resource of an Application as the comparison pairs it: what Git wants and what the
/// cluster has.
#[derive(Clone, Copy, Debug)]
pub struct Managed<'a> {
    /// The API group, `""` for the core group.
    pub group: &'a str,
    /// The kind.
    pub kind: &'a str,
    /// The namespace, `""` when cluster-scoped.
    pub namespace: &'a str,
    /// The name.
    pub name: &'a str,
    /// The rendered object, when Git has it.
    pub target: Option<&'a Value>,
    /// The live object, when the cluster has it.
    pub live: Option<&'a Value>,
}

/// The verdict for an Application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppHealth {
    /// The aggregate.
    pub health: Health,
    /// Each resource's own verdict, in the order given (`None`: not assessed, such as a
    /// hook or a kind without a check), for `status.resources[].health`.
    pub resources: Vec<Option<Health>>,
}

/// The health of the Application `app_namespace/app_name` whose resources are `resources`,
/// each live object judged by `assess` ([`super::assess`], or that with overrides). Hooks,
/// skipped objects and objects annotated `ignore-healthcheck` do not count; a resource
/// missing from the cluster does not lower the aggregate (the sync status says so), but an
/// Application none of whose resources exist is Missing; a child Application's Missing or
/// Unknown does not count; an Application that tracks itself ignores itself.
pub fn aggregate(
    app_namespace: &str,
    app_name: &str,
    resources: &[Managed<'_>],
    assess: impl Fn(&Value) -> Option<Health>,
) -> AppHealth {
    let mut status = HealthCode::Healthy;
    let mut causes: Vec<&Managed<'_>> = Vec::new();
    let mut verdicts = vec![None; resources.len()];
    let (mut has_resources, mut has_live) = (false, false);
    for (res, verdict) in resources.iter().zip(&mut verdicts) {
        if res.target.is_some_and(hook::skip)
            || res
                .live
                .is_some_and(|l| hook::is_hook(l) || hook::is_ignored(l))
        {
            continue;
        }
        has_resources = true;
        has_live |= res.live.is_some();
        let health = match res.live {
            Some(live)
                if ferry_api::meta::annotation(live, IGNORE_HEALTH_CHECK) == Some("true") =>
            {
                continue;
            }
            Some(_) if is_the_app_itself(res, app_namespace, app_name) => continue,
            Some(live) => assess(live),
            None => Some(Health::of(HealthCode::Missing)),
        };
        let Some(health) = health else { continue };
        *verdict = Some(health.clone());
        let child_app = res.group == "argoproj.io" && res.kind == "Application";
        if res.live.is_none()
            || (child_app && matches!(health.status, HealthCode::Missing | HealthCode::Unknown))
        {
            continue;
        }
        if health.status > status {
            status = health.status;
            causes = vec![res];
        } else if health.status == status && status != HealthCode::Healthy {
            causes.push(res);
        }
    }
    if has_resources && !has_live && HealthCode::Missing > status {
        status = HealthCode::Missing;
        causes.clear();
    }
    AppHealth {
        health: Health::new(status, caused_by(&causes)),
        resources: verdicts,
    }
}

fn is_the_app_itself(res: &Managed<'_>, app_namespace: &str, app_name: &str) -> bool {
    res.group == "argoproj.io"
        && res.kind == "Application"
        && res.namespace == app_namespace
        && res.name == app_name
}

/// "Caused by apps/Deployment:ns/web, ..." naming up to three causes, then how many more.
fn caused_by(causes: &[&Managed<'_>]) -> String {
    if causes.is_empty() {
        return String::new();
    }
    let named: Vec<String> = causes
        .iter()
        .take(CAUSES_SHOWN)
        .map(|c| {
            let group_kind = if c.group.is_empty() {
                c.kind.to_string()
            } else {
                format!("{}/{}", c.group, c.kind)
            };
            let name = if c.namespace.is_empty() {
                c.name.to_string()
            } else {
                format!("{}/{}", c.namespace, c.name)
            };
            format!("{group_kind}:{name}")
        })
        .collect();
    let mut summary = named.join(", ");
    if causes.len() > CAUSES_SHOWN {
        summary.push_str(&format!(" and {} more", causes.len() - CAUSES_SHOWN));
    }
    format!("Caused by {summary}")
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::assess;
    use super::*;

    fn deployment(name: &str, available: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "web", "generation": 1},
            "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                "availableReplicas": available}})
    }

    fn managed<'a>(obj: &'a Value, live: bool) -> Managed<'a> {
        Managed {
            group: "apps",
            kind: obj["kind"].as_str().unwrap(),
            namespace: "web",
            name: obj["metadata"]["name"].as_str().unwrap(),
            target: Some(obj),
            live: live.then_some(obj),
        }
    }

    #[test]
    fn the_worst_wins_and_names_its_causes() {
        let objects: Vec<Value> = (0..5)
            .map(|i| deployment(&format!("d{i}"), i64::from(i == 0)))
            .collect();
        let resources: Vec<Managed<'_>> = objects.iter().map(|o| managed(o, true)).collect();
        let verdict = aggregate("argocd", "app", &resources, assess);
        assert_eq!(verdict.health.status, HealthCode::Progressing);
        assert_eq!(
            verdict.health.message,
            "Caused by apps/Deployment:web/d1, apps/Deployment:web/d2, apps/Deployment:web/d3 and 1 more"
        );
        assert_eq!(verdict.resources[0], Some(Health::of(HealthCode::Healthy)));
    }

    #[test]
    fn missing_resources_hooks_and_ignored_objects() {
        let healthy = deployment("up", 1);
        let absent = deployment("gone", 0);
        let mut ignored = deployment("ignored", 0);
        ignored["metadata"]["annotations"] = json!({IGNORE_HEALTH_CHECK: "true"});
        let mut hook = deployment("hook", 0);
        hook["metadata"]["annotations"] = json!({"argocd.argoproj.io/hook": "PreSync"});
        let resources = [
            managed(&healthy, true),
            managed(&absent, false),
            managed(&ignored, true),
            managed(&hook, true),
        ];
        let verdict = aggregate("argocd", "app", &resources, assess);
        assert_eq!(verdict.health, Health::of(HealthCode::Healthy));
        assert_eq!(
            verdict.resources,
            [
                Some(Health::of(HealthCode::Healthy)),
                Some(Health::of(HealthCode::Missing)),
                None,
                None
            ]
        );

        // Nothing live at all: Missing.
        let verdict = aggregate("argocd", "app", &[managed(&absent, false)], assess);
        assert_eq!(verdict.health, Health::of(HealthCode::Missing));
        // No resources: Healthy.
        let verdict = aggregate("argocd", "app", &[], assess);
        assert_eq!(verdict.health, Health::of(HealthCode::Healthy));
    }

    #[test]
    fn child_applications_and_the_app_itself() {
        let app = |name: &str, health: &str| {
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                "metadata": {"name": name, "namespace": "argocd"},
                "status": {"health": {"status": health}}})
        };
        let (unknown, degraded, itself) = (
            app("child-a", "Unknown"),
            app("child-b", "Degraded"),
            app("parent", "Degraded"),
        );
        fn child(obj: &Value) -> Managed<'_> {
            Managed {
                group: "argoproj.io",
                kind: "Application",
                namespace: "argocd",
                name: obj["metadata"]["name"].as_str().unwrap(),
                target: Some(obj),
                live: Some(obj),
            }
        }
        let verdict = aggregate(
            "argocd",
            "parent",
            &[child(&unknown), child(&itself)],
            assess,
        );
        assert_eq!(verdict.health, Health::of(HealthCode::Healthy));
        let verdict = aggregate(
            "argocd",
            "parent",
            &[child(&unknown), child(&degraded)],
            assess,
        );
        assert_eq!(
            verdict.health,
            Health::new(
                HealthCode::Degraded,
                "Caused by argoproj.io/Application:argocd/child-b"
            )
        );
    }
}
