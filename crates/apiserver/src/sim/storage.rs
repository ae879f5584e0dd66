//! The persistent volume controller, reduced to binding: every claim is bound at once to a
//! volume named `pvc-<uid>` with exactly the capacity it requests, as a dynamic provisioner
//! with an immediate binding mode would leave it.

use ferry_api::meta::{self, annotation, uid};
use serde_json::{Map, Value, json};

use super::{Sim, Work, set_at, str_at};

const PV_CONTROLLER: &str = "persistentvolume-controller";

impl Sim {
    pub(super) fn sync_pvc(&mut self, w: &Work) {
        let t = self.types.pvcs.clone();
        let Some(mut pvc) = self.get(&t, &w.namespace, &w.name) else {
            return;
        };
        if meta::is_being_deleted(&pvc) || str_at(&pvc, "/status/phase") == Some("Bound") {
            return;
        }
        let Some(claim_uid) = uid(&pvc).map(str::to_string) else {
            return;
        };
        if str_at(&pvc, "/spec/volumeName").is_none_or(str::is_empty)
            || annotation(&pvc, "pv.kubernetes.io/bind-completed").is_none()
        {
            let mut next = pvc.clone();
            let volume = json!(format!("pvc-{claim_uid}"));
            if str_at(&next, "/spec/volumeName").is_none_or(str::is_empty)
                && !set_at(&mut next, &["spec", "volumeName"], volume)
            {
                return;
            }
            for done in [
                "pv.kubernetes.io/bind-completed",
                "pv.kubernetes.io/bound-by-controller",
            ] {
                if !set_at(&mut next, &["metadata", "annotations", done], json!("yes")) {
                    return;
                }
            }
            match self.update(&t, next, None, PV_CONTROLLER) {
                Some(bound) => pvc = bound,
                None => return,
            }
        }
        let mut status = Map::new();
        status.insert("phase".into(), json!("Bound"));
        if let Some(modes) = pvc.pointer("/spec/accessModes") {
            status.insert("accessModes".into(), modes.clone());
        }
        if let Some(storage) = pvc.pointer("/spec/resources/requests/storage") {
            status.insert("capacity".into(), json!({"storage": storage}));
        }
        self.write_status(&t, pvc, Value::Object(status), PV_CONTROLLER);
    }
}
