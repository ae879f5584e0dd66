//! Whether `syncPolicy.automated` starts a sync now, as Argo CD's `autoSync` decides: only
//! when OutOfSync; not when only pruning is left and `prune` is off; once per revision and
//! source (a failed attempt is not repeated — `retry` does that — and says so with a
//! `SyncError`); with `selfHeal`, again at the same revision for the resources that drifted,
//! after a backoff that grows with each attempt (2 s, ×3, capped at 5 min); never a sync that
//! would prune every resource unless `allowEmpty`.

use std::time::Duration;

use ferry_api::argocd::{
    Application, ApplicationStatus, Operation, OperationInitiator, RetryStrategy, SyncOperation,
    SyncOperationResource,
};

use crate::compare::Comparison;

/// Argo CD's default `--self-heal-backoff-timeout-seconds`.
const SELF_HEAL_FIRST: Duration = Duration::from_secs(2);
/// Argo CD's default `--self-heal-backoff-factor`.
const SELF_HEAL_FACTOR: u32 = 3;
/// Argo CD's default `--self-heal-backoff-cap-seconds`.
const SELF_HEAL_CAP: Duration = Duration::from_secs(300);
/// The retry limit of an automated sync when `syncPolicy.retry` is not set.
const DEFAULT_RETRY_LIMIT: i64 = 5;

/// What automated sync decides.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Nothing to do.
    Nothing,
    /// Start this operation.
    Start(Box<Operation>),
    /// Self-heal is due after this long.
    Later(Duration),
    /// Refused, with the `SyncError` condition's message.
    Refused(String),
}

/// Decides for `app`, whose comparison is `comparison` at `revisions`.
pub fn decide(
    app: &Application,
    status: &ApplicationStatus,
    comparison: &Comparison,
    revisions: &[String],
) -> Decision {
    let Some(policy) = app.spec.sync_policy.as_ref() else {
        return Decision::Nothing;
    };
    let Some(automated) = policy.automated.as_ref() else {
        return Decision::Nothing;
    };
    if automated.enabled == Some(false) || comparison.sync_status != "OutOfSync" {
        return Decision::Nothing;
    }
    let prune = automated.prune == Some(true);
    let resources = &comparison.resources;
    if !prune
        && resources
            .iter()
            .all(|r| r.status == "Synced" || r.requires_pruning)
    {
        return Decision::Nothing;
    }

    let revision = revisions.first().cloned().unwrap_or_default();
    let mut sync = SyncOperation {
        revision: Some(revision.clone()),
        revisions: if revisions.len() > 1 {
            revisions.to_vec()
        } else {
            Vec::new()
        },
        prune,
        sync_options: policy.sync_options.clone(),
        ..SyncOperation::default()
    };
    let last = status.operation_state.as_ref();
    if already_attempted(app, status, revisions) {
        let Some(last) = last else {
            return Decision::Nothing;
        };
        if last.phase != "Succeeded" {
            return Decision::Refused(format!(
                "Failed last sync attempt to [{}]: {}",
                revisions.join(", "),
                last.message.clone().unwrap_or_default()
            ));
        }
        if automated.self_heal != Some(true) {
            return Decision::Nothing;
        }
        let attempts = last
            .operation
            .sync
            .as_ref()
            .and_then(|s| s.auto_heal_attempts_count)
            .unwrap_or(0);
        let since = last
            .finished_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .and_then(|t| {
                (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                    .to_std()
                    .ok()
            })
            .unwrap_or_default();
        if let Some(wait) = self_heal_delay(attempts)
            .checked_sub(since)
            .filter(|w| !w.is_zero())
        {
            return Decision::Later(wait);
        }
        sync.auto_heal_attempts_count = Some(attempts + 1);
        sync.resources = resources
            .iter()
            .filter(|r| r.status != "Synced")
            .map(|r| SyncOperationResource {
                group: Some(r.group.clone()),
                kind: r.kind.clone(),
                name: r.name.clone(),
                namespace: None,
            })
            .collect();
    }
    if prune && automated.allow_empty != Some(true) && resources.iter().all(|r| r.requires_pruning)
    {
        return Decision::Refused(format!(
            "Skipping sync attempt to [{}]: auto-sync will wipe out all resources",
            revisions.join(", ")
        ));
    }
    Decision::Start(Box::new(Operation {
        sync: Some(sync),
        initiated_by: OperationInitiator {
            automated: true,
            ..OperationInitiator::default()
        },
        retry: policy.retry.clone().unwrap_or(RetryStrategy {
            limit: Some(DEFAULT_RETRY_LIMIT),
            ..RetryStrategy::default()
        }),
        ..Operation::default()
    }))
}

/// Whether the last operation already synced these revisions of this source.
fn already_attempted(app: &Application, status: &ApplicationStatus, revisions: &[String]) -> bool {
    let Some(last) = &status.operation_state else {
        return false;
    };
    let Some(result) = &last.sync_result else {
        return false;
    };
    if app.spec.sources.is_empty() {
        revisions.len() == 1 && result.revision == revisions[0] && result.source == app.spec.source
    } else {
        result.revisions == revisions && result.sources == app.spec.sources
    }
}

/// The wait before self-heal attempt `attempts + 1`: none before the first, then 2 s,
/// ×3 each time, at most 5 min (Kubernetes' `wait.Backoff` stepped `attempts` times).
fn self_heal_delay(attempts: i64) -> Duration {
    let Some(exponent) = u32::try_from(attempts).ok().and_then(|n| n.checked_sub(1)) else {
        return Duration::ZERO;
    };
    SELF_HEAL_FACTOR
        .checked_pow(exponent)
        .and_then(|f| SELF_HEAL_FIRST.checked_mul(f))
        .map_or(SELF_HEAL_CAP, |d| d.min(SELF_HEAL_CAP))
}

#[cfg(test)]
mod tests {
    use ferry_api::argocd::{
        HealthStatus, OperationState, ResourceStatus, SyncOperationResult, SyncPolicy,
        SyncPolicyAutomated,
    };
    use serde_json::json;

    use super::*;

    const REV: &str = "0123456789abcdef0123456789abcdef01234567";

    fn app(automated: SyncPolicyAutomated) -> Application {
        let mut app: Application = serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "web", "namespace": "argocd"},
            "spec": {"project": "default",
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
                "source": {"repoURL": "https://example.com/r.git", "path": "."}}
        }))
        .unwrap();
        app.spec.sync_policy = Some(SyncPolicy {
            automated: Some(automated),
            ..SyncPolicy::default()
        });
        app
    }

    fn resource(name: &str, status: &str, requires_pruning: bool) -> ResourceStatus {
        ResourceStatus {
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: "web".into(),
            name: name.into(),
            status: status.into(),
            requires_pruning,
            ..ResourceStatus::default()
        }
    }

    fn comparison(resources: Vec<ResourceStatus>) -> Comparison {
        Comparison {
            sync_status: if resources.iter().all(|r| r.status == "Synced") {
                "Synced"
            } else {
                "OutOfSync"
            },
            resources,
            health: HealthStatus::default(),
            targets: Vec::new(),
            prunable: Vec::new(),
            hooks: Vec::new(),
            errors: Vec::new(),
            shared: Vec::new(),
        }
    }

    /// A status whose last operation synced `REV` of `app`'s source, `secs_ago` seconds ago.
    fn synced(
        app: &Application,
        phase: &str,
        attempts: Option<i64>,
        secs_ago: i64,
    ) -> ApplicationStatus {
        let finished = chrono::Utc::now() - chrono::Duration::seconds(secs_ago);
        ApplicationStatus {
            operation_state: Some(OperationState {
                operation: Operation {
                    sync: Some(SyncOperation {
                        auto_heal_attempts_count: attempts,
                        ..SyncOperation::default()
                    }),
                    ..Operation::default()
                },
                phase: phase.into(),
                message: Some("one or more objects failed to apply".into()),
                sync_result: Some(SyncOperationResult {
                    revision: REV.into(),
                    source: app.spec.source.clone(),
                    ..SyncOperationResult::default()
                }),
                finished_at: Some(finished.to_rfc3339()),
                ..OperationState::default()
            }),
            ..ApplicationStatus::default()
        }
    }

    fn start(decision: Decision) -> Operation {
        match decision {
            Decision::Start(op) => *op,
            other => panic!("expected a sync, got {other:?}"),
        }
    }

    #[test]
    fn a_new_revision_is_synced_once_with_the_default_retry() {
        let app = app(SyncPolicyAutomated {
            prune: Some(true),
            ..SyncPolicyAutomated::default()
        });
        let drifted = comparison(vec![resource("a", "OutOfSync", false)]);
        let op = start(decide(
            &app,
            &ApplicationStatus::default(),
            &drifted,
            &[REV.into()],
        ));
        let sync = op.sync.unwrap();
        assert!(op.initiated_by.automated && sync.prune && sync.resources.is_empty());
        assert_eq!(op.retry.limit, Some(5));
        // Synced already: nothing more without selfHeal; a failure says why it waits.
        let done = synced(&app, "Succeeded", None, 60);
        assert_eq!(
            decide(&app, &done, &drifted, &[REV.into()]),
            Decision::Nothing
        );
        let failed = synced(&app, "Failed", None, 60);
        assert_eq!(
            decide(&app, &failed, &drifted, &[REV.into()]),
            Decision::Refused(format!(
                "Failed last sync attempt to [{REV}]: one or more objects failed to apply"
            ))
        );
        assert!(matches!(
            decide(&app, &failed, &drifted, &["another".into()]),
            Decision::Start(_)
        ));
    }

    #[test]
    fn only_pruning_left_and_wiping_everything_out_are_not_synced() {
        let keep = app(SyncPolicyAutomated::default());
        let extra = comparison(vec![
            resource("a", "Synced", false),
            resource("old", "OutOfSync", true),
        ]);
        assert_eq!(
            decide(&keep, &ApplicationStatus::default(), &extra, &[REV.into()]),
            Decision::Nothing
        );
        let prune = app(SyncPolicyAutomated {
            prune: Some(true),
            ..SyncPolicyAutomated::default()
        });
        let all_gone = comparison(vec![resource("old", "OutOfSync", true)]);
        assert_eq!(
            decide(
                &prune,
                &ApplicationStatus::default(),
                &all_gone,
                &[REV.into()]
            ),
            Decision::Refused(format!(
                "Skipping sync attempt to [{REV}]: auto-sync will wipe out all resources"
            ))
        );
        let empty_ok = app(SyncPolicyAutomated {
            prune: Some(true),
            allow_empty: Some(true),
            ..SyncPolicyAutomated::default()
        });
        assert!(matches!(
            decide(
                &empty_ok,
                &ApplicationStatus::default(),
                &all_gone,
                &[REV.into()]
            ),
            Decision::Start(_)
        ));
    }

    #[test]
    fn self_heal_syncs_the_drifted_resources_after_a_growing_backoff() {
        let app = app(SyncPolicyAutomated {
            self_heal: Some(true),
            ..SyncPolicyAutomated::default()
        });
        let drifted = comparison(vec![
            resource("a", "OutOfSync", false),
            resource("b", "Synced", false),
        ]);
        // The first self-heal goes at once and names only the drifted resource.
        let op = start(decide(
            &app,
            &synced(&app, "Succeeded", None, 0),
            &drifted,
            &[REV.into()],
        ));
        let sync = op.sync.unwrap();
        assert_eq!(sync.auto_heal_attempts_count, Some(1));
        let names: Vec<&str> = sync.resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a"]);
        // After one attempt the next waits 2 s from the end of the last; after three, 18 s.
        let once = synced(&app, "Succeeded", Some(1), 0);
        assert!(
            matches!(decide(&app, &once, &drifted, &[REV.into()]), Decision::Later(w) if w <= Duration::from_secs(2) && w > Duration::ZERO)
        );
        let once_long_ago = synced(&app, "Succeeded", Some(1), 3);
        assert!(matches!(
            decide(&app, &once_long_ago, &drifted, &[REV.into()]),
            Decision::Start(_)
        ));
        let thrice = synced(&app, "Succeeded", Some(3), 10);
        assert!(
            matches!(decide(&app, &thrice, &drifted, &[REV.into()]), Decision::Later(w) if w > Duration::from_secs(7) && w <= Duration::from_secs(8))
        );
    }

    #[test]
    fn the_self_heal_backoff_steps_like_kubernetes_wait_backoff() {
        let delays: Vec<u64> = (0..8).map(|n| self_heal_delay(n).as_secs()).collect();
        assert_eq!(delays, [0, 2, 6, 18, 54, 162, 300, 300]);
        assert_eq!(self_heal_delay(1000), SELF_HEAL_CAP);
    }
}
