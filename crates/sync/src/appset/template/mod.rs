//! From a parameter set and an ApplicationSet's template to an Application, as Argo CD's
//! `RenderTemplateParams`: every string of the template (map keys too, and the strings
//! inside `valuesObject`) goes through the engine the ApplicationSet chose ([`fast`] by
//! default, [`go`] with `goTemplate: true`); then the resources finalizer unless
//! `preserveResourcesOnDeletion`; then `templatePatch`, rendered the same way and merged
//! over the result (maps merge, lists are replaced, `null` deletes; `spec.project` stays).

pub mod fast;
pub mod go;
pub mod names;

use ferry_api::argocd::{ApplicationSet, ApplicationSetTemplate};
use serde_json::{Map, Value};

use self::go::MissingKey;

/// One parameter set: flat `key: "string"` pairs for [`fast`], nested values for [`go`].
pub type Params = Map<String, Value>;

/// Argo CD's cascade-delete finalizer, put on generated Applications.
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// A template that cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A `goTemplateOptions` entry Go's templates do not know.
    #[error("{0}")]
    Option(String),
    /// A Go template that does not parse.
    #[error("failed to parse template {0}: {1}")]
    Parse(String, String),
    /// A Go template that failed while rendering.
    #[error("failed to execute go template {0}: {1}")]
    Execute(String, String),
    /// A `{{` without its `}}`.
    #[error("invalid template: {0:?} has a '{{{{' without '}}}}'")]
    Unclosed(String),
    /// A `templatePatch` that is not an Application's fields once rendered.
    #[error("invalid templatePatch {0:?}: {1}")]
    Patch(String, String),
    /// The rendered template is not an Application.
    #[error("the rendered template is not an Application: {0}")]
    NotAnApplication(String),
}

/// The templating an ApplicationSet chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// `{{name}}` over string parameters.
    Fast,
    /// Go templates.
    Go(MissingKey),
}

impl Engine {
    /// The engine of `set` (`goTemplate`, `goTemplateOptions`).
    pub fn of(set: &ApplicationSet) -> Result<Self, TemplateError> {
        if set.spec.go_template {
            Ok(Engine::Go(MissingKey::from_options(
                &set.spec.go_template_options,
            )?))
        } else {
            Ok(Engine::Fast)
        }
    }

    /// Whether parameters are nested values (Go templates) rather than flat strings.
    pub fn nested(self) -> bool {
        matches!(self, Engine::Go(_))
    }

    /// `text` rendered with `params`.
    pub fn render(self, text: &str, params: &Params) -> Result<String, TemplateError> {
        match self {
            Engine::Fast => fast::render(text, params),
            Engine::Go(missing) => go::render(text, &Value::Object(params.clone()), missing),
        }
    }

    /// Every string of `value` rendered in place, map keys included.
    pub fn render_value(self, value: &mut Value, params: &Params) -> Result<(), TemplateError> {
        match value {
            Value::String(text) => {
                if text.contains("{{") {
                    *text = self.render(text, params)?;
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.render_value(item, params)?;
                }
            }
            Value::Object(map) => {
                let mut rendered = Map::with_capacity(map.len());
                for (key, mut item) in std::mem::take(map) {
                    self.render_value(&mut item, params)?;
                    let key = if key.contains("{{") {
                        self.render(&key, params)?
                    } else {
                        key
                    };
                    rendered.insert(key, item);
                }
                *map = rendered;
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
        Ok(())
    }
}

/// A generator's own template over the ApplicationSet's, as Go's `mergo.Merge`: what the
/// generator sets wins, what it leaves empty (`""`, `false`, `0`, no list) comes from the
/// ApplicationSet's; maps merge by key.
pub fn merge_templates(own: &ApplicationSetTemplate, base: &ApplicationSetTemplate) -> Value {
    let base = serde_json::to_value(base).unwrap_or(Value::Null);
    if own.is_empty() {
        return base;
    }
    let mut merged = serde_json::to_value(own).unwrap_or(Value::Null);
    fill_empty(&mut merged, &base);
    merged
}

fn fill_empty(own: &mut Value, base: &Value) {
    match (own, base) {
        (Value::Object(own), Value::Object(base)) => {
            for (key, value) in base {
                match own.get_mut(key) {
                    Some(existing) if !is_empty(existing) => fill_empty(existing, value),
                    _ => {
                        own.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (own, base) if is_empty(own) => *own = base.clone(),
        _ => {}
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(_) => false,
    }
}

/// The Application `params` make of `template` (a merged template, as JSON) for `set`.
pub fn render_application(
    engine: Engine,
    template: &Value,
    params: &Params,
    set: &ApplicationSet,
) -> Result<Value, TemplateError> {
    let mut app = template.clone();
    // Argo CD leaves the template as written for an empty parameter set.
    if !params.is_empty() {
        engine.render_value(&mut app, params)?;
        let preserve = set
            .spec
            .sync_policy
            .as_ref()
            .is_some_and(|p| p.preserve_resources_on_deletion);
        let finalizers = &app["metadata"]["finalizers"];
        if !preserve && finalizers.as_array().is_none_or(Vec::is_empty) {
            app["metadata"]["finalizers"] = Value::from(vec![RESOURCES_FINALIZER]);
        }
    }
    if let Some(patch) = set.spec.template_patch.as_deref() {
        apply_patch(engine, &mut app, patch, params)?;
    }
    Ok(app)
}

fn apply_patch(
    engine: Engine,
    app: &mut Value,
    patch: &str,
    params: &Params,
) -> Result<(), TemplateError> {
    let rendered = engine.render(patch, params)?;
    let invalid = |e: String| TemplateError::Patch(rendered.clone(), e);
    let patch: Value = if rendered.trim_start().starts_with('{') {
        serde_json::from_str(&rendered).map_err(|e| invalid(e.to_string()))?
    } else {
        yaml_serde::from_str(&rendered).map_err(|e| invalid(e.to_string()))?
    };
    if !patch.is_object() && !patch.is_null() {
        return Err(invalid("not a map of Application fields".to_string()));
    }
    let project = app["spec"]["project"].clone();
    json_patch::merge(app, &patch);
    if !app["spec"].is_object() {
        return Err(invalid("spec must be a map".to_string()));
    }
    app["spec"]["project"] = project;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set(spec: Value) -> ApplicationSet {
        serde_json::from_value(
            json!({"metadata": {"name": "s", "namespace": "argocd"}, "spec": spec}),
        )
        .unwrap()
    }

    fn params(value: Value) -> Params {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn every_string_and_key_is_rendered_and_the_finalizer_added() {
        let set = set(json!({"template": {
            "metadata": {"name": "{{cluster}}-guestbook", "labels": {"{{cluster}}": "yes"}},
            "spec": {"project": "default",
                     "source": {"repoURL": "https://git/x.git", "path": "guestbook/{{cluster}}",
                                "helm": {"valuesObject": {"env": "{{cluster}}", "n": 2}}},
                     "destination": {"server": "{{url}}", "namespace": "guestbook"}}}}));
        let template = merge_templates(&Default::default(), &set.spec.template);
        let app = render_application(
            Engine::Fast,
            &template,
            &params(json!({"cluster": "dev", "url": "https://1.2.3.4"})),
            &set,
        )
        .unwrap();
        assert_eq!(app["metadata"]["name"], "dev-guestbook");
        assert_eq!(app["metadata"]["labels"]["dev"], "yes");
        assert_eq!(app["metadata"]["finalizers"], json!([RESOURCES_FINALIZER]));
        assert_eq!(app["spec"]["source"]["path"], "guestbook/dev");
        assert_eq!(
            app["spec"]["source"]["helm"]["valuesObject"],
            json!({"env": "dev", "n": 2})
        );
        assert_eq!(app["spec"]["destination"]["server"], "https://1.2.3.4");
    }

    #[test]
    fn preserve_resources_on_deletion_leaves_out_the_finalizer() {
        let set = set(json!({"syncPolicy": {"preserveResourcesOnDeletion": true},
                             "template": {"metadata": {"name": "{{n}}"}}}));
        let template = merge_templates(&Default::default(), &set.spec.template);
        let app =
            render_application(Engine::Fast, &template, &params(json!({"n": "a"})), &set).unwrap();
        assert!(app["metadata"].get("finalizers").is_none(), "{app}");
    }

    #[test]
    fn a_generator_template_wins_where_it_sets_something() {
        let base: ApplicationSetTemplate = serde_json::from_value(json!({
            "metadata": {"name": "{{n}}", "labels": {"a": "base", "b": "base"}},
            "spec": {"project": "default",
                     "source": {"repoURL": "https://git/x.git", "path": "base", "targetRevision": "HEAD"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"}}}))
        .unwrap();
        let own: ApplicationSetTemplate = serde_json::from_value(json!({
            "metadata": {"labels": {"a": "own"}},
            "spec": {"source": {"path": "own"}}}))
        .unwrap();
        let merged = merge_templates(&own, &base);
        assert_eq!(merged["metadata"]["name"], "{{n}}");
        assert_eq!(
            merged["metadata"]["labels"],
            json!({"a": "own", "b": "base"})
        );
        assert_eq!(merged["spec"]["source"]["path"], "own");
        assert_eq!(merged["spec"]["source"]["repoURL"], "https://git/x.git");
        assert_eq!(merged["spec"]["project"], "default");
    }

    #[test]
    fn template_patch_merges_and_keeps_the_project() {
        let set = set(json!({
            "goTemplate": true,
            "template": {"metadata": {"name": "{{.n}}"},
                         "spec": {"project": "default", "destination": {"namespace": "x"}}},
            "templatePatch": "spec:\n  project: evil\n  syncPolicy:\n    automated:\n      prune: {{ .prune }}\n"
        }));
        let template = merge_templates(&Default::default(), &set.spec.template);
        let engine = Engine::of(&set).unwrap();
        let app = render_application(
            engine,
            &template,
            &params(json!({"n": "a", "prune": true})),
            &set,
        )
        .unwrap();
        assert_eq!(app["spec"]["project"], "default");
        assert_eq!(app["spec"]["syncPolicy"]["automated"]["prune"], true);
        assert_eq!(app["spec"]["destination"]["namespace"], "x");

        let bad = ApplicationSet {
            spec: ferry_api::argocd::ApplicationSetSpec {
                template_patch: Some("- a list".to_string()),
                ..set.spec.clone()
            },
            ..set.clone()
        };
        let error =
            render_application(engine, &template, &params(json!({"n": "a"})), &bad).unwrap_err();
        assert!(matches!(error, TemplateError::Patch(..)), "{error}");
    }
}
