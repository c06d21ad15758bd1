//! What a bearer token looks like before anything is verified: whether it
//! has a JWT's shape, and its header and claims decoded but untrusted,
//! only to pick the algorithm check and the provider that must verify it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// The unverified claims of something shaped like a JWT, to pick the
/// provider that must verify it; `None` for anything else.
pub(super) fn peek_claims(token: &str) -> Option<Value> {
    peek_part(token, 1)
}

/// Part `index` (0: header, 1: claims) of a JWT, decoded but not verified.
pub(super) fn peek_part(token: &str, index: usize) -> Option<Value> {
    let part = token.split('.').nth(index)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

/// Whether `token` has a JWT's shape: three base64url parts. A team token
/// (letters and digits) never has.
pub(super) fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
        && token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
}
