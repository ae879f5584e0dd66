//! The namespace, prefix and suffix transformers: where objects live and what they are
//! called, in the fields their field specs name. References to renamed objects are fixed
//! later, once, by [`super::namereference`].

use serde::Deserialize;
use serde_json::{Map, Value};

use super::fieldspec::FieldSpec;
use super::resource::Resource;
use super::{KustomizeError, Location};

const METADATA_NAME: &str = "metadata/name";
const METADATA_NAMESPACE: &str = "metadata/namespace";

/// Which role-binding subjects get the namespace (`setRoleBindingSubjects`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub enum SubjectMode {
    /// Subjects named `default`, of any kind (`defaultOnly`, Kustomize's default).
    #[default]
    #[serde(rename = "defaultOnly", alias = "")]
    DefaultOnly,
    /// Every ServiceAccount subject (`allServiceAccounts`).
    #[serde(rename = "allServiceAccounts")]
    AllServiceAccounts,
    /// None (`none`).
    #[serde(rename = "none")]
    None,
}

/// A configured namespace transformer.
#[derive(Clone, Debug, Default)]
pub struct Namespace {
    pub namespace: String,
    pub field_specs: Vec<FieldSpec>,
    /// Only objects without a namespace get one (`unsetOnly`).
    pub unset_only: bool,
    pub subjects: SubjectMode,
}

impl Namespace {
    /// Sets the namespace of every object Kustomize takes to be namespaced
    /// ([`Resource::is_cluster_scoped`]) and in role bindings' subjects as [`SubjectMode`]
    /// says, then in the fields the specs name: `metadata/name` of `v1` Namespace objects
    /// (the object is renamed), an APIService's service, a CRD's conversion webhook service.
    pub fn apply(&self, loc: &Location, acc: &mut [Resource]) -> Result<(), KustomizeError> {
        for r in acc.iter_mut() {
            r.store_previous_id();
            let set = |field: &mut Value| {
                if !self.unset_only || field.as_str().is_none_or(str::is_empty) {
                    *field = Value::String(self.namespace.clone());
                }
            };
            if !r.is_cluster_scoped()
                && let Some(meta) = r.metadata_mut()
            {
                set(meta.entry("namespace").or_insert(Value::Null));
            }
            let is_binding = matches!(r.kind(), "RoleBinding" | "ClusterRoleBinding");
            if is_binding {
                self.set_subjects(r);
            }
            let is_v1 = r.api_version() == "v1";
            let (group, version, kind) = (r.group(), r.version(), r.kind());
            let specs = self
                .field_specs
                .iter()
                .filter(|s| s.applies_to(group, version, kind))
                .filter(|s| s.path != METADATA_NAMESPACE && (is_v1 || s.path != METADATA_NAME))
                .filter(|s| !(is_binding && s.path == "subjects/namespace"))
                .collect::<Vec<_>>();
            for spec in specs {
                if spec.path == METADATA_NAME {
                    if !self.unset_only || r.name().is_empty() {
                        r.rename(self.namespace.clone());
                    }
                    continue;
                }
                let mut not_scalar = false;
                let _ = spec.visit::<()>(&mut r.obj, &mut |field| {
                    if field.is_object() || field.is_array() {
                        not_scalar = true;
                        return Err(());
                    }
                    set(field);
                    Ok(())
                });
                if not_scalar {
                    return Err(loc.invalid(format!(
                        "namespace transformation failed: namespace field specs must target \
                         scalar nodes (`{}` of {})",
                        spec.path,
                        r.describe()
                    )));
                }
            }
        }
        Ok(())
    }

    fn set_subjects(&self, r: &mut Resource) {
        let Some(Value::Array(subjects)) = r.obj.get_mut("subjects") else {
            return;
        };
        for s in subjects.iter_mut().filter_map(Value::as_object_mut) {
            let field = |key: &str, s: &Map<String, Value>| {
                s.get(key).and_then(Value::as_str).map(str::to_string)
            };
            let selected = match self.subjects {
                SubjectMode::None => false,
                SubjectMode::DefaultOnly => field("name", s).as_deref() == Some("default"),
                SubjectMode::AllServiceAccounts => {
                    field("kind", s).as_deref() == Some("ServiceAccount")
                }
            };
            let has_namespace = field("namespace", s).is_some_and(|n| !n.is_empty());
            if selected && !(self.unset_only && has_namespace) {
                s.insert("namespace".into(), Value::String(self.namespace.clone()));
            }
        }
    }
}

/// Which end of a name an [`Affix`] goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Prefix,
    Suffix,
}

/// A configured prefix or suffix transformer.
#[derive(Clone, Debug)]
pub struct Affix {
    pub end: End,
    pub value: String,
    pub field_specs: Vec<FieldSpec>,
}

impl Affix {
    /// Adds the affix in every field the specs name (an object's own name is renamed, so
    /// references follow), except in CRDs, APIServices and Namespaces, as Kustomize does.
    pub fn apply(&self, acc: &mut [Resource]) {
        for r in acc.iter_mut() {
            let skipped = match r.kind() {
                "CustomResourceDefinition" | "Namespace" => true,
                "APIService" => r.group() == "apiregistration.k8s.io",
                _ => false,
            };
            if skipped {
                continue;
            }
            let affixed = |name: &str| match self.end {
                End::Prefix => format!("{}{name}", self.value),
                End::Suffix => format!("{name}{}", self.value),
            };
            let (group, version, kind) = (r.group(), r.version(), r.kind());
            let specs = self
                .field_specs
                .iter()
                .filter(|s| s.applies_to(group, version, kind))
                .collect::<Vec<_>>();
            for spec in specs {
                if spec.path == METADATA_NAME {
                    let name = affixed(r.name());
                    match self.end {
                        End::Prefix => r.prefixes.push(self.value.clone()),
                        End::Suffix => r.suffixes.push(self.value.clone()),
                    }
                    if !self.value.is_empty() {
                        r.store_previous_id();
                    }
                    r.rename(name);
                    continue;
                }
                let _ = spec.visit::<()>(&mut r.obj, &mut |field| {
                    if let Value::String(s) = field {
                        *s = affixed(s);
                    }
                    Ok(())
                });
            }
        }
    }
}
