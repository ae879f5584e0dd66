//! Malformed paths, bodies, content types and selectors: every answer is a 4xx `Status`,
//! never a 5xx or a dropped connection, and the server keeps serving.

use ferry_testkit::cluster::{TestCluster, auth};

/// A small deterministic generator, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const PATHS: &[&str] = &[
    "/api/v1/namespaces/default/configmaps",
    "/api/v1/namespaces/default/configmaps/x",
    "/api/v1/namespaces/default/configmaps/x/status",
    "/api/v1/namespaces//configmaps",
    "/api/v1/namespaces/default/nothing",
    "/apis/apps/v1/namespaces/default/deployments/web/scale/extra/more",
    "/apis/apps/v9/deployments",
    "/apis/%zz/v1",
    "/api/v1/namespaces/default/configmaps/%2e%2e",
    "/api/v1/watch/namespaces/default/configmaps",
    "/apis",
    "/api/v1/namespaces/default/pods/p/log",
    "/apis/apps/v1/namespaces/default/deployments/web/status",
];
const QUERIES: &[&str] = &[
    "",
    "?labelSelector=a%20in%20(",
    "?labelSelector=!!",
    "?fieldSelector=metadata.name%3D%3D%3Dx",
    "?limit=-1",
    "?limit=abc",
    "?continue=not-a-token",
    "?watch=1&resourceVersion=abc&timeoutSeconds=1",
    "?watch=1&timeoutSeconds=1&resourceVersion=999999",
    "?dryRun=Some",
    "?propagationPolicy=Sideways",
    "?fieldValidation=Loud",
    "?timeoutSeconds=x&watch=true",
];
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];
const TYPES: &[&str] = &[
    "application/json",
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "application/vnd.kubernetes.protobuf",
    "text/plain",
    "",
];
const BODIES: &[&str] = &[
    "",
    "{",
    "[]",
    "null",
    "\"string\"",
    "{\"kind\":\"ConfigMap\"}",
    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":\"x\"}",
    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"},\"data\":{\"k\":1}}",
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"x\"}}",
    "[{\"op\":\"explode\",\"path\":\"/x\"}]",
    "{\"metadata\":{\"resourceVersion\":\"abc\"}}",
    "a: [b, {c: &x d}, *x]",
    "\u{0}\u{1}\u{2}",
    // Protobuf: the bare prefix, a truncated envelope, an unknown kind, a truncated object.
    "k8s\u{0}",
    "k8s\u{0}\n\u{7f}",
    "k8s\u{0}\n\u{8}\n\u{2}v1\u{12}\u{2}Xx",
    "k8s\u{0}\n\u{f}\n\u{2}v1\u{12}\u{9}ConfigMap\u{12}\u{5}\n\u{9}",
];

#[test]
fn malformed_requests_get_4xx_never_5xx() {
    let c = TestCluster::start_plain();
    let (k, v) = auth();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..600 {
        let method = rng.pick(METHODS);
        let path = format!("{}{}", rng.pick(PATHS), rng.pick(QUERIES));
        let content_type = rng.pick(TYPES);
        let body = rng.pick(BODIES);
        let mut headers = vec![(k, v.as_str())];
        if !content_type.is_empty() {
            headers.push(("Content-Type", content_type));
        }
        let (status, text) = c.raw(method, &path, &headers, body.as_bytes());
        assert!(
            (200..500).contains(&status),
            "request {i}: {method} {path} ({content_type}) {body:?} -> {status}: {text}"
        );
        if status >= 400 {
            assert!(
                text.contains("\"kind\":\"Status\""),
                "request {i}: {method} {path} -> {status} without a Status: {text}"
            );
        }
    }
    let (status, _) = c.raw("GET", "/api/v1/namespaces", &[(k, v.as_str())], b"");
    assert_eq!(status, 200);
}

#[test]
fn requests_need_the_token_except_health_checks() {
    let c = TestCluster::start_plain();
    for path in ["/api", "/apis", "/version", "/api/v1/namespaces"] {
        let (status, body) = c.raw("GET", path, &[], b"");
        assert_eq!(status, 401, "{path}: {body}");
        let (status, _) = c.raw("GET", path, &[("Authorization", "Bearer wrong")], b"");
        assert_eq!(status, 401, "{path}");
    }
    for path in ["/healthz", "/livez", "/readyz"] {
        assert_eq!(c.raw("GET", path, &[], b"").0, 200, "{path}");
    }
}

#[test]
fn oversized_bodies_are_rejected_with_413() {
    let c = TestCluster::start_plain();
    let (k, v) = auth();
    let big = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"big\"}},\"data\":{{\"k\":\"{}\"}}}}",
        "x".repeat(3 * 1024 * 1024 + 10)
    );
    let (status, body) = c.raw(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &[(k, v.as_str()), ("Content-Type", "application/json")],
        big.as_bytes(),
    );
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("RequestEntityTooLarge"), "{body}");
}

#[test]
fn error_codes_follow_kubernetes() {
    let c = TestCluster::start_plain();
    let (k, v) = auth();
    let h = [(k, v.as_str()), ("Content-Type", "application/json")];
    let cm = |name: &str| {
        format!(
            "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"{name}\"}}}}"
        )
    };
    let post = |body: &str| {
        c.raw(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            &h,
            body.as_bytes(),
        )
    };
    assert_eq!(post(&cm("ok")).0, 201);
    assert_eq!(post(&cm("ok")).0, 409);
    assert_eq!(post(&cm("Not_Valid")).0, 422);
    assert_eq!(post("{not json").0, 400);
    assert_eq!(
        c.raw("GET", "/api/v1/namespaces/default/configmaps/none", &h, b"")
            .0,
        404
    );
    let (status, body) = c.raw(
        "POST",
        "/api/v1/namespaces/missing/configmaps",
        &h,
        cm("x").as_bytes(),
    );
    assert_eq!(status, 404, "{body}");
    // A stale resourceVersion on update is a conflict.
    let stale = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"ok\",\"resourceVersion\":\"1\"},\"data\":{\"a\":\"b\"}}";
    let (status, body) = c.raw(
        "PUT",
        "/api/v1/namespaces/default/configmaps/ok",
        &h,
        stale.as_bytes(),
    );
    assert_eq!(status, 409, "{body}");
    // generateName gives a fresh name.
    let (status, body) = post(
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"generateName\":\"gen-\"}}",
    );
    assert_eq!(status, 201, "{body}");
    assert!(body.contains("\"name\":\"gen-"), "{body}");
    // Dry runs store nothing.
    let (status, _) = c.raw(
        "POST",
        "/api/v1/namespaces/default/configmaps?dryRun=All",
        &h,
        cm("dry").as_bytes(),
    );
    assert_eq!(status, 201);
    assert_eq!(
        c.raw("GET", "/api/v1/namespaces/default/configmaps/dry", &h, b"")
            .0,
        404
    );
}
