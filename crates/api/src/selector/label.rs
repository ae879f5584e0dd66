//! Label selectors: requirements, the structured `metav1.LabelSelector` form, and matching.

use std::fmt;

use serde_json::{Map, Value};

use super::{SelectorError, invalid, parse};
use crate::validation;

/// A label requirement's operator. `Exists`/`DoesNotExist` come from a bare
/// `key` / `!key`; `GreaterThan`/`LessThan` (`a>1`) are accepted by the
/// Kubernetes string syntax though rarely used outside node affinity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `=`.
    Equals,
    /// `==`, the same as `=`.
    DoubleEquals,
    /// `!=`: true when the label is missing too.
    NotEquals,
    /// `in (a,b)`.
    In,
    /// `notin (a,b)`: true when the label is missing too.
    NotIn,
    /// A bare `key`: the label is set.
    Exists,
    /// `!key`: the label is not set.
    DoesNotExist,
    /// `key>n`: the label is an integer greater than `n`.
    GreaterThan,
    /// `key<n`: the label is an integer less than `n`.
    LessThan,
}

impl Operator {
    /// Kubernetes' `selection.Operator` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// One validated `key operator values` term of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// Sorted and de-duplicated: matching is set membership, and sorted
    /// values make `Display` canonical.
    values: Vec<String>,
}

impl Requirement {
    /// Builds a requirement with `labels.NewRequirement`'s checks: a
    /// qualified-name key, the right number of values for the operator,
    /// integers for `>`/`<`, and label-value syntax for every value.
    pub fn new<I, S>(key: &str, operator: Operator, values: I) -> Result<Requirement, SelectorError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let values = values.into_iter().map(Into::into).collect();
        new_requirement(key, operator, values).map_err(SelectorError::Invalid)
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, sorted and without duplicates. Empty for
    /// `Exists`/`DoesNotExist`; `[""]` for `in ()`.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether a label whose value is `value` (`None`: the object lacks the
    /// label) satisfies this requirement. As in Kubernetes, `!=` and `notin`
    /// match objects without the label, `>`/`<` never do.
    pub fn matches(&self, value: Option<&str>) -> bool {
        let has = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::Equals | Operator::DoubleEquals | Operator::In => value.is_some_and(has),
            Operator::NotEquals | Operator::NotIn => value.is_none_or(|v| !has(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let actual = value.and_then(|v| v.parse::<i64>().ok());
                let bound = self.values.first().and_then(|v| v.parse::<i64>().ok());
                match (actual, bound) {
                    (Some(actual), Some(bound)) if self.operator == Operator::GreaterThan => {
                        actual > bound
                    }
                    (Some(actual), Some(bound)) => actual < bound,
                    _ => false,
                }
            }
        }
    }
}

pub(super) fn new_requirement(
    key: &str,
    operator: Operator,
    mut values: Vec<String>,
) -> Result<Requirement, String> {
    validate_label_key(key)?;
    // Same checks, order and wording as `labels.NewRequirement`.
    match operator {
        Operator::In | Operator::NotIn if values.is_empty() => {
            return Err("for 'in', 'notin' operators, values set can't be empty".into());
        }
        Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if values.len() != 1 => {
            return Err("exact-match compatibility requires one single value".into());
        }
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
            return Err("values set must be empty for exists and does not exist".into());
        }
        Operator::GreaterThan | Operator::LessThan => {
            if values.len() != 1 {
                return Err("for 'Gt', 'Lt' operators, exactly one value is required".into());
            }
            if values.iter().any(|v| v.parse::<i64>().is_err()) {
                return Err("for 'Gt', 'Lt' operators, the value must be an integer".into());
            }
        }
        _ => {}
    }
    for value in &values {
        let errs = validation::label_value(value);
        if !errs.is_empty() {
            return Err(format!(
                "invalid label value: {value:?}: at key: {key:?}: {}",
                errs.join("; ")
            ));
        }
    }
    values.sort();
    values.dedup();
    Ok(Requirement {
        key: key.to_owned(),
        operator,
        values,
    })
}

pub(super) fn validate_label_key(key: &str) -> Result<(), String> {
    let errs = validation::qualified_name(key);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!("invalid label key {key:?}: {}", errs.join("; ")))
    }
}

/// `labels.Requirement.String()`: `!a`, `a`, `a=b`, `a in (x,y)`.
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
        };
        f.write_str(op)?;
        let joined = self.values.join(",");
        match self.operator {
            Operator::In | Operator::NotIn => write!(f, "({joined})"),
            _ => f.write_str(&joined),
        }
    }
}

/// A label selector: requirements ANDed together. No requirements selects
/// everything; [`LabelSelector::nothing`] (a `null` structured selector)
/// selects nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    /// Sorted by key (stable), as Kubernetes sorts for deterministic output.
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl LabelSelector {
    /// Matches every object.
    pub fn everything() -> LabelSelector {
        LabelSelector::default()
    }

    /// Matches no object (`labels.Nothing()`). Renders as `""` like
    /// Kubernetes, so `Display` is not a round trip for this one value.
    pub fn nothing() -> LabelSelector {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// From already-built requirements (sorted by key here).
    pub fn from_requirements(mut requirements: Vec<Requirement>) -> LabelSelector {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        LabelSelector {
            requirements,
            nothing: false,
        }
    }

    /// Parses the string syntax (`labels.Parse`). Empty or blank selects
    /// everything. Errors name the offending token, e.g.
    /// `unable to parse requirement: found 'b', expected: ...`.
    pub fn parse(selector: &str) -> Result<LabelSelector, SelectorError> {
        let requirements = parse::requirements(selector).map_err(SelectorError::Invalid)?;
        Ok(LabelSelector::from_requirements(requirements))
    }

    /// Equality on every entry of a plain `key: value` map: `matchLabels`
    /// alone, or a Service's / ReplicationController's `spec.selector`.
    /// An empty map selects everything (`labels.SelectorFromSet`).
    pub fn from_match_labels(labels: &Map<String, Value>) -> Result<LabelSelector, SelectorError> {
        let mut requirements = Vec::with_capacity(labels.len());
        push_match_labels(labels, &mut requirements)?;
        Ok(LabelSelector::from_requirements(requirements))
    }

    /// Reads a structured `metav1.LabelSelector`
    /// (`metav1.LabelSelectorAsSelector`): `null` selects nothing, `{}`
    /// selects everything, `matchLabels` become `=` requirements and
    /// `matchExpressions` use `In`, `NotIn`, `Exists`, `DoesNotExist`.
    pub fn from_json(selector: &Value) -> Result<LabelSelector, SelectorError> {
        let map = match selector {
            Value::Null => return Ok(LabelSelector::nothing()),
            Value::Object(map) => map,
            _ => return Err(invalid("label selector must be an object")),
        };
        let mut requirements = Vec::new();
        match map.get("matchLabels") {
            None | Some(Value::Null) => {}
            Some(Value::Object(labels)) => push_match_labels(labels, &mut requirements)?,
            Some(_) => return Err(invalid("matchLabels must be an object")),
        }
        match map.get("matchExpressions") {
            None | Some(Value::Null) => {}
            Some(Value::Array(exprs)) => {
                for (i, expr) in exprs.iter().enumerate() {
                    requirements.push(match_expression(i, expr)?);
                }
            }
            Some(_) => return Err(invalid("matchExpressions must be an array")),
        }
        Ok(LabelSelector::from_requirements(requirements))
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// True when the selector places no restriction (Kubernetes' `Empty()`).
    pub fn is_everything(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// True for [`LabelSelector::nothing`].
    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    /// Matches a label map such as a parsed object's `metadata.labels`.
    /// Non-string values count as absent (they are invalid labels anyway).
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        self.matches_with(|key| labels.get(key).and_then(Value::as_str))
    }

    /// Matches an object by its `metadata.labels` (missing = no labels).
    pub fn matches_object(&self, obj: &Value) -> bool {
        match crate::meta::labels(obj) {
            Some(labels) => self.matches(labels),
            None => self.matches(&Map::new()),
        }
    }

    /// Matches labels held in any other shape: `get(key)` returns the
    /// label's value, `None` if absent.
    pub fn matches_with<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(get(&r.key)))
    }

    /// The single value `key` must equal, if the selector pins it with `=`,
    /// `==` or a one-value `in` (`RequiresExactMatch`): lets the server
    /// narrow a list before matching.
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        // Kubernetes only looks at the first requirement with this key.
        let r = self.requirements.iter().find(|r| r.key == key)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [only]) => Some(only),
            _ => None,
        }
    }
}

/// Requirements joined with `,`; `nothing` renders as `""` (see
/// [`LabelSelector::nothing`]).
impl fmt::Display for LabelSelector {
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

fn push_match_labels(
    labels: &Map<String, Value>,
    out: &mut Vec<Requirement>,
) -> Result<(), SelectorError> {
    for (key, value) in labels {
        let value = value
            .as_str()
            .ok_or_else(|| invalid(format!("matchLabels[{key}] must be a string")))?;
        out.push(Requirement::new(key, Operator::Equals, [value])?);
    }
    Ok(())
}

fn match_expression(i: usize, expr: &Value) -> Result<Requirement, SelectorError> {
    let field = |name: &str| {
        expr.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("matchExpressions[{i}].{name} must be a string")))
    };
    let key = field("key")?;
    let operator = match field("operator")? {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        other => {
            return Err(invalid(format!(
                "{other:?} is not a valid label selector operator"
            )));
        }
    };
    let values = match expr.get("values") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                invalid(format!(
                    "matchExpressions[{i}].values must be an array of strings"
                ))
            })?,
        Some(_) => {
            return Err(invalid(format!(
                "matchExpressions[{i}].values must be an array of strings"
            )));
        }
    };
    Requirement::new(key, operator, values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::expect::*;
    use serde_json::json;

    #[test]
    fn label_selector_matching() {
        let rows: Vec<(&str, Value, bool)> = vec![
            ("", json!({}), true),
            ("", json!({"a": "b"}), true),
            ("a=b", json!({"a": "b"}), true),
            ("a==b", json!({"a": "b"}), true),
            ("a=b", json!({"a": "c"}), false),
            ("a=b", json!({}), false),
            ("a!=b", json!({}), true),
            ("a!=b", json!({"a": "b"}), false),
            ("a!=b", json!({"a": "c"}), true),
            ("a in (x,y)", json!({"a": "y"}), true),
            ("a in (x,y)", json!({"a": "z"}), false),
            ("a in (x,y)", json!({}), false),
            ("a notin (x)", json!({}), true),
            ("a notin (x)", json!({"a": "x"}), false),
            ("a notin (x)", json!({"a": "y"}), true),
            ("a", json!({"a": ""}), true),
            ("a", json!({"b": "a"}), false),
            ("!a", json!({}), true),
            ("!a", json!({"a": "x"}), false),
            ("a in ()", json!({"a": ""}), true),
            ("a in ()", json!({"a": "x"}), false),
            ("a=", json!({"a": ""}), true),
            ("a=", json!({}), false),
            ("a>5", json!({"a": "10"}), true),
            ("a>5", json!({"a": "5"}), false),
            ("a>5", json!({"a": "x"}), false),
            ("a>5", json!({}), false),
            ("a<5", json!({"a": "3"}), true),
            ("a<5", json!({"a": "007"}), false),
            ("a=b,c", json!({"a": "b", "c": "d"}), true),
            ("a=b,c", json!({"a": "b"}), false),
            ("x=a,x=b", json!({"x": "a"}), false),
            (
                "tier in (web),env!=prod",
                json!({"tier": "web", "env": "dev"}),
                true,
            ),
            // Non-string label values are treated as absent.
            ("a", json!({"a": 1}), false),
            ("!a", json!({"a": 1}), true),
        ];
        for (selector, labels, want) in rows {
            let sel = LabelSelector::parse(selector).unwrap();
            let labels = labels.as_object().cloned().unwrap_or_default();
            assert_eq!(sel.matches(&labels), want, "{selector:?} on {labels:?}");
            let obj = json!({"metadata": {"labels": labels}});
            assert_eq!(sel.matches_object(&obj), want, "{selector:?} object");
        }
    }

    #[test]
    fn label_selector_matches_object_without_labels() {
        let obj = json!({"metadata": {"name": "x"}});
        let rows = [("", true), ("!a", true), ("a!=b", true), ("a", false)];
        for (selector, want) in rows {
            let sel = LabelSelector::parse(selector).unwrap();
            assert_eq!(sel.matches_object(&obj), want, "{selector:?}");
        }
        assert!(!LabelSelector::nothing().matches_object(&obj));
        assert!(!LabelSelector::nothing().matches(&Map::new()));
    }

    #[test]
    fn label_selector_matches_with_other_shapes() {
        let pairs = [("app", "web"), ("tier", "front")];
        let sel = LabelSelector::parse("app=web,tier notin (back)").unwrap();
        let get = |k: &str| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
        assert!(sel.matches_with(get));
    }

    #[test]
    fn label_selector_from_json() {
        let rows: Vec<(Value, Expect)> = vec![
            (json!({}), ok("")),
            (json!({"matchLabels": {}, "matchExpressions": []}), ok("")),
            (json!({"matchLabels": null}), ok("")),
            (json!({"matchLabels": {"app": "web"}}), ok("app=web")),
            (json!({"matchLabels": {"b": "1", "a": "2"}}), ok("a=2,b=1")),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]}),
                ok("tier in (a,b)"),
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}),
                ok("tier notin (a)"),
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}),
                ok("tier"),
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist", "values": []}]}),
                ok("!tier"),
            ),
            (
                json!({"matchLabels": {"z": "1"},
                       "matchExpressions": [{"key": "a", "operator": "Exists"}]}),
                ok("a,z=1"),
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}),
                err("\"Gt\" is not a valid label selector operator"),
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
                err("for 'in', 'notin' operators, values set can't be empty"),
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "NotIn"}]}),
                err("for 'in', 'notin' operators, values set can't be empty"),
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
                err("values set must be empty for exists and does not exist"),
            ),
            (
                json!({"matchLabels": {"a@b": "x"}}),
                err(format!("invalid label key \"a@b\": {NAME_PART_MSG}")),
            ),
            (
                json!({"matchLabels": {"a": "x y"}}),
                err(format!(
                    "invalid label value: \"x y\": at key: \"a\": {VALUE_MSG}"
                )),
            ),
            (
                json!({"matchLabels": {"a": 1}}),
                err("matchLabels[a] must be a string"),
            ),
            (
                json!({"matchLabels": []}),
                err("matchLabels must be an object"),
            ),
            (
                json!({"matchExpressions": {}}),
                err("matchExpressions must be an array"),
            ),
            (
                json!({"matchExpressions": [{"operator": "Exists"}]}),
                err("matchExpressions[0].key must be a string"),
            ),
            (
                json!({"matchExpressions": [{"key": "a"}]}),
                err("matchExpressions[0].operator must be a string"),
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "In", "values": [1]}]}),
                err("matchExpressions[0].values must be an array of strings"),
            ),
            (json!("app=web"), err("label selector must be an object")),
        ];
        for (input, want) in rows {
            let got = LabelSelector::from_json(&input)
                .map(|s| s.to_string())
                .map_err(|e| e.to_string());
            assert_eq!(got, want.map(str::to_owned), "input {input}");
        }
    }

    #[test]
    fn label_selector_null_and_empty_json() {
        let null = LabelSelector::from_json(&Value::Null).unwrap();
        assert!(null.is_nothing());
        assert!(!null.is_everything());
        assert!(!null.matches_object(&json!({})));
        let empty = LabelSelector::from_json(&json!({})).unwrap();
        assert!(empty.is_everything());
        assert!(empty.matches_object(&json!({})));
    }

    #[test]
    fn label_selector_from_match_labels() {
        let map = json!({"app": "web", "tier": "front"});
        let sel = LabelSelector::from_match_labels(map.as_object().unwrap()).unwrap();
        assert_eq!(sel.to_string(), "app=web,tier=front");
        assert!(sel.matches_object(
            &json!({"metadata": {"labels": {"app": "web", "tier": "front", "x": "y"}}})
        ));
        assert!(!sel.matches_object(&json!({"metadata": {"labels": {"app": "web"}}})));
        assert!(
            LabelSelector::from_match_labels(&Map::new())
                .unwrap()
                .is_everything()
        );
    }

    #[test]
    fn requires_exact_match() {
        let rows: &[(&str, &str, Option<&str>)] = &[
            ("a=b", "a", Some("b")),
            ("a==b", "a", Some("b")),
            ("a in (b)", "a", Some("b")),
            ("a in (b,c)", "a", None),
            ("a!=b", "a", None),
            ("a=b", "c", None),
            ("a", "a", None),
        ];
        for (selector, key, want) in rows {
            let sel = LabelSelector::parse(selector).unwrap();
            assert_eq!(sel.requires_exact_match(key), *want, "{selector:?} {key}");
        }
    }

    #[test]
    fn requirement_new_checks() {
        let rows: Vec<(&str, Operator, Vec<&str>, Expect)> = vec![
            ("a", Operator::In, vec!["b", "a", "b"], ok("a in (a,b)")),
            (
                "a",
                Operator::Equals,
                vec!["x", "y"],
                err("exact-match compatibility requires one single value"),
            ),
            (
                "a",
                Operator::NotEquals,
                vec![],
                err("exact-match compatibility requires one single value"),
            ),
            (
                "a",
                Operator::GreaterThan,
                vec!["1", "2"],
                err("for 'Gt', 'Lt' operators, exactly one value is required"),
            ),
            (
                "a",
                Operator::LessThan,
                vec!["-3"],
                err(format!(
                    "invalid label value: \"-3\": at key: \"a\": {VALUE_MSG}"
                )),
            ),
            (
                "",
                Operator::Exists,
                vec![],
                err(format!(
                    "invalid label key \"\": name part must be non-empty; {NAME_PART_MSG}"
                )),
            ),
        ];
        for (key, op, values, want) in rows {
            let got = Requirement::new(key, op, values)
                .map(|r| r.to_string())
                .map_err(|e| e.to_string());
            assert_eq!(got, want.map(str::to_owned), "{key:?} {op:?}");
        }
    }
}
