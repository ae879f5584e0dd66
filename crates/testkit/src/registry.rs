//! A real OCI registry for the tests: Debian's `docker-registry` (the CNCF distribution
//! server) on a free loopback port with its own storage, plus helpers that push images through
//! the registry HTTP API the way `docker push` does.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::free_port;

/// A running `docker-registry`, stopped on drop.
pub struct TestRegistry {
    child: Child,
    _dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`
    pub host: String,
    http: reqwest::Client,
    basic: Option<(String, String)>,
    token_realm: Option<String>,
}

enum Auth {
    None,
    Basic(String, String),
    Token {
        realm: String,
        cert_pem: String,
        user: String,
        password: String,
    },
}

impl TestRegistry {
    /// A registry without authentication.
    pub async fn start() -> Self {
        Self::launch(Auth::None).await
    }

    /// With htpasswd Basic auth, as private registries are commonly run.
    pub async fn start_with_basic_auth(user: &str, password: &str) -> Self {
        Self::launch(Auth::Basic(user.to_string(), password.to_string())).await
    }

    /// With token authentication (as Docker Hub, GHCR and Harbor run): clients get a Bearer
    /// challenge naming `token_server`'s realm. Pushes by the fixture use `user`/`password`.
    pub async fn start_with_token_auth(
        token_server: &crate::token_server::TokenServer,
        user: &str,
        password: &str,
    ) -> Self {
        Self::launch(Auth::Token {
            realm: token_server.realm.clone(),
            cert_pem: token_server.cert_pem.clone(),
            user: user.to_string(),
            password: password.to_string(),
        })
        .await
    }

    async fn launch(auth: Auth) -> Self {
        let binary = "docker-registry";
        if Command::new(binary).arg("--version").output().is_err() {
            panic!(
                "docker-registry is missing: run scripts/install-test-deps (Debian package docker-registry)"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {host}\n",
            dir.path().join("data").display()
        );
        let token_realm = match &auth {
            Auth::Token { realm, .. } => Some(realm.clone()),
            _ => None,
        };
        let basic = match auth {
            Auth::None => None,
            Auth::Basic(user, password) => {
                let hash = bcrypt::hash(&password, 4).unwrap();
                let htpasswd = dir.path().join("htpasswd");
                std::fs::write(&htpasswd, format!("{user}:{hash}\n")).unwrap();
                config.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: ferry-test\n    path: {}\n",
                    htpasswd.display()
                ));
                Some((user, password))
            }
            Auth::Token {
                realm,
                cert_pem,
                user,
                password,
            } => {
                let bundle = dir.path().join("token-ca.pem");
                std::fs::write(&bundle, cert_pem).unwrap();
                config.push_str(&format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                    crate::token_server::SERVICE,
                    crate::token_server::ISSUER,
                    bundle.display()
                ));
                Some((user, password))
            }
        };
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let registry = Self {
            child,
            _dir: dir,
            host,
            http: crate::http_client(),
            basic,
            token_realm,
        };
        registry.wait_ready().await;
        registry
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let answer = self
                .http
                .get(format!("http://{}/v2/", self.host))
                .send()
                .await;
            if answer.is_ok_and(|r| r.status().is_success() || r.status() == 401) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("docker-registry did not start on {}", self.host);
    }

    /// A request for `repo` carrying the fixture's credentials: Basic, or a push token fetched
    /// from the token service.
    async fn request(
        &self,
        method: reqwest::Method,
        url: &str,
        repo: &str,
    ) -> reqwest::RequestBuilder {
        let r = self.http.request(method, url);
        match (&self.basic, &self.token_realm) {
            (Some((u, p)), Some(realm)) => {
                let answer = self
                    .http
                    .get(format!(
                        "{realm}?service={}&scope=repository:{repo}:pull,push",
                        crate::token_server::SERVICE
                    ))
                    .basic_auth(u, Some(p))
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                let answer: Value = serde_json::from_slice(&answer).unwrap();
                r.bearer_auth(answer["token"].as_str().unwrap())
            }
            (Some((u, p)), None) => r.basic_auth(u, Some(p)),
            _ => r,
        }
    }

    /// Uploads a blob (monolithic upload), returning its digest.
    pub async fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = digest_of(bytes);
        let started = self
            .request(
                reqwest::Method::POST,
                &format!("http://{}/v2/{repo}/blobs/uploads/", self.host),
                repo,
            )
            .await
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 202, "start upload");
        let location = started.headers()["location"].to_str().unwrap().to_string();
        let location = if location.starts_with("http") {
            location
        } else {
            format!("http://{}{location}", self.host)
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let done = self
            .request(
                reqwest::Method::PUT,
                &format!("{location}{sep}digest={digest}"),
                repo,
            )
            .await
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), 201, "finish upload");
        digest
    }

    /// Puts a manifest under a tag; returns the manifest digest.
    pub async fn put_manifest(
        &self,
        repo: &str,
        tag: &str,
        media_type: &str,
        body: &[u8],
    ) -> String {
        let r = self
            .request(
                reqwest::Method::PUT,
                &format!("http://{}/v2/{repo}/manifests/{tag}", self.host),
                repo,
            )
            .await
            .header("content-type", media_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            201,
            "put manifest {repo}:{tag}: {}",
            r.text().await.unwrap()
        );
        digest_of(body)
    }

    /// Pushes a one-layer image whose config says it was built at `created` (RFC 3339), under
    /// `reference` (a tag, or `None` to push it by digest only). Returns the manifest bytes
    /// and digest so tests can tag it again cheaply.
    pub async fn push_image(
        &self,
        repo: &str,
        reference: Option<&str>,
        created: &str,
        platform: (&str, &str),
    ) -> (Vec<u8>, String) {
        let tag = reference.unwrap_or("untagged");
        let layer = self
            .push_blob(
                repo,
                format!("layer of {repo}:{tag} {platform:?}").as_bytes(),
            )
            .await;
        let config = json!({
            "created": created,
            "architecture": platform.1,
            "os": platform.0,
            "config": {"Labels": {"tag": tag}},
            "rootfs": {"type": "layers", "diff_ids": [layer]},
        });
        let config_bytes = serde_json::to_vec(&config).unwrap();
        let config_digest = self.push_blob(repo, &config_bytes).await;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_bytes.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": 40}],
        });
        let bytes = serde_json::to_vec(&manifest).unwrap();
        let reference = reference.map_or_else(|| digest_of(&bytes), str::to_string);
        let digest = self
            .put_manifest(repo, &reference, OCI_MANIFEST, &bytes)
            .await;
        (bytes, digest)
    }

    /// Pushes a multi-arch index over one image per platform.
    pub async fn push_index(
        &self,
        repo: &str,
        tag: &str,
        created: &str,
        platforms: &[(&str, &str)],
    ) -> String {
        let mut entries: Vec<Value> = Vec::new();
        for platform in platforms {
            let (bytes, digest) = self.push_image(repo, None, created, *platform).await;
            entries.push(json!({
                "mediaType": OCI_MANIFEST, "digest": digest, "size": bytes.len(),
                "platform": {"os": platform.0, "architecture": platform.1},
            }));
        }
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
        self.put_manifest(repo, tag, OCI_INDEX, &serde_json::to_vec(&index).unwrap())
            .await
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    format!(
        "sha256:{}",
        hash.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}
