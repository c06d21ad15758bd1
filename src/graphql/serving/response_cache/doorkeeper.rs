//! The doorkeeper in front of the response cache: a response is kept only
//! the second time its key is seen.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{KeyHasher, ResponseKey};

/// Remembers, lossily, the keys asked recently: a response is kept only the
/// second time its key is seen, so one-off queries (a new date on every
/// request) neither pay for an insert nor push out the responses frontends
/// poll for. Scenario B of the benchmark kept ~8 MiB of responses nobody
/// asked for again without it.
pub(super) struct Doorkeeper {
    /// Key hashes; 0 is an empty slot. A collision forgets a key, which
    /// costs one more execution, never a wrong answer.
    slots: Box<[AtomicU64]>,
    hasher: KeyHasher,
}

/// Keys remembered at once (512 KiB).
const DOORKEEPER_SLOTS: usize = 1 << 16;

impl Doorkeeper {
    pub(super) fn new() -> Self {
        Self {
            slots: (0..DOORKEEPER_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            hasher: KeyHasher::default(),
        }
    }

    /// Whether `key` was seen before (and remembers it).
    pub(super) fn seen_before(&self, key: &ResponseKey) -> bool {
        let hash = self.hasher.hash_one(key) | 1;
        let slot = &self.slots[hash as usize % self.slots.len()];
        slot.swap(hash, Ordering::Relaxed) == hash
    }
}
