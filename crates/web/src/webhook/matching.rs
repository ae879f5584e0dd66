//! Which Applications a push touches, by Argo CD's rules: a source whose `repoURL` is the
//! pushed repository in any of its spellings (`https://host/org/repo`, `.git` or not,
//! `git@host:org/repo.git`, `ssh://git@host:22/org/repo`, any case), whose `targetRevision` is
//! the pushed branch or tag (or a SemVer constraint the pushed tag meets; `HEAD` or empty
//! when the default branch was pushed), and, when the app sets
//! `argocd.argoproj.io/manifest-generate-paths`, one of whose paths a changed file is under.

use ferry_api::argocd::{Application, ApplicationSource};
use ferry_source::semver::{Constraint, Version};

/// Argo CD's annotation: the paths (`;`-separated, relative to the source's path, or from
/// the repository root with a leading `/`) whose changes concern the app.
pub const MANIFEST_GENERATE_PATHS: &str = "argocd.argoproj.io/manifest-generate-paths";

/// Whether the push to `web_url` at `revision` concerns `app`.
pub fn touches(
    app: &Application,
    web_url: &str,
    revision: &str,
    touched_head: bool,
    changed_files: &[String],
) -> bool {
    let sources: Vec<&ApplicationSource> =
        app.spec.source.iter().chain(&app.spec.sources).collect();
    sources.into_iter().any(|source| {
        revision_matches(source.target_revision.as_deref(), revision, touched_head)
            && repo_matches(web_url, &source.repo_url)
            && files_match(app, source, changed_files)
    })
}

/// Argo CD's `sourceRevisionHasChanged`.
pub fn revision_matches(target: Option<&str>, revision: &str, touched_head: bool) -> bool {
    let target = target.unwrap_or_default();
    let short = target.splitn(3, '/').last().unwrap_or_default();
    if short.is_empty() || short == "HEAD" {
        return touched_head;
    }
    let wanted = if target.starts_with("refs/heads/") || target.starts_with("refs/tags/") {
        short
    } else {
        target
    };
    if wanted == revision {
        return true;
    }
    match (Constraint::parse(wanted), Version::parse(revision)) {
        (Ok(constraint), Ok(version)) => constraint.matches(&version),
        _ => false,
    }
}

/// Whether `repo_url` names the repository at `web_url` (Argo CD's `GetWebURLRegex`: an
/// optional `http`/`https`/`ssh` scheme, an optional user, an optional `ssh.`/`altssh.`
/// subdomain, the host, an optional port, `:` or `/`, the path, an optional `.git`).
pub fn repo_matches(web_url: &str, repo_url: &str) -> bool {
    let Some((host, path)) = host_and_path(web_url) else {
        return false;
    };
    let mut rest = repo_url.to_ascii_lowercase();
    for scheme in ["https://", "http://", "ssh://"] {
        if let Some(stripped) = rest.strip_prefix(scheme) {
            rest = stripped.to_string();
            break;
        }
    }
    if let Some((user, after)) = rest.split_once('@')
        && !user.is_empty()
        && !user.contains(['/', ':'])
    {
        rest = after.to_string();
    }
    let candidates = [
        Some(rest.as_str()),
        rest.strip_prefix("ssh."),
        rest.strip_prefix("altssh."),
    ];
    candidates.into_iter().flatten().any(|candidate| {
        let Some(tail) = candidate.strip_prefix(host.as_str()) else {
            return false;
        };
        let tail = match tail.strip_prefix(':') {
            Some(after) if after.starts_with(|c: char| c.is_ascii_digit()) => {
                after.trim_start_matches(|c: char| c.is_ascii_digit())
            }
            _ => tail,
        };
        let Some(tail) = tail.strip_prefix([':', '/']) else {
            return false;
        };
        let tail = tail.strip_suffix(".git").unwrap_or(tail);
        tail == path
    })
}

/// The lowercase host and path (no leading or trailing `/`) of a web URL.
fn host_and_path(web_url: &str) -> Option<(String, String)> {
    let lower = web_url.to_ascii_lowercase();
    let (_, rest) = lower.split_once("://")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority.rsplit('@').next()?;
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    (!host.is_empty()).then(|| (host.to_string(), path.to_string()))
}

/// Argo CD's `AppFilesHaveChanged` over `GetSourceRefreshPaths`: true when the host listed no
/// files, when the app names no paths, or when a changed file is one of them, under one, or
/// matches one as a glob.
pub fn files_match(app: &Application, source: &ApplicationSource, changed: &[String]) -> bool {
    let annotation = app
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(MANIFEST_GENERATE_PATHS))
        .map(String::as_str)
        .unwrap_or_default();
    let source_path = source.path.as_deref().unwrap_or_default();
    let paths: Vec<String> = annotation
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.strip_prefix('/') {
            Some(from_root) => from_root.to_string(),
            None => join(source_path, p),
        })
        .collect();
    if changed.is_empty() || paths.is_empty() {
        return true;
    }
    changed.iter().any(|file| {
        let file = format!("/{}", file.trim_start_matches('/'));
        paths.iter().any(|path| {
            let path = format!("/{}", path.trim_matches('/'));
            file == path
                || file.starts_with(&format!("{}/", path.trim_end_matches('/')))
                || path == "/"
                || globset::Glob::new(&path).is_ok_and(|g| g.compile_matcher().is_match(&file))
        })
    })
}

/// `base/relative`, with `.` and `..` resolved.
fn join(base: &str, relative: &str) -> String {
    let mut parts: Vec<&str> = base
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_repository_has_many_spellings() {
        let web = "https://GitHub.com/org/repo";
        for url in [
            "https://github.com/org/repo",
            "https://github.com/org/repo.git",
            "http://github.com/Org/Repo",
            "git@github.com:org/repo.git",
            "ssh://git@github.com/org/repo.git",
            "ssh://git@ssh.github.com:443/org/repo.git",
            "github.com/org/repo",
        ] {
            assert!(repo_matches(web, url), "{url}");
        }
        for url in [
            "https://github.com/org/repo-other",
            "https://github.com/org/repo/sub",
            "https://gitlab.com/org/repo",
            "https://github.com.evil.example/org/repo",
        ] {
            assert!(!repo_matches(web, url), "{url}");
        }
        // A loopback server with a port.
        assert!(repo_matches(
            "http://127.0.0.1:4000/shop",
            "http://127.0.0.1:4000/shop.git"
        ));
    }

    #[test]
    fn revisions_match_as_argo_cd_matches_them() {
        // (targetRevision, pushed, default branch pushed, refreshed)
        let table = [
            (None, "main", true, true),
            (Some("HEAD"), "dev", false, false),
            (Some("main"), "main", false, true),
            (Some("refs/heads/main"), "main", false, true),
            (Some("main"), "dev", true, false),
            (Some("v1.2.0"), "v1.2.0", false, true),
            (Some(">=1.0.0 <2.0.0"), "1.4.0", false, true),
            (Some(">=1.0.0 <2.0.0"), "2.0.0", false, false),
        ];
        for (target, revision, head, want) in table {
            assert_eq!(
                revision_matches(target, revision, head),
                want,
                "{target:?} {revision}"
            );
        }
    }

    #[test]
    fn manifest_generate_paths_narrow_what_refreshes() {
        let app = |paths: Option<&str>| -> Application {
            let mut metadata = json!({"name": "web", "namespace": "argocd"});
            if let Some(paths) = paths {
                metadata["annotations"] = json!({MANIFEST_GENERATE_PATHS: paths});
            }
            serde_json::from_value(json!({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                "metadata": metadata,
                "spec": {"project": "default", "destination": {"server": "https://kubernetes.default.svc"},
                    "source": {"repoURL": "https://example.com/r.git", "path": "apps/web"}}
            }))
            .unwrap()
        };
        let files = |list: &[&str]| list.iter().map(|f| f.to_string()).collect::<Vec<_>>();
        // (annotation, changed files, refreshed)
        let table = [
            (None, files(&["anything.md"]), true),
            (Some("."), files(&["apps/web/deploy.yaml"]), true),
            (Some("."), files(&["apps/api/deploy.yaml"]), false),
            (Some(".; /shared"), files(&["shared/base.yaml"]), true),
            (Some("../common"), files(&["apps/common/x.yaml"]), true),
            (Some("/charts/*.yaml"), files(&["charts/values.yaml"]), true),
            (Some("."), files(&[]), true),
        ];
        for (annotation, changed, want) in table {
            let app = app(annotation);
            let source = app.spec.source.clone().unwrap();
            assert_eq!(
                files_match(&app, &source, &changed),
                want,
                "{annotation:?} {changed:?}"
            );
        }
    }
}
