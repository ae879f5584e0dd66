//! `goTemplate: true`: Go's `text/template` (gtmpl-ng) with the functions Argo CD gives
//! ApplicationSets: Sprig's (as far as gtmpl-ng and this module provide them; never `env`,
//! `expandenv` or `getHostByName`), plus `normalize`, `slugify`, `toYaml` (no trailing
//! newline), `fromYaml` and `fromYamlArray`. Renders are bounded by gtmpl-ng's default
//! limits (time, output, iterations), so a template cannot hang the controller.

use std::collections::HashMap;

use gtmpl_ng::{Context, Func, FuncError, Template, Value};
use serde_json::Value as Json;

use super::TemplateError;
use super::names;

/// How a Go template treats a key its parameters do not have (`goTemplateOptions`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingKey {
    /// Prints `<no value>` (`missingkey=default`, `=invalid`, `=zero` for Argo CD's
    /// parameter maps).
    #[default]
    NoValue,
    /// Fails the render (`missingkey=error`).
    Error,
}

impl MissingKey {
    /// Reads `goTemplateOptions` as Go's `Template.Option` does.
    pub fn from_options(options: &[String]) -> Result<Self, TemplateError> {
        let mut missing = MissingKey::default();
        for option in options {
            missing = match option.as_str() {
                "missingkey=error" => MissingKey::Error,
                "missingkey=default" | "missingkey=invalid" | "missingkey=zero" => {
                    MissingKey::NoValue
                }
                other => {
                    return Err(TemplateError::Option(format!(
                        "unrecognized option: {other}"
                    )));
                }
            };
        }
        Ok(missing)
    }
}

/// Renders `text` with `params` as dot.
pub fn render(text: &str, params: &Json, missing: MissingKey) -> Result<String, TemplateError> {
    let mut template = Template::default();
    template.add_funcs(gtmpl_ng::helm_functions::HELM_FUNCTIONS);
    template.add_funcs(FUNCTIONS);
    template
        .parse(text)
        .map_err(|e| TemplateError::Parse(text.to_string(), e.to_string()))?;
    template
        .render(&Context::from(to_value(params, missing)))
        .map_err(|e| TemplateError::Execute(text.to_string(), e.to_string()))
}

/// JSON as template data, numbers as float64. Maps are Go maps (a missing key is `<no value>`), or, under
/// `missingkey=error`, struct-like values whose missing fields fail the render.
pub fn to_value(json: &Json, missing: MissingKey) -> Value {
    match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        // Argo CD's parameters come from `encoding/json`: every number is a float64, so
        // `{{ .replicas }}` of 1000000 prints `1e+06` there, and here.
        Json::Number(n) => Value::Number(gtmpl_ng::Number::float(n.as_f64().unwrap_or_default())),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(|v| to_value(v, missing)).collect()),
        Json::Object(map) => {
            let fields: HashMap<String, Value> = map
                .iter()
                .map(|(k, v)| (k.clone(), to_value(v, missing)))
                .collect();
            match missing {
                MissingKey::NoValue => Value::Map(fields),
                MissingKey::Error => Value::Object(fields),
            }
        }
    }
}

fn from_value(value: &Value) -> Result<Json, FuncError> {
    gtmpl_ng::helm_functions::gtmpl_value_to_serde_json_value(value)
        .map_err(|e| FuncError::Generic(e.to_string()))
}

/// The functions this module adds or replaces.
const FUNCTIONS: &[(&str, Func)] = &[
    ("normalize", normalize as Func),
    ("slugify", slugify as Func),
    ("toYaml", to_yaml as Func),
    ("fromYaml", from_yaml as Func),
    ("fromYamlArray", from_yaml_array as Func),
    ("join", join as Func),
    ("split", split as Func),
    ("splitList", split_list as Func),
    ("splitn", splitn as Func),
    ("nindent", nindent as Func),
    ("sortAlpha", sort_alpha as Func),
    ("tuple", tuple as Func),
];

fn arg<'a>(
    args: &'a [Value],
    index: usize,
    function: &str,
    count: usize,
) -> Result<&'a Value, FuncError> {
    args.get(index)
        .ok_or_else(|| FuncError::ExactlyXArgs(function.to_string(), count))
}

fn exactly(args: &[Value], function: &str, count: usize) -> Result<(), FuncError> {
    if args.len() == count {
        Ok(())
    } else {
        Err(FuncError::ExactlyXArgs(function.to_string(), count))
    }
}

/// A value as Go's `fmt.Sprint` (Sprig's `strval`) writes it.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Nil | Value::NoValue => String::new(),
        other => other.to_string(),
    }
}

fn int(value: &Value, function: &str) -> Result<i64, FuncError> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| FuncError::Generic(format!("{function}: {n} is not an integer"))),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| FuncError::Generic(format!("{function}: {s:?} is not an integer"))),
        other => Err(FuncError::Generic(format!(
            "{function}: {other} is not an integer"
        ))),
    }
}

fn strings_of(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().map(text).collect(),
        Value::Nil | Value::NoValue => Vec::new(),
        other => vec![text(other)],
    }
}

fn normalize(args: &[Value]) -> Result<Value, FuncError> {
    exactly(args, "normalize", 1)?;
    Ok(Value::String(names::normalize(&text(&args[0]))))
}

/// `slugify [maxLen] [smartTruncate] name`: 50 and true by default.
fn slugify(args: &[Value]) -> Result<Value, FuncError> {
    let Some((name, options)) = args.split_last() else {
        return Err(FuncError::AtLeastXArgs("slugify".to_string(), 1));
    };
    if options.len() > 2 {
        return Err(FuncError::Generic(
            "slugify takes at most [maxLen] [smartTruncate] and the name".to_string(),
        ));
    }
    let max_len = match options.first() {
        Some(n) => usize::try_from(int(n, "slugify")?).unwrap_or(0),
        None => 50,
    };
    let smart = match options.get(1) {
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(FuncError::Generic(format!(
                "slugify: smartTruncate must be a boolean, not {other}"
            )));
        }
        None => true,
    };
    Ok(Value::String(names::slugify(&text(name), max_len, smart)))
}

/// As Argo CD's: YAML without the trailing newline.
fn to_yaml(args: &[Value]) -> Result<Value, FuncError> {
    exactly(args, "toYaml", 1)?;
    let yaml = yaml_serde::to_string(&from_value(&args[0])?)
        .map_err(|e| FuncError::Generic(format!("toYaml: {e}")))?;
    Ok(Value::String(yaml.trim_end_matches('\n').to_string()))
}

fn from_yaml(args: &[Value]) -> Result<Value, FuncError> {
    exactly(args, "fromYaml", 1)?;
    let text = text(&args[0]);
    let parsed: serde_json::Map<String, Json> = if text.trim().is_empty() {
        serde_json::Map::new()
    } else {
        yaml_serde::from_str(&text).map_err(|e| FuncError::Generic(format!("fromYaml: {e}")))?
    };
    Ok(to_value(&Json::Object(parsed), MissingKey::NoValue))
}

fn from_yaml_array(args: &[Value]) -> Result<Value, FuncError> {
    exactly(args, "fromYamlArray", 1)?;
    let text = text(&args[0]);
    let parsed: Vec<Json> = if text.trim().is_empty() {
        Vec::new()
    } else {
        yaml_serde::from_str(&text)
            .map_err(|e| FuncError::Generic(format!("fromYamlArray: {e}")))?
    };
    Ok(to_value(&Json::Array(parsed), MissingKey::NoValue))
}

fn join(args: &[Value]) -> Result<Value, FuncError> {
    exactly(args, "join", 2)?;
    Ok(Value::String(strings_of(&args[1]).join(&text(&args[0]))))
}

/// `split sep s`: a map `_0`, `_1`, … as Sprig's.
fn split(args: &[Value]) -> Result<Value, FuncError> {
    exactly(args, "split", 2)?;
    let (sep, s) = (text(&args[0]), text(&args[1]));
    Ok(indexed(go_split(&s, &sep, None)))
}

fn splitn(args: &[Value]) -> Result<Value, FuncError> {
    exactly(args, "splitn", 3)?;
    let sep = text(&args[0]);
    let n = int(&args[1], "splitn")?;
    let s = text(&args[2]);
    let parts = match usize::try_from(n) {
        Ok(0) => Vec::new(),
        Ok(n) => go_split(&s, &sep, Some(n)),
        Err(_) => go_split(&s, &sep, None),
    };
    Ok(indexed(parts))
}

fn split_list(args: &[Value]) -> Result<Value, FuncError> {
    exactly(args, "splitList", 2)?;
    let (sep, s) = (text(&args[0]), text(&args[1]));
    Ok(Value::Array(
        go_split(&s, &sep, None)
            .into_iter()
            .map(Value::String)
            .collect(),
    ))
}

/// Go's `strings.Split`/`SplitN`: an empty separator splits into characters.
fn go_split(s: &str, sep: &str, limit: Option<usize>) -> Vec<String> {
    if sep.is_empty() {
        let chars: Vec<String> = s.chars().map(String::from).collect();
        return match limit {
            Some(n) if n < chars.len() => {
                let mut head: Vec<String> = chars[..n - 1].to_vec();
                head.push(chars[n - 1..].concat());
                head
            }
            _ => chars,
        };
    }
    match limit {
        Some(n) => s.splitn(n, sep).map(str::to_string).collect(),
        None => s.split(sep).map(str::to_string).collect(),
    }
}

fn indexed(parts: Vec<String>) -> Value {
    Value::Map(
        parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| (format!("_{i}"), Value::String(p)))
            .collect(),
    )
}

fn nindent(args: &[Value]) -> Result<Value, FuncError> {
    exactly(args, "nindent", 2)?;
    let indented = gtmpl_ng::helm_functions::string::indent(args)?;
    Ok(Value::String(format!("\n{}", text(&indented))))
}

fn sort_alpha(args: &[Value]) -> Result<Value, FuncError> {
    exactly(args, "sortAlpha", 1)?;
    let mut items = strings_of(arg(args, 0, "sortAlpha", 1)?);
    items.sort();
    Ok(Value::Array(items.into_iter().map(Value::String).collect()))
}

fn tuple(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::Array(args.to_vec()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn go(text: &str, params: Json) -> Result<String, TemplateError> {
        render(text, &params, MissingKey::NoValue)
    }

    #[test]
    fn renders_as_argo_cd_go_templates() {
        let params = json!({
            "cluster": "engineering-dev",
            "path": {"path": "apps/guest book", "basename": "guest book",
                     "segments": ["apps", "guest book"]},
            "replicas": 3,
            "ratio": 1.5,
            "big": 1000000,
            "labels": {"env": "prod"},
        });
        for (text, expected) in [
            ("{{.cluster}}-guestbook", "engineering-dev-guestbook"),
            ("{{ .path.basename | normalize }}", "guest-book"),
            ("{{ slugify 8 true .path.path }}", "apps"),
            ("{{ join \"/\" .path.segments }}", "apps/guest book"),
            ("{{ index .path.segments 0 }}", "apps"),
            ("{{ .replicas }}/{{ .ratio }}/{{ .big }}", "3/1.5/1e+06"),
            ("{{ add .replicas 1 }}", "4"),
            ("{{ .missing }}", "<no value>"),
            ("{{ default \"main\" .missing }}", "main"),
            ("{{ toYaml .labels }}", "env: prod"),
            ("{{ (fromYaml \"a: 1\").a }}", "1"),
            ("{{ index (fromYamlArray \"[x, y]\") 1 }}", "y"),
            ("{{ (split \"-\" .cluster)._1 }}", "dev"),
            ("{{ splitList \"-\" .cluster | last }}", "dev"),
            ("{{ .cluster | upper | trunc 3 }}", "ENG"),
            ("{{ if eq .labels.env \"prod\" }}p{{ else }}x{{ end }}", "p"),
            ("a:{{ nindent 2 \"b\" }}", "a:\n  b"),
            ("{{ sortAlpha (list \"b\" \"a\") | join \",\" }}", "a,b"),
        ] {
            assert_eq!(go(text, params.clone()).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn missingkey_error_fails_on_a_missing_key() {
        let error = MissingKey::from_options(&["missingkey=error".to_string()]).unwrap();
        assert!(render("{{ .missing }}", &json!({"a": "b"}), error).is_err());
        assert!(render("{{ .a.deeper }}", &json!({"a": {"x": 1}}), error).is_err());
        assert_eq!(render("{{ .a }}", &json!({"a": "b"}), error).unwrap(), "b");
        assert!(MissingKey::from_options(&["missingkey=maybe".to_string()]).is_err());
    }

    #[test]
    fn environment_functions_are_absent_and_errors_name_the_template() {
        let error = go("{{ env \"HOME\" }}", json!({})).unwrap_err();
        assert!(error.to_string().contains("{{ env \"HOME\" }}"), "{error}");
        let error = go("{{ .a ", json!({})).unwrap_err();
        assert!(matches!(error, TemplateError::Parse(..)), "{error}");
    }
}
