//! `replicas`: replica counts of workloads by name.

use serde_json::json;

use super::file::Replica;
use super::resource::Resource;

const KINDS: [&str; 4] = [
    "Deployment",
    "ReplicaSet",
    "ReplicationController",
    "StatefulSet",
];

pub fn apply(replicas: &[Replica], acc: &mut [Resource]) {
    for rep in replicas {
        for r in acc.iter_mut() {
            if !KINDS.contains(&r.kind()) || !r.had_name(&rep.name) {
                continue;
            }
            if let Some(obj) = r.obj.as_object_mut() {
                let spec = obj.entry("spec").or_insert_with(|| json!({}));
                if let Some(spec) = spec.as_object_mut() {
                    spec.insert("replicas".into(), json!(rep.count));
                }
            }
        }
    }
}
