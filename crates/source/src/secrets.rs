//! Credentials read through the Kubernetes API: the labelled Secrets Argo CD and Kargo keep
//! (listed by label selector, so unrelated Secrets never leave the server) and matched by the
//! rules of [`crate::credentials`], and Argo CD's SSH known hosts. Values stay in memory;
//! errors name Secrets, never values.

use ferry_api::{Classify, Disposition};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams};
use serde_json::Value;

use crate::credentials::{
    ArgoCdRequest, CredentialError, KargoRequest, Lookup, argocd_credentials, kargo_credentials,
};
use crate::ssh::{ARGOCD_KNOWN_HOSTS_CONFIGMAP, ARGOCD_KNOWN_HOSTS_KEY};

const KARGO_SELECTOR: &str = "kargo.akuity.io/cred-type";
const ARGOCD_SELECTOR: &str = "argocd.argoproj.io/secret-type in (repository,repo-creds)";

/// A credential lookup through the Kubernetes API that failed.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// Listing the labelled Secrets of a namespace failed.
    #[error("listing credential Secrets in namespace {namespace}: {source}")]
    List {
        /// The namespace listed.
        namespace: String,
        /// The API's error.
        #[source]
        source: kube::Error,
    },
    /// Reading a ConfigMap (the SSH known hosts) failed.
    #[error("reading ConfigMap {namespace}/{name}: {source}")]
    Get {
        /// The ConfigMap's namespace.
        namespace: String,
        /// The ConfigMap's name.
        name: &'static str,
        /// The API's error.
        #[source]
        source: kube::Error,
    },
    /// A chosen Secret is malformed.
    #[error(transparent)]
    Credential(#[from] CredentialError),
}

impl Classify for SecretsError {
    /// API answers follow [`Disposition::of_http_status`] and a lost connection is retried; a
    /// malformed Secret is not.
    fn disposition(&self) -> Disposition {
        match self {
            Self::List { source, .. } | Self::Get { source, .. } => kube_disposition(source),
            Self::Credential(e) => e.disposition(),
        }
    }
}

/// The disposition of a failed Kubernetes API call: the status it answered, or a retry when
/// no answer came (the connection, the stream); a request that could not be built or
/// decoded, or a client that could not be configured, is given up.
fn kube_disposition(error: &kube::Error) -> Disposition {
    match error {
        kube::Error::Api(status) => Disposition::of_http_status(status.code),
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => {
            Disposition::Retry
        }
        _ => Disposition::GiveUp,
    }
}

/// Looks credentials up in the cluster a client points at.
#[derive(Clone)]
pub struct ClusterSecrets {
    client: kube::Client,
}

impl ClusterSecrets {
    /// Lookups through `client`, with the permissions it carries.
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }

    /// Kargo credential Secrets of `request.namespaces` (the Project's, then the shared one).
    pub async fn kargo(&self, request: &KargoRequest<'_>) -> Result<Lookup, SecretsError> {
        let mut secrets = Vec::new();
        for namespace in request.namespaces {
            secrets.extend(self.list(namespace, KARGO_SELECTOR).await?);
        }
        Ok(kargo_credentials(&secrets, request)?)
    }

    /// Argo CD repository and repo-creds Secrets of Argo CD's namespace.
    pub async fn argocd(
        &self,
        namespace: &str,
        request: &ArgoCdRequest<'_>,
    ) -> Result<Lookup, SecretsError> {
        let secrets = self.list(namespace, ARGOCD_SELECTOR).await?;
        Ok(argocd_credentials(&secrets, request)?)
    }

    /// The SSH known hosts Argo CD keeps in its namespace (`ssh_known_hosts` of the
    /// `argocd-ssh-known-hosts-cm` ConfigMap); `None` when there is no such ConfigMap or key.
    pub async fn argocd_known_hosts(
        &self,
        namespace: &str,
    ) -> Result<Option<String>, SecretsError> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), namespace);
        let configmap = api
            .get_opt(ARGOCD_KNOWN_HOSTS_CONFIGMAP)
            .await
            .map_err(|source| SecretsError::Get {
                namespace: namespace.to_string(),
                name: ARGOCD_KNOWN_HOSTS_CONFIGMAP,
                source,
            })?;
        Ok(configmap
            .and_then(|c| c.data)
            .and_then(|mut data| data.remove(ARGOCD_KNOWN_HOSTS_KEY)))
    }

    async fn list(&self, namespace: &str, selector: &str) -> Result<Vec<Value>, SecretsError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let list = api
            .list(&ListParams::default().labels(selector))
            .await
            .map_err(|source| SecretsError::List {
                namespace: namespace.to_string(),
                source,
            })?;
        // The matchers read Secrets as the API serves them (base64 `data`, `stringData`).
        Ok(list
            .items
            .iter()
            .filter_map(|s| serde_json::to_value(s).ok())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure("refused", "Reason")
                .with_code(code)
                .boxed(),
        )
    }

    #[test]
    fn api_errors_follow_the_status_and_a_bad_secret_is_given_up() {
        let list = |source| SecretsError::List {
            namespace: "argocd".into(),
            source,
        };
        let table = [
            (list(api(503)), Disposition::Retry),
            (list(api(429)), Disposition::Retry),
            (list(api(403)), Disposition::GiveUp),
            (list(api(404)), Disposition::Wait),
            (
                list(kube::Error::ReadEvents(std::io::Error::other("reset"))),
                Disposition::Retry,
            ),
            (list(kube::Error::TlsRequired), Disposition::GiveUp),
            (
                SecretsError::Get {
                    namespace: "argocd".into(),
                    name: ARGOCD_KNOWN_HOSTS_CONFIGMAP,
                    source: api(500),
                },
                Disposition::Retry,
            ),
            (
                SecretsError::Credential(CredentialError::InvalidRegex {
                    secret: crate::credentials::SecretRef {
                        namespace: "argocd".into(),
                        name: "repo".into(),
                    },
                    reason: "unclosed group",
                }),
                Disposition::GiveUp,
            ),
        ];
        for (error, expected) in table {
            assert_eq!(error.disposition(), expected, "{error}");
        }
    }
}
