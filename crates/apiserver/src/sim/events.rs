//! Events (core/v1) as the simulated controllers and kubelet record them, worded as the real
//! ones word them, so `kubectl describe` and `kubectl events` tell what happened.
//!
//! As client-go's recorder does, an event that repeats (same object, source, type, reason
//! and message) is counted on the event already written instead of making a new one. As
//! kube-apiserver does with `--event-ttl` ([`super::SimConfig::event_ttl`]), every Event in
//! the store, whoever wrote it, is deleted that long after its last write; those a previous
//! process left behind count from their `lastTimestamp`.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use ferry_api::meta::{self, name, namespace, uid};
use ferry_store::{EventType, ObjectKey};
use serde_json::{Value, json};

use super::{KUBELET, NODE_NAME, Sim, for_each_stored, instant_at, parse_time, str_at};
use crate::objects::{self, DeleteOptions, Objects};

/// The store resource of core/v1 Events.
pub(super) const RESOURCE: &str = "events";
/// Events for cluster-scoped objects (the Node) go here, as the recorder puts them.
const CLUSTER_EVENTS_NAMESPACE: &str = "default";
/// The wait before trying again to delete an expired event the store kept.
const RETRY_EXPIRY: Duration = Duration::from_secs(60);

/// One occurrence to record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Event {
    warning: bool,
    reason: &'static str,
    message: String,
    component: &'static str,
    /// `spec.containers{name}` for an event about one container.
    field_path: Option<String>,
}

impl Event {
    pub(super) fn normal(reason: &'static str, message: String, component: &'static str) -> Self {
        Self {
            warning: false,
            reason,
            message,
            component,
            field_path: None,
        }
    }

    pub(super) fn warning(reason: &'static str, message: String, component: &'static str) -> Self {
        Self {
            warning: true,
            ..Self::normal(reason, message, component)
        }
    }

    /// `SuccessfulCreate` as the replica set, daemon set and job controllers word it.
    pub(super) fn created_pod(pod: Option<&str>, component: &'static str) -> Self {
        let pod = pod.unwrap_or("");
        Self::normal("SuccessfulCreate", format!("Created pod: {pod}"), component)
    }

    /// `SuccessfulDelete` as the replica set, daemon set and job controllers word it.
    pub(super) fn deleted_pod(pod: &str, component: &'static str) -> Self {
        Self::normal("SuccessfulDelete", format!("Deleted pod: {pod}"), component)
    }

    /// The same event about one container of the Pod (`list` is `containers` or
    /// `initContainers`).
    pub(super) fn on_container(mut self, list: &str, container: &str) -> Self {
        self.field_path = Some(format!("spec.{list}{{{container}}}"));
        self
    }

    fn type_(&self) -> &'static str {
        if self.warning { "Warning" } else { "Normal" }
    }

    /// The kubelet reports the node it runs on; controllers report no host.
    fn host(&self) -> Option<&'static str> {
        (self.component == KUBELET).then_some(NODE_NAME)
    }
}

/// What the recorder remembers between events.
#[derive(Default)]
pub(super) struct Recorder {
    /// The event last written for each (involved object uid, event): the one to count up.
    recent: HashMap<(String, Event), ObjectKey>,
    /// `recent` the other way round, to forget an event when it expires.
    recorded: HashMap<ObjectKey, (String, Event)>,
    /// Every stored event by when it expires.
    expiry: BTreeSet<(Instant, ObjectKey)>,
    /// When each stored event expires: its entry in `expiry`.
    due: HashMap<ObjectKey, Instant>,
    /// The last name suffix handed out, so names stay unique within one nanosecond.
    last_nanos: i64,
}

impl Sim {
    /// Records `event` about `involved` (an object as stored, with its kind and uid).
    pub(super) fn record(&mut self, involved: &Value, event: Event) {
        let Some(involved_uid) = uid(involved).map(str::to_string) else {
            return;
        };
        let t = self.types.events.clone();
        let now = objects::now();
        let recent = (involved_uid, event);
        if let Some(key) = self.events.recent.get(&recent).cloned()
            && let Ok(Some(stored)) = self.objects.store.get(&key)
            && let Ok(mut existing) = stored.json()
        {
            let count = existing.get("count").and_then(Value::as_i64).unwrap_or(1);
            existing["count"] = json!(count + 1);
            existing["lastTimestamp"] = json!(now);
            if self
                .update(&t, existing, None, recent.1.component)
                .is_some()
            {
                return;
            }
        }
        let (involved_uid, event) = recent;
        let ns = namespace(involved)
            .filter(|ns| !ns.is_empty())
            .unwrap_or(CLUSTER_EVENTS_NAMESPACE)
            .to_string();
        let nanos = chrono::Utc::now()
            .timestamp_nanos_opt()
            .unwrap_or_default()
            .max(self.events.last_nanos + 1);
        self.events.last_nanos = nanos;
        let event_name = format!("{}.{nanos:x}", name(involved).unwrap_or(""));
        let mut reference = json!({
            "apiVersion": involved.get("apiVersion").cloned().unwrap_or(Value::Null),
            "kind": involved.get("kind").cloned().unwrap_or(Value::Null),
            "name": name(involved),
            "uid": involved_uid,
            "resourceVersion": meta::resource_version(involved),
        });
        if let Some(ns) = namespace(involved).filter(|ns| !ns.is_empty()) {
            reference["namespace"] = json!(ns);
        }
        if let Some(path) = &event.field_path {
            reference["fieldPath"] = json!(path);
        }
        let mut source = json!({"component": event.component});
        if let Some(host) = event.host() {
            source["host"] = json!(host);
        }
        let body = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": event_name, "namespace": ns},
            "involvedObject": reference,
            "reason": event.reason,
            "message": event.message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": event.type_(),
            "eventTime": null,
            "reportingComponent": event.component,
            "reportingInstance": event.host().unwrap_or(""),
        });
        if self.create(&t, &ns, body, event.component).is_some() {
            let key = Objects::key(&t, &ns, &event_name);
            let recent = (involved_uid, event);
            self.events.recorded.insert(key.clone(), recent.clone());
            self.events.recent.insert(recent, key);
        }
    }

    /// A stored event was written or deleted: its time to live starts again, or ends.
    pub(super) fn observe_event(&mut self, event_type: EventType, key: &ObjectKey) {
        if event_type == EventType::Deleted {
            self.forget_event(key);
        } else {
            self.expire_at(key.clone(), Instant::now() + self.config.event_ttl);
        }
    }

    /// Deletes the events whose time is up.
    pub(super) fn expire_events(&mut self) {
        let now = Instant::now();
        let mut expired = Vec::new();
        while let Some((at, _)) = self.events.expiry.first() {
            if *at > now {
                break;
            }
            if let Some((_, key)) = self.events.expiry.pop_first() {
                self.events.due.remove(&key);
                expired.push(key);
            }
        }
        if expired.is_empty() {
            return;
        }
        let t = self.types.events.clone();
        for key in expired {
            match self
                .objects
                .delete(&t, &key.namespace, &key.name, &DeleteOptions::default())
            {
                Ok(_) => {}
                Err(e) if e.code == 404 => self.forget_event(&key),
                Err(e) => {
                    tracing::debug!(event = %key.name, "an expired event stays for now: {e}");
                    self.expire_at(key, now + RETRY_EXPIRY);
                }
            }
        }
    }

    /// Schedules the expiry of the events already stored, from their last occurrence.
    pub(super) fn adopt_stored_events(&mut self) {
        let ttl = chrono::Duration::from_std(self.config.event_ttl).unwrap_or_default();
        let mut due = Vec::new();
        let store = self.objects.store.clone();
        let scanned = for_each_stored(&store, RESOURCE, |item| {
            let Ok(event) = item.json() else { return };
            let last = ["/lastTimestamp", "/metadata/creationTimestamp"]
                .iter()
                .find_map(|p| str_at(&event, p).and_then(parse_time))
                .unwrap_or_else(chrono::Utc::now);
            due.push((item.key.clone(), instant_at(last + ttl)));
        });
        if let Err(e) = scanned {
            tracing::warn!("workload simulation cannot list events: {e}");
        }
        for (key, at) in due {
            self.expire_at(key, at);
        }
    }

    /// Sets (or moves) the expiry of one event.
    fn expire_at(&mut self, key: ObjectKey, at: Instant) {
        if let Some(before) = self.events.due.insert(key.clone(), at) {
            self.events.expiry.remove(&(before, key.clone()));
        }
        self.events.expiry.insert((at, key));
    }

    /// Drops what is remembered about an event that is gone.
    fn forget_event(&mut self, key: &ObjectKey) {
        if let Some(at) = self.events.due.remove(key) {
            self.events.expiry.remove(&(at, key.clone()));
        }
        if let Some(recent) = self.events.recorded.remove(key) {
            self.events.recent.remove(&recent);
        }
    }
}
