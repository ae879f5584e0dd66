//! The replica-count transformer: one workload's replica count, by name (current or earlier),
//! in the fields its field specs name.

use serde_json::json;

use super::fieldspec::FieldSpec;
use super::file::Replica;
use super::resource::Resource;
use super::{KustomizeError, Location};

/// Sets the count; a name no object the specs select has is an error, as in Kustomize.
pub fn apply(
    loc: &Location,
    replica: &Replica,
    field_specs: &[FieldSpec],
    acc: &mut [Resource],
) -> Result<(), KustomizeError> {
    let mut found = false;
    for spec in field_specs {
        for r in acc.iter_mut() {
            if !r.had_name(&replica.name) || !spec.applies_to(r.group(), r.version(), r.kind()) {
                continue;
            }
            found = true;
            let _ = spec.visit::<()>(&mut r.obj, &mut |field| {
                *field = json!(replica.count);
                Ok(())
            });
        }
    }
    if !found {
        let kinds: Vec<&str> = field_specs.iter().map(|s| s.kind.as_str()).collect();
        return Err(loc.invalid(format!(
            "replicas: resource with name {} does not match a config with the following kinds: {}",
            replica.name,
            kinds.join(", ")
        )));
    }
    Ok(())
}
