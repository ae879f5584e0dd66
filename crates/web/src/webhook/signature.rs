//! Checking a webhook's proof of origin: HMAC-SHA256 of the body (GitHub, Gitea/Gogs,
//! Bitbucket Server) or a shared token (GitLab, Bitbucket Cloud's hook UUID), compared in
//! constant time.

use sha2::{Digest as _, Sha256};

const BLOCK: usize = 64;

/// HMAC-SHA256 of `message` under `key` (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Whether `signature` (hex, optionally after `sha256=`) is the HMAC of `body` under
/// `secret`.
pub fn hmac_matches(secret: &str, body: &[u8], signature: &str) -> bool {
    let hex = signature.strip_prefix("sha256=").unwrap_or(signature);
    let expected = hmac_sha256(secret.as_bytes(), body);
    let expected: String = expected.iter().map(|b| format!("{b:02x}")).collect();
    equal(expected.as_bytes(), hex.to_ascii_lowercase().as_bytes())
}

/// Equality that takes as long for any two inputs of the same length.
pub fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // RFC 4231 test cases 1 and 6 (a key longer than the block).
        let hex = |bytes: [u8; 32]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(
            hex(hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn signatures_are_checked_with_or_without_the_prefix() {
        let body = b"{\"ref\":\"refs/heads/main\"}";
        let sig: String = hmac_sha256(b"s3cret", body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(hmac_matches("s3cret", body, &sig));
        assert!(hmac_matches("s3cret", body, &format!("sha256={sig}")));
        assert!(hmac_matches("s3cret", body, &sig.to_ascii_uppercase()));
        assert!(!hmac_matches("other", body, &sig));
        assert!(!hmac_matches("s3cret", b"tampered", &sig));
        assert!(!hmac_matches("s3cret", body, ""));
    }
}
