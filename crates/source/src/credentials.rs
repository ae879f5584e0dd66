//! Credentials for a repository, as found in Argo CD repository Secrets and Kargo credential
//! Secrets. They never print: `Debug` redacts every secret part, and no error names a value.
//!
//! The lookups are pure functions over Secret objects (`serde_json::Value`, as the API returns
//! them; values in `data` are base64, values in `stringData` plain, and `stringData` wins):
//!
//! - [`argocd_credentials`]: Secrets labelled `argocd.argoproj.io/secret-type: repository`
//!   match when their `url` normalizes to the requested URL; a Secret scoped to the
//!   Application's `project` beats an unscoped one, and one scoped to another project never
//!   matches. A matching repository that carries no credentials falls back to the credential
//!   templates (`secret-type: repo-creds`), which match by URL prefix, longest first. Unlike
//!   Argo CD, a prefix only matches at a path boundary, so credentials for
//!   `https://github.com/org` are not lent to `https://github.com/org-evil/x` or to
//!   `https://github.com.attacker.example/`. Equal candidates are ordered by Secret name.
//! - [`kargo_credentials`]: Secrets labelled `kargo.akuity.io/cred-type: git|helm|image|generic`,
//!   one namespace after another (the Project's, then the shared one). Within a namespace,
//!   Secrets are taken in name order, and an exact `repoURL` match beats a regex one
//!   (`repoURLIsRegex: "true"`), as Kargo's docs state. `http://` URLs get no credentials
//!   unless the caller allows it, as Kargo's `ALLOW_CREDENTIALS_OVER_HTTP`.
//!
//! Only the chosen Secret's credential fields are decoded. A labelled Secret whose URL cannot
//! be read is skipped and reported in [`Lookup::skipped`]; a chosen Secret whose credential
//! fields are malformed is an error. Errors name the Secret and the field, never the value.

use std::cmp::Reverse;
use std::fmt;

use base64::Engine;
use ferry_api::{Classify, Disposition};
use serde_json::Value;

use crate::url::{RepoUrl, Scheme, UrlError, UrlPolicy, check_characters};

/// What a client presents to a repository or registry.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The user name for HTTP basic auth (`username`).
    pub username: Option<String>,
    /// The password or token for HTTP basic auth (`password`).
    pub password: Option<String>,
    /// A private key in OpenSSH or PEM form, for `ssh://` and scp-style Git URLs
    /// (`sshPrivateKey` in Argo CD and Kargo Secrets).
    pub ssh_private_key: Option<String>,
    /// Accept any SSH host key (Argo CD's `insecure: "true"`); otherwise the host must be in
    /// the known hosts ([`crate::ssh`]).
    pub insecure_ignore_host_key: bool,
}

impl Credentials {
    /// A username and password for HTTP basic auth.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: Some(username.into()),
            password: Some(password.into()),
            ..Self::default()
        }
    }

    /// An SSH key alone.
    pub fn ssh_key(key: impl Into<String>) -> Self {
        Self {
            ssh_private_key: Some(key.into()),
            ..Self::default()
        }
    }

    /// Whether there is nothing to present at all.
    pub fn is_empty(&self) -> bool {
        self.username.is_none() && self.password.is_none() && self.ssh_private_key.is_none()
    }

    /// Whether there is a username or password to send (HTTP basic auth).
    pub fn has_basic(&self) -> bool {
        self.username.is_some() || self.password.is_some()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field(
                "ssh_private_key",
                &self.ssh_private_key.as_ref().map(|_| "<redacted>"),
            )
            .field("insecure_ignore_host_key", &self.insecure_ignore_host_key)
            .finish()
    }
}

/// Label that marks Argo CD repository and credential-template Secrets.
pub const ARGOCD_SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";
/// Label that marks Kargo credential Secrets.
pub const KARGO_CRED_TYPE_LABEL: &str = "kargo.akuity.io/cred-type";

/// Argo CD's credential fields other than username and password: a repository Secret holding
/// any of them has credentials of its own, so templates do not apply (`HasCredentials`).
const ARGOCD_OTHER_CREDENTIAL_FIELDS: [&str; 5] = [
    "bearerToken",
    "sshPrivateKey",
    "tlsClientCertKey",
    "githubAppPrivateKey",
    "gcpServiceAccountKey",
];

/// Which Secret a result or an error is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretRef {
    /// The Secret's namespace; empty when the caller did not say.
    pub namespace: String,
    /// The Secret's name.
    pub name: String,
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.name.is_empty() {
            "<unnamed>"
        } else {
            &self.name
        };
        if self.namespace.is_empty() {
            f.write_str(name)
        } else {
            write!(f, "{}/{name}", self.namespace)
        }
    }
}

/// A Secret that cannot be used, or a URL that cannot be looked up. Fix the Secret or the URL;
/// retrying does not help. Messages name Secrets and fields, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// A section of the Secret (`data`, `stringData`) is not a JSON object.
    #[error("Secret {secret}: `{section}` is not an object")]
    NotAnObject {
        /// The Secret.
        secret: SecretRef,
        /// The section: `data` or `stringData`.
        section: &'static str,
    },
    /// A credential field's value is not a string.
    #[error("Secret {secret}: `{section}.{field}` is not a string")]
    NotAString {
        /// The Secret.
        secret: SecretRef,
        /// The section: `data` or `stringData`.
        section: &'static str,
        /// The field, such as `password`.
        field: &'static str,
    },
    /// A field in `data` does not decode as base64.
    #[error("Secret {secret}: `data.{field}` is not valid base64")]
    InvalidBase64 {
        /// The Secret.
        secret: SecretRef,
        /// The field.
        field: &'static str,
    },
    /// A field in `data` decodes to bytes that are not UTF-8.
    #[error("Secret {secret}: `data.{field}` is not UTF-8 text")]
    NotUtf8 {
        /// The Secret.
        secret: SecretRef,
        /// The field.
        field: &'static str,
    },
    /// A field the lookup needs (`url`, `repoURL`) is absent.
    #[error("Secret {secret}: has no `{field}`")]
    MissingField {
        /// The Secret.
        secret: SecretRef,
        /// The field.
        field: &'static str,
    },
    /// The Secret's URL field cannot be parsed or is refused by the URL policy.
    #[error("Secret {secret}: `{field}` is not a usable repository URL: {source}")]
    InvalidUrl {
        /// The Secret.
        secret: SecretRef,
        /// The field, such as `url`.
        field: &'static str,
        /// Why the URL is refused.
        source: UrlError,
    },
    /// A `repoURL` marked `repoURLIsRegex` does not compile.
    #[error("Secret {secret}: `repoURL` is not a valid regular expression ({reason})")]
    InvalidRegex {
        /// The Secret.
        secret: SecretRef,
        /// Why it does not compile (never the pattern itself).
        reason: &'static str,
    },
    /// The URL credentials were asked for cannot be parsed.
    #[error("cannot look up credentials: {0}")]
    InvalidRequestUrl(#[source] UrlError),
}

impl Classify for CredentialError {
    /// A malformed Secret or request URL: a person must fix it.
    fn disposition(&self) -> Disposition {
        Disposition::GiveUp
    }
}

/// The Secret that matched and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The Secret that matched.
    pub secret: SecretRef,
    /// Username and password; empty when the Secret holds another kind of credential
    /// (an SSH key, a GitHub App) or none.
    pub credentials: Credentials,
}

/// The result of a lookup.
#[derive(Debug, Default)]
pub struct Lookup {
    /// The Secret chosen, if any matched.
    pub found: Option<Found>,
    /// Labelled Secrets that were passed over because they could not be read; log them.
    pub skipped: Vec<CredentialError>,
}

/// Argo CD's repository `type`. It decides how URLs normalize: OCI references
/// (`oci://registry/path` or `registry/path`) are not Git URLs. Like Argo CD, matching does not
/// filter Secrets by their own `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgoCdRepoType {
    /// A Git repository.
    Git,
    /// A classic Helm chart repository (`index.yaml` over HTTP).
    Helm,
    /// An OCI registry (charts or images).
    Oci,
}

/// What an Application needs credentials for.
#[derive(Clone, Copy, Debug)]
pub struct ArgoCdRequest<'a> {
    /// The repository URL as the Application names it.
    pub url: &'a str,
    /// The kind of repository, which decides how URLs normalize.
    pub repo_type: ArgoCdRepoType,
    /// The Application's `spec.project`; Secrets with another `project` never match.
    pub project: Option<&'a str>,
}

/// Finds credentials for `request` among Argo CD Secrets (those of the Argo CD namespace).
pub fn argocd_credentials(
    secrets: &[Value],
    request: &ArgoCdRequest<'_>,
) -> Result<Lookup, CredentialError> {
    let key = argocd_key(request.repo_type, request.url)
        .map_err(CredentialError::InvalidRequestUrl)?
        .to_ascii_lowercase();
    let mut skipped = Vec::new();

    let mut repository: Option<(u8, SecretView<'_>)> = None;
    for secret in labelled(secrets, ARGOCD_SECRET_TYPE_LABEL, "repository") {
        let Some(url_key) = secret_key(&secret, "url", request.repo_type, &mut skipped) else {
            continue;
        };
        if url_key != key {
            continue;
        }
        let project = match secret.text("project") {
            Ok(project) => project.unwrap_or_default(),
            Err(e) => {
                skipped.push(e);
                continue;
            }
        };
        let rank = match project.trim() {
            "" => 1,
            p if Some(p) == request.project => 0,
            _ => continue,
        };
        if repository
            .as_ref()
            .is_none_or(|(best, view)| (rank, &secret.reference) < (*best, &view.reference))
        {
            repository = Some((rank, secret));
        }
    }
    if let Some((_, secret)) = repository {
        let credentials = secret.argocd_credentials()?;
        if !credentials.is_empty() || secret.has_any(&ARGOCD_OTHER_CREDENTIAL_FIELDS)? {
            return Ok(Lookup {
                found: Some(Found {
                    secret: secret.reference,
                    credentials,
                }),
                skipped,
            });
        }
    }

    let mut template: Option<(usize, SecretView<'_>)> = None;
    for secret in labelled(secrets, ARGOCD_SECRET_TYPE_LABEL, "repo-creds") {
        let Some(prefix) = secret_key(&secret, "url", request.repo_type, &mut skipped) else {
            continue;
        };
        if !is_path_prefix(&prefix, &key) {
            continue;
        }
        let better = template.as_ref().is_none_or(|(len, view)| {
            (Reverse(prefix.len()), &secret.reference) < (Reverse(*len), &view.reference)
        });
        if better {
            template = Some((prefix.len(), secret));
        }
    }
    let found = match template {
        Some((_, secret)) => Some(Found {
            credentials: secret.argocd_credentials()?,
            secret: secret.reference,
        }),
        None => None,
    };
    Ok(Lookup { found, skipped })
}

/// Kargo's credential types (the value of `kargo.akuity.io/cred-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KargoCredType {
    /// Git repositories (`git`).
    Git,
    /// Helm chart repositories, classic or OCI (`helm`).
    Helm,
    /// Container image registries (`image`).
    Image,
    /// Anything else a promotion step calls (`generic`).
    Generic,
}

impl KargoCredType {
    /// The label value that marks Secrets of this type.
    pub fn label_value(self) -> &'static str {
        match self {
            KargoCredType::Git => "git",
            KargoCredType::Helm => "helm",
            KargoCredType::Image => "image",
            KargoCredType::Generic => "generic",
        }
    }
}

/// What a Warehouse or promotion step needs credentials for.
#[derive(Clone, Copy, Debug)]
pub struct KargoRequest<'a> {
    /// The subscription's or step's `repoURL`.
    pub url: &'a str,
    /// The kind of credentials wanted; only Secrets with this label value match.
    pub cred_type: KargoCredType,
    /// Namespaces to search, in order: the Project's, then the shared-resources namespace.
    /// Secrets in any other namespace are ignored.
    pub namespaces: &'a [&'a str],
    /// Hand credentials to `http://` URLs (Kargo's `ALLOW_CREDENTIALS_OVER_HTTP`).
    pub allow_http: bool,
}

/// Finds credentials for `request` among Kargo credential Secrets.
pub fn kargo_credentials(
    secrets: &[Value],
    request: &KargoRequest<'_>,
) -> Result<Lookup, CredentialError> {
    let raw = request.url.trim();
    let insecure = raw
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"));
    if insecure && !request.allow_http {
        return Ok(Lookup::default());
    }
    let key = kargo_key(request.cred_type, raw).map_err(CredentialError::InvalidRequestUrl)?;
    let regex_subjects = kargo_regex_subjects(request.cred_type, raw, &key);
    let mut skipped = Vec::new();

    for namespace in request.namespaces {
        let mut candidates: Vec<SecretView<'_>> = labelled(
            secrets,
            KARGO_CRED_TYPE_LABEL,
            request.cred_type.label_value(),
        )
        .filter(|s| s.reference.namespace == *namespace)
        .collect();
        candidates.sort_by(|a, b| a.reference.name.cmp(&b.reference.name));

        let mut exact = None;
        let mut by_regex = None;
        for secret in candidates {
            let is_regex = match secret.text("repoURLIsRegex") {
                Ok(flag) => flag.is_some_and(|f| f.trim() == "true"),
                Err(e) => {
                    skipped.push(e);
                    continue;
                }
            };
            if !is_regex {
                let Some(secret_key) = kargo_secret_key(&secret, request.cred_type, &mut skipped)
                else {
                    continue;
                };
                if secret_key == key {
                    // Names are sorted, and an exact match beats any regex: done here.
                    exact = Some(secret);
                    break;
                }
                continue;
            }
            if by_regex.is_some() {
                continue;
            }
            match secret.regex() {
                Ok(regex) => {
                    if regex_subjects.iter().any(|s| regex.is_match(s)) {
                        by_regex = Some(secret);
                    }
                }
                Err(e) => skipped.push(e),
            }
        }
        if let Some(secret) = exact.or(by_regex) {
            return Ok(Lookup {
                found: Some(Found {
                    credentials: secret.kargo_credentials()?,
                    secret: secret.reference,
                }),
                skipped,
            });
        }
    }
    Ok(Lookup {
        found: None,
        skipped,
    })
}

/// One Secret object, read field by field.
struct SecretView<'a> {
    reference: SecretRef,
    value: &'a Value,
}

fn labelled<'a>(
    secrets: &'a [Value],
    label: &'a str,
    wanted: &'a str,
) -> impl Iterator<Item = SecretView<'a>> + 'a {
    secrets
        .iter()
        .filter(move |s| {
            s.pointer("/metadata/labels")
                .and_then(|labels| labels.get(label))
                .and_then(Value::as_str)
                == Some(wanted)
        })
        .map(SecretView::new)
}

impl<'a> SecretView<'a> {
    fn new(value: &'a Value) -> Self {
        let meta = |key: &str| {
            value
                .pointer(&format!("/metadata/{key}"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        SecretView {
            reference: SecretRef {
                namespace: meta("namespace"),
                name: meta("name"),
            },
            value,
        }
    }

    fn section(&self, section: &'static str) -> Result<Option<&'a Value>, CredentialError> {
        match self.value.get(section) {
            None | Some(Value::Null) => Ok(None),
            Some(map @ Value::Object(_)) => Ok(Some(map)),
            Some(_) => Err(CredentialError::NotAnObject {
                secret: self.reference.clone(),
                section,
            }),
        }
    }

    /// A field's text: `stringData` first, as the API server merges it over `data`.
    fn text(&self, field: &'static str) -> Result<Option<String>, CredentialError> {
        let not_a_string = |section| CredentialError::NotAString {
            secret: self.reference.clone(),
            section,
            field,
        };
        if let Some(plain) = self.section("stringData")?.and_then(|m| m.get(field)) {
            return match plain {
                Value::String(s) => Ok(Some(s.clone())),
                _ => Err(not_a_string("stringData")),
            };
        }
        let Some(encoded) = self.section("data")?.and_then(|m| m.get(field)) else {
            return Ok(None);
        };
        let Value::String(encoded) = encoded else {
            return Err(not_a_string("data"));
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| CredentialError::InvalidBase64 {
                secret: self.reference.clone(),
                field,
            })?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| CredentialError::NotUtf8 {
                secret: self.reference.clone(),
                field,
            })
    }

    /// Kargo's credential fields: `username`, `password`, `sshPrivateKey`.
    fn kargo_credentials(&self) -> Result<Credentials, CredentialError> {
        let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
        Ok(Credentials {
            username: non_empty(self.text("username")?),
            password: non_empty(self.text("password")?),
            ssh_private_key: non_empty(self.text("sshPrivateKey")?),
            insecure_ignore_host_key: false,
        })
    }

    /// Argo CD's: Kargo's and `insecure` (`"true"`: any SSH host key is accepted).
    fn argocd_credentials(&self) -> Result<Credentials, CredentialError> {
        Ok(Credentials {
            insecure_ignore_host_key: self
                .text("insecure")?
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
            ..self.kargo_credentials()?
        })
    }

    fn has_any(&self, fields: &[&'static str]) -> Result<bool, CredentialError> {
        for field in fields {
            if self.text(field)?.is_some_and(|v| !v.is_empty()) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn regex(&self) -> Result<regex::Regex, CredentialError> {
        let pattern = self
            .text("repoURL")?
            .ok_or_else(|| CredentialError::MissingField {
                secret: self.reference.clone(),
                field: "repoURL",
            })?;
        regex::RegexBuilder::new(pattern.trim())
            .size_limit(1 << 20)
            .build()
            .map_err(|e| CredentialError::InvalidRegex {
                secret: self.reference.clone(),
                reason: match e {
                    regex::Error::CompiledTooBig(_) => "too large",
                    _ => "syntax error",
                },
            })
    }
}

/// The normalized, lowercase URL of `field`, or `None` (and a report) when it is unusable.
fn secret_key(
    secret: &SecretView<'_>,
    field: &'static str,
    repo_type: ArgoCdRepoType,
    skipped: &mut Vec<CredentialError>,
) -> Option<String> {
    let url = match secret.text(field) {
        Ok(Some(url)) => url,
        Ok(None) => {
            skipped.push(CredentialError::MissingField {
                secret: secret.reference.clone(),
                field,
            });
            return None;
        }
        Err(e) => {
            skipped.push(e);
            return None;
        }
    };
    match argocd_key(repo_type, url.trim()) {
        Ok(key) => Some(key.to_ascii_lowercase()),
        Err(source) => {
            skipped.push(CredentialError::InvalidUrl {
                secret: secret.reference.clone(),
                field,
                source,
            });
            None
        }
    }
}

fn kargo_secret_key(
    secret: &SecretView<'_>,
    cred_type: KargoCredType,
    skipped: &mut Vec<CredentialError>,
) -> Option<String> {
    let url = match secret.text("repoURL") {
        Ok(Some(url)) => url,
        Ok(None) => {
            skipped.push(CredentialError::MissingField {
                secret: secret.reference.clone(),
                field: "repoURL",
            });
            return None;
        }
        Err(e) => {
            skipped.push(e);
            return None;
        }
    };
    match kargo_key(cred_type, url.trim()) {
        Ok(key) => Some(key),
        Err(source) => {
            skipped.push(CredentialError::InvalidUrl {
                secret: secret.reference.clone(),
                field: "repoURL",
                source,
            });
            None
        }
    }
}

/// `url` as Argo CD compares it; callers lowercase it, as `NormalizeGitURL` does.
fn argocd_key(repo_type: ArgoCdRepoType, url: &str) -> Result<String, UrlError> {
    let is_oci = repo_type == ArgoCdRepoType::Oci
        || (repo_type == ArgoCdRepoType::Helm && (has_oci_scheme(url) || !url.contains("://")));
    if is_oci {
        oci_key(url)
    } else {
        Ok(RepoUrl::parse(url, &UrlPolicy::WITH_FILE)?.normalized())
    }
}

/// `url` as Kargo compares it (`NormalizeGit`, `NormalizeChart`, `NormalizeImage`), lowercase
/// except for generic credentials, which match verbatim.
fn kargo_key(cred_type: KargoCredType, url: &str) -> Result<String, UrlError> {
    Ok(match cred_type {
        KargoCredType::Git => RepoUrl::parse(url, &UrlPolicy::NETWORK)?
            .normalized()
            .to_ascii_lowercase(),
        KargoCredType::Helm => {
            check_characters(url)?;
            let lower = url.to_ascii_lowercase();
            let bare = lower.strip_prefix("oci://").unwrap_or(&lower);
            if bare.contains("://") {
                bare.to_owned()
            } else {
                image_key(bare)
            }
        }
        KargoCredType::Image => {
            check_characters(url)?;
            image_key(url).to_ascii_lowercase()
        }
        KargoCredType::Generic => url.to_owned(),
    })
}

/// What a `repoURLIsRegex` pattern is tried against: the URL as given, its normalized key and,
/// for SSH, the key with the user name Kargo's normalization keeps (`ssh://git@host/path`).
fn kargo_regex_subjects(cred_type: KargoCredType, raw: &str, key: &str) -> Vec<String> {
    let mut subjects = vec![raw.to_owned(), key.to_owned()];
    if cred_type == KargoCredType::Git
        && let Ok(url) = RepoUrl::parse(raw, &UrlPolicy::NETWORK)
        && url.scheme() == Scheme::Ssh
        && let (Some(user), Some(rest)) = (url.username(), key.strip_prefix("ssh://"))
    {
        subjects.push(format!("ssh://{}@{rest}", user.to_ascii_lowercase()));
    }
    subjects
}

fn has_oci_scheme(url: &str) -> bool {
    url.get(..6)
        .is_some_and(|s| s.eq_ignore_ascii_case("oci://"))
}

/// `oci://Registry.example/Path/` and `registry.example/Path` both become
/// `oci://registry.example/Path`.
fn oci_key(url: &str) -> Result<String, UrlError> {
    check_characters(url)?;
    let bare = if has_oci_scheme(url) { &url[6..] } else { url };
    let (host, path) = match bare.find('/') {
        Some(i) => bare.split_at(i),
        None => (bare, ""),
    };
    if host.is_empty() {
        return Err(UrlError::EmptyHost);
    }
    if host.starts_with('-') {
        return Err(UrlError::OptionLikeHostOrUser);
    }
    Ok(format!(
        "oci://{}{}",
        host.to_ascii_lowercase(),
        path.trim_end_matches('/')
    ))
}

/// Kargo's `NormalizeImage`: no tag or digest, Docker Hub without its host names and without
/// `library/`, every other registry kept.
fn image_key(reference: &str) -> String {
    let without_digest = reference.split('@').next().unwrap_or(reference);
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    let name = match without_digest[last_slash..].find(':') {
        Some(colon) => &without_digest[..last_slash + colon],
        None => without_digest,
    };
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (first.to_ascii_lowercase(), rest)
        }
        _ => ("docker.io".to_owned(), name),
    };
    match registry.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => repository
            .strip_prefix("library/")
            .unwrap_or(repository)
            .to_owned(),
        _ => format!("{registry}/{repository}"),
    }
}

/// Whether `prefix` names `key` or a path above it. Both are normalized and lowercase.
fn is_path_prefix(prefix: &str, key: &str) -> bool {
    match key.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || prefix.ends_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn argo_secret(name: &str, secret_type: &str, fields: &[(&str, &str)]) -> Value {
        let data: serde_json::Map<String, Value> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String(b64(v))))
            .collect();
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": "argocd",
                "labels": {ARGOCD_SECRET_TYPE_LABEL: secret_type},
            },
            "data": data,
        })
    }

    fn kargo_secret(
        namespace: &str,
        name: &str,
        cred_type: &str,
        fields: &[(&str, &str)],
    ) -> Value {
        let data: serde_json::Map<String, Value> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect();
        json!({
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {KARGO_CRED_TYPE_LABEL: cred_type},
            },
            "stringData": data,
        })
    }

    fn git(url: &str) -> ArgoCdRequest<'_> {
        ArgoCdRequest {
            url,
            repo_type: ArgoCdRepoType::Git,
            project: Some("default"),
        }
    }

    fn found_name(lookup: &Lookup) -> Option<&str> {
        lookup.found.as_ref().map(|f| f.secret.name.as_str())
    }

    #[test]
    fn debug_never_shows_the_password() {
        let c = Credentials::basic("alice", "hunter2");
        let shown = format!("{c:?}");
        assert!(shown.contains("alice"));
        assert!(!shown.contains("hunter2"));
    }

    #[test]
    fn argocd_repository_matches_by_normalized_url() {
        let secrets = [argo_secret(
            "repo",
            "repository",
            &[
                ("url", "https://github.com/org/Repo"),
                ("username", "alice"),
                ("password", "s3cret"),
            ],
        )];
        for url in [
            "https://GitHub.com/org/Repo.git/",
            "https://github.com/org/repo",
            "https://bob@github.com:443/org/Repo.git",
        ] {
            let lookup = argocd_credentials(&secrets, &git(url)).unwrap();
            let found = lookup.found.expect(url);
            assert_eq!(found.credentials, Credentials::basic("alice", "s3cret"));
            assert_eq!(found.secret.to_string(), "argocd/repo");
        }
        for url in [
            "http://github.com/org/Repo",
            "https://github.com/org/Repo2",
            "https://gitlab.com/org/Repo",
            "git@github.com:org/Repo.git",
        ] {
            let lookup = argocd_credentials(&secrets, &git(url)).unwrap();
            assert!(lookup.found.is_none(), "{url}");
        }
    }

    #[test]
    fn argocd_repository_beats_templates_and_longest_prefix_wins() {
        let secrets = [
            argo_secret(
                "a-host",
                "repo-creds",
                &[
                    ("url", "https://github.com"),
                    ("username", "host"),
                    ("password", "p"),
                ],
            ),
            argo_secret(
                "b-org",
                "repo-creds",
                &[
                    ("url", "https://github.com/argoproj/"),
                    ("username", "org"),
                    ("password", "p"),
                ],
            ),
            argo_secret(
                "c-repo",
                "repository",
                &[
                    ("url", "https://github.com/argoproj/argo-cd.git"),
                    ("username", "repo"),
                    ("password", "p"),
                ],
            ),
        ];
        let user = |url| {
            argocd_credentials(&secrets, &git(url))
                .unwrap()
                .found
                .and_then(|f| f.credentials.username)
        };
        assert_eq!(
            user("https://github.com/argoproj/argo-cd").as_deref(),
            Some("repo")
        );
        assert_eq!(
            user("https://github.com/argoproj/argocd-example-apps").as_deref(),
            Some("org")
        );
        assert_eq!(
            user("https://github.com/akuity/kargo").as_deref(),
            Some("host")
        );
        // Prefixes match at path boundaries only.
        assert_eq!(
            user("https://github.com/argoproj-evil/x").as_deref(),
            Some("host")
        );
        assert_eq!(user("https://github.com.attacker.example/argoproj/x"), None);
        assert_eq!(user("https://github.com:8443/argoproj/x"), None);
        assert_eq!(user("http://github.com/argoproj/x"), None);
    }

    #[test]
    fn argocd_repository_without_credentials_falls_back_to_a_template() {
        let secrets = [
            argo_secret(
                "plain",
                "repository",
                &[("url", "https://github.com/org/repo")],
            ),
            argo_secret(
                "template",
                "repo-creds",
                &[
                    ("url", "https://github.com/org"),
                    ("username", "t"),
                    ("password", "p"),
                ],
            ),
            argo_secret(
                "ssh",
                "repository",
                &[
                    ("url", "git@github.com:org/other.git"),
                    ("sshPrivateKey", "KEY"),
                ],
            ),
        ];
        let lookup = argocd_credentials(&secrets, &git("https://github.com/org/repo")).unwrap();
        assert_eq!(found_name(&lookup), Some("template"));
        // A repository with an SSH key has credentials of its own: no template.
        let lookup = argocd_credentials(&secrets, &git("ssh://git@github.com/org/other")).unwrap();
        let found = lookup.found.unwrap();
        assert_eq!(found.secret.name, "ssh");
        assert_eq!(found.credentials.ssh_private_key.as_deref(), Some("KEY"));
        assert!(!found.credentials.has_basic());
        assert!(!found.credentials.insecure_ignore_host_key);
        assert!(!format!("{:?}", found.credentials).contains("KEY\""));
    }

    #[test]
    fn argocd_project_scoping() {
        let scoped = |name: &str, project: &str| {
            argo_secret(
                name,
                "repository",
                &[
                    ("url", "https://github.com/org/repo"),
                    ("username", name),
                    ("password", "p"),
                    ("project", project),
                ],
            )
        };
        let secrets = [
            scoped("a-other", "other"),
            scoped("b-global", ""),
            scoped("c-mine", "mine"),
        ];
        let lookup = |project| {
            argocd_credentials(
                &secrets,
                &ArgoCdRequest {
                    url: "https://github.com/org/repo",
                    repo_type: ArgoCdRepoType::Git,
                    project,
                },
            )
            .unwrap()
        };
        assert_eq!(found_name(&lookup(Some("mine"))), Some("c-mine"));
        assert_eq!(found_name(&lookup(Some("default"))), Some("b-global"));
        assert_eq!(found_name(&lookup(None)), Some("b-global"));
        let only_other = [scoped("a-other", "other")];
        let lookup = argocd_credentials(&only_other, &git("https://github.com/org/repo")).unwrap();
        assert!(lookup.found.is_none());
    }

    #[test]
    fn argocd_scp_prefixes_oci_and_string_data() {
        let mut template = argo_secret(
            "ssh",
            "repo-creds",
            &[("url", "git@GitHub.com:argoproj-labs")],
        );
        template["stringData"] = json!({"username": "git", "password": "from-string-data"});
        template["data"]["password"] = Value::String(b64("from-data"));
        let oci = argo_secret(
            "oci",
            "repository",
            &[
                ("url", "oci://GHCR.io/org/charts/"),
                ("type", "oci"),
                ("username", "o"),
                ("password", "p"),
            ],
        );
        let secrets = [template, oci];
        let lookup = argocd_credentials(
            &secrets,
            &git("ssh://git@github.com/argoproj-labs/repo.git"),
        )
        .unwrap();
        let found = lookup.found.unwrap();
        assert_eq!(found.secret.name, "ssh");
        assert_eq!(
            found.credentials.password.as_deref(),
            Some("from-string-data")
        );

        for (url, repo_type) in [
            ("ghcr.io/org/charts", ArgoCdRepoType::Oci),
            ("oci://ghcr.io/org/charts", ArgoCdRepoType::Helm),
        ] {
            let request = ArgoCdRequest {
                url,
                repo_type,
                project: None,
            };
            let lookup = argocd_credentials(&secrets, &request).unwrap();
            assert_eq!(found_name(&lookup), Some("oci"), "{url}");
        }
    }

    #[test]
    fn argocd_ignores_unlabelled_secrets_and_reports_unreadable_ones() {
        let mut unlabelled = argo_secret(
            "unlabelled",
            "repository",
            &[("url", "https://github.com/org/repo"), ("password", "p")],
        );
        unlabelled["metadata"]["labels"] = json!({});
        let cluster = argo_secret(
            "cluster",
            "cluster",
            &[("url", "https://github.com/org/repo"), ("password", "p")],
        );
        let mut bad_url = argo_secret("bad-url", "repository", &[("password", "p")]);
        bad_url["data"]["url"] = Value::String("%%%".to_owned());
        let ext = argo_secret(
            "ext",
            "repo-creds",
            &[("url", "ext::sh"), ("password", "p")],
        );
        let no_url = argo_secret("no-url", "repo-creds", &[("password", "p")]);
        let secrets = [unlabelled, cluster, bad_url, ext, no_url];
        let lookup = argocd_credentials(&secrets, &git("https://github.com/org/repo")).unwrap();
        assert!(lookup.found.is_none());
        let reports: Vec<String> = lookup.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            reports,
            [
                "Secret argocd/bad-url: `data.url` is not valid base64",
                "Secret argocd/ext: `url` is not a usable repository URL: \
                 git transport \"ext\" (`<transport>::<address>`) is not allowed",
                "Secret argocd/no-url: has no `url`",
            ]
        );
        assert!(matches!(
            argocd_credentials(&secrets, &git("--upload-pack=x")),
            Err(CredentialError::InvalidRequestUrl(UrlError::OptionLike))
        ));
    }

    #[test]
    fn malformed_secret_errors_name_the_secret_not_the_password() {
        let canary = "CANARY-hunter2!";
        let mut bad_base64 = argo_secret(
            "team-a-repo",
            "repository",
            &[
                ("url", "https://github.com/org/repo"),
                ("username", "alice"),
            ],
        );
        // Not base64: the decoder must not echo it.
        bad_base64["data"]["password"] = Value::String(canary.to_owned());
        let mut not_a_string = kargo_secret(
            "proj",
            "team-b-creds",
            "git",
            &[
                ("repoURL", "https://github.com/org/repo"),
                ("username", "bob"),
            ],
        );
        // CVE-2025-23216: a non-string stringData value printed itself in errors.
        not_a_string["stringData"]["password"] = json!({ "value": canary, "n": 12345678 });

        let err = argocd_credentials(
            std::slice::from_ref(&bad_base64),
            &git("https://github.com/org/repo"),
        )
        .unwrap_err();
        let message = err.to_string();
        assert_eq!(
            message,
            "Secret argocd/team-a-repo: `data.password` is not valid base64"
        );
        assert!(!format!("{err:?}").contains("CANARY"));

        let request = KargoRequest {
            url: "https://github.com/org/repo",
            cred_type: KargoCredType::Git,
            namespaces: &["proj"],
            allow_http: false,
        };
        let err = kargo_credentials(std::slice::from_ref(&not_a_string), &request).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Secret proj/team-b-creds: `stringData.password` is not a string"
        );
        assert!(!format!("{err:?}").contains("CANARY"));
        assert!(!format!("{err:?}").contains("12345678"));

        // A malformed Secret that does not match is never decoded.
        let lookup =
            argocd_credentials(&[bad_base64], &git("https://github.com/org/other")).unwrap();
        assert!(lookup.found.is_none() && lookup.skipped.is_empty());
    }

    fn kargo(url: &str, cred_type: KargoCredType) -> KargoRequest<'_> {
        KargoRequest {
            url,
            cred_type,
            namespaces: &["proj", "shared"],
            allow_http: false,
        }
    }

    #[test]
    fn kargo_exact_match_beats_regex_whatever_the_names() {
        let secrets = [
            kargo_secret(
                "proj",
                "a-regex",
                "git",
                &[
                    ("repoURL", r"^https://github\.com/example/.*$"),
                    ("repoURLIsRegex", "true"),
                    ("username", "regex"),
                    ("password", "p"),
                ],
            ),
            kargo_secret(
                "proj",
                "z-exact",
                "git",
                &[
                    ("repoURL", "https://github.com/example/repo.git"),
                    ("username", "exact"),
                    ("password", "p"),
                ],
            ),
        ];
        let found = |url| {
            found_name(&kargo_credentials(&secrets, &kargo(url, KargoCredType::Git)).unwrap())
                .map(str::to_owned)
        };
        assert_eq!(
            found("https://GitHub.com/example/repo").as_deref(),
            Some("z-exact")
        );
        assert_eq!(
            found("https://github.com/example/other").as_deref(),
            Some("a-regex")
        );
        assert_eq!(found("https://github.com/elsewhere/repo"), None);
    }

    #[test]
    fn ssh_keys_and_insecure_hosts() {
        let kargo_secrets = [kargo_secret(
            "proj",
            "deploy-key",
            "git",
            &[
                ("repoURL", "git@github.com:example/repo.git"),
                ("sshPrivateKey", "KEY"),
            ],
        )];
        let lookup = kargo_credentials(
            &kargo_secrets,
            &kargo("ssh://git@github.com/example/repo", KargoCredType::Git),
        )
        .unwrap();
        let creds = lookup.found.unwrap().credentials;
        assert_eq!(creds.ssh_private_key.as_deref(), Some("KEY"));
        assert!(!creds.insecure_ignore_host_key);

        let argo = [argo_secret(
            "repo",
            "repository",
            &[
                ("url", "git@github.com:example/repo.git"),
                ("sshPrivateKey", "KEY"),
                ("insecure", "true"),
            ],
        )];
        let creds = argocd_credentials(&argo, &git("git@github.com:example/repo"))
            .unwrap()
            .found
            .unwrap()
            .credentials;
        assert!(creds.insecure_ignore_host_key);
    }

    #[test]
    fn kargo_namespaces_in_order_and_names_in_lexical_order() {
        let secret = |ns: &str, name: &str, url: &str, regex: bool| {
            let flag = if regex { "true" } else { "false" };
            kargo_secret(
                ns,
                name,
                "git",
                &[
                    ("repoURL", url),
                    ("repoURLIsRegex", flag),
                    ("username", name),
                    ("password", "p"),
                ],
            )
        };
        let url = "https://github.com/example/repo";
        let secrets = [
            secret("shared", "a-shared-exact", url, false),
            secret("proj", "m-project-regex", "github.com/example", true),
            secret("proj", "b-second", "github\\.com", true),
            secret("other-project", "0-theirs", url, false),
        ];
        let lookup = kargo_credentials(&secrets, &kargo(url, KargoCredType::Git)).unwrap();
        // The Project's namespace first, even for a regex; then names in order.
        assert_eq!(found_name(&lookup), Some("b-second"));
        let lookup = kargo_credentials(&secrets[..1], &kargo(url, KargoCredType::Git)).unwrap();
        assert_eq!(found_name(&lookup), Some("a-shared-exact"));
        // Another Project's Secret is never used, even when handed in.
        let lookup = kargo_credentials(&secrets[3..], &kargo(url, KargoCredType::Git)).unwrap();
        assert!(lookup.found.is_none());
    }

    #[test]
    fn kargo_http_gets_no_credentials_unless_allowed() {
        let secrets = [kargo_secret(
            "proj",
            "plain",
            "helm",
            &[
                ("repoURL", "http://charts.example.com"),
                ("username", "u"),
                ("password", "p"),
            ],
        )];
        let mut request = kargo("HTTP://charts.example.com", KargoCredType::Helm);
        assert!(
            kargo_credentials(&secrets, &request)
                .unwrap()
                .found
                .is_none()
        );
        request.allow_http = true;
        let lookup = kargo_credentials(&secrets, &request).unwrap();
        assert_eq!(found_name(&lookup), Some("plain"));
    }

    #[test]
    fn kargo_normalizes_by_type() {
        let secrets = [
            kargo_secret(
                "proj",
                "hub",
                "image",
                &[
                    ("repoURL", "docker.io/library/nginx"),
                    ("username", "u"),
                    ("password", "p"),
                ],
            ),
            kargo_secret(
                "proj",
                "ghcr",
                "image",
                &[
                    ("repoURL", "ghcr.io/akuity/guestbook"),
                    ("username", "u"),
                    ("password", "p"),
                ],
            ),
            kargo_secret(
                "proj",
                "chart",
                "helm",
                &[
                    ("repoURL", "ghcr.io/example/charts/guestbook"),
                    ("username", "u"),
                    ("password", "p"),
                ],
            ),
            kargo_secret(
                "proj",
                "ssh",
                "git",
                &[
                    ("repoURL", "ssh://git@github.com/example/repo"),
                    ("username", "u"),
                    ("password", "p"),
                ],
            ),
            kargo_secret(
                "proj",
                "ssh-regex",
                "git",
                &[
                    ("repoURL", "^ssh://git@gitlab\\.com/"),
                    ("repoURLIsRegex", "true"),
                    ("username", "u"),
                    ("password", "p"),
                ],
            ),
        ];
        let cases = [
            ("nginx", KargoCredType::Image, Some("hub")),
            (
                "index.docker.io/library/nginx:1.25",
                KargoCredType::Image,
                Some("hub"),
            ),
            (
                "ghcr.io/akuity/guestbook@sha256:abc",
                KargoCredType::Image,
                Some("ghcr"),
            ),
            ("ghcr.io/akuity/other", KargoCredType::Image, None),
            (
                "oci://ghcr.io/example/charts/guestbook",
                KargoCredType::Helm,
                Some("chart"),
            ),
            ("oci://ghcr.io/example/charts", KargoCredType::Helm, None),
            (
                "git@github.com:example/repo.git",
                KargoCredType::Git,
                Some("ssh"),
            ),
            (
                "git@gitlab.com:example/repo.git",
                KargoCredType::Git,
                Some("ssh-regex"),
            ),
            // The type label must match too.
            ("ghcr.io/akuity/guestbook", KargoCredType::Helm, None),
        ];
        for (url, cred_type, expected) in cases {
            let lookup = kargo_credentials(&secrets, &kargo(url, cred_type)).unwrap();
            assert_eq!(found_name(&lookup), expected, "{url}");
        }
    }

    #[test]
    fn kargo_skips_bad_regexes_and_reports_them() {
        let secrets = [
            kargo_secret(
                "proj",
                "a-broken",
                "git",
                &[
                    ("repoURL", "(unclosed"),
                    ("repoURLIsRegex", "true"),
                    ("password", "p"),
                ],
            ),
            kargo_secret(
                "proj",
                "b-good",
                "git",
                &[
                    ("repoURL", "github\\.com"),
                    ("repoURLIsRegex", "true"),
                    ("username", "u"),
                    ("password", "p"),
                ],
            ),
        ];
        let lookup = kargo_credentials(
            &secrets,
            &kargo("https://github.com/x/y", KargoCredType::Git),
        )
        .unwrap();
        assert_eq!(found_name(&lookup), Some("b-good"));
        assert_eq!(
            lookup
                .skipped
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["Secret proj/a-broken: `repoURL` is not a valid regular expression (syntax error)"]
        );
    }

    #[test]
    fn path_prefixes() {
        assert!(is_path_prefix("https://h/org", "https://h/org"));
        assert!(is_path_prefix("https://h/org", "https://h/org/repo"));
        assert!(is_path_prefix("https://h", "https://h/org/repo"));
        assert!(!is_path_prefix("https://h/org", "https://h/organization"));
        assert!(!is_path_prefix("https://h", "https://h.evil/org"));
        assert!(!is_path_prefix("https://h/org/repo", "https://h/org"));
    }
}
