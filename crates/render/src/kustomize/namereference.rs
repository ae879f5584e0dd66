//! Name references: when an object was renamed (prefix, suffix, content hash), the fields of
//! other objects that name it are updated, following the build's name-reference table
//! ([`TransformerConfig::name_reference`](super::config::TransformerConfig): ConfigMaps and
//! Secrets in pod templates, service accounts, role bindings, Services in Ingresses, claims,
//! ..., and what `configurations` and `crds` add). Done once, at the end of the top-level
//! build.

use serde_json::Value;
use std::collections::HashMap;

use super::config::NameBackReferences;
use super::fieldspec::{FieldSpec, split_path};
use super::resource::{Resource, same_namespace};

struct Candidate {
    group: String,
    version: String,
    kind: String,
    names: Vec<String>,
    name: String,
    namespace: String,
    original_namespace: String,
    cluster_scoped: bool,
}

impl Candidate {
    fn in_namespace(&self, ns: &str) -> bool {
        self.cluster_scoped
            || same_namespace(&self.namespace, ns)
            || same_namespace(&self.original_namespace, ns)
    }
}

/// Updates every reference to a renamed (or moved) object.
pub fn fix(resources: &mut [Resource], table: &[NameBackReferences]) {
    let candidates: Vec<Candidate> = resources
        .iter()
        .map(|r| Candidate {
            group: r.group().to_string(),
            version: r.version().to_string(),
            kind: r.kind().to_string(),
            names: r.previous_names.clone(),
            name: r.name().to_string(),
            namespace: r.namespace().to_string(),
            original_namespace: r.original_namespace.clone(),
            cluster_scoped: r.is_cluster_scoped(),
        })
        .collect();
    // Candidates by name or previous name: lookups stay cheap on large trees.
    let mut by_name: HashMap<&str, Vec<&Candidate>> = HashMap::new();
    for c in &candidates {
        by_name.entry(c.name.as_str()).or_default().push(c);
        for n in &c.names {
            if n != &c.name {
                by_name.entry(n.as_str()).or_default().push(c);
            }
        }
    }
    // Referring fields by referrer kind (in table order), their paths split once.
    type Referral<'t> = (&'t NameBackReferences, &'t FieldSpec, Vec<String>);
    let mut by_referrer: HashMap<&str, Vec<Referral>> = HashMap::new();
    for referral in table {
        for spec in &referral.field_specs {
            by_referrer.entry(spec.kind.as_str()).or_default().push((
                referral,
                spec,
                split_path(&spec.path),
            ));
        }
    }
    let any_kind = by_referrer.remove("").unwrap_or_default();
    for r in resources.iter_mut() {
        let referrer_ns = r.namespace().to_string();
        let referrer_cluster = r.is_cluster_scoped();
        let (group, version) = (r.group().to_string(), r.version().to_string());
        let kind = r.kind().to_string();
        let applicable: Vec<&Referral> = by_referrer
            .get(kind.as_str())
            .into_iter()
            .flatten()
            .chain(&any_kind)
            .filter(|(_, spec, _)| spec.applies_to(&group, &version, &kind))
            .collect();
        for (referral, _, segments) in applicable {
            let lookup = |name: &str, ns: &str| -> Option<&Candidate> {
                by_name
                    .get(name)?
                    .iter()
                    .filter(|c| referral.selects(&c.group, &c.version, &c.kind))
                    .find(|c| referrer_cluster && ns.is_empty() || c.in_namespace(ns))
                    .copied()
            };
            visit(&mut r.obj, segments, &mut |v: &mut Value| {
                fix_value(v, &referral.kind, &referrer_ns, &lookup)
            });
        }
    }
}

/// Fixes one reference: a name, a list of names, or an object with `name` (and `namespace`,
/// and for subjects `kind`).
fn fix_value<'c>(
    v: &mut Value,
    referral_kind: &str,
    referrer_ns: &str,
    lookup: &dyn Fn(&str, &str) -> Option<&'c Candidate>,
) {
    match v {
        Value::String(name) => {
            if let Some(c) = lookup(name, referrer_ns) {
                *name = c.name.clone();
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| fix_value(i, referral_kind, referrer_ns, lookup)),
        Value::Object(map) => {
            if map
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k != referral_kind)
            {
                return;
            }
            let given_ns = map
                .get("namespace")
                .and_then(Value::as_str)
                .map(str::to_string);
            let ns = given_ns.clone().unwrap_or_else(|| referrer_ns.to_string());
            let Some(name) = map.get("name").and_then(Value::as_str) else {
                return;
            };
            let Some(c) = lookup(name, &ns) else {
                return;
            };
            map.insert("name".into(), Value::String(c.name.clone()));
            let moved = !c.cluster_scoped
                && !c.namespace.is_empty()
                && given_ns
                    .as_deref()
                    .is_none_or(|g| !same_namespace(g, &c.namespace));
            if moved
                && (given_ns.is_some()
                    || !same_namespace(referrer_ns, &c.namespace)
                    || referral_kind == "ServiceAccount")
            {
                map.insert("namespace".into(), Value::String(c.namespace.clone()));
            }
        }
        _ => {}
    }
}

/// Walks a path (lists item by item) and calls `f` on what it reaches.
fn visit(node: &mut Value, path: &[String], f: &mut dyn FnMut(&mut Value)) {
    match path.split_first() {
        None => f(node),
        Some((first, rest)) => match node {
            Value::Array(items) => items.iter_mut().for_each(|i| visit(i, path, f)),
            Value::Object(map) => {
                if let Some(child) = map.get_mut(first.as_str()) {
                    if rest.is_empty() {
                        f(child)
                    } else if let Value::Array(items) = child {
                        items.iter_mut().for_each(|i| visit(i, rest, f));
                    } else {
                        visit(child, rest, f);
                    }
                }
            }
            _ => {}
        },
    }
}
