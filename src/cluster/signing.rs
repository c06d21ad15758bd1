//! What replicas hand each other through Redis is signed: snapshots and
//! patches carry an HMAC-SHA256 under `cluster.secret_file`, a secret the
//! replicas share and Redis never sees. A value another Redis client
//! forged or altered is dropped, counted (`forged_dropped`) and logged;
//! so is one larger than its bound. Redis clients can still delete
//! values, hold leases, move shared quota counters and publish demand for
//! the egress: `docs/security.md` says how to isolate Redis.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Largest snapshot a replica publishes or loads: 100,000 devices are
/// about 40 MB of JSON.
pub(super) const MAX_SNAPSHOT_BYTES: usize = 128 * 1024 * 1024;
/// Largest patch: a 1,000-name removal is about 40 kB.
pub(super) const MAX_PATCH_BYTES: usize = 4 * 1024 * 1024;
/// A MAC's length.
const MAC_BYTES: usize = 32;
/// Shortest secret accepted.
pub(crate) const MIN_SECRET_BYTES: usize = 32;

/// The replicas' shared secret. Its `Debug` never shows it.
#[derive(Clone)]
pub(super) struct Signer {
    secret: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer([secret])")
    }
}

impl Signer {
    pub(super) fn new(secret: Vec<u8>) -> Self {
        Self { secret }
    }

    fn mac(&self, scope: &str, payload: &[u8]) -> Hmac<Sha256> {
        // The secret's length was checked: `new_from_slice` takes any.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(scope.as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        mac
    }

    /// `payload`, signed for `scope` (what it is, and for which account
    /// and collection): the MAC first, then the payload.
    pub(super) fn sign(&self, scope: &str, payload: &[u8]) -> Vec<u8> {
        let tag = self.mac(scope, payload).finalize().into_bytes();
        let mut signed = Vec::with_capacity(MAC_BYTES + payload.len());
        signed.extend_from_slice(&tag);
        signed.extend_from_slice(payload);
        signed
    }

    /// The payload of `signed` when its MAC is right for `scope`; `None`
    /// (counted and logged) when it is not.
    pub(super) fn open<'a>(&self, scope: &str, signed: &'a [u8]) -> Option<&'a [u8]> {
        let verified = signed
            .split_at_checked(MAC_BYTES)
            .and_then(|(tag, payload)| {
                self.mac(scope, payload)
                    .verify_slice(tag)
                    .ok()
                    .map(|()| payload)
            });
        if verified.is_none() {
            crate::telemetry::record_cluster("forged_dropped");
            tracing::warn!(
                scope,
                "a value in Redis is not signed with cluster.secret_file; dropped"
            );
        }
        verified
    }
}

/// Too large to hand over: dropped, counted and logged.
pub(super) fn oversized(scope: &str, bytes: usize, bound: usize) -> bool {
    let over = bytes > bound;
    if over {
        crate::telemetry::record_cluster("oversized_dropped");
        tracing::warn!(
            scope,
            bytes,
            bound,
            "a value for Redis is over its bound; dropped"
        );
    }
    over
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_only_with_its_scope_and_unaltered() {
        let signer = Signer::new(vec![7; 32]);
        let signed = signer.sign("snap/default/devices", b"[1,2,3]");
        assert_eq!(
            signer.open("snap/default/devices", &signed),
            Some(&b"[1,2,3]"[..])
        );
        assert_eq!(
            signer.open("snap/other/devices", &signed),
            None,
            "another scope"
        );
        let mut altered = signed.clone();
        if let Some(last) = altered.last_mut() {
            *last ^= 1;
        }
        assert_eq!(
            signer.open("snap/default/devices", &altered),
            None,
            "altered"
        );
        let forged = Signer::new(vec![8; 32]).sign("snap/default/devices", b"[1]");
        assert_eq!(
            signer.open("snap/default/devices", &forged),
            None,
            "another secret"
        );
        assert_eq!(signer.open("snap/default/devices", b"short"), None);
    }
}
