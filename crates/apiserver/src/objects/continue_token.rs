//! The continue token of paged lists: opaque to clients, it says where the previous page
//! stopped (the list's revision and the last key) so the next page reads the same snapshot.

use base64::Engine as _;
use ferry_store::Revision;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};

/// An opaque continue token: where the previous page stopped.
pub(super) struct Continue {
    pub(super) revision: Revision,
    pub(super) namespace: String,
    pub(super) name: String,
}

impl Continue {
    pub(super) fn encode(&self) -> String {
        let raw = json!({"rv": self.revision, "ns": self.namespace, "name": self.name}).to_string();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    pub(super) fn decode(token: &str) -> ApiResult<Self> {
        let bad = || {
            ApiError::bad_request(
                "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
            )
        };
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| bad())?;
        let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
        Ok(Self {
            revision: v.get("rv").and_then(Value::as_u64).ok_or_else(bad)?,
            namespace: v
                .get("ns")
                .and_then(Value::as_str)
                .ok_or_else(bad)?
                .to_string(),
            name: v
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(bad)?
                .to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_reads_back_as_written() {
        let token = Continue {
            revision: 42,
            namespace: "default".into(),
            name: "web-7".into(),
        }
        .encode();
        assert!(!token.contains('='), "URL-safe without padding: {token}");
        let back = Continue::decode(&token).unwrap();
        assert_eq!(
            (back.revision, back.namespace.as_str(), back.name.as_str()),
            (42, "default", "web-7")
        );
    }

    #[test]
    fn a_forged_token_is_refused_as_kube_apiserver_words_it() {
        let encode = |raw: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        for token in [
            "not base64!".to_string(),
            encode("not json"),
            encode(r#"{"ns": "default", "name": "a"}"#),
            encode(r#"{"rv": "1", "ns": "default", "name": "a"}"#),
            encode(r#"{"rv": 1, "ns": 2, "name": "a"}"#),
        ] {
            let err = Continue::decode(&token).err().expect(&token);
            assert_eq!(err.code, 400, "{token}");
            assert!(
                err.message.starts_with("continue key is not valid"),
                "{}",
                err.message
            );
        }
    }
}
