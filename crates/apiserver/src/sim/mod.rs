//! Simulated workloads: the parts of kube-controller-manager, the scheduler and a kubelet
//! that make a cluster without nodes look alive, in the spirit of kwok. Deployments get
//! ReplicaSets, ReplicaSets/StatefulSets/DaemonSets/Jobs get Pods on one fake node
//! ([`NODE_NAME`], registered as a Ready Node), Pods turn Running and Ready after
//! [`SimConfig::ready_after`], Jobs complete, PersistentVolumeClaims bind, and every status
//! is written the way the real controller writes it, so `kubectl wait`, `kubectl rollout
//! status` and Argo CD-style health checks behave as on a real cluster. What happens is
//! recorded as Events (`events`), and each container's log is its simulated life (`logs`).
//!
//! # Failure injection
//!
//! The annotation `ferry.dev/simulate` on a Deployment, StatefulSet, DaemonSet or Job (or
//! on its pod template, which puts it on every Pod) changes what its Pods do:
//!
//! - `degraded`: Pods run but never become Ready. A Deployment reports `Available=False`
//!   (`MinimumReplicasUnavailable`) and, once `spec.progressDeadlineSeconds` passes without
//!   progress, `Progressing=False` (`ProgressDeadlineExceeded`) — after 600s by default,
//!   so set a small deadline to see a Deployment turn Degraded quickly. StatefulSets and
//!   DaemonSets report their Pods not ready. A Job fails (`Failed=True`,
//!   `BackoffLimitExceeded`) when its first Pod does.
//! - `progressing`: Pods stay Pending (`ContainerCreating`) forever; a Deployment stays
//!   `Progressing=True` (`ReplicaSetUpdated`) and never times out.
//! - `crashloop`: containers wait in `CrashLoopBackOff` with a growing `restartCount`
//!   (exponential back-off from `ready_after`, capped at five minutes); a Job fails.
//!
//! Any other value, or none, means healthy. Changing or removing the annotation on a live
//! workload re-shapes its existing Pods. The annotation is read from the workload itself
//! and is not copied onto ReplicaSets.
//!
//! # Shape
//!
//! One blocking loop on its own thread, like the garbage collector: an initial scan of the
//! seven workload kinds it manages (and the Node), then the store's event log. Store events
//! mark objects dirty (the object and its controller); a dirty set is reconciled bottom-up
//! (Pods before their owners). An owner-uid index answers "which Pods does this ReplicaSet
//! control" without listing, and timers (a sorted set of due instants) wake Pods when they
//! should start, Deployments when their progress deadline passes and the Node when its
//! status is due. Store events for other kinds cost one string comparison.

mod apps;
mod batch;
mod deployment;
mod events;
pub(crate) mod logs;
mod node;
mod pods;
mod storage;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_api::meta::{self, OwnerReference, annotation, name, namespace, uid};
use ferry_store::{EventType, ObjectKey, StoredObject, WatchFilter};
use serde_json::{Map, Value, json};
use tokio::sync::watch as signal;

use crate::objects::{DeleteOptions, Objects, Subresource, WriteOptions};
use crate::resources::ResourceType;

/// The one simulated node every Pod is scheduled to.
pub const NODE_NAME: &str = "ferry-node";
/// The simulated node's address, reported as each Pod's `hostIP`.
const NODE_IP: &str = "172.18.0.2";
/// The node's share of the Pod network, which Pod IPs come from ([`IpPool`]).
const POD_CIDR: &str = "10.244.0.0/16";
/// The field manager and event source of the simulated kubelet.
const KUBELET: &str = "kubelet";
/// The annotation that injects failures (see the module documentation).
const SIMULATE: &str = "ferry.dev/simulate";
/// Upper bound on one wait, so a stop request is noticed promptly.
const RECHECK: Duration = Duration::from_millis(250);
/// Events taken off the log before reconciling, so a burst costs one pass, not one each.
const BATCH: usize = 1024;

/// How the simulation behaves.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Delay before Pods become Ready (and Job Pods finish) after they are first seen.
    pub ready_after: Duration,
    /// How long an Event is kept after it last happened (kube-apiserver's `--event-ttl`).
    pub event_ttl: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            ready_after: Duration::from_secs(1),
            event_ttl: Duration::from_secs(3600),
        }
    }
}

/// Runs the simulation until `stopped` turns true.
pub async fn run(objects: Objects, config: SimConfig, stopped: signal::Receiver<bool>) {
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::spawn_blocking(move || match Sim::new(objects, config) {
        Some(sim) => sim.run(&handle, stopped),
        None => tracing::error!(
            "workload simulation cannot start: built-in workload types are not served"
        ),
    })
    .await;
    if let Err(e) = result {
        tracing::error!("workload simulation stopped: {e}");
    }
}

/// What the `ferry.dev/simulate` annotation asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Mode {
    #[default]
    Healthy,
    Degraded,
    Progressing,
    CrashLoop,
}

impl Mode {
    fn parse(value: &str) -> Option<Mode> {
        match value.trim().to_ascii_lowercase().as_str() {
            "degraded" => Some(Mode::Degraded),
            "progressing" => Some(Mode::Progressing),
            "crashloop" | "crashloopbackoff" => Some(Mode::CrashLoop),
            "healthy" | "none" | "" => Some(Mode::Healthy),
            _ => None,
        }
    }

    /// The mode an object's own annotation asks for, if it names one.
    fn of_annotation(obj: &Value) -> Option<Mode> {
        annotation(obj, SIMULATE).and_then(Mode::parse)
    }

    /// A workload's mode: its own annotation, else its pod template's.
    fn of_workload(obj: &Value) -> Mode {
        Mode::of_annotation(obj)
            .or_else(|| {
                obj.pointer("/spec/template/metadata/annotations")
                    .and_then(|a| a.get(SIMULATE))
                    .and_then(Value::as_str)
                    .and_then(Mode::parse)
            })
            .unwrap_or_default()
    }
}

/// The kinds this module manages, in the order a dirty set is reconciled: dependents
/// first, so an owner sees its dependents' fresh status in the same pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Node,
    Pvc,
    Pod,
    Job,
    DaemonSet,
    StatefulSet,
    ReplicaSet,
    Deployment,
}

impl Kind {
    fn of_resource(resource: &str) -> Option<Kind> {
        Some(match resource {
            "nodes" => Kind::Node,
            "persistentvolumeclaims" => Kind::Pvc,
            "pods" => Kind::Pod,
            "jobs.batch" => Kind::Job,
            "daemonsets.apps" => Kind::DaemonSet,
            "statefulsets.apps" => Kind::StatefulSet,
            "replicasets.apps" => Kind::ReplicaSet,
            "deployments.apps" => Kind::Deployment,
            _ => return None,
        })
    }

    /// The kind an ownerReference names, when it is one this module manages.
    fn of_owner(api_version: &str, kind: &str) -> Option<Kind> {
        let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
        Some(match (group, kind) {
            ("apps", "ReplicaSet") => Kind::ReplicaSet,
            ("apps", "StatefulSet") => Kind::StatefulSet,
            ("apps", "DaemonSet") => Kind::DaemonSet,
            ("apps", "Deployment") => Kind::Deployment,
            ("batch", "Job") => Kind::Job,
            _ => return None,
        })
    }

    fn is_workload(self) -> bool {
        matches!(
            self,
            Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet | Kind::Job
        )
    }
}

/// One object to reconcile.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Work {
    kind: Kind,
    namespace: String,
    name: String,
}

impl Work {
    fn new(kind: Kind, namespace: &str, name: &str) -> Self {
        Self {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

/// The resource types this module reads and writes, looked up once.
struct Types {
    nodes: Arc<ResourceType>,
    events: Arc<ResourceType>,
    deployments: Arc<ResourceType>,
    replicasets: Arc<ResourceType>,
    pods: Arc<ResourceType>,
    statefulsets: Arc<ResourceType>,
    daemonsets: Arc<ResourceType>,
    jobs: Arc<ResourceType>,
    pvcs: Arc<ResourceType>,
}

impl Types {
    fn lookup(objects: &Objects) -> Option<Self> {
        let r = &objects.resources;
        Some(Self {
            nodes: r.lookup("", "v1", "nodes")?,
            events: r.lookup("", "v1", "events")?,
            deployments: r.lookup("apps", "v1", "deployments")?,
            replicasets: r.lookup("apps", "v1", "replicasets")?,
            pods: r.lookup("", "v1", "pods")?,
            statefulsets: r.lookup("apps", "v1", "statefulsets")?,
            daemonsets: r.lookup("apps", "v1", "daemonsets")?,
            jobs: r.lookup("batch", "v1", "jobs")?,
            pvcs: r.lookup("", "v1", "persistentvolumeclaims")?,
        })
    }

    fn of(&self, kind: Kind) -> &Arc<ResourceType> {
        match kind {
            Kind::Node => &self.nodes,
            Kind::Pvc => &self.pvcs,
            Kind::Pod => &self.pods,
            Kind::Job => &self.jobs,
            Kind::DaemonSet => &self.daemonsets,
            Kind::StatefulSet => &self.statefulsets,
            Kind::ReplicaSet => &self.replicasets,
            Kind::Deployment => &self.deployments,
        }
    }
}

/// What the simulated kubelet remembers about a Pod between events.
struct PodTrack {
    /// When this process first saw the Pod: readiness counts from here.
    seen: Instant,
    /// For a crash-looping Pod, when its containers restart next.
    next_restart: Option<Instant>,
}

/// Pod addresses in [`POD_CIDR`], handed out once and kept for the Pod's life.
#[derive(Default)]
struct IpPool {
    by_pod: HashMap<ObjectKey, u32>,
    used: HashSet<u32>,
    cursor: u32,
}

impl IpPool {
    const SIZE: u32 = 1 << 16;

    fn record(&mut self, pod: &ObjectKey, ip: &str) {
        let Some(n) = parse_pod_ip(ip) else { return };
        if let Some(old) = self.by_pod.insert(pod.clone(), n)
            && old != n
        {
            self.used.remove(&old);
        }
        self.used.insert(n);
    }

    fn get_or_allocate(&mut self, pod: &ObjectKey) -> String {
        if let Some(n) = self.by_pod.get(pod) {
            return render_pod_ip(*n);
        }
        // .0 and .1 of each /24 look like network and gateway addresses; skip them.
        let n = (0..Self::SIZE)
            .map(|i| (self.cursor + i) % Self::SIZE)
            .find(|n| n & 0xff > 1 && !self.used.contains(n))
            .unwrap_or(2);
        self.cursor = (n + 1) % Self::SIZE;
        self.used.insert(n);
        self.by_pod.insert(pod.clone(), n);
        render_pod_ip(n)
    }

    fn release(&mut self, pod: &ObjectKey) {
        if let Some(n) = self.by_pod.remove(pod) {
            self.used.remove(&n);
        }
    }
}

fn parse_pod_ip(ip: &str) -> Option<u32> {
    let rest = ip.strip_prefix("10.244.")?;
    let (a, b) = rest.split_once('.')?;
    Some((a.parse::<u32>().ok()?.min(255) << 8) | b.parse::<u32>().ok()?.min(255))
}

fn render_pod_ip(n: u32) -> String {
    format!("10.244.{}.{}", (n >> 8) & 0xff, n & 0xff)
}

struct Sim {
    objects: Objects,
    config: SimConfig,
    types: Types,
    /// Dirty objects, reconciled in [`Kind`] order.
    queue: BTreeSet<Work>,
    /// Timed wake-ups in due order.
    timers: BTreeSet<(Instant, Work)>,
    /// The one pending wake-up per object: the earliest asked for. Each reconcile asks
    /// again for what it still needs, so later requests need not be kept.
    scheduled: HashMap<Work, Instant>,
    /// Controller uid → the ReplicaSets and Pods it controls.
    children: HashMap<String, BTreeSet<ObjectKey>>,
    /// ReplicaSet or Pod → its controller's uid.
    controller_of: HashMap<ObjectKey, String>,
    /// Workload → the mode last seen, to re-shape its Pods when it changes.
    modes: HashMap<ObjectKey, Mode>,
    pods: HashMap<ObjectKey, PodTrack>,
    ips: IpPool,
    events: events::Recorder,
}

impl Sim {
    fn new(objects: Objects, config: SimConfig) -> Option<Self> {
        let types = Types::lookup(&objects)?;
        Some(Self {
            objects,
            config,
            types,
            queue: BTreeSet::new(),
            timers: BTreeSet::new(),
            scheduled: HashMap::new(),
            children: HashMap::new(),
            controller_of: HashMap::new(),
            modes: HashMap::new(),
            pods: HashMap::new(),
            ips: IpPool::default(),
            events: events::Recorder::default(),
        })
    }

    fn run(mut self, handle: &tokio::runtime::Handle, stopped: signal::Receiver<bool>) {
        let Some(mut watch) = self.connect(&stopped) else {
            return;
        };
        while !*stopped.borrow() {
            let wait = self
                .timers
                .first()
                .map(|(at, _)| at.saturating_duration_since(Instant::now()))
                .unwrap_or(RECHECK)
                .min(RECHECK);
            let mut received = 0;
            let mut next = handle.block_on(tokio::time::timeout(wait, watch.next()));
            loop {
                match next {
                    Ok(Some(Ok(event))) => self.observe(event.event_type, &event.object),
                    Ok(Some(Err(e))) => {
                        tracing::warn!("workload simulation lost its watch ({e}); rescanning");
                        match self.connect(&stopped) {
                            Some(w) => watch = w,
                            None => return,
                        }
                        break;
                    }
                    Ok(None) => return,
                    Err(_) => break,
                }
                received += 1;
                if received >= BATCH {
                    break;
                }
                // A zero timeout polls once: it takes what is already there without waiting.
                next = handle.block_on(tokio::time::timeout(Duration::ZERO, watch.next()));
            }
            self.fire_timers();
            self.process();
            self.expire_events();
        }
    }

    /// Watches from the current revision and scans what exists, so nothing falls between.
    /// A store that cannot be watched is retried (it may be busy) until stopped.
    fn connect(&mut self, stopped: &signal::Receiver<bool>) -> Option<ferry_store::Watch> {
        while !*stopped.borrow() {
            let watch = self
                .objects
                .store
                .revision()
                .and_then(|r| self.objects.store.watch(WatchFilter::default(), r));
            match watch {
                Ok(w) => {
                    self.initial_scan();
                    return Some(w);
                }
                Err(e) => {
                    tracing::error!("workload simulation cannot watch: {e}; retrying");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
        None
    }

    /// Indexes everything this module manages and marks it all dirty. After a lost watch,
    /// state about objects that went away meanwhile is dropped; what is kept (when a Pod
    /// was first seen, the modes) still holds for the objects that remain.
    fn initial_scan(&mut self) {
        self.children.clear();
        self.controller_of.clear();
        self.ips = IpPool::default();
        let mut seen = HashSet::new();
        for kind in [
            Kind::Pvc,
            Kind::Pod,
            Kind::Job,
            Kind::DaemonSet,
            Kind::StatefulSet,
            Kind::ReplicaSet,
            Kind::Deployment,
        ] {
            let resource = self.types.of(kind).storage_key();
            let store = self.objects.store.clone();
            let scanned = for_each_stored(&store, &resource, |item| {
                seen.insert(item.key.clone());
                self.observe(EventType::Added, item);
            });
            if let Err(e) = scanned {
                tracing::warn!("workload simulation cannot list {resource}: {e}");
            }
        }
        self.pods.retain(|k, _| seen.contains(k));
        self.modes.retain(|k, _| seen.contains(k));
        self.queue.insert(node::node_work());
        self.adopt_stored_events();
    }

    /// Updates the indexes from one event and marks what it affects dirty.
    fn observe(&mut self, event_type: EventType, stored: &StoredObject) {
        if stored.key.resource == events::RESOURCE {
            self.observe_event(event_type, &stored.key);
            return;
        }
        // Most events in a busy store are for other kinds: decide before parsing.
        let Some(kind) = Kind::of_resource(&stored.key.resource) else {
            return;
        };
        let key = &stored.key;
        if kind == Kind::Node && key.name != NODE_NAME {
            // Other nodes (a user's fixtures) are not this kubelet's.
            return;
        }
        let Ok(obj) = stored.json() else { return };
        let this = Work::new(kind, &key.namespace, &key.name);
        if event_type == EventType::Deleted {
            if kind == Kind::Node {
                // Every Pod is bound to it: the kubelet registers it again.
                self.queue.insert(this);
                return;
            }
            self.unindex(key);
            if let Some(owner) = controller_work(&obj, &key.namespace) {
                self.queue.insert(owner);
            }
            self.modes.remove(key);
            if kind == Kind::Pod {
                self.pods.remove(key);
                self.ips.release(key);
            }
            return;
        }
        if matches!(kind, Kind::Pod | Kind::ReplicaSet) {
            self.index(key, &obj);
            if let Some(owner) = controller_work(&obj, &key.namespace) {
                self.queue.insert(owner);
            }
        }
        if kind == Kind::Pod
            && let Some(ip) = obj.pointer("/status/podIP").and_then(Value::as_str)
        {
            self.ips.record(key, ip);
        }
        if kind.is_workload() {
            let mode = Mode::of_workload(&obj);
            let before = self.modes.insert(key.clone(), mode);
            if before.is_some_and(|b| b != mode) {
                self.reshape_pods_of(&obj);
            }
        }
        if kind == Kind::Pvc && str_at(&obj, "/status/phase") == Some("Bound") {
            return;
        }
        self.queue.insert(this);
    }

    /// Marks every Pod under a workload dirty (through its ReplicaSets for a Deployment).
    fn reshape_pods_of(&mut self, workload: &Value) {
        let Some(root) = uid(workload) else { return };
        let mut owners = vec![root.to_string()];
        let mut pods = Vec::new();
        while let Some(owner) = owners.pop() {
            for child in self.children.get(&owner).into_iter().flatten() {
                match Kind::of_resource(&child.resource) {
                    Some(Kind::Pod) => {
                        pods.push(Work::new(Kind::Pod, &child.namespace, &child.name))
                    }
                    Some(Kind::ReplicaSet) => {
                        // The index is keyed by owner uid; a ReplicaSet's own uid is in its body.
                        let rs = self
                            .objects
                            .store
                            .get(child)
                            .ok()
                            .flatten()
                            .and_then(|s| s.json().ok());
                        if let Some(u) = rs.as_ref().and_then(uid) {
                            owners.push(u.to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        self.queue.extend(pods);
    }

    fn index(&mut self, key: &ObjectKey, obj: &Value) {
        self.unindex(key);
        let Some(reference) = meta::controller_of(obj) else {
            return;
        };
        let owner_uid = reference.uid.as_str();
        if owner_uid.is_empty() {
            return;
        }
        self.children
            .entry(owner_uid.to_string())
            .or_default()
            .insert(key.clone());
        self.controller_of
            .insert(key.clone(), owner_uid.to_string());
    }

    fn unindex(&mut self, key: &ObjectKey) {
        if let Some(owner_uid) = self.controller_of.remove(key)
            && let Some(set) = self.children.get_mut(&owner_uid)
        {
            set.remove(key);
            if set.is_empty() {
                self.children.remove(&owner_uid);
            }
        }
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(first) = self.timers.first() {
            if first.0 > now {
                break;
            }
            if let Some((_, work)) = self.timers.pop_first() {
                self.scheduled.remove(&work);
                self.queue.insert(work);
            }
        }
    }

    fn schedule(&mut self, at: Instant, work: Work) {
        if let Some(existing) = self.scheduled.get(&work).copied() {
            if existing <= at {
                return;
            }
            self.timers.remove(&(existing, work.clone()));
        }
        self.scheduled.insert(work.clone(), at);
        self.timers.insert((at, work));
    }

    fn process(&mut self) {
        while let Some(work) = self.queue.pop_first() {
            match work.kind {
                Kind::Node => self.sync_node(&work),
                Kind::Pvc => self.sync_pvc(&work),
                Kind::Pod => self.sync_pod(&work),
                Kind::Job => self.sync_job(&work),
                Kind::DaemonSet => self.sync_daemonset(&work),
                Kind::StatefulSet => self.sync_statefulset(&work),
                Kind::ReplicaSet => self.sync_replicaset(&work),
                Kind::Deployment => self.sync_deployment(&work),
            }
        }
    }

    // ---- Object access: reads come from the store (the truth), writes keep the index
    // current at once, so a reconcile that runs before its own writes' events still sees
    // what it created and not what it deleted.

    fn get(&self, t: &ResourceType, namespace: &str, name: &str) -> Option<Value> {
        match self.objects.get_json(t, namespace, name) {
            Ok(v) => Some(v),
            Err(e) if e.code == 404 => None,
            Err(e) => {
                tracing::warn!(object = %name, "workload simulation cannot read {}: {e}", t.plural);
                None
            }
        }
    }

    /// The live (not terminating) objects of type `t` that `owner_uid` controls.
    fn children_of(&self, owner_uid: &str, t: &ResourceType) -> Vec<Value> {
        let resource = t.storage_key();
        let Some(keys) = self.children.get(owner_uid) else {
            return Vec::new();
        };
        keys.iter()
            .filter(|k| k.resource == resource)
            .filter_map(|k| self.objects.store.get(k).ok().flatten())
            .filter_map(|s| s.json().ok())
            // The index may lag a re-parenting (orphaning); trust the object.
            .filter(|o| meta::controller_of(o).is_some_and(|r| r.uid == owner_uid))
            .filter(|o| !meta::is_being_deleted(o))
            .collect()
    }

    fn create(
        &mut self,
        t: &ResourceType,
        namespace: &str,
        obj: Value,
        manager: &str,
    ) -> Option<Value> {
        let opts = WriteOptions::manager(manager);
        match self.objects.create(t, namespace, obj, &opts) {
            Ok(created) => {
                if let Some(name) = name(&created) {
                    let key = Objects::key(t, namespace, name);
                    if matches!(
                        Kind::of_resource(&key.resource),
                        Some(Kind::Pod | Kind::ReplicaSet)
                    ) {
                        self.index(&key, &created);
                    }
                }
                Some(created)
            }
            Err(e) => {
                // AlreadyExists: a name race or leftover, settled by the next event. Forbidden
                // and NotFound: the namespace is going away.
                if matches!(e.code, 403 | 404 | 409) {
                    tracing::debug!("workload simulation did not create a {}: {e}", t.kind);
                } else {
                    tracing::warn!("workload simulation cannot create a {}: {e}", t.kind);
                }
                None
            }
        }
    }

    /// Writes `obj` (carrying the resourceVersion it was read at, so a concurrent change
    /// wins and the event it makes brings the object back here).
    fn update(
        &self,
        t: &ResourceType,
        obj: Value,
        sub: Option<Subresource>,
        manager: &str,
    ) -> Option<Value> {
        // Cluster-scoped objects (the Node) have no namespace.
        let namespace = namespace(&obj).unwrap_or("").to_string();
        let name = name(&obj)?.to_string();
        let opts = WriteOptions::manager(manager);
        match self.objects.update(t, &namespace, &name, obj, sub, &opts) {
            Ok(v) => Some(v),
            Err(e) => {
                if matches!(e.code, 404 | 409) {
                    tracing::debug!(object = %name, "workload simulation update skipped: {e}");
                } else {
                    tracing::warn!(object = %name, "workload simulation cannot update a {}: {e}", t.kind);
                }
                None
            }
        }
    }

    /// Writes `status` as the object's status if it differs from what is stored.
    fn write_status(
        &self,
        t: &ResourceType,
        mut obj: Value,
        status: Value,
        manager: &str,
    ) -> Option<Value> {
        if obj.get("status") == Some(&status) {
            return Some(obj);
        }
        obj["status"] = status;
        self.update(t, obj, Some(Subresource::Status), manager)
    }

    /// Deletes an object; true when this call deleted it (or began to).
    fn delete(&mut self, t: &ResourceType, namespace: &str, name: &str) -> bool {
        let key = Objects::key(t, namespace, name);
        match self
            .objects
            .delete(t, namespace, name, &DeleteOptions::default())
        {
            Ok(_) => {
                self.unindex(&key);
                true
            }
            Err(e) if e.code == 404 => {
                self.unindex(&key);
                false
            }
            Err(e) => {
                tracing::warn!(object = %name, "workload simulation cannot delete a {}: {e}", t.kind);
                false
            }
        }
    }

    /// Deletes a Pod its controller `owner` no longer wants and records `event` on the
    /// owner when it did.
    fn delete_pod_of(&mut self, owner: &Value, pod_name: &str, event: events::Event) {
        let t = self.types.pods.clone();
        let ns = namespace(owner).unwrap_or("").to_string();
        if self.delete(&t, &ns, pod_name) {
            self.record(owner, event);
        }
    }
}

/// Calls `f` on every stored object of `resource`, a page at a time.
fn for_each_stored(
    store: &ferry_store::Store,
    resource: &str,
    mut f: impl FnMut(&StoredObject),
) -> Result<(), ferry_store::StoreError> {
    let mut after: Option<(String, String)> = None;
    loop {
        let start = after.as_ref().map(|(n, m)| (n.as_str(), m.as_str()));
        let page = store.list(resource, None, start, Some(500))?;
        page.items.iter().for_each(&mut f);
        match page.items.last() {
            Some(last) if page.more => {
                after = Some((last.key.namespace.clone(), last.key.name.clone()));
            }
            _ => return Ok(()),
        }
    }
}

// ---- Small JSON helpers shared by the controllers.

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn int_at(v: &Value, pointer: &str) -> Option<i64> {
    v.pointer(pointer).and_then(Value::as_i64)
}

/// `spec.replicas` (or another count), never negative.
fn count_at(v: &Value, pointer: &str, default: i64) -> i64 {
    int_at(v, pointer).unwrap_or(default).max(0)
}

fn reference_work(reference: &OwnerReference, namespace: &str) -> Option<Work> {
    let kind = Kind::of_owner(&reference.api_version, &reference.kind)?;
    (!reference.name.is_empty()).then(|| Work::new(kind, namespace, &reference.name))
}

fn controller_work(v: &Value, namespace: &str) -> Option<Work> {
    meta::controller_of(v).and_then(|r| reference_work(&r, namespace))
}

/// An ownerReference to `owner` as its controller, as controllers set it.
fn owner_reference(owner: &Value, api_version: &str, kind: &str) -> Value {
    OwnerReference::controlled_by(owner, api_version, kind).to_json()
}

/// Whether the object's `Ready` condition is True.
fn is_ready(pod: &Value) -> bool {
    condition(pod, "Ready").is_some_and(|c| c.get("status").and_then(Value::as_str) == Some("True"))
}

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

/// Whether a ready Pod has been ready for `min_ready_seconds`; if not yet, when it will be.
fn available_since(pod: &Value, min_ready_seconds: i64) -> (bool, Option<Instant>) {
    if !is_ready(pod) {
        return (false, None);
    }
    if min_ready_seconds <= 0 {
        return (true, None);
    }
    let since = condition(pod, "Ready")
        .and_then(|c| c.get("lastTransitionTime"))
        .and_then(Value::as_str)
        .and_then(parse_time);
    let Some(since) = since else {
        return (true, None);
    };
    let due = since + chrono::Duration::seconds(min_ready_seconds);
    let now = chrono::Utc::now();
    if due <= now {
        (true, None)
    } else {
        (false, Some(instant_at(due)))
    }
}

fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// The monotonic instant matching a wall-clock time (a little after, never before).
fn instant_at(at: chrono::DateTime<chrono::Utc>) -> Instant {
    let ahead = (at - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO);
    Instant::now() + ahead + Duration::from_millis(20)
}

/// Sets the member at `path`, creating objects on the way. Stored objects are only checked
/// to be objects at the top, so a user's `spec` may be anything: where a non-object is in
/// the way this changes nothing and returns false (indexing would panic).
fn set_at(obj: &mut Value, path: &[&str], value: Value) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut node = obj;
    for part in parents {
        let Some(map) = node.as_object_mut() else {
            return false;
        };
        let child = map.entry(*part).or_insert_with(|| json!({}));
        if child.is_null() {
            *child = json!({});
        }
        node = child;
    }
    match node.as_object_mut() {
        Some(map) => {
            map.insert((*last).to_string(), value);
            true
        }
        None => false,
    }
}

/// Inserts `value` at `key` unless it is zero: the `omitempty` integers of Kubernetes
/// status types.
fn put_nonzero(map: &mut Map<String, Value>, key: &str, value: i64) {
    if value != 0 {
        map.insert(key.into(), json!(value));
    }
}

/// The alphabet Kubernetes renders generated names and hashes with (no vowels, no
/// look-alikes), so our hashes read like real ones.
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A stable 10-character hash of a JSON value, like the `pod-template-hash` label: keys
/// are visited in sorted order and null or empty members are skipped, so a template
/// re-serialised by a typed client (`kubectl rollout undo` writes `creationTimestamp: null`
/// and `resources: {}`) hashes the same as the original.
fn template_hash(v: &Value) -> String {
    let mut h = Fnv::new();
    feed(v, &mut h);
    let mut n = h.0;
    let base = ALPHABET.len() as u64;
    (0..10)
        .map(|_| {
            let c = ALPHABET[usize::try_from(n % base).unwrap_or(0)];
            n /= base;
            char::from(c)
        })
        .collect()
}

/// 64 hexadecimal digits derived from `seed`, for container and image ids.
fn hex_id(seed: &str) -> String {
    (0u8..4)
        .map(|i| {
            let mut h = Fnv::new();
            h.write(&[i]);
            h.write(seed.as_bytes());
            format!("{:016x}", h.0)
        })
        .collect()
}

/// FNV-1a (64 bit): tiny, stable across releases and platforms, good enough to name things.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

fn feed(v: &Value, h: &mut Fnv) {
    match v {
        Value::Null => h.write(b"n"),
        Value::Bool(b) => h.write(if *b { b"t" } else { b"f" }),
        Value::Number(n) => {
            h.write(b"#");
            h.write(n.to_string().as_bytes());
        }
        Value::String(s) => {
            h.write(b"\"");
            h.write(&(s.len() as u64).to_le_bytes());
            h.write(s.as_bytes());
        }
        Value::Array(items) => {
            h.write(b"[");
            for item in items {
                feed(item, h);
                h.write(b",");
            }
            h.write(b"]");
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> =
                map.iter().filter(|(_, v)| !is_empty_member(v)).collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            h.write(b"{");
            for (k, v) in members {
                h.write(&(k.len() as u64).to_le_bytes());
                h.write(k.as_bytes());
                h.write(b":");
                feed(v, h);
                h.write(b",");
            }
            h.write(b"}");
        }
    }
}

/// Members a typed Kubernetes client may add or drop without changing meaning.
fn is_empty_member(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}
