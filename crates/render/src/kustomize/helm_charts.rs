//! `helmCharts` (Kustomize's HelmChartInflationGenerator): charts vendored in the repository
//! rendered by [`HelmRenderer`] (the real `helm template`), their objects added after the
//! ConfigMap and Secret generators' as Kustomize does.
//!
//! The chart is `{chartHome}/{name}` (`chartHome` from `helmGlobals`, default `charts`,
//! relative to the kustomization), or `{chartHome}/{name}-{version}/{name}` when both
//! `version` and `repo` are set. A chart that is not there would be pulled from `repo` by
//! Kustomize; Ferry refuses that and names the chart. Values, as Kustomize passes them: the
//! values file (`valuesFile`, default the chart's `values.yaml`; `valuesInline` merged into it
//! per `valuesMerge`: `override` (default), `merge`, or `replace`), then
//! `additionalValuesFiles`. Every file is read through the tree.

use ferry_api::argocd::ApplicationSourceKustomize;
use serde_json::{Map, Value};

use super::file::{HelmChart, Kustomization};
use super::{KustomizeError, Location};
use crate::helm::{HelmOptions, HelmRenderer};
use crate::manifest::Manifest;
use crate::tree::{Entry, Tree, TreeError};

/// Renders every chart of the kustomization, in order.
pub fn inflate(
    loc: &Location,
    k: &Kustomization,
    helm: Option<&HelmRenderer>,
    overrides: Option<&ApplicationSourceKustomize>,
) -> Result<Vec<Manifest>, KustomizeError> {
    if k.helm_charts.is_empty() {
        return Ok(Vec::new());
    }
    let Some(helm) = helm else {
        return Err(KustomizeError::HelmNotEnabled {
            file: loc.file.clone(),
        });
    };
    let chart_home = k
        .helm_globals
        .as_ref()
        .map(|g| g.chart_home.as_str())
        .filter(|h| !h.is_empty())
        .unwrap_or("charts");
    let mut out = Vec::new();
    for chart in &k.helm_charts {
        out.extend(one(loc, chart, chart_home, helm, overrides)?);
    }
    Ok(out)
}

fn one(
    loc: &Location,
    chart: &HelmChart,
    chart_home: &str,
    helm: &HelmRenderer,
    overrides: Option<&ApplicationSourceKustomize>,
) -> Result<Vec<Manifest>, KustomizeError> {
    let invalid = |message: String| loc.invalid(format!("helmCharts: {message}"));
    if chart.name.is_empty() {
        return Err(invalid("chart name cannot be empty".into()));
    }
    let name = &chart.name;
    let merge = match chart.values_merge.as_str() {
        "" | "override" => ValuesMerge::Override,
        "merge" => ValuesMerge::Merge,
        "replace" => ValuesMerge::Replace,
        other => {
            return Err(invalid(format!(
                "{name}: valuesMerge `{other}` must be one of merge, override, replace"
            )));
        }
    };
    if !chart.release_name.is_empty() && !chart.name_template.is_empty() {
        return Err(invalid(format!(
            "{name}: cannot set nameTemplate and also releaseName (helm template refuses both)"
        )));
    }
    // The chart's directory, relative to the kustomization, then in the repository.
    let chart_rel = if !chart.version.is_empty() && !chart.repo.is_empty() {
        format!("{chart_home}/{name}-{}/{name}", chart.version)
    } else {
        format!("{chart_home}/{name}")
    };
    let chart_path = loc.resolve(&chart_rel, false)?;
    if !loc.tree.is_dir(&chart_path) {
        return Err(KustomizeError::ChartNotVendored {
            file: loc.file.clone(),
            chart: name.clone(),
            path: chart_path,
            repo: chart.repo.clone(),
        });
    }
    let values_ref = if chart.values_file.is_empty() {
        format!("{chart_rel}/values.yaml")
    } else {
        chart.values_file.clone()
    };
    // Value files are repository-root paths (a leading `/` for the Helm renderer).
    let mut value_files = Vec::new();
    let mut merged_values = None;
    // Read even when Helm reads it again: a missing or escaping file is named here.
    let (values_path, values_bytes) = loc.read(&values_ref)?;
    if chart.values_inline.is_empty() {
        value_files.push(format!("/{values_path}"));
    } else {
        let mut values = Map::new();
        if merge != ValuesMerge::Replace {
            let (path, bytes) = (&values_path, &values_bytes);
            match yaml_serde::from_slice::<Value>(bytes) {
                Ok(Value::Object(m)) => values = m,
                Ok(Value::Null) => {}
                Ok(_) => return Err(invalid(format!("{path}: values must be a mapping"))),
                Err(e) => return Err(invalid(format!("{path}: {e}"))),
            }
        }
        merge_values(
            &mut values,
            &chart.values_inline,
            merge == ValuesMerge::Override,
        );
        let bytes = serde_json::to_vec(&Value::Object(values))
            .map_err(|e| invalid(format!("{name}: values: {e}")))?;
        value_files.push(format!("/{MERGED_VALUES}"));
        merged_values = Some(bytes);
    }
    for file in &chart.additional_values_files {
        let (path, _) = loc.read(file)?;
        value_files.push(format!("/{path}"));
    }

    // Argo CD passes its kubeVersion/apiVersions as `--helm-kube-version`/`--helm-api-versions`,
    // which override the chart's.
    let kube_version = overrides
        .and_then(|o| o.kube_version.clone())
        .filter(|v| !v.is_empty())
        .or_else(|| (!chart.kube_version.is_empty()).then(|| chart.kube_version.clone()));
    let api_versions = match overrides.map(|o| &o.api_versions) {
        Some(v) if !v.is_empty() => v.clone(),
        _ => chart.api_versions.clone(),
    };
    let options = HelmOptions {
        // `helm template --generate-name` names the release `release-name`.
        release_name: if chart.release_name.is_empty() && chart.name_template.is_empty() {
            "release-name".into()
        } else {
            chart.release_name.clone()
        },
        namespace: (!chart.namespace.is_empty()).then(|| chart.namespace.clone()),
        value_files,
        kube_version,
        api_versions,
        skip_crds: !chart.include_crds,
        skip_tests: chart.skip_tests,
        skip_hooks: chart.skip_hooks,
        name_template: (!chart.name_template.is_empty()).then(|| chart.name_template.clone()),
        ..HelmOptions::default()
    };
    let rendered = match merged_values {
        Some(bytes) => helm.render(
            &WithValues {
                tree: loc.tree,
                bytes,
            },
            &chart_path,
            &options,
        ),
        None => helm.render(loc.tree, &chart_path, &options),
    }
    .map_err(|error| KustomizeError::Helm {
        file: loc.file.clone(),
        chart: name.clone(),
        error: Box::new(error),
    })?;
    Ok(rendered.as_ref().clone())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ValuesMerge {
    Override,
    Merge,
    Replace,
}

/// Merges `src` into `dst` as Kustomize does (`mergo.Merge`, with `WithOverride` for
/// `override`): maps merge recursively; other values replace a value of `dst` when
/// overriding, else only a missing or empty one.
fn merge_values(dst: &mut Map<String, Value>, src: &Map<String, Value>, overwrite: bool) {
    fn empty(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::Bool(b) => !b,
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
        }
    }
    for (key, value) in src {
        match (dst.get_mut(key), value) {
            (Some(Value::Object(d)), Value::Object(s)) if !d.is_empty() => {
                merge_values(d, s, overwrite);
            }
            (Some(d), Value::Object(_)) if !empty(d) => {}
            (_, Value::Null) if !overwrite => {}
            (Some(d), Value::Array(_)) if !overwrite && !empty(d) => {}
            (Some(d), _) if !overwrite && !empty(d) => {}
            _ => {
                dst.insert(key.clone(), value.clone());
            }
        }
    }
}

/// The tree path of the merged values file: no tree path holds a NUL, so it shadows nothing.
const MERGED_VALUES: &str = "\u{0}kustomize-values.yaml";

/// The tree plus the merged values file at [`MERGED_VALUES`].
struct WithValues<'a> {
    tree: &'a dyn Tree,
    bytes: Vec<u8>,
}

impl Tree for WithValues<'_> {
    fn read(&self, path: &str) -> Result<Vec<u8>, TreeError> {
        if path == MERGED_VALUES {
            return Ok(self.bytes.clone());
        }
        self.tree.read(path)
    }

    fn list(&self, dir: &str) -> Result<Vec<Entry>, TreeError> {
        self.tree.list(dir)
    }

    fn is_dir(&self, path: &str) -> bool {
        self.tree.is_dir(path)
    }

    fn exists(&self, path: &str) -> bool {
        path == MERGED_VALUES || self.tree.exists(path)
    }
}

/// For tests: the values `valuesInline` produces over `values` with a merge mode.
#[cfg(test)]
fn merged(values: Value, inline: Value, overwrite: bool) -> Value {
    let mut dst = values.as_object().cloned().unwrap_or_default();
    merge_values(&mut dst, inline.as_object().unwrap(), overwrite);
    Value::Object(dst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_merge_like_mergo() {
        let values = json!({"image": {"repository": "nginx", "tag": "1"}, "replicas": 1,
                            "ports": [80], "empty": "", "keep": "x"});
        let inline = json!({"image": {"tag": "2"}, "replicas": 3, "ports": [81],
                            "empty": "filled", "keep": {"a": 1}, "new": true});
        assert_eq!(
            merged(values.clone(), inline.clone(), true),
            json!({"image": {"repository": "nginx", "tag": "2"}, "replicas": 3, "ports": [81],
                   "empty": "filled", "keep": "x", "new": true})
        );
        assert_eq!(
            merged(values, inline, false),
            json!({"image": {"repository": "nginx", "tag": "1"}, "replicas": 1, "ports": [80],
                   "empty": "filled", "keep": "x", "new": true})
        );
    }
}
