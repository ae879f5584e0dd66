//! The matrix generator: the product of exactly two generators. The second runs once per
//! parameter set of the first, with every string of its spec (keys too; not its
//! `selector`) rendered with that set, so `{{path.basename}}` can pick its files; `values`
//! are pre-resolved the same way, a reference the set cannot answer left for the second
//! generator's own parameters. Go templates merge the two sets (the first wins);
//! fasttemplate refuses a key the two give different values.

use serde_json::Value;

use super::{Depth, GeneratorError, Run};
use crate::appset::template::go::MissingKey;
use crate::appset::template::{Engine, Params};

/// The parameter sets of the matrix `spec` (its JSON: `{generators: [...]}`).
pub(super) async fn params(
    run: &Run<'_>,
    spec: &Value,
    depth: Depth,
) -> Result<Vec<Params>, GeneratorError> {
    let children = children(spec, "Matrix support only two")?;
    let [first, second] = children.as_slice() else {
        let which = if children.len() < 2 { "less" } else { "more" };
        return Err(GeneratorError::Invalid(format!(
            "found {which} than two generators, Matrix support only two"
        )));
    };
    let child_depth = deeper(depth);
    let firsts = run.transform(first, child_depth).await.map_err(|e| {
        GeneratorError::Invalid(format!(
            "error failed to get params for first generator in matrix generator: {e}"
        ))
    })?;
    let mut product = Vec::new();
    for a in &firsts {
        let interpolated = interpolate(second, a, run.engine)?;
        let seconds = run
            .transform(&interpolated, child_depth)
            .await
            .map_err(|e| {
                GeneratorError::Invalid(format!(
                    "failed to get params for second generator in the matrix generator: {e}"
                ))
            })?;
        for b in seconds {
            product.push(combine(a, b, run.engine)?);
        }
    }
    Ok(product)
}

/// The `generators` of a matrix or merge spec.
pub(super) fn children(spec: &Value, what: &str) -> Result<Vec<Value>, GeneratorError> {
    match spec.get("generators") {
        Some(Value::Array(items)) => Ok(items.clone()),
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(other) => Err(GeneratorError::Invalid(format!(
            "generators must be a list ({what}), not {other}"
        ))),
    }
}

pub(super) fn deeper(depth: Depth) -> Depth {
    match depth {
        Depth::Top => Depth::Child,
        Depth::Child | Depth::Terminal => Depth::Terminal,
    }
}

/// `generator` with its strings rendered with `params`, as Argo CD's
/// `InterpolateGenerator`; an empty set leaves it as it is.
fn interpolate(
    generator: &Value,
    params: &Params,
    engine: Engine,
) -> Result<Value, GeneratorError> {
    if params.is_empty() {
        return Ok(generator.clone());
    }
    let mut out = generator.clone();
    let Value::Object(kinds) = &mut out else {
        return Ok(out);
    };
    for (kind, spec) in kinds.iter_mut() {
        if kind == "selector" {
            continue;
        }
        let Value::Object(fields) = spec else {
            continue;
        };
        for (field, value) in fields.iter_mut() {
            if field == "values" {
                pre_resolve(value, params, engine);
            } else {
                engine.render_value(value, params).map_err(|e| {
                    GeneratorError::Invalid(format!(
                        "failed to replace parameters in generator: {e}"
                    ))
                })?;
            }
        }
    }
    Ok(out)
}

/// Each of `values` rendered with `params` where that works; kept as written where it
/// names what `params` lacks (the second generator's own parameters answer it later).
fn pre_resolve(values: &mut Value, params: &Params, engine: Engine) {
    let strict = match engine {
        Engine::Go(_) => Engine::Go(MissingKey::Error),
        Engine::Fast => Engine::Fast,
    };
    if let Value::Object(values) = values {
        for value in values.values_mut() {
            if let Value::String(text) = value
                && let Ok(rendered) = strict.render(text, params)
            {
                *text = rendered;
            }
        }
    }
}

/// One parameter set of the product.
fn combine(a: &Params, b: Params, engine: Engine) -> Result<Params, GeneratorError> {
    if engine.nested() {
        let mut merged = Value::Object(b);
        deep_override(&mut merged, &Value::Object(a.clone()));
        let Value::Object(merged) = merged else {
            unreachable!("a map merged over a map is a map")
        };
        return Ok(merged);
    }
    let mut merged = a.clone();
    for (key, value) in b {
        let text = super::go_text(&value);
        match merged.get(&key).map(super::go_text) {
            Some(existing) if existing != text => {
                return Err(GeneratorError::Invalid(format!(
                    "failed to combine string maps with merging params for the matrix \
                     generator: found duplicate key {key} with different value, a: {existing} ,b: {text}"
                )));
            }
            _ => {
                merged.insert(key, Value::String(text));
            }
        }
    }
    Ok(merged)
}

/// `over` merged into `base`, as `mergo.Merge` with override: maps merge key by key, any
/// other value of `over` replaces `base`'s.
pub(super) fn deep_override(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(key) {
                    Some(existing) => deep_override(existing, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, over) => *base = over.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn params(value: Value) -> Params {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn the_second_generator_is_rendered_with_the_first_s_parameters() {
        let second = json!({
            "git": {"repoURL": "https://git/{{name}}.git", "files": [{"path": "{{path.basename}}/*.json"}],
                    "values": {"a": "{{name}}", "b": "{{own}}"}},
            "selector": {"matchLabels": {"x": "{{name}}"}},
        });
        let a = params(json!({"name": "dev", "path.basename": "apps"}));
        let out = interpolate(&second, &a, Engine::Fast).unwrap();
        assert_eq!(out["git"]["repoURL"], "https://git/dev.git");
        assert_eq!(out["git"]["files"][0]["path"], "apps/*.json");
        assert_eq!(out["git"]["values"], json!({"a": "dev", "b": "{{own}}"}));
        assert_eq!(out["selector"]["matchLabels"]["x"], "{{name}}");

        let go = interpolate(
            &json!({"list": {"values": {"a": "{{ .name }}", "b": "{{ .own }}"}}}),
            &a,
            Engine::Go(MissingKey::NoValue),
        )
        .unwrap();
        assert_eq!(go["list"]["values"], json!({"a": "dev", "b": "{{ .own }}"}));
    }

    #[test]
    fn fasttemplate_refuses_conflicting_keys_and_go_lets_the_first_win() {
        let a = params(json!({"name": "dev", "shared": "x"}));
        let same = combine(
            &a,
            params(json!({"shared": "x", "other": "y"})),
            Engine::Fast,
        )
        .unwrap();
        assert_eq!(
            Value::Object(same),
            json!({"name": "dev", "shared": "x", "other": "y"})
        );
        assert!(combine(&a, params(json!({"shared": "z"})), Engine::Fast).is_err());

        let a = params(json!({"path": {"basename": "a"}, "n": 1}));
        let merged = combine(
            &a,
            params(json!({"path": {"basename": "b", "path": "x/b"}, "n": 2, "m": 3})),
            Engine::Go(MissingKey::NoValue),
        )
        .unwrap();
        assert_eq!(
            Value::Object(merged),
            json!({"path": {"basename": "a", "path": "x/b"}, "n": 1, "m": 3})
        );
    }
}
