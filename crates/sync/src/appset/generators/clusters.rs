//! The clusters generator: one parameter set per cluster Secret its `selector` accepts
//! (`name`, `nameNormalized`, `server`, `project`, the Secret's labels and annotations), and
//! the cluster Ferry runs against (`in-cluster`) last when the selector is empty and no
//! Secret registers it. `flatList` gives one set holding them all as `clusters` (an empty list when there are none).

use ferry_api::argocd::ClusterGenerator;
use ferry_api::selector::LabelSelector;
use serde_json::{Map, Value};

use super::{GeneratorError, append_values};
use crate::appset::template::names::normalize;
use crate::appset::template::{Engine, Params};
use crate::clusters::{ClusterEntry, IN_CLUSTER_NAME, IN_CLUSTER_SERVER};

/// The parameter sets of `generator` over `entries` (the Secrets `selector` accepted).
pub fn params(
    generator: &ClusterGenerator,
    selector: &LabelSelector,
    entries: &[ClusterEntry],
    engine: Engine,
) -> Result<Vec<Params>, GeneratorError> {
    let mut sets = Vec::with_capacity(entries.len() + 1);
    for entry in entries {
        let mut params = base(&entry.name, &entry.server, &entry.project);
        if engine.nested() {
            let mut metadata = Map::new();
            if !entry.annotations.is_empty() {
                metadata.insert("annotations".into(), to_json(&entry.annotations));
            }
            if !entry.labels.is_empty() {
                metadata.insert("labels".into(), to_json(&entry.labels));
            }
            params.insert("metadata".into(), Value::Object(metadata));
        } else {
            for (key, value) in &entry.annotations {
                params.insert(format!("metadata.annotations.{key}"), value.clone().into());
            }
            for (key, value) in &entry.labels {
                params.insert(format!("metadata.labels.{key}"), value.clone().into());
            }
        }
        append_values(&mut params, &generator.values, engine)?;
        sets.push(params);
    }
    let registered = entries.iter().any(|e| e.server == IN_CLUSTER_SERVER);
    if selector.is_everything() && !registered {
        let mut params = base(IN_CLUSTER_NAME, IN_CLUSTER_SERVER, "");
        append_values(&mut params, &generator.values, engine)?;
        sets.push(params);
    }
    if generator.flat_list {
        // Always one set, so no clusters leaves the app in place with an empty list.
        let clusters = sets.into_iter().map(Value::Object).collect();
        let mut one = Params::new();
        one.insert("clusters".into(), Value::Array(clusters));
        return Ok(vec![one]);
    }
    Ok(sets)
}

fn base(name: &str, server: &str, project: &str) -> Params {
    let mut params = Params::new();
    params.insert("name".into(), name.into());
    params.insert("nameNormalized".into(), normalize(name).into());
    params.insert("server".into(), server.into());
    params.insert("project".into(), project.into());
    params
}

fn to_json(map: &std::collections::BTreeMap<String, String>) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::appset::template::go::MissingKey;

    fn entry(name: &str, server: &str, env: &str) -> ClusterEntry {
        ClusterEntry {
            name: name.into(),
            server: server.into(),
            project: String::new(),
            labels: [
                (
                    "argocd.argoproj.io/secret-type".to_string(),
                    "cluster".to_string(),
                ),
                ("env".to_string(), env.to_string()),
            ]
            .into(),
            annotations: Default::default(),
        }
    }

    fn generator(value: Value) -> ClusterGenerator {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn one_set_per_cluster_and_in_cluster_last() {
        let entries = [entry("Cluster_1", "https://c1", "dev")];
        let sets = params(
            &generator(json!({"values": {"revision": "{{metadata.labels.env}}-branch"}})),
            &LabelSelector::everything(),
            &entries,
            Engine::Fast,
        )
        .unwrap();
        assert_eq!(
            Value::Array(sets.into_iter().map(Value::Object).collect()),
            json!([
                {"name": "Cluster_1", "nameNormalized": "cluster-1", "server": "https://c1",
                 "project": "", "metadata.labels.argocd.argoproj.io/secret-type": "cluster",
                 "metadata.labels.env": "dev", "values.revision": "dev-branch"},
                {"name": "in-cluster", "nameNormalized": "in-cluster",
                 "server": "https://kubernetes.default.svc", "project": "",
                 "values.revision": "{{metadata.labels.env}}-branch"},
            ])
        );
    }

    #[test]
    fn a_selector_or_a_registered_local_cluster_leaves_out_in_cluster() {
        let selector = LabelSelector::from_json(&json!({"matchLabels": {"env": "dev"}})).unwrap();
        let entries = [entry("c1", "https://c1", "dev")];
        let sets = params(&generator(json!({})), &selector, &entries, Engine::Fast).unwrap();
        assert_eq!(sets.len(), 1);
        let local = [entry("local", IN_CLUSTER_SERVER, "dev")];
        let sets = params(
            &generator(json!({})),
            &LabelSelector::everything(),
            &local,
            Engine::Fast,
        )
        .unwrap();
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0]["name"], "local");
    }

    #[test]
    fn go_templates_get_nested_metadata_and_flat_lists() {
        let entries = [
            entry("c1", "https://c1", "dev"),
            entry("c2", "https://c2", "prod"),
        ];
        let engine = Engine::Go(MissingKey::NoValue);
        let sets = params(
            &generator(json!({"values": {"env": "{{ .metadata.labels.env }}"}})),
            &LabelSelector::everything(),
            &entries,
            engine,
        )
        .unwrap();
        assert_eq!(sets[1]["metadata"]["labels"]["env"], "prod");
        assert_eq!(sets[1]["values"], json!({"env": "prod"}));
        assert!(sets[2].get("metadata").is_none());
        let flat = params(
            &generator(json!({"flatList": true})),
            &LabelSelector::everything(),
            &entries,
            engine,
        )
        .unwrap();
        assert_eq!(flat.len(), 1);
        assert_eq!(flat[0]["clusters"].as_array().unwrap().len(), 3);
    }
}
