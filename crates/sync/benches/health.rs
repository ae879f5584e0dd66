//! Health checks of a 1,000-object app: a Lua script in Argo CD's style (a fresh sandboxed
//! state per object, as every evaluation gets) against the built-in Deployment check.
//! `cargo bench -p ferry-sync --bench health` prints the median of 5 passes.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use ferry_sync::health::Checks;
use ferry_sync::health::custom::Customizations;
use serde_json::{Value, json};

const OBJECTS: usize = 1000;
const PASSES: usize = 5;

const SCRIPT: &str = r#"
local hs = {}
if obj.status ~= nil and obj.status.conditions ~= nil then
  for i, condition in ipairs(obj.status.conditions) do
    if condition.type == "Ready" and condition.status == "False" then
      hs.status = "Degraded"
      hs.message = condition.message
      return hs
    end
    if condition.type == "Ready" and condition.status == "True" then
      hs.status = "Healthy"
      hs.message = obj.status.readyReplicas .. "/" .. obj.spec.replicas .. " ready"
      return hs
    end
  end
end
hs.status = "Progressing"
hs.message = "Waiting for the widget"
return hs
"#;

fn widget(i: usize) -> Value {
    json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": format!("w{i}"), "namespace": "shop", "labels": {"app": "shop"}},
        "spec": {"replicas": 3, "template": {"image": "shop:1.2.3"}},
        "status": {"readyReplicas": 3, "observedGeneration": 1,
                   "conditions": [{"type": "Synced", "status": "True"},
                                  {"type": "Ready", "status": "True", "message": "ok"}]},
    })
}

fn deployment(i: usize) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": format!("d{i}"), "namespace": "shop", "generation": 1},
        "spec": {"replicas": 3},
        "status": {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3,
                   "availableReplicas": 3, "readyReplicas": 3},
    })
}

fn median_per_second(checks: &Checks, objects: &[Value]) -> f64 {
    let mut rates: Vec<f64> = (0..PASSES)
        .map(|_| {
            let started = Instant::now();
            for obj in objects {
                assert!(checks.assess(obj).is_some());
            }
            objects.len() as f64 / started.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[PASSES / 2]
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let at = dir.path().join("example.com/Widget");
    std::fs::create_dir_all(&at).unwrap();
    std::fs::write(at.join("health.lua"), SCRIPT).unwrap();
    let checks = Checks::new(
        Customizations::default()
            .with_directory(dir.path())
            .unwrap(),
    );

    let widgets: Vec<Value> = (0..OBJECTS).map(widget).collect();
    let deployments: Vec<Value> = (0..OBJECTS).map(deployment).collect();
    let lua = median_per_second(&checks, &widgets);
    let builtin = median_per_second(&checks, &deployments);
    println!("{OBJECTS} objects, median of {PASSES} passes");
    println!(
        "  Lua script (Widget):        {lua:>10.0} evaluations/s ({:.1} ms per app)",
        1000.0 * OBJECTS as f64 / lua
    );
    println!(
        "  built-in check (Deployment): {builtin:>10.0} evaluations/s ({:.1} ms per app)",
        1000.0 * OBJECTS as f64 / builtin
    );
}
