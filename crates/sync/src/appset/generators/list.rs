//! The list generator: `elements` as written, then `elementsYaml` (a YAML list of maps,
//! usually produced by a matrix's first generator). For fasttemplate every element's values
//! must be strings, except a `values` map of strings, which becomes `values.<k>`.

use ferry_api::argocd::ListGenerator;
use serde_json::{Map, Value};

use super::GeneratorError;
use crate::appset::template::{Engine, Params};

/// The parameter sets of `list`.
pub fn params(list: &ListGenerator, engine: Engine) -> Result<Vec<Params>, GeneratorError> {
    let mut sets = Vec::with_capacity(list.elements.len());
    for element in &list.elements {
        let Value::Object(element) = element else {
            return Err(GeneratorError::Invalid(format!(
                "error unmarshling list element: {element} is not a map"
            )));
        };
        sets.push(if engine.nested() {
            element.clone()
        } else {
            flat(element)?
        });
    }
    if let Some(yaml) = list
        .elements_yaml
        .as_deref()
        .filter(|y| !y.trim().is_empty())
    {
        let elements: Vec<Map<String, Value>> = yaml_serde::from_str(yaml).map_err(|e| {
            GeneratorError::Invalid(format!("error unmarshling decoded ElementsYaml: {e}"))
        })?;
        sets.extend(elements);
    }
    Ok(sets)
}

fn flat(element: &Map<String, Value>) -> Result<Params, GeneratorError> {
    let mut params = Params::new();
    for (key, value) in element {
        match (key.as_str(), value) {
            (_, Value::String(_)) => {
                params.insert(key.clone(), value.clone());
            }
            ("values", Value::Object(values)) => {
                for (name, value) in values {
                    let Value::String(_) = value else {
                        return Err(GeneratorError::Invalid(
                            "error parsing values map".to_string(),
                        ));
                    };
                    params.insert(format!("values.{name}"), value.clone());
                }
            }
            _ => {
                return Err(GeneratorError::Invalid(format!(
                    "error parsing value as string: the list element's {key:?} is {value}, \
                     and without goTemplate every value must be a string"
                )));
            }
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::appset::template::go::MissingKey;

    fn list(value: Value) -> ListGenerator {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn elements_then_elements_yaml() {
        let generator = list(json!({
            "elements": [{"cluster": "dev", "values": {"tier": "a"}}, {}],
            "elementsYaml": "- cluster: prod\n  replicas: 2\n",
        }));
        let sets = params(&generator, Engine::Fast).unwrap();
        assert_eq!(
            Value::Array(sets.into_iter().map(Value::Object).collect()),
            json!([{"cluster": "dev", "values.tier": "a"}, {}, {"cluster": "prod", "replicas": 2}])
        );
    }

    #[test]
    fn go_templates_get_elements_as_written() {
        let generator = list(json!({"elements": [{"cluster": "dev", "n": {"a": [1]}}]}));
        let sets = params(&generator, Engine::Go(MissingKey::Error)).unwrap();
        assert_eq!(
            Value::Object(sets[0].clone()),
            json!({"cluster": "dev", "n": {"a": [1]}})
        );
    }

    #[test]
    fn fasttemplate_refuses_values_that_are_not_strings() {
        for element in [json!({"n": 1}), json!({"values": {"a": 1}}), json!("text")] {
            let generator = list(json!({"elements": [element]}));
            assert!(params(&generator, Engine::Fast).is_err(), "{element}");
        }
        let bad_yaml = list(json!({"elementsYaml": "a: b"}));
        assert!(params(&bad_yaml, Engine::Fast).is_err());
    }
}
