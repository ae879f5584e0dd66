//! Kubernetes object semantics over the store: what kube-apiserver's generic registry does
//! between a decoded request and etcd. Create/update/patch/delete with system metadata
//! (uid, creationTimestamp, generation, resourceVersion preconditions), status
//! subresources, finalizers and deletionTimestamp, managed fields, dry runs, and lists with
//! selectors and pagination. HTTP lives in `http`; background controllers (garbage
//! collection, namespaces, simulated workloads) call this same layer.

mod continue_token;
mod crds;
mod strict_fields;

use std::sync::{Arc, Mutex};

use ferry_api::meta;
use ferry_api::selector::{FieldSelector, LabelSelector};
use ferry_store::{ObjectKey, Revision, Store, StoreError, StoredObject};
use serde_json::{Map, Value, json};

use crate::defaults;
use crate::error::{ApiError, ApiResult};
use crate::patch::{self, PatchError, Schema};
use crate::resources::{ResourceType, Resources};

use continue_token::Continue;
use strict_fields::{Checked, check_fields};

/// How many times a write retries after losing an optimistic-concurrency race when the
/// caller did not ask for a precondition.
const WRITE_RETRIES: usize = 16;

/// The object layer shared by HTTP handlers and controllers.
#[derive(Clone)]
pub struct Objects {
    /// Where objects are kept.
    pub store: Store,
    /// The served kinds, built-in and from CRDs.
    pub resources: Resources,
}

/// Options common to writes.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: Option<String>,
    /// What to do with fields the kind's schema does not declare.
    pub field_validation: FieldValidation,
    /// Where warnings for the client go (`Warning` response headers).
    pub warnings: Warnings,
}

/// `fieldValidation`: what a write does with fields its kind's schema does not declare.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    /// Keep them, silently: in-process writers and `fieldValidation=Ignore`.
    #[default]
    Ignore,
    /// Keep them and warn: kube-apiserver's default for requests.
    Warn,
    /// Reject the write with 400.
    Strict,
}

/// The warnings of one request, shared by the clones of its options, as kube-apiserver's
/// request context collects them for `Warning` headers.
#[derive(Clone, Debug, Default)]
pub struct Warnings(Arc<Mutex<Vec<String>>>);

impl Warnings {
    pub fn add(&self, warning: String) {
        let mut list = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !list.contains(&warning) {
            list.push(warning);
        }
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl WriteOptions {
    /// A plain write by `manager`, as controllers make them.
    pub fn manager(manager: &str) -> Self {
        Self {
            field_manager: Some(manager.into()),
            ..Self::default()
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    Status,
    /// A Namespace's `finalize`: changes `spec.finalizers` only.
    Finalize,
}

/// The body of a PATCH and its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply { force: bool },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Propagation {
    Orphan,
    #[default]
    Background,
    Foreground,
}

#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub dry_run: bool,
    pub propagation: Option<Propagation>,
    pub precondition_uid: Option<String>,
    pub precondition_revision: Option<String>,
}

/// A list request.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    pub labels: Option<LabelSelector>,
    pub fields: Option<FieldSelector>,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

/// One page of matching objects.
pub struct ListResult {
    pub items: Vec<StoredObject>,
    pub revision: Revision,
    pub continue_token: Option<String>,
}

/// What a delete did.
pub enum Deleted {
    /// The object is gone; this is its last state.
    Gone(Value),
    /// Finalizers hold it: it now carries a deletionTimestamp.
    Pending(Value),
}

/// Today's time in the RFC 3339 form Kubernetes uses (seconds precision, `Z`).
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Objects {
    /// Object semantics over `store` for the kinds in `resources`.
    pub fn new(store: Store, resources: Resources) -> Self {
        Self { store, resources }
    }

    /// The store key of an object of `t`.
    pub fn key(t: &ResourceType, namespace: &str, name: &str) -> ObjectKey {
        let ns = if t.namespaced { namespace } else { "" };
        ObjectKey::new(t.storage_key(), ns, name)
    }

    /// The stored object, or 404.
    pub fn get(&self, t: &ResourceType, namespace: &str, name: &str) -> ApiResult<StoredObject> {
        let key = Self::key(t, namespace, name);
        match self.store.get(&key) {
            Ok(Some(o)) => Ok(o),
            Ok(None) => Err(ApiError::not_found(&t.group_resource(), name)),
            Err(e) => Err(ApiError::from_store(t, name, e)),
        }
    }

    /// Reads and parses, with `apiVersion` set to the version `t` serves.
    pub fn get_json(&self, t: &ResourceType, namespace: &str, name: &str) -> ApiResult<Value> {
        let stored = self.get(t, namespace, name)?;
        to_json(t, &stored)
    }

    /// One page of the objects of `t` in `namespace` (all when `None`) matching `opts`.
    pub fn list(
        &self,
        t: &ResourceType,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> ApiResult<ListResult> {
        let namespace = namespace.filter(|_| t.namespaced);
        let resource = t.storage_key();
        let (mut after, pinned) = match &opts.continue_token {
            Some(token) => {
                let c = Continue::decode(token)?;
                (Some((c.namespace, c.name)), Some(c.revision))
            }
            None => (None, None),
        };
        let filtering = opts.labels.is_some() || opts.fields.is_some();
        let mut items = Vec::new();
        loop {
            let want = opts.limit.map(|l| l.saturating_sub(items.len()));
            // When filtering, read in larger batches: most rows may not match.
            let batch = want.map(|w| if filtering { w.max(500) } else { w });
            let page = self
                .store
                .list(
                    &resource,
                    namespace,
                    after.as_ref().map(|(n, m)| (n.as_str(), m.as_str())),
                    batch,
                )
                .map_err(|e| ApiError::from_store(t, "", e))?;
            let revision = page.revision;
            let mut last_key = None;
            let mut stopped_early = false;
            for (i, item) in page.items.iter().enumerate() {
                last_key = Some((item.key.namespace.clone(), item.key.name.clone()));
                if self.matches(item, opts)? {
                    items.push(item.clone());
                    if opts.limit.is_some_and(|l| items.len() >= l) {
                        stopped_early = i + 1 < page.items.len() || page.more;
                        break;
                    }
                }
            }
            let full = opts.limit.is_some_and(|l| items.len() >= l);
            if full || !page.more {
                let continue_token = if full && (stopped_early || page.more) {
                    last_key.map(|(namespace, name)| {
                        Continue {
                            revision: pinned.unwrap_or(revision),
                            namespace,
                            name,
                        }
                        .encode()
                    })
                } else {
                    None
                };
                return Ok(ListResult {
                    items,
                    revision: pinned.unwrap_or(revision),
                    continue_token,
                });
            }
            after = last_key;
        }
    }

    fn matches(&self, item: &StoredObject, opts: &ListOptions) -> ApiResult<bool> {
        if opts.labels.is_none() && opts.fields.is_none() {
            return Ok(true);
        }
        let obj = item.json().map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(opts.labels.as_ref().is_none_or(|s| s.matches_object(&obj))
            && opts.fields.as_ref().is_none_or(|s| s.matches_object(&obj)))
    }

    /// Creates an object sent to a collection path in `namespace`.
    pub fn create(
        &self,
        t: &ResourceType,
        namespace: &str,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Value> {
        check_type(t, &obj)?;
        check_fields(t, Checked::Body, &obj, None, opts)?;
        let name = self.prepare_create(t, namespace, &mut obj)?;
        let manager = opts.field_manager.as_deref().unwrap_or("unknown");
        patch::track_update(
            None,
            &mut obj,
            manager,
            schema(t),
            &t.api_version(),
            &now(),
            None,
        );
        self.store_create(t, namespace, &name, obj, opts)
    }

    fn store_create(
        &self,
        t: &ResourceType,
        namespace: &str,
        name: &str,
        obj: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Value> {
        let key = Self::key(t, namespace, name);
        if opts.dry_run {
            return match self.store.get(&key) {
                Ok(Some(_)) => Err(ApiError::already_exists(t, name)),
                Ok(None) => Ok(obj),
                Err(e) => Err(ApiError::from_store(t, name, e)),
            };
        }
        let stored = self
            .store
            .create(&key, obj)
            .map_err(|e| ApiError::from_store(t, name, e))?;
        self.after_write(t, &stored)?;
        to_json(t, &stored)
    }

    /// Fills system metadata on a new object and validates it; returns its name.
    fn prepare_create(
        &self,
        t: &ResourceType,
        namespace: &str,
        obj: &mut Value,
    ) -> ApiResult<String> {
        let meta = metadata_mut(obj)?;
        if t.namespaced {
            match meta.get("namespace").and_then(Value::as_str) {
                Some(ns) if !ns.is_empty() && ns != namespace => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => {
                    meta.insert("namespace".into(), json!(namespace));
                }
            }
        } else {
            meta.remove("namespace");
        }
        let name = match meta
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            Some(n) => n.to_string(),
            None => match meta
                .get("generateName")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            {
                Some(prefix) => {
                    let n = ferry_api::validation::generate_name(prefix);
                    meta.insert("name".into(), json!(n));
                    n
                }
                None => {
                    return Err(ApiError::invalid(
                        t,
                        "",
                        vec![(
                            "metadata.name".into(),
                            "Required value: name or generateName is required".into(),
                        )],
                    ));
                }
            },
        };
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("creationTimestamp".into(), json!(now()));
        for system in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            meta.remove(system);
        }
        if t.custom || obj.get("spec").is_some() {
            metadata_mut(obj)?.insert("generation".into(), json!(1));
        } else {
            metadata_mut(obj)?.remove("generation");
        }
        if t.has_status
            && let Some(o) = obj.as_object_mut()
        {
            o.remove("status");
        }
        defaults::on_write(t, obj);
        validate(t, obj, &name)?;
        if t.namespaced {
            self.check_namespace_accepts(t, namespace)?;
        }
        defaults::on_create(self, t, obj).map_err(|m| ApiError::invalid(t, &name, vec![m]))?;
        Ok(name)
    }

    fn check_namespace_accepts(&self, t: &ResourceType, namespace: &str) -> ApiResult<()> {
        let ns_key = ObjectKey::new("namespaces", "", namespace);
        let ns = self
            .store
            .get(&ns_key)
            .map_err(|e| ApiError::from_store(t, namespace, e))?;
        let Some(ns) = ns else {
            return Err(ApiError::not_found("namespaces", namespace));
        };
        let ns = ns.json().map_err(|e| ApiError::internal(e.to_string()))?;
        if meta::is_being_deleted(&ns) {
            return Err(ApiError::forbidden(format!(
                "{} is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                t.plural
            )));
        }
        Ok(())
    }

    /// Replaces an object (PUT).
    pub fn update(
        &self,
        t: &ResourceType,
        namespace: &str,
        name: &str,
        obj: Value,
        sub: Option<Subresource>,
        opts: &WriteOptions,
    ) -> ApiResult<Value> {
        check_type(t, &obj)?;
        if let Some(n) = meta::name(&obj)
            && n != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        let precondition = resource_version_of(&obj)?;
        let manager = opts.field_manager.as_deref().unwrap_or("unknown");
        self.write_loop(
            t,
            namespace,
            name,
            precondition,
            opts,
            Some(Checked::Body),
            |current| {
                let mut next = obj.clone();
                patch::track_update(
                    Some(current),
                    &mut next,
                    manager,
                    schema(t),
                    &t.api_version(),
                    &now(),
                    sub_name(sub),
                );
                Ok(next)
            },
            sub,
        )
        .map(|(v, _)| v)
    }

    /// Applies a patch; server-side apply creates the object when it does not exist.
    /// Returns the object and whether it was created.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        t: &ResourceType,
        namespace: &str,
        name: &str,
        patch_type: PatchType,
        body: &[u8],
        sub: Option<Subresource>,
        opts: &WriteOptions,
    ) -> ApiResult<(Value, bool)> {
        let api_version = t.api_version();
        let manager = opts.field_manager.clone();
        if let PatchType::Apply { force } = patch_type {
            let manager = manager.ok_or_else(|| {
                ApiError::bad_request("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
            })?;
            let applied = parse_apply_body(body)?;
            check_type(t, &applied)?;
            check_fields(t, Checked::Apply, &applied, None, opts)?;
            if let Some(n) = meta::name(&applied)
                && n != name
            {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )));
            }
            let apply = |current: Option<&Value>, applied: &Value| {
                let now = now();
                patch::server_side_apply(
                    current,
                    applied,
                    &manager,
                    force,
                    schema(t),
                    &api_version,
                    &now,
                )
                .map_err(|e| patch_error(t, name, e))
            };
            let key = Self::key(t, namespace, name);
            let exists = self
                .store
                .get(&key)
                .map_err(|e| ApiError::from_store(t, name, e))?
                .is_some();
            if !exists && sub.is_none() {
                let mut obj = apply(None, &applied)?;
                metadata_mut(&mut obj)?.insert("name".into(), json!(name));
                let name = self.prepare_create(t, namespace, &mut obj)?;
                match self.store_create(t, namespace, &name, obj, opts) {
                    Ok(v) => return Ok((v, true)),
                    // Lost a race with another creator: apply onto what is there.
                    Err(e) if e.reason == "AlreadyExists" => {}
                    Err(e) => return Err(e),
                }
            }
            let precondition = resource_version_of(&applied)?;
            return self.write_loop(
                t,
                namespace,
                name,
                precondition,
                opts,
                None,
                |current| {
                    let applied = match sub {
                        // An apply to a subresource only carries its part: keep it to that.
                        Some(_) => {
                            let mut a = applied.clone();
                            if let Some(o) = a.as_object_mut() {
                                o.retain(|k, _| {
                                    matches!(
                                        k.as_str(),
                                        "apiVersion" | "kind" | "metadata" | "status"
                                    )
                                });
                            }
                            a
                        }
                        None => applied.clone(),
                    };
                    apply(Some(current), &applied)
                },
                sub,
            );
        }
        let manager = manager.unwrap_or_else(|| "unknown".into());
        self.write_loop(
            t,
            namespace,
            name,
            None,
            opts,
            Some(Checked::Patch),
            |current| {
                let mut next = match patch_type {
                    PatchType::Json => patch::apply_json_patch(current, body),
                    PatchType::Merge => patch::apply_merge_patch(current, body),
                    PatchType::Strategic => match Schema::for_kind(&t.group, &t.kind) {
                        Some(s) if !t.custom => {
                            patch::apply_strategic_merge_patch(current, body, s)
                        }
                        _ => Err(PatchError::StrategicUnsupported),
                    },
                    PatchType::Apply { .. } => unreachable_apply(),
                }
                .map_err(|e| patch_error(t, name, e))?;
                if let Some(rv) = resource_version_of(&next)? {
                    let current_rv = meta::resource_version(current);
                    if current_rv != Some(rv.to_string().as_str()) {
                        return Err(ApiError::stale(t, name));
                    }
                }
                patch::track_update(
                    Some(current),
                    &mut next,
                    &manager,
                    schema(t),
                    &api_version,
                    &now(),
                    sub_name(sub),
                );
                Ok(next)
            },
            sub,
        )
    }

    /// Read-modify-write with optimistic concurrency: `change` maps the current object to
    /// the requested one; system fields are then restored and the result stored if it
    /// differs. Retries lost races unless the caller gave a precondition.
    #[allow(clippy::too_many_arguments)]
    fn write_loop(
        &self,
        t: &ResourceType,
        namespace: &str,
        name: &str,
        precondition: Option<Revision>,
        opts: &WriteOptions,
        checked: Option<Checked>,
        change: impl Fn(&Value) -> ApiResult<Value>,
        sub: Option<Subresource>,
    ) -> ApiResult<(Value, bool)> {
        let key = Self::key(t, namespace, name);
        for _ in 0..WRITE_RETRIES {
            let stored = self.get(t, namespace, name)?;
            if precondition.is_some_and(|p| p != stored.revision) {
                return Err(ApiError::stale(t, name));
            }
            let current = to_json(t, &stored)?;
            let mut next = change(&current)?;
            check_type(t, &next)?;
            if let Some(checked) = checked {
                // Fields already stored (written without validation) are not the request's.
                check_fields(t, checked, &next, Some(&current), opts)?;
            }
            prepare_update(t, &current, &mut next, sub)?;
            defaults::on_write(t, &mut next);
            validate(t, &next, name)?;
            if same_object(&current, &next) {
                return Ok((current, false));
            }
            if opts.dry_run {
                return Ok((next, false));
            }
            let finished = meta::is_being_deleted(&next) && finalizers_empty(&next);
            let result = if finished {
                self.store.delete(&key, Some(stored.revision))
            } else {
                self.store.update(&key, next, Some(stored.revision))
            };
            match result {
                Ok(saved) => {
                    self.after_write(t, &saved)?;
                    return Ok((to_json(t, &saved)?, false));
                }
                Err(StoreError::Conflict { .. }) if precondition.is_none() => continue,
                Err(e) => return Err(ApiError::from_store(t, name, e)),
            }
        }
        Err(ApiError::stale(t, name))
    }

    /// Deletes an object, or marks it for deletion when finalizers (or a foreground or
    /// orphan propagation) hold it.
    pub fn delete(
        &self,
        t: &ResourceType,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> ApiResult<Deleted> {
        let key = Self::key(t, namespace, name);
        for _ in 0..WRITE_RETRIES {
            let stored = self.get(t, namespace, name)?;
            let mut obj = to_json(t, &stored)?;
            if let Some(uid) = &opts.precondition_uid
                && meta::uid(&obj) != Some(uid)
            {
                return Err(ApiError::conflict(
                    t,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        meta::uid(&obj).unwrap_or("")
                    ),
                ));
            }
            if let Some(rv) = &opts.precondition_revision
                && *rv != stored.revision.to_string()
            {
                return Err(ApiError::conflict(
                    t,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                        stored.revision
                    ),
                ));
            }
            let mut finalizers: Vec<String> = meta::finalizers(&obj)
                .into_iter()
                .map(str::to_string)
                .collect();
            match opts.propagation {
                Some(Propagation::Foreground) => push_unique(&mut finalizers, "foregroundDeletion"),
                Some(Propagation::Orphan) => push_unique(&mut finalizers, "orphan"),
                _ => {}
            }
            let held_by_namespace_finalizer =
                t.is("", "namespaces") && !string_list(obj.pointer("/spec/finalizers")).is_empty();
            if finalizers.is_empty() && !held_by_namespace_finalizer {
                if opts.dry_run {
                    return Ok(Deleted::Gone(obj));
                }
                match self.store.delete(&key, Some(stored.revision)) {
                    Ok(gone) => {
                        self.after_delete(t, &gone);
                        return Ok(Deleted::Gone(to_json(t, &gone)?));
                    }
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(ApiError::from_store(t, name, e)),
                }
            }
            let meta = metadata_mut(&mut obj)?;
            if meta.get("deletionTimestamp").is_none() {
                meta.insert("deletionTimestamp".into(), json!(now()));
                meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            }
            meta.insert("finalizers".into(), json!(finalizers));
            if t.is("", "namespaces") {
                obj["status"] = json!({"phase": "Terminating"});
            }
            if opts.dry_run {
                return Ok(Deleted::Pending(obj));
            }
            match self.store.update(&key, obj, Some(stored.revision)) {
                Ok(saved) => return Ok(Deleted::Pending(to_json(t, &saved)?)),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(ApiError::from_store(t, name, e)),
            }
        }
        Err(ApiError::stale(t, name))
    }
}

fn unreachable_apply() -> Result<Value, PatchError> {
    Err(PatchError::Invalid(
        "apply patches are handled separately".into(),
    ))
}

fn sub_name(sub: Option<Subresource>) -> Option<&'static str> {
    sub.map(|s| match s {
        Subresource::Status => "status",
        Subresource::Finalize => "finalize",
    })
}

/// The merge schema for a type: the built-in kind's, or schemaless for custom resources.
pub fn schema(t: &ResourceType) -> &'static Schema {
    if t.custom {
        Schema::schemaless()
    } else {
        Schema::for_kind(&t.group, &t.kind).unwrap_or_else(Schema::schemaless)
    }
}

fn patch_error(t: &ResourceType, name: &str, e: PatchError) -> ApiError {
    match e {
        PatchError::Conflict(conflicts) => {
            let causes = conflicts
                .iter()
                .map(|c| {
                    json!({"type": "FieldManagerConflict", "message": c.cause_message(), "field": c.field})
                })
                .collect();
            ApiError::apply_conflict(patch::conflict_message(&conflicts), causes)
        }
        PatchError::StrategicUnsupported => ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml ({} \"{name}\")",
            t.kind
        )),
        PatchError::Invalid(m) => ApiError::bad_request(m),
    }
}

/// The body of an apply patch: YAML (JSON is YAML too).
fn parse_apply_body(body: &[u8]) -> ApiResult<Value> {
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::bad_request("apply patch is not UTF-8"))?;
    let value: Value = yaml_serde::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "apply patch must be a YAML or JSON object",
        ));
    }
    Ok(value)
}

/// Restores what a client cannot change through an update and bumps the generation.
fn prepare_update(
    t: &ResourceType,
    current: &Value,
    next: &mut Value,
    sub: Option<Subresource>,
) -> ApiResult<()> {
    if sub == Some(Subresource::Finalize) {
        let finalizers = next
            .pointer("/spec/finalizers")
            .cloned()
            .unwrap_or(json!([]));
        *next = current.clone();
        next["spec"]["finalizers"] = finalizers;
    } else if sub == Some(Subresource::Status) {
        // A status write changes status (and managed fields) only.
        let status = next.get("status").cloned();
        let managed = next.pointer("/metadata/managedFields").cloned();
        *next = current.clone();
        match status {
            Some(s) => next["status"] = s,
            None => {
                if let Some(o) = next.as_object_mut() {
                    o.remove("status");
                }
            }
        }
        if let Some(m) = managed {
            metadata_mut(next)?.insert("managedFields".into(), m);
        }
    } else if t.has_status {
        match current.get("status") {
            Some(s) => next["status"] = s.clone(),
            None => {
                if let Some(o) = next.as_object_mut() {
                    o.remove("status");
                }
            }
        }
    }
    let cur_meta = current
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let meta = metadata_mut(next)?;
    for fixed in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generateName",
    ] {
        match cur_meta.get(fixed) {
            Some(v) => meta.insert(fixed.into(), v.clone()),
            None => meta.remove(fixed),
        };
    }
    meta.remove("resourceVersion");
    let generation = cur_meta.get("generation").and_then(Value::as_i64);
    match generation {
        Some(g) => {
            let bumped = if spec_changed(current, next) {
                g + 1
            } else {
                g
            };
            metadata_mut(next)?.insert("generation".into(), json!(bumped));
        }
        None => {
            metadata_mut(next)?.remove("generation");
        }
    }
    if meta::is_being_deleted(current) {
        // While deleting, finalizers may only be removed.
        let allowed = meta::finalizers(current);
        let requested = meta::finalizers(next);
        if requested.iter().any(|f| !allowed.contains(f)) {
            return Err(ApiError::invalid(
                t,
                cur_meta.get("name").and_then(Value::as_str).unwrap_or(""),
                vec![(
                    "metadata.finalizers".into(),
                    "Forbidden: no new finalizers can be added if the object is being deleted"
                        .into(),
                )],
            ));
        }
    }
    Ok(())
}

/// True when anything outside metadata and status differs.
fn spec_changed(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| -> Map<String, Value> {
        let mut m = v.as_object().cloned().unwrap_or_default();
        m.remove("metadata");
        m.remove("status");
        m
    };
    strip(a) != strip(b)
}

/// Equal ignoring resourceVersion and managed-field timestamps: a no-op write.
fn same_object(current: &Value, next: &Value) -> bool {
    let normalize = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
            if let Some(Value::Array(entries)) = m.get_mut("managedFields") {
                for e in entries {
                    if let Some(e) = e.as_object_mut() {
                        e.remove("time");
                    }
                }
            }
        }
        v
    };
    normalize(current) == normalize(next)
}

fn finalizers_empty(obj: &Value) -> bool {
    meta::finalizers(obj).is_empty() && string_list(obj.pointer("/spec/finalizers")).is_empty()
}

pub fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|f| f == item) {
        list.push(item.to_string());
    }
}

/// The body's `metadata.resourceVersion` as a precondition.
fn resource_version_of(obj: &Value) -> ApiResult<Option<Revision>> {
    match obj.pointer("/metadata/resourceVersion") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {s:?}"))),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid resourceVersion {other}"
        ))),
    }
}

/// [`meta::metadata_mut`], refusing a body that is not an object or whose `metadata` is not.
pub fn metadata_mut(obj: &mut Value) -> ApiResult<&mut Map<String, Value>> {
    if !obj.is_object() {
        return Err(ApiError::bad_request("the object must be a JSON object"));
    }
    meta::metadata_mut(obj).ok_or_else(|| ApiError::bad_request("metadata must be an object"))
}

/// The body must be an object of this type: matching `kind` and `apiVersion` (the group
/// must match; any served version of it is accepted).
pub fn check_type(t: &ResourceType, obj: &Value) -> ApiResult<()> {
    let o = obj
        .as_object()
        .ok_or_else(|| ApiError::bad_request("the object must be a JSON object"))?;
    let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind.is_empty() {
        return Err(ApiError::bad_request(
            "Object 'Kind' is missing in the request body",
        ));
    }
    if kind != t.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            t.kind
        )));
    }
    let api_version = o.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    if api_version.is_empty() || group != t.group {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            t.api_version()
        )));
    }
    if !matches!(
        o.get("metadata"),
        None | Some(Value::Object(_)) | Some(Value::Null)
    ) {
        return Err(ApiError::bad_request("metadata must be an object"));
    }
    Ok(())
}

/// Metadata validation as `ValidateObjectMeta` does it (422 with one cause each).
fn validate(t: &ResourceType, obj: &Value, name: &str) -> ApiResult<()> {
    use ferry_api::validation::{NameRule, validate_object_meta};
    let rule = match (t.group.as_str(), t.plural.as_str()) {
        ("", "namespaces") => NameRule::Dns1123Label,
        ("", "services") => NameRule::Dns1035Label,
        ("rbac.authorization.k8s.io", _) => NameRule::PathSegment,
        _ => NameRule::Dns1123Subdomain,
    };
    let causes: Vec<(String, String)> = validate_object_meta(obj, t.namespaced, rule)
        .into_iter()
        .map(|e| match e.split_once(": ") {
            Some((field, message)) => (field.to_string(), message.to_string()),
            None => ("metadata".to_string(), e),
        })
        .collect();
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(t, name, causes))
    }
}

/// Parses a stored object, presenting it at `t`'s version.
pub fn to_json(t: &ResourceType, stored: &StoredObject) -> ApiResult<Value> {
    let mut v = stored
        .json()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    if t.custom {
        v["apiVersion"] = json!(t.api_version());
    }
    Ok(v)
}

impl Objects {
    /// Creates these namespaces if missing (a fresh cluster's `default`, `kube-system`, ...).
    pub fn ensure_namespaces(&self, names: &[&str]) -> ApiResult<()> {
        let Some(t) = self.resources.lookup("", "v1", "namespaces") else {
            return Err(ApiError::internal("namespaces are not served"));
        };
        let opts = WriteOptions::manager("ferry");
        for name in names {
            let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            match self.create(&t, "", ns, &opts) {
                Ok(_) => {}
                Err(e) if e.reason == "AlreadyExists" => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
