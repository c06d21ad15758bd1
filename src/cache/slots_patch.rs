//! Writes applied to snapshots: this replica's own (told to the
//! replicator, so other replicas apply them too), other replicas' (told to
//! no one), writes whose effect is unknown (the snapshot distrusted), and
//! the patches kept to apply again over a fetch they overlapped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::SnapshotCache;
use crate::cache::{Keyed, Snapshot};

/// Patches kept for one fetch; past this many writes during one fetch,
/// its result is dropped as before (the next read fetches again).
const MAX_PATCHES_DURING_FETCH: usize = 4_096;

/// What a write changed in a collection.
#[derive(Debug, Clone)]
pub struct Patch<T> {
    /// Keys of items gone.
    pub removed: Vec<String>,
    /// Items added or changed.
    pub upserted: Vec<T>,
}

/// Told of each write this replica applies, so other replicas apply it
/// too; each returns the work of telling them, to await or spawn.
pub trait Replicator<T>: Send + Sync {
    /// `patch` made `snapshot` (read from RemotePC `age` ago).
    fn patched(
        &self,
        account: &str,
        patch: &Patch<T>,
        snapshot: &Arc<Snapshot<T>>,
        age: Duration,
    ) -> BoxFuture<'static, ()>;
    /// The account's snapshot can no longer be trusted (a write with an
    /// unknown outcome, or one this replica could not apply).
    fn dropped(&self, account: &str) -> BoxFuture<'static, ()>;
}

impl<T: Keyed + Clone + Send + Sync + 'static, E: Send + Sync + 'static> SnapshotCache<T, E> {
    /// Applies a write the gateway made to the cached snapshot, so the next
    /// read shows it without a fetch; `change` says what it changed, from
    /// the current snapshot. The replicator is told (or told to drop the
    /// account's snapshots when this replica holds none to patch); the
    /// future returned completes once other replicas can see the write.
    pub fn patch(
        &self,
        account: &str,
        change: impl FnOnce(&Snapshot<T>) -> Patch<T>,
    ) -> BoxFuture<'static, ()> {
        let applied = self.apply(account, change);
        let Some(replicator) = &self.replicator else {
            return futures::future::ready(()).boxed();
        };
        match applied {
            Some((patch, patched, age)) => replicator.patched(account, &patch, &patched, age),
            None => replicator.dropped(account),
        }
    }

    /// Applies a patch another replica made; tells no replicator.
    pub fn apply_remote(&self, account: &str, patch: Patch<T>) {
        self.apply(account, |_| patch);
    }

    /// Patches the current snapshot, if any; returns the patch, the new
    /// snapshot and its age.
    fn apply(
        &self,
        account: &str,
        change: impl FnOnce(&Snapshot<T>) -> Patch<T>,
    ) -> Option<(Patch<T>, Arc<Snapshot<T>>, Duration)> {
        let slot = self.slot(account);
        let mut state = slot.lock();
        let now = self.clock.now();
        let fetching = state.in_flight.is_some();
        let Some(cached) = state.current.as_mut() else {
            // Nothing to patch, so nothing to apply to a fetch either.
            state.fetch_overtaken |= fetching;
            return None;
        };
        let patch = change(&cached.snapshot);
        let patched = Arc::new(
            cached
                .snapshot
                .with_changes(&patch.removed, patch.upserted.iter().cloned()),
        );
        let old = std::mem::replace(&mut cached.snapshot, Arc::clone(&patched));
        let age = now.saturating_duration_since(cached.fetched_at);
        if fetching {
            if state.during_fetch.len() < MAX_PATCHES_DURING_FETCH {
                state.during_fetch.push(patch.clone());
            } else {
                state.fetch_overtaken = true;
            }
        }
        if let Some(observer) = &self.observer {
            observer(account, Some(&old), &patched);
        }
        drop(state);
        Some((patch, patched, age))
    }

    /// Marks the account's snapshot suspect after a write whose effect on
    /// the collection is unknown: the next read fetches anew, and serves
    /// the suspect snapshot (marked so) if that fetch fails or while a
    /// failed one backs off. A fetch already running may predate the write,
    /// so it is not kept and does not clear the mark.
    pub fn mark_suspect(&self, account: &str) {
        self.distrust(account);
        if let Some(replicator) = &self.replicator {
            tokio::spawn(replicator.dropped(account));
        }
    }

    /// Marks the account's snapshot suspect because another replica's
    /// write, or a lost patch channel, makes it untrusted; tells no
    /// replicator.
    pub fn distrust(&self, account: &str) {
        let slot = self.slot(account);
        let mut state = slot.lock();
        state.fetch_overtaken |= state.in_flight.is_some();
        state.suspect = true;
    }
}

/// Patches applied in order, as one: each key's last change wins, so the
/// fetched snapshot is rebuilt once however many writes overlapped it.
pub(super) fn merged<T: Keyed + Clone>(patches: &[Patch<T>]) -> (Vec<String>, Vec<T>) {
    let mut last: HashMap<String, Result<T, String>> = HashMap::new();
    for patch in patches {
        for key in &patch.removed {
            last.insert(T::comparable(key).into_owned(), Err(key.clone()));
        }
        for item in &patch.upserted {
            last.insert(T::comparable(item.key()).into_owned(), Ok(item.clone()));
        }
    }
    let (mut removed, mut upserted) = (Vec::new(), Vec::new());
    for change in last.into_values() {
        match change {
            Ok(item) => upserted.push(item),
            Err(key) => removed.push(key),
        }
    }
    (removed, upserted)
}
