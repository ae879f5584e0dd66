//! The reviews a client asks "who am I" and "may I" with: `SelfSubjectReview`
//! (`kubectl auth whoami`), `SelfSubjectAccessReview` (`kubectl auth can-i`) and
//! `SelfSubjectRulesReview` (`kubectl auth can-i --list`). They are answered on create and
//! never stored.
//!
//! The bearer token is the server's one identity, [`ADMIN_USER`], and it may do everything,
//! so the answers are what kube-apiserver's RBAC authorizer gives a member of
//! `system:masters`: every access allowed, every rule `*`.

use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::resources::ResourceType;

/// The user the bearer token authenticates.
pub const ADMIN_USER: &str = "ferry-admin";
/// The groups of [`ADMIN_USER`]: cluster-admin rights, as kubeadm's admin holds them.
pub const ADMIN_GROUPS: &[&str] = &["system:masters", "system:authenticated"];

/// The review `request` of type `t` with its `status` filled in.
pub fn answer(t: &ResourceType, request: Value) -> ApiResult<Value> {
    let status = match t.kind.as_str() {
        "SelfSubjectReview" => {
            json!({"userInfo": {"username": ADMIN_USER, "groups": ADMIN_GROUPS}})
        }
        "SelfSubjectAccessReview" => {
            access_attributes(t, &request)?;
            json!({"allowed": true})
        }
        "SelfSubjectRulesReview" => json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        }),
        other => return Err(ApiError::internal(format!("{other} is not a review kind"))),
    };
    // The request comes back with its answer, as kube-apiserver returns it.
    let metadata = request
        .get("metadata")
        .filter(|m| m.is_object())
        .cloned()
        .unwrap_or_else(|| json!({"creationTimestamp": null}));
    let mut review = json!({"kind": t.kind, "apiVersion": t.api_version(), "metadata": metadata});
    if let Some(spec) = request.get("spec") {
        review["spec"] = spec.clone();
    }
    review["status"] = status;
    Ok(review)
}

/// Checks that an access review asks about exactly one thing, as kube-apiserver does.
fn access_attributes(t: &ResourceType, request: &Value) -> ApiResult<()> {
    let present = |field: &str| {
        request
            .pointer(&format!("/spec/{field}"))
            .is_some_and(|v| !v.is_null())
    };
    match (
        present("resourceAttributes"),
        present("nonResourceAttributes"),
    ) {
        (true, false) | (false, true) => Ok(()),
        (both, _) => {
            let why = if both {
                "cannot be specified in combination with resourceAttributes"
            } else {
                "exactly one of nonResourceAttributes or resourceAttributes must be specified"
            };
            let field = if both {
                "spec.nonResourceAttributes"
            } else {
                "spec.resourceAttributes"
            };
            Err(ApiError::invalid(
                t,
                "",
                vec![(field.to_string(), format!("Invalid value: {why}"))],
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Resources;

    fn review(plural: &str) -> std::sync::Arc<ResourceType> {
        let group = if plural == "selfsubjectreviews" {
            "authentication.k8s.io"
        } else {
            "authorization.k8s.io"
        };
        Resources::new().lookup(group, "v1", plural).unwrap()
    }

    #[test]
    fn access_reviews_allow_and_echo_the_question() {
        let t = review("selfsubjectaccessreviews");
        let asked = json!({"spec": {"resourceAttributes": {"verb": "delete", "resource": "pods", "namespace": "x"}}});
        let answered = answer(&t, asked.clone()).unwrap();
        assert_eq!(answered["status"], json!({"allowed": true}));
        assert_eq!(answered["spec"], asked["spec"]);
        assert_eq!(answered["apiVersion"], "authorization.k8s.io/v1");
        let non_resource =
            json!({"spec": {"nonResourceAttributes": {"verb": "get", "path": "/healthz"}}});
        assert_eq!(answer(&t, non_resource).unwrap()["status"]["allowed"], true);
    }

    #[test]
    fn access_reviews_must_ask_exactly_one_thing() {
        let t = review("selfsubjectaccessreviews");
        let none = answer(&t, json!({"spec": {}})).unwrap_err();
        assert_eq!(none.code, 422);
        assert!(none.message.contains("exactly one of"), "{}", none.message);
        let both = json!({"spec": {"resourceAttributes": {}, "nonResourceAttributes": {}}});
        assert!(
            answer(&t, both)
                .unwrap_err()
                .message
                .contains("in combination")
        );
    }

    #[test]
    fn rules_and_identity() {
        let rules = answer(
            &review("selfsubjectrulesreviews"),
            json!({"spec": {"namespace": "default"}}),
        )
        .unwrap();
        assert_eq!(rules["status"]["resourceRules"][0]["verbs"], json!(["*"]));
        assert_eq!(rules["status"]["incomplete"], false);
        let me = answer(&review("selfsubjectreviews"), json!({})).unwrap();
        assert_eq!(me["status"]["userInfo"]["username"], ADMIN_USER);
        assert_eq!(me["kind"], "SelfSubjectReview");
    }
}
