//! The image transformer: a new name, tag or digest for one image, in every `containers` and
//! `initContainers` list of every object and in the fields its field specs name, where they
//! exist (CRDs are left alone). Each `images` entry is one transformer, applied in order;
//! consecutive entries share one pass over the objects ([`apply`]).

use regex::Regex;
use serde_json::Value;

use super::fieldspec::FieldSpec;
use super::file::Image;
use super::resource::Resource;
use super::{KustomizeError, Location};

/// The values an `images` entry's `name` matches, as Kustomize matches them: the name is a
/// regular expression, followed by at most a tag and a sha256 digest.
enum NameMatcher {
    /// A name whose only regular-expression syntax is `.` (any character), as nearly all
    /// image names are: matched directly, without compiling an automaton per entry.
    Plain(String),
    Pattern(Regex),
}

/// Kustomize's pattern for an entry's name.
fn pattern(name: &str) -> String {
    format!("^{name}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$")
}

impl NameMatcher {
    fn new(name: &str) -> Result<Self, regex::Error> {
        if name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | ':' | '@'))
        {
            return Ok(Self::Plain(name.to_string()));
        }
        Regex::new(&pattern(name)).map(Self::Pattern)
    }

    fn is_match(&self, value: &str) -> bool {
        let name = match self {
            Self::Pattern(re) => return re.is_match(value),
            Self::Plain(name) => name,
        };
        let mut rest = value.chars();
        for n in name.chars() {
            match rest.next() {
                Some(c) if c == n || (n == '.' && c != '\n') => {}
                _ => return false,
            }
        }
        // What the pattern's `(:[a-zA-Z0-9_.{}-]*)?(@sha256:[a-zA-Z0-9_.{}-]*)?$` accepts.
        let tag_char =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '{' | '}' | '-');
        let rest = rest.as_str();
        let rest = rest
            .strip_prefix(':')
            .map_or(rest, |tag| tag.trim_start_matches(tag_char));
        match rest.strip_prefix("@sha256:") {
            Some(digest) => digest.chars().all(tag_char),
            None => rest.is_empty(),
        }
    }
}

/// Runs one image transformer per entry of `images`, in order, as Kustomize does, in a single
/// pass over the objects.
///
/// Each entry's transformer rewrites, in every object but a CRD, the `image` of every item of
/// any `containers` or `initContainers` list however deep (Kustomize's legacy walk), then the
/// fields its field specs reach; both can reach the same field, which is then rewritten twice.
/// Rewriting changes string values and never an object's shape, so the fields one transformer
/// reaches are the same for every entry: they are found once per object, with how often each
/// is reached, and each field is given every entry in turn that many times.
pub fn apply(
    loc: &Location,
    images: &[Image],
    field_specs: &[FieldSpec],
    acc: &mut [Resource],
) -> Result<(), KustomizeError> {
    let entries = images
        .iter()
        .map(|image| {
            let matcher = NameMatcher::new(&image.name).map_err(|e| {
                loc.invalid(format!(
                    "images: name `{}` is not a valid pattern: {e}",
                    image.name
                ))
            })?;
            Ok((matcher, image))
        })
        .collect::<Result<Vec<_>, KustomizeError>>()?;
    for r in acc.iter_mut() {
        if r.kind() == "CustomResourceDefinition" {
            continue;
        }
        let (group, version, kind) = (r.group(), r.version(), r.kind());
        let specs: Vec<&FieldSpec> = field_specs
            .iter()
            .filter(|s| s.applies_to(group, version, kind))
            .collect();
        // Each reached field, known by its address (stable while the shape is), and how
        // often one transformer reaches it.
        let mut reached: Vec<(usize, usize)> = Vec::new();
        visit_fields(&mut r.obj, &specs, &mut |field| {
            let at = address(field);
            match reached.iter_mut().find(|(a, _)| *a == at) {
                Some((_, times)) => *times += 1,
                None => reached.push((at, 1)),
            }
        });
        visit_fields(&mut r.obj, &specs, &mut |field| {
            let at = address(field);
            // Rewritten at its first visit; the later ones find it gone from `reached`.
            let Some(i) = reached.iter().position(|(a, _)| *a == at) else {
                return;
            };
            let (_, times) = reached.swap_remove(i);
            for (matcher, image) in &entries {
                for _ in 0..times {
                    if matcher.is_match(field) {
                        *field = rewrite(field, image);
                    }
                }
            }
        });
    }
    Ok(())
}

fn address(field: &String) -> usize {
    std::ptr::from_ref(field) as usize
}

/// Calls `f` on every string field one image transformer reaches in `obj`, as often as it
/// reaches it: the legacy walk's, then each field spec's (which creates nothing).
fn visit_fields(obj: &mut Value, specs: &[&FieldSpec], f: &mut dyn FnMut(&mut String)) {
    walk(obj, f);
    for spec in specs {
        let _ = spec.visit_existing::<()>(obj, &mut |field| {
            if let Value::String(value) = field {
                f(value);
            }
            Ok(())
        });
    }
}

/// Kustomize's legacy walk: `image` of every item of any `containers` or `initContainers`
/// list, however deep.
fn walk(node: &mut Value, f: &mut dyn FnMut(&mut String)) {
    match node {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                walk(child, f);
                if (key == "containers" || key == "initContainers")
                    && let Value::Array(items) = child
                {
                    for c in items.iter_mut() {
                        if let Some(Value::String(value)) = c.get_mut("image") {
                            f(value);
                        }
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| walk(i, f)),
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

/// The image reference `value` (which the entry matches) with the entry's changes.
fn rewrite(value: &str, image: &Image) -> String {
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
    out
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
        let nginx = NameMatcher::new("nginx").unwrap();
        assert!(nginx.is_match("nginx:1.2@sha256:ab"));
        assert!(!nginx.is_match("nginx-proxy:1.2"));
        assert!(NameMatcher::new("[").is_err());
        assert!(matches!(
            NameMatcher::new("a.*"),
            Ok(NameMatcher::Pattern(_))
        ));
    }

    #[test]
    fn plain_names_match_as_their_pattern_does() {
        let names = [
            "nginx",
            "ghcr.io/x/app",
            "reg:5000/app",
            "a.b",
            "app@sha256",
        ];
        let values = [
            "nginx",
            "nginx:",
            "nginx:1.2",
            "nginx:1.2:3",
            "nginx@sha256:ab",
            "nginx:v@sha256:a{b}",
            "nginx@sha256:",
            "nginx@sha1:ab",
            "nginxx",
            "ghcr.io/x/app:1",
            "ghcrxio/x/app",
            "ghcr.io/x/app/y",
            "reg:5000/app:v1",
            "a.b",
            "aXb:1",
            "a\nb",
            "app@sha256",
            "app@sha256:1",
            "app@sha256@sha256:1",
            "nginx:1 2",
        ];
        for name in names {
            let plain = NameMatcher::new(name).unwrap();
            assert!(matches!(plain, NameMatcher::Plain(_)), "{name}");
            let pattern = NameMatcher::Pattern(Regex::new(&pattern(name)).unwrap());
            for value in values {
                assert_eq!(
                    plain.is_match(value),
                    pattern.is_match(value),
                    "{name} against {value:?}"
                );
            }
        }
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
        let once = rewrite("a:v1", &rename);
        assert_eq!(rewrite(&once, &retag), "b:v2");
    }
}
