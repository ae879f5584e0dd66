//! Field sets: sets of field paths, as structured-merge-diff (the library behind
//! kube-apiserver's server-side apply) keeps them, with the `fieldsV1` JSON form used in
//! `metadata.managedFields`.
//!
//! A path is a sequence of [`PathElement`]s: `f:` a map field, `k:` an associative-list item
//! identified by its key fields, `v:` a set item identified by its value, `i:` a list index
//! (never produced here). A [`FieldSet`] is a tree: at each node, the *members* are paths that
//! are themselves in the set, the *children* lead to deeper paths; in `fieldsV1` a member with
//! children is written as a `"."` entry inside the child object.
//!
//! Also here: building a field set from an object ([`FieldSet::from_object`], the set an apply
//! configuration claims) and comparing two objects ([`compare`]: the added, modified and removed
//! paths an update makes), both driven by the kind's [`Schema`].

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

use ferry_api::patch::{compare_values, json_eq};

use super::PatchError;
use super::schema::{ListStrategy, Schema, key_default};

/// One step of a field path.
#[derive(Debug, Clone)]
pub enum PathElement {
    /// A map field or struct field (`f:name`).
    Field(String),
    /// An associative-list item, by its key fields sorted by name (`k:{"name":"nginx"}`).
    Key(Vec<(String, Value)>),
    /// A set item, by its value (`v:"example.com/finalizer"`).
    Value(Value),
    /// A list index (`i:0`); read from `fieldsV1` but never produced by this module.
    Index(usize),
}

impl PathElement {
    /// A key element; the pairs are sorted by field name.
    pub fn key(pairs: impl IntoIterator<Item = (String, Value)>) -> Self {
        let mut pairs: Vec<(String, Value)> = pairs.into_iter().collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        PathElement::Key(pairs)
    }

    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The `fieldsV1` object key of this element.
    pub fn to_fields_v1_key(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(pairs) => {
                let map: Map<String, Value> = pairs.iter().cloned().collect();
                format!("k:{}", Value::Object(map))
            }
            PathElement::Value(v) => format!("v:{v}"),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a `fieldsV1` object key; `Ok(None)` for an element type this version does not
    /// know (structured-merge-diff skips those too).
    pub fn from_fields_v1_key(key: &str) -> Result<Option<Self>, PatchError> {
        let bad = || PatchError::Invalid(format!("parsing key as path element: {key:?}"));
        if let Some(name) = key.strip_prefix("f:") {
            return Ok(Some(PathElement::Field(name.to_string())));
        }
        if let Some(json) = key.strip_prefix("k:") {
            let Ok(Value::Object(map)) = serde_json::from_str::<Value>(json) else {
                return Err(bad());
            };
            return Ok(Some(PathElement::key(map)));
        }
        if let Some(json) = key.strip_prefix("v:") {
            let value = serde_json::from_str::<Value>(json).map_err(|_| bad())?;
            return Ok(Some(PathElement::Value(value)));
        }
        if let Some(index) = key.strip_prefix("i:") {
            let index = index.parse::<usize>().map_err(|_| bad())?;
            return Ok(Some(PathElement::Index(index)));
        }
        Ok(None)
    }
}

impl Ord for PathElement {
    /// structured-merge-diff's order: fields, then keys, then values, then indices.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((an, av), (bn, bv)) in a.iter().zip(b.iter()) {
                    let c = an.cmp(bn).then_with(|| compare_values(av, bv));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl fmt::Display for PathElement {
    /// structured-merge-diff's human form: `.name`, `[name="nginx"]`, `[="value"]`, `[0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(pairs) => {
                let parts: Vec<String> = pairs
                    .iter()
                    .map(|(n, v)| format!("{n}={}", value_to_string(v)))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={}]", value_to_string(v)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path in structured-merge-diff's human form, e.g.
/// `.spec.template.spec.containers[name="nginx"].image`.
pub fn path_to_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

fn value_to_string(v: &Value) -> String {
    match v {
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(value_to_string).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", value_to_string(v)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        other => other.to_string(),
    }
}

/// The path element that identifies `item` in a list of the given strategy (not `Atomic`).
pub(crate) fn list_item_element(
    item: &Value,
    strategy: ListStrategy,
) -> Result<PathElement, String> {
    match strategy {
        ListStrategy::Map { keys } => {
            let Value::Object(fields) = item else {
                return Err("associative list with keys has an element that is not a map".into());
            };
            let mut pairs = Vec::with_capacity(keys.len());
            for key in keys {
                let value = match fields.get(*key) {
                    Some(v) if !v.is_null() => v.clone(),
                    _ => match key_default(key) {
                        Some(d) => Value::String(d.to_string()),
                        None => {
                            return Err(format!(
                                "associative list with keys has an element that omits key field \
                                 {key:?} (and doesn't have default value)"
                            ));
                        }
                    },
                };
                pairs.push(((*key).to_string(), value));
            }
            Ok(PathElement::key(pairs))
        }
        ListStrategy::Set => match item {
            Value::Object(_) | Value::Array(_) => {
                Err("associative list without keys has an element that is not a scalar".into())
            }
            v => Ok(PathElement::Value(v.clone())),
        },
        ListStrategy::Atomic => Err("atomic lists have no item identity".into()),
    }
}

/// A set of field paths (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    /// Invariant: no child set is empty.
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the set holds no path.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    /// Adds a path (the empty path, the object itself, is never a member).
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [head, rest @ ..] => self.children.entry(head.clone()).or_default().insert(rest),
        }
    }

    /// Whether `path` is in the set.
    pub fn contains(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [head, rest @ ..] => self.children.get(head).is_some_and(|c| c.contains(rest)),
        }
    }

    pub(crate) fn has_member(&self, pe: &PathElement) -> bool {
        self.members.contains(pe)
    }

    pub(crate) fn child(&self, pe: &PathElement) -> Option<&FieldSet> {
        self.children.get(pe)
    }

    /// Paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, child) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    /// Paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.intersection(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            if let Some(theirs) = other.children.get(pe) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    children.insert(pe.clone(), both);
                }
            }
        }
        FieldSet { members, children }
    }

    /// Paths in `self` but not in `other` (path by path: removing `.spec` does not remove
    /// `.spec.replicas`).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            let rest = match other.children.get(pe) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                children.insert(pe.clone(), rest);
            }
        }
        FieldSet { members, children }
    }

    /// Paths in `self` that are neither in `other` nor below a path of `other`.
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            if other.members.contains(pe) {
                continue;
            }
            let rest = match other.children.get(pe) {
                Some(theirs) => child.recursive_difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                children.insert(pe.clone(), rest);
            }
        }
        FieldSet { members, children }
    }

    /// The members that have no path below them.
    pub fn leaves(&self) -> FieldSet {
        let members = self
            .members
            .iter()
            .filter(|pe| !self.children.contains_key(pe))
            .cloned()
            .collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            let leaves = child.leaves();
            if !leaves.is_empty() {
                children.insert(pe.clone(), leaves);
            }
        }
        FieldSet { members, children }
    }

    /// Every path, in structured-merge-diff's iteration order (at each level the members,
    /// then each child's paths, both in element order).
    pub fn paths(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        for pe in &self.members {
            let mut path = prefix.clone();
            path.push(pe.clone());
            out.push(path);
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// The set with every field-element ancestor of its paths added as a member
    /// (structured-merge-diff's `EnsureNamedFieldsAreMembers`, treating every map field as a
    /// named field), so pruning can remove a whole map or struct.
    pub(crate) fn with_field_ancestors(&self) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.clone(),
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            if matches!(pe, PathElement::Field(_)) {
                out.members.insert(pe.clone());
            }
            out.children
                .insert(pe.clone(), child.with_field_ancestors());
        }
        out
    }

    /// The `fieldsV1` JSON form (`{"f:spec":{"f:replicas":{}}}`), entries in
    /// structured-merge-diff's order with `"."` first.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.emit(false))
    }

    fn emit(&self, include_self: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if include_self {
            out.insert(".".to_string(), Value::Object(Map::new()));
        }
        let elements: BTreeSet<&PathElement> =
            self.members.iter().chain(self.children.keys()).collect();
        for pe in elements {
            let body = match self.children.get(pe) {
                Some(child) => child.emit(self.members.contains(pe)),
                None => Map::new(),
            };
            out.insert(pe.to_fields_v1_key(), Value::Object(body));
        }
        out
    }

    /// Parses the `fieldsV1` JSON form; unknown element types are skipped.
    pub fn from_fields_v1(fields: &Value) -> Result<FieldSet, PatchError> {
        let Value::Object(map) = fields else {
            return Err(PatchError::Invalid("fieldsV1 must be a JSON object".into()));
        };
        Ok(Self::read(map)?.0)
    }

    fn read(map: &Map<String, Value>) -> Result<(FieldSet, bool), PatchError> {
        let mut set = FieldSet::new();
        let mut member = false;
        for (key, body) in map {
            if key == "." {
                member = true;
                continue;
            }
            let Some(pe) = PathElement::from_fields_v1_key(key)? else {
                continue;
            };
            let Value::Object(inner) = body else {
                return Err(PatchError::Invalid(format!(
                    "fieldsV1 entry {key:?} must be a JSON object"
                )));
            };
            let (sub, sub_member) = Self::read(inner)?;
            if sub_member {
                set.members.insert(pe.clone());
            }
            if !sub.is_empty() {
                set.children.insert(pe, sub);
            }
        }
        if set.is_empty() {
            member = true;
        }
        Ok((set, member))
    }

    /// The fields an object sets, as an apply configuration claims them: every scalar, every
    /// atomic list or map, every associative-list item (`k:` / `v:`, plus its fields), every
    /// `null` or empty-map value. Fails, as kube-apiserver does, on list items without their
    /// keys and on duplicate keys.
    pub fn from_object(obj: &Value, schema: &Schema) -> Result<FieldSet, PatchError> {
        let mut set = FieldSet::new();
        let mut path = Vec::new();
        let mut names = Vec::new();
        to_field_set(obj, schema, &mut path, &mut names, &mut set)?;
        Ok(set)
    }
}

fn to_field_set<'a>(
    value: &'a Value,
    schema: &Schema,
    path: &mut Vec<PathElement>,
    names: &mut Vec<&'a str>,
    set: &mut FieldSet,
) -> Result<(), PatchError> {
    let invalid = |path: &[PathElement], msg: String| {
        PatchError::Invalid(format!("{}: {msg}", path_to_string(path)))
    };
    match value {
        Value::Object(map) => {
            if !path.is_empty() && schema.is_atomic_map(names) {
                set.insert(path);
                return Ok(());
            }
            for (key, child) in map {
                path.push(PathElement::Field(key.clone()));
                names.push(key);
                to_field_set(child, schema, path, names, set)?;
                if child.as_object().is_some_and(Map::is_empty) {
                    set.insert(path);
                }
                names.pop();
                path.pop();
            }
        }
        Value::Array(items) => {
            let strategy = schema.list_strategy(names);
            if strategy == ListStrategy::Atomic {
                set.insert(path);
                return Ok(());
            }
            let mut seen = BTreeSet::new();
            for (i, item) in items.iter().enumerate() {
                let pe = list_item_element(item, strategy)
                    .map_err(|e| invalid(path, format!("element {i}: {e}")))?;
                if !seen.insert(pe.clone()) {
                    return Err(invalid(path, format!("duplicate entries for key {pe}")));
                }
                path.push(pe);
                if let ListStrategy::Map { .. } = strategy {
                    to_field_set(item, schema, path, names, set)?;
                }
                set.insert(path);
                path.pop();
            }
        }
        _ => set.insert(path),
    }
    Ok(())
}

/// What an update changed, path by path (structured-merge-diff's `Comparison`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Comparison {
    /// Paths only in the new object (whole added subtrees, containers included).
    pub added: FieldSet,
    /// Leaves (scalars, atomic lists and maps, empty containers) whose value changed.
    pub modified: FieldSet,
    /// Paths only in the old object.
    pub removed: FieldSet,
}

/// Compares two objects of the same kind.
pub(crate) fn compare(old: &Value, new: &Value, schema: &Schema) -> Comparison {
    let mut walker = Comparer {
        schema,
        path: Vec::new(),
        out: Comparison::default(),
    };
    walker.node(Some(old), Some(new), &mut Vec::new());
    walker.out
}

struct Comparer<'s> {
    schema: &'s Schema,
    path: Vec<PathElement>,
    out: Comparison,
}

/// The items of a granular list with their identities; items without one, and repeats, are
/// skipped (as structured-merge-diff does when comparing).
fn index_items(items: &[Value], strategy: ListStrategy) -> Vec<(PathElement, &Value)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for item in items {
        if let Ok(pe) = list_item_element(item, strategy)
            && seen.insert(pe.clone())
        {
            out.push((pe, item));
        }
    }
    out
}

impl Comparer<'_> {
    fn node<'a>(
        &mut self,
        old: Option<&'a Value>,
        new: Option<&'a Value>,
        names: &mut Vec<&'a str>,
    ) {
        let is_map = |v: Option<&Value>| matches!(v, None | Some(Value::Null | Value::Object(_)));
        let is_list = |v: Option<&Value>| matches!(v, None | Some(Value::Null | Value::Array(_)));
        let any_map =
            matches!(old, Some(Value::Object(_))) || matches!(new, Some(Value::Object(_)));
        let any_list = matches!(old, Some(Value::Array(_))) || matches!(new, Some(Value::Array(_)));
        let not_root = !self.path.is_empty();

        if any_map && is_map(old) && is_map(new) && !(not_root && self.schema.is_atomic_map(names))
        {
            let (om, nm) = (
                old.and_then(Value::as_object),
                new.and_then(Value::as_object),
            );
            if om.is_none_or(Map::is_empty) && nm.is_none_or(Map::is_empty) {
                return self.leaf(old, new);
            }
            let keys: BTreeSet<&'a String> = om
                .into_iter()
                .flat_map(|m| m.keys())
                .chain(nm.into_iter().flat_map(|m| m.keys()))
                .collect();
            for key in keys {
                self.path.push(PathElement::Field(key.clone()));
                names.push(key);
                self.node(
                    om.and_then(|m| m.get(key)),
                    nm.and_then(|m| m.get(key)),
                    names,
                );
                names.pop();
                self.path.pop();
            }
            return self.container(old, new);
        }
        let strategy = self.schema.list_strategy(names);
        if any_list && is_list(old) && is_list(new) && strategy != ListStrategy::Atomic {
            let (oa, na) = (old.and_then(Value::as_array), new.and_then(Value::as_array));
            if oa.is_none_or(Vec::is_empty) && na.is_none_or(Vec::is_empty) {
                return self.leaf(old, new);
            }
            let old_items = index_items(oa.map_or(&[], Vec::as_slice), strategy);
            let new_items = index_items(na.map_or(&[], Vec::as_slice), strategy);
            let find = |items: &[(PathElement, &'a Value)], pe: &PathElement| {
                items.iter().find(|(p, _)| p == pe).map(|(_, v)| *v)
            };
            for (pe, item) in &new_items {
                self.path.push(pe.clone());
                self.node(find(&old_items, pe), Some(item), names);
                self.path.pop();
            }
            for (pe, item) in &old_items {
                if find(&new_items, pe).is_none() {
                    self.path.push(pe.clone());
                    self.node(Some(item), None, names);
                    self.path.pop();
                }
            }
            return self.container(old, new);
        }
        self.leaf(old, new);
    }

    fn leaf(&mut self, old: Option<&Value>, new: Option<&Value>) {
        if self.path.is_empty() {
            return;
        }
        match (old, new) {
            (None, Some(_)) => self.out.added.insert(&self.path),
            (Some(_), None) => self.out.removed.insert(&self.path),
            (Some(o), Some(n)) if !json_eq(o, n) => self.out.modified.insert(&self.path),
            _ => {}
        }
    }

    fn container(&mut self, old: Option<&Value>, new: Option<&Value>) {
        if self.path.is_empty() {
            return;
        }
        match (old, new) {
            (None, Some(_)) => self.out.added.insert(&self.path),
            (Some(_), None) => self.out.removed.insert(&self.path),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(name: &str) -> PathElement {
        PathElement::Field(name.to_string())
    }

    fn set_of(paths: &[&[PathElement]]) -> FieldSet {
        let mut s = FieldSet::new();
        for p in paths {
            s.insert(p);
        }
        s
    }

    fn deployment() -> &'static Schema {
        Schema::for_kind("apps", "Deployment").expect("deployment schema")
    }

    /// A Deployment's `kubectl create` entry, byte for byte as kube-apiserver writes it.
    const CREATE_DEPLOYMENT_FIELDS: &str = r#"{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:progressDeadlineSeconds":{},"f:replicas":{},"f:revisionHistoryLimit":{},"f:selector":{},"f:strategy":{"f:rollingUpdate":{".":{},"f:maxSurge":{},"f:maxUnavailable":{}},"f:type":{}},"f:template":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:ports":{".":{},"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:protocol":{}}},"f:resources":{},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}}}}"#;

    #[test]
    fn fields_v1_round_trip_is_byte_exact() {
        let parsed: Value = serde_json::from_str(CREATE_DEPLOYMENT_FIELDS).unwrap();
        let set = FieldSet::from_fields_v1(&parsed).unwrap();
        assert_eq!(set.to_fields_v1().to_string(), CREATE_DEPLOYMENT_FIELDS);
        let container = [
            f("spec"),
            f("template"),
            f("spec"),
            f("containers"),
            PathElement::key([("name".to_string(), json!("nginx"))]),
        ];
        assert!(set.contains(&container));
        let mut image = container.to_vec();
        image.push(f("image"));
        assert!(set.contains(&image));
        assert!(set.contains(&[f("metadata"), f("labels")]));
        assert!(!set.contains(&[f("metadata")]));
        assert!(!set.contains(&[f("spec"), f("strategy")]));
        assert_eq!(
            path_to_string(&image),
            r#".spec.template.spec.containers[name="nginx"].image"#
        );
    }

    #[test]
    fn fields_v1_reading_edge_cases() {
        let set = FieldSet::from_fields_v1(&json!({
            "f:a": {},
            "f:b": {".": {}, "f:c": {}},
            "v:\"x\"": {},
            "i:3": {},
            "z:unknown": {}
        }))
        .unwrap();
        assert_eq!(
            set.paths(),
            vec![
                vec![f("a")],
                vec![f("b")],
                vec![PathElement::Value(json!("x"))],
                vec![PathElement::Index(3)],
                vec![f("b"), f("c")],
            ]
        );
        assert!(FieldSet::from_fields_v1(&json!({"f:a": 1})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"k:[1]": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!([])).is_err());
        assert_eq!(
            FieldSet::from_fields_v1(&json!({})).unwrap(),
            FieldSet::new()
        );
    }

    #[test]
    fn set_operations() {
        let a = set_of(&[
            &[f("spec"), f("replicas")],
            &[f("spec"), f("paused")],
            &[f("x")],
        ]);
        let b = set_of(&[&[f("spec"), f("replicas")], &[f("spec")], &[f("y")]]);
        assert_eq!(
            a.union(&b),
            set_of(&[
                &[f("spec"), f("replicas")],
                &[f("spec"), f("paused")],
                &[f("spec")],
                &[f("x")],
                &[f("y")]
            ])
        );
        assert_eq!(a.intersection(&b), set_of(&[&[f("spec"), f("replicas")]]));
        assert_eq!(
            a.difference(&b),
            set_of(&[&[f("spec"), f("paused")], &[f("x")]])
        );
        assert_eq!(a.recursive_difference(&b), set_of(&[&[f("x")]]));
        assert_eq!(
            b.leaves(),
            set_of(&[&[f("spec"), f("replicas")], &[f("y")]])
        );
        assert!(a.difference(&a).is_empty());
    }

    #[test]
    fn element_order_and_display() {
        let mut elements = [
            PathElement::Index(0),
            PathElement::Value(json!("b")),
            PathElement::key([("port".to_string(), json!(10))]),
            PathElement::key([("port".to_string(), json!(9))]),
            f("z"),
            PathElement::Value(json!(1)),
            f("a"),
        ];
        elements.sort();
        let shown: Vec<String> = elements.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                ".a",
                ".z",
                "[port=9]",
                "[port=10]",
                "[=1]",
                "[=\"b\"]",
                "[0]"
            ]
        );
        assert_eq!(
            PathElement::key([
                ("protocol".to_string(), json!("TCP")),
                ("containerPort".to_string(), json!(80)),
            ])
            .to_fields_v1_key(),
            r#"k:{"containerPort":80,"protocol":"TCP"}"#
        );
    }

    #[test]
    fn from_object_claims_what_apply_owns() {
        let obj = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {},
                         "finalizers": ["a/b"]},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [
                    {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}],
                     "args": ["-x"]}
                ]}}
            }
        });
        let set = FieldSet::from_object(&obj, deployment()).unwrap();
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:apiVersion": {},
                "f:kind": {},
                "f:metadata": {
                    "f:annotations": {},
                    "f:finalizers": {"v:\"a/b\"": {}},
                    "f:labels": {"f:app": {}},
                    "f:name": {}
                },
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                        ".": {},
                        "f:args": {},
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                            ".": {}, "f:containerPort": {}
                        }}
                    }}}}
                }
            })
        );
    }

    #[test]
    fn from_object_rejects_bad_lists() {
        let missing_key = json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}});
        let err = FieldSet::from_object(&missing_key, deployment()).unwrap_err();
        assert_eq!(
            err.to_string(),
            ".spec.template.spec.containers: element 0: associative list with keys has an \
             element that omits key field \"name\" (and doesn't have default value)"
        );
        let duplicate = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a"}, {"name": "a"}
        ]}}}});
        let err = FieldSet::from_object(&duplicate, deployment()).unwrap_err();
        assert_eq!(
            err.to_string(),
            ".spec.template.spec.containers: duplicate entries for key [name=\"a\"]"
        );
    }

    #[test]
    fn compare_reports_added_modified_removed() {
        let old = json!({
            "metadata": {"labels": {"a": "1", "b": "2"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": "x", "image": "x:1"}, {"name": "y", "image": "y:1"}
            ]}}}
        });
        let new = json!({
            "metadata": {"labels": {"a": "1", "c": "3"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [
                {"name": "x", "image": "x:2"}, {"name": "z", "image": "z:1"}
            ]}}}
        });
        let c = compare(&old, &new, deployment());
        let containers = [f("spec"), f("template"), f("spec"), f("containers")];
        let item = |n: &str| {
            let mut p = containers.to_vec();
            p.push(PathElement::key([("name".to_string(), json!(n))]));
            p
        };
        let field = |mut p: Vec<PathElement>, n: &str| {
            p.push(f(n));
            p
        };
        assert_eq!(
            c.added,
            set_of(&[
                &[f("metadata"), f("labels"), f("c")],
                &item("z"),
                &field(item("z"), "name"),
                &field(item("z"), "image"),
            ])
        );
        assert_eq!(
            c.modified,
            set_of(&[&[f("spec"), f("replicas")], &field(item("x"), "image")])
        );
        assert_eq!(
            c.removed,
            set_of(&[
                &[f("metadata"), f("labels"), f("b")],
                &item("y"),
                &field(item("y"), "name"),
                &field(item("y"), "image"),
            ])
        );
    }
}
