//! `buildMetadata`: what Kustomize records on each object about how the build made it. Set
//! in the kustomization built (and then in force for every kustomization under it):
//! `originAnnotations` (`config.kubernetes.io/origin`: the file an object was read from, or
//! the generator and kustomization that made it), `transformerAnnotations`
//! (`alpha.config.kubernetes.io/transformations`: every built-in transformer that ran over
//! it, with the kustomization that configured it) and `managedByLabel`
//! (`app.kubernetes.io/managed-by: kustomize-v5.7.1`, the Kustomize Ferry's output matches).
//!
//! Paths are relative to the directory built, as Kustomize writes them (`../base/svc.yaml`).

use serde_json::{Value, json};

use super::KustomizeError;
use super::resource::Resource;

const ORIGIN_ANNOTATIONS: &str = "originAnnotations";
const TRANSFORMER_ANNOTATIONS: &str = "transformerAnnotations";
const MANAGED_BY_LABEL: &str = "managedByLabel";

const ORIGIN_KEY: &str = "config.kubernetes.io/origin";
const TRANSFORMATIONS_KEY: &str = "alpha.config.kubernetes.io/transformations";
const MANAGED_BY_KEY: &str = "app.kubernetes.io/managed-by";
/// The Kustomize release whose output Ferry reproduces.
const MANAGED_BY_VALUE: &str = "kustomize-v5.7.1";

/// Where an object came from, or a transformer that changed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Read from this file.
    File(String),
    /// Made or changed by a built-in plugin (`ConfigMapGenerator`, `PrefixTransformer`, …)
    /// configured in this file (a kustomization, or a `transformers:`/`generators:` entry's
    /// file), with the configuration object's name and namespace when it has them.
    Plugin {
        configured_in: String,
        kind: String,
        name: String,
        namespace: String,
    },
}

impl Origin {
    /// The fields as Kustomize writes them, in its order, each line prefixed by `indent`
    /// after the first.
    fn to_yaml(&self, indent: &str) -> String {
        match self {
            Origin::File(path) => scalar_line("path", path),
            Origin::Plugin {
                configured_in,
                kind,
                name,
                namespace,
            } => {
                let mut out = format!(
                    "{}{indent}configuredBy:\n{indent}  {}{indent}  {}",
                    scalar_line("configuredIn", configured_in),
                    scalar_line("apiVersion", "builtin"),
                    scalar_line("kind", kind),
                );
                for (key, value) in [("name", name), ("namespace", namespace)] {
                    if !value.is_empty() {
                        out.push_str(&format!("{indent}  {}", scalar_line(key, value)));
                    }
                }
                out
            }
        }
    }
}

fn scalar_line(key: &str, value: &str) -> String {
    ferry_api::yaml::to_string(&json!({ key: value }))
}

/// The `buildMetadata` options of a build.
#[derive(Clone, Debug, Default)]
pub struct BuildMetadata {
    options: Vec<String>,
    /// The directory built (origins are relative to it).
    root: String,
}

impl BuildMetadata {
    /// The root kustomization's options, checked as Kustomize checks them.
    pub fn new(options: &[String], root: &str, file: &str) -> Result<Self, KustomizeError> {
        for option in options {
            if ![
                ORIGIN_ANNOTATIONS,
                TRANSFORMER_ANNOTATIONS,
                MANAGED_BY_LABEL,
            ]
            .contains(&option.as_str())
            {
                return Err(KustomizeError::invalid(
                    file,
                    format!(
                        "invalid buildMetadata option: {option}; expected \
                         {ORIGIN_ANNOTATIONS}, {TRANSFORMER_ANNOTATIONS} or {MANAGED_BY_LABEL}"
                    ),
                ));
            }
        }
        Ok(Self {
            options: options.to_vec(),
            root: root.to_string(),
        })
    }

    /// Whether origins are tracked (any option is set, as in Kustomize).
    pub fn tracking(&self) -> bool {
        !self.options.is_empty()
    }

    fn has(&self, option: &str) -> bool {
        self.options.iter().any(|o| o == option)
    }

    /// The origin of objects read from the file at `path` (a tree path).
    pub fn file(&self, path: &str) -> Origin {
        Origin::File(relative(&self.root, path))
    }

    /// The origin of what the built-in plugin `kind` configured in the file at `path` (a tree
    /// path) did; `name` and `namespace` are the configuration object's, if it has them.
    pub fn plugin(&self, path: &str, kind: &str, name: &str, namespace: &str) -> Origin {
        Origin::Plugin {
            configured_in: relative(&self.root, path),
            kind: kind.to_string(),
            name: name.to_string(),
            namespace: namespace.to_string(),
        }
    }

    /// Records that a built-in transformer ran over `acc`: an object without an origin takes
    /// it as its origin, the others list it among their transformations.
    pub fn transformed(&self, acc: &mut [Resource], origin: &Origin) {
        if !self.tracking() {
            return;
        }
        for r in acc.iter_mut() {
            match r.origin {
                None => r.origin = Some(origin.clone()),
                Some(_) => r.transformations.push(origin.clone()),
            }
        }
    }

    /// Gives objects without an origin (just generated) `origin`.
    pub fn generated(&self, acc: &mut [Resource], origin: impl Fn(&Resource) -> Origin) {
        if !self.tracking() {
            return;
        }
        for r in acc.iter_mut().filter(|r| r.origin.is_none()) {
            r.origin = Some(origin(r));
        }
    }

    /// Writes what was asked for onto the built objects.
    pub fn finish(&self, resources: &mut [Resource]) {
        for r in resources {
            let origin = r.origin.as_ref().filter(|_| self.has(ORIGIN_ANNOTATIONS));
            let origin = origin.map(|o| o.to_yaml(""));
            let transformations =
                (self.has(TRANSFORMER_ANNOTATIONS) && !r.transformations.is_empty()).then(|| {
                    r.transformations
                        .iter()
                        .map(|t| format!("- {}", t.to_yaml("  ")))
                        .collect::<String>()
                });
            let managed_by = self.has(MANAGED_BY_LABEL);
            let Some(meta) = r.metadata_mut() else {
                continue;
            };
            for (field, key, value) in [
                ("annotations", ORIGIN_KEY, origin),
                ("annotations", TRANSFORMATIONS_KEY, transformations),
                (
                    "labels",
                    MANAGED_BY_KEY,
                    managed_by.then(|| MANAGED_BY_VALUE.to_string()),
                ),
            ] {
                let Some(value) = value else {
                    continue;
                };
                let map = meta.entry(field).or_insert_with(|| json!({}));
                if !map.is_object() {
                    *map = json!({});
                }
                if let Some(map) = map.as_object_mut() {
                    map.insert(key.into(), Value::String(value));
                }
            }
        }
    }
}

/// `path` relative to the directory `from` (both tree paths), with `..` where needed.
fn relative(from: &str, path: &str) -> String {
    let from: Vec<&str> = from.split('/').filter(|s| !s.is_empty()).collect();
    let to: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_relative_to_the_directory_built() {
        assert_eq!(
            relative("app/prod", "app/base/svc.yaml"),
            "../base/svc.yaml"
        );
        assert_eq!(relative("app/prod", "app/prod/svc.yaml"), "svc.yaml");
        assert_eq!(
            relative("", "base/kustomization.yaml"),
            "base/kustomization.yaml"
        );
    }

    #[test]
    fn origins_print_in_kustomize_field_order() {
        let plugin = Origin::Plugin {
            configured_in: "kustomization.yaml".into(),
            kind: "PrefixTransformer".into(),
            name: String::new(),
            namespace: String::new(),
        };
        assert_eq!(
            format!("- {}", plugin.to_yaml("  ")),
            "- configuredIn: kustomization.yaml\n  configuredBy:\n    apiVersion: builtin\n    kind: PrefixTransformer\n"
        );
        assert_eq!(Origin::File("a.yaml".into()).to_yaml(""), "path: a.yaml\n");
    }
}
