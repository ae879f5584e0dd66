//! The in-process client against the same calls over HTTP: one script of kube-rs calls (create,
//! get, list by label, server-side apply, merge patch, a watch, errors, delete, version) run
//! both ways gives the same answers, and a wrong token is refused both ways.

use std::collections::BTreeMap;

use ferry_testkit::EmbeddedApi;
use ferry_testkit::cluster::TOKEN;
use futures_util::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::{Value, json};

const NAMESPACE: &str = "demo";

/// What a call answered, without what differs between two servers (uids, revisions, times).
fn normalized(mut value: Value) -> Value {
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        for volatile in ["uid", "resourceVersion", "creationTimestamp"] {
            meta.remove(volatile);
        }
        if let Some(fields) = meta.get_mut("managedFields").and_then(Value::as_array_mut) {
            for entry in fields {
                entry.as_object_mut().map(|e| e.remove("time"));
            }
        }
    }
    value
}

fn error_of<T>(result: Result<T, kube::Error>) -> Value {
    match result {
        Err(kube::Error::Api(status)) => {
            json!({"code": status.code, "reason": status.reason, "message": status.message})
        }
        Err(other) => json!({"error": other.to_string()}),
        Ok(_) => json!("unexpectedly succeeded"),
    }
}

fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..Default::default()
    }
}

/// The script; every answer in order.
async fn script(client: kube::Client) -> Vec<Value> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let mut answers = Vec::new();
    let record = |answers: &mut Vec<Value>, cm: &ConfigMap| {
        answers.push(normalized(serde_json::to_value(cm).unwrap()));
    };

    let created = api
        .create(
            &PostParams::default(),
            &config_map("web", &[("colour", "blue")]),
        )
        .await
        .unwrap();
    record(&mut answers, &created);
    record(&mut answers, &api.get("web").await.unwrap());

    let listed = api
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    let names: Vec<_> = listed
        .items
        .iter()
        .map(|cm| cm.metadata.name.clone())
        .collect();
    answers.push(json!(names));

    let applied = api
        .patch(
            "web",
            &PatchParams::apply("script"),
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "web"},
                "data": {"size": "large"},
            })),
        )
        .await
        .unwrap();
    record(&mut answers, &applied);

    let watch_from = listed.metadata.resource_version.unwrap();
    let mut events = api
        .watch(&WatchParams::default().labels("app=web"), &watch_from)
        .await
        .unwrap()
        .boxed();
    let merged = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"colour": "green"}})),
        )
        .await
        .unwrap();
    record(&mut answers, &merged);
    // The apply and the merge patch, in order, then nothing else was asked for.
    for _ in 0..2 {
        match events.try_next().await.unwrap() {
            Some(WatchEvent::Modified(cm)) => record(&mut answers, &cm),
            other => panic!("expected a modification, got {other:?}"),
        }
    }
    drop(events);

    answers.push(error_of(api.get("missing").await));
    answers.push(error_of(
        api.create(&PostParams::default(), &config_map("Not_A_Name", &[]))
            .await,
    ));
    let deleted = api.delete("web", &DeleteParams::default()).await.unwrap();
    answers.push(json!(deleted.is_left()));
    answers.push(error_of(api.get("web").await));
    answers.push(json!(client.apiserver_version().await.unwrap().git_version));
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_calls_answer_the_same_in_process_and_over_http() {
    let over_http = EmbeddedApi::start(&[NAMESPACE]).await;
    let in_process = EmbeddedApi::start(&[NAMESPACE]).await;
    let http_answers = script(over_http.client()).await;
    let in_process_answers = script(in_process.server.in_process_client(TOKEN)).await;
    assert_eq!(http_answers.len(), 12);
    for (i, (http, local)) in http_answers.iter().zip(&in_process_answers).enumerate() {
        assert_eq!(http, local, "answer {i}");
    }
    // A sanity check that the answers say something: the apply landed, the 404 is a 404.
    assert_eq!(http_answers[3]["data"]["size"], "large");
    assert_eq!(http_answers[7]["code"], 404);
    assert_eq!(http_answers[8]["code"], 422);
    over_http.server.shutdown().await;
    in_process.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused_in_process_as_over_http() {
    let api = EmbeddedApi::start(&[NAMESPACE]).await;
    let mut config = kube::Config::new(format!("http://{}", api.server.addr()).parse().unwrap());
    config.auth_info.token = Some("wrong-token".to_string().into());
    let over_http = kube::Client::try_from(config).unwrap();
    let in_process = api.server.in_process_client("wrong-token");
    for client in [over_http, in_process] {
        let configmaps: Api<ConfigMap> = Api::namespaced(client, NAMESPACE);
        let refused = error_of(configmaps.list(&ListParams::default()).await);
        assert_eq!(refused["code"], 401, "{refused}");
    }
    let allowed: Api<ConfigMap> = Api::namespaced(api.server.in_process_client(TOKEN), NAMESPACE);
    assert!(
        allowed
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    api.server.shutdown().await;
}
