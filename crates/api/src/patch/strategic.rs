//! Kubernetes strategic merge patch (`application/strategic-merge-patch+json`), following
//! apimachinery's `strategicpatch` package as kube-apiserver runs it (`MergeParallelList` and
//! `IgnoreUnmatchedNulls` on): maps merge recursively and `null` deletes; lists with a merge key
//! merge item by item, scalar lists with the merge strategy are unions, other lists replace.
//!
//! Directives: `$patch: replace | delete` (in a map, or as a list item: `delete` with the merge
//! key removes that item, `replace` replaces the whole list), `$deleteFromPrimitiveList/<field>`,
//! `$setElementOrder/<field>` (kubectl's client-side apply sends it) and `$retainKeys`.
//!
//! Order of a merged list, as apimachinery computes it: the patch's items (in patch order) are
//! interleaved with the live-only items (in live order); an item of the patch that is not in the
//! live list goes *before* the live-only items around it, so `kubectl patch` adding a container
//! puts it first. A `$setElementOrder` list replaces the patch order. Kustomize's patches
//! (kyaml's merge) order merged lists differently: [`ListOrder::PatchFirst`].

use serde_json::{Map, Value};

use super::PatchError;
use super::json_eq;
use super::schema::{ListStrategy, Schema};

/// What strategic merge patch needs to know about a kind: whether it may be patched so, and
/// how each of its lists merges. Kubernetes' own kinds answer from [`Schema`]; a custom
/// resource's OpenAPI schema can answer too (Kustomize's `openapi`).
pub trait StrategicSchema {
    /// Whether strategic merge patch is allowed at all.
    fn supports_strategic_merge(&self) -> bool {
        true
    }

    /// How the list at `path` (field names, list positions elided) merges.
    fn list_merge(&self, path: &[&str]) -> ListMerge<'_>;
}

/// How one list merges under strategic merge patch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListMerge<'a> {
    /// The patch's list replaces the target's.
    Replace,
    /// A list of scalars merged as a set (and a list of maps is an error: no merge key).
    Union,
    /// Items merged by the value of this key.
    ByKey(&'a str),
}

impl ListMerge<'_> {
    fn merge_key(&self) -> Option<&str> {
        match self {
            ListMerge::ByKey(key) => Some(key),
            _ => None,
        }
    }
}

impl StrategicSchema for Schema {
    fn supports_strategic_merge(&self) -> bool {
        Schema::supports_strategic_merge(self)
    }

    fn list_merge(&self, path: &[&str]) -> ListMerge<'_> {
        match self.strategic_list_strategy(path) {
            ListStrategy::Atomic => ListMerge::Replace,
            ListStrategy::Set => ListMerge::Union,
            ListStrategy::Map { keys } => keys
                .first()
                .map_or(ListMerge::Union, |k| ListMerge::ByKey(k)),
        }
    }
}

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";

/// How the items of a merged list are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ListOrder {
    /// kube-apiserver's (apimachinery): patch items interleaved with the live-only items.
    #[default]
    Apiserver,
    /// Kustomize's (kyaml's merge, which patches with "prepend"): the patch's items in patch
    /// order, then the target's other items in their order. `env: [B, C]` into `[A, B]` gives
    /// `[B, C, A]`.
    PatchFirst,
}

/// Applies a strategic merge patch to `target` (an object of the kind `schema` describes), as
/// kube-apiserver does.
///
/// A schema without strategic-merge support (a custom resource, [`Schema::schemaless`]) gives
/// [`PatchError::StrategicUnsupported`] (415), as in Kubernetes.
pub fn apply_strategic_merge_patch(
    target: &Value,
    patch: &[u8],
    schema: &dyn StrategicSchema,
) -> Result<Value, PatchError> {
    apply_strategic_merge_patch_ordered(target, patch, schema, ListOrder::Apiserver)
}

/// [`apply_strategic_merge_patch`] with merged lists in `order`.
pub fn apply_strategic_merge_patch_ordered(
    target: &Value,
    patch: &[u8],
    schema: &dyn StrategicSchema,
    order: ListOrder,
) -> Result<Value, PatchError> {
    if !schema.supports_strategic_merge() {
        return Err(PatchError::StrategicUnsupported);
    }
    let patch: Value = serde_json::from_slice(patch)
        .map_err(|e| PatchError::Invalid(format!("invalid JSON document: {e}")))?;
    let Value::Object(patch) = patch else {
        return Err(PatchError::Invalid(
            "invalid JSON document: a strategic merge patch must be a JSON object".into(),
        ));
    };
    let original = match target {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    let merger = Merger { schema, order };
    Ok(Value::Object(merger.merge_map(
        original,
        patch,
        &mut Vec::new(),
    )?))
}

struct Merger<'s> {
    schema: &'s dyn StrategicSchema,
    order: ListOrder,
}

fn malformed(msg: &str) -> PatchError {
    PatchError::Invalid(msg.to_string())
}

fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// The value an item is identified by: its merge key, or itself for scalars.
fn identity<'v>(item: &'v Value, merge_key: Option<&str>) -> Option<&'v Value> {
    match merge_key {
        Some(key) => item.get(key),
        None => Some(item),
    }
}

fn position(list: &[Value], item: &Value, merge_key: Option<&str>) -> Option<usize> {
    let wanted = identity(item, merge_key);
    list.iter()
        .position(|v| match (identity(v, merge_key), wanted) {
            (Some(a), Some(b)) => json_eq(a, b),
            (None, None) => true,
            _ => false,
        })
}

fn is_delete_item(item: &Value) -> bool {
    item.get(DIRECTIVE).and_then(Value::as_str) == Some("delete")
}

fn no_merge_key(item: &Value, key: &str) -> PatchError {
    PatchError::Invalid(format!(
        "map: {item} does not contain declared merge key: {key}"
    ))
}

fn discard_nulls(value: Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, discard_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(discard_nulls).collect()),
        other => other,
    }
}

/// Sorts `items` by their position in `order` (stable; items not in `order` go last), keeping
/// `$patch: delete` items at the end.
fn normalize_slice_order(
    items: Vec<Value>,
    order: &[Value],
    merge_key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    if let Some(key) = merge_key {
        for item in items.iter().chain(order) {
            if item.get(key).is_none() {
                return Err(no_merge_key(item, key));
            }
        }
    }
    let (mut keep, deletes): (Vec<Value>, Vec<Value>) = items
        .into_iter()
        .partition(|item| merge_key.is_none() || !is_delete_item(item));
    keep.sort_by_key(|item| position(order, item, merge_key).unwrap_or(usize::MAX));
    keep.extend(deletes);
    Ok(keep)
}

/// apimachinery's `mergeSortedSlice`: interleaves the live-only items (`left`) into the patch
/// items (`right`), a live-only item going first only when both are in the live list and it
/// comes earlier there.
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: Option<&str>,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (position(server_order, l, merge_key), position(server_order, r, merge_key)),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// apimachinery's `normalizeElementOrder`.
fn normalize_element_order(
    merged: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    let (in_patch, server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|item| position(patch_order, item, merge_key).is_some());
    let in_patch = normalize_slice_order(in_patch, patch_order, merge_key)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key)?;
    Ok(merge_sorted(server_only, in_patch, server_order, merge_key))
}

#[derive(PartialEq)]
enum ElementKind {
    Map,
    Scalar,
}

fn element_kind(original: &[Value], patch: &[Value]) -> Result<ElementKind, PatchError> {
    let mut kind = None;
    for item in original.iter().chain(patch) {
        let this = match item {
            Value::Array(_) => {
                return Err(PatchError::Invalid(
                    "lists of lists are not supported".into(),
                ));
            }
            Value::Object(_) => ElementKind::Map,
            _ => ElementKind::Scalar,
        };
        match &kind {
            None => kind = Some(this),
            Some(k) if *k != this => {
                return Err(PatchError::Invalid(
                    "list element types are not identical".into(),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(kind.unwrap_or(ElementKind::Scalar))
}

/// apimachinery's `validatePatchWithSetOrderList`: the patch's items must appear in the
/// `$setElementOrder` list, in the same relative order.
fn validate_set_order(
    patch: &[Value],
    order: &[Value],
    merge_key: Option<&str>,
) -> Result<(), PatchError> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let items: Vec<&Value> = patch
        .iter()
        .filter(|item| merge_key.is_none() || !is_delete_item(item))
        .collect();
    let (mut pi, mut oi) = (0, 0);
    while pi < items.len() && oi < order.len() {
        if items[pi].get(DIRECTIVE).is_some() {
            pi += 1;
            continue;
        }
        if let Some(key) = merge_key {
            for item in [items[pi], &order[oi]] {
                if item.get(key).is_none() {
                    return Err(no_merge_key(item, key));
                }
            }
        }
        if position(std::slice::from_ref(&order[oi]), items[pi], merge_key).is_some() {
            pi += 1;
        }
        oi += 1;
    }
    if pi < items.len() && oi >= order.len() {
        return Err(PatchError::Invalid(format!(
            "The order in patch list:\n{}\n doesn't match $setElementOrder list:\n{}\n",
            Value::Array(patch.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

impl Merger<'_> {
    fn names(names: &[String]) -> Vec<&str> {
        names.iter().map(String::as_str).collect()
    }

    /// A patch value for a field the original does not have (or has with another type):
    /// directives are processed against nothing and nulls dropped.
    fn fresh(&self, value: Value, names: &mut Vec<String>) -> Result<Value, PatchError> {
        match value {
            Value::Object(m) => Ok(Value::Object(self.merge_map(Map::new(), m, names)?)),
            Value::Array(items) => Ok(Value::Array(self.merge_list(
                Vec::new(),
                items,
                false,
                names,
            )?)),
            other => Ok(other),
        }
    }

    fn merge_map(
        &self,
        mut original: Map<String, Value>,
        mut patch: Map<String, Value>,
        names: &mut Vec<String>,
    ) -> Result<Map<String, Value>, PatchError> {
        if let Some(directive) = patch.remove(DIRECTIVE) {
            return match directive.as_str() {
                Some("replace") => self.merge_map(Map::new(), patch, names),
                Some("delete") => Ok(Map::new()),
                _ => Err(PatchError::Invalid(format!(
                    "Unknown patch type: {directive} in map: {}",
                    Value::Object(patch)
                ))),
            };
        }

        if let Some(retain) = patch.remove(RETAIN_KEYS) {
            let Value::Array(retain) = retain else {
                return Err(malformed("invalid patch format of retainKeys"));
            };
            let kept = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
            for (key, value) in &patch {
                if value.is_null()
                    || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
                    || key.starts_with(SET_ELEMENT_ORDER)
                {
                    continue;
                }
                if !kept(key) {
                    return Err(malformed("invalid patch format of retainKeys"));
                }
            }
            original.retain(|k, _| kept(k));
        }

        let order_keys: Vec<String> = patch
            .keys()
            .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
            .cloned()
            .collect();
        for key in order_keys {
            let Some(Value::Array(order)) = patch.remove(&key) else {
                return Err(malformed("invalid patch format of setElementOrder list"));
            };
            let field = key[SET_ELEMENT_ORDER.len()..].to_string();
            if field.is_empty() {
                return Err(malformed("invalid patch format of setElementOrder list"));
            }
            let live = match original.remove(&field) {
                None => None,
                Some(Value::Array(items)) => Some(items),
                Some(other) => {
                    return Err(PatchError::Invalid(format!(
                        "{field}: expected a list to order, found {other}"
                    )));
                }
            };
            let patch_list = match patch.remove(&field) {
                None => None,
                Some(Value::Array(items)) => Some(items),
                Some(other) => {
                    return Err(PatchError::Invalid(format!(
                        "{field}: expected a list in the patch, found {other}"
                    )));
                }
            };
            names.push(field.clone());
            let strategy = self.schema.list_merge(&Self::names(names));
            let merge_key = strategy.merge_key();
            validate_set_order(patch_list.as_deref().unwrap_or(&[]), &order, merge_key)?;
            let server_order = live.clone().unwrap_or_default();
            let merged = match (live, patch_list) {
                (Some(live), None) => live,
                (live, Some(p)) => self.merge_list(live.unwrap_or_default(), p, false, names)?,
                (None, None) => {
                    names.pop();
                    continue;
                }
            };
            let ordered = normalize_element_order(merged, &order, &server_order, merge_key)?;
            names.pop();
            original.insert(field, Value::Array(ordered));
        }

        for (key, value) in patch {
            let (field, delete_list) = match key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
                Some("") => return Err(malformed("invalid patch format of primitive list")),
                Some(field) => (field.to_string(), true),
                None => (key, false),
            };
            if value.is_null() {
                original.remove(&field);
                continue;
            }
            names.push(field.clone());
            let merged = match (original.remove(&field), value) {
                (Some(Value::Object(o)), Value::Object(p)) => {
                    Some(Value::Object(self.merge_map(o, p, names)?))
                }
                (Some(Value::Array(o)), Value::Array(p)) => {
                    Some(Value::Array(self.merge_list(o, p, delete_list, names)?))
                }
                (Some(o), _) if delete_list => Some(o),
                (Some(o), v) if same_type(&o, &v) => Some(v),
                (None, _) if delete_list => None,
                (_, v) => Some(self.fresh(v, names)?),
            };
            names.pop();
            if let Some(merged) = merged {
                original.insert(field, merged);
            }
        }
        Ok(original)
    }

    fn merge_list(
        &self,
        original: Vec<Value>,
        patch: Vec<Value>,
        delete_list: bool,
        names: &mut Vec<String>,
    ) -> Result<Vec<Value>, PatchError> {
        let strategy = self.schema.list_merge(&Self::names(names));
        if strategy == ListMerge::Replace {
            return Ok(patch.into_iter().map(discard_nulls).collect());
        }
        if original.is_empty() && patch.is_empty() {
            return Ok(original);
        }
        if element_kind(&original, &patch)? == ElementKind::Scalar {
            if delete_list {
                return Ok(original
                    .into_iter()
                    .filter(|v| position(&patch, v, None).is_none())
                    .collect());
            }
            let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
            for item in original.iter().chain(&patch) {
                if position(&merged, item, None).is_none() {
                    merged.push(item.clone());
                }
            }
            return self.order_merged(merged, &patch, &original, None);
        }

        let Some(key) = strategy.merge_key() else {
            return Err(PatchError::Invalid(
                "cannot merge lists without merge key for type map".into(),
            ));
        };
        let mut original = original;
        let mut items = Vec::with_capacity(patch.len());
        let mut replace = false;
        for item in patch {
            match item.get(DIRECTIVE).map(|d| d.as_str()) {
                None => items.push(item),
                Some(Some("delete")) => {
                    let Some(wanted) = item.get(key) else {
                        return Err(no_merge_key(&item, key));
                    };
                    original.retain(|o| !o.get(key).is_some_and(|v| json_eq(v, wanted)));
                }
                Some(Some("replace")) => replace = true,
                Some(Some("merge")) => {
                    return Err(PatchError::Invalid(
                        "merging lists cannot yet be specified in the patch".into(),
                    ));
                }
                Some(_) => {
                    return Err(PatchError::Invalid(format!(
                        "Unknown patch type: {} in map: {item}",
                        item.get(DIRECTIVE).unwrap_or(&Value::Null)
                    )));
                }
            }
        }
        if replace {
            let mut replaced = Vec::with_capacity(items.len());
            for item in items {
                replaced.push(self.fresh(item, names)?);
            }
            return Ok(replaced);
        }

        let mut merged = original.clone();
        for item in &items {
            if item.get(key).is_none() {
                return Err(no_merge_key(item, key));
            }
            let Value::Object(patch_map) = item.clone() else {
                return Err(PatchError::Invalid(format!(
                    "list item {item} is not a map"
                )));
            };
            match position(&merged, item, Some(key)) {
                Some(i) => {
                    let current = match std::mem::take(&mut merged[i]) {
                        Value::Object(m) => m,
                        _ => Map::new(),
                    };
                    merged[i] = Value::Object(self.merge_map(current, patch_map, names)?);
                }
                None => merged.push(self.fresh(Value::Object(patch_map), names)?),
            }
        }
        self.order_merged(merged, &items, &original, Some(key))
    }

    /// Orders a merged list: `merged` holds the original's items (merged in place) followed
    /// by the patch's new ones.
    fn order_merged(
        &self,
        merged: Vec<Value>,
        patch: &[Value],
        original: &[Value],
        merge_key: Option<&str>,
    ) -> Result<Vec<Value>, PatchError> {
        match self.order {
            ListOrder::Apiserver => normalize_element_order(merged, patch, original, merge_key),
            ListOrder::PatchFirst => {
                let (in_patch, rest): (Vec<Value>, Vec<Value>) = merged
                    .into_iter()
                    .partition(|item| position(patch, item, merge_key).is_some());
                let mut ordered = normalize_slice_order(in_patch, patch, merge_key)?;
                ordered.extend(rest);
                Ok(ordered)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(group: &str, kind: &str) -> &'static Schema {
        Schema::for_kind(group, kind).expect("known kind")
    }

    fn smp(target: &Value, patch: Value, schema: &Schema) -> Result<Value, PatchError> {
        apply_strategic_merge_patch(target, patch.to_string().as_bytes(), schema)
    }

    fn deployment(containers: Value) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": containers}}}
        })
    }

    fn containers_patch(patch_spec: Value) -> Value {
        json!({"spec": {"template": {"spec": patch_spec}}})
    }

    fn containers_of(obj: &Value) -> &Value {
        &obj["spec"]["template"]["spec"]["containers"]
    }

    #[test]
    fn patch_first_order_puts_the_patch_items_first() {
        let live = deployment(json!([
            {"name": "app", "env": [{"name": "A"}, {"name": "B", "value": "1"}]}
        ]));
        let patch = containers_patch(
            json!({"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}, {"name": "C"}]}]}),
        );
        let dep = schema("apps", "Deployment");
        let env = |order| {
            let got = apply_strategic_merge_patch_ordered(
                &live,
                patch.to_string().as_bytes(),
                dep,
                order,
            )
            .unwrap();
            let names: Vec<String> = containers_of(&got)[0]["env"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["name"].as_str().unwrap().to_string())
                .collect();
            names
        };
        assert_eq!(env(ListOrder::Apiserver), ["A", "B", "C"]);
        assert_eq!(env(ListOrder::PatchFirst), ["B", "C", "A"]);
    }

    #[test]
    fn containers_merge_by_name() {
        let live = deployment(json!([
            {"name": "app", "image": "app:1", "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "proxy:1"}
        ]));
        let cases: &[(Value, Value)] = &[
            (
                json!({"containers": [{"name": "app", "image": "app:2"}]}),
                json!([
                    {"name": "app", "image": "app:2", "ports": [{"containerPort": 80}]},
                    {"name": "sidecar", "image": "proxy:1"}
                ]),
            ),
            (
                json!({"containers": [{"name": "new", "image": "new:1"}]}),
                json!([
                    {"name": "new", "image": "new:1"},
                    {"name": "app", "image": "app:1", "ports": [{"containerPort": 80}]},
                    {"name": "sidecar", "image": "proxy:1"}
                ]),
            ),
            (
                json!({"containers": [{"name": "app", "$patch": "delete"}]}),
                json!([{"name": "sidecar", "image": "proxy:1"}]),
            ),
            (
                json!({"containers": [{"name": "only", "image": "o"}, {"$patch": "replace"}]}),
                json!([{"name": "only", "image": "o"}]),
            ),
            (
                json!({"containers": [{"name": "app", "ports": [{"containerPort": 443}]}]}),
                json!([
                    {"name": "app", "image": "app:1",
                     "ports": [{"containerPort": 443}, {"containerPort": 80}]},
                    {"name": "sidecar", "image": "proxy:1"}
                ]),
            ),
            (
                json!({"containers": [{"name": "sidecar", "image": null, "args": ["-v"]}]}),
                json!([
                    {"name": "app", "image": "app:1", "ports": [{"containerPort": 80}]},
                    {"name": "sidecar", "args": ["-v"]}
                ]),
            ),
        ];
        let dep = schema("apps", "Deployment");
        for (patch, want) in cases {
            let got = smp(&live, containers_patch(patch.clone()), dep).unwrap();
            assert_eq!(containers_of(&got), want, "patch {patch}");
            assert_eq!(got["spec"]["replicas"], json!(1));
        }
    }

    #[test]
    fn env_merges_by_name_and_other_lists_replace() {
        let live = deployment(json!([{
            "name": "app",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "args": ["x", "y"]
        }]));
        let patch = containers_patch(json!({
            "containers": [{"name": "app",
                            "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
                            "args": ["z"]}],
            "tolerations": [{"key": "k", "operator": "Exists"}]
        }));
        let got = smp(&live, patch, schema("apps", "Deployment")).unwrap();
        assert_eq!(
            containers_of(&got),
            &json!([{
                "name": "app",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "20"},
                        {"name": "C", "value": "3"}],
                "args": ["z"]
            }])
        );
        assert_eq!(
            got["spec"]["template"]["spec"]["tolerations"],
            json!([{"key": "k", "operator": "Exists"}])
        );
    }

    #[test]
    fn set_element_order_as_kubectl_apply_sends_it() {
        let live = deployment(json!([
            {"name": "a", "image": "a:1"},
            {"name": "b", "image": "b:1"},
            {"name": "c", "image": "c:1"}
        ]));
        let patch = containers_patch(json!({
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}],
            "containers": [{"name": "a", "image": "a:2"}]
        }));
        let got = smp(&live, patch, schema("apps", "Deployment")).unwrap();
        assert_eq!(
            containers_of(&got),
            &json!([
                {"name": "c", "image": "c:1"},
                {"name": "a", "image": "a:2"},
                {"name": "b", "image": "b:1"}
            ])
        );
        let bad = containers_patch(json!({
            "$setElementOrder/containers": [{"name": "b"}],
            "containers": [{"name": "a", "image": "a:2"}]
        }));
        assert!(matches!(
            smp(&live, bad, schema("apps", "Deployment")),
            Err(PatchError::Invalid(_))
        ));
    }

    #[test]
    fn finalizers_union_and_delete_from_primitive_list() {
        let live = json!({"metadata": {"name": "x", "finalizers": ["a", "b"]}});
        let pod = schema("", "Pod");
        let got = smp(&live, json!({"metadata": {"finalizers": ["c", "a"]}}), pod).unwrap();
        assert_eq!(got["metadata"]["finalizers"], json!(["c", "a", "b"]));
        let got = smp(
            &live,
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
            pod,
        )
        .unwrap();
        assert_eq!(got["metadata"]["finalizers"], json!(["b"]));
        let got = smp(
            &live,
            json!({"metadata": {
                "$setElementOrder/finalizers": ["b", "c"],
                "finalizers": ["c"],
                "$deleteFromPrimitiveList/finalizers": ["a"]
            }}),
            pod,
        )
        .unwrap();
        assert_eq!(got["metadata"]["finalizers"], json!(["b", "c"]));
        let got = smp(
            &json!({"metadata": {"name": "x"}}),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
            pod,
        )
        .unwrap();
        assert_eq!(got, json!({"metadata": {"name": "x"}}));
    }

    #[test]
    fn retain_keys_clears_other_fields() {
        let live = json!({"spec": {"strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}
        }}});
        let dep = schema("apps", "Deployment");
        let got = smp(
            &live,
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate",
                                         "rollingUpdate": null}}}),
            dep,
        )
        .unwrap();
        assert_eq!(got, json!({"spec": {"strategy": {"type": "Recreate"}}}));
        let err = smp(
            &live,
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}}),
            dep,
        )
        .unwrap_err();
        assert_eq!(
            err,
            PatchError::Invalid("invalid patch format of retainKeys".into())
        );
    }

    #[test]
    fn ports_merge_by_container_port_and_labels_delete_via_null() {
        let live = json!({
            "metadata": {"name": "p", "labels": {"a": "1", "b": "2"}},
            "spec": {"containers": [{"name": "c", "ports": [
                {"containerPort": 80, "name": "http"},
                {"containerPort": 443, "name": "https"}
            ]}]}
        });
        let patch = json!({
            "metadata": {"labels": {"a": null, "c": "3"}},
            "spec": {"containers": [{"name": "c", "ports": [
                {"containerPort": 443, "name": "tls"}
            ]}]}
        });
        let got = smp(&live, patch, schema("", "Pod")).unwrap();
        assert_eq!(
            got,
            json!({
                "metadata": {"name": "p", "labels": {"b": "2", "c": "3"}},
                "spec": {"containers": [{"name": "c", "ports": [
                    {"containerPort": 80, "name": "http"},
                    {"containerPort": 443, "name": "tls"}
                ]}]}
            })
        );
    }

    #[test]
    fn map_directives() {
        let live =
            json!({"metadata": {"name": "x", "labels": {"a": "1"}, "annotations": {"k": "v"}}});
        let cm = schema("", "ConfigMap");
        let got = smp(
            &live,
            json!({"metadata": {"labels": {"$patch": "replace", "b": "2", "c": null}}}),
            cm,
        )
        .unwrap();
        assert_eq!(got["metadata"]["labels"], json!({"b": "2"}));
        let got = smp(
            &live,
            json!({"metadata": {"annotations": {"$patch": "delete"}}}),
            cm,
        )
        .unwrap();
        assert_eq!(got["metadata"]["annotations"], json!({}));
        assert!(matches!(
            smp(
                &live,
                json!({"metadata": {"labels": {"$patch": "bogus"}}}),
                cm
            ),
            Err(PatchError::Invalid(_))
        ));
    }

    #[test]
    fn new_subtrees_drop_nulls_and_directives() {
        let live = json!({"metadata": {"name": "x"}});
        let got = smp(
            &live,
            json!({"metadata": {"labels": {"a": "1", "b": null}},
                   "spec": {"containers": [{"name": "c", "image": null,
                                            "env": [{"name": "X", "$patch": "delete"}]}]}}),
            schema("", "Pod"),
        )
        .unwrap();
        assert_eq!(
            got,
            json!({"metadata": {"name": "x", "labels": {"a": "1"}},
                   "spec": {"containers": [{"name": "c", "env": []}]}})
        );
    }

    #[test]
    fn custom_resources_are_unsupported_media_type() {
        let err = smp(&json!({}), json!({"spec": {}}), Schema::schemaless()).unwrap_err();
        assert_eq!(err, PatchError::StrategicUnsupported);
        assert_eq!(err.status_code(), 415);
        assert_eq!(err.to_string(), super::super::STRATEGIC_UNSUPPORTED_MESSAGE);
    }

    #[test]
    fn malformed_patches() {
        let pod = schema("", "Pod");
        for body in ["[]", "{", "3"] {
            let err = apply_strategic_merge_patch(&json!({}), body.as_bytes(), pod).unwrap_err();
            assert!(matches!(err, PatchError::Invalid(_)), "{body}");
        }
        let live = json!({"spec": {"containers": [{"name": "a"}]}});
        let err = smp(
            &live,
            json!({"spec": {"containers": [{"image": "x"}]}}),
            pod,
        )
        .unwrap_err();
        assert_eq!(
            err,
            PatchError::Invalid(
                r#"map: {"image":"x"} does not contain declared merge key: name"#.into()
            )
        );
    }
}
