//! `configMapGenerator` and `secretGenerator` (literals, files, env files; behaviors `create`,
//! `merge`, `replace`; `generatorOptions`), and the content-hash name suffix Kustomize adds to
//! generated objects at the end of a build.

use std::collections::BTreeMap;

use base64::Engine as _;
use ferry_source::digest::sha256_hex;
use serde_json::{Map, Value, json};

use super::file::{Generator, GeneratorOptions, Kustomization};
use super::resource::{Resource, same_namespace};
use super::{KustomizeError, Location, add};

/// Runs the kustomization's generators, adding or merging their objects into `acc`.
pub fn run(
    loc: &Location,
    k: &Kustomization,
    acc: &mut Vec<Resource>,
) -> Result<(), KustomizeError> {
    let global = k.generator_options.clone().unwrap_or_default();
    for g in &k.config_map_generator {
        run_one(loc, g, "ConfigMap", &global, acc)?;
    }
    for g in &k.secret_generator {
        run_one(loc, g, "Secret", &global, acc)?;
    }
    Ok(())
}

/// Runs one generator of `kind` (`ConfigMap` or `Secret`) with the kustomization's
/// `generatorOptions` under its own.
pub fn run_one(
    loc: &Location,
    g: &Generator,
    kind: &str,
    global: &GeneratorOptions,
    acc: &mut Vec<Resource>,
) -> Result<(), KustomizeError> {
    let res = generate(loc, g, global, kind)?;
    absorb(loc, g, res, acc)
}

fn generate(
    loc: &Location,
    g: &Generator,
    global: &GeneratorOptions,
    kind: &str,
) -> Result<Resource, KustomizeError> {
    let local = g.options.clone().unwrap_or_default();
    let mut labels = global.labels.clone();
    labels.extend(local.labels);
    let mut annotations = global.annotations.clone();
    annotations.extend(local.annotations);
    // As in Kustomize (Go booleans), `false` never overrides a `true` of the other level.
    let disable_hash = local.disable_name_suffix_hash.unwrap_or(false)
        || global.disable_name_suffix_hash.unwrap_or(false);
    let immutable = local.immutable.unwrap_or(false) || global.immutable.unwrap_or(false);

    let pairs = pairs(loc, g)?;
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(g.name));
    if !g.namespace.is_empty() {
        metadata.insert("namespace".into(), json!(g.namespace));
    }
    if !labels.is_empty() {
        metadata.insert("labels".into(), json!(labels));
    }
    if !annotations.is_empty() {
        metadata.insert("annotations".into(), json!(annotations));
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), json!("v1"));
    obj.insert("kind".into(), json!(kind));
    obj.insert("metadata".into(), Value::Object(metadata));
    let b64 = base64::engine::general_purpose::STANDARD;
    if kind == "Secret" {
        let data: Map<String, Value> = pairs
            .into_iter()
            .map(|(k, v)| (k, json!(fold_base64(&b64.encode(v)))))
            .collect();
        obj.insert(
            "type".into(),
            json!(if g.type_.is_empty() {
                "Opaque"
            } else {
                &g.type_
            }),
        );
        if !data.is_empty() {
            obj.insert("data".into(), Value::Object(data));
        }
    } else {
        let mut data = Map::new();
        let mut binary = Map::new();
        for (k, v) in pairs {
            match String::from_utf8(v) {
                Ok(s) => data.insert(k, json!(s)),
                Err(e) => binary.insert(k, json!(fold_base64(&b64.encode(e.into_bytes())))),
            };
        }
        if !data.is_empty() {
            obj.insert("data".into(), Value::Object(data));
        }
        if !binary.is_empty() {
            obj.insert("binaryData".into(), Value::Object(binary));
        }
    }
    if immutable {
        obj.insert("immutable".into(), json!(true));
    }
    let mut res = Resource::new(Value::Object(obj));
    res.needs_hash = !disable_hash;
    Ok(res)
}

/// The key/value pairs of a generator: env files, then literals, then files.
fn pairs(loc: &Location, g: &Generator) -> Result<BTreeMap<String, Vec<u8>>, KustomizeError> {
    let mut out: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut size = 0usize;
    let mut put = |key: String, value: Vec<u8>| {
        // The same large file under many keys must not build gigabytes.
        size = size.saturating_add(key.len() + value.len());
        if size > loc.max_output {
            return Err(loc.too_large());
        }
        if out.insert(key.clone(), value).is_some() {
            return Err(loc.invalid(format!(
                "generator {}: key `{key}` appears more than once",
                g.name
            )));
        }
        Ok(())
    };
    let env_files = g
        .envs
        .iter()
        .chain(std::iter::once(&g.env).filter(|e| !e.is_empty()));
    for env in env_files {
        let (path, bytes) = loc.read(env)?;
        let text = String::from_utf8_lossy(&bytes);
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once('=') {
                Some((k, v)) => put(k.to_string(), v.as_bytes().to_vec())?,
                None => {
                    return Err(KustomizeError::invalid(
                        &format!("{path}:{}", n + 1),
                        "expected KEY=VALUE (values from the environment are not supported)",
                    ));
                }
            }
        }
    }
    for literal in &g.literals {
        let Some((k, v)) = literal.split_once('=') else {
            return Err(loc.invalid(format!(
                "generator {}: literal `{literal}` is not KEY=VALUE",
                g.name
            )));
        };
        put(k.to_string(), unquote(v).as_bytes().to_vec())?;
    }
    for f in &g.files {
        let (key, reference) = match f.split_once('=') {
            Some((k, p)) => (k.to_string(), p),
            None => (
                f.rsplit('/').next().unwrap_or(f.as_str()).to_string(),
                f.as_str(),
            ),
        };
        let (_, bytes) = loc.read(reference)?;
        put(key, bytes)?;
    }
    Ok(out)
}

/// A literal's value without one pair of surrounding quotes.
fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

fn absorb(
    loc: &Location,
    g: &Generator,
    mut res: Resource,
    acc: &mut Vec<Resource>,
) -> Result<(), KustomizeError> {
    let behavior = if g.behavior.is_empty() {
        "create"
    } else {
        g.behavior.as_str()
    };
    if behavior == "create" {
        let mut ids = acc.iter().map(Resource::id_key).collect();
        return add(acc, &mut ids, res, &loc.file);
    }
    if behavior != "merge" && behavior != "replace" {
        return Err(loc.invalid(format!(
            "generator {}: unknown behavior `{behavior}` (create, merge or replace)",
            g.name
        )));
    }
    let Some(old) = acc.iter_mut().find(|o| {
        o.kind() == res.kind()
            && o.had_name(res.name())
            && (same_namespace(o.namespace(), res.namespace())
                || same_namespace(&o.original_namespace, res.namespace()))
    }) else {
        return Err(loc.invalid(format!(
            "generator {}: behavior {behavior}: no {} {} to {behavior} with",
            g.name,
            res.kind(),
            res.name()
        )));
    };
    let old_meta = old.obj.get("metadata").cloned().unwrap_or(json!({}));
    let new_meta = res.obj.get("metadata").cloned().unwrap_or(json!({}));
    if behavior == "merge" {
        for field in ["data", "binaryData"] {
            if let Some(Value::Object(new)) = res.obj.get(field) {
                let new = new.clone();
                if let Some(obj) = old.obj.as_object_mut() {
                    let target = obj.entry(field).or_insert_with(|| json!({}));
                    if let Value::Object(t) = target {
                        t.extend(new);
                    }
                }
            }
        }
        if let Some(v) = res.obj.get("immutable").cloned()
            && let Some(obj) = old.obj.as_object_mut()
        {
            obj.insert("immutable".into(), v);
        }
    } else {
        let mut obj = res.obj.clone();
        if let Some(o) = obj.as_object_mut() {
            o.insert("metadata".into(), old_meta.clone());
        }
        old.obj = obj;
        // Replaced: its origin is now this generator (`buildMetadata`).
        old.origin = None;
    }
    // Labels and annotations: the old ones, overridden by the generator's.
    if let Some(meta) = old.metadata_mut() {
        for field in ["labels", "annotations"] {
            let mut merged = old_meta
                .get(field)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if let Some(Value::Object(new)) = new_meta.get(field) {
                merged.extend(new.clone());
            }
            if !merged.is_empty() {
                meta.insert(field.into(), Value::Object(merged));
            }
        }
    }
    // As Kustomize copies its build annotations: the name gets a hash only if the object had
    // one coming and the merged or replacing generator asks for one too.
    old.needs_hash &= res.needs_hash;
    res.needs_hash = false;
    Ok(())
}

/// Appends the content hash to the names of generated objects, as Kustomize's last step does.
/// Base64 as Kustomize's generators write it: longer than 70 characters, in lines of 70,
/// each ending in a line break.
fn fold_base64(encoded: &str) -> String {
    const LINE: usize = 70;
    if encoded.len() < LINE {
        return encoded.to_string();
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
    for line in encoded.as_bytes().chunks(LINE) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out
}

pub fn add_hashes(resources: &mut [Resource]) {
    for r in resources.iter_mut().filter(|r| r.needs_hash) {
        let hash = content_hash(&r.obj);
        let name = format!("{}-{hash}", r.name());
        r.store_previous_id();
        r.rename(name);
    }
}

/// Kustomize's hash of a ConfigMap or Secret: SHA-256 of Go's JSON encoding of
/// `{kind, name: "", data (, binaryData)}` (Secrets: `{kind, type, name: "", data}`), hex, the first ten
/// characters with some letters swapped so the result has no vowels-only words.
pub fn content_hash(obj: &Value) -> String {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    // A missing field is hashed as "" (a data-less ConfigMap too).
    let field = |name: &str| obj.get(name).cloned().unwrap_or(json!(""));
    let mut m = Map::new();
    m.insert("kind".into(), json!(kind));
    // Kustomize's hasher reads the name from a field its generated objects do not have, so
    // the name it hashes is always empty.
    m.insert("name".into(), json!(""));
    m.insert("data".into(), field("data"));
    let optional = if kind == "Secret" {
        m.insert("type".into(), field("type"));
        "stringData"
    } else {
        "binaryData"
    };
    if let Some(extra @ Value::Object(_)) = obj.get(optional) {
        m.insert(optional.into(), extra.clone());
    }
    let encoded = go_json(&Value::Object(m));
    sha256_hex(encoded.as_bytes())
        .chars()
        .take(10)
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

/// JSON as Go's `encoding/json` writes it: sorted keys, `<`, `>`, `&`, U+2028 and U+2029
/// escaped.
fn go_json(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", go_string(k), go_json(&m[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_json).collect();
            format!("[{}]", parts.join(","))
        }
        Value::String(s) => go_string(s),
        other => other.to_string(),
    }
}

fn go_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
