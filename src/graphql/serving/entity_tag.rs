//! Entity tags for answers read from snapshots: what a poller sends back in
//! `If-None-Match` to learn, without a body, that nothing it asked about
//! changed. A tag names the query for its audience (the response cache's
//! key: account, scopes, introspection, document, operation, variables)
//! and the versions of the snapshots the answer read, hashed with a key
//! drawn when the process starts: a tag from before a restart (when
//! versions count from the start again) or from another replica matches
//! nothing, and costs one full answer, never a wrong 304.

use std::hash::{BuildHasher, Hash, Hasher};

use foldhash::fast::RandomState;

use super::response_cache::ResponseKey;
use crate::catalog::Collection;

/// A weak entity tag: two answers with the same tag say the same thing,
/// though their `extensions` (the snapshots' ages) differ byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityTag(u64);

impl EntityTag {
    /// As `ETag` sends it: `W/"` and 16 hexadecimal digits and `"`.
    pub fn header_text(self) -> String {
        format!("W/\"{:016x}\"", self.0)
    }

    /// Whether an `If-None-Match` value names this tag (weak comparison,
    /// RFC 9110 §13.1.2): `*`, or a list of tags one of which is this one
    /// with or without `W/`. A malformed member matches nothing.
    pub fn matched_by(self, if_none_match: &[u8]) -> bool {
        let Ok(text) = std::str::from_utf8(if_none_match) else {
            return false;
        };
        if text.trim() == "*" {
            return true;
        }
        let own = format!("\"{:016x}\"", self.0);
        text.split(',').any(|member| {
            let member = member.trim();
            member.strip_prefix("W/").unwrap_or(member) == own
        })
    }
}

/// Draws tags with the process's own hashing key. foldhash rather than
/// SipHash: a tag is hashed on every answer that is not a cache hit, and a
/// forged collision could only tell its own sender "not modified".
#[derive(Debug)]
pub(crate) struct Tagger(RandomState);

impl Tagger {
    pub(crate) fn new() -> Self {
        Self(RandomState::default())
    }

    /// The tag of the answer to `key` computed from these snapshot
    /// versions.
    pub(crate) fn tag(
        &self,
        key: &ResponseKey,
        versions: impl IntoIterator<Item = (Collection, u64)>,
    ) -> EntityTag {
        let mut hasher = self.0.build_hasher();
        key.hash(&mut hasher);
        for (collection, version) in versions {
            collection.hash(&mut hasher);
            version.hash(&mut hasher);
        }
        EntityTag(hasher.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_reads_lists_and_the_star() {
        let tag = EntityTag(0xab);
        let own = tag.header_text();
        assert_eq!(own, "W/\"00000000000000ab\"");
        for matching in [
            own.as_str(),
            "\"00000000000000ab\"",
            "\"1\", W/\"00000000000000ab\"",
            " * ",
        ] {
            assert!(tag.matched_by(matching.as_bytes()), "{matching}");
        }
        for other in [
            "",
            "W/\"00000000000000ac\"",
            "00000000000000ab",
            "W/\"00000000000000AB\"",
            "\"00000000000000ab",
        ] {
            assert!(!tag.matched_by(other.as_bytes()), "{other}");
        }
        assert!(!tag.matched_by(b"\xff\"00000000000000ab\""));
    }
}
