//! `batch/v1`: Job.

use serde_json::Value;

use super::{Fields, Health, HealthCode};

/// Failed ⇒ Degraded; suspended ⇒ Suspended; complete ⇒ Healthy; otherwise Progressing.
/// As in gitops-engine, any `Suspended` condition counts as an outcome, and a true one makes
/// the Job Suspended.
pub(super) fn job(obj: &Value) -> Result<Health, String> {
    let f = Fields::of(obj, "Job", &["v1"])?;
    let (mut failed, mut complete, mut suspended) = (false, false, false);
    let (mut failure, mut message) = ("", "");
    for condition in f.conditions("/status/conditions")? {
        match condition.type_ {
            "Failed" => {
                failed = true;
                complete = true;
                failure = condition.message;
            }
            "Complete" => {
                complete = true;
                message = condition.message;
            }
            "Suspended" => {
                complete = true;
                message = condition.message;
                suspended |= condition.status == "True";
            }
            _ => {}
        }
    }
    Ok(if !complete {
        Health::new(HealthCode::Progressing, message)
    } else if failed {
        Health::new(HealthCode::Degraded, failure)
    } else if suspended {
        Health::new(HealthCode::Suspended, message)
    } else {
        Health::new(HealthCode::Healthy, message)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{Health, HealthCode, assess};

    #[test]
    fn jobs() {
        use HealthCode::*;
        let table = [
            (json!([]), Progressing, ""),
            (
                json!([{"type": "Complete", "status": "True", "message": "done"}]),
                Healthy,
                "done",
            ),
            (
                json!([{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]),
                Degraded,
                "BackoffLimitExceeded",
            ),
            (
                json!([{"type": "Suspended", "status": "True", "message": "paused"}]),
                Suspended,
                "paused",
            ),
            (
                json!([{"type": "Suspended", "status": "False"}]),
                Healthy,
                "",
            ),
        ];
        for (conditions, code, message) in table {
            let obj = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
                "status": {"conditions": conditions}});
            assert_eq!(
                assess(&obj),
                Some(Health::new(code, message)),
                "{conditions}"
            );
        }
    }
}
