//! The Git hosts whose push webhooks Ferry understands, as Argo CD does: which one sent a
//! request (by its event header), how it proves it (the secret Argo CD keeps for it in
//! `argocd-secret`), and what the push says: the repository's web URLs, the pushed branch or
//! tag, whether it is the default branch, and the files the commits touched.

use axum::http::HeaderMap;
use serde_json::Value;

use super::WebhookError;
use super::signature;

/// A Git host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// `X-GitHub-Event`; `X-Hub-Signature-256`.
    GitHub,
    /// `X-Gitlab-Event`; `X-Gitlab-Token`.
    GitLab,
    /// Gitea and Gogs: `X-Gitea-Event` / `X-Gogs-Event`; `X-Gitea-Signature` /
    /// `X-Gogs-Signature`.
    Gogs,
    /// Bitbucket Cloud: `X-Event-Key: repo:push`; `X-Hook-UUID`.
    Bitbucket,
    /// Bitbucket Server (Data Center): `X-Event-Key: repo:refs_changed`; `X-Hub-Signature`.
    BitbucketServer,
}

/// What a webhook says.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A push.
    Push(Push),
    /// A test delivery (`ping`), acknowledged and otherwise ignored.
    Ping,
}

/// A push.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Push {
    /// The repository's URLs as the host names it.
    pub web_urls: Vec<String>,
    /// The branch or tag pushed (`main`, `v1.2.0`).
    pub revision: String,
    /// Whether it is the default branch (Bitbucket cannot say: assumed).
    pub touched_head: bool,
    /// Files the commits added, modified or removed; empty when the host does not say.
    pub changed_files: Vec<String>,
}

impl Provider {
    /// The host that sent a request with `headers`, if Ferry knows it.
    pub fn of(headers: &HeaderMap) -> Option<Provider> {
        let has = |name: &str| headers.contains_key(name);
        if has("x-github-event") {
            Some(Provider::GitHub)
        } else if has("x-gitlab-event") {
            Some(Provider::GitLab)
        } else if has("x-gitea-event") || has("x-gogs-event") {
            Some(Provider::Gogs)
        } else if has("x-event-key") {
            let cloud = has("x-hook-uuid") || header(headers, "x-event-key") == Some("repo:push");
            Some(if cloud {
                Provider::Bitbucket
            } else {
                Provider::BitbucketServer
            })
        } else {
            None
        }
    }

    /// The `argocd-secret` key that holds this host's webhook secret.
    pub fn secret_key(self) -> &'static str {
        match self {
            Provider::GitHub => "webhook.github.secret",
            Provider::GitLab => "webhook.gitlab.secret",
            Provider::Gogs => "webhook.gogs.secret",
            Provider::Bitbucket => "webhook.bitbucket.uuid",
            Provider::BitbucketServer => "webhook.bitbucketserver.secret",
        }
    }

    /// Checks the request against `secret`; with no secret configured, every request is
    /// accepted, as in Argo CD.
    pub fn verify(
        self,
        headers: &HeaderMap,
        body: &[u8],
        secret: Option<&str>,
    ) -> Result<(), WebhookError> {
        let Some(secret) = secret.filter(|s| !s.is_empty()) else {
            return Ok(());
        };
        let proof = match self {
            Provider::GitHub => header(headers, "x-hub-signature-256"),
            Provider::GitLab => header(headers, "x-gitlab-token"),
            Provider::Gogs => {
                header(headers, "x-gitea-signature").or(header(headers, "x-gogs-signature"))
            }
            Provider::Bitbucket => header(headers, "x-hook-uuid"),
            Provider::BitbucketServer => header(headers, "x-hub-signature"),
        };
        let Some(proof) = proof else {
            return Err(WebhookError::Unauthorized("the request is not signed"));
        };
        let valid = match self {
            Provider::GitLab | Provider::Bitbucket => {
                signature::equal(secret.as_bytes(), proof.as_bytes())
            }
            _ => signature::hmac_matches(secret, body, proof),
        };
        if valid {
            Ok(())
        } else {
            Err(WebhookError::Unauthorized("the signature does not match"))
        }
    }

    /// What the request says.
    pub fn parse(self, headers: &HeaderMap, body: &[u8]) -> Result<Event, WebhookError> {
        let event = match self {
            Provider::GitHub => header(headers, "x-github-event"),
            Provider::GitLab => header(headers, "x-gitlab-event"),
            Provider::Gogs => header(headers, "x-gitea-event").or(header(headers, "x-gogs-event")),
            Provider::Bitbucket | Provider::BitbucketServer => header(headers, "x-event-key"),
        }
        .unwrap_or_default()
        .to_string();
        let supported = match self {
            Provider::GitHub => matches!(event.as_str(), "push" | "ping"),
            Provider::GitLab => matches!(event.as_str(), "Push Hook" | "Tag Push Hook"),
            Provider::Gogs => event == "push",
            Provider::Bitbucket => event == "repo:push",
            Provider::BitbucketServer => {
                matches!(event.as_str(), "repo:refs_changed" | "diagnostics:ping")
            }
        };
        if !supported {
            return Err(WebhookError::UnsupportedEvent(event));
        }
        if matches!(event.as_str(), "ping" | "diagnostics:ping") {
            return Ok(Event::Ping);
        }
        let payload: Value = serde_json::from_slice(body).map_err(|_| WebhookError::Payload)?;
        let text = |pointer: &str| {
            payload
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let push = match self {
            Provider::GitHub | Provider::Gogs => {
                let revision = parse_revision(&text("/ref"));
                Push {
                    web_urls: vec![text("/repository/html_url")],
                    touched_head: text("/repository/default_branch") == revision,
                    changed_files: changed_files(&payload),
                    revision,
                }
            }
            Provider::GitLab => {
                let revision = parse_revision(&text("/ref"));
                Push {
                    web_urls: vec![text("/project/web_url")],
                    touched_head: text("/project/default_branch") == revision,
                    changed_files: changed_files(&payload),
                    revision,
                }
            }
            Provider::Bitbucket => Push {
                web_urls: vec![text("/repository/links/html/href")],
                revision: text("/push/changes/0/new/name"),
                touched_head: true,
                changed_files: Vec::new(),
            },
            Provider::BitbucketServer => {
                let clones = payload
                    .pointer("/repository/links/clone")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten();
                Push {
                    web_urls: clones
                        .filter(|l| matches!(l["name"].as_str(), Some("http" | "ssh")))
                        .filter_map(|l| l["href"].as_str().map(str::to_string))
                        .collect(),
                    revision: parse_revision(&text("/changes/0/ref/id")),
                    touched_head: true,
                    changed_files: Vec::new(),
                }
            }
        };
        Ok(Event::Push(Push {
            web_urls: push
                .web_urls
                .into_iter()
                .filter(|u| !u.is_empty())
                .collect(),
            ..push
        }))
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `refs/heads/main` → `main`, `refs/tags/v1` → `v1`, as Argo CD's `ParseRevision`.
pub fn parse_revision(reference: &str) -> String {
    reference
        .splitn(3, '/')
        .last()
        .unwrap_or_default()
        .to_string()
}

/// Every file the push's commits added, modified or removed.
fn changed_files(payload: &Value) -> Vec<String> {
    let commits = payload["commits"].as_array().into_iter().flatten();
    commits
        .flat_map(|c| ["added", "modified", "removed"].map(|k| &c[k]))
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderName, HeaderValue};
    use serde_json::json;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    fn push(provider: Provider, event_headers: &[(&str, &str)], payload: Value) -> Push {
        let body = serde_json::to_vec(&payload).unwrap();
        match provider.parse(&headers(event_headers), &body).unwrap() {
            Event::Push(push) => push,
            Event::Ping => panic!("a ping"),
        }
    }

    #[test]
    fn each_host_is_known_by_its_event_header() {
        let table = [
            (vec![("X-GitHub-Event", "push")], Some(Provider::GitHub)),
            (
                vec![("X-Gitlab-Event", "Push Hook")],
                Some(Provider::GitLab),
            ),
            (
                vec![("X-Gitea-Event", "push"), ("X-Gogs-Event", "push")],
                Some(Provider::Gogs),
            ),
            (
                vec![("X-Event-Key", "repo:push"), ("X-Hook-UUID", "u")],
                Some(Provider::Bitbucket),
            ),
            (
                vec![("X-Event-Key", "repo:refs_changed")],
                Some(Provider::BitbucketServer),
            ),
            (vec![("Content-Type", "application/json")], None),
        ];
        for (pairs, want) in table {
            assert_eq!(Provider::of(&headers(&pairs)), want, "{pairs:?}");
        }
    }

    #[test]
    fn pushes_say_what_changed() {
        let commits = json!([{"added": ["a.yaml"], "modified": ["env/dev/b.yaml"], "removed": []},
            {"added": [], "modified": [], "removed": ["old.yaml"]}]);
        let github = push(
            Provider::GitHub,
            &[("X-GitHub-Event", "push")],
            json!({"ref": "refs/heads/main", "commits": commits,
                "repository": {"html_url": "https://github.com/org/repo", "default_branch": "main"}}),
        );
        assert_eq!(
            github,
            Push {
                web_urls: vec!["https://github.com/org/repo".into()],
                revision: "main".into(),
                touched_head: true,
                changed_files: vec!["a.yaml".into(), "env/dev/b.yaml".into(), "old.yaml".into()],
            }
        );
        let gitlab = push(
            Provider::GitLab,
            &[("X-Gitlab-Event", "Tag Push Hook")],
            json!({"ref": "refs/tags/v1.2.0",
                "project": {"web_url": "https://gitlab.com/org/repo", "default_branch": "main"}}),
        );
        assert_eq!(
            (gitlab.revision.as_str(), gitlab.touched_head),
            ("v1.2.0", false)
        );
        let gitea = push(
            Provider::Gogs,
            &[("X-Gitea-Event", "push")],
            json!({"ref": "refs/heads/dev", "commits": [],
                "repository": {"html_url": "https://gitea.example.com/org/repo", "default_branch": "main"}}),
        );
        assert_eq!(
            (gitea.web_urls[0].as_str(), gitea.revision.as_str()),
            ("https://gitea.example.com/org/repo", "dev")
        );
        let cloud = push(
            Provider::Bitbucket,
            &[("X-Event-Key", "repo:push")],
            json!({"repository": {"links": {"html": {"href": "https://bitbucket.org/org/repo"}}},
                "push": {"changes": [{"new": {"type": "branch", "name": "main"}}]}}),
        );
        assert_eq!(
            (cloud.revision.as_str(), cloud.touched_head),
            ("main", true)
        );
        let server = push(
            Provider::BitbucketServer,
            &[("X-Event-Key", "repo:refs_changed")],
            json!({"repository": {"links": {"clone": [
                    {"name": "http", "href": "https://bitbucket.example.com/scm/org/repo.git"},
                    {"name": "ssh", "href": "ssh://git@bitbucket.example.com:7999/org/repo.git"}]}},
                "changes": [{"ref": {"id": "refs/heads/release/1.0"}}]}),
        );
        assert_eq!(server.web_urls.len(), 2);
        assert_eq!(server.revision, "release/1.0");
    }

    #[test]
    fn pings_unsupported_events_and_bad_bodies() {
        let ping = Provider::GitHub.parse(&headers(&[("X-GitHub-Event", "ping")]), b"{}");
        assert_eq!(ping.unwrap(), Event::Ping);
        let issue = Provider::GitHub.parse(&headers(&[("X-GitHub-Event", "issues")]), b"{}");
        assert!(matches!(issue, Err(WebhookError::UnsupportedEvent(e)) if e == "issues"));
        let garbage = Provider::GitHub.parse(&headers(&[("X-GitHub-Event", "push")]), b"{not json");
        assert!(matches!(garbage, Err(WebhookError::Payload)));
    }

    #[test]
    fn secrets_are_checked_per_host() {
        let body = b"{}";
        let sig: String = signature::hmac_sha256(b"k", body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let ok = [
            (
                Provider::GitHub,
                vec![("X-Hub-Signature-256", format!("sha256={sig}"))],
            ),
            (Provider::Gogs, vec![("X-Gitea-Signature", sig.clone())]),
            (
                Provider::BitbucketServer,
                vec![("X-Hub-Signature", format!("sha256={sig}"))],
            ),
            (Provider::GitLab, vec![("X-Gitlab-Token", "k".to_string())]),
            (Provider::Bitbucket, vec![("X-Hook-UUID", "k".to_string())]),
        ];
        for (provider, pairs) in ok {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let h = headers(&pairs);
            assert!(provider.verify(&h, body, Some("k")).is_ok(), "{provider:?}");
            assert!(
                provider.verify(&h, body, Some("other")).is_err(),
                "{provider:?}"
            );
            assert!(
                provider.verify(&headers(&[]), body, Some("k")).is_err(),
                "{provider:?}"
            );
            assert!(
                provider.verify(&headers(&[]), body, None).is_ok(),
                "{provider:?}"
            );
        }
    }
}
