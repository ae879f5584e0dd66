//! Name references: when an object was renamed (prefix, suffix, content hash, patch) or moved
//! to another namespace, the fields of other objects that name it are updated, following the
//! build's name-reference table
//! ([`TransformerConfig::name_reference`](super::config::TransformerConfig): ConfigMaps and
//! Secrets in pod templates, service accounts, role bindings, Services in Ingresses, claims,
//! ..., and what `configurations` and `crds` add). Done once, at the end of the top-level
//! build.
//!
//! Which object a field names is decided as Kustomize decides it: among the objects the
//! referrer can see (its namespace, cluster-scoped ones, the namespaces of a RoleBinding's
//! ServiceAccount subjects), those that once had the name, the referral kind (the `roleRef`'s
//! kind for role refs) and a namespace the referrer may use; when several remain, those whose
//! name was given the same prefixes and suffixes as the referrer's (a base used twice with
//! different prefixes binds each copy to its own objects). Several different objects still
//! remaining is an error.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::KustomizeError;
use super::config::NameBackReferences;
use super::fieldspec::{FieldSpec, Segment};
use super::resource::{PreviousId, Resource, same_namespace};

/// What name-reference resolution needs to know about an object.
struct Candidate {
    group: String,
    version: String,
    kind: String,
    name: String,
    namespace: String,
    original_namespace: String,
    cluster_scoped: bool,
    previous_ids: Vec<PreviousId>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

impl Candidate {
    fn new(r: &Resource) -> Self {
        Self {
            group: r.group().to_string(),
            version: r.version().to_string(),
            kind: r.kind().to_string(),
            name: r.name().to_string(),
            namespace: r.namespace().to_string(),
            original_namespace: r.original_namespace.clone(),
            cluster_scoped: r.is_cluster_scoped(),
            previous_ids: r.previous_ids.clone(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
        }
    }

    fn describe(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {}", self.kind, self.name)
        } else {
            format!("{} {}/{}", self.kind, self.namespace, self.name)
        }
    }

    /// Whether its prefixes and suffixes end like the other's (`allow_empty`: either having
    /// none of one matches too).
    fn affixes_match(&self, other: &Candidate, allow_empty: bool) -> bool {
        let matches = |a: &[String], b: &[String]| {
            (allow_empty && (a.is_empty() || b.is_empty())) || same_ending(a, b)
        };
        matches(&self.prefixes, &other.prefixes) && matches(&self.suffixes, &other.suffixes)
    }
}

/// Whether the shorter list is the end of the longer one (two empty lists match).
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return long.is_empty();
    }
    long.ends_with(short)
}

/// Updates every reference to a renamed (or moved) object; an error when a reference could
/// name several objects.
pub fn fix(
    resources: &mut [Resource],
    table: &[NameBackReferences],
    file: &str,
) -> Result<(), KustomizeError> {
    let candidates: Vec<Candidate> = resources.iter().map(Candidate::new).collect();
    let index = NameIndex::new(&candidates);
    // Every referring field.
    let referrals: Vec<(&NameBackReferences, &FieldSpec)> = table
        .iter()
        .flat_map(|n| n.field_specs.iter().map(move |s| (n, s)))
        .collect();
    for (i, r) in resources.iter_mut().enumerate() {
        let referrer = &candidates[i];
        let applicable: Vec<_> = referrals
            .iter()
            .filter(|(_, spec)| spec.applies_to(&referrer.group, &referrer.version, &referrer.kind))
            .collect();
        if applicable.is_empty() {
            continue;
        }
        let visibility = Visibility::of(r, referrer, file)?;
        let role_ref = role_ref(&r.obj);
        for (referral, spec) in applicable {
            let select = Select {
                referrer,
                visibility: &visibility,
                index: &index,
                referral,
                role_ref: spec
                    .path
                    .as_str()
                    .ends_with("roleRef/name")
                    .then_some(())
                    .and(role_ref.clone()),
            };
            let mut failure = None;
            visit(&mut r.obj, spec.path.segments(), &mut |v: &mut Value| {
                if failure.is_none()
                    && let Err(e) = select.fix_value(v)
                {
                    failure = Some(e);
                }
            });
            if let Some(message) = failure {
                return Err(KustomizeError::invalid(
                    file,
                    format!(
                        "updating name reference in '{}' field of {}: {message}",
                        spec.path,
                        referrer.describe()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The build's objects by every name they have had, so a reference looks at the few that
/// could be its target instead of all of them.
struct NameIndex<'c> {
    by_name: HashMap<&'c str, Vec<&'c Candidate>>,
}

impl<'c> NameIndex<'c> {
    fn new(candidates: &'c [Candidate]) -> Self {
        let mut by_name: HashMap<&str, Vec<&Candidate>> = HashMap::new();
        for c in candidates {
            let mut names: Vec<&str> = c.previous_ids.iter().map(|id| id.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            for name in names {
                by_name.entry(name).or_default().push(c);
            }
        }
        Self { by_name }
    }

    /// The objects that once had `name`, in build order.
    fn named(&self, name: &str) -> &[&'c Candidate] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }
}

/// The objects a referrer can refer to: all for a cluster-scoped referrer, else those in
/// its namespace, cluster-scoped ones, and for a RoleBinding those in its ServiceAccount
/// subjects' namespaces.
struct Visibility {
    everything: bool,
    namespace: String,
    binding_namespaces: Vec<String>,
}

impl Visibility {
    fn of(r: &Resource, referrer: &Candidate, file: &str) -> Result<Self, KustomizeError> {
        let mut binding_namespaces = Vec::new();
        if !referrer.cluster_scoped
            && referrer.kind == "RoleBinding"
            && let Some(Value::Array(subjects)) = r.obj.get("subjects")
        {
            for s in subjects.iter().filter_map(Value::as_object) {
                let is_sa = s.get("kind").and_then(Value::as_str) == Some("ServiceAccount");
                match s.get("namespace") {
                    Some(Value::String(ns)) if is_sa => binding_namespaces.push(ns.clone()),
                    Some(_) if is_sa => {
                        return Err(KustomizeError::invalid(
                            file,
                            format!(
                                "Invalid Input: namespace is blank for a ServiceAccount subject \
                                 of {}",
                                referrer.describe()
                            ),
                        ));
                    }
                    _ => {}
                }
            }
        }
        Ok(Self {
            everything: referrer.cluster_scoped,
            namespace: referrer.namespace.clone(),
            binding_namespaces,
        })
    }

    fn sees(&self, c: &Candidate) -> bool {
        self.everything
            || c.cluster_scoped
            || same_namespace(&c.namespace, &self.namespace)
            || self.binding_namespaces.contains(&c.namespace)
    }
}

/// A RoleBinding's `roleRef` group and kind, when it gives both.
fn role_ref(obj: &Value) -> Option<(String, String)> {
    let role_ref = obj.get("roleRef")?;
    let field = |k: &str| role_ref.get(k).and_then(Value::as_str).map(str::to_string);
    Some((field("apiGroup")?, field("kind")?))
}

/// Kustomize's choice of the object a field names, for one referrer and referral kind.
struct Select<'a> {
    referrer: &'a Candidate,
    visibility: &'a Visibility,
    index: &'a NameIndex<'a>,
    referral: &'a NameBackReferences,
    /// For a `roleRef/name` field: the group and kind the role ref gives.
    role_ref: Option<(String, String)>,
}

impl<'a> Select<'a> {
    /// Fixes one reference: a name, a list of names, or an object with `name` (and
    /// `namespace`).
    fn fix_value(&self, v: &mut Value) -> Result<(), String> {
        match v {
            Value::String(name) => {
                let same = |cs: &[&Candidate]| cs.iter().all(|c| c.name == cs[0].name);
                if let Some(c) = self.select(self.visible_named(name), &same)? {
                    *name = c.name.clone();
                }
                Ok(())
            }
            Value::Array(items) => items.iter_mut().try_for_each(|i| self.fix_value(i)),
            Value::Object(map) => self.fix_map(map),
            _ => Ok(()),
        }
    }

    /// The objects the referrer can see that once had `name`.
    fn visible_named(&self, name: &str) -> Vec<&'a Candidate> {
        self.index
            .named(name)
            .iter()
            .copied()
            .filter(|c| self.visibility.sees(c))
            .collect()
    }

    fn fix_map(&self, map: &mut Map<String, Value>) -> Result<(), String> {
        // A reference that says its kind (a subject) is only to objects of that kind.
        if map
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k != self.referral.kind)
        {
            return Ok(());
        }
        let Some(old) = map.get("name").and_then(Value::as_str).map(str::to_string) else {
            return Ok(());
        };
        let visible = self.visible_named(&old);
        // A namespaced reference means the objects first in that namespace, else those in it
        // now.
        let candidates: Vec<&Candidate> = match map.get("namespace").and_then(Value::as_str) {
            None => visible,
            Some(ns) => {
                let (originally, others): (Vec<&Candidate>, Vec<&Candidate>) = visible
                    .into_iter()
                    .partition(|c| same_namespace(&c.original_namespace, ns));
                if originally.is_empty() {
                    others
                        .into_iter()
                        .filter(|c| same_namespace(&c.namespace, ns))
                        .collect()
                } else {
                    originally
                }
            }
        };
        let same = |cs: &[&Candidate]| {
            cs.iter()
                .all(|c| c.name == cs[0].name && c.namespace == cs[0].namespace)
        };
        let Some(c) = self.select(candidates, &same)? else {
            return Ok(());
        };
        if c.name == old && c.namespace.is_empty() {
            return Ok(());
        }
        map.insert("name".into(), Value::String(c.name.clone()));
        if !c.namespace.is_empty() {
            map.insert("namespace".into(), Value::String(c.namespace.clone()));
        }
        Ok(())
    }

    /// The object among `candidates` (those that once had the referenced name) that the
    /// reference means, if one does.
    fn select<'c>(
        &self,
        mut candidates: Vec<&'c Candidate>,
        identical: &dyn Fn(&[&Candidate]) -> bool,
    ) -> Result<Option<&'c Candidate>, String> {
        let referral = self.referral;
        let referrer = self.referrer;
        // Every candidate once had the name `old` (they come from the NameIndex).
        candidates.retain(|c| {
            c.previous_ids
                .iter()
                .any(|id| referral.selects(&c.group, &c.version, &id.kind))
                && self.role_ref.as_ref().is_none_or(|(group, kind)| {
                    c.group == *group && c.previous_ids.iter().any(|id| id.kind == *kind)
                })
                && (referrer.cluster_scoped
                    || c.cluster_scoped
                    || c.kind == "ServiceAccount"
                    || same_namespace(&referrer.namespace, &c.namespace))
        });
        if candidates.len() == 1 {
            return Ok(candidates.pop());
        }
        candidates.retain(|c| c.affixes_match(referrer, true));
        if candidates.len() > 1 {
            candidates.retain(|c| c.affixes_match(referrer, false));
        }
        match candidates.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            several if identical(several) => Ok(Some(several[0])),
            several => Err(format!(
                "found multiple possible referrals: {}",
                several
                    .iter()
                    .map(|c| c.describe())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

/// Walks a path (lists item by item) and calls `f` on what it reaches.
fn visit(node: &mut Value, path: &[Segment], f: &mut dyn FnMut(&mut Value)) {
    match path.split_first() {
        None => f(node),
        Some((first, rest)) => match node {
            Value::Array(items) => items.iter_mut().for_each(|i| visit(i, path, f)),
            Value::Object(map) => {
                if let Some(child) = map.get_mut(first.name.as_str()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affix_lists_match_at_their_ends() {
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(same_ending(&v(&["pfx-", "a-"]), &v(&["a-"])));
        assert!(!same_ending(&v(&["pfx-", "a-"]), &v(&["b-"])));
        assert!(same_ending(&v(&[]), &v(&[])));
        assert!(!same_ending(&v(&[]), &v(&["a-"])));
    }
}
