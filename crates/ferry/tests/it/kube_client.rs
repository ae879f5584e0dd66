//! kube-rs clients (typed, dynamic, runtime watcher/reflector, server-side apply, discovery)
//! against an in-process Ferry API server over TLS.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use ferry_apiserver::{ApiServer, ServerConfig, TlsIdentity};
use ferry_store::Store;
use futures_util::StreamExt as _;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use kube::discovery::Discovery;
use kube::runtime::{WatchStreamExt as _, reflector, watcher};
use kube::{Client, ResourceExt as _};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use serde_json::json;

const TOKEN: &str = "kube-rs-test-token-0123456789";
const WAIT: Duration = Duration::from_secs(60);

async fn start(store: Store, listen: SocketAddr, identity: &TlsIdentity) -> ApiServer {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // On restart the old socket may linger briefly; retry the bind for a bounded time.
    let mut attempts = 0;
    let server = loop {
        let mut cfg = ServerConfig::new(listen, TOKEN);
        cfg.tls = Some(identity.clone());
        match ApiServer::start(store.clone(), cfg).await {
            Ok(s) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && attempts < 50 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("server start on {listen}: {e}"),
        }
    };
    server.objects().ensure_namespaces(&["default"]).unwrap();
    server
}

fn client(addr: SocketAddr, identity: &TlsIdentity) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ders: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(identity.ca_pem.as_bytes())
        .map(|c| c.unwrap().to_vec())
        .collect();
    assert!(!ders.is_empty(), "CA PEM has a certificate");
    let mut config = kube::Config::new(format!("https://{addr}").parse().unwrap());
    config.root_cert = Some(ders);
    config.auth_info.token = Some(TOKEN.to_string().into());
    config.default_namespace = "default".into();
    Client::try_from(config).unwrap()
}

fn cm(name: &str, data: &[(&str, &str)], labels: &[(&str, &str)]) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        },
        "data": data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
    }))
    .unwrap()
}

fn data_of(c: &ConfigMap) -> BTreeMap<String, String> {
    c.data.clone().unwrap_or_default()
}

fn api_err(r: Result<impl std::fmt::Debug, kube::Error>) -> Box<kube::core::Status> {
    match r {
        Err(kube::Error::Api(s)) => s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_configmap_crud() {
    let identity = TlsIdentity::generate(&[]).unwrap();
    let server = start(Store::memory(), "127.0.0.1:0".parse().unwrap(), &identity).await;
    let client = client(server.addr(), &identity);
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let pp = PostParams::default();

    // create
    let created = api
        .create(&pp, &cm("one", &[("k", "v1")], &[("app", "x")]))
        .await
        .unwrap();
    assert_eq!(created.name_any(), "one");
    assert_eq!(created.namespace().as_deref(), Some("default"));
    assert!(created.uid().is_some(), "uid is set");
    let rv0 = created.resource_version().expect("resourceVersion set");
    // duplicate create is 409 AlreadyExists
    let dup = api_err(api.create(&pp, &cm("one", &[], &[])).await);
    assert_eq!(dup.code, 409, "{dup:?}");
    assert_eq!(dup.reason, "AlreadyExists", "{dup:?}");
    api.create(&pp, &cm("two", &[("k", "w")], &[("app", "y")]))
        .await
        .unwrap();

    // get
    let got = api.get("one").await.unwrap();
    assert_eq!(data_of(&got), BTreeMap::from([("k".into(), "v1".into())]));
    assert_eq!(got.resource_version().as_deref(), Some(rv0.as_str()));

    // replace with the current resourceVersion succeeds and bumps it
    let mut next = got.clone();
    next.data = Some(BTreeMap::from([("k".into(), "v2".into())]));
    let replaced = api.replace("one", &pp, &next).await.unwrap();
    assert_eq!(data_of(&replaced)["k"], "v2");
    assert_ne!(replaced.resource_version().unwrap(), rv0);

    // replace with the stale resourceVersion is a 409 Conflict
    let mut stale = got.clone();
    stale.data = Some(BTreeMap::from([("k".into(), "v3".into())]));
    let conflict = api_err(api.replace("one", &pp, &stale).await);
    assert_eq!(conflict.code, 409, "{conflict:?}");
    assert_eq!(conflict.reason, "Conflict", "{conflict:?}");
    assert_eq!(data_of(&api.get("one").await.unwrap())["k"], "v2");

    // list with a label selector
    let xs = api
        .list(&ListParams::default().labels("app=x"))
        .await
        .unwrap();
    let names: Vec<String> = xs.items.iter().map(|c| c.name_any()).collect();
    assert_eq!(names, vec!["one".to_string()]);
    let not_x = api
        .list(&ListParams::default().labels("app!=x"))
        .await
        .unwrap();
    let names: Vec<String> = not_x.items.iter().map(|c| c.name_any()).collect();
    assert_eq!(names, vec!["two".to_string()]);
    let all = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(all.items.len(), 2);
    assert!(all.metadata.resource_version.is_some());

    // delete
    api.delete("one", &DeleteParams::default()).await.unwrap();
    let gone = api_err(api.get("one").await);
    assert_eq!(gone.code, 404, "{gone:?}");
    assert_eq!(api.get_opt("one").await.unwrap(), None);
    let left = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(left.items.len(), 1);
    let del404 = api_err(api.delete("one", &DeleteParams::default()).await);
    assert_eq!(del404.code, 404, "{del404:?}");

    server.shutdown().await;
}

type Snapshot = BTreeMap<String, BTreeMap<String, String>>;

fn snapshot(store: &reflector::Store<ConfigMap>) -> Snapshot {
    store
        .state()
        .iter()
        .map(|c| (c.name_any(), data_of(c)))
        .collect()
}

async fn wait_for_snapshot(store: &reflector::Store<ConfigMap>, want: &Snapshot, what: &str) {
    let r = tokio::time::timeout(WAIT, async {
        loop {
            if &snapshot(store) == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        r.is_ok(),
        "timed out waiting for {what}: want {want:?}, reflector has {:?}",
        snapshot(store)
    );
}

fn open_sqlite(path: &Path) -> Store {
    Store::sqlite(path).unwrap()
}

/// With kube's default watcher config (timeoutSeconds=290) — the realistic case: shutdown
/// must end open watches so the client reconnects to the restarted server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_survives_server_restart() {
    reflector_restart(watcher::Config::default()).await;
}

/// The same, with short server-side watch timeouts: resume from a resourceVersion across a
/// restart with the same SQLite database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_survives_server_restart_short_watches() {
    reflector_restart(watcher::Config::default().timeout(3)).await;
}

async fn reflector_restart(watch_config: watcher::Config) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ferry.db");
    let identity = TlsIdentity::generate(&[]).unwrap();
    let server = start(open_sqlite(&db), "127.0.0.1:0".parse().unwrap(), &identity).await;
    let addr = server.addr();
    let client = client(addr, &identity);
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    let (reader, writer) = reflector::store::<ConfigMap>();
    let stream = reflector(writer, watcher(api.clone(), watch_config).default_backoff());
    let task = tokio::spawn(async move {
        stream.for_each(|_| async {}).await;
    });
    tokio::time::timeout(WAIT, reader.wait_until_ready())
        .await
        .expect("reflector becomes ready")
        .unwrap();

    let pp = PostParams::default();
    for (n, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
        api.create(&pp, &cm(n, &[("v", v)], &[])).await.unwrap();
    }
    let mut want: Snapshot = [("a", "1"), ("b", "2"), ("c", "3")]
        .iter()
        .map(|(n, v)| {
            (
                n.to_string(),
                BTreeMap::from([("v".to_string(), v.to_string())]),
            )
        })
        .collect();
    wait_for_snapshot(&reader, &want, "the first three ConfigMaps").await;

    // Down: the watch should end, the watcher errors and backs off.
    server.shutdown().await;
    assert!(
        api.list(&ListParams::default()).await.is_err(),
        "server is really down"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Up again: same port, same database, same identity.
    let server = start(open_sqlite(&db), addr, &identity).await;
    assert_eq!(server.addr(), addr);
    // What the reflector saw before is still there; then change the state.
    api.create(&pp, &cm("d", &[("v", "4")], &[])).await.unwrap();
    api.delete("a", &DeleteParams::default()).await.unwrap();
    let mut b = api.get("b").await.unwrap();
    b.data = Some(BTreeMap::from([("v".into(), "22".into())]));
    api.replace("b", &pp, &b).await.unwrap();

    want.remove("a");
    want.insert("b".into(), BTreeMap::from([("v".into(), "22".into())]));
    want.insert("d".into(), BTreeMap::from([("v".into(), "4".into())]));
    wait_for_snapshot(&reader, &want, "the state after the restart").await;

    // And it keeps following live changes on the new server.
    api.delete("c", &DeleteParams::default()).await.unwrap();
    want.remove("c");
    wait_for_snapshot(&reader, &want, "a live delete after the restart").await;

    task.abort();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_ownership_and_conflicts() {
    let identity = TlsIdentity::generate(&[]).unwrap();
    let server = start(Store::memory(), "127.0.0.1:0".parse().unwrap(), &identity).await;
    let api: Api<ConfigMap> = Api::namespaced(client(server.addr(), &identity), "default");
    let body = |data: serde_json::Value| {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": { "name": "ssa" },
            "data": data,
        })
    };

    let a1 = api
        .patch(
            "ssa",
            &PatchParams::apply("mgr-a"),
            &Patch::Apply(body(json!({"a": "1", "b": "2"}))),
        )
        .await
        .unwrap();
    assert_eq!(
        data_of(&a1),
        BTreeMap::from([("a".into(), "1".into()), ("b".into(), "2".into())])
    );

    // mgr-b takes a field mgr-a owns, without force: 409 naming the owner and the field.
    let conflict = api_err(
        api.patch(
            "ssa",
            &PatchParams::apply("mgr-b"),
            &Patch::Apply(body(json!({"a": "9"}))),
        )
        .await,
    );
    assert_eq!(conflict.code, 409, "{conflict:?}");
    assert_eq!(conflict.reason, "Conflict", "{conflict:?}");
    assert!(
        conflict.message.contains("mgr-a") && conflict.message.contains(".data.a"),
        "conflict message names manager and field: {:?}",
        conflict.message
    );
    assert_eq!(data_of(&api.get("ssa").await.unwrap())["a"], "1");

    // With force it wins.
    let b1 = api
        .patch(
            "ssa",
            &PatchParams::apply("mgr-b").force(),
            &Patch::Apply(body(json!({"a": "9"}))),
        )
        .await
        .unwrap();
    assert_eq!(data_of(&b1)["a"], "9");
    assert_eq!(data_of(&b1)["b"], "2");

    let mf = b1.managed_fields();
    for m in ["mgr-a", "mgr-b"] {
        let entry = mf
            .iter()
            .find(|e| e.manager.as_deref() == Some(m))
            .unwrap_or_else(|| panic!("managedFields has {m}: {mf:?}"));
        assert_eq!(entry.operation.as_deref(), Some("Apply"), "{entry:?}");
        assert_eq!(entry.api_version.as_deref(), Some("v1"), "{entry:?}");
    }
    let fields_of = |m: &str| {
        serde_json::to_value(
            &mf.iter()
                .find(|e| e.manager.as_deref() == Some(m))
                .unwrap()
                .fields_v1,
        )
        .unwrap()
    };
    assert!(
        fields_of("mgr-b")["f:data"].get("f:a").is_some(),
        "mgr-b owns .data.a: {}",
        fields_of("mgr-b")
    );
    assert!(
        fields_of("mgr-a")["f:data"].get("f:a").is_none(),
        "mgr-a lost .data.a: {}",
        fields_of("mgr-a")
    );

    // mgr-a re-applies without `a`: it owns only b now, so a (owned by mgr-b) stays.
    let a2 = api
        .patch(
            "ssa",
            &PatchParams::apply("mgr-a"),
            &Patch::Apply(body(json!({"b": "2"}))),
        )
        .await
        .unwrap();
    assert_eq!(
        data_of(&a2),
        BTreeMap::from([("a".into(), "9".into()), ("b".into(), "2".into())])
    );

    // mgr-a drops b too: a field owned by no one else is removed.
    let a3 = api
        .patch(
            "ssa",
            &PatchParams::apply("mgr-a"),
            &Patch::Apply(body(json!({"c": "3"}))),
        )
        .await
        .unwrap();
    assert_eq!(
        data_of(&a3),
        BTreeMap::from([("a".into(), "9".into()), ("c".into(), "3".into())])
    );

    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_api_with_discovery_and_crd() {
    let identity = TlsIdentity::generate(&[]).unwrap();
    let server = start(Store::memory(), "127.0.0.1:0".parse().unwrap(), &identity).await;
    let client = client(server.addr(), &identity);

    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    assert!(discovery.has_group("apps"));
    let (deploy, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"))
        .expect("apps/v1 Deployment is discovered");
    assert_eq!(deploy.plural, "deployments");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    assert!(
        discovery
            .resolve_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"))
            .is_some()
    );
    let widget_gvk = GroupVersionKind::gvk("example.ferry.dev", "v1", "Widget");
    assert!(discovery.resolve_gvk(&widget_gvk).is_none());

    // Apply the CRD dynamically.
    let crd_ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        "customresourcedefinitions",
    );
    let crds: Api<DynamicObject> = Api::all_with(client.clone(), &crd_ar);
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": "widgets.example.ferry.dev" },
        "spec": {
            "group": "example.ferry.dev",
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "listKind": "WidgetList",
            },
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": { "spec": {
                        "type": "object",
                        "properties": { "size": { "type": "integer" } },
                    } },
                } },
            }],
        },
    });
    crds.patch(
        "widgets.example.ferry.dev",
        &PatchParams::apply("kube-rs-test"),
        &Patch::Apply(crd),
    )
    .await
    .unwrap();

    // Re-run discovery until the new kind is served (bounded).
    let (widget_ar, widget_caps) = tokio::time::timeout(WAIT, async {
        loop {
            let d = Discovery::new(client.clone()).run().await.unwrap();
            if let Some(found) = d.resolve_gvk(&widget_gvk) {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("discovery finds example.ferry.dev/v1 Widget");
    assert_eq!(widget_ar.plural, "widgets");
    assert_eq!(widget_caps.scope, kube::discovery::Scope::Namespaced);

    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &widget_ar);
    let mut w = DynamicObject::new("w1", &widget_ar).within("default");
    w.data = json!({ "spec": { "size": 3 } });
    let created = widgets.create(&PostParams::default(), &w).await.unwrap();
    assert_eq!(created.name_any(), "w1");
    assert_eq!(created.data["spec"]["size"], 3);
    assert_eq!(
        created.types.as_ref().map(|t| t.kind.as_str()),
        Some("Widget")
    );
    let got = widgets.get("w1").await.unwrap();
    assert_eq!(got.data["spec"]["size"], 3);
    let list = widgets.list(&ListParams::default()).await.unwrap();
    assert_eq!(
        list.items.iter().map(|o| o.name_any()).collect::<Vec<_>>(),
        vec!["w1".to_string()]
    );

    // And a Deployment through the discovered ApiResource.
    let deploys: Api<DynamicObject> = Api::namespaced_with(client, "default", &deploy);
    let mut d = DynamicObject::new("web", &deploy).within("default");
    d.data = json!({ "spec": {
        "replicas": 1,
        "selector": { "matchLabels": { "app": "web" } },
        "template": {
            "metadata": { "labels": { "app": "web" } },
            "spec": { "containers": [{ "name": "web", "image": "nginx" }] },
        },
    } });
    let created = deploys.create(&PostParams::default(), &d).await.unwrap();
    assert_eq!(created.data["spec"]["replicas"], 1);

    server.shutdown().await;
}
