//! The merge generator: the first generator's parameter sets are the base; each later
//! generator's sets replace the values of the base set whose `mergeKeys` values are the
//! same (a missing key counts as `null`). Sets no base set matches are dropped; every
//! generator's sets must be unique by the keys.

use serde_json::{Map, Value};

use super::matrix::{children, deep_override, deeper};
use super::{Depth, GeneratorError, Run};
use crate::appset::template::{Engine, Params};

/// The parameter sets of the merge `spec` (its JSON: `{generators, mergeKeys}`).
pub(super) async fn params(
    run: &Run<'_>,
    spec: &Value,
    depth: Depth,
) -> Result<Vec<Params>, GeneratorError> {
    let generators = children(spec, "Merge requires two or more")?;
    if generators.len() < 2 {
        return Err(GeneratorError::Invalid(
            "found less than two generators, Merge requires two or more".to_string(),
        ));
    }
    let keys: Vec<String> = match spec.get("mergeKeys") {
        Some(Value::Array(keys)) => keys
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    if keys.is_empty() {
        return Err(GeneratorError::Invalid(
            "no merge keys were specified, Merge requires at least one".to_string(),
        ));
    }
    let mut sets = Vec::with_capacity(generators.len());
    for (index, generator) in generators.iter().enumerate() {
        let params = run.transform(generator, deeper(depth)).await.map_err(|e| {
            GeneratorError::Invalid(format!(
                "error getting params from generator {} of {}: {e}",
                index + 1,
                generators.len()
            ))
        })?;
        sets.push(params);
    }
    merge(sets, &keys, run.engine)
}

/// The base (first) sets, each overridden by the later sets with its key.
fn merge(
    sets: Vec<Vec<Params>>,
    keys: &[String],
    engine: Engine,
) -> Result<Vec<Params>, GeneratorError> {
    let mut generators = sets.into_iter();
    let mut base = generators.next().unwrap_or_default();
    let base_keys = unique_keys(&base, keys)?;
    for sets in generators {
        let keyed = unique_keys(&sets, keys)?;
        for (set, key) in sets.into_iter().zip(keyed) {
            let Some(index) = base_keys.iter().position(|k| *k == key) else {
                continue;
            };
            if engine.nested() {
                let mut merged = Value::Object(std::mem::take(&mut base[index]));
                deep_override(&mut merged, &Value::Object(set));
                if let Value::Object(merged) = merged {
                    base[index] = merged;
                }
            } else {
                base[index].extend(set);
            }
        }
    }
    Ok(base)
}

/// Each set's merge key (`{"k": value}` as JSON), refusing two sets with one key.
fn unique_keys(sets: &[Params], keys: &[String]) -> Result<Vec<String>, GeneratorError> {
    let mut seen = Vec::with_capacity(sets.len());
    for set in sets {
        let key: Map<String, Value> = keys
            .iter()
            .map(|k| (k.clone(), set.get(k).cloned().unwrap_or(Value::Null)))
            .collect();
        let key = Value::Object(key).to_string();
        if seen.contains(&key) {
            return Err(GeneratorError::Invalid(format!(
                "error getting param sets by merge key: the parameters from a generator were \
                 not unique by the given mergeKeys, Merge requires all param sets to be unique. \
                 Duplicate key was {key}"
            )));
        }
        seen.push(key);
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::appset::template::go::MissingKey;

    fn sets(value: Value) -> Vec<Params> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_object().cloned().unwrap())
            .collect()
    }

    #[test]
    fn later_generators_override_the_base_by_key() {
        let merged = merge(
            vec![
                sets(json!([{"name": "dev", "replicas": "1"}, {"name": "prod", "replicas": "1"}])),
                sets(json!([{"name": "prod", "replicas": "3"}, {"name": "qa", "replicas": "9"}])),
            ],
            &["name".to_string()],
            Engine::Fast,
        )
        .unwrap();
        assert_eq!(
            Value::Array(merged.into_iter().map(Value::Object).collect()),
            json!([{"name": "dev", "replicas": "1"}, {"name": "prod", "replicas": "3"}])
        );
    }

    #[test]
    fn go_templates_merge_nested_values() {
        let merged = merge(
            vec![
                sets(json!([{"name": "dev", "values": {"a": "1", "b": "1"}}])),
                sets(json!([{"name": "dev", "values": {"b": "2"}}])),
            ],
            &["name".to_string()],
            Engine::Go(MissingKey::NoValue),
        )
        .unwrap();
        assert_eq!(merged[0]["values"], json!({"a": "1", "b": "2"}));
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let error = merge(
            vec![sets(json!([{"name": "a"}, {"name": "a"}])), sets(json!([]))],
            &["name".to_string()],
            Engine::Fast,
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("Duplicate key was {\"name\":\"a\"}"),
            "{error}"
        );
    }
}
