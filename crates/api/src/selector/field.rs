//! Field selectors (`fields.ParseSelector`): `field=value` and `field!=value` terms with
//! Kubernetes' escaping, and the field values of an object.

use std::fmt;

use serde_json::Value;

use super::{SelectorError, invalid};

/// A field requirement's operator; `==` is read as `=`, as Kubernetes does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    /// `=` (or `==`).
    Equals,
    /// `!=`.
    NotEquals,
}

/// One `field=value` / `field!=value` term, value already unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    /// The dotted field path (`metadata.name`).
    pub field: String,
    /// How the field is compared.
    pub operator: FieldOperator,
    /// The value compared with, unescaped.
    pub value: String,
}

impl FieldRequirement {
    /// Whether the object's value for this field (`""` when missing)
    /// satisfies the requirement.
    pub fn matches(&self, actual: &str) -> bool {
        match self.operator {
            FieldOperator::Equals => actual == self.value,
            FieldOperator::NotEquals => actual != self.value,
        }
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        };
        write!(f, "{}{op}{}", self.field, escape_field_value(&self.value))
    }
}

/// A field selector (`fields.ParseSelector`): terms ANDed together.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    /// In the order of their sorted source terms, as Kubernetes keeps them.
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Matches every object.
    pub fn everything() -> FieldSelector {
        FieldSelector::default()
    }

    /// Parses `field=value`, `field==value`, `field!=value`, comma
    /// separated. Values may escape `\`, `,` and `=` with a backslash. No
    /// whitespace is trimmed (Kubernetes does not either), and field names
    /// are not checked here: see [`FieldSelector::ensure_supported`].
    pub fn parse(selector: &str) -> Result<FieldSelector, SelectorError> {
        let mut terms = split_field_terms(selector);
        terms.sort_unstable();
        let mut requirements = Vec::with_capacity(terms.len());
        for term in terms {
            if term.is_empty() {
                continue;
            }
            let (field, operator, raw) = split_field_term(term).ok_or_else(|| {
                invalid(format!(
                    "invalid selector: '{selector}'; can't understand '{term}'"
                ))
            })?;
            requirements.push(FieldRequirement {
                field: field.to_owned(),
                operator,
                value: unescape_field_value(raw)?,
            });
        }
        Ok(FieldSelector { requirements })
    }

    /// The terms, in the order given.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// True when the selector places no restriction.
    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The value `field` must equal, if some term is `field=value`
    /// (`RequiresExactMatch`), e.g. `metadata.name` for `kubectl get x -w`.
    pub fn exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.operator == FieldOperator::Equals)
            .map(|r| r.value.as_str())
    }

    /// Rejects the first field the resource does not support, with the
    /// Kubernetes message `field label not supported: <field>`.
    pub fn ensure_supported(&self, supported: impl Fn(&str) -> bool) -> Result<(), SelectorError> {
        match self.requirements.iter().find(|r| !supported(&r.field)) {
            Some(r) => Err(SelectorError::UnsupportedField(r.field.clone())),
            None => Ok(()),
        }
    }

    /// Matches using `get(field)` for the object's field values; return
    /// `""` for a missing field.
    pub fn matches_with(&self, get: impl Fn(&str) -> String) -> bool {
        self.requirements.iter().all(|r| r.matches(&get(&r.field)))
    }

    /// Matches by resolving each field as a dotted path in the object (see
    /// [`field_value`]). Resources whose field labels are not plain paths
    /// (an Event's `source`) should use [`FieldSelector::matches_with`].
    pub fn matches_object(&self, obj: &Value) -> bool {
        self.matches_with(|field| field_value(obj, field))
    }
}

/// Terms joined with `,`, values escaped, `==` shown as `=`.
impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// The text Kubernetes would put in a resource's field set for dotted
/// `path` (`metadata.name`, `status.phase`, `spec.nodeName`): strings as is,
/// booleans and numbers as text, anything missing or structured as `""`.
pub fn field_value(obj: &Value, path: &str) -> String {
    let mut current = obj;
    for part in path.split('.') {
        match current.get(part) {
            Some(next) => current = next,
            None => return String::new(),
        }
    }
    match current {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null | Value::Array(_) | Value::Object(_) => String::new(),
    }
}

/// Splits on commas not preceded by a backslash escape.
fn split_field_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in selector.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Splits at the first operator; field names cannot escape anything, so the
/// leftmost `!=`, `==` or `=` wins (`!=` and `==` tried first at each spot).
fn split_field_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, operator) in [
            ("!=", FieldOperator::NotEquals),
            ("==", FieldOperator::Equals),
            ("=", FieldOperator::Equals),
        ] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], operator, value));
            }
        }
    }
    None
}

fn unescape_field_value(raw: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(e) => {
                    return Err(invalid(format!(
                        "invalid field selector: invalid escape sequence: \\{e}"
                    )));
                }
                None => {
                    return Err(invalid(
                        "invalid field selector: invalid escape sequence: \\",
                    ));
                }
            },
            ',' | '=' => {
                return Err(invalid(format!(
                    "invalid field selector: unescaped character in value: '{c}'"
                )));
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

fn escape_field_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::expect::*;
    use serde_json::json;

    #[test]
    fn field_selector_parse() {
        let rows: Vec<(&str, Expect)> = vec![
            ("", ok("")),
            (",", ok("")),
            ("metadata.name=foo", ok("metadata.name=foo")),
            ("metadata.name==foo", ok("metadata.name=foo")),
            ("status.phase!=Running", ok("status.phase!=Running")),
            ("b=1,a=2", ok("a=2,b=1")),
            (",a=b,", ok("a=b")),
            ("a=", ok("a=")),
            ("a==", ok("a=")),
            ("=x", ok("=x")),
            ("a=x\\,y", ok("a=x\\,y")),
            ("a=x\\=y", ok("a=x\\=y")),
            ("a=x\\\\y", ok("a=x\\\\y")),
            ("metadata.name = foo", ok("metadata.name = foo")),
            ("a", err("invalid selector: 'a'; can't understand 'a'")),
            (
                "a=b,c",
                err("invalid selector: 'a=b,c'; can't understand 'c'"),
            ),
            (
                "a=b=c",
                err("invalid field selector: unescaped character in value: '='"),
            ),
            (
                "a!==b",
                err("invalid field selector: unescaped character in value: '='"),
            ),
            (
                "a=x\\y",
                err("invalid field selector: invalid escape sequence: \\y"),
            ),
            (
                "a=x\\",
                err("invalid field selector: invalid escape sequence: \\"),
            ),
        ];
        for (input, want) in rows {
            let got = FieldSelector::parse(input)
                .map(|s| s.to_string())
                .map_err(|e| e.to_string());
            assert_eq!(got, want.map(str::to_owned), "input {input:?}");
        }
    }

    #[test]
    fn field_selector_structure_and_escapes() {
        let sel = FieldSelector::parse("spec.nodeName!=,metadata.name=a\\,b").unwrap();
        assert_eq!(
            sel.requirements(),
            &[
                FieldRequirement {
                    field: "metadata.name".into(),
                    operator: FieldOperator::Equals,
                    value: "a,b".into(),
                },
                FieldRequirement {
                    field: "spec.nodeName".into(),
                    operator: FieldOperator::NotEquals,
                    value: String::new(),
                },
            ]
        );
        assert_eq!(sel.exact_match("metadata.name"), Some("a,b"));
        assert_eq!(sel.exact_match("spec.nodeName"), None);
        // Whitespace is part of the field name, as in Kubernetes.
        let spaced = FieldSelector::parse("metadata.name = foo").unwrap();
        assert_eq!(spaced.exact_match("metadata.name"), None);
        assert!(FieldSelector::parse("").unwrap().is_everything());
    }

    #[test]
    fn field_selector_supported_fields() {
        let supported = |f: &str| matches!(f, "metadata.name" | "metadata.namespace");
        let rows: &[(&str, Result<(), &str>)] = &[
            ("", Ok(())),
            ("metadata.name=a,metadata.namespace!=b", Ok(())),
            (
                "metadata.name=a,spec.foo=bar",
                Err("field label not supported: spec.foo"),
            ),
            (
                "metadata.name =a",
                Err("field label not supported: metadata.name "),
            ),
        ];
        for (input, want) in rows {
            let got = FieldSelector::parse(input)
                .unwrap()
                .ensure_supported(supported)
                .map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(str::to_owned), "input {input:?}");
        }
        assert_eq!(
            FieldSelector::parse("x=1")
                .unwrap()
                .ensure_supported(|_| false),
            Err(SelectorError::UnsupportedField("x".into()))
        );
    }

    #[test]
    fn field_selector_matching() {
        let pod = json!({
            "metadata": {"name": "web-1", "namespace": "prod"},
            "spec": {"nodeName": "n1", "hostNetwork": true, "priority": 5},
            "status": {"phase": "Running"}
        });
        let pending = json!({"metadata": {"name": "web-2"}, "status": {"phase": "Pending"}});
        let event = json!({"involvedObject": {"kind": "Pod", "name": "web-1"}, "type": "Warning"});
        let rows: Vec<(&str, &Value, bool)> = vec![
            ("", &pod, true),
            ("metadata.name=web-1", &pod, true),
            ("metadata.name==web-1", &pod, true),
            ("metadata.name!=web-1", &pod, false),
            ("metadata.name=web-2", &pod, false),
            ("metadata.namespace=prod,status.phase=Running", &pod, true),
            ("metadata.namespace=prod,status.phase=Pending", &pod, false),
            ("status.phase!=Running", &pending, true),
            ("spec.nodeName=", &pod, false),
            ("spec.nodeName=", &pending, true),
            ("spec.nodeName!=", &pending, false),
            ("spec.hostNetwork=true", &pod, true),
            ("spec.priority=5", &pod, true),
            ("metadata.missing!=x", &pod, true),
            ("metadata=", &pod, true),
            ("involvedObject.name=web-1,type=Warning", &event, true),
            ("involvedObject.kind=Node", &event, false),
        ];
        for (selector, obj, want) in rows {
            let sel = FieldSelector::parse(selector).unwrap();
            assert_eq!(sel.matches_object(obj), want, "{selector:?} on {obj}");
        }
    }

    #[test]
    fn field_selector_matches_with_custom_fields() {
        let event = json!({"source": {"component": "kubelet"}});
        let sel = FieldSelector::parse("source=kubelet").unwrap();
        assert!(!sel.matches_object(&event));
        assert!(sel.matches_with(|f| match f {
            "source" => field_value(&event, "source.component"),
            other => field_value(&event, other),
        }));
    }
}
