//! `replicas`: replica counts of workloads by name.

use serde_json::json;

use super::file::Replica;
use super::resource::Resource;
use super::{KustomizeError, Location};

const KINDS: [&str; 4] = [
    "Deployment",
    "ReplicaSet",
    "ReplicationController",
    "StatefulSet",
];

/// Sets the counts; a name no workload has is an error, as in Kustomize.
pub fn apply(
    loc: &Location,
    replicas: &[Replica],
    acc: &mut [Resource],
) -> Result<(), KustomizeError> {
    for rep in replicas {
        let mut found = false;
        for r in acc.iter_mut() {
            if !KINDS.contains(&r.kind()) || !r.had_name(&rep.name) {
                continue;
            }
            found = true;
            if let Some(obj) = r.obj.as_object_mut() {
                let spec = obj.entry("spec").or_insert_with(|| json!({}));
                if let Some(spec) = spec.as_object_mut() {
                    spec.insert("replicas".into(), json!(rep.count));
                }
            }
        }
        if !found {
            return Err(loc.invalid(format!(
                "replicas: no {} named `{}`",
                KINDS.join(", "),
                rep.name
            )));
        }
    }
    Ok(())
}
