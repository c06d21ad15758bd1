//! Entity tags for answers read from snapshots: what a poller sends back
//! (`If-None-Match`, read by `http`) to learn, without a body, that nothing
//! it asked about changed. A tag names the query for its audience (the response cache's
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
    /// The tag's opaque value; `http` writes it as an HTTP entity-tag.
    pub fn value(self) -> u64 {
        self.0
    }

    /// A tag of this value, for tests of how tags are written.
    #[cfg(test)]
    pub(crate) fn from_value(value: u64) -> Self {
        Self(value)
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
