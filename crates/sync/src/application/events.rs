//! Kubernetes Events on Applications, as Argo CD records them (`kubectl describe
//! application` shows them): `OperationStarted` when a sync starts, `OperationCompleted`
//! when it ends (a Warning when it failed), `ResourceUpdated` when the sync or health status
//! changes. Each is a core/v1 Event in the app's namespace from
//! `argocd-application-controller`, named `<app>.<unix nanos in hex>`.

use ferry_api::argocd::{Application, ApplicationStatus, OperationState};
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, PostParams};

/// The component Argo CD's controller records events as.
const COMPONENT: &str = "argocd-application-controller";

/// An event to record once the status is written.
#[derive(Debug, PartialEq)]
pub struct AppEvent {
    /// `Normal` or `Warning`.
    pub event_type: &'static str,
    /// `OperationStarted`, `OperationCompleted`, `ResourceUpdated`.
    pub reason: &'static str,
    /// What happened, in Argo CD's words.
    pub message: String,
}

/// `OperationStarted` for an operation that starts now.
pub fn started(state: &OperationState) -> AppEvent {
    let sync = state.operation.sync.clone().unwrap_or_default();
    let revisions = if sync.revisions.is_empty() {
        sync.revision.clone().unwrap_or_default()
    } else {
        sync.revisions.join(", ")
    };
    let message = if state.operation.initiated_by.automated {
        format!("Initiated automated sync to '{revisions}'")
    } else {
        let partial = if sync.resources.is_empty() {
            ""
        } else {
            "partial "
        };
        let shown = if revisions.is_empty() {
            "HEAD"
        } else {
            &revisions
        };
        format!("initiated {partial}sync to {shown}")
    };
    AppEvent {
        event_type: "Normal",
        reason: "OperationStarted",
        message,
    }
}

/// `OperationCompleted` for an operation that ended.
pub fn completed(state: &OperationState) -> AppEvent {
    let partial = state
        .operation
        .sync
        .as_ref()
        .is_some_and(|s| !s.resources.is_empty());
    let mut words = vec![
        if partial {
            "Partial sync operation"
        } else {
            "Sync operation"
        }
        .to_string(),
    ];
    if let Some(result) = &state.sync_result {
        words.push(format!("to {}", result.revision));
    }
    let succeeded = state.phase == "Succeeded";
    if succeeded {
        words.push("succeeded".into());
    } else {
        words.push(format!(
            "failed: {}",
            state.message.clone().unwrap_or_default()
        ));
    }
    AppEvent {
        event_type: if succeeded { "Normal" } else { "Warning" },
        reason: "OperationCompleted",
        message: words.join(" "),
    }
}

/// `ResourceUpdated` for each of the sync and health status that changed.
pub fn updated(before: &ApplicationStatus, after: &ApplicationStatus) -> Vec<AppEvent> {
    let mut events = Vec::new();
    if before.sync.status != after.sync.status {
        events.push(AppEvent {
            event_type: "Normal",
            reason: "ResourceUpdated",
            message: format!(
                "Updated sync status: {} -> {}",
                before.sync.status, after.sync.status
            ),
        });
    }
    if before.health.status != after.health.status {
        let mut message = format!(
            "Updated health status: {} -> {}",
            before.health.status, after.health.status
        );
        if let Some(detail) = after.health.message.as_deref().filter(|m| !m.is_empty()) {
            message = format!("{message} ({detail})");
        }
        events.push(AppEvent {
            event_type: "Normal",
            reason: "ResourceUpdated",
            message,
        });
    }
    events
}

/// Records `events` on `app`; a failure is logged, never fatal.
pub async fn record(client: &kube::Client, app: &Application, events: &[AppEvent]) {
    let namespace = app.metadata.namespace.clone().unwrap_or_default();
    let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
    for event in events {
        let now = k8s_openapi::jiff::Timestamp::now();
        let nanos = now.as_nanosecond();
        let body = Event {
            metadata: ObjectMeta {
                name: Some(format!("{}.{nanos:x}", app.name())),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("argoproj.io/v1alpha1".into()),
                kind: Some("Application".into()),
                name: Some(app.name().to_string()),
                namespace: Some(namespace.clone()),
                uid: app.metadata.uid.clone(),
                resource_version: app.metadata.resource_version.clone(),
                ..ObjectReference::default()
            },
            source: Some(EventSource {
                component: Some(COMPONENT.into()),
                ..EventSource::default()
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            type_: Some(event.event_type.into()),
            reason: Some(event.reason.into()),
            message: Some(event.message.clone()),
            ..Event::default()
        };
        if let Err(e) = api.create(&PostParams::default(), &body).await {
            tracing::warn!(app = %app.name(), reason = event.reason, error = %e, "recording an event");
        }
    }
}

#[cfg(test)]
mod tests {
    use ferry_api::argocd::{
        HealthStatus, Operation, OperationInitiator, SyncOperation, SyncOperationResource,
        SyncOperationResult, SyncStatus,
    };

    use super::*;

    fn state(automated: bool, phase: &str, partial: bool) -> OperationState {
        OperationState {
            operation: Operation {
                sync: Some(SyncOperation {
                    revision: Some("abc123".into()),
                    resources: if partial {
                        vec![SyncOperationResource {
                            kind: "ConfigMap".into(),
                            name: "x".into(),
                            ..SyncOperationResource::default()
                        }]
                    } else {
                        Vec::new()
                    },
                    ..SyncOperation::default()
                }),
                initiated_by: OperationInitiator {
                    automated,
                    ..OperationInitiator::default()
                },
                ..Operation::default()
            },
            phase: phase.into(),
            message: Some("one or more objects failed to apply".into()),
            sync_result: Some(SyncOperationResult {
                revision: "abc123".into(),
                ..SyncOperationResult::default()
            }),
            ..OperationState::default()
        }
    }

    #[test]
    fn operation_events_are_worded_as_argo_cd_words_them() {
        // (state, started message, completed type, completed message)
        let table = [
            (
                state(true, "Succeeded", false),
                "Initiated automated sync to 'abc123'",
                "Normal",
                "Sync operation to abc123 succeeded",
            ),
            (
                state(false, "Failed", false),
                "initiated sync to abc123",
                "Warning",
                "Sync operation to abc123 failed: one or more objects failed to apply",
            ),
            (
                state(false, "Succeeded", true),
                "initiated partial sync to abc123",
                "Normal",
                "Partial sync operation to abc123 succeeded",
            ),
        ];
        for (state, start, kind, end) in table {
            assert_eq!(started(&state).message, start);
            let done = completed(&state);
            assert_eq!((done.event_type, done.message.as_str()), (kind, end));
        }
    }

    #[test]
    fn status_changes_become_resource_updated() {
        let status = |sync: &str, health: &str, message: Option<&str>| ApplicationStatus {
            sync: SyncStatus {
                status: sync.into(),
                ..SyncStatus::default()
            },
            health: HealthStatus {
                status: health.into(),
                message: message.map(str::to_string),
                ..HealthStatus::default()
            },
            ..ApplicationStatus::default()
        };
        let before = status("OutOfSync", "Progressing", None);
        let after = status(
            "Synced",
            "Degraded",
            Some("Deployment web exceeded its progress deadline"),
        );
        let messages: Vec<String> = updated(&before, &after)
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert_eq!(
            messages,
            [
                "Updated sync status: OutOfSync -> Synced",
                "Updated health status: Progressing -> Degraded (Deployment web exceeded its progress deadline)"
            ]
        );
        assert!(updated(&after, &after).is_empty());
    }
}
