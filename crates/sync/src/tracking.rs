//! Which Application an object belongs to, recorded on the object as Argo CD records it: the
//! `argocd.argoproj.io/tracking-id` annotation (`<app>:<group>/<kind>:<namespace>/<name>`,
//! Argo CD 3's default), the `app.kubernetes.io/instance` label, or both
//! (`application.resourceTrackingMethod` in `argocd-cm`). An annotation that names another
//! object (copied with a manifest) does not make the copy managed, so it is never pruned.

use serde_json::{Map, Value};

/// The tracking annotation.
pub const TRACKING_ID_ANNOTATION: &str = "argocd.argoproj.io/tracking-id";
/// The annotation that separates Argo CD installations sharing a cluster
/// (`installationID` in `argocd-cm`).
pub const INSTALLATION_ID_ANNOTATION: &str = "argocd.argoproj.io/installation-id";
/// The label of the label method (`application.instanceLabelKey` changes it).
pub const DEFAULT_INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// Label values are at most this long.
const LABEL_MAX: usize = 63;

/// How objects are tied to their Application.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrackingMethod {
    /// The tracking-id annotation (Argo CD 3's default).
    #[default]
    Annotation,
    /// The annotation, and the label for tools that select by it; the annotation decides.
    AnnotationAndLabel,
    /// The instance label only (Argo CD 2's default).
    Label,
}

impl TrackingMethod {
    /// The method `argocd-cm` names (`annotation`, `annotation+label`, `label`; empty is
    /// the default), or `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "" | "annotation" => Some(TrackingMethod::Annotation),
            "annotation+label" => Some(TrackingMethod::AnnotationAndLabel),
            "label" => Some(TrackingMethod::Label),
            _ => None,
        }
    }
}

/// The tracking settings of one installation.
#[derive(Clone, Debug)]
pub struct Tracking {
    /// The method.
    pub method: TrackingMethod,
    /// The label key of the label methods.
    pub label_key: String,
    /// `installationID`: when set, only objects carrying it are this installation's.
    pub installation_id: Option<String>,
}

impl Default for Tracking {
    fn default() -> Self {
        Tracking {
            method: TrackingMethod::default(),
            label_key: DEFAULT_INSTANCE_LABEL.to_string(),
            installation_id: None,
        }
    }
}

/// A parsed tracking id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackingId {
    /// The Application's instance name (see [`instance_name`]).
    pub app: String,
    /// The object's API group, `""` for the core group.
    pub group: String,
    /// The object's kind.
    pub kind: String,
    /// The object's namespace; for a cluster-scoped object, the Application's destination
    /// namespace (as Argo CD writes it).
    pub namespace: String,
    /// The object's name.
    pub name: String,
}

impl TrackingId {
    /// Parses `<app>:<group>/<kind>:<namespace>/<name>`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, ':');
        let (app, group_kind, namespaced) = (parts.next()?, parts.next()?, parts.next()?);
        let two = |s: &str| {
            let mut it = s.split('/');
            let pair = (it.next()?.to_string(), it.next()?.to_string());
            it.next().is_none().then_some(pair)
        };
        let (group, kind) = two(group_kind)?;
        let (namespace, name) = two(namespaced)?;
        Some(TrackingId {
            app: app.to_string(),
            group,
            kind,
            namespace,
            name,
        })
    }

    /// The id of `obj` for the Application `app`, whose destination namespace fills in for a
    /// cluster-scoped object.
    pub fn of(obj: &Value, app: &str, destination_namespace: &str) -> Self {
        let gvk = ferry_api::meta::GroupVersionKind::of(obj).unwrap_or_default();
        let namespace = ferry_api::meta::namespace(obj)
            .filter(|ns| !ns.is_empty())
            .unwrap_or(destination_namespace);
        TrackingId {
            app: app.to_string(),
            group: gvk.group,
            kind: gvk.kind,
            namespace: namespace.to_string(),
            name: ferry_api::meta::name(obj).unwrap_or_default().to_string(),
        }
    }

    /// Whether the id names `obj` itself (a cluster-scoped object matches any namespace).
    pub fn names(&self, obj: &Value) -> bool {
        let gvk = ferry_api::meta::GroupVersionKind::of(obj).unwrap_or_default();
        let namespace = ferry_api::meta::namespace(obj).unwrap_or_default();
        (namespace.is_empty() || namespace == self.namespace)
            && ferry_api::meta::name(obj) == Some(self.name.as_str())
            && gvk.group == self.group
            && gvk.kind == self.kind
    }
}

impl std::fmt::Display for TrackingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}/{}:{}/{}",
            self.app, self.group, self.kind, self.namespace, self.name
        )
    }
}

/// The name an Application tracks its objects by: its name when it lives in the control-plane
/// namespace, else `<namespace>_<name>`.
pub fn instance_name(app_namespace: &str, app_name: &str, control_plane: &str) -> String {
    if app_namespace.is_empty() || app_namespace == control_plane {
        app_name.to_string()
    } else {
        format!("{app_namespace}_{app_name}")
    }
}

/// An object the tracking could not be written on.
#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    /// The object's `metadata` is not a map.
    #[error("{kind} {name}: metadata is not an object")]
    Metadata {
        /// The object's kind.
        kind: String,
        /// The object's name.
        name: String,
    },
    /// The instance name cannot be shortened to a valid label value.
    #[error(
        "failed to set app instance label: unable to truncate label to not end with a special character"
    )]
    Label,
}

impl ferry_api::Classify for TrackingError {
    /// Both are the manifest's or the Application's to fix.
    fn disposition(&self) -> ferry_api::Disposition {
        ferry_api::Disposition::GiveUp
    }
}

impl Tracking {
    /// Marks `obj` (a rendered target) as belonging to the Application `app` (its instance
    /// name) with destination namespace `destination_namespace`.
    pub fn set(
        &self,
        obj: &mut Value,
        app: &str,
        destination_namespace: &str,
    ) -> Result<(), TrackingError> {
        let id = TrackingId::of(obj, app, destination_namespace).to_string();
        let error = TrackingError::Metadata {
            kind: obj
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            name: ferry_api::meta::name(obj).unwrap_or_default().to_string(),
        };
        let metadata = ferry_api::meta::metadata_mut(obj).ok_or(error)?;
        let label = match self.method {
            TrackingMethod::Label => Some(app.to_string()),
            TrackingMethod::AnnotationAndLabel => Some(truncate_label(app)?),
            TrackingMethod::Annotation => None,
        };
        if self.method != TrackingMethod::Label {
            let annotations = string_map(metadata, "annotations");
            match &self.installation_id {
                Some(installation) => {
                    annotations.insert(
                        INSTALLATION_ID_ANNOTATION.to_string(),
                        Value::String(installation.clone()),
                    );
                }
                None => {
                    annotations.remove(INSTALLATION_ID_ANNOTATION);
                }
            }
            annotations.insert(TRACKING_ID_ANNOTATION.to_string(), Value::String(id));
        }
        if let Some(label) = label {
            string_map(metadata, "labels").insert(self.label_key.clone(), Value::String(label));
        }
        Ok(())
    }

    /// The instance name of the Application `obj` belongs to, if any (Argo CD's
    /// `GetAppName`): the label under the label method, else the annotation's app.
    pub fn app_of(&self, obj: &Value) -> Option<String> {
        match self.method {
            TrackingMethod::Label => ferry_api::meta::label(obj, &self.label_key)
                .filter(|l| !l.is_empty())
                .map(str::to_string),
            _ => self.id_of(obj).map(|id| id.app),
        }
    }

    /// The tracking id on `obj`, when the annotation methods are in use, it parses and it
    /// carries this installation's id.
    pub fn id_of(&self, obj: &Value) -> Option<TrackingId> {
        if self.method == TrackingMethod::Label {
            return None;
        }
        if let Some(installation) = &self.installation_id
            && ferry_api::meta::annotation(obj, INSTALLATION_ID_ANNOTATION)
                != Some(installation.as_str())
        {
            return None;
        }
        TrackingId::parse(ferry_api::meta::annotation(obj, TRACKING_ID_ANNOTATION)?)
    }

    /// Whether the live object `live` really is the object its tracking names, rather than a
    /// copy carrying another object's annotation: judged against the target when Git has
    /// one, else against the annotation; the label method cannot tell, so it says yes.
    pub fn is_self_referenced(&self, live: &Value, target: Option<&Value>) -> bool {
        if self.method == TrackingMethod::Label {
            return true;
        }
        match target {
            Some(target) => TrackingId::of(target, "", "").names(live),
            None => self.id_of(live).is_none_or(|id| id.names(live)),
        }
    }
}

/// `metadata[key]` as a map, created when missing or not a map.
fn string_map<'a>(metadata: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = metadata
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry
        .as_object_mut()
        .unwrap_or_else(|| unreachable!("just made a map"))
}

/// A label value of at most 63 characters that ends with a letter or digit.
fn truncate_label(value: &str) -> Result<String, TrackingError> {
    if value.len() <= LABEL_MAX {
        return Ok(value.to_string());
    }
    let mut cut = &value[..value.floor_char_boundary(LABEL_MAX)];
    while !cut.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        if cut.len() <= 1 {
            return Err(TrackingError::Label);
        }
        cut = &cut[..cut.floor_char_boundary(cut.len() - 1)];
    }
    Ok(cut.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config_map(namespace: Option<&str>) -> Value {
        let mut obj =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}});
        if let Some(ns) = namespace {
            obj["metadata"]["namespace"] = json!(ns);
        }
        obj
    }

    #[test]
    fn ids_are_written_and_read_as_argo_cd_does() {
        let mut obj = config_map(Some("web"));
        Tracking::default()
            .set(&mut obj, "guestbook", "ignored")
            .unwrap();
        assert_eq!(
            ferry_api::meta::annotation(&obj, TRACKING_ID_ANNOTATION),
            Some("guestbook:/ConfigMap:web/settings")
        );
        assert_eq!(
            Tracking::default().app_of(&obj).as_deref(),
            Some("guestbook")
        );

        let mut role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "reader"}});
        Tracking::default()
            .set(&mut role, "guestbook", "web")
            .unwrap();
        assert_eq!(
            ferry_api::meta::annotation(&role, TRACKING_ID_ANNOTATION),
            Some("guestbook:rbac.authorization.k8s.io/ClusterRole:web/reader")
        );
        assert!(Tracking::default().is_self_referenced(&role, None));

        for bad in ["guestbook", "a:b:c", "a:/ConfigMap:web", "a:x/y/z:ns/n"] {
            assert_eq!(TrackingId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_copied_annotation_does_not_make_the_copy_managed() {
        let mut copy = config_map(Some("web"));
        copy["metadata"]["name"] = json!("copy");
        copy["metadata"]["annotations"] =
            json!({TRACKING_ID_ANNOTATION: "guestbook:/ConfigMap:web/settings"});
        let tracking = Tracking::default();
        assert!(!tracking.is_self_referenced(&copy, None));
        assert!(!tracking.is_self_referenced(&copy, Some(&config_map(Some("web")))));
        assert!(
            tracking.is_self_referenced(&config_map(Some("web")), Some(&config_map(Some("web"))))
        );
        // The label method cannot tell a copy.
        let label = Tracking {
            method: TrackingMethod::Label,
            ..Tracking::default()
        };
        assert!(label.is_self_referenced(&copy, None));
    }

    #[test]
    fn label_methods_and_installation_ids() {
        let long = format!("{}-", "a".repeat(62));
        let both = Tracking {
            method: TrackingMethod::AnnotationAndLabel,
            ..Tracking::default()
        };
        let mut obj = config_map(Some("web"));
        both.set(&mut obj, &format!("{long}tail"), "web").unwrap();
        assert_eq!(
            ferry_api::meta::label(&obj, DEFAULT_INSTANCE_LABEL),
            Some("a".repeat(62).as_str())
        );
        assert_eq!(
            both.app_of(&obj),
            Some(format!("{long}tail")),
            "the annotation decides"
        );

        let label = Tracking {
            method: TrackingMethod::Label,
            label_key: "team.example.com/app".into(),
            installation_id: None,
        };
        let mut obj = config_map(Some("web"));
        label.set(&mut obj, "guestbook", "web").unwrap();
        assert_eq!(
            ferry_api::meta::annotation(&obj, TRACKING_ID_ANNOTATION),
            None
        );
        assert_eq!(label.app_of(&obj).as_deref(), Some("guestbook"));

        let ours = Tracking {
            installation_id: Some("east".into()),
            ..Tracking::default()
        };
        let mut obj = config_map(Some("web"));
        ours.set(&mut obj, "guestbook", "web").unwrap();
        assert_eq!(ours.app_of(&obj).as_deref(), Some("guestbook"));
        let theirs = Tracking {
            installation_id: Some("west".into()),
            ..Tracking::default()
        };
        assert_eq!(theirs.app_of(&obj), None);
    }

    #[test]
    fn instance_names_and_methods() {
        assert_eq!(instance_name("argocd", "guestbook", "argocd"), "guestbook");
        assert_eq!(
            instance_name("team-a", "guestbook", "argocd"),
            "team-a_guestbook"
        );
        assert_eq!(TrackingMethod::parse(""), Some(TrackingMethod::Annotation));
        assert_eq!(
            TrackingMethod::parse("annotation+label"),
            Some(TrackingMethod::AnnotationAndLabel)
        );
        assert_eq!(TrackingMethod::parse("labels"), None);
    }
}
