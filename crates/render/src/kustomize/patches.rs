//! `patches`, `patchesStrategicMerge` and `patchesJson6902`: strategic merge patches (with the
//! built-in kinds' merge keys, from `ferry_api::patch`; JSON merge patch for other kinds) and
//! RFC 6902 JSON patches, applied to the resources a target selector picks.

use ferry_api::LabelSelector;
use ferry_api::meta;
use ferry_api::patch::{
    ListOrder, Schema, StrategicSchema, apply_json_patch, apply_merge_patch,
    apply_strategic_merge_patch_ordered,
};
use regex::Regex;
use serde_json::Value;

use super::file::{Patch, Selector};
use super::resource::{Resource, group_of, same_namespace};
use super::{KustomizeError, Location};
use crate::manifest::parse_documents_strict;

/// Legacy `patchesStrategicMerge`: paths or inline patches, each targeting the object it names.
pub fn strategic_merge_legacy(
    loc: &Location,
    entries: &[String],
    acc: &mut [Resource],
) -> Result<(), KustomizeError> {
    let mut patches = 0;
    for entry in entries {
        let (origin, bytes) = inline_or_file(loc, entry)?;
        for patch in parse_documents_strict(&origin, &bytes)? {
            strategic_by_own_id(loc, &origin, &patch, acc)?;
            patches += 1;
        }
    }
    if !entries.is_empty() && patches == 0 {
        return Err(loc.invalid(format!(
            "patchesStrategicMerge: the patches appear to be empty: {}",
            entries.join(", ")
        )));
    }
    Ok(())
}

/// `patches`: a strategic merge patch or a JSON 6902 patch, with an optional target.
///
/// A targeted strategic merge patch keeps the target's name, namespace, apiVersion and kind
/// unless its `options` allow a name change (`allowNameChange`) or a kind change
/// (`allowKindChange`), as Kustomize's PatchTransformer does. A patch that changes an id into
/// one another resource has is an error.
pub fn patches(
    loc: &Location,
    entries: &[Patch],
    acc: &mut [Resource],
) -> Result<(), KustomizeError> {
    let mut ids_changed = false;
    for p in entries {
        let (origin, bytes) = content(loc, p)?;
        let options = Options::new(loc, p)?;
        let docs = parse_json6902_or_docs(&origin, &bytes)?;
        match docs {
            Parsed::Json6902(ops) => {
                let Some(target) = &p.target else {
                    return Err(
                        loc.invalid(format!("{origin}: a JSON 6902 patch needs a `target`"))
                    );
                };
                ids_changed |= json6902(loc, &origin, target, &ops, acc)?;
            }
            // No document is an empty JSON 6902 patch to Kustomize: it needs a target.
            Parsed::Strategic(docs) if docs.is_empty() && p.target.is_none() => {
                return Err(loc.invalid(format!(
                    "{origin}: an empty patch is a JSON 6902 patch, which needs a `target`"
                )));
            }
            Parsed::Strategic(docs) if docs.len() > 1 && p.target.is_some() => {
                return Err(loc.invalid(format!(
                    "{origin}: a `patches` entry with a `target` holds one strategic merge \
                     patch, not {}",
                    docs.len()
                )));
            }
            Parsed::Strategic(docs) => {
                for patch in docs {
                    match &p.target {
                        None => strategic_by_own_id(loc, &origin, &patch, acc)?,
                        Some(target) => {
                            let sel = Compiled::new(loc, target)?;
                            let patch = options.for_target(patch);
                            for r in acc.iter_mut().filter(|r| sel.matches(r)) {
                                ids_changed |= strategic(loc, &origin, r, &patch)?;
                            }
                        }
                    }
                }
            }
        }
    }
    if ids_changed {
        super::unique_ids(acc, &loc.file)?;
    }
    Ok(())
}

/// A `patches` entry's `options`.
struct Options {
    allow_name_change: bool,
    allow_kind_change: bool,
}

impl Options {
    fn new(loc: &Location, p: &Patch) -> Result<Self, KustomizeError> {
        let mut options = Options {
            allow_name_change: false,
            allow_kind_change: false,
        };
        for (key, value) in &p.options {
            match key.as_str() {
                "allowNameChange" => options.allow_name_change = *value,
                "allowKindChange" => options.allow_kind_change = *value,
                _ => {
                    return Err(loc.invalid(format!(
                        "patches: unknown option `{key}` (Kustomize has `allowNameChange` and \
                         `allowKindChange`)"
                    )));
                }
            }
        }
        Ok(options)
    }

    /// The patch as applied to each resource a target selects: its namespace and apiVersion
    /// are the resource's, and so are its name and kind unless the options allow changing
    /// them.
    fn for_target(&self, mut patch: Value) -> Value {
        if let Some(obj) = patch.as_object_mut() {
            obj.remove("apiVersion");
            if !self.allow_kind_change {
                obj.remove("kind");
            }
            if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("namespace");
                if !self.allow_name_change {
                    meta.remove("name");
                }
            }
        }
        patch
    }
}

/// Legacy `patchesJson6902`.
pub fn json6902_legacy(
    loc: &Location,
    entries: &[Patch],
    acc: &mut [Resource],
) -> Result<(), KustomizeError> {
    for p in entries {
        let (origin, bytes) = content(loc, p)?;
        let Parsed::Json6902(ops) = parse_json6902_or_docs(&origin, &bytes)? else {
            return Err(loc.invalid(format!(
                "{origin}: not a JSON 6902 patch (a list of operations)"
            )));
        };
        let Some(target) = &p.target else {
            return Err(loc.invalid(format!("{origin}: patchesJson6902 needs a `target`")));
        };
        if json6902(loc, &origin, target, &ops, acc)? {
            super::unique_ids(acc, &loc.file)?;
        }
    }
    Ok(())
}

enum Parsed {
    Json6902(Value),
    Strategic(Vec<Value>),
}

fn parse_json6902_or_docs(origin: &str, bytes: &[u8]) -> Result<Parsed, KustomizeError> {
    // A JSON 6902 patch is one YAML/JSON sequence.
    if let Ok(v @ Value::Array(_)) = yaml_serde::from_slice::<Value>(bytes) {
        return Ok(Parsed::Json6902(v));
    }
    Ok(Parsed::Strategic(parse_documents_strict(origin, bytes)?))
}

/// A patch given by `path` (a file of the kustomization) or inline `patch`.
fn content(loc: &Location, p: &Patch) -> Result<(String, Vec<u8>), KustomizeError> {
    match (p.path.is_empty(), p.patch.is_empty()) {
        (false, true) => loc.read(&p.path),
        (true, false) => Ok((
            format!("{} (inline patch)", loc.file),
            p.patch.clone().into_bytes(),
        )),
        _ => Err(loc.invalid("a patch needs exactly one of `path` and `patch`")),
    }
}

/// A `patchesStrategicMerge` entry: inline YAML if it has a newline or looks like an object,
/// else a file.
fn inline_or_file(loc: &Location, entry: &str) -> Result<(String, Vec<u8>), KustomizeError> {
    if entry.contains('\n') || entry.trim_start().starts_with('{') {
        Ok((
            format!("{} (inline patch)", loc.file),
            entry.as_bytes().to_vec(),
        ))
    } else {
        loc.read(entry)
    }
}

fn json6902(
    loc: &Location,
    origin: &str,
    target: &Selector,
    ops: &Value,
    acc: &mut [Resource],
) -> Result<bool, KustomizeError> {
    let sel = Compiled::new(loc, target)?;
    let bytes = serde_json::to_vec(ops).map_err(|e| loc.invalid(e.to_string()))?;
    let mut ids_changed = false;
    for r in acc.iter_mut().filter(|r| sel.matches(r)) {
        // Kustomize remembers the id of every object a JSON patch targets.
        r.store_previous_id();
        let patched = apply_json_patch(&r.obj, &bytes)
            .map_err(|e| loc.invalid(format!("{origin}: {}: {e}", r.describe())))?;
        loc.grow(&r.obj, &patched)?;
        ids_changed |= set_patched(r, patched);
    }
    Ok(ids_changed)
}

/// A strategic merge patch applied to the object with the patch's own kind, name and namespace.
fn strategic_by_own_id(
    loc: &Location,
    origin: &str,
    patch: &Value,
    acc: &mut [Resource],
) -> Result<(), KustomizeError> {
    let kind = patch
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let api_version = patch
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = meta::name(patch).unwrap_or_default();
    let ns = meta::namespace(patch);
    let found: Vec<usize> = acc
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.kind() == kind
                && r.group() == group_of(api_version)
                && r.had_name(name)
                && ns.is_none_or(|ns| {
                    same_namespace(ns, r.namespace()) || same_namespace(ns, &r.original_namespace)
                })
        })
        .map(|(i, _)| i)
        .collect();
    match found.as_slice() {
        [i] => strategic(loc, origin, &mut acc[*i], patch).map(|_| ()),
        [] => Err(loc.invalid(format!(
            "{origin}: no resource matches the patch for {kind} {name}"
        ))),
        _ => Err(loc.invalid(format!(
            "{origin}: several resources match the patch for {kind} {name}; give it a namespace"
        ))),
    }
}

fn strategic(
    loc: &Location,
    origin: &str,
    r: &mut Resource,
    patch: &Value,
) -> Result<bool, KustomizeError> {
    // `$patch: delete` at the top removes the object (the build drops emptied objects).
    if patch.get("$patch").and_then(Value::as_str) == Some("delete") {
        r.obj = Value::Null;
        return Ok(false);
    }
    let mut patch = patch.clone();
    // The patch does not change identity fields it merely repeats.
    if let Some(meta) = patch.get_mut("metadata").and_then(Value::as_object_mut)
        && meta
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| r.had_name(n))
    {
        meta.remove("name");
    }
    let bytes = serde_json::to_vec(&patch).map_err(|e| loc.invalid(e.to_string()))?;
    let custom = loc
        .openapi
        .as_deref()
        .and_then(|o| o.definition(r.group(), r.version(), r.kind()));
    let schema: Option<&dyn StrategicSchema> = match &custom {
        Some(definition) => Some(definition),
        None => Schema::for_kind(r.group(), r.kind()).map(|s| s as &dyn StrategicSchema),
    };
    let patched = match schema {
        Some(schema) => {
            apply_strategic_merge_patch_ordered(&r.obj, &bytes, schema, ListOrder::PatchFirst)
        }
        None => apply_merge_patch(&r.obj, &bytes),
    }
    .map_err(|e| loc.invalid(format!("{origin}: {}: {e}", r.describe())))?;
    loc.grow(&r.obj, &patched)?;
    Ok(set_patched(r, patched))
}

/// Replaces the object with its patched form; a name change by the patch is remembered.
/// Whether the name or kind changed.
fn set_patched(r: &mut Resource, patched: Value) -> bool {
    let kind_changed = patched.get("kind") != r.obj.get("kind");
    let new_name = meta::name(&patched).unwrap_or_default().to_string();
    let old_name = r.name().to_string();
    if (new_name != old_name || kind_changed) && r.previous_ids.last() != Some(&r.id()) {
        r.store_previous_id();
    }
    r.obj = patched;
    new_name != old_name || kind_changed
}

/// A target selector with its regular expressions and label selectors compiled.
pub struct Compiled<'a> {
    sel: &'a Selector,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Option<LabelSelector>,
    annotations: Option<LabelSelector>,
}

impl<'a> Compiled<'a> {
    pub fn new(loc: &Location, sel: &'a Selector) -> Result<Self, KustomizeError> {
        let anchored = |s: &str| -> Result<Option<Regex>, KustomizeError> {
            if s.is_empty() {
                return Ok(None);
            }
            Regex::new(&format!("^(?:{s})$"))
                .map(Some)
                .map_err(|e| loc.invalid(format!("target: {e}")))
        };
        let selector = |s: &str| -> Result<Option<LabelSelector>, KustomizeError> {
            if s.is_empty() {
                return Ok(None);
            }
            LabelSelector::parse(s)
                .map(Some)
                .map_err(|e| loc.invalid(format!("target selector `{s}`: {e}")))
        };
        Ok(Self {
            sel,
            name: anchored(&sel.name)?,
            namespace: anchored(&sel.namespace)?,
            labels: selector(&sel.label_selector)?,
            annotations: selector(&sel.annotation_selector)?,
        })
    }

    /// Whether the resource is selected (names and namespaces match current or original).
    pub fn matches(&self, r: &Resource) -> bool {
        let s = self.sel;
        if (!s.kind.is_empty() && s.kind != r.kind())
            || (!s.group.is_empty() && s.group != r.group())
            || (!s.version.is_empty() && s.version != r.version())
        {
            return false;
        }
        if let Some(re) = &self.name
            && !re.is_match(r.name())
            && !re.is_match(r.original_name())
        {
            return false;
        }
        if let Some(re) = &self.namespace {
            let ns = |n: &str| {
                if n.is_empty() {
                    "default".to_string()
                } else {
                    n.to_string()
                }
            };
            if !re.is_match(&ns(r.namespace())) && !re.is_match(&ns(&r.original_namespace)) {
                return false;
            }
        }
        let empty = Value::Object(Default::default());
        let map = |field: &str| {
            r.obj
                .pointer(&format!("/metadata/{field}"))
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_else(|| empty.as_object().cloned().unwrap_or_default())
        };
        if let Some(l) = &self.labels
            && !l.matches(&map("labels"))
        {
            return false;
        }
        if let Some(a) = &self.annotations
            && !a.matches(&map("annotations"))
        {
            return false;
        }
        true
    }
}
