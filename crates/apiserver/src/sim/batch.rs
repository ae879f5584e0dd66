//! The job controller, kept light: a Job runs `min(parallelism, remaining)` Pods at a time
//! until `completions` (default 1) have succeeded, then reports `SuccessCriteriaMet` and
//! `Complete`; more failed Pods than `backoffLimit` (default 6) — or any failed Pod when
//! `ferry.dev/simulate` injects a failure — make it `FailureTarget` and `Failed` with
//! `BackoffLimitExceeded`. The Pods themselves finish in the simulated kubelet. CronJobs are
//! not simulated.

use ferry_api::meta::{self, name, uid};
use serde_json::{Map, Value, json};

use super::events::Event;
use super::pods::{is_active, pod_from_template};
use super::{Mode, Sim, Work, condition, count_at, is_ready, owner_reference, put_nonzero, str_at};
use crate::objects::now;

const JOB_CONTROLLER: &str = "job-controller";

impl Sim {
    pub(super) fn sync_job(&mut self, w: &Work) {
        let t = self.types.jobs.clone();
        let pod_t = self.types.pods.clone();
        let Some(job) = self.get(&t, &w.namespace, &w.name) else {
            return;
        };
        if meta::is_being_deleted(&job) || finished(&job) {
            return;
        }
        let Some(job_uid) = uid(&job).map(str::to_string) else {
            return;
        };
        let suspended = job
            .pointer("/spec/suspend")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let completions = count_at(&job, "/spec/completions", 1);
        let parallelism = count_at(&job, "/spec/parallelism", 1);
        let backoff_limit = count_at(&job, "/spec/backoffLimit", 6);
        let failure_injected = matches!(Mode::of_workload(&job), Mode::Degraded | Mode::CrashLoop);

        let pods = self.children_of(&job_uid, &pod_t);
        let phase_count = |phase: &str| {
            i64::try_from(
                pods.iter()
                    .filter(|p| str_at(p, "/status/phase") == Some(phase))
                    .count(),
            )
            .unwrap_or(0)
        };
        let succeeded = phase_count("Succeeded");
        let failed = phase_count("Failed");
        let mut active: Vec<Value> = pods.iter().filter(|p| is_active(p)).cloned().collect();
        let failing = if failure_injected {
            failed > 0
        } else {
            failed > backoff_limit
        };

        let now = now();
        let old_status = job.get("status").cloned().unwrap_or(json!({}));
        let mut conditions: Vec<Value> = old_status
            .get("conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut status = Map::new();
        if let Some(start) = old_status
            .get("startTime")
            .cloned()
            .or_else(|| (!suspended).then(|| json!(now)))
        {
            status.insert("startTime".into(), start);
        }
        if failing {
            // A failed Job stops its remaining Pods.
            for pod in active.drain(..) {
                if let Some(n) = name(&pod) {
                    self.delete_pod_of(&job, n, Event::deleted_pod(n, JOB_CONTROLLER));
                }
            }
            let message = "Job has reached the specified backoff limit";
            for type_ in ["FailureTarget", "Failed"] {
                add_condition(
                    &mut conditions,
                    type_,
                    "BackoffLimitExceeded",
                    message,
                    &now,
                );
            }
        } else if succeeded >= completions {
            let message = "Reached expected number of succeeded pods";
            for type_ in ["SuccessCriteriaMet", "Complete"] {
                add_condition(&mut conditions, type_, "CompletionsReached", message, &now);
            }
            status.insert("completionTime".into(), json!(now));
        } else if !suspended {
            let running = i64::try_from(active.len()).unwrap_or(i64::MAX);
            let wanted = parallelism.min(completions - succeeded);
            if let Some(template) = job.pointer("/spec/template").filter(|_| running < wanted) {
                let mut extra = Map::new();
                for key in ["batch.kubernetes.io/controller-uid", "controller-uid"] {
                    extra.insert(key.into(), json!(job_uid));
                }
                for key in ["batch.kubernetes.io/job-name", "job-name"] {
                    extra.insert(key.into(), json!(w.name));
                }
                let owner = owner_reference(&job, "batch/v1", "Job");
                for _ in running..wanted {
                    let mut pod = pod_from_template(template, &w.namespace, owner.clone(), &extra);
                    pod["metadata"]["generateName"] = json!(format!("{}-", w.name));
                    if template.pointer("/spec/restartPolicy").is_none() {
                        pod["spec"]["restartPolicy"] = json!("Never");
                    }
                    if let Some(created) =
                        self.create_generated(&pod_t, &w.namespace, pod, JOB_CONTROLLER)
                    {
                        let event = Event::created_pod(name(&created), JOB_CONTROLLER);
                        self.record(&job, event);
                        active.push(created);
                    }
                }
            }
        }
        put_nonzero(
            &mut status,
            "active",
            i64::try_from(active.len()).unwrap_or(0),
        );
        put_nonzero(&mut status, "succeeded", succeeded);
        put_nonzero(&mut status, "failed", failed);
        status.insert(
            "ready".into(),
            json!(active.iter().filter(|p| is_ready(p)).count()),
        );
        status.insert("terminating".into(), json!(0));
        status.insert("uncountedTerminatedPods".into(), json!({}));
        if !conditions.is_empty() {
            status.insert("conditions".into(), json!(conditions));
        }
        let outcome = if failing {
            Some(Event::warning(
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit".into(),
                JOB_CONTROLLER,
            ))
        } else {
            (succeeded >= completions)
                .then(|| Event::normal("Completed", "Job completed".into(), JOB_CONTROLLER))
        };
        if let Some(written) = self.write_status(&t, job, Value::Object(status), JOB_CONTROLLER)
            && let Some(event) = outcome
        {
            self.record(&written, event);
        }
    }
}

/// Whether the Job has finished (Complete or Failed), after which nothing changes.
fn finished(job: &Value) -> bool {
    ["Complete", "Failed"].iter().any(|c| {
        condition(job, c).is_some_and(|c| c.get("status").and_then(Value::as_str) == Some("True"))
    })
}

fn add_condition(conditions: &mut Vec<Value>, type_: &str, reason: &str, message: &str, now: &str) {
    conditions.retain(|c| c.get("type").and_then(Value::as_str) != Some(type_));
    conditions.push(json!({
        "type": type_, "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
        "reason": reason, "message": message,
    }));
}
