//! `images`: new names, tags and digests for container images, in every `containers` and
//! `initContainers` list of every object.

use serde_json::Value;

use super::file::Image;
use super::resource::Resource;

pub fn apply(images: &[Image], acc: &mut [Resource]) {
    if images.is_empty() {
        return;
    }
    for r in acc.iter_mut() {
        walk(&mut r.obj, images);
    }
}

fn walk(node: &mut Value, images: &[Image]) {
    match node {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if (key == "containers" || key == "initContainers")
                    && let Value::Array(items) = child
                {
                    for c in items.iter_mut() {
                        if let Some(Value::String(image)) = c.get_mut("image")
                            && let Some(new) = rewrite(image, images)
                        {
                            *image = new;
                        }
                    }
                }
                walk(child, images);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| walk(i, images)),
        _ => {}
    }
}

/// Splits `name[:tag][@digest]` (a registry port is not a tag).
fn split(image: &str) -> (&str, &str) {
    if let Some(at) = image.find('@') {
        return (&image[..at], &image[at..]);
    }
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(colon) => (&image[..slash + colon], &image[slash + colon..]),
        None => (image, ""),
    }
}

fn rewrite(image: &str, images: &[Image]) -> Option<String> {
    let (name, tag) = split(image);
    let rule = images.iter().find(|i| i.name == name)?;
    let new_name = if rule.new_name.is_empty() {
        name
    } else {
        &rule.new_name
    };
    let new_tag = if !rule.digest.is_empty() && !rule.new_tag.is_empty() {
        format!(":{}@{}", rule.new_tag, rule.digest)
    } else if !rule.digest.is_empty() {
        format!("@{}", rule.digest)
    } else if !rule.new_tag.is_empty() {
        format!(":{}", rule.new_tag)
    } else {
        tag.to_string()
    };
    Some(format!("{new_name}{new_tag}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_tags_digests_and_ports() {
        assert_eq!(split("nginx:1.2"), ("nginx", ":1.2"));
        assert_eq!(split("reg:5000/app"), ("reg:5000/app", ""));
        assert_eq!(split("reg:5000/app:v1"), ("reg:5000/app", ":v1"));
        assert_eq!(split("app@sha256:abc"), ("app", "@sha256:abc"));
    }
}
