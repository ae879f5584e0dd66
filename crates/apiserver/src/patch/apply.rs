//! Server-side apply and managed-fields tracking, following structured-merge-diff's `Updater`
//! and kube-apiserver's field manager.
//!
//! Ownership lives in `metadata.managedFields`: one entry per manager identity — (manager,
//! `Apply`, subresource) for appliers, (manager, `Update`, apiVersion, subresource) for other
//! writers — each with the [`FieldSet`] it owns in `fieldsV1` form.
//!
//! [`server_side_apply`]: the configuration's field set becomes the applier's; the configuration
//! is merged into the live object (maps recursively, associative lists by key keeping live-only
//! items, set lists by union, atomic lists and scalars replaced); fields the applier owned before
//! and no longer applies, that no manager (the applier's new configuration included) owns, are
//! removed; then every field the merge adds or changes that another manager owns is a conflict
//! (409), unless forced, in which case the other manager loses it. Fields removed from the
//! object leave every manager's set.
//!
//! [`track_update`]: for any other write, the fields an update adds or changes become the
//! writer's (`Update` entry, merged into its previous one) and leave every other manager's set;
//! removed fields leave every set. A create is diffed against the kind's zero value.
//!
//! Not owned by anyone: [`STRIPPED_META_FIELDS`] (kube-apiserver's strip set) and, for
//! main-resource writes, [`APPLY_RESET_FIELDS`] (`status`, which the status subresource owns;
//! an apply configuration's `status` is dropped). A write that changes neither the object nor any
//! entry's fields keeps the old `managedFields` byte for byte (timestamps included), as
//! kube-apiserver's "ignore managed fields timestamps" transformer does.

use ferry_api::meta;
use serde_json::{Map, Value};

use super::fields::{FieldSet, PathElement, compare, list_item_element, path_to_string};
use super::schema::{ListStrategy, Schema};
use super::{FieldConflict, PatchError};

/// The manager kube-apiserver gives every existing field on the first apply to an object that
/// has no `managedFields`.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// Fields no manager owns (kube-apiserver's `stripMeta` set; removed path by path, so
/// `metadata.labels` stays owned although `metadata` is listed).
pub const STRIPPED_META_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "metadata.name",
    "metadata.namespace",
    "metadata.creationTimestamp",
    "metadata.selfLink",
    "metadata.uid",
    "metadata.clusterName",
    "metadata.generation",
    "metadata.managedFields",
    "metadata.resourceVersion",
];

/// Subtrees a main-resource write never takes ownership of (the reset fields of the built-in
/// strategies): an apply configuration's `status` is ignored.
pub const APPLY_RESET_FIELDS: &[&str] = &["status"];

/// Subtrees a `status` subresource write never takes ownership of.
const STATUS_RESET_FIELDS: &[&str] = &["spec"];

fn field_set(paths: &[&str]) -> FieldSet {
    let mut set = FieldSet::new();
    for path in paths {
        let elements: Vec<PathElement> = path
            .split('.')
            .map(|name| PathElement::Field(name.to_string()))
            .collect();
        set.insert(&elements);
    }
    set
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    manager: String,
    operation: Operation,
    api_version: String,
    time: Option<String>,
    subresource: Option<String>,
    set: FieldSet,
}

impl Entry {
    /// Whether two entries are the same manager identity (the apiVersion counts for updaters
    /// only, as in kube-apiserver's manager identifier).
    fn same_identity(&self, other: &Entry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == Operation::Apply || self.api_version == other.api_version)
    }

    fn conflict(&self, path: &[PathElement]) -> FieldConflict {
        FieldConflict {
            manager: self.manager.clone(),
            api_version: (self.operation == Operation::Update).then(|| self.api_version.clone()),
            subresource: self.subresource.clone(),
            field: path_to_string(path),
        }
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), Value::String(self.manager.clone()));
        m.insert(
            "operation".into(),
            Value::String(self.operation.as_str().into()),
        );
        if !self.api_version.is_empty() {
            m.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        }
        if let Some(time) = &self.time {
            m.insert("time".into(), Value::String(time.clone()));
        }
        m.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        m.insert("fieldsV1".into(), self.set.to_fields_v1());
        if let Some(sub) = &self.subresource {
            m.insert("subresource".into(), Value::String(sub.clone()));
        }
        Value::Object(m)
    }

    fn sort_key(&self) -> (&'static str, i64, &str, &str, &str) {
        let seconds = self
            .time
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map_or(0, |t| t.timestamp());
        (
            self.operation.as_str(),
            seconds,
            &self.manager,
            &self.api_version,
            self.subresource.as_deref().unwrap_or(""),
        )
    }
}

fn optional_string(m: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!(
            "managedFields: {key} must be a string, got {other}"
        )),
    }
}

/// Decodes `metadata.managedFields`; fails on anything kube-apiserver would not decode.
fn decode_entries(value: Option<&Value>) -> Result<Vec<Entry>, String> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(format!("managedFields must be a list, got {other}")),
    };
    let mut entries: Vec<Entry> = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(m) = item else {
            return Err(format!("managedFields entry must be an object, got {item}"));
        };
        let operation = match optional_string(m, "operation")?.as_deref() {
            Some("Apply") => Operation::Apply,
            Some("Update") => Operation::Update,
            other => return Err(format!("managedFields: unsupported operation {other:?}")),
        };
        if optional_string(m, "fieldsType")?.as_deref() != Some("FieldsV1") {
            return Err("managedFields: fieldsType must be \"FieldsV1\"".into());
        }
        let set = match m.get("fieldsV1") {
            None | Some(Value::Null) => FieldSet::new(),
            Some(v) => FieldSet::from_fields_v1(v).map_err(|e| e.to_string())?,
        };
        let entry = Entry {
            manager: optional_string(m, "manager")?.unwrap_or_default(),
            operation,
            api_version: optional_string(m, "apiVersion")?.unwrap_or_default(),
            time: optional_string(m, "time")?,
            subresource: optional_string(m, "subresource")?.filter(|s| !s.is_empty()),
            set,
        };
        match entries.iter_mut().find(|e| e.same_identity(&entry)) {
            Some(existing) => existing.set = existing.set.union(&entry.set),
            None => entries.push(entry),
        }
    }
    Ok(entries)
}

/// Encodes entries in kube-apiserver's order: `Apply` before `Update`, then oldest first, then
/// by manager, apiVersion and subresource.
fn encode_entries(entries: &[Entry]) -> Vec<Value> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    sorted.into_iter().map(Entry::to_json).collect()
}

fn take_managed_fields(obj: &mut Value) -> Option<Value> {
    meta::metadata_mut(obj).and_then(|m| m.remove("managedFields"))
}

fn put_managed_fields(obj: &mut Value, entries: &[Entry]) {
    let encoded = encode_entries(entries);
    if let Some(metadata) = meta::metadata_mut(obj) {
        if encoded.is_empty() {
            metadata.remove("managedFields");
        } else {
            metadata.insert("managedFields".into(), Value::Array(encoded));
        }
    }
}

fn same_entries_ignoring_time(a: &[Entry], b: &[Entry]) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| {
            b.iter()
                .any(|y| x.same_identity(y) && x.api_version == y.api_version && x.set == y.set)
        })
}

/// Writes the entries into `obj`, or returns the previous object untouched when neither the
/// object nor any entry's fields changed.
fn finish(
    mut obj: Value,
    entries: &[Entry],
    previous: Option<(&Value, &Value, &[Entry])>,
) -> Value {
    if let Some((previous_full, previous_stripped, previous_entries)) = previous
        && obj == *previous_stripped
        && same_entries_ignoring_time(entries, previous_entries)
    {
        return previous_full.clone();
    }
    put_managed_fields(&mut obj, entries);
    obj
}

/// Merges an apply configuration into the live value (structured-merge-diff's `Merge`).
fn merge_values<'a>(
    live: Option<&'a Value>,
    config: &'a Value,
    schema: &Schema,
    names: &mut Vec<&'a str>,
) -> Value {
    match config {
        Value::Object(cm) if names.is_empty() || !schema.is_atomic_map(names) => {
            let lm = live.and_then(Value::as_object);
            let mut out = lm.cloned().unwrap_or_default();
            for (key, value) in cm {
                if value.is_null() {
                    out.remove(key);
                    continue;
                }
                names.push(key);
                let merged = merge_values(lm.and_then(|m| m.get(key)), value, schema, names);
                names.pop();
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        Value::Array(items) => match schema.list_strategy(names) {
            ListStrategy::Atomic => config.clone(),
            strategy => {
                let live_items = live
                    .and_then(Value::as_array)
                    .map_or(&[][..], Vec::as_slice);
                Value::Array(merge_items(live_items, items, strategy, schema, names))
            }
        },
        _ => config.clone(),
    }
}

/// Merges a granular list: configuration items in configuration order, live-only items kept
/// where they were (structured-merge-diff's list merge order).
fn merge_items<'a>(
    live: &'a [Value],
    config: &'a [Value],
    strategy: ListStrategy,
    schema: &Schema,
    names: &mut Vec<&'a str>,
) -> Vec<Value> {
    let index = |items: &'a [Value]| -> Vec<(Option<PathElement>, &'a Value)> {
        items
            .iter()
            .map(|item| (list_item_element(item, strategy).ok(), item))
            .collect()
    };
    let (l, r) = (index(live), index(config));
    let in_config = |pe: &PathElement| r.iter().any(|(p, _)| p.as_ref() == Some(pe));
    let live_item = |pe: &Option<PathElement>| {
        pe.as_ref()
            .and_then(|pe| l.iter().find(|(p, _)| p.as_ref() == Some(pe)))
            .map(|(_, v)| *v)
    };
    let shared: Vec<&PathElement> = r
        .iter()
        .filter_map(|(p, _)| p.as_ref())
        .filter(|p| live_item(&Some((*p).clone())).is_some())
        .collect();
    let mut next_shared = 0;
    let merge_one = |lv: Option<&'a Value>, rv: &'a Value, names: &mut Vec<&'a str>| match strategy
    {
        ListStrategy::Map { .. } => merge_values(lv, rv, schema, names),
        _ => rv.clone(),
    };

    let mut out = Vec::with_capacity(l.len().max(r.len()));
    let (mut li, mut ri) = (0, 0);
    while li < l.len() || ri < r.len() {
        if li < l.len() && ri < r.len() {
            if let (Some(lp), Some(rp)) = (&l[li].0, &r[ri].0)
                && lp == rp
            {
                out.push(merge_one(Some(l[li].1), r[ri].1, names));
                if shared.get(next_shared) == Some(&lp) {
                    next_shared += 1;
                }
                li += 1;
                ri += 1;
                continue;
            }
            if let Some(lp) = &l[li].0
                && in_config(lp)
                && shared.get(next_shared).is_some_and(|s| *s != lp)
            {
                li += 1;
                continue;
            }
        }
        if li < l.len() && !l[li].0.as_ref().is_some_and(in_config) {
            out.push(l[li].1.clone());
            li += 1;
            continue;
        }
        if ri < r.len() {
            let (rp, rv) = &r[ri];
            out.push(merge_one(live_item(rp), rv, names));
            if rp
                .as_ref()
                .is_some_and(|p| shared.get(next_shared) == Some(&p))
            {
                next_shared += 1;
            }
            ri += 1;
            continue;
        }
        // A live item the configuration also has, already emitted in configuration order.
        li += 1;
    }
    out
}

/// Removes from `value` what `last` (the applier's previous set, with field ancestors) holds
/// and `keep` (everything still owned, with field ancestors) does not: whole maps, fields and
/// list items.
fn prune(
    value: &mut Value,
    last: &FieldSet,
    keep: Option<&FieldSet>,
    schema: &Schema,
    names: &mut Vec<String>,
) {
    let owned = |pe: &PathElement| keep.is_some_and(|k| k.has_member(pe));
    match value {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let pe = PathElement::Field(key.clone());
                if last.has_member(&pe) && !owned(&pe) {
                    map.remove(&key);
                    continue;
                }
                if let (Some(sub), Some(child)) = (last.child(&pe), map.get_mut(&key)) {
                    names.push(key);
                    prune(child, sub, keep.and_then(|k| k.child(&pe)), schema, names);
                    names.pop();
                }
            }
        }
        Value::Array(items) => {
            let path: Vec<&str> = names.iter().map(String::as_str).collect();
            let strategy = schema.list_strategy(&path);
            if strategy == ListStrategy::Atomic {
                return;
            }
            let mut kept = Vec::with_capacity(items.len());
            for mut item in std::mem::take(items) {
                if let Ok(pe) = list_item_element(&item, strategy) {
                    if last.has_member(&pe) && !owned(&pe) {
                        continue;
                    }
                    if let Some(sub) = last.child(&pe) {
                        prune(
                            &mut item,
                            sub,
                            keep.and_then(|k| k.child(&pe)),
                            schema,
                            names,
                        );
                    }
                }
                kept.push(item);
            }
            *items = kept;
        }
        _ => {}
    }
}

/// Server-side apply of `applied` (the decoded apply configuration) by `manager` to `live`
/// (`None`: the object does not exist yet). Returns the new object with `metadata.managedFields`
/// updated; `now` (RFC 3339) stamps the applier's entry.
///
/// Errors: [`PatchError::Conflict`] (409) naming every other manager's field the apply would
/// change, unless `force`; [`PatchError::Invalid`] for a configuration that is not an object,
/// carries `metadata.managedFields`, or has associative-list items without (or with duplicate)
/// keys.
pub fn server_side_apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    schema: &Schema,
    api_version: &str,
    now: &str,
) -> Result<Value, PatchError> {
    if !applied.is_object() {
        return Err(PatchError::Invalid(
            "the apply configuration must be a JSON object".into(),
        ));
    }
    if applied
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .is_some_and(|v| !v.is_null())
    {
        return Err(PatchError::Invalid(
            "metadata.managedFields must be nil".into(),
        ));
    }
    let reset = field_set(APPLY_RESET_FIELDS);
    let strip = field_set(STRIPPED_META_FIELDS);

    let mut config = applied.clone();
    if let Value::Object(m) = &mut config {
        for field in APPLY_RESET_FIELDS {
            m.remove(*field);
        }
    }
    let config_set = FieldSet::from_object(&config, schema)?.recursive_difference(&reset);
    let applier = Entry {
        manager: manager.to_string(),
        operation: Operation::Apply,
        api_version: api_version.to_string(),
        time: Some(now.to_string()),
        subresource: None,
        set: config_set.difference(&strip),
    };

    let (live_obj, previous_entries) = match live {
        Some(obj) => {
            let mut stripped = obj.clone();
            let managed = take_managed_fields(&mut stripped);
            (
                stripped,
                decode_entries(managed.as_ref()).unwrap_or_default(),
            )
        }
        None => (Value::Object(Map::new()), Vec::new()),
    };
    let mut entries = previous_entries.clone();
    if live.is_some() && entries.is_empty() {
        let zero = schema.zero_object();
        let cmp = compare(&zero, &live_obj, schema);
        let set = cmp
            .added
            .union(&cmp.modified)
            .recursive_difference(&reset)
            .difference(&strip);
        if !set.is_empty() {
            entries.push(Entry {
                manager: BEFORE_FIRST_APPLY.to_string(),
                operation: Operation::Update,
                api_version: api_version.to_string(),
                time: Some(now.to_string()),
                subresource: None,
                set,
            });
        }
    }

    let mut merged = merge_values(Some(&live_obj), &config, schema, &mut Vec::new());
    let last = entries
        .iter()
        .position(|e| e.same_identity(&applier))
        .map(|i| entries.remove(i).set);
    if let Some(last) = last.filter(|s| !s.is_empty()) {
        // Identity and metadata, and the status, are never pruned, whoever owns them.
        let keep = entries
            .iter()
            .fold(config_set.union(&strip).union(&reset), |acc, e| {
                acc.union(&e.set)
            });
        prune(
            &mut merged,
            &last.with_field_ancestors(),
            Some(&keep.with_field_ancestors()),
            schema,
            &mut Vec::new(),
        );
    }

    let cmp = compare(&live_obj, &merged, schema);
    let changed = cmp.added.union(&cmp.modified).recursive_difference(&reset);
    let removed = cmp.removed.recursive_difference(&reset);
    let mut conflicts: Vec<(String, FieldConflict)> = Vec::new();
    for entry in &entries {
        for path in entry.set.intersection(&changed).paths() {
            let conflict = entry.conflict(&path);
            conflicts.push((conflict_identity(&conflict), conflict));
        }
    }
    if !conflicts.is_empty() && !force {
        conflicts.sort_by(|a, b| a.0.cmp(&b.0));
        return Err(PatchError::Conflict(
            conflicts.into_iter().map(|(_, c)| c).collect(),
        ));
    }
    for entry in &mut entries {
        entry.set = entry.set.difference(&changed).difference(&removed);
    }
    entries.retain(|e| !e.set.is_empty());
    if !applier.set.is_empty() {
        entries.push(applier);
    }

    let previous = live.map(|full| (full, &live_obj, previous_entries.as_slice()));
    Ok(finish(merged, &entries, previous))
}

fn conflict_identity(c: &FieldConflict) -> String {
    format!(
        "{}\u{0}{}\u{0}{}",
        c.manager,
        if c.api_version.is_some() {
            "Update"
        } else {
            "Apply"
        },
        c.subresource.as_deref().unwrap_or("")
    )
}

fn is_reset_request(managed: &Value) -> bool {
    match managed {
        Value::Array(items) => {
            items.is_empty()
                || (items.len() == 1 && items[0].as_object().is_some_and(Map::is_empty))
        }
        _ => false,
    }
}

/// Managed-fields bookkeeping for a non-apply write (create, update, patch) by `manager`:
/// `old` is the stored object (`None` for a create), `new` the object about to be stored,
/// updated in place. `subresource` is e.g. `Some("status")` for a status write.
///
/// Which entries the write starts from, as kube-apiserver decides: for a subresource write, the
/// stored ones; otherwise, if the request body set `metadata.managedFields` to `[]` or `[{}]`,
/// none (a reset); if it carried entries that decode, those (clients may edit ownership);
/// anything else (absent, undecodable) falls back to the stored ones.
pub fn track_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    schema: &Schema,
    api_version: &str,
    now: &str,
    subresource: Option<&str>,
) {
    let requested = take_managed_fields(new);
    let (old_obj, stored) = match old {
        Some(obj) => {
            let mut stripped = obj.clone();
            let managed = take_managed_fields(&mut stripped);
            (
                stripped,
                decode_entries(managed.as_ref()).unwrap_or_default(),
            )
        }
        None => (schema.zero_object(), Vec::new()),
    };
    let mut entries = match (&requested, subresource) {
        (Some(req), None) if is_reset_request(req) => Vec::new(),
        (Some(req), None) => match decode_entries(Some(req)) {
            Ok(decoded) if !decoded.is_empty() => decoded,
            _ => stored.clone(),
        },
        _ => stored.clone(),
    };

    let reset = match subresource {
        None => field_set(APPLY_RESET_FIELDS),
        Some("status") => field_set(STATUS_RESET_FIELDS),
        Some(_) => FieldSet::new(),
    };
    let cmp = compare(&old_obj, new, schema);
    let changed = cmp.added.union(&cmp.modified).recursive_difference(&reset);
    let removed = cmp.removed.recursive_difference(&reset);
    for entry in &mut entries {
        entry.set = entry.set.difference(&changed).difference(&removed);
    }
    entries.retain(|e| !e.set.is_empty());

    let mine = changed
        .difference(&removed)
        .difference(&field_set(STRIPPED_META_FIELDS));
    if !mine.is_empty() {
        let me = Entry {
            manager: manager.to_string(),
            operation: Operation::Update,
            api_version: api_version.to_string(),
            time: Some(now.to_string()),
            subresource: subresource.map(str::to_string),
            set: mine,
        };
        match entries.iter_mut().find(|e| e.same_identity(&me)) {
            Some(existing) => {
                existing.set = existing.set.union(&me.set);
                existing.time = me.time;
            }
            None => entries.push(me),
        }
    }

    let previous = old.map(|full| (full, &old_obj, stored.as_slice()));
    *new = finish(std::mem::take(new), &entries, previous);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T0: &str = "2024-05-01T10:00:00Z";
    const T1: &str = "2024-05-01T11:00:00Z";
    const T2: &str = "2024-05-01T12:00:00Z";

    fn deployment() -> &'static Schema {
        Schema::for_kind("apps", "Deployment").expect("deployment schema")
    }

    fn config(replicas: i64, labels: Value, containers: Value) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": containers}
                }
            }
        })
    }

    fn nginx() -> Value {
        json!([{"name": "nginx", "image": "nginx:1.25"}])
    }

    fn apply(
        live: Option<&Value>,
        cfg: &Value,
        manager: &str,
        force: bool,
        now: &str,
    ) -> Result<Value, PatchError> {
        server_side_apply(live, cfg, manager, force, deployment(), "apps/v1", now)
    }

    fn managed(obj: &Value) -> &Value {
        &obj["metadata"]["managedFields"]
    }

    fn without_managed(obj: &Value) -> Value {
        let mut o = obj.clone();
        take_managed_fields(&mut o);
        o
    }

    fn kubectl_fields() -> Value {
        json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                        ".": {}, "f:image": {}, "f:name": {}
                    }}}
                }
            }
        })
    }

    fn created() -> Value {
        apply(
            None,
            &config(2, json!({"app": "web"}), nginx()),
            "kubectl",
            false,
            T0,
        )
        .unwrap()
    }

    #[test]
    fn create_via_apply_owns_the_configuration() {
        let obj = created();
        let mut want = config(2, json!({"app": "web"}), nginx());
        want["metadata"]["managedFields"] = json!([{
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": kubectl_fields()
        }]);
        assert_eq!(obj, want);
    }

    #[test]
    fn same_value_from_a_second_manager_shares_ownership() {
        let live = created();
        let cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                         "metadata": {"name": "web"}, "spec": {"replicas": 2}});
        let obj = apply(Some(&live), &cfg, "hpa-tool", false, T1).unwrap();
        assert_eq!(without_managed(&obj), without_managed(&live));
        assert_eq!(
            managed(&obj),
            &json!([
                {"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T0,
                 "fieldsType": "FieldsV1", "fieldsV1": kubectl_fields()},
                {"manager": "hpa-tool", "operation": "Apply", "apiVersion": "apps/v1", "time": T1,
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
            ])
        );
    }

    #[test]
    fn different_value_conflicts_and_force_moves_ownership() {
        let live = created();
        let cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                         "metadata": {"name": "web"}, "spec": {"replicas": 5}});
        let err = apply(Some(&live), &cfg, "hpa-tool", false, T1).unwrap_err();
        assert_eq!(
            err,
            PatchError::Conflict(vec![FieldConflict {
                manager: "kubectl".into(),
                api_version: None,
                subresource: None,
                field: ".spec.replicas".into(),
            }])
        );
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"
        );

        let obj = apply(Some(&live), &cfg, "hpa-tool", true, T1).unwrap();
        assert_eq!(obj["spec"]["replicas"], json!(5));
        let mut kubectl = kubectl_fields();
        kubectl["f:spec"]
            .as_object_mut()
            .unwrap()
            .remove("f:replicas");
        assert_eq!(
            managed(&obj),
            &json!([
                {"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T0,
                 "fieldsType": "FieldsV1", "fieldsV1": kubectl},
                {"manager": "hpa-tool", "operation": "Apply", "apiVersion": "apps/v1", "time": T1,
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
            ])
        );
        // kubectl re-applying its old value now conflicts with the new owner.
        let again = config(2, json!({"app": "web"}), nginx());
        let err = apply(Some(&obj), &again, "kubectl", false, T2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"hpa-tool\": .spec.replicas"
        );
    }

    #[test]
    fn dropping_a_label_removes_it() {
        let live = apply(
            None,
            &config(2, json!({"app": "web", "tier": "front"}), nginx()),
            "kubectl",
            false,
            T0,
        )
        .unwrap();
        assert_eq!(
            live["metadata"]["labels"],
            json!({"app": "web", "tier": "front"})
        );
        let obj = apply(
            Some(&live),
            &config(2, json!({"app": "web"}), nginx()),
            "kubectl",
            false,
            T1,
        )
        .unwrap();
        assert_eq!(obj["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(managed(&obj)[0]["fieldsV1"], kubectl_fields());
        assert_eq!(managed(&obj)[0]["time"], json!(T1));
    }

    #[test]
    fn dropping_a_container_keeps_one_another_manager_owns() {
        let two =
            json!([{"name": "nginx", "image": "nginx:1.25"}, {"name": "log", "image": "fluent"}]);
        let live = apply(
            None,
            &config(2, json!({"app": "web"}), two),
            "kubectl",
            false,
            T0,
        )
        .unwrap();
        let sidecar = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "mesh", "image": "envoy"}]}}}
        });
        let live = apply(Some(&live), &sidecar, "injector", false, T1).unwrap();
        assert_eq!(
            live["spec"]["template"]["spec"]["containers"],
            json!([
                {"name": "nginx", "image": "nginx:1.25"},
                {"name": "log", "image": "fluent"},
                {"name": "mesh", "image": "envoy"}
            ])
        );
        let obj = apply(
            Some(&live),
            &config(2, json!({"app": "web"}), nginx()),
            "kubectl",
            false,
            T2,
        )
        .unwrap();
        assert_eq!(
            obj["spec"]["template"]["spec"]["containers"],
            json!([{"name": "nginx", "image": "nginx:1.25"}, {"name": "mesh", "image": "envoy"}])
        );
        assert_eq!(
            managed(&obj),
            &json!([
                {"manager": "injector", "operation": "Apply", "apiVersion": "apps/v1", "time": T1,
                 "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                     "k:{\"name\":\"mesh\"}": {".": {}, "f:image": {}, "f:name": {}}
                 }}}}}},
                {"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T2,
                 "fieldsType": "FieldsV1", "fieldsV1": kubectl_fields()}
            ])
        );
    }

    #[test]
    fn update_then_apply_of_another_value_conflicts_with_the_updater() {
        let live = created();
        let mut edited = live.clone();
        edited["spec"]["replicas"] = json!(4);
        track_update(
            Some(&live),
            &mut edited,
            "kubectl-edit",
            deployment(),
            "apps/v1",
            T1,
            None,
        );
        let mut kubectl = kubectl_fields();
        kubectl["f:spec"]
            .as_object_mut()
            .unwrap()
            .remove("f:replicas");
        assert_eq!(
            managed(&edited),
            &json!([
                {"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T0,
                 "fieldsType": "FieldsV1", "fieldsV1": kubectl},
                {"manager": "kubectl-edit", "operation": "Update", "apiVersion": "apps/v1",
                 "time": T1, "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
            ])
        );
        let cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                         "metadata": {"name": "web"}, "spec": {"replicas": 6, "paused": true}});
        let err = apply(Some(&edited), &cfg, "flux", false, T2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas"
        );
        assert_eq!(
            err,
            PatchError::Conflict(vec![FieldConflict {
                manager: "kubectl-edit".into(),
                api_version: Some("apps/v1".into()),
                subresource: None,
                field: ".spec.replicas".into(),
            }])
        );
    }

    #[test]
    fn plural_conflicts_across_managers() {
        let live = created();
        let cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                         "metadata": {"name": "web", "labels": {"app": "api"}},
                         "spec": {"replicas": 9}});
        let err = apply(Some(&live), &cfg, "other", false, T1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 2 conflicts: conflicts with \"kubectl\":\n- .metadata.labels.app\n\
             - .spec.replicas"
        );
    }

    #[test]
    fn track_update_moves_ownership_to_the_writer() {
        let live = created();
        let mut scaled = live.clone();
        scaled["spec"]["replicas"] = json!(3);
        scaled["metadata"]["labels"]["team"] = json!("a");
        track_update(
            Some(&live),
            &mut scaled,
            "kube-controller-manager",
            deployment(),
            "apps/v1",
            T1,
            None,
        );
        let mut kubectl = kubectl_fields();
        kubectl["f:spec"]
            .as_object_mut()
            .unwrap()
            .remove("f:replicas");
        let scaler_fields =
            json!({"f:metadata": {"f:labels": {"f:team": {}}}, "f:spec": {"f:replicas": {}}});
        assert_eq!(
            managed(&scaled),
            &json!([
                {"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T0,
                 "fieldsType": "FieldsV1", "fieldsV1": kubectl},
                {"manager": "kube-controller-manager", "operation": "Update",
                 "apiVersion": "apps/v1", "time": T1, "fieldsType": "FieldsV1",
                 "fieldsV1": scaler_fields}
            ])
        );
        // The same writer again merges into its entry; removing a field drops it everywhere.
        let mut again = scaled.clone();
        again["spec"]["paused"] = json!(true);
        again["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("app");
        track_update(
            Some(&scaled),
            &mut again,
            "kube-controller-manager",
            deployment(),
            "apps/v1",
            T2,
            None,
        );
        let mut kubectl = kubectl_fields();
        kubectl["f:spec"]
            .as_object_mut()
            .unwrap()
            .remove("f:replicas");
        kubectl.as_object_mut().unwrap().remove("f:metadata");
        assert_eq!(
            managed(&again),
            &json!([
                {"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T0,
                 "fieldsType": "FieldsV1", "fieldsV1": kubectl},
                {"manager": "kube-controller-manager", "operation": "Update",
                 "apiVersion": "apps/v1", "time": T2, "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}},
                              "f:spec": {"f:paused": {}, "f:replicas": {}}}}
            ])
        );
    }

    /// `kubectl create deployment nginx --image=nginx --port=80` after defaulting: the entry
    /// must match kube-apiserver's byte for byte.
    #[test]
    fn create_tracks_fields_like_kube_apiserver() {
        let mut obj = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "nginx", "namespace": "default", "uid": "u-1",
                         "resourceVersion": "1", "generation": 1,
                         "creationTimestamp": T0, "labels": {"app": "nginx"}},
            "spec": {
                "progressDeadlineSeconds": 600,
                "replicas": 1,
                "revisionHistoryLimit": 10,
                "selector": {"matchLabels": {"app": "nginx"}},
                "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                             "type": "RollingUpdate"},
                "template": {
                    "metadata": {"creationTimestamp": null, "labels": {"app": "nginx"}},
                    "spec": {
                        "containers": [{
                            "image": "nginx",
                            "imagePullPolicy": "Always",
                            "name": "nginx",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "resources": {},
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File"
                        }],
                        "dnsPolicy": "ClusterFirst",
                        "restartPolicy": "Always",
                        "schedulerName": "default-scheduler",
                        "securityContext": {},
                        "terminationGracePeriodSeconds": 30
                    }
                }
            },
            "status": {}
        });
        track_update(
            None,
            &mut obj,
            "kubectl-create",
            deployment(),
            "apps/v1",
            T0,
            None,
        );
        let entries = managed(&obj).as_array().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["manager"], json!("kubectl-create"));
        assert_eq!(entries[0]["operation"], json!("Update"));
        assert_eq!(
            entries[0]["fieldsV1"].to_string(),
            r#"{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:progressDeadlineSeconds":{},"f:replicas":{},"f:revisionHistoryLimit":{},"f:selector":{},"f:strategy":{"f:rollingUpdate":{".":{},"f:maxSurge":{},"f:maxUnavailable":{}},"f:type":{}},"f:template":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:ports":{".":{},"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:protocol":{}}},"f:resources":{},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}}}}"#
        );
    }

    #[test]
    fn unchanged_writes_keep_managed_fields_byte_for_byte() {
        let live = created();
        let same = apply(
            Some(&live),
            &config(2, json!({"app": "web"}), nginx()),
            "kubectl",
            false,
            T2,
        )
        .unwrap();
        assert_eq!(same, live);
        let mut updated = live.clone();
        track_update(
            Some(&live),
            &mut updated,
            "kubectl-edit",
            deployment(),
            "apps/v1",
            T2,
            None,
        );
        assert_eq!(updated, live);
        let mut without = without_managed(&live);
        track_update(
            Some(&live),
            &mut without,
            "kubectl-edit",
            deployment(),
            "apps/v1",
            T2,
            None,
        );
        assert_eq!(without, live);
    }

    #[test]
    fn first_apply_to_an_untracked_object_conflicts_with_before_first_apply() {
        let live = without_managed(&created());
        let err = apply(
            Some(&live),
            &config(3, json!({"app": "web"}), nginx()),
            "kubectl",
            false,
            T1,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1: \
             .spec.replicas"
        );
        let obj = apply(
            Some(&live),
            &config(2, json!({"app": "web"}), nginx()),
            "kubectl",
            false,
            T1,
        )
        .unwrap();
        let entries = managed(&obj).as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["manager"], json!("kubectl"));
        assert_eq!(entries[1]["manager"], json!(BEFORE_FIRST_APPLY));
        assert_eq!(entries[1]["operation"], json!("Update"));
    }

    #[test]
    fn status_and_managed_fields_in_configurations() {
        let mut cfg = config(2, json!({"app": "web"}), nginx());
        cfg["status"] = json!({"replicas": 7});
        let obj = apply(None, &cfg, "kubectl", false, T0).unwrap();
        assert!(obj.get("status").is_none());
        assert_eq!(managed(&obj)[0]["fieldsV1"], kubectl_fields());

        cfg["metadata"]["managedFields"] = json!([]);
        assert_eq!(
            apply(None, &cfg, "kubectl", false, T0),
            Err(PatchError::Invalid(
                "metadata.managedFields must be nil".into()
            ))
        );
        let bad = config(2, json!({}), json!([{"image": "x"}]));
        assert!(matches!(
            apply(None, &bad, "kubectl", false, T0),
            Err(PatchError::Invalid(_))
        ));
        assert!(matches!(
            apply(None, &json!([]), "kubectl", false, T0),
            Err(PatchError::Invalid(_))
        ));
    }

    #[test]
    fn request_managed_fields_reset_or_replace_ownership() {
        let live = created();
        let mut reset = live.clone();
        reset["metadata"]["managedFields"] = json!([{}]);
        reset["spec"]["replicas"] = json!(3);
        track_update(
            Some(&live),
            &mut reset,
            "kubectl-edit",
            deployment(),
            "apps/v1",
            T1,
            None,
        );
        assert_eq!(
            managed(&reset),
            &json!([{"manager": "kubectl-edit", "operation": "Update", "apiVersion": "apps/v1",
                     "time": T1, "fieldsType": "FieldsV1",
                     "fieldsV1": {"f:spec": {"f:replicas": {}}}}])
        );

        let mut edited = live.clone();
        edited["metadata"]["managedFields"][0]["manager"] = json!("renamed");
        track_update(
            Some(&live),
            &mut edited,
            "kubectl-edit",
            deployment(),
            "apps/v1",
            T1,
            None,
        );
        assert_eq!(managed(&edited)[0]["manager"], json!("renamed"));

        let mut garbage = live.clone();
        garbage["metadata"]["managedFields"] = json!([{"manager": "x", "operation": "Bogus"}]);
        track_update(
            Some(&live),
            &mut garbage,
            "kubectl-edit",
            deployment(),
            "apps/v1",
            T1,
            None,
        );
        assert_eq!(garbage, live);
    }

    #[test]
    fn status_subresource_updates_own_status_only() {
        let mut live = created();
        live["status"] = json!({});
        let mut with_status = live.clone();
        with_status["status"] = json!({"replicas": 2, "readyReplicas": 2});
        track_update(
            Some(&live),
            &mut with_status,
            "kube-controller-manager",
            deployment(),
            "apps/v1",
            T1,
            Some("status"),
        );
        assert_eq!(
            managed(&with_status)[1],
            json!({"manager": "kube-controller-manager", "operation": "Update",
                   "apiVersion": "apps/v1", "time": T1, "fieldsType": "FieldsV1",
                   "fieldsV1": {"f:status": {"f:readyReplicas": {}, "f:replicas": {}}},
                   "subresource": "status"})
        );
        // A main-resource update does not take status.
        let mut main = live.clone();
        main["status"] = json!({"replicas": 2});
        track_update(
            Some(&live),
            &mut main,
            "someone",
            deployment(),
            "apps/v1",
            T1,
            None,
        );
        assert_eq!(managed(&main), managed(&live));
    }

    #[test]
    fn associative_lists_keep_live_only_items_in_place() {
        let schema = deployment();
        let live = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}, {"name": "c", "image": "c:1"}
        ]}}}});
        let cases: &[(Value, Value)] = &[
            (
                json!([{"name": "c", "image": "c:2"}, {"name": "d", "image": "d:1"}]),
                json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"},
                       {"name": "c", "image": "c:2"}, {"name": "d", "image": "d:1"}]),
            ),
            (
                json!([{"name": "c", "image": "c:1"}, {"name": "a", "image": "a:1"}]),
                json!([{"name": "b", "image": "b:1"}, {"name": "c", "image": "c:1"},
                       {"name": "a", "image": "a:1"}]),
            ),
            (
                json!([{"name": "x"}, {"name": "b", "image": "b:2"}]),
                json!([{"name": "a", "image": "a:1"}, {"name": "x"},
                       {"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}]),
            ),
        ];
        for (containers, want) in cases {
            let cfg = json!({"spec": {"template": {"spec": {"containers": containers}}}});
            let merged = merge_values(Some(&live), &cfg, schema, &mut Vec::new());
            assert_eq!(
                &merged["spec"]["template"]["spec"]["containers"], want,
                "{containers}"
            );
        }
    }

    #[test]
    fn service_ports_are_keyed_by_port_and_protocol() {
        let svc = Schema::for_kind("", "Service").unwrap();
        let cfg = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dns"},
                         "spec": {"ports": [{"port": 53, "protocol": "UDP", "name": "dns"},
                                            {"port": 53, "name": "dns-tcp"}],
                                  "selector": {"app": "dns"}}});
        let obj = server_side_apply(None, &cfg, "kubectl", false, svc, "v1", T0).unwrap();
        assert_eq!(
            managed(&obj)[0]["fieldsV1"],
            json!({"f:spec": {
                "f:ports": {
                    "k:{\"port\":53,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}, "f:port": {}},
                    "k:{\"port\":53,\"protocol\":\"UDP\"}":
                        {".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}}
                },
                "f:selector": {}
            }})
        );
    }

    #[test]
    fn applies_without_metadata_never_prune_identity() {
        let live = created();
        let cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                                  "template": {"metadata": {"labels": {"app": "web"}},
                                               "spec": {"containers": [
                                                   {"name": "nginx", "image": "nginx:1.25"}]}}}});
        let obj = apply(Some(&live), &cfg, "kubectl", false, T1).unwrap();
        assert_eq!(
            obj["metadata"],
            json!({"name": "web", "namespace": "default", "managedFields": managed(&obj).clone()})
        );
    }

    #[test]
    fn set_lists_and_custom_resources() {
        let cr = Schema::schemaless();
        let cfg = json!({"apiVersion": "example.com/v1", "kind": "Widget",
                         "metadata": {"name": "w", "finalizers": ["a/b"]},
                         "spec": {"items": [1, 2], "size": {"cpu": 1}}});
        let live = server_side_apply(None, &cfg, "ctl", false, cr, "example.com/v1", T0).unwrap();
        assert_eq!(
            managed(&live)[0]["fieldsV1"],
            json!({"f:metadata": {"f:finalizers": {"v:\"a/b\"": {}}},
                   "f:spec": {"f:items": {}, "f:size": {"f:cpu": {}}}})
        );
        let mut other = live.clone();
        other["metadata"]["finalizers"] = json!(["a/b", "c/d"]);
        track_update(
            Some(&live),
            &mut other,
            "controller",
            cr,
            "example.com/v1",
            T1,
            None,
        );
        let cfg2 = json!({"apiVersion": "example.com/v1", "kind": "Widget",
                          "metadata": {"name": "w"}, "spec": {"items": [3]}});
        let obj =
            server_side_apply(Some(&other), &cfg2, "ctl", false, cr, "example.com/v1", T2).unwrap();
        assert_eq!(
            without_managed(&obj),
            json!({"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"name": "w", "finalizers": ["c/d"]},
                   "spec": {"items": [3]}})
        );
    }
}
