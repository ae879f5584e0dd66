//! `replacements`: copy a field of one object (the source) into fields of others (the
//! targets), with Kustomize's field paths (`spec.template.spec.containers.[name=app].image`,
//! `*`, list indexes) and `delimiter`/`index`/`create` options.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::file::Selector;
use super::patches::Compiled;
use super::resource::Resource;
use super::{KustomizeError, Location};
use crate::manifest::parse_documents;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Replacement {
    source: Source,
    #[serde(default)]
    targets: Vec<Target>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Source {
    #[serde(flatten)]
    select: Selector,
    #[serde(default)]
    field_path: String,
    #[serde(default)]
    options: Options,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Target {
    select: Selector,
    #[serde(default)]
    reject: Vec<Selector>,
    #[serde(default)]
    field_paths: Vec<String>,
    #[serde(default)]
    options: Options,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    delimiter: String,
    #[serde(default)]
    index: i64,
    #[serde(default)]
    create: bool,
}

pub fn apply(
    loc: &Location,
    entries: &[Value],
    acc: &mut [Resource],
) -> Result<(), KustomizeError> {
    let mut all = Vec::new();
    for entry in entries {
        if let Some(path) = entry.get("path").and_then(Value::as_str) {
            let (file, bytes) = loc.read(path)?;
            for doc in parse_documents_or_list(&file, &bytes)? {
                all.push(parse(loc, doc)?);
            }
        } else {
            all.push(parse(loc, entry.clone())?);
        }
    }
    for rep in &all {
        let value = source_value(loc, rep, acc)?;
        for t in &rep.targets {
            let sel = Compiled::new(loc, &t.select)?;
            let rejects = t
                .reject
                .iter()
                .map(|r| Compiled::new(loc, r))
                .collect::<Result<Vec<_>, _>>()?;
            for r in acc.iter_mut() {
                if !sel.matches(r) || rejects.iter().any(|x| x.matches(r)) {
                    continue;
                }
                for fp in &t.field_paths {
                    let segments = split_field_path(fp);
                    let done = set(&mut r.obj, &segments, &value, &t.options);
                    if !done && t.options.create {
                        return Err(loc.invalid(format!(
                            "replacements: cannot create {fp} in {}",
                            r.describe()
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

fn parse_documents_or_list(file: &str, bytes: &[u8]) -> Result<Vec<Value>, KustomizeError> {
    if let Ok(Value::Array(items)) = yaml_serde::from_slice::<Value>(bytes) {
        return Ok(items);
    }
    Ok(parse_documents(file, bytes)?)
}

fn parse(loc: &Location, v: Value) -> Result<Replacement, KustomizeError> {
    serde_json::from_value(v).map_err(|e| loc.invalid(format!("replacements: {e}")))
}

fn source_value(
    loc: &Location,
    rep: &Replacement,
    acc: &[Resource],
) -> Result<Value, KustomizeError> {
    let sel = Compiled::new(loc, &rep.source.select)?;
    let found: Vec<&Resource> = acc.iter().filter(|r| sel.matches(r)).collect();
    let [source] = found.as_slice() else {
        return Err(loc.invalid(format!(
            "replacements: the source selects {} resources, expected exactly one",
            found.len()
        )));
    };
    let fp = if rep.source.field_path.is_empty() {
        "metadata.name"
    } else {
        &rep.source.field_path
    };
    let mut values = Vec::new();
    get(&source.obj, &split_field_path(fp), &mut values);
    let Some(value) = values.into_iter().next() else {
        return Err(loc.invalid(format!(
            "replacements: {fp} not found in {}",
            source.describe()
        )));
    };
    let o = &rep.source.options;
    if o.delimiter.is_empty() {
        return Ok(value);
    }
    let s = value.as_str().unwrap_or_default();
    let parts: Vec<&str> = s.split(o.delimiter.as_str()).collect();
    usize::try_from(o.index)
        .ok()
        .and_then(|i| parts.get(i))
        .map(|p| Value::String(p.to_string()))
        .ok_or_else(|| {
            loc.invalid(format!(
                "replacements: options.index {} out of range",
                o.index
            ))
        })
}

/// Splits at dots outside brackets.
fn split_field_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
            }
            '.' if depth == 0 => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// What a segment selects in a list: `[k=v]` items, `*` all, or an index.
fn list_matches(segment: &str, i: usize, item: &Value) -> bool {
    if segment == "*" {
        return true;
    }
    if let Some(inner) = segment.strip_prefix('[').and_then(|s| s.strip_suffix(']'))
        && let Some((k, v)) = inner.split_once('=')
    {
        return item.get(k).is_some_and(|x| match x {
            Value::String(s) => s == v,
            other => *other == v,
        });
    }
    segment.parse::<usize>().ok() == Some(i)
}

fn get(node: &Value, path: &[String], out: &mut Vec<Value>) {
    let Some((first, rest)) = path.split_first() else {
        out.push(node.clone());
        return;
    };
    match node {
        Value::Object(m) => {
            let key = first.trim_start_matches('[').trim_end_matches(']');
            if let Some(child) = m.get(key).or_else(|| m.get(first.as_str())) {
                get(child, rest, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if list_matches(first, i, item) {
                    get(item, rest, out);
                }
            }
        }
        _ => {}
    }
}

/// Sets the value at every place the path reaches; `false` if it reached none.
fn set(node: &mut Value, path: &[String], value: &Value, o: &Options) -> bool {
    let Some((first, rest)) = path.split_first() else {
        *node = replace_part(node, value, o);
        return true;
    };
    match node {
        Value::Object(m) => {
            let key = if first.starts_with('[') && !first.contains('=') {
                first
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string()
            } else {
                first.clone()
            };
            match m.get_mut(&key) {
                Some(child) => set(child, rest, value, o),
                None if o.create && !key.contains('=') => {
                    let mut child = Value::Object(Map::new());
                    let done = set(&mut child, rest, value, o);
                    m.insert(key, child);
                    done
                }
                None => false,
            }
        }
        Value::Array(items) => {
            let mut done = false;
            for (i, item) in items.iter_mut().enumerate() {
                if list_matches(first, i, item) {
                    done |= set(item, rest, value, o);
                }
            }
            done
        }
        Value::Null if o.create => {
            *node = Value::Object(Map::new());
            set(node, path, value, o)
        }
        _ => false,
    }
}

fn replace_part(old: &Value, value: &Value, o: &Options) -> Value {
    if o.delimiter.is_empty() {
        return value.clone();
    }
    let (Some(old), Some(new)) = (old.as_str(), value.as_str()) else {
        return value.clone();
    };
    let mut parts: Vec<String> = old
        .split(o.delimiter.as_str())
        .map(str::to_string)
        .collect();
    match usize::try_from(o.index) {
        Ok(i) if i < parts.len() => parts[i] = new.to_string(),
        Ok(_) => parts.push(new.to_string()),
        Err(_) => parts.insert(0, new.to_string()),
    }
    Value::String(parts.join(&o.delimiter))
}
