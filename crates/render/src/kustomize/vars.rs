//! `vars` (deprecated in Kustomize, still common): a var names a field of one resource
//! (`objref` by kind, apiVersion or group/version, name and optionally namespace; `fieldref`
//! default `metadata.name`), and `$(NAME)` in Kustomize's var-reference fields becomes that
//! field's final value.
//!
//! As in Kustomize, each kustomization binds its vars to resources once its transformers have
//! run ([`bind`], matching current or earlier names), the vars of nested kustomizations and
//! components accumulate upward (a name declared twice is an error), and only the top level
//! substitutes ([`resolve`]), after names got their hashes and references were fixed. The
//! expansion is Kubernetes' `$(VAR)` syntax: `$$` is a `$`, a reference to no var stays as
//! written, and a string that is exactly one reference takes the value's type (a number stays
//! a number).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::fieldspec::FieldSpec;
use super::resource::{Resource, group_of, is_cluster_scoped, same_namespace};
use super::{KustomizeError, Location};

/// One entry of `vars`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Var {
    pub name: String,
    pub objref: ObjRef,
    #[serde(default)]
    pub fieldref: FieldRef,
}

/// The resource a var reads.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjRef {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
}

/// The field of the resource a var reads.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRef {
    #[serde(default)]
    pub fieldpath: String,
}

impl ObjRef {
    /// Group and version: from `apiVersion` when it is set, else the separate fields.
    fn group_version(&self) -> (&str, &str) {
        if self.api_version.is_empty() {
            (&self.group, &self.version)
        } else {
            let v = &self.api_version;
            (
                group_of(v),
                v.rsplit_once('/').map_or(v.as_str(), |(_, v)| v),
            )
        }
    }
}

/// Kustomize's `Kind.version.group` with its placeholders for missing parts.
fn gvk(kind: &str, version: &str, group: &str) -> String {
    let or = |s: &str, none: &str| {
        if s.is_empty() {
            none.to_string()
        } else {
            s.to_string()
        }
    };
    format!(
        "{}.{}.{}",
        or(kind, "[noKind]"),
        or(version, "[noVer]"),
        or(group, "[noGrp]")
    )
}

impl Var {
    /// As Kustomize prints a var as written (group and version only from their own fields).
    fn as_written(&self) -> String {
        let o = &self.objref;
        format!(
            "{{{} {} {{{}}}}}",
            self.name,
            gvk(&o.kind, &o.version, &o.group),
            self.fieldref.fieldpath
        )
    }

    /// As Kustomize prints a var it matches (`apiVersion` read; `fieldpath` as written, or
    /// its default once `resolved`).
    fn describe(&self, resolved: bool) -> String {
        let (group, version) = self.objref.group_version();
        format!(
            "{{{} {} {{{}}}}}",
            self.name,
            gvk(&self.objref.kind, version, group),
            if resolved {
                self.fieldpath()
            } else {
                &self.fieldref.fieldpath
            }
        )
    }

    fn fieldpath(&self) -> &str {
        if self.fieldref.fieldpath.is_empty() {
            "metadata.name"
        } else {
            &self.fieldref.fieldpath
        }
    }

    /// Whether the var's objref names this resource (by its current or an earlier name; the
    /// namespace only when the objref gives one or the kind is not namespaced).
    fn selects(&self, r: &Resource) -> bool {
        let o = &self.objref;
        let (group, version) = o.group_version();
        let api_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        let exact_namespace = !o.namespace.is_empty() || is_cluster_scoped(&api_version, &o.kind);
        r.kind() == o.kind
            && r.group() == group
            && r.version() == version
            && r.had_name(&o.name)
            && (!exact_namespace
                || same_namespace(&o.namespace, r.namespace())
                || same_namespace(&o.namespace, &r.original_namespace))
    }
}

/// A kustomization's `vars`, once its transformers have run: each var is bound to the one
/// resource its objref names (none is fine here; several is an error), then added to the
/// build's vars (`all`), where a name may appear once.
pub fn bind(
    loc: &Location,
    declared: &[Var],
    acc: &mut [Resource],
    all: &mut Vec<Var>,
) -> Result<(), KustomizeError> {
    let merging = || {
        let list: Vec<String> = declared.iter().map(Var::as_written).collect();
        format!("merging vars [{}]", list.join(" "))
    };
    for v in declared {
        let matched: Vec<usize> = acc
            .iter()
            .enumerate()
            .filter(|(_, r)| v.selects(r))
            .map(|(i, _)| i)
            .collect();
        match matched.as_slice() {
            [] => {}
            [i] => acc[*i].var_names.push(v.name.clone()),
            _ => {
                return Err(loc.invalid(format!(
                    "{}: found {} resId matches for var {} (unable to disambiguate)",
                    merging(),
                    matched.len(),
                    v.describe(false)
                )));
            }
        }
    }
    for v in declared {
        if all.iter().any(|known| known.name == v.name) {
            return Err(loc.invalid(format!(
                "{}: var '{}' already encountered",
                merging(),
                v.name
            )));
        }
        all.push(v.clone());
    }
    Ok(())
}

/// Substitutes the build's vars (top level only, after hashes and name references): reads
/// each var's value from the resource it is bound to, then expands `$(NAME)` in the
/// var-reference fields. Nothing happens when the build has no vars.
pub fn resolve(
    file: &str,
    vars: &[Var],
    field_specs: &[FieldSpec],
    acc: &mut [Resource],
) -> Result<(), KustomizeError> {
    if vars.is_empty() {
        return Ok(());
    }
    let mut sorted: Vec<&Var> = vars.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut values: BTreeMap<&str, Value> = BTreeMap::new();
    for v in sorted {
        let Some(source) = acc.iter().find(|r| r.var_names.contains(&v.name)) else {
            return Err(KustomizeError::invalid(
                file,
                format!(
                    "var '{}' cannot be mapped to a field in the set of known resources",
                    v.describe(true)
                ),
            ));
        };
        let Some(value) = field_value(&source.obj, v.fieldpath()) else {
            return Err(KustomizeError::invalid(
                file,
                format!(
                    "field specified in var '{}' not found in corresponding resource",
                    v.describe(true)
                ),
            ));
        };
        // Only strings, numbers and booleans substitute; a var holding a map, a list or null
        // is left unreplaced, as Kustomize does.
        if matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
            values.insert(&v.name, value.clone());
        }
    }
    for r in acc.iter_mut() {
        let (group, version, kind) = (
            r.group().to_string(),
            r.version().to_string(),
            r.kind().to_string(),
        );
        for spec in field_specs
            .iter()
            .filter(|s| s.applies_to(&group, &version, &kind))
        {
            let _ = spec.visit::<()>(&mut r.obj, &mut |field| {
                match field {
                    Value::String(s) => *field = expand(s, &values),
                    Value::Object(map) => expand_values(map, &values),
                    _ => {}
                }
                Ok(())
            });
        }
    }
    Ok(())
}

fn expand_values(map: &mut Map<String, Value>, values: &BTreeMap<&str, Value>) {
    for value in map.values_mut() {
        if let Value::String(s) = value {
            *value = expand(s, values);
        }
    }
}

fn field_value<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    for segment in path.split('.') {
        let (key, mut indexes) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !key.is_empty() {
            cur = cur.get(key)?;
        }
        while !indexes.is_empty() {
            let close = indexes.find(']')?;
            let index: usize = indexes[1..close].parse().ok()?;
            cur = cur.get(index)?;
            indexes = &indexes[close + 1..];
            if !indexes.is_empty() && !indexes.starts_with('[') {
                return None;
            }
        }
    }
    Some(cur)
}

/// Kubernetes' `$(VAR)` expansion of one string.
fn expand(input: &str, values: &BTreeMap<&str, Value>) -> Value {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match rest.as_bytes()[0] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest.find(')') {
                    Some(close) => {
                        let name = &rest[1..close];
                        match values.get(name) {
                            Some(value) if input.len() == name.len() + 3 => return value.clone(),
                            Some(Value::String(s)) => out.push_str(s),
                            Some(value) => {
                                let _ = write!(out, "{value}");
                            }
                            None => out.push_str(&input[cursor..cursor + close + 2]),
                        }
                        close + 1
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    let c = rest.chars().next().map_or(1, char::len_utf8);
                    out.push_str(&input[cursor..cursor + 1 + c]);
                    c
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    out.push_str(&input[checkpoint..]);
    Value::String(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expansion_follows_kubernetes() {
        let values: BTreeMap<&str, Value> = [("A", json!("x")), ("N", json!(5432))]
            .into_iter()
            .collect();
        let e = |s: &str| expand(s, &values);
        assert_eq!(e("$(A)"), json!("x"));
        assert_eq!(e("$(N)"), json!(5432));
        assert_eq!(e("a-$(A):$(N)"), json!("a-x:5432"));
        assert_eq!(e("$(B) $(A)"), json!("$(B) x"));
        assert_eq!(e("$$(A) $$"), json!("$(A) $"));
        assert_eq!(e("$( $(A"), json!("$( $(A"));
        assert_eq!(e("a$b $é $"), json!("a$b $é $"));
    }

    #[test]
    fn field_paths_take_keys_and_indexes() {
        let obj = json!({"spec": {"ports": [{"port": 80}, {"port": 443}], "m": [[1, 2]]}});
        assert_eq!(field_value(&obj, "spec.ports[1].port"), Some(&json!(443)));
        assert_eq!(field_value(&obj, "spec.m[0][1]"), Some(&json!(2)));
        assert_eq!(field_value(&obj, "spec.ports[2].port"), None);
        assert_eq!(field_value(&obj, "spec.ports[name=x].port"), None);
    }
}
