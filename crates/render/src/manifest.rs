//! Kubernetes manifests as renderers produce them: JSON values parsed from YAML or JSON
//! documents, with errors that say which file and line.

use serde::Deserialize as _;
use serde_json::Value;

/// One object (a JSON map with `apiVersion`, `kind`, `metadata`).
pub type Manifest = Value;

#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ParseError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

/// Parses every document of a YAML (or JSON) file. Empty documents are skipped; a `List`
/// (`kind: List` / `*List` with `items`) contributes its items, as kubectl reads it.
pub fn parse_documents(file: &str, bytes: &[u8]) -> Result<Vec<Manifest>, ParseError> {
    let mut out = Vec::new();
    for document in yaml_serde::Deserializer::from_slice(bytes) {
        let value = Value::deserialize(document).map_err(|e| ParseError {
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
