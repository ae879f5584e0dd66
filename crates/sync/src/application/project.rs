//! The AppProject checks made before anything is rendered or applied: the source repositories
//! and the destination must be permitted. Patterns are globs; a pattern starting with `!`
//! denies what it matches, and a deny wins over any allow, as in Argo CD.

use ferry_api::argocd::{AppProject, Application};

use crate::operation::settings::glob;

/// Why the project refuses the Application, in Argo CD's words.
pub fn check(project: &AppProject, app: &Application) -> Result<(), String> {
    let name = project.metadata.name.clone().unwrap_or_default();
    let sources = app.sources().map_err(|e| e.to_string())?;
    for (_, source) in sources {
        if !permitted(&project.spec.source_repos, &source.repo_url) {
            return Err(format!(
                "application repo {} is not permitted in project '{name}'",
                source.repo_url
            ));
        }
    }
    let destination = &app.spec.destination;
    let server = destination.server.as_deref().unwrap_or_default();
    let cluster_name = destination.name.as_deref().unwrap_or_default();
    let namespace = destination.namespace.as_deref().unwrap_or_default();
    let matches = |pattern: Option<&str>, value: &str| pattern.is_none_or(|p| glob(p, value));
    let allowed = |deny: bool| {
        project.spec.destinations.iter().filter(move |d| {
            let negated = [&d.server, &d.name, &d.namespace]
                .iter()
                .any(|p| p.as_deref().is_some_and(|p| p.starts_with('!')));
            negated == deny
        })
    };
    let hit = |d: &ferry_api::argocd::ApplicationDestinationPattern| {
        let strip =
            |p: &Option<String>| p.as_deref().map(|p| p.trim_start_matches('!').to_string());
        let by_server = !server.is_empty() && matches(strip(&d.server).as_deref(), server);
        let by_name = !cluster_name.is_empty() && matches(strip(&d.name).as_deref(), cluster_name);
        (by_server || by_name) && matches(strip(&d.namespace).as_deref(), namespace)
    };
    let denied = allowed(true).any(hit);
    if denied || !allowed(false).any(hit) {
        let target = if server.is_empty() {
            format!("destination name '{cluster_name}'")
        } else {
            format!("destination server '{server}'")
        };
        return Err(format!(
            "application {target} and namespace '{namespace}' do not match any of the allowed destinations in project '{name}'"
        ));
    }
    Ok(())
}

/// Whether `value` is allowed by `patterns`: some pattern allows it and no `!` pattern denies it.
fn permitted(patterns: &[String], value: &str) -> bool {
    let denied = patterns
        .iter()
        .filter_map(|p| p.strip_prefix('!'))
        .any(|p| glob(p, value));
    !denied
        && patterns
            .iter()
            .filter(|p| !p.starts_with('!'))
            .any(|p| glob(p, value))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn project(spec: serde_json::Value) -> AppProject {
        serde_json::from_value(
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
            "metadata": {"name": "shop", "namespace": "argocd"}, "spec": spec}),
        )
        .unwrap()
    }

    fn app(repo: &str, server: &str, namespace: &str) -> Application {
        serde_json::from_value(
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "a", "namespace": "argocd"},
            "spec": {"project": "shop", "source": {"repoURL": repo, "path": "."},
                "destination": {"server": server, "namespace": namespace}}}),
        )
        .unwrap()
    }

    #[test]
    fn repositories_and_destinations_with_globs_and_negation() {
        let shop = project(json!({
        "sourceRepos": ["https://git.example.com/shop/*", "!https://git.example.com/shop/secret"],
        "destinations": [
            {"server": "https://kubernetes.default.svc", "namespace": "shop-*"},
            {"server": "*", "namespace": "!kube-system"}
        ]}));
        let ok = app(
            "https://git.example.com/shop/web",
            "https://kubernetes.default.svc",
            "shop-dev",
        );
        assert_eq!(check(&shop, &ok), Ok(()));
        assert_eq!(
            check(&shop, &app("https://git.example.com/shop/secret", "https://kubernetes.default.svc", "shop-dev")),
            Err("application repo https://git.example.com/shop/secret is not permitted in project 'shop'".into())
        );
        assert_eq!(
            check(&shop, &app("https://git.example.com/other/web", "https://kubernetes.default.svc", "shop-dev")),
            Err("application repo https://git.example.com/other/web is not permitted in project 'shop'".into())
        );
        assert_eq!(
            check(&shop, &app("https://git.example.com/shop/web", "https://kubernetes.default.svc", "payments")),
            Err("application destination server 'https://kubernetes.default.svc' and namespace 'payments' do not match any of the allowed destinations in project 'shop'".into())
        );
        let open = project(
            json!({"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}]}),
        );
        assert_eq!(
            check(
                &open,
                &app(
                    "https://any/repo.git",
                    "https://kubernetes.default.svc",
                    "x"
                )
            ),
            Ok(())
        );
    }
}
