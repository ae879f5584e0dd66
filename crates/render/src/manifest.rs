//! Kubernetes manifests as renderers produce them: JSON values parsed from YAML or JSON
//! documents, with errors that say which file and line. [`parse_documents_strict`] also refuses
//! a mapping key given twice, as Kustomize does for the objects and patches it reads (go-yaml
//! v3); elsewhere the last value wins, as sigs.k8s.io/yaml has it.

use std::fmt;

use ferry_api::{Classify, Disposition};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// One object (a JSON map with `apiVersion`, `kind`, `metadata`).
pub type Manifest = Value;

/// A file that is not YAML or JSON manifests, with where and why.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ParseError {
    /// The file, as the caller names it.
    pub file: String,
    /// The line, when the parser knows it.
    pub line: Option<usize>,
    /// What the parser said.
    pub message: String,
}

impl Classify for ParseError {
    /// The file must change.
    fn disposition(&self) -> Disposition {
        Disposition::GiveUp
    }
}

/// Parses every document of a YAML (or JSON) file. Empty documents are skipped; a `List`
/// (`kind: List` / `*List` with `items`) contributes its items, as kubectl reads it.
pub fn parse_documents(file: &str, bytes: &[u8]) -> Result<Vec<Manifest>, ParseError> {
    parse(file, bytes, Keys::LastWins)
}

/// [`parse_documents`], refusing duplicate mapping keys.
pub fn parse_documents_strict(file: &str, bytes: &[u8]) -> Result<Vec<Manifest>, ParseError> {
    parse(file, bytes, Keys::Unique)
}

/// What a mapping key given twice means.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keys {
    LastWins,
    Unique,
}

fn parse(file: &str, bytes: &[u8], keys: Keys) -> Result<Vec<Manifest>, ParseError> {
    let mut out = Vec::new();
    for document in yaml_serde::Deserializer::from_slice(bytes) {
        let value = match keys {
            Keys::Unique => Strict::deserialize(document).map(|s| s.0),
            Keys::LastWins => Value::deserialize(document),
        };
        let value = value.map_err(|e| ParseError {
            file: file.to_string(),
            line: e.location().map(|l| l.line()),
            message: e.to_string(),
        })?;
        match value {
            Value::Null => {}
            Value::Object(map) => push_object(&mut out, map),
            other => {
                return Err(ParseError {
                    file: file.to_string(),
                    line: None,
                    message: format!(
                        "a manifest must be a mapping, found {}",
                        match other {
                            Value::Array(_) => "a sequence",
                            Value::String(_) => "a string",
                            _ => "a scalar",
                        }
                    ),
                });
            }
        }
    }
    Ok(out)
}

/// Adds one object to `out`; a `List` (`kind: List` / `*List` with `items`) contributes its
/// items instead, as kubectl (and Argo CD's manifest generation) reads it.
pub fn push_object(out: &mut Vec<Manifest>, map: serde_json::Map<String, Value>) {
    let is_list = map
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && map.get("items").is_some_and(Value::is_array);
    match map.get("items") {
        Some(Value::Array(items)) if is_list => {
            out.extend(items.iter().filter(|i| !i.is_null()).cloned());
        }
        _ => out.push(Value::Object(map)),
    }
}

/// Multi-document YAML as `kubectl kustomize` prints it, byte for byte.
pub fn to_yaml_stream(manifests: &[Manifest]) -> String {
    let mut out = String::new();
    for (i, m) in manifests.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&ferry_api::yaml::to_string(m));
    }
    out
}

/// A document as JSON, refusing duplicate mapping keys.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Strict::deserialize(d).map(|s| s.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "mapping key {key:?} already defined"
                )));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_lists_and_empties() {
        let yaml = b"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n\
kind: List\napiVersion: v1\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n";
        let docs = parse_documents("x.yaml", yaml).unwrap();
        let names: Vec<_> = docs
            .iter()
            .map(|d| d["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a", "b"]);
        let json = br#"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}"#;
        assert_eq!(parse_documents("x.json", json).unwrap().len(), 1);
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = parse_documents("apps/web/deploy.yaml", b"a: 1\nb: [\n").unwrap_err();
        assert_eq!(err.file, "apps/web/deploy.yaml");
        assert!(err.line.is_some(), "{err}");
        assert!(
            err.to_string().starts_with("apps/web/deploy.yaml:"),
            "{err}"
        );
        let err = parse_documents("s.yaml", b"- a\n- b\n").unwrap_err();
        assert!(err.to_string().contains("must be a mapping"), "{err}");
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let yaml = b"kind: A\nspec:\n  env: []\n  env: [x]\n";
        assert_eq!(
            parse_documents("d.yaml", yaml).unwrap()[0]["spec"]["env"][0],
            "x"
        );
        let err = parse_documents_strict("d.yaml", yaml).unwrap_err();
        assert!(err.to_string().contains("\"env\" already defined"), "{err}");
        assert!(err.line.is_some(), "{err}");
    }

    #[test]
    fn alias_bombs_are_refused() {
        // A few hundred bytes that would expand to 9^9 strings.
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
        {
            bomb.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        assert!(bomb.len() < 1000);
        let err = parse_documents("bomb.yaml", bomb.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("bomb.yaml"), "{err}");
    }
}
