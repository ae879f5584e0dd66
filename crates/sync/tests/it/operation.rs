//! Sync operations stepped to the end against the embedded API server (with its simulated
//! workloads) as the controller steps them: compare, advance, repeat while Running. Waves,
//! hooks and their delete policies, SyncFail hooks, prune, an unknown kind.

use std::time::Duration;

use ferry_api::argocd::{ResourceResult, ResourceStatus};
use ferry_sync::compare::{AppRef, compare};
use ferry_sync::health::Checks;
use ferry_sync::live::Cluster;
use ferry_sync::operation::{self, Phase, Progress, Settings, Start};
use ferry_sync::tracking::{TRACKING_ID_ANNOTATION, Tracking};
use ferry_testkit::EmbeddedApi;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::await_condition;
use serde_json::{Value, json};

const APP: AppRef<'static> = AppRef {
    name: "shop",
    namespace: "argocd",
    instance: "shop",
    destination_namespace: "shop",
};

fn settings(prune: bool) -> Settings {
    Settings {
        prune,
        dry_run: false,
        skip_hooks: false,
        resources: Vec::new(),
        prune_last: false,
        apply_out_of_sync_only: false,
        validate: true,
        skip_dry_run_on_missing_resource: false,
        fail_on_shared_resource: false,
        propagation: kube::api::PropagationPolicy::Foreground,
        create_namespace: None,
        policy: None,
        health: Checks::default(),
    }
}

fn config_map(name: &str, annotations: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "annotations": annotations}, "data": {"value": "1"}})
}

fn job(name: &str, annotations: Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox"}]}}}})
}

/// Applies a ConfigMap `name` carrying the tracking id `id`, as an app's sync left it.
async fn tracked(configmaps: &Api<ConfigMap>, name: &str, id: &str) {
    let mut obj = config_map(name, json!({}));
    obj["metadata"]["annotations"] = json!({TRACKING_ID_ANNOTATION: id});
    configmaps
        .patch(name, &PatchParams::apply("test"), &Patch::Apply(&obj))
        .await
        .unwrap();
}

/// One operation run to its end; every step's message, and the last step.
struct Run {
    messages: Vec<String>,
    last: Progress,
}

impl Run {
    fn result(&self, name: &str, phase: &str) -> &ResourceResult {
        self.last
            .resources
            .iter()
            .find(|r| r.name.starts_with(name) && r.sync_phase.as_deref() == Some(phase))
            .unwrap_or_else(|| panic!("{name} ({phase}) not in {:?}", self.last.resources))
    }

    fn order(&self) -> Vec<&str> {
        self.last
            .resources
            .iter()
            .map(|r| r.name.as_str())
            .collect()
    }
}

/// Steps an operation until it is no longer Running (at most 200 steps, 50 ms apart).
/// `between` runs after every step.
async fn run_operation(
    cluster: &Cluster,
    targets: &[Value],
    previous: &[ResourceStatus],
    settings: &Settings,
    mut between: impl AsyncFnMut(&Progress),
) -> Run {
    let start = Start {
        revision: "0123456789abcdef",
        started_at: 1_700_000_000,
    };
    let tracking = Tracking::default();
    let mut known = previous.to_vec();
    let mut results = Vec::new();
    let mut messages = Vec::new();
    for _ in 0..200 {
        let comparison = compare(
            cluster,
            &APP,
            targets.to_vec(),
            &known,
            &[],
            &tracking,
            &Checks::default(),
        )
        .await
        .unwrap();
        let progress = operation::advance(cluster, &comparison, settings, &start, &results).await;
        messages.push(progress.message.clone());
        results = progress.resources.clone();
        known = comparison.resources;
        between(&progress).await;
        if progress.phase != Phase::Running {
            return Run {
                messages,
                last: progress,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the operation did not end: {messages:?}");
}

async fn gone<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    let deleted = await_condition(api.clone(), name, |o: Option<&K>| o.is_none());
    tokio::time::timeout(Duration::from_secs(10), deleted)
        .await
        .unwrap_or_else(|_| panic!("{name} still there"))
        .unwrap();
}

#[tokio::test]
async fn waves_run_in_order_and_an_unknown_kind_fails_only_itself() {
    let api = EmbeddedApi::start(&["shop", "argocd"]).await;
    let client = api.client();
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "shop");
    tracked(&configmaps, "dropped", "shop:/ConfigMap:shop/dropped").await;
    let previous = [ResourceStatus {
        version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: "shop".into(),
        name: "dropped".into(),
        ..ResourceStatus::default()
    }];
    let targets = [
        config_map("late", json!({})),
        config_map("early", json!({"argocd.argoproj.io/sync-wave": "-1"})),
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}),
    ];
    let cluster = Cluster::new(client.clone());

    let run = run_operation(
        &cluster,
        &targets,
        &previous,
        &settings(false),
        async |_| {},
    )
    .await;
    assert_eq!(run.last.phase, Phase::Failed, "{:?}", run.messages);
    assert_eq!(
        run.messages[0],
        "waiting for healthy state of /ConfigMap/dropped and 1 more resources"
    );
    assert!(
        run.last
            .message
            .starts_with("one or more objects failed to apply, reason: ")
            && run.last.message.contains("example.com/Widget"),
        "{}",
        run.last.message
    );
    let order = run.order();
    let at = |name: &str| order.iter().position(|n| *n == name).unwrap();
    assert!(at("early") < at("late"), "{order:?}");
    assert_eq!(run.result("late", "Sync").status.as_deref(), Some("Synced"));
    assert_eq!(
        run.result("late", "Sync").message.as_deref(),
        Some("configmap/late serverside-applied")
    );
    let skipped = run.result("dropped", "Sync");
    assert_eq!(
        (skipped.status.as_deref(), skipped.message.as_deref()),
        (Some("PruneSkipped"), Some("ignored (requires pruning)"))
    );
    assert_eq!(
        run.result("w", "Sync").status.as_deref(),
        Some("SyncFailed")
    );
    assert!(configmaps.get_opt("dropped").await.unwrap().is_some());

    // With prune, the object Git dropped goes.
    let run = run_operation(&cluster, &targets, &previous, &settings(true), async |_| {}).await;
    assert_eq!(
        run.result("dropped", "Sync").status.as_deref(),
        Some("Pruned")
    );
    gone(&configmaps, "dropped").await;
}

#[tokio::test]
async fn hooks_run_around_the_sync_and_follow_their_delete_policies() {
    let api = EmbeddedApi::start(&["shop", "argocd"]).await;
    let client = api.client();
    let jobs: Api<Job> = Api::namespaced(client.clone(), "shop");
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "shop");
    let mut smoke = job(
        "",
        json!({"argocd.argoproj.io/hook": "PostSync",
            "argocd.argoproj.io/hook-delete-policy": "HookSucceeded"}),
    );
    smoke["metadata"] = json!({"generateName": "smoke-",
        "annotations": smoke["metadata"]["annotations"].clone()});
    let targets = [
        job("migrate", json!({"argocd.argoproj.io/hook": "PreSync"})),
        config_map("settings", json!({})),
        smoke,
    ];
    let cluster = Cluster::new(client.clone());

    // The Sync phase waits for the PreSync hook to complete.
    let configmaps_seen = configmaps.clone();
    let run = run_operation(
        &cluster,
        &targets,
        &[],
        &settings(false),
        async |progress| {
            if progress
                .message
                .starts_with("waiting for completion of hook batch/Job/migrate")
            {
                assert!(configmaps_seen.get_opt("settings").await.unwrap().is_none());
            }
        },
    )
    .await;
    assert_eq!(run.last.phase, Phase::Succeeded, "{:?}", run.messages);
    assert!(
        run.messages
            .iter()
            .any(|m| m == "waiting for completion of hook batch/Job/migrate and 2 more hooks"),
        "{:?}",
        run.messages
    );
    assert_eq!(
        run.order(),
        ["migrate", "settings", "smoke-0123456-postsync-1700000000"]
    );
    let migrate = run.result("migrate", "PreSync");
    assert_eq!(
        (migrate.hook_type.as_deref(), migrate.hook_phase.as_deref()),
        (Some("PreSync"), Some("Succeeded"))
    );
    assert_eq!(run.result("settings", "Sync").hook_type, None);

    // BeforeHookCreation (the default) keeps the hook until the next sync; its finalizer is
    // gone once its outcome was recorded. HookSucceeded removed the PostSync hook.
    let live = jobs.get("migrate").await.unwrap();
    assert!(live.metadata.finalizers.unwrap_or_default().is_empty());
    gone(&jobs, "smoke-0123456-postsync-1700000000").await;

    // The next sync deletes the old hook first and creates it again.
    let first_uid = live.metadata.uid.unwrap();
    let run = run_operation(&cluster, &targets, &[], &settings(false), async |_| {}).await;
    assert_eq!(run.last.phase, Phase::Succeeded, "{:?}", run.messages);
    assert!(
        run.messages[0].starts_with("waiting for deletion of"),
        "{:?}",
        run.messages
    );
    let again = jobs.get("migrate").await.unwrap();
    assert_ne!(again.metadata.uid.unwrap(), first_uid);
}

#[tokio::test]
async fn a_failed_hook_fails_the_sync_and_runs_the_sync_fail_hooks() {
    let api = EmbeddedApi::start(&["shop", "argocd"]).await;
    let client = api.client();
    let jobs: Api<Job> = Api::namespaced(client.clone(), "shop");
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "shop");
    let mut migrate = job(
        "migrate",
        json!({"argocd.argoproj.io/hook": "PreSync",
            "argocd.argoproj.io/hook-delete-policy": "HookFailed",
            "ferry.dev/simulate": "degraded"}),
    );
    migrate["spec"]["backoffLimit"] = json!(0);
    let targets = [
        migrate,
        config_map("settings", json!({})),
        config_map("cleanup", json!({"argocd.argoproj.io/hook": "SyncFail"})),
    ];
    let cluster = Cluster::new(client.clone());
    let run = run_operation(&cluster, &targets, &[], &settings(false), async |_| {}).await;
    assert_eq!(run.last.phase, Phase::Failed, "{:?}", run.messages);
    assert_eq!(
        run.last.message,
        "one or more synchronization tasks completed unsuccessfully"
    );
    assert_eq!(
        run.result("migrate", "PreSync").hook_phase.as_deref(),
        Some("Failed")
    );
    assert_eq!(
        run.result("cleanup", "SyncFail").hook_phase.as_deref(),
        Some("Succeeded")
    );
    // The Sync phase never ran; the failed hook was deleted (HookFailed).
    assert!(configmaps.get_opt("settings").await.unwrap().is_none());
    assert!(configmaps.get_opt("cleanup").await.unwrap().is_some());
    gone(&jobs, "migrate").await;
}

#[tokio::test]
async fn a_wave_waits_for_the_previous_one_to_be_healthy() {
    let api = EmbeddedApi::start(&["shop", "argocd"]).await;
    let client = api.client();
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "shop");
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), "shop");
    let web = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "annotations": {"ferry.dev/simulate": "progressing"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}});
    let targets = [
        web,
        config_map("after", json!({"argocd.argoproj.io/sync-wave": "1"})),
    ];
    let cluster = Cluster::new(client.clone());

    // While the Deployment rolls out, the next wave waits; once it is healthy, it runs.
    let mut steps = 0;
    let run = run_operation(
        &cluster,
        &targets,
        &[],
        &settings(false),
        async |progress| {
            steps += 1;
            if progress.message == "waiting for healthy state of apps/Deployment/web" {
                assert!(configmaps.get_opt("after").await.unwrap().is_none());
                if steps == 6 {
                    let heal = json!({"metadata": {"annotations": {"ferry.dev/simulate": null}}});
                    deployments
                        .patch("web", &PatchParams::default(), &Patch::Merge(&heal))
                        .await
                        .unwrap();
                }
            }
        },
    )
    .await;
    assert_eq!(run.last.phase, Phase::Succeeded, "{:?}", run.messages);
    assert!(steps > 6, "{:?}", run.messages);
    assert!(configmaps.get_opt("after").await.unwrap().is_some());
    assert_eq!(
        run.result("web", "Sync").hook_phase.as_deref(),
        Some("Succeeded")
    );
}

#[tokio::test]
async fn a_resource_another_app_tracks_is_shared_and_fails_with_fail_on_shared_resource() {
    let api = EmbeddedApi::start(&["shop", "argocd"]).await;
    let client = api.client();
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "shop");
    tracked(&configmaps, "settings", "other:/ConfigMap:shop/settings").await;
    let targets = [config_map("settings", json!({}))];
    let cluster = Cluster::new(client.clone());
    let comparison = compare(
        &cluster,
        &APP,
        targets.to_vec(),
        &[],
        &[],
        &Tracking::default(),
        &Checks::default(),
    )
    .await
    .unwrap();
    let message = "ConfigMap/settings is part of applications shop and other";
    assert_eq!(comparison.shared, [message]);

    let mut strict = settings(false);
    strict.fail_on_shared_resource = true;
    let run = run_operation(&cluster, &targets, &[], &strict, async |_| {}).await;
    assert_eq!(run.last.phase, Phase::Failed);
    assert_eq!(
        run.last.message,
        format!("Shared resource found: {message}")
    );

    // Without the option the sync takes the object over.
    let run = run_operation(&cluster, &targets, &[], &settings(false), async |_| {}).await;
    assert_eq!(run.last.phase, Phase::Succeeded, "{:?}", run.messages);
    let live = configmaps.get("settings").await.unwrap();
    assert_eq!(
        live.metadata.annotations.unwrap()[TRACKING_ID_ANNOTATION],
        "shop:/ConfigMap:shop/settings"
    );
}

#[tokio::test]
async fn a_running_hook_deleted_by_hand_fails_the_sync() {
    let api = EmbeddedApi::start(&["shop", "argocd"]).await;
    let client = api.client();
    let jobs: Api<Job> = Api::namespaced(client.clone(), "shop");
    let targets = [job(
        "stuck",
        json!({"argocd.argoproj.io/hook": "PreSync", "ferry.dev/simulate": "progressing"}),
    )];
    let cluster = Cluster::new(client.clone());
    let mut deleted = false;
    let run = run_operation(
        &cluster,
        &targets,
        &[],
        &settings(false),
        async |progress| {
            if !deleted && progress.message == "waiting for completion of hook batch/Job/stuck" {
                deleted = true;
                let release = json!({"metadata": {"finalizers": []}});
                jobs.patch("stuck", &PatchParams::default(), &Patch::Merge(&release))
                    .await
                    .unwrap();
                jobs.delete("stuck", &Default::default()).await.unwrap();
            }
        },
    )
    .await;
    assert!(deleted, "{:?}", run.messages);
    assert_eq!(run.last.phase, Phase::Failed, "{:?}", run.messages);
    let stuck = run.result("stuck", "PreSync");
    assert_eq!(
        (stuck.hook_phase.as_deref(), stuck.message.as_deref()),
        (
            Some("Failed"),
            Some("the hook was deleted before it completed")
        )
    );
}

#[tokio::test]
async fn terminating_stops_running_hooks() {
    let api = EmbeddedApi::start(&["shop", "argocd"]).await;
    let client = api.client();
    let jobs: Api<Job> = Api::namespaced(client.clone(), "shop");
    let targets = [job(
        "endless",
        json!({"argocd.argoproj.io/hook": "PreSync", "ferry.dev/simulate": "progressing"}),
    )];
    let cluster = Cluster::new(client.clone());
    let start = Start {
        revision: "0123456789abcdef",
        started_at: 1_700_000_000,
    };
    let tracking = Tracking::default();
    let mut results = Vec::new();
    // Two steps: the hook is created, then it is running.
    for _ in 0..2 {
        let comparison = compare(
            &cluster,
            &APP,
            targets.to_vec(),
            &[],
            &[],
            &tracking,
            &Checks::default(),
        )
        .await
        .unwrap();
        results = operation::advance(&cluster, &comparison, &settings(false), &start, &results)
            .await
            .resources;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(results[0].hook_phase.as_deref(), Some("Running"));
    assert!(jobs.get_opt("endless").await.unwrap().is_some());

    operation::terminate(&cluster, &mut results).await;
    assert_eq!(
        (
            results[0].hook_phase.as_deref(),
            results[0].message.as_deref()
        ),
        (Some("Failed"), Some("Terminated"))
    );
    gone(&jobs, "endless").await;
}
