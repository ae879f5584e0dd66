//! An ApplicationSet's generators, as Argo CD's: each turns its spec into parameter sets
//! ([`Params`]); a generator's `selector` then keeps the sets whose flattened parameters
//! match, at every level (Argo CD 3 always applies nested selectors). [`list`],
//! [`clusters`] and [`git`] read their sources; [`matrix`] and [`merge`] combine two or more
//! of those (one more matrix or merge may sit inside, as JSON; deeper ones are dropped, as
//! Argo CD's decoding drops them).
//!
//! Parameters take the shape the template engine reads: flat `key: "string"` pairs for
//! fasttemplate, nested values for Go templates ([`Engine::nested`]).

pub mod clusters;
pub mod git;
pub mod list;
pub mod matrix;
pub mod merge;

use std::sync::Arc;
use std::time::Duration;

use ferry_api::argocd::{ApplicationSet, ApplicationSetTemplate};
use ferry_api::selector::LabelSelector;
use ferry_render::application::Refresh;
use ferry_render::application::SourceRenderer;
use ferry_render::snapshot::Snapshot;
use ferry_source::credentials::{ArgoCdRepoType, ArgoCdRequest};
use ferry_source::secrets::ClusterSecrets;
use serde_json::{Map, Value};

use super::template::{Engine, Params, TemplateError};
use crate::clusters::{ClusterEntry, Clusters};

/// Why a generator produced nothing usable. The messages are Argo CD's.
#[derive(Debug, thiserror::Error)]
pub enum GeneratorError {
    /// A generator with none of the kinds set (or one nested too deep to be read).
    #[error("child generator generated no parameters")]
    Empty,
    /// A generator kind Ferry does not run.
    #[error("the {0} generator is not supported by Ferry")]
    Unsupported(&'static str),
    /// More than one kind in one generator.
    #[error("found more than one generator in {0}")]
    MoreThanOne(&'static str),
    /// A spec that does not decode.
    #[error("{0}")]
    Invalid(String),
    /// A template inside a generator (values, matrix interpolation).
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The cluster Secrets could not be read.
    #[error("error getting cluster secrets: {0}")]
    Clusters(String),
    /// The repository could not be read.
    #[error("error generating params from git: {0}")]
    Git(String),
    /// A selector that does not parse.
    #[error("error parsing label selector: {0}")]
    Selector(String),
}

/// Where generators read from: cluster Secrets and Git repositories.
pub struct Sources<'a> {
    /// The control-plane namespace (repository Secrets live there).
    pub namespace: &'a str,
    /// The registered clusters.
    pub clusters: &'a Clusters,
    /// Git access, with its caches.
    pub renderer: &'a SourceRenderer,
    /// Repository credentials.
    pub secrets: &'a ClusterSecrets,
    /// How fresh the repositories' refs must be.
    pub refresh: Refresh,
}

impl Sources<'_> {
    /// Clusters whose Secrets `selector` accepts.
    async fn clusters(
        &self,
        selector: &LabelSelector,
    ) -> Result<Vec<ClusterEntry>, GeneratorError> {
        self.clusters
            .entries(selector)
            .await
            .map_err(|e| GeneratorError::Clusters(e.to_string()))
    }

    /// The tree of `repo_url` at `revision`, with the credentials `project` may use.
    async fn snapshot(
        &self,
        repo_url: &str,
        revision: &str,
        project: Option<&str>,
    ) -> Result<Arc<Snapshot>, GeneratorError> {
        let git = |e: String| GeneratorError::Git(e);
        let request = ArgoCdRequest {
            url: repo_url,
            repo_type: ArgoCdRepoType::Git,
            project,
        };
        let lookup = self
            .secrets
            .argocd(self.namespace, &request)
            .await
            .map_err(|e| git(e.to_string()))?;
        let credentials = lookup.found.map(|f| f.credentials);
        self.renderer
            .snapshot_at(repo_url, revision, credentials.as_ref(), self.refresh)
            .await
            .map_err(|e| git(e.to_string()))
    }
}

/// One top-level generator's output: its parameter sets and the template they fill (the
/// generator's own over the ApplicationSet's, not yet merged).
pub struct Generated {
    /// The parameter sets, in the generator's order.
    pub params: Vec<Params>,
    /// The generator's own `template`.
    pub template: ApplicationSetTemplate,
}

/// What one level of generating needs.
struct Run<'a> {
    sources: &'a Sources<'a>,
    engine: Engine,
    /// The project of the ApplicationSet's template when it is literal: the repository
    /// credentials it may use.
    project: Option<String>,
}

/// How deep a generator sits: the top level, inside a matrix or merge, or inside one
/// nested in those (where a matrix or merge is no longer read).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Depth {
    Top,
    Child,
    Terminal,
}

/// Runs every generator of `set`, in order.
pub async fn generate(
    set: &ApplicationSet,
    engine: Engine,
    sources: &Sources<'_>,
) -> Result<Vec<Generated>, GeneratorError> {
    let project = Some(set.spec.template.spec.project.clone())
        .filter(|p| !p.contains("{{"))
        .map(|p| {
            if p.is_empty() {
                "default".to_string()
            } else {
                p
            }
        });
    let run = Run {
        sources,
        engine,
        project,
    };
    let mut generated = Vec::new();
    for generator in &set.spec.generators {
        let json =
            serde_json::to_value(generator).map_err(|e| GeneratorError::Invalid(e.to_string()))?;
        let params = Box::pin(run.transform(&json, Depth::Top)).await?;
        generated.push(Generated {
            params,
            template: own_template(&json)?,
        });
    }
    Ok(generated)
}

/// How long until the generators should look again: the least `requeueAfterSeconds` of
/// the git generators (180 s when unset, none when 0); `None` when only lists and clusters
/// (which change through watches) are used.
pub fn requeue_after(set: &ApplicationSet) -> Option<Duration> {
    let json = serde_json::to_value(&set.spec.generators).unwrap_or(Value::Null);
    let mut least: Option<u64> = None;
    collect_requeue(&json, &mut least);
    least.map(Duration::from_secs)
}

fn collect_requeue(json: &Value, least: &mut Option<u64>) {
    match json {
        Value::Object(map) => {
            if let Some(git) = map.get("git").and_then(Value::as_object) {
                // An explicit 0 asks for no periodic look, as in Argo CD.
                let seconds = match git.get("requeueAfterSeconds").and_then(Value::as_u64) {
                    Some(0) => None,
                    Some(seconds) => Some(seconds),
                    None => Some(git::DEFAULT_REQUEUE_SECONDS),
                };
                if let Some(seconds) = seconds {
                    *least = Some(least.map_or(seconds, |l| l.min(seconds)));
                }
            }
            for (key, value) in map {
                if key != "git" {
                    collect_requeue(value, least);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_requeue(i, least)),
        _ => {}
    }
}

/// The kinds of generator, in Argo CD's field order, and whether Ferry runs them.
const KINDS: &[&str] = &[
    "list",
    "clusters",
    "git",
    "scmProvider",
    "clusterDecisionResource",
    "pullRequest",
    "matrix",
    "merge",
    "plugin",
];

fn kind_of(generator: &Value, depth: Depth) -> Result<&'static str, GeneratorError> {
    let set: Vec<&'static str> = KINDS
        .iter()
        .copied()
        .filter(|k| generator.get(*k).is_some_and(|v| !v.is_null()))
        .filter(|k| depth < Depth::Terminal || !matches!(*k, "matrix" | "merge"))
        .collect();
    match set.as_slice() {
        [] => Err(GeneratorError::Empty),
        [one] => Ok(one),
        _ if depth == Depth::Top => Err(GeneratorError::MoreThanOne("generators")),
        _ => Err(GeneratorError::MoreThanOne("matrix.Generators")),
    }
}

fn own_template(generator: &Value) -> Result<ApplicationSetTemplate, GeneratorError> {
    let template = KINDS
        .iter()
        .find_map(|k| generator.get(*k)?.get("template"))
        .cloned()
        .unwrap_or(Value::Null);
    if template.is_null() {
        return Ok(ApplicationSetTemplate::default());
    }
    serde_json::from_value(template)
        .map_err(|e| GeneratorError::Invalid(format!("generator template: {e}")))
}

fn decode<T: serde::de::DeserializeOwned>(kind: &str, value: &Value) -> Result<T, GeneratorError> {
    serde_json::from_value(value.clone())
        .map_err(|e| GeneratorError::Invalid(format!("{kind} generator: {e}")))
}

impl Run<'_> {
    /// One generator's parameter sets, its `selector` applied (Argo CD's `Transform`).
    async fn transform(
        &self,
        generator: &Value,
        depth: Depth,
    ) -> Result<Vec<Params>, GeneratorError> {
        let kind = kind_of(generator, depth)?;
        let spec = &generator[kind];
        let params = match kind {
            "list" => list::params(&decode(kind, spec)?, self.engine)?,
            "clusters" => {
                let spec: ferry_api::argocd::ClusterGenerator = decode(kind, spec)?;
                let selector = label_selector(spec.selector.as_ref())?;
                let entries = self.sources.clusters(&selector).await?;
                clusters::params(&spec, &selector, &entries, self.engine)?
            }
            "git" => {
                let spec: ferry_api::argocd::GitGenerator = decode(kind, spec)?;
                let snapshot = self
                    .sources
                    .snapshot(
                        &spec.repo_url,
                        git::revision(&spec),
                        self.project.as_deref(),
                    )
                    .await?;
                git::params(&spec, snapshot.as_ref(), self.engine)?
            }
            "matrix" => Box::pin(matrix::params(self, spec, depth)).await?,
            "merge" => Box::pin(merge::params(self, spec, depth)).await?,
            "scmProvider" => return Err(GeneratorError::Unsupported("scmProvider")),
            "pullRequest" => return Err(GeneratorError::Unsupported("pullRequest")),
            "clusterDecisionResource" => {
                return Err(GeneratorError::Unsupported("clusterDecisionResource"));
            }
            _ => return Err(GeneratorError::Unsupported("plugin")),
        };
        let selector = generator.get("selector").filter(|s| !s.is_null());
        let Some(selector) = selector else {
            return Ok(params);
        };
        let selector = LabelSelector::from_json(selector)
            .map_err(|e| GeneratorError::Selector(e.to_string()))?;
        Ok(params
            .into_iter()
            .filter(|p| selector.matches(&flatten(p)))
            .collect())
    }
}

/// A generator's `selector` (none: every cluster).
fn label_selector(selector: Option<&Value>) -> Result<LabelSelector, GeneratorError> {
    match selector.filter(|s| !s.is_null()) {
        None => Ok(LabelSelector::everything()),
        Some(selector) => {
            LabelSelector::from_json(selector).map_err(|e| GeneratorError::Selector(e.to_string()))
        }
    }
}

/// `values`, each rendered with the parameter set's own parameters, added as `values.<k>`
/// (fasttemplate) or one `values` map (Go).
fn append_values(
    params: &mut Params,
    values: &std::collections::BTreeMap<String, String>,
    engine: Engine,
) -> Result<(), GeneratorError> {
    if values.is_empty() {
        return Ok(());
    }
    let mut rendered = Map::new();
    for (key, text) in values {
        rendered.insert(key.clone(), Value::String(engine.render(text, params)?));
    }
    if engine.nested() {
        params.insert("values".to_string(), Value::Object(rendered));
    } else {
        for (key, value) in rendered {
            params.insert(format!("values.{key}"), value);
        }
    }
    Ok(())
}

/// Parameters as dotted keys with Go's `%v` text (`a.b`, `list.0`): what selectors match
/// and what fasttemplate reads from nested content. Empty maps and lists leave no key.
pub fn flatten(params: &Params) -> Map<String, Value> {
    let mut flat = Map::new();
    for (key, value) in params {
        flatten_into(key, value, &mut flat);
    }
    flat
}

fn flatten_into(prefix: &str, value: &Value, flat: &mut Map<String, Value>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                flatten_into(&format!("{prefix}.{key}"), item, flat);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                flatten_into(&format!("{prefix}.{index}"), item, flat);
            }
        }
        scalar => {
            flat.insert(prefix.to_string(), Value::String(go_text(scalar)));
        }
    }
}

/// A JSON scalar as Go's `fmt.Sprint` writes what `encoding/json` decoded (numbers are
/// float64: `3`, `1.5`, `1e+06`; null is `<nil>`).
pub fn go_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => gtmpl_ng::format_float(
            n.as_f64().unwrap_or_default(),
            gtmpl_ng::FloatFormat::General,
            None,
        ),
        Value::Array(_) | Value::Object(_) => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn flattening_writes_go_text_under_dotted_keys() {
        let params = json!({"a": {"b": 1, "c": [true, null], "d": {}}, "big": 1000000.0, "s": "x"});
        let flat = flatten(params.as_object().unwrap());
        assert_eq!(
            Value::Object(flat),
            json!({"a.b": "1", "a.c.0": "true", "a.c.1": "<nil>", "big": "1e+06", "s": "x"})
        );
    }

    #[test]
    fn requeue_is_the_least_of_the_git_generators() {
        let set: ApplicationSet = serde_json::from_value(json!({"spec": {"generators": [
            {"list": {"elements": []}},
            {"matrix": {"generators": [
                {"git": {"repoURL": "r", "requeueAfterSeconds": 30, "directories": [{"path": "*"}]}},
                {"git": {"repoURL": "r", "files": [{"path": "*"}]}}]}}]}}))
        .unwrap();
        assert_eq!(requeue_after(&set), Some(Duration::from_secs(30)));
        let lists: ApplicationSet =
            serde_json::from_value(json!({"spec": {"generators": [{"list": {"elements": []}}]}}))
                .unwrap();
        assert_eq!(requeue_after(&lists), None);
    }

    #[test]
    fn one_kind_per_generator() {
        assert!(matches!(
            kind_of(&json!({}), Depth::Top),
            Err(GeneratorError::Empty)
        ));
        assert!(matches!(
            kind_of(&json!({"list": {}, "git": {}}), Depth::Top),
            Err(GeneratorError::MoreThanOne(_))
        ));
        assert!(matches!(
            kind_of(&json!({"matrix": {}}), Depth::Terminal),
            Err(GeneratorError::Empty)
        ));
        assert_eq!(
            kind_of(&json!({"merge": {}}), Depth::Child).unwrap(),
            "merge"
        );
    }
}
