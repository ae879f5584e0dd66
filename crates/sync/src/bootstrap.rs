//! Start-up: what must exist before the controllers run, made to exist without clobbering what
//! a person changed. CRDs are server-side applied (Ferry owns them); the namespace and the
//! `default` AppProject are only created when missing, as Argo CD's server does.

use std::time::Duration;

use ferry_api::argocd::{self, AppProject};
use ferry_api::{Classify, Disposition};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};

/// The field manager of Ferry's own writes at start-up.
const FIELD_MANAGER: &str = "ferry";
/// How long a new CRD may take to be served (a real API server takes a moment).
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(30);

/// A start-up step that failed.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The API refused or failed a call.
    #[error("{step}: {source}")]
    Api {
        /// What was being done (`applying CRD applications.argoproj.io`).
        step: String,
        /// The API's error.
        #[source]
        source: kube::Error,
    },
    /// A CRD was applied but the API server did not serve it in time.
    #[error("CRD {name} is not established after {seconds} s")]
    NotEstablished {
        /// The CRD.
        name: String,
        /// How long Ferry waited.
        seconds: u64,
    },
}

impl Classify for BootstrapError {
    /// API answers follow their HTTP status; a CRD not yet served may be soon.
    fn disposition(&self) -> Disposition {
        match self {
            Self::Api {
                source: kube::Error::Api(status),
                ..
            } => Disposition::of_http_status(status.code),
            Self::Api { .. } | Self::NotEstablished { .. } => Disposition::Retry,
        }
    }
}

/// Serves Argo CD's kinds on the cluster `client` reaches and creates `namespace` (the
/// control plane's) and its `default` AppProject when missing.
pub async fn bootstrap(client: &kube::Client, namespace: &str) -> Result<(), BootstrapError> {
    apply_crds(client).await?;
    create_namespace(client, namespace).await?;
    create_default_project(client, namespace).await
}

async fn apply_crds(client: &kube::Client) -> Result<(), BootstrapError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::new();
    for crd in argocd::crds() {
        let name = ferry_api::meta::name(&crd).unwrap_or_default().to_string();
        crds.patch(&name, &params, &Patch::Apply(&crd))
            .await
            .map_err(|source| BootstrapError::Api {
                step: format!("applying CRD {name}"),
                source,
            })?;
        names.push(name);
    }
    for name in names {
        wait_established(&crds, &name).await?;
    }
    Ok(())
}

async fn wait_established(
    crds: &Api<CustomResourceDefinition>,
    name: &str,
) -> Result<(), BootstrapError> {
    let deadline = tokio::time::Instant::now() + ESTABLISH_TIMEOUT;
    loop {
        let crd = crds.get(name).await.map_err(|source| BootstrapError::Api {
            step: format!("reading CRD {name}"),
            source,
        })?;
        let established = crd
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if established {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(BootstrapError::NotEstablished {
                name: name.to_string(),
                seconds: ESTABLISH_TIMEOUT.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn create_namespace(client: &kube::Client, name: &str) -> Result<(), BootstrapError> {
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    let api: Api<Namespace> = Api::all(client.clone());
    create_if_missing(&api, &namespace, || format!("creating namespace {name}")).await
}

async fn create_default_project(
    client: &kube::Client,
    namespace: &str,
) -> Result<(), BootstrapError> {
    let api: Api<AppProject> = Api::namespaced(client.clone(), namespace);
    let project = AppProject::default_project(namespace);
    create_if_missing(&api, &project, || {
        format!("creating AppProject {namespace}/default")
    })
    .await
}

/// Creates `object` unless it exists; an existing one is left as it is.
async fn create_if_missing<K>(
    api: &Api<K>,
    object: &K,
    step: impl Fn() -> String,
) -> Result<(), BootstrapError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    match api.create(&PostParams::default(), object).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(source) => Err(BootstrapError::Api {
            step: step(),
            source,
        }),
    }
}
