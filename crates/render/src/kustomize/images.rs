//! The image transformer: a new name, tag or digest for one image, in every `containers` and
//! `initContainers` list of every object and in the fields its field specs name, where they
//! exist (CRDs are left alone). Each `images` entry is one transformer, applied in order.

use serde_json::Value;

use super::fieldspec::FieldSpec;
use super::file::Image;
use super::resource::Resource;

pub fn apply(image: &Image, field_specs: &[FieldSpec], acc: &mut [Resource]) {
    for r in acc.iter_mut() {
        if r.kind() == "CustomResourceDefinition" {
            continue;
        }
        walk(&mut r.obj, image);
        let (group, version, kind) = (r.group(), r.version(), r.kind());
        let specs: Vec<&FieldSpec> = field_specs
            .iter()
            .filter(|s| s.applies_to(group, version, kind))
            .collect();
        for spec in specs {
            let _ = spec.split().visit_existing::<()>(&mut r.obj, &mut |field| {
                if let Value::String(value) = field
                    && let Some(new) = rewrite(value, image)
                {
                    *value = new;
                }
                Ok(())
            });
        }
    }
}

/// Kustomize's legacy walk: `image` of every item of any `containers` or `initContainers`
/// list, however deep.
fn walk(node: &mut Value, image: &Image) {
    match node {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                walk(child, image);
                if (key == "containers" || key == "initContainers")
                    && let Value::Array(items) = child
                {
                    for c in items.iter_mut() {
                        if let Some(Value::String(value)) = c.get_mut("image")
                            && let Some(new) = rewrite(value, image)
                        {
                            *value = new;
                        }
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| walk(i, image)),
        _ => {}
    }
}

/// Splits `name[:tag][@digest]` as Kustomize does: a `:` before the first `/` (a registry
/// port) is part of the name.
fn split(image: &str) -> (&str, &str, &str) {
    let start = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[start..];
    let at = search.find('@').map(|i| i + start);
    let colon = search.find(':').map(|i| i + start);
    match (colon, at) {
        (None, None) => (image, "", ""),
        (c, Some(at)) if c.is_none_or(|c| at < c) => (&image[..at], "", &image[at + 1..]),
        (Some(c), Some(at)) => (&image[..c], &image[c + 1..at], &image[at + 1..]),
        (Some(c), None) => (&image[..c], &image[c + 1..], ""),
        (None, Some(_)) => unreachable!("handled above"),
    }
}

/// Whether `value` is the image `name` with at most a tag and a sha256 digest after it.
fn matches(value: &str, name: &str) -> bool {
    let Some(rest) = value.strip_prefix(name) else {
        return false;
    };
    let allowed = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.{}-".contains(c))
    };
    let (tag, digest) = match rest.find("@sha256:") {
        Some(i) => (&rest[..i], Some(&rest[i + "@sha256:".len()..])),
        None => (rest, None),
    };
    let tag_ok = tag.is_empty() || tag.strip_prefix(':').is_some_and(allowed);
    tag_ok && digest.is_none_or(allowed)
}

fn rewrite(value: &str, image: &Image) -> Option<String> {
    if !matches(value, &image.name) {
        return None;
    }
    let (name, tag, digest) = split(value);
    let name = if image.new_name.is_empty() {
        name
    } else {
        &image.new_name
    };
    let (tag, digest) = match (image.new_tag.as_str(), image.digest.as_str()) {
        ("", "") if !image.tag_suffix.is_empty() => (format!("{tag}{}", image.tag_suffix), ""),
        ("", "") => (tag.to_string(), digest),
        (new_tag, new_digest) => (new_tag.to_string(), new_digest),
    };
    let mut out = name.to_string();
    if !tag.is_empty() {
        out.push(':');
        out.push_str(&tag);
    }
    if !digest.is_empty() {
        out.push('@');
        out.push_str(digest);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_tags_digests_and_ports() {
        assert_eq!(split("nginx:1.2"), ("nginx", "1.2", ""));
        assert_eq!(split("reg:5000/app"), ("reg:5000/app", "", ""));
        assert_eq!(split("reg:5000/app:v1"), ("reg:5000/app", "v1", ""));
        assert_eq!(split("app@sha256:abc"), ("app", "", "sha256:abc"));
        assert_eq!(split("app:v1@sha256:abc"), ("app", "v1", "sha256:abc"));
        assert!(matches("nginx:1.2@sha256:ab", "nginx"));
        assert!(!matches("nginx-proxy:1.2", "nginx"));
    }

    #[test]
    fn entries_apply_in_turn() {
        let rename = Image {
            name: "a".into(),
            new_name: "b".into(),
            ..Image::default()
        };
        let retag = Image {
            name: "b".into(),
            new_tag: "v2".into(),
            ..Image::default()
        };
        let once = rewrite("a:v1", &rename).unwrap();
        assert_eq!(rewrite(&once, &retag).as_deref(), Some("b:v2"));
    }
}
