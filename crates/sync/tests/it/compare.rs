//! An Application's objects compared with a real (embedded) API server through kube-rs:
//! in sync, drifted, missing, left behind in the cluster (to prune), copied (not ours), and a
//! kind the cluster does not serve.

use ferry_api::argocd::ResourceStatus;
use ferry_sync::compare::{AppRef, compare};
use ferry_sync::health::Checks;
use ferry_sync::live::{Cluster, LiveError};
use ferry_sync::tracking::{TRACKING_ID_ANNOTATION, Tracking};
use ferry_testkit::EmbeddedApi;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

const APP: AppRef<'static> = AppRef {
    name: "shop",
    namespace: "argocd",
    instance: "shop",
    destination_namespace: "shop",
};

fn config_map(name: &str, data: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
        "data": {"value": data}})
}

async fn apply(client: &kube::Client, obj: &Value) {
    let ar = kube::discovery::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "shop", &ar);
    let name = obj["metadata"]["name"].as_str().unwrap();
    api.patch(name, &PatchParams::apply("test"), &Patch::Apply(obj))
        .await
        .unwrap();
}

fn tracked(mut obj: Value, id: &str) -> Value {
    obj["metadata"]["annotations"] = json!({TRACKING_ID_ANNOTATION: id});
    obj
}

fn status_of<'a>(resources: &'a [ResourceStatus], name: &str) -> &'a ResourceStatus {
    resources
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("{name} not in {resources:?}"))
}

#[tokio::test]
async fn compares_targets_with_the_live_cluster() {
    let api = EmbeddedApi::start(&["shop", "argocd"]).await;
    let client = api.client();
    // Live: one in sync, one drifted, one Git dropped, and a copy of a tracked object.
    apply(
        &client,
        &tracked(config_map("same", "1"), "shop:/ConfigMap:shop/same"),
    )
    .await;
    apply(
        &client,
        &tracked(
            config_map("drifted", "edited"),
            "shop:/ConfigMap:shop/drifted",
        ),
    )
    .await;
    apply(
        &client,
        &tracked(config_map("dropped", "1"), "shop:/ConfigMap:shop/dropped"),
    )
    .await;
    apply(
        &client,
        &tracked(config_map("copy", "1"), "shop:/ConfigMap:shop/same"),
    )
    .await;

    let targets = vec![
        config_map("same", "1"),
        config_map("drifted", "1"),
        config_map("new", "1"),
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}),
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate",
            "annotations": {"argocd.argoproj.io/hook": "PreSync"}}}),
    ];
    let previous: Vec<ResourceStatus> = ["same", "drifted", "dropped", "copy"]
        .iter()
        .map(|name| ResourceStatus {
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: "shop".into(),
            name: name.to_string(),
            ..ResourceStatus::default()
        })
        .collect();
    let cluster = Cluster::new(client);
    let comparison = compare(
        &cluster,
        &APP,
        targets,
        &previous,
        &[],
        &Tracking::default(),
        &Checks::default(),
    )
    .await
    .unwrap();

    assert_eq!(comparison.sync_status, "OutOfSync");
    let r = &comparison.resources;
    assert_eq!(status_of(r, "same").status, "Synced");
    assert_eq!(status_of(r, "drifted").status, "OutOfSync");
    assert_eq!(status_of(r, "new").status, "OutOfSync");
    assert_eq!(
        status_of(r, "new")
            .health
            .as_ref()
            .map(|h| h.status.as_str()),
        Some("Missing")
    );
    assert!(status_of(r, "dropped").requires_pruning);
    assert_eq!(status_of(r, "w").status, "Unknown");
    assert!(
        r.iter().all(|r| r.name != "copy" && r.name != "migrate"),
        "{r:?}"
    );
    assert_eq!(comparison.prunable.len(), 1);

    // Targets come back prepared for a sync: namespace and tracking id set.
    let (new, live) = comparison
        .targets
        .iter()
        .find(|(t, _)| t["metadata"]["name"] == "new")
        .unwrap();
    assert!(live.is_none());
    assert_eq!(new["metadata"]["namespace"], "shop");
    assert_eq!(
        new["metadata"]["annotations"][TRACKING_ID_ANNOTATION],
        "shop:/ConfigMap:shop/new"
    );

    let [LiveError::UnknownKind { .. }] = comparison.errors.as_slice() else {
        panic!("{:?}", comparison.errors);
    };
    assert_eq!(
        comparison.errors[0].to_string(),
        "the Kubernetes API could not find example.com/Widget for requested resource shop/w; make sure the \"Widget\" CRD is installed on the destination cluster"
    );
}

#[tokio::test]
async fn an_app_whose_objects_all_match_is_synced_and_healthy() {
    let api = EmbeddedApi::start(&["shop", "argocd"]).await;
    let client = api.client();
    apply(
        &client,
        &tracked(config_map("same", "1"), "shop:/ConfigMap:shop/same"),
    )
    .await;
    let cluster = Cluster::new(client);
    let comparison = compare(
        &cluster,
        &APP,
        vec![config_map("same", "1")],
        &[],
        &[],
        &Tracking::default(),
        &Checks::default(),
    )
    .await
    .unwrap();
    assert_eq!(comparison.sync_status, "Synced");
    assert_eq!(comparison.health.status, "Healthy");
    assert!(comparison.errors.is_empty() && comparison.prunable.is_empty());
}
