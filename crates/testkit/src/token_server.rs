//! A registry token service (the Docker token authentication spec) for tests: the real
//! docker-registry is configured to trust its certificate and sends clients here with a
//! Bearer challenge; this service checks Basic credentials (or grants anonymous pulls) and
//! issues ES256-signed JWTs carrying the granted scope.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::json;

/// The `service` the registry and its tokens name.
pub const SERVICE: &str = "ferry-test-registry";
/// The issuer the registry trusts.
pub const ISSUER: &str = "ferry-test-token-issuer";

/// A running token service.
pub struct TokenServer {
    /// The token endpoint (`http://127.0.0.1:PORT/token`) for the registry's challenge.
    pub realm: String,
    /// PEM of the certificate whose key signs tokens (the registry's `rootcertbundle`).
    pub cert_pem: String,
    /// How many tokens were issued so far.
    pub issued: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

struct Issuer {
    key: EcdsaKeyPair,
    cert_der: Vec<u8>,
    user: String,
    password: String,
    anonymous_pull: bool,
    issued: Arc<AtomicUsize>,
}

impl TokenServer {
    /// Grants `user`/`password` pull and push; anonymous clients pull only when allowed.
    pub async fn start(user: &str, password: &str, anonymous_pull: bool) -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec!["ferry-test-token".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let rng = ring::rand::SystemRandom::new();
        let signing =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &key.serialize_der(), &rng)
                .unwrap();
        let issued = Arc::new(AtomicUsize::new(0));
        let issuer = Arc::new(Issuer {
            key: signing,
            cert_der: cert.der().to_vec(),
            user: user.to_string(),
            password: password.to_string(),
            anonymous_pull,
            issued: issued.clone(),
        });
        let app = axum::Router::new()
            .route("/token", axum::routing::get(token))
            .with_state(issuer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let realm = format!("http://{}/token", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            realm,
            cert_pem: cert.pem(),
            issued,
            task,
        }
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    service: Option<String>,
    scope: Option<String>,
}

async fn token(
    State(issuer): State<Arc<Issuer>>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Response {
    let b64 = base64::engine::general_purpose::STANDARD;
    let authenticated = match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(value) => {
            let decoded = value
                .strip_prefix("Basic ")
                .and_then(|v| b64.decode(v).ok())
                .and_then(|v| String::from_utf8(v).ok());
            if decoded != Some(format!("{}:{}", issuer.user, issuer.password)) {
                return (StatusCode::UNAUTHORIZED, "bad credentials").into_response();
            }
            true
        }
        None => false,
    };
    if query.service.as_deref() != Some(SERVICE) {
        return (StatusCode::BAD_REQUEST, "unknown service").into_response();
    }
    // scope = repository:NAME:ACTIONS
    let access: Vec<serde_json::Value> = query
        .scope
        .iter()
        .filter_map(|scope| {
            let mut parts = scope.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            let granted: Vec<&str> = actions
                .split(',')
                .filter(|a| authenticated || (issuer.anonymous_pull && *a == "pull"))
                .collect();
            Some(json!({"type": kind, "name": name, "actions": granted}))
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = json!({"alg": "ES256", "typ": "JWT", "x5c": [b64.encode(&issuer.cert_der)]});
    let claims = json!({
        "iss": ISSUER, "sub": if authenticated { issuer.user.as_str() } else { "" },
        "aud": SERVICE, "exp": now + 300, "nbf": now - 10, "iat": now,
        "jti": format!("t{}", issuer.issued.fetch_add(1, Ordering::SeqCst)), "access": access,
    });
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let signing_input = format!(
        "{}.{}",
        url.encode(header.to_string()),
        url.encode(claims.to_string())
    );
    let rng = ring::rand::SystemRandom::new();
    let signature = issuer.key.sign(&rng, signing_input.as_bytes()).unwrap();
    let jwt = format!("{signing_input}.{}", url.encode(signature.as_ref()));
    axum::Json(json!({"token": jwt, "expires_in": 300})).into_response()
}
