//! The garbage collector and namespace lifecycle, as kube-controller-manager runs them:
//! dependents follow their owners (background, foreground and orphan propagation), and a
//! deleted namespace empties before it goes. Driven by the store's event log, with an
//! owner → dependents index so a delete costs a lookup, not a scan.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ferry_api::meta::{self, GroupVersionKind, OwnerReference};
use ferry_store::{EventType, ObjectKey, StoredObject, WatchFilter};
use serde_json::{Value, json};
use tokio::sync::watch as signal;

use crate::objects::{DeleteOptions, Objects, Propagation, Subresource, WriteOptions};
use crate::resources::ResourceType;

const MANAGER: &str = "garbage-collector";
/// How often pending work (terminating namespaces, foreground owners) is re-checked.
const RECHECK: Duration = Duration::from_millis(250);

pub async fn run(objects: Objects, stopped: signal::Receiver<bool>) {
    let handle = tokio::runtime::Handle::current();
    let result =
        tokio::task::spawn_blocking(move || Collector::new(objects).run(&handle, stopped)).await;
    if let Err(e) = result {
        tracing::error!("garbage collector stopped: {e}");
    }
}

struct Collector {
    objects: Objects,
    /// Owner uid → dependents.
    dependents: HashMap<String, HashSet<ObjectKey>>,
    /// Dependent → the owner uids it is indexed under.
    owners_of: HashMap<ObjectKey, Vec<String>>,
    /// Objects being deleted whose finalizers this collector owns, and terminating namespaces.
    pending: BTreeSet<ObjectKey>,
}

impl Collector {
    fn new(objects: Objects) -> Self {
        Self {
            objects,
            dependents: HashMap::new(),
            owners_of: HashMap::new(),
            pending: BTreeSet::new(),
        }
    }

    fn run(mut self, handle: &tokio::runtime::Handle, stopped: signal::Receiver<bool>) {
        let start = match self.objects.store.revision() {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("garbage collector cannot start: {e}");
                return;
            }
        };
        let mut watch = match self.objects.store.watch(WatchFilter::default(), start) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!("garbage collector cannot watch: {e}");
                return;
            }
        };
        self.initial_scan();
        while !*stopped.borrow() {
            match handle.block_on(tokio::time::timeout(RECHECK, watch.next())) {
                Ok(Some(Ok(event))) => self.observe(event.event_type, &event.object),
                Ok(Some(Err(e))) => {
                    tracing::warn!("garbage collector lost its watch ({e}); rescanning");
                    match self
                        .objects
                        .store
                        .revision()
                        .and_then(|r| self.objects.store.watch(WatchFilter::default(), r))
                    {
                        Ok(w) => watch = w,
                        Err(e) => {
                            tracing::error!("garbage collector cannot watch: {e}");
                            return;
                        }
                    }
                    self.initial_scan();
                }
                Ok(None) => return,
                Err(_) => {}
            }
            self.process_pending();
        }
    }

    /// Indexes every object and queues what was left mid-deletion (for example by a restart).
    fn initial_scan(&mut self) {
        self.dependents.clear();
        self.owners_of.clear();
        for t in self.objects.resources.storage_types() {
            let Ok(page) = self.objects.store.list(&t.storage_key(), None, None, None) else {
                continue;
            };
            for item in &page.items {
                self.observe(EventType::Added, item);
            }
        }
        // Dependents whose owners vanished while nobody watched.
        let all: Vec<ObjectKey> = self.owners_of.keys().cloned().collect();
        for key in all {
            self.collect_if_orphaned(&key);
        }
    }

    fn observe(&mut self, event_type: EventType, stored: &StoredObject) {
        let Ok(obj) = stored.json() else { return };
        let key = stored.key.clone();
        self.unindex(&key);
        if event_type == EventType::Deleted {
            self.pending.remove(&key);
            if let Some(uid) = meta::uid(&obj)
                && let Some(deps) = self.dependents.remove(uid)
            {
                for dep in deps {
                    self.collect_if_orphaned(&dep);
                }
            }
            return;
        }
        let owner_uids: Vec<String> = meta::owner_references(&obj)
            .into_iter()
            .map(|r| r.uid)
            .filter(|uid| !uid.is_empty())
            .collect();
        for uid in &owner_uids {
            self.dependents
                .entry(uid.clone())
                .or_default()
                .insert(key.clone());
        }
        if !owner_uids.is_empty() {
            self.owners_of.insert(key.clone(), owner_uids);
        }
        if meta::is_being_deleted(&obj) {
            let finalizers = meta::finalizers(&obj);
            let namespace_terminating = key.resource == "namespaces";
            if namespace_terminating
                || finalizers
                    .iter()
                    .any(|f| *f == "foregroundDeletion" || *f == "orphan")
            {
                self.pending.insert(key);
            }
        }
    }

    fn unindex(&mut self, key: &ObjectKey) {
        if let Some(uids) = self.owners_of.remove(key) {
            for uid in uids {
                if let Some(set) = self.dependents.get_mut(&uid) {
                    set.remove(key);
                    if set.is_empty() {
                        self.dependents.remove(&uid);
                    }
                }
            }
        }
    }

    fn type_of(&self, key: &ObjectKey) -> Option<Arc<ResourceType>> {
        self.objects.resources.by_storage_key(&key.resource)
    }

    fn load(&self, key: &ObjectKey) -> Option<(Arc<ResourceType>, Value)> {
        let t = self.type_of(key)?;
        let stored = self.objects.store.get(key).ok()??;
        Some((t, stored.json().ok()?))
    }

    /// Whether the owner an ownerReference names exists (with that uid).
    fn owner_alive(&self, dependent: &ObjectKey, reference: &OwnerReference) -> bool {
        let Some(gvk) =
            GroupVersionKind::from_api_version_kind(&reference.api_version, &reference.kind)
        else {
            return false;
        };
        if reference.name.is_empty() || reference.uid.is_empty() {
            return false;
        }
        let Some(t) = self.objects.resources.by_kind(&gvk.group, &gvk.kind) else {
            return false;
        };
        let key = Objects::key(&t, &dependent.namespace, &reference.name);
        matches!(self.objects.store.get(&key), Ok(Some(o))
            if o.json().is_ok_and(|owner| meta::uid(&owner) == Some(reference.uid.as_str())))
    }

    /// Deletes a dependent none of whose owners remain; drops references to gone owners
    /// when some remain.
    fn collect_if_orphaned(&mut self, key: &ObjectKey) {
        let Some((t, obj)) = self.load(key) else {
            return;
        };
        let refs = meta::owner_references(&obj);
        if refs.is_empty() {
            return;
        }
        let alive: Vec<OwnerReference> = refs
            .iter()
            .filter(|r| self.owner_alive(key, r))
            .cloned()
            .collect();
        if alive.is_empty() {
            let opts = DeleteOptions {
                propagation: Some(Propagation::Background),
                ..Default::default()
            };
            if let Err(e) = self.objects.delete(&t, &key.namespace, &key.name, &opts)
                && e.code != 404
            {
                tracing::warn!(object = %key.name, "garbage collection failed: {e}");
            }
        } else if alive.len() < refs.len() {
            let mut next = obj.clone();
            meta::set_owner_references(&mut next, &alive);
            self.write(&t, key, next, None);
        }
    }

    fn write(&self, t: &ResourceType, key: &ObjectKey, obj: Value, sub: Option<Subresource>) {
        let opts = WriteOptions::manager(MANAGER);
        if let Err(e) = self
            .objects
            .update(t, &key.namespace, &key.name, obj, sub, &opts)
            && e.code != 404
            && e.code != 409
        {
            tracing::warn!(object = %key.name, "garbage collector update failed: {e}");
        }
    }

    fn process_pending(&mut self) {
        let pending: Vec<ObjectKey> = self.pending.iter().cloned().collect();
        for key in pending {
            let Some((t, obj)) = self.load(&key) else {
                self.pending.remove(&key);
                continue;
            };
            let done = if t.is("", "namespaces") {
                self.terminate_namespace(&t, &key, &obj)
            } else {
                self.finish_owner(&t, &key, &obj)
            };
            if done {
                self.pending.remove(&key);
            }
        }
    }

    /// Foreground: delete dependents, then release the owner. Orphan: detach dependents,
    /// then release. Returns true when the owner's finalizer was removed.
    fn finish_owner(&mut self, t: &ResourceType, key: &ObjectKey, obj: &Value) -> bool {
        let uid = meta::uid(obj).unwrap_or("").to_string();
        let finalizers = meta::finalizers(obj);
        let deps: Vec<ObjectKey> = self
            .dependents
            .get(&uid)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let release = if finalizers.contains(&"orphan") {
            for dep in &deps {
                if let Some((dt, mut d)) = self.load(dep) {
                    let kept: Vec<OwnerReference> = meta::owner_references(&d)
                        .into_iter()
                        .filter(|r| r.uid != uid)
                        .collect();
                    meta::set_owner_references(&mut d, &kept);
                    self.write(&dt, dep, d, None);
                }
            }
            "orphan"
        } else if finalizers.contains(&"foregroundDeletion") {
            if !deps.is_empty() {
                for dep in &deps {
                    if let Some(dt) = self.type_of(dep) {
                        let opts = DeleteOptions {
                            propagation: Some(Propagation::Foreground),
                            ..Default::default()
                        };
                        let _ = self.objects.delete(&dt, &dep.namespace, &dep.name, &opts);
                    }
                }
                return false;
            }
            "foregroundDeletion"
        } else {
            return true;
        };
        let kept: Vec<&str> = finalizers.into_iter().filter(|f| *f != release).collect();
        let mut next = obj.clone();
        meta::set_finalizers(&mut next, &kept);
        self.write(t, key, next, None);
        true
    }

    /// Deletes everything in a terminating namespace; once it is empty, removes the
    /// `kubernetes` finalizer so the namespace itself goes.
    fn terminate_namespace(&mut self, t: &ResourceType, key: &ObjectKey, obj: &Value) -> bool {
        let ns = key.name.clone();
        let mut remaining = 0;
        for rt in self
            .objects
            .resources
            .storage_types()
            .into_iter()
            .filter(|t| t.namespaced)
        {
            let Ok(page) = self
                .objects
                .store
                .list(&rt.storage_key(), Some(&ns), None, None)
            else {
                continue;
            };
            for item in page.items {
                remaining += 1;
                let being_deleted = item.json().ok().is_some_and(|v| meta::is_being_deleted(&v));
                if !being_deleted {
                    let opts = DeleteOptions {
                        propagation: Some(Propagation::Background),
                        ..Default::default()
                    };
                    let _ = self.objects.delete(&rt, &ns, &item.key.name, &opts);
                }
            }
        }
        if remaining > 0 {
            return false;
        }
        let mut next = obj.clone();
        next["spec"]["finalizers"] = json!([]);
        self.write(t, key, next, Some(Subresource::Finalize));
        true
    }
}
