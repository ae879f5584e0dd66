//! `ferry health FILE` as a user runs it: Argo CD's verdicts for objects in files, text and
//! JSON, and a clear error for a file that does not parse.

use std::process::Command;

use ferry_testkit::run;

const FERRY: &str = env!("CARGO_BIN_EXE_ferry");

const OBJECTS: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 2}
spec: {replicas: 3}
status: {observedGeneration: 2, replicas: 3, updatedReplicas: 1}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
status:
  conditions: [{type: Complete, status: "True"}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
"#;

#[test]
fn prints_each_objects_health_as_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objects.yaml");
    std::fs::write(&file, OBJECTS).unwrap();

    let text = run(Command::new(FERRY).arg("health").arg(&file));
    assert_eq!(
        text,
        "Deployment/web:\nSTATUS: Progressing\nMESSAGE: Waiting for rollout to finish: 1 out of 3 new replicas have been updated...\n\
         Job/migrate:\nSTATUS: Healthy\nMESSAGE: \n\
         ConfigMap/settings:\nSTATUS: none (ConfigMap has no health check; it does not count toward an application's health)\n"
    );

    let json = run(Command::new(FERRY)
        .args(["health", "-o", "json"])
        .arg(&file));
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"status": "Progressing",
                "message": "Waiting for rollout to finish: 1 out of 3 new replicas have been updated..."}),
            serde_json::json!({"status": "Healthy"}),
            serde_json::Value::Null,
        ]
    );
}

#[test]
fn a_file_that_does_not_parse_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    std::fs::write(&file, "kind: Pod\nmetadata: [unclosed\n").unwrap();
    let out = Command::new(FERRY)
        .arg("health")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.yaml"), "{stderr}");
}
