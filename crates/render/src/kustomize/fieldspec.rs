//! Kustomize's field specs: "in objects of this group/version/kind, the field at this path",
//! with `create` saying whether a missing field is made. A path is `/`-separated (`\/` escapes
//! a slash inside a key); a list on the way is walked item by item, written `[]` or not.
//! Which specs each transformer uses is [`super::config`]'s business.

use serde::Deserialize;
use serde_json::{Map, Value};

/// One field spec, as Kustomize writes it (`group`, `version`, `kind`, `path`, `create`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub path: FieldPath,
    #[serde(default)]
    pub create: bool,
}

/// A field spec's path as written, split into its steps once, when it is read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(from = "String")]
pub struct FieldPath {
    text: String,
    segments: Vec<Segment>,
}

/// One step of a field-spec path.
#[derive(Clone, Debug)]
pub struct Segment {
    pub name: String,
    /// Marked `[]`: a list, walked if there, never created.
    pub is_list: bool,
}

impl FieldPath {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }
}

impl From<String> for FieldPath {
    fn from(text: String) -> Self {
        let segments = segments(&text);
        FieldPath { text, segments }
    }
}

impl From<&str> for FieldPath {
    fn from(text: &str) -> Self {
        text.to_string().into()
    }
}

impl PartialEq for FieldPath {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for FieldPath {}

impl PartialEq<&str> for FieldPath {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A field spec that is already there conflicts with one being merged: same field, other
/// `create`.
#[derive(Debug)]
pub struct Conflict(pub Box<FieldSpec>);

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let spec = &self.0;
        let gvk: Vec<&str> = [&spec.group, &spec.version, &spec.kind]
            .into_iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        write!(f, "conflicting fieldspecs (`{}`", spec.path)?;
        if !gvk.is_empty() {
            write!(f, " of {}", gvk.join("/"))?;
        }
        write!(f, " with create: {})", spec.create)
    }
}

/// Adds `incoming` to `specs` as Kustomize merges field-spec lists: a spec whose path is one
/// already there, for objects that spec selects (its empty group, version or kind match
/// anything), is skipped, and is a [`Conflict`] if it differs in `create`.
pub fn merge<'a>(
    specs: &mut Vec<FieldSpec>,
    incoming: impl IntoIterator<Item = &'a FieldSpec>,
) -> Result<(), Conflict> {
    for spec in incoming {
        let present = specs
            .iter()
            .find(|s| s.path == spec.path && spec.applies_to(&s.group, &s.version, &s.kind));
        match present {
            Some(s) if s.create != spec.create => return Err(Conflict(Box::new(s.clone()))),
            Some(_) => {}
            None => specs.push(spec.clone()),
        }
    }
    Ok(())
}

impl FieldSpec {
    /// Whether the spec applies to objects of this group, version and kind (empty parts of the
    /// spec match anything).
    pub fn applies_to(&self, group: &str, version: &str, kind: &str) -> bool {
        (self.kind.is_empty() || self.kind == kind)
            && (self.group.is_empty() || self.group == group)
            && (self.version.is_empty() || self.version == version)
    }

    /// Calls `f` on every field this spec reaches in `obj` (a missing last field is passed as
    /// `Null` when `create` is set, and dropped again if `f` leaves it `Null`).
    pub fn visit<E>(
        &self,
        obj: &mut Value,
        f: &mut dyn FnMut(&mut Value) -> Result<(), E>,
    ) -> Result<(), E> {
        visit_path(obj, self.path.segments(), self.create, f)
    }

    /// As [`FieldSpec::visit`], creating nothing whatever `create` says (the image
    /// transformer's way).
    pub fn visit_existing<E>(
        &self,
        obj: &mut Value,
        f: &mut dyn FnMut(&mut Value) -> Result<(), E>,
    ) -> Result<(), E> {
        visit_path(obj, self.path.segments(), false, f)
    }
}

/// Splits a field-spec path at `/`, honouring `\/` escapes and reading `[]` markers.
fn segments(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                cur.push('/');
                chars.next();
            }
            '/' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|s| match s.strip_suffix("[]") {
            Some(name) => Segment {
                name: name.to_string(),
                is_list: true,
            },
            None => Segment {
                name: s,
                is_list: false,
            },
        })
        .filter(|s| !s.name.is_empty())
        .collect()
}

fn visit_path<E>(
    node: &mut Value,
    path: &[Segment],
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<(), E>,
) -> Result<(), E> {
    if let Value::Array(items) = node {
        for item in items {
            visit_path(item, path, create, f)?;
        }
        return Ok(());
    }
    let Some((first, rest)) = path.split_first() else {
        return f(node);
    };
    if node.is_null() && create {
        *node = Value::Object(Map::new());
    }
    let Value::Object(map) = node else {
        return Ok(());
    };
    match map.get_mut(first.name.as_str()) {
        Some(child) if !child.is_null() || rest.is_empty() => visit_path(child, rest, create, f),
        _ if create && !first.is_list => {
            let mut child = Value::Null;
            visit_path(&mut child, rest, create, f)?;
            if !child.is_null() {
                map.insert(first.name.clone(), child);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_walk_lists_and_create_maps() {
        let names = |path: &str| -> Vec<String> {
            FieldPath::from(path)
                .segments()
                .iter()
                .map(|s| s.name.clone())
                .collect()
        };
        assert_eq!(
            names("metadata/annotations/a\\/b"),
            ["metadata", "annotations", "a/b"]
        );
        let mut obj = json!({"spec": {"volumeClaimTemplates": [{"metadata": {}}, {}]}});
        let spec = FieldSpec {
            path: "spec/volumeClaimTemplates[]/metadata/labels".into(),
            create: true,
            ..FieldSpec::default()
        };
        spec.visit::<()>(&mut obj, &mut |v| {
            *v = json!({"a": "b"});
            Ok(())
        })
        .unwrap();
        assert_eq!(
            obj,
            json!({"spec": {"volumeClaimTemplates": [
                {"metadata": {"labels": {"a": "b"}}},
                {"metadata": {"labels": {"a": "b"}}}
            ]}})
        );
    }
}
