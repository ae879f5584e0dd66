//! Argo CD's build environment: the `$ARGOCD_APP_*` variables a repo-server sets for its
//! tools, substituted into value-file paths and Kustomize annotations.

use std::collections::BTreeMap;

use ferry_api::argocd::ApplicationSource;

use super::AppContext;

/// Argo CD's build environment (`$ARGOCD_APP_*`), substituted into value-file paths and,
/// with `commonAnnotationsEnvsubst`, into Kustomize annotations.
#[derive(Clone, Debug, Default)]
pub struct BuildEnv(BTreeMap<String, String>);

impl BuildEnv {
    /// The environment of `source` of the Application `context` at commit `revision`.
    pub fn new(context: &AppContext, source: &ApplicationSource, revision: &str) -> Self {
        let mut env = BTreeMap::new();
        let mut set = |k: &str, v: &str| {
            env.insert(k.to_string(), v.to_string());
        };
        set("ARGOCD_APP_NAME", &context.name);
        set(
            "ARGOCD_APP_NAMESPACE",
            context.namespace.as_deref().unwrap_or(""),
        );
        set("ARGOCD_APP_PROJECT_NAME", &context.project);
        set("ARGOCD_APP_REVISION", revision);
        set("ARGOCD_APP_REVISION_SHORT", short(revision, 7));
        set("ARGOCD_APP_REVISION_SHORT_8", short(revision, 8));
        set("ARGOCD_APP_SOURCE_PATH", source.path());
        set("ARGOCD_APP_SOURCE_REPO_URL", &source.repo_url);
        set(
            "ARGOCD_APP_SOURCE_TARGET_REVISION",
            source.target_revision.as_deref().unwrap_or(""),
        );
        BuildEnv(env)
    }

    /// The variables by name (`ARGOCD_APP_NAME`, ...).
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// `$NAME` and `${NAME}` of the build environment replaced; other text kept as is.
    pub fn substitute(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
                match braced.find('}') {
                    Some(end) => (&braced[..end], end + 2),
                    None => ("", 0),
                }
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            };
            match self.0.get(name) {
                Some(value) if !name.is_empty() => {
                    out.push_str(value);
                    rest = &after[consumed..];
                }
                _ => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

fn short(revision: &str, n: usize) -> &str {
    revision.get(..n).unwrap_or(revision)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_env_substitutes_known_variables_only() {
        let context = AppContext {
            name: "web-dev".into(),
            namespace: Some("web".into()),
            project: "shop".into(),
        };
        let source = ApplicationSource {
            repo_url: "https://git.example/shop.git".into(),
            path: Some("charts/web".into()),
            ..Default::default()
        };
        let env = BuildEnv::new(&context, &source, "0123456789abcdef");
        assert_eq!(
            env.substitute("/env/$ARGOCD_APP_NAME/values-${ARGOCD_APP_REVISION_SHORT}.yaml"),
            "/env/web-dev/values-0123456.yaml"
        );
        assert_eq!(env.substitute("$HOME/${UNSET} $"), "$HOME/${UNSET} $");
        assert_eq!(env.substitute("ns=$ARGOCD_APP_NAMESPACE."), "ns=web.");
    }
}
