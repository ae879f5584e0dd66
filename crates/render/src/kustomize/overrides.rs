//! Argo CD's `source.kustomize` overrides, applied to the root kustomization in memory.
//!
//! Argo CD runs `kustomize edit` on the checkout before `kustomize build`; each field maps to
//! one command, run in this order: `set nameprefix`, `set namesuffix`, `set image` (strings
//! after `$ARGOCD_APP_*` substitution), `set replicas`, `add label` (values substituted;
//! `--force`, `--without-selector`, `--include-templates`), `add annotation` (values
//! substituted only with `commonAnnotationsEnvsubst`; `--force`), `set namespace`, `patches`
//! (appended to the file by Argo CD itself) and `add component` (after dropping missing ones
//! with `ignoreMissingComponents`). Here the same edits change the parsed [`Kustomization`],
//! with the checks and error cases of those commands; nothing is written to the tree.

use std::collections::BTreeMap;

use ferry_api::argocd::{ApplicationSourceKustomize, KustomizePatch, KustomizeSelector};
use ferry_api::validation::{dns1123_label, validate_annotations, validate_labels};
use serde_json::{Map, Value};

use super::file::{Image, Kustomization, Label, Patch, Replica, Selector};
use super::{KustomizeError, Location};

/// Applies the overrides to the root kustomization `k` (read from `loc`). `env` holds the
/// build environment `$VAR`s are substituted from (Argo CD's `ARGOCD_APP_*`).
pub fn apply(
    loc: &Location,
    ov: &ApplicationSourceKustomize,
    env: &BTreeMap<String, String>,
    k: &mut Kustomization,
) -> Result<(), KustomizeError> {
    if let Some(prefix) = ov.name_prefix.as_deref().filter(|p| !p.is_empty()) {
        k.name_prefix = prefix.to_string();
    }
    if let Some(suffix) = ov.name_suffix.as_deref().filter(|s| !s.is_empty()) {
        k.name_suffix = suffix.to_string();
    }
    if !ov.images.is_empty() {
        let args: Vec<String> = ov.images.iter().map(|i| envsubst(i, env)).collect();
        set_images(&args, &mut k.images)?;
    }
    if !ov.replicas.is_empty() {
        set_replicas(ov, &mut k.replicas)?;
    }
    if !ov.common_labels.is_empty() {
        add_labels(ov, env, k)?;
    }
    if !ov.common_annotations.is_empty() {
        add_annotations(ov, env, k)?;
    }
    if let Some(ns) = ov.namespace.as_deref().filter(|n| !n.is_empty()) {
        let problems = dns1123_label(ns);
        if !problems.is_empty() {
            return Err(invalid(
                "namespace",
                format!(
                    "{ns:?} is not a valid namespace name: {}",
                    problems.join("; ")
                ),
            ));
        }
        k.namespace = ns.to_string();
    }
    k.patches.extend(ov.patches.iter().map(patch));
    if !ov.components.is_empty() {
        add_components(loc, ov, k)?;
    }
    Ok(())
}

fn invalid(field: &str, message: impl Into<String>) -> KustomizeError {
    KustomizeError::Override {
        field: field.to_string(),
        message: message.into(),
    }
}

/// Go's `os.Expand` with Argo CD's mapping: `$VAR` and `${VAR}` become the variable's value
/// (empty when unset), `$$` a `$`; a `$` followed by nothing that names a variable stays.
pub fn envsubst(s: &str, env: &BTreeMap<String, String>) -> String {
    let value = |name: &str| -> String {
        if name == "$" {
            "$".to_string()
        } else {
            env.get(name).cloned().unwrap_or_default()
        }
    };
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut start = 0;
    let mut j = 0;
    while j < bytes.len() {
        if bytes[j] == b'$' && j + 1 < bytes.len() {
            out.push_str(&s[start..j]);
            let (name, width) = shell_name(&s[j + 1..]);
            match name {
                // Bad syntax (`${}`, an unclosed `${`): the characters are dropped.
                None if width > 0 => {}
                None => out.push('$'),
                Some(name) => out.push_str(&value(name)),
            }
            j += width;
            start = j + 1;
        }
        j += 1;
    }
    out.push_str(&s[start.min(s.len())..]);
    out
}

/// The variable name at the start of `s` (after a `$`) and how many bytes it used.
fn shell_name(s: &str) -> (Option<&str>, usize) {
    let b = s.as_bytes();
    let special = |c: u8| b"*#$@!?-0123456789".contains(&c);
    if b[0] == b'{' {
        if b.len() > 2 && special(b[1]) && b[2] == b'}' {
            return (Some(&s[1..2]), 3);
        }
        return match s[1..].find('}') {
            Some(0) => (None, 2),
            Some(end) => (Some(&s[1..=end]), end + 2),
            None => (None, 1),
        };
    }
    if special(b[0]) {
        return (Some(&s[..1]), 1);
    }
    let len = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    if len == 0 {
        (None, 0)
    } else {
        (Some(&s[..len]), len)
    }
}

/// `kustomize edit set image`: each argument replaces the entry of its image name (`*` keeps
/// the existing new name, tag or digest); the list ends up sorted by name.
fn set_images(args: &[String], images: &mut Vec<Image>) -> Result<(), KustomizeError> {
    let mut by_name: BTreeMap<String, Image> = BTreeMap::new();
    for arg in args {
        let image = parse_image(arg).ok_or_else(|| {
            invalid(
                "images",
                format!(
                    "{arg:?}: invalid format of image, use one of <image>=<newimage>:<newtag>, \
                     <image>=<newimage>@<digest>, <image>=<newimage>, <image>:<newtag>, \
                     <image>@<digest>"
                ),
            )
        })?;
        by_name.insert(image.name.clone(), image);
    }
    let preserve = |new: &mut String, old: &str| {
        if new == "*" {
            *new = old.to_string();
        }
    };
    for old in images.drain(..) {
        match by_name.get_mut(&old.name) {
            Some(new) => {
                preserve(&mut new.new_name, &old.new_name);
                preserve(&mut new.new_tag, &old.new_tag);
                preserve(&mut new.digest, &old.digest);
            }
            None => {
                by_name.insert(old.name.clone(), old);
            }
        }
    }
    for mut image in by_name.into_values() {
        for field in [&mut image.new_name, &mut image.new_tag, &mut image.digest] {
            if field == "*" {
                field.clear();
            }
        }
        images.push(image);
    }
    Ok(())
}

/// One argument of `kustomize edit set image`.
fn parse_image(arg: &str) -> Option<Image> {
    let parts: Vec<&str> = arg.split('=').collect();
    if let [name, target] = parts.as_slice() {
        let (new_name, new_tag, digest) = split_reference(target, true)?;
        return Some(Image {
            name: name.to_string(),
            new_name,
            new_tag,
            digest,
            ..Image::default()
        });
    }
    let (name, new_tag, digest) = split_reference(arg, false)?;
    Some(Image {
        name,
        new_tag,
        digest,
        ..Image::default()
    })
}

/// `name:tag@digest`, `name@digest`, `name:tag` or (when `name_alone`) `name`, as
/// (name, tag, digest). A tag is `[a-zA-Z0-9._-]*` or `*` after the last `:`.
fn split_reference(s: &str, name_alone: bool) -> Option<(String, String, String)> {
    let tagged = |s: &str| -> Option<(String, String)> {
        let (name, tag) = s.rsplit_once(':')?;
        let valid = tag == "*"
            || tag
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
        valid.then(|| (name.to_string(), tag.to_string()))
    };
    let parts: Vec<&str> = s.split('@').collect();
    if parts.len() > 1 {
        let digest = parts[1].to_string();
        return Some(match tagged(parts[0]) {
            Some((name, tag)) => (name, tag, digest),
            None => (parts[0].to_string(), String::new(), digest),
        });
    }
    if let Some((name, tag)) = tagged(s) {
        return Some((name, tag, String::new()));
    }
    (name_alone && !s.is_empty()).then(|| (s.to_string(), String::new(), String::new()))
}

/// `kustomize edit set replicas name=count`: replaces entries by name, sorted by name.
fn set_replicas(
    ov: &ApplicationSourceKustomize,
    replicas: &mut Vec<Replica>,
) -> Result<(), KustomizeError> {
    let mut by_name: BTreeMap<String, Replica> = BTreeMap::new();
    for r in &ov.replicas {
        let count = match &r.count {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse::<i64>().ok(),
            _ => None,
        }
        .ok_or_else(|| {
            invalid(
                "replicas",
                format!("{}: expected an integer count, got {}", r.name, r.count),
            )
        })?;
        if r.name.contains('=') {
            return Err(invalid(
                "replicas",
                format!(
                    "{:?}: invalid format of replica, use <name>=<count>",
                    r.name
                ),
            ));
        }
        by_name.insert(
            r.name.clone(),
            Replica {
                name: r.name.clone(),
                count,
            },
        );
    }
    for old in replicas.drain(..) {
        by_name.entry(old.name.clone()).or_insert(old);
    }
    replicas.extend(by_name.into_values());
    Ok(())
}

/// The `key:value` arguments Argo CD passes, read back as `kustomize edit` does: split at the
/// first `:`, surrounding double quotes of the value removed.
fn edit_pairs(
    field: &str,
    pairs: &BTreeMap<String, String>,
    value: impl Fn(&str) -> String,
) -> Result<BTreeMap<String, String>, KustomizeError> {
    let mut out = BTreeMap::new();
    for (k, v) in pairs {
        let arg = format!("{k}:{}", value(v));
        let (key, val) = arg.split_once(':').unwrap_or((&arg, ""));
        if key.is_empty() {
            return Err(invalid(
                field,
                format!("{arg:?}: need k:v pair where v may be quoted"),
            ));
        }
        let val = val
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(val);
        out.insert(key.to_string(), val.to_string());
    }
    Ok(out)
}

fn as_map(pairs: &BTreeMap<String, String>) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

/// `kustomize edit add label`: into `commonLabels` (selectors too), or with
/// `labelWithoutSelector` one new `labels` entry (with `labelIncludeTemplates`, templates too).
fn add_labels(
    ov: &ApplicationSourceKustomize,
    env: &BTreeMap<String, String>,
    k: &mut Kustomization,
) -> Result<(), KustomizeError> {
    let field = "commonLabels";
    if ov.label_include_templates && !ov.label_without_selector {
        return Err(invalid(
            "labelIncludeTemplates",
            "requires labelWithoutSelector (kustomize edit: --without-selector flag must be \
             specified for --include-templates to work)",
        ));
    }
    let pairs = edit_pairs(field, &ov.common_labels, |v| envsubst(v, env))?;
    let problems = validate_labels(&as_map(&pairs), field);
    if !problems.is_empty() {
        return Err(invalid(field, problems.join("; ")));
    }
    if ov.label_without_selector {
        k.labels.push(Label {
            pairs,
            include_templates: ov.label_include_templates,
            ..Label::default()
        });
        return Ok(());
    }
    write_pairs(
        field,
        "label",
        pairs,
        ov.force_common_labels,
        &mut k.common_labels,
    )
}

/// `kustomize edit add annotation` into `commonAnnotations`.
fn add_annotations(
    ov: &ApplicationSourceKustomize,
    env: &BTreeMap<String, String>,
    k: &mut Kustomization,
) -> Result<(), KustomizeError> {
    let field = "commonAnnotations";
    let pairs = edit_pairs(field, &ov.common_annotations, |v| {
        if ov.common_annotations_envsubst {
            envsubst(v, env)
        } else {
            v.to_string()
        }
    })?;
    let problems = validate_annotations(&as_map(&pairs), field);
    if !problems.is_empty() {
        return Err(invalid(field, problems.join("; ")));
    }
    write_pairs(
        field,
        "annotation",
        pairs,
        ov.force_common_annotations,
        &mut k.common_annotations,
    )
}

/// Adds pairs to a map; a key already there is an error unless `force`.
fn write_pairs(
    field: &str,
    kind: &str,
    pairs: BTreeMap<String, String>,
    force: bool,
    into: &mut BTreeMap<String, String>,
) -> Result<(), KustomizeError> {
    for (key, value) in pairs {
        if into.contains_key(&key) && !force {
            return Err(invalid(
                field,
                format!(
                    "{kind} {key} already in the kustomization file (set force{}s to override)",
                    if kind == "label" {
                        "CommonLabel"
                    } else {
                        "CommonAnnotation"
                    }
                ),
            ));
        }
        into.insert(key, value);
    }
    Ok(())
}

fn patch(p: &KustomizePatch) -> Patch {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    Patch {
        path: s(&p.path),
        patch: s(&p.patch),
        target: p.target.as_ref().map(|t: &KustomizeSelector| Selector {
            group: s(&t.group),
            version: s(&t.version),
            kind: s(&t.kind),
            name: s(&t.name),
            namespace: s(&t.namespace),
            label_selector: s(&t.label_selector),
            annotation_selector: s(&t.annotation_selector),
        }),
        options: p.options.clone(),
    }
}

/// `kustomize edit add component`: glob patterns are expanded in the kustomization's
/// directory, a pattern matching nothing is an error, entries already listed are skipped.
/// With `ignoreMissingComponents`, paths that do not exist are dropped first (as Argo CD
/// does, literally: a glob pattern is kept only if a file of that name exists).
fn add_components(
    loc: &Location,
    ov: &ApplicationSourceKustomize,
    k: &mut Kustomization,
) -> Result<(), KustomizeError> {
    let mut patterns: Vec<&String> = ov.components.iter().collect();
    if ov.ignore_missing_components {
        let mut kept = Vec::new();
        for c in patterns {
            if loc.tree.exists(&loc.resolve(c, false)?) {
                kept.push(c);
            }
        }
        patterns = kept;
    }
    for pattern in patterns {
        let matches = expand(loc, pattern)?;
        if matches.is_empty() {
            return Err(invalid(
                "components",
                format!("{pattern} has no match in {}", display_dir(&loc.dir)),
            ));
        }
        for m in matches {
            if !k.components.contains(&m) {
                k.components.push(m);
            }
        }
    }
    Ok(())
}

fn display_dir(dir: &str) -> &str {
    if dir.is_empty() { "." } else { dir }
}

/// The existing paths a component pattern names, relative to the kustomization directory
/// (`*`, `?` and `[...]` match within one path segment, as Go's `filepath.Glob`).
fn expand(loc: &Location, pattern: &str) -> Result<Vec<String>, KustomizeError> {
    let magic = |s: &str| s.contains(['*', '?', '[']);
    if !magic(pattern) {
        let path = loc.resolve(pattern, false)?;
        return Ok(if loc.tree.exists(&path) {
            vec![pattern.to_string()]
        } else {
            Vec::new()
        });
    }
    // (path relative to the kustomization, repository path)
    let mut found: Vec<(String, String)> = vec![(String::new(), loc.dir.clone())];
    for segment in pattern.split('/').filter(|s| !s.is_empty()) {
        let mut next = Vec::new();
        for (rel, repo) in found {
            let rel_of = |name: &str| {
                if rel.is_empty() {
                    name.to_string()
                } else {
                    format!("{rel}/{name}")
                }
            };
            if !magic(segment) {
                let path = loc.resolve(&rel_of(segment), false)?;
                if loc.tree.exists(&path) {
                    next.push((rel_of(segment), path));
                }
                continue;
            }
            let matcher = globset::GlobBuilder::new(segment)
                .literal_separator(true)
                .build()
                .map_err(|e| invalid("components", format!("{pattern}: {e}")))?
                .compile_matcher();
            if !loc.tree.is_dir(&repo) {
                continue;
            }
            for entry in loc.tree.list(&repo)? {
                let name = entry.path.rsplit('/').next().unwrap_or(&entry.path);
                if matcher.is_match(name) {
                    next.push((rel_of(name), entry.path.clone()));
                }
            }
        }
        found = next;
    }
    Ok(found.into_iter().map(|(rel, _)| rel).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("ARGOCD_APP_NAME".to_string(), "guestbook".to_string()),
            ("ARGOCD_APP_REVISION".to_string(), "abc123".to_string()),
        ])
    }

    #[test]
    fn envsubst_follows_go_os_expand() {
        let e = env();
        assert_eq!(envsubst("app=$ARGOCD_APP_NAME", &e), "app=guestbook");
        assert_eq!(envsubst("${ARGOCD_APP_NAME}-x", &e), "guestbook-x");
        assert_eq!(envsubst("$ARGOCD_APP_NAME.$UNSET.", &e), "guestbook..");
        assert_eq!(envsubst("cost: $$5", &e), "cost: $5");
        assert_eq!(envsubst("end$", &e), "end$");
        assert_eq!(envsubst("a ${} b", &e), "a  b");
        assert_eq!(envsubst("a ${unclosed", &e), "a unclosed");
        assert_eq!(envsubst("$-x $ y", &e), "x $ y");
        assert_eq!(envsubst("plain", &e), "plain");
    }

    #[test]
    fn image_arguments_parse_like_kustomize_edit() {
        let p = |s: &str| parse_image(s).map(|i| (i.name, i.new_name, i.new_tag, i.digest));
        let t = |a: &str, b: &str, c: &str, d: &str| {
            Some((a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        };
        assert_eq!(p("nginx:1.27"), t("nginx", "", "1.27", ""));
        assert_eq!(p("nginx@sha256:ab"), t("nginx", "", "", "sha256:ab"));
        assert_eq!(p("nginx:1.2@sha256:ab"), t("nginx", "", "1.2", "sha256:ab"));
        assert_eq!(
            p("nginx=reg:5000/x/nginx:dev-1"),
            t("nginx", "reg:5000/x/nginx", "dev-1", "")
        );
        assert_eq!(
            p("nginx=reg:5000/x/nginx"),
            t("nginx", "reg:5000/x/nginx", "", "")
        );
        assert_eq!(p("a=*:v2"), t("a", "*", "v2", ""));
        assert_eq!(p("nginx"), None);
        assert_eq!(p("reg:5000/nginx"), None);
    }

    #[test]
    fn set_image_replaces_by_name_and_keeps_starred_fields() {
        let mut images = vec![
            Image {
                name: "b".into(),
                new_name: "reg/b".into(),
                new_tag: "1".into(),
                ..Image::default()
            },
            Image {
                name: "a".into(),
                new_tag: "old".into(),
                ..Image::default()
            },
        ];
        set_images(
            &["b=*:2".into(), "a:new".into(), "c=*:3".into()],
            &mut images,
        )
        .unwrap();
        let got: Vec<_> = images
            .iter()
            .map(|i| format!("{}|{}|{}|{}", i.name, i.new_name, i.new_tag, i.digest))
            .collect();
        assert_eq!(got, ["a||new|", "b|reg/b|2|", "c||3|"]);
        let err = set_images(&["bad".into()], &mut images).unwrap_err();
        assert!(err.to_string().contains("invalid format of image"), "{err}");
    }
}
