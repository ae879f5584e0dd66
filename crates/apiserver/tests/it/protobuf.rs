//! Protobuf request bodies over raw HTTP: decoded for built-in kinds on create, update and
//! delete; 415 for patches and custom resources, as kube-apiserver answers.

use ferry_testkit::cluster::{TestCluster, auth};
use serde_json::{Value, json};

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited field.
fn field(tag: u64, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(&mut out, (tag << 3) | 2);
    varint(&mut out, data.len() as u64);
    out.extend_from_slice(data);
    out
}

/// `k8s\0` and a `runtime.Unknown` around `raw`.
fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let type_meta = [field(1, api_version.as_bytes()), field(2, kind.as_bytes())].concat();
    [b"k8s\0".to_vec(), field(1, &type_meta), field(2, raw)].concat()
}

/// A ConfigMap with `name`, `resourceVersion` (when not empty) and one data entry.
fn config_map(name: &str, resource_version: &str, key: &str, value: &str) -> Vec<u8> {
    let mut meta = field(1, name.as_bytes());
    if !resource_version.is_empty() {
        meta.extend(field(6, resource_version.as_bytes()));
    }
    let entry = [field(1, key.as_bytes()), field(2, value.as_bytes())].concat();
    envelope(
        "v1",
        "ConfigMap",
        &[field(1, &meta), field(2, &entry)].concat(),
    )
}

fn json_body(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn protobuf_create_update_and_delete_of_built_in_kinds() {
    let c = TestCluster::start_plain();
    let (k, v) = auth();
    let pb = [(k, v.as_str()), ("Content-Type", PROTOBUF)];
    let path = "/api/v1/namespaces/default/configmaps";

    let (status, body) = c.raw("POST", path, &pb, &config_map("cm", "", "color", "blue"));
    assert_eq!(status, 201, "{body}");
    let created = json_body(&body);
    assert_eq!(created["data"], json!({"color": "blue"}));
    let rv = created["metadata"]["resourceVersion"].as_str().unwrap();

    let (status, body) = c.raw(
        "PUT",
        &format!("{path}/cm"),
        &pb,
        &config_map("cm", rv, "color", "red"),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(json_body(&body)["data"], json!({"color": "red"}));
    // A stale resourceVersion conflicts, as in JSON.
    let (status, body) = c.raw(
        "PUT",
        &format!("{path}/cm"),
        &pb,
        &config_map("cm", rv, "color", "green"),
    );
    assert_eq!(status, 409, "{body}");

    // Patches have no protobuf form.
    let (status, body) = c.raw(
        "PATCH",
        &format!("{path}/cm"),
        &pb,
        &config_map("cm", "", "a", "b"),
    );
    assert_eq!(status, 415, "{body}");

    // DeleteOptions in protobuf: a uid precondition that does not match.
    let options = [field(2, &field(1, b"not-the-uid"))].concat();
    let (status, body) = c.raw(
        "DELETE",
        &format!("{path}/cm"),
        &pb,
        &envelope("v1", "DeleteOptions", &options),
    );
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("Precondition failed"), "{body}");
    let (status, body) = c.raw(
        "DELETE",
        &format!("{path}/cm"),
        &pb,
        &envelope("v1", "DeleteOptions", &field(4, b"Background")),
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = c.raw("GET", &format!("{path}/cm"), &pb[..1], b"");
    assert_eq!(status, 404);
}

#[test]
fn protobuf_errors_are_400_naming_the_problem() {
    let c = TestCluster::start_plain();
    let (k, v) = auth();
    let pb = [(k, v.as_str()), ("Content-Type", PROTOBUF)];
    let path = "/api/v1/namespaces/default/configmaps";
    // A ConfigMap with a field 99, which ConfigMap does not have.
    let raw = [field(1, &field(1, b"cm")), field(99, b"x")].concat();
    let (status, body) = c.raw("POST", path, &pb, &envelope("v1", "ConfigMap", &raw));
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("core.v1.ConfigMap has no field with tag 99"),
        "{body}"
    );
    let (status, body) = c.raw("POST", path, &pb, b"{\"kind\":\"ConfigMap\"}");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("k8s"), "{body}");
    // The kind in the envelope must match the path, as for JSON.
    let (status, body) = c.raw(
        "POST",
        path,
        &pb,
        &envelope("v1", "Secret", &field(1, &field(1, b"s"))),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("does not match the expected kind"), "{body}");
}

#[test]
fn custom_resources_take_no_protobuf() {
    let c = TestCluster::start_plain();
    let (k, v) = auth();
    let json_headers = [(k, v.as_str()), ("Content-Type", "application/json")];
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let (status, body) = c.raw(
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &json_headers,
        crd.to_string().as_bytes(),
    );
    assert_eq!(status, 201, "{body}");
    let pb = [(k, v.as_str()), ("Content-Type", PROTOBUF)];
    let (status, body) = c.raw(
        "POST",
        "/apis/example.com/v1/namespaces/default/widgets",
        &pb,
        &envelope("example.com/v1", "Widget", &field(1, &field(1, b"w"))),
    );
    assert_eq!(status, 415, "{body}");
    assert!(body.contains("UnsupportedMediaType"), "{body}");
}
