//! Label and field selectors, parsed and matched as Kubernetes does
//! (`k8s.io/apimachinery/pkg/labels` and `pkg/fields`).
//!
//! * [`LabelSelector::parse`] reads the string form used by
//!   `?labelSelector=` and `kubectl get -l` (`app=web,tier in (a,b),!canary`).
//! * [`LabelSelector::from_json`] reads the structured `metav1.LabelSelector`
//!   (`matchLabels` / `matchExpressions`) found in Deployments, PDBs,
//!   ApplicationSets and friends.
//! * [`FieldSelector::parse`] reads `?fieldSelector=` (`metadata.name=x`).
//!   Which fields a resource supports is the API server's decision: see
//!   [`FieldSelector::ensure_supported`].
//!
//! Both selector types render back to Kubernetes' canonical string form with
//! `Display` (requirements sorted by key, set values sorted).

use std::fmt;

use serde_json::{Map, Value};

use crate::validation;

/// A selector that could not be parsed or is not acceptable. The messages
/// follow Kubernetes' wording and are meant for a 400 `Status` as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// Malformed selector text or structure.
    #[error("{0}")]
    Invalid(String),
    /// A field selector names a field the resource does not index.
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
}

impl crate::Classify for SelectorError {
    /// The selector text must change.
    fn disposition(&self) -> crate::Disposition {
        crate::Disposition::GiveUp
    }
}

/// A label requirement's operator. `Exists`/`DoesNotExist` come from a bare
/// `key` / `!key`; `GreaterThan`/`LessThan` (`a>1`) are accepted by the
/// Kubernetes string syntax though rarely used outside node affinity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
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

    pub fn key(&self) -> &str {
        &self.key
    }

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

fn new_requirement(
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

fn validate_label_key(key: &str) -> Result<(), String> {
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
        let mut parser = Parser {
            items: lex(selector),
            pos: 0,
        };
        let requirements = parser.parse().map_err(SelectorError::Invalid)?;
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

fn invalid(message: impl Into<String>) -> SelectorError {
    SelectorError::Invalid(message.into())
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

// ---- label selector lexer and parser -------------------------------------
//
// A direct port of the apimachinery lexer/recursive-descent parser, so that
// odd inputs (`a in ()`, `x in (in)`, `a=`) behave exactly as in Kubernetes.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    End,
    Identifier,
    In,
    NotIn,
    OpenPar,
    ClosedPar,
    Comma,
    Not,
    Equals,
    DoubleEquals,
    NotEquals,
    GreaterThan,
    LessThan,
}

#[derive(Debug, Clone, Copy)]
struct Item<'a> {
    tok: Tok,
    lit: &'a str,
}

const END: Item<'static> = Item {
    tok: Tok::End,
    lit: "",
};

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The operator token starting with `b`, if `b` is a special symbol. Only
/// `!=` and `==` are two characters: Kubernetes scans the longest known
/// symbol, so `!(` is `!` then `(` and `===` is `==` then `=`.
fn symbol(b: u8, next: Option<u8>) -> Option<(Tok, usize)> {
    Some(match (b, next) {
        (b'=', Some(b'=')) => (Tok::DoubleEquals, 2),
        (b'!', Some(b'=')) => (Tok::NotEquals, 2),
        (b'=', _) => (Tok::Equals, 1),
        (b'!', _) => (Tok::Not, 1),
        (b'(', _) => (Tok::OpenPar, 1),
        (b')', _) => (Tok::ClosedPar, 1),
        (b',', _) => (Tok::Comma, 1),
        (b'>', _) => (Tok::GreaterThan, 1),
        (b'<', _) => (Tok::LessThan, 1),
        _ => return None,
    })
}

/// Splits into tokens ending with `End`. Every delimiter is ASCII, so the
/// byte offsets used for slicing are always char boundaries.
fn lex(input: &str) -> Vec<Item<'_>> {
    let bytes = input.as_bytes();
    let mut items = Vec::new();
    let mut i = 0;
    loop {
        while bytes.get(i).copied().is_some_and(is_whitespace) {
            i += 1;
        }
        let Some(&b) = bytes.get(i) else {
            items.push(END);
            return items;
        };
        if let Some((tok, len)) = symbol(b, bytes.get(i + 1).copied()) {
            items.push(Item {
                tok,
                lit: &input[i..i + len],
            });
            i += len;
            continue;
        }
        let start = i;
        while bytes
            .get(i)
            .is_some_and(|&c| !is_whitespace(c) && symbol(c, None).is_none())
        {
            i += 1;
        }
        let lit = &input[start..i];
        let tok = match lit {
            "in" => Tok::In,
            "notin" => Tok::NotIn,
            _ => Tok::Identifier,
        };
        items.push(Item { tok, lit });
    }
}

/// Where `in`/`notin` are keywords: only in operator position, so a key or
/// value may be spelled `in` (`in=notin`, `x in (in)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser<'a> {
    items: Vec<Item<'a>>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn lookahead(&self, context: Context) -> Item<'a> {
        let item = self.items.get(self.pos).copied().unwrap_or(END);
        if context == Context::Values && matches!(item.tok, Tok::In | Tok::NotIn) {
            Item {
                tok: Tok::Identifier,
                ..item
            }
        } else {
            item
        }
    }

    fn consume(&mut self, context: Context) -> Item<'a> {
        let item = self.lookahead(context);
        if self.pos < self.items.len() {
            self.pos += 1;
        }
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let next = self.lookahead(Context::Values);
            match next.tok {
                Tok::Identifier | Tok::Not => {
                    let r = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(r);
                    let after = self.consume(Context::Values);
                    match after.tok {
                        Tok::End => return Ok(requirements),
                        Tok::Comma => {
                            let t = self.lookahead(Context::Values);
                            if !matches!(t.tok, Tok::Identifier | Tok::Not) {
                                return Err(format!(
                                    "found '{}', expected: identifier after ','",
                                    t.lit
                                ));
                            }
                        }
                        _ => {
                            return Err(format!(
                                "found '{}', expected: ',' or 'end of string'",
                                after.lit
                            ));
                        }
                    }
                }
                Tok::End => return Ok(requirements),
                _ => {
                    return Err(format!(
                        "found '{}', expected: !, identifier, or 'end of string'",
                        next.lit
                    ));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, unary) = self.parse_key_and_infer_operator()?;
        if let Some(operator) = unary {
            return new_requirement(key, operator, Vec::new());
        }
        let operator = self.parse_operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        new_requirement(key, operator, values)
    }

    /// The key, plus `Exists`/`DoesNotExist` when no binary operator follows.
    /// `!key` stays `DoesNotExist` even if junk follows; the caller then
    /// reports that junk, as Kubernetes does.
    fn parse_key_and_infer_operator(&mut self) -> Result<(&'a str, Option<Operator>), String> {
        let mut operator = None;
        let mut item = self.consume(Context::Values);
        if item.tok == Tok::Not {
            operator = Some(Operator::DoesNotExist);
            item = self.consume(Context::Values);
        }
        if item.tok != Tok::Identifier {
            return Err(format!("found '{}', expected: identifier", item.lit));
        }
        validate_label_key(item.lit)?;
        let next = self.lookahead(Context::Values).tok;
        if operator.is_none() && matches!(next, Tok::End | Tok::Comma) {
            operator = Some(Operator::Exists);
        }
        Ok((item.lit, operator))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let item = self.consume(Context::KeyAndOperator);
        Ok(match item.tok {
            Tok::In => Operator::In,
            Tok::NotIn => Operator::NotIn,
            Tok::Equals => Operator::Equals,
            Tok::DoubleEquals => Operator::DoubleEquals,
            Tok::NotEquals => Operator::NotEquals,
            Tok::GreaterThan => Operator::GreaterThan,
            Tok::LessThan => Operator::LessThan,
            _ => {
                return Err(format!(
                    "found '{}', expected: '=', '!=', '==', 'in', 'notin'",
                    item.lit
                ));
            }
        })
    }

    /// `( v1, v2 )`. `()` is the set `{""}`, not an error.
    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let open = self.consume(Context::Values);
        if open.tok != Tok::OpenPar {
            return Err(format!("found '{}' expected: '('", open.lit));
        }
        let next = self.lookahead(Context::Values);
        match next.tok {
            Tok::Identifier | Tok::Comma => {
                let values = self.parse_identifiers_list()?;
                let close = self.consume(Context::Values);
                if close.tok != Tok::ClosedPar {
                    return Err(format!("found '{}', expected: ')'", close.lit));
                }
                Ok(values)
            }
            Tok::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!(
                "found '{}', expected: ',', ')' or identifier",
                next.lit
            )),
        }
    }

    /// Comma-separated values up to (not including) `)`. Empty entries, as
    /// in `(,x)`, `(x,)` or `(x,,y)`, are the empty value.
    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, String> {
        let mut values = Vec::new();
        loop {
            let item = self.consume(Context::Values);
            match item.tok {
                Tok::Identifier => {
                    values.push(item.lit.to_owned());
                    let next = self.lookahead(Context::Values);
                    match next.tok {
                        Tok::Comma => {}
                        Tok::ClosedPar => return Ok(values),
                        _ => return Err(format!("found '{}', expected: ',' or ')'", next.lit)),
                    }
                }
                Tok::Comma => {
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    match self.lookahead(Context::Values).tok {
                        Tok::ClosedPar => {
                            values.push(String::new());
                            return Ok(values);
                        }
                        Tok::Comma => {
                            self.consume(Context::Values);
                            values.push(String::new());
                        }
                        _ => {}
                    }
                }
                _ => {
                    return Err(format!(
                        "found '{}', expected: ',', or identifier",
                        item.lit
                    ));
                }
            }
        }
    }

    /// The value after `=`, `==`, `!=`, `>` or `<`; nothing (end or `,`)
    /// means the empty value, so `a=` selects `a: ""`.
    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        if matches!(self.lookahead(Context::Values).tok, Tok::End | Tok::Comma) {
            return Ok(vec![String::new()]);
        }
        let item = self.consume(Context::Values);
        if item.tok == Tok::Identifier {
            Ok(vec![item.lit.to_owned()])
        } else {
            Err(format!("found '{}', expected: identifier", item.lit))
        }
    }
}

// ---- field selectors -----------------------------------------------------

/// A field requirement's operator; `==` is read as `=`, as Kubernetes does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    Equals,
    NotEquals,
}

/// One `field=value` / `field!=value` term, value already unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub operator: FieldOperator,
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
    use serde_json::json;

    const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

    /// `Ok(canonical rendering)` or `Err(exact message)`.
    type Expect = Result<&'static str, String>;

    fn ok(s: &'static str) -> Expect {
        Ok(s)
    }

    fn err(s: impl Into<String>) -> Expect {
        Err(s.into())
    }

    fn req(e: impl fmt::Display) -> Expect {
        Err(format!("unable to parse requirement: {e}"))
    }

    #[test]
    fn label_selector_parse() {
        let rows: Vec<(&str, Expect)> = vec![
            ("", ok("")),
            ("   \t\n", ok("")),
            ("a=b", ok("a=b")),
            ("a==b", ok("a==b")),
            ("a!=b", ok("a!=b")),
            ("a", ok("a")),
            ("!a", ok("!a")),
            ("  ! a  ", ok("!a")),
            ("a in (y, x)", ok("a in (x,y)")),
            ("a in (x,x,y)", ok("a in (x,y)")),
            ("a notin (x,y)", ok("a notin (x,y)")),
            ("a in(x)", ok("a in (x)")),
            ("a in ()", ok("a in ()")),
            ("a notin ()", ok("a notin ()")),
            ("a in (,x)", ok("a in (,x)")),
            ("a in (x,)", ok("a in (,x)")),
            ("a in (x,,y)", ok("a in (,x,y)")),
            ("a=", ok("a=")),
            ("a!=", ok("a!=")),
            ("a>1", ok("a>1")),
            ("a<10", ok("a<10")),
            ("b=1,a", ok("a,b=1")),
            (" a = b , c ", ok("a=b,c")),
            ("a\t=\nb", ok("a=b")),
            ("x=a,x=b", ok("x=a,x=b")),
            ("!a,b!=c", ok("!a,b!=c")),
            ("in=notin", ok("in=notin")),
            ("x in (in,notin)", ok("x in (in,notin)")),
            (
                "app.kubernetes.io/name=web",
                ok("app.kubernetes.io/name=web"),
            ),
            (
                "env in (prod),tier notin (cache),!canary",
                ok("!canary,env in (prod),tier notin (cache)"),
            ),
            // Errors, each naming the offending token.
            (
                ",",
                err("found ',', expected: !, identifier, or 'end of string'"),
            ),
            (
                "=b",
                err("found '=', expected: !, identifier, or 'end of string'"),
            ),
            ("a,", err("found '', expected: identifier after ','")),
            ("a,,b", err("found ',', expected: identifier after ','")),
            ("a=b c", err("found 'c', expected: ',' or 'end of string'")),
            ("a=b=c", err("found '=', expected: ',' or 'end of string'")),
            ("!a=b", err("found '=', expected: ',' or 'end of string'")),
            (
                "a in (x))",
                err("found ')', expected: ',' or 'end of string'"),
            ),
            ("!", req("found '', expected: identifier")),
            ("!!a", req("found '!', expected: identifier")),
            (
                "a b",
                req("found 'b', expected: '=', '!=', '==', 'in', 'notin'"),
            ),
            (
                "a (x)",
                req("found '(', expected: '=', '!=', '==', 'in', 'notin'"),
            ),
            ("a===b", req("found '=', expected: identifier")),
            ("a=(b)", req("found '(', expected: identifier")),
            ("a in x", req("found 'x' expected: '('")),
            ("a in", req("found '' expected: '('")),
            ("a in (x", req("found '', expected: ',' or ')'")),
            ("a in (x y)", req("found 'y', expected: ',' or ')'")),
            (
                "a in (=)",
                req("found '=', expected: ',', ')' or identifier"),
            ),
            ("a in (x,=)", req("found '=', expected: ',', or identifier")),
            (
                "a>b",
                req("for 'Gt', 'Lt' operators, the value must be an integer"),
            ),
            (
                "a<",
                req("for 'Gt', 'Lt' operators, the value must be an integer"),
            ),
            (
                "a@b=c",
                req(format!("invalid label key \"a@b\": {NAME_PART_MSG}")),
            ),
            (
                "-a",
                req(format!("invalid label key \"-a\": {NAME_PART_MSG}")),
            ),
            (
                "a=b@",
                req(format!(
                    "invalid label value: \"b@\": at key: \"a\": {VALUE_MSG}"
                )),
            ),
            (
                "a in (ok, -bad)",
                req(format!(
                    "invalid label value: \"-bad\": at key: \"a\": {VALUE_MSG}"
                )),
            ),
        ];
        assert!(rows.len() >= 40);
        for (input, want) in rows {
            let got = LabelSelector::parse(input)
                .map(|s| s.to_string())
                .map_err(|e| e.to_string());
            assert_eq!(got, want.map(str::to_owned), "input {input:?}");
        }
    }

    #[test]
    fn label_selector_key_and_value_length_limits() {
        let key63 = "k".repeat(63);
        let key64 = "k".repeat(64);
        let value63 = "v".repeat(63);
        let value64 = "v".repeat(64);
        assert!(LabelSelector::parse(&format!("{key63}={value63}")).is_ok());
        assert_eq!(
            LabelSelector::parse(&key64).map_err(|e| e.to_string()),
            Err(format!(
                "unable to parse requirement: invalid label key \"{key64}\": name part must be no more than 63 characters"
            ))
        );
        assert_eq!(
            LabelSelector::parse(&format!("a={value64}")).map_err(|e| e.to_string()),
            Err(format!(
                "unable to parse requirement: invalid label value: \"{value64}\": at key: \"a\": must be no more than 63 characters"
            ))
        );
    }

    #[test]
    fn label_selector_parsed_structure() {
        let sel = LabelSelector::parse("b notin (y,x), a, !c").unwrap();
        let got: Vec<(&str, Operator, Vec<&str>)> = sel
            .requirements()
            .iter()
            .map(|r| {
                (
                    r.key(),
                    r.operator(),
                    r.values().iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", Operator::Exists, vec![]),
                ("b", Operator::NotIn, vec!["x", "y"]),
                ("c", Operator::DoesNotExist, vec![]),
            ]
        );
        assert!(!sel.is_everything());
        assert!(LabelSelector::parse(" ").unwrap().is_everything());
    }

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
