//! One snapshot slot per account: fresh for `ttl`, then served stale while
//! one background refresh runs, and kept up to `max_stale` past `ttl` while
//! RemotePC fails. Concurrent misses share one fetch, errors included.
//! Writes patch the slot; a refresh that overlapped writes is kept with
//! their patches applied again over it, so it can never put pre-write data
//! back, and steady writes never keep a snapshot from being refreshed. A
//! write whose outcome is unknown marks the snapshot suspect: a refresh
//! that overlapped it is not authoritative, the next read fetches anew,
//! and while RemotePC fails the suspect snapshot is still served (within
//! `max_stale`), marked as such.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::time::Instant;
use tracing::Instrument;

use super::{Freshness, Keyed, Loaded, Peek, Served, Snapshot};
use crate::clock::Clock;
use crate::telemetry::{CacheRead, CacheReadMeter};

/// What a read does.
enum Decision<T> {
    /// Serve this snapshot, `Fresh` or `Stale`.
    Serve(Served<T>, CacheRead),
    /// Wait for a fetch; serve the suspect snapshot if it fails.
    Fetch(Option<Served<T>>),
}

/// Told of every snapshot put in a slot (a refresh, or a write's patch):
/// the account, the snapshot it replaced (none for the slot's first) and
/// the new one. Called under the slot's lock, so an account's snapshots
/// are told in the order they were kept; it must not block.
pub type Observer<T> =
    Arc<dyn Fn(&str, Option<&Arc<Snapshot<T>>>, &Arc<Snapshot<T>>) + Send + Sync>;

/// A fetch's result as it comes back from RemotePC: the snapshot and how
/// old it already was.
type Fetched<T, E> = Result<(Arc<Snapshot<T>>, Duration), Arc<E>>;

/// A fetch in flight.
type Fetch<T, E> = Shared<BoxFuture<'static, Fetched<T, E>>>;

struct Cached<T> {
    snapshot: Arc<Snapshot<T>>,
    fetched_at: Instant,
}

struct SlotState<T, E> {
    current: Option<Cached<T>>,
    in_flight: Option<Fetch<T, E>>,
    /// The patches of writes applied while `in_flight` ran, in order:
    /// applied again over its result, since RemotePC may have been read
    /// before or after each (a patch sets items by key, so applying it
    /// twice is harmless).
    during_fetch: Vec<Patch<T>>,
    /// A write whose patch is not in `during_fetch` (outcome unknown, no
    /// snapshot to patch, too many) happened while `in_flight` ran: its
    /// result is not authoritative and is not kept.
    fetch_overtaken: bool,
    last_failure: Option<Instant>,
    /// A write whose outcome is unknown happened since `current` was read.
    suspect: bool,
    /// A task drives `in_flight` to its end whether or not readers wait.
    driven: bool,
}

struct Slot<T, E> {
    /// The account whose snapshot this is.
    account: String,
    /// Its reads' metrics.
    meter: CacheReadMeter,
    /// std `Mutex`: never held across `.await`.
    state: Mutex<SlotState<T, E>>,
}

impl<T, E> Slot<T, E> {
    fn lock(&self) -> MutexGuard<'_, SlotState<T, E>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn observe(&self, read: CacheRead, served: &Served<T>) {
        let age = served.age.as_secs_f64();
        self.meter.record(read, age, served.snapshot.len());
    }
}

/// Snapshots of one collection, one slot per account, read by loaders
/// failing with `E`.
pub struct SnapshotCache<T, E> {
    /// The collection's name, for metrics: `users`, `devices`.
    collection: &'static str,
    freshness: Freshness,
    clock: Clock,
    /// std `Mutex`: never held across `.await`.
    slots: Mutex<HashMap<String, Arc<Slot<T, E>>>>,
    /// Told of each snapshot kept, under its slot's lock.
    observer: Option<Observer<T>>,
    /// Told of this replica's writes, for the others.
    replicator: Option<Arc<dyn Replicator<T>>>,
}

impl<T: Keyed + Clone + Send + Sync + 'static, E: Send + Sync + 'static> SnapshotCache<T, E> {
    /// An empty cache of `collection`.
    pub fn new(collection: &'static str, freshness: Freshness, clock: Clock) -> Self {
        Self {
            collection,
            freshness,
            clock,
            slots: Mutex::default(),
            observer: None,
            replicator: None,
        }
    }

    /// Tells `replicator` of every write applied here.
    pub fn replicated_by(mut self, replicator: Arc<dyn Replicator<T>>) -> Self {
        self.replicator = Some(replicator);
        self
    }

    /// Tells `observer` of every snapshot kept, the first one included.
    pub fn observed_by(mut self, observer: Observer<T>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// How old the account's current snapshot is, if any; never fetches.
    pub fn age(&self, account: &str) -> Option<Duration> {
        self.current(account).map(|(_, age, _)| age)
    }

    /// The current snapshot's version, age and whether it is suspect.
    fn current(&self, account: &str) -> Option<(u64, Duration, bool)> {
        let slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let state = slots.get(account)?.lock();
        let cached = state.current.as_ref()?;
        let age = self
            .clock
            .now()
            .saturating_duration_since(cached.fetched_at);
        Some((cached.snapshot.version(), age, state.suspect))
    }

    /// The account's snapshot: cached if young enough, else fetched with
    /// `load` (shared by every caller waiting at the same time). `refresh`
    /// asks for a new fetch unless the snapshot is younger than
    /// `min_refresh_interval`.
    pub async fn get<F, Fut>(
        &self,
        account: &str,
        refresh: bool,
        load: F,
    ) -> Result<Served<T>, Arc<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Loaded<T>, E>> + Send + 'static,
    {
        let slot = self.slot(account);
        let (fetch, fallback) = {
            let mut state = slot.lock();
            match self.decide(&mut state, refresh) {
                Decision::Serve(served, result) => {
                    if result == CacheRead::Stale {
                        self.refresh_in_background(&slot, &mut state, load);
                    }
                    slot.observe(result, &served);
                    return Ok(served);
                }
                // A fetch is running, or one failed just now: answer at once.
                Decision::Fetch(Some(suspect)) if !self.may_start(&state) => {
                    self.refresh_in_background(&slot, &mut state, load);
                    slot.observe(CacheRead::Suspect, &suspect);
                    return Ok(suspect);
                }
                Decision::Fetch(fallback) => {
                    (self.join_or_start(&slot, &mut state, load), fallback)
                }
            }
        };
        match (fetch.await, fallback) {
            (Ok((snapshot, age)), _) => {
                let served = Served {
                    snapshot,
                    age,
                    stale: false,
                    suspect: false,
                };
                slot.observe(CacheRead::Miss, &served);
                Ok(served)
            }
            // Stale-if-error: a suspect snapshot beats no answer.
            (Err(_), Some(suspect)) => {
                slot.observe(CacheRead::Suspect, &suspect);
                Ok(suspect)
            }
            (Err(error), None) => Err(error),
        }
    }

    /// What a read finds in `state`: a snapshot to serve as is (`fresh`, or
    /// `stale` while a refresh runs), or a fetch to wait for, with the
    /// suspect snapshot to serve if it fails.
    fn decide(&self, state: &mut SlotState<T, E>, refresh: bool) -> Decision<T> {
        let Some(cached) = &state.current else {
            return Decision::Fetch(None);
        };
        let age = self
            .clock
            .now()
            .saturating_duration_since(cached.fetched_at);
        let served = Served {
            snapshot: Arc::clone(&cached.snapshot),
            age,
            stale: age >= self.freshness.ttl || state.suspect,
            suspect: state.suspect,
        };
        let forced = refresh && age >= self.freshness.min_refresh_interval;
        let servable = age < self.freshness.ttl + self.freshness.max_stale;
        if state.suspect && servable {
            return Decision::Fetch(Some(served));
        }
        if !forced && age < self.freshness.ttl {
            return Decision::Serve(served, CacheRead::Fresh);
        }
        if !forced && servable {
            return Decision::Serve(served, CacheRead::Stale);
        }
        Decision::Fetch(None)
    }

    /// Whether a fetch may start now: none is running, and the last one
    /// did not fail within `min_refresh_interval`.
    fn may_start(&self, state: &SlotState<T, E>) -> bool {
        state.in_flight.is_none() && !self.backing_off(state)
    }

    fn backing_off(&self, state: &SlotState<T, E>) -> bool {
        state.last_failure.is_some_and(|failed| {
            self.clock.now().saturating_duration_since(failed) < self.freshness.min_refresh_interval
        })
    }

    /// Makes sure a refresh runs without a reader waiting for it: starts
    /// one (unless backing off), or drives the one in flight if its readers
    /// all left (a fetch nobody polls does not progress).
    fn refresh_in_background<F, Fut>(
        &self,
        slot: &Arc<Slot<T, E>>,
        state: &mut SlotState<T, E>,
        load: F,
    ) where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Loaded<T>, E>> + Send + 'static,
    {
        if state.driven || (state.in_flight.is_none() && self.backing_off(state)) {
            return;
        }
        let fetch = self.join_or_start(slot, state, load);
        state.driven = true;
        tokio::spawn(fetch.map(drop).in_current_span());
    }

    /// The account's snapshot if a read would be served it as fresh now;
    /// `None` when a read would fetch or refresh. Never fetches.
    pub fn peek(&self, account: &str) -> Option<Peek> {
        let (version, age, suspect) = self.current(account)?;
        (age < self.freshness.ttl && !suspect).then_some(Peek { version, age })
    }

    /// Accounts with a slot.
    pub fn accounts(&self) -> Vec<String> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    fn slot(&self, account: &str) -> Arc<Slot<T, E>> {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(slots.entry(account.to_owned()).or_insert_with(|| {
            Arc::new(Slot {
                account: account.to_owned(),
                meter: CacheReadMeter::new(account, self.collection),
                state: Mutex::new(SlotState {
                    current: None,
                    in_flight: None,
                    during_fetch: Vec::new(),
                    fetch_overtaken: false,
                    last_failure: None,
                    suspect: false,
                    driven: false,
                }),
            })
        }))
    }

    /// The fetch already running for this slot, or a new one. The fetch
    /// stores its own result, so it completes the slot whoever polls it.
    fn join_or_start<F, Fut>(
        &self,
        slot: &Arc<Slot<T, E>>,
        state: &mut SlotState<T, E>,
        load: F,
    ) -> Fetch<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Loaded<T>, E>> + Send + 'static,
    {
        if let Some(fetch) = &state.in_flight {
            return fetch.clone();
        }
        state.during_fetch.clear();
        state.fetch_overtaken = false;
        let slot = Arc::clone(slot);
        let clock = self.clock.clone();
        let observer = self.observer.clone();
        let loading = load();
        let fetch = async move {
            let result = loading
                .await
                .map(|loaded| (Arc::new(loaded.snapshot), loaded.age))
                .map_err(Arc::new);
            store_fetched(&slot, &clock, observer.as_ref(), result)
        }
        .boxed()
        .shared();
        state.in_flight = Some(fetch.clone());
        fetch
    }
}

/// Puts a fetch's result in its slot, with the writes that overlapped it
/// applied over it, and tells `observer`; returns the result as kept (what
/// the fetch's readers are served).
fn store_fetched<T: Keyed + Clone, E>(
    slot: &Slot<T, E>,
    clock: &Clock,
    observer: Option<&Observer<T>>,
    result: Fetched<T, E>,
) -> Fetched<T, E> {
    let mut state = slot.lock();
    state.in_flight = None;
    state.driven = false;
    let patches = std::mem::take(&mut state.during_fetch);
    match result {
        Ok((fetched, age)) if !state.fetch_overtaken => {
            let kept = if patches.is_empty() {
                fetched
            } else {
                let (removed, upserted) = merged(&patches);
                Arc::new(fetched.with_changes(&removed, upserted))
            };
            let now = clock.now();
            let replaced = state.current.replace(Cached {
                snapshot: Arc::clone(&kept),
                fetched_at: now.checked_sub(age).unwrap_or(now),
            });
            state.last_failure = None;
            state.suspect = false;
            if let Some(observer) = observer {
                let replaced = replaced.map(|cached| cached.snapshot);
                observer(&slot.account, replaced.as_ref(), &kept);
            }
            Ok((kept, age))
        }
        // A write of unknown effect overlapped the fetch: RemotePC may
        // have been read before it. Keep the current (suspect) snapshot;
        // the next read fetches again.
        Ok(fetched) => {
            state.last_failure = None;
            Ok(fetched)
        }
        Err(error) => {
            state.last_failure = Some(clock.now());
            Err(error)
        }
    }
}

#[path = "slots_patch.rs"]
mod patching;
use patching::merged;
pub use patching::{Patch, Replicator};

#[cfg(test)]
#[path = "slots_tests.rs"]
mod tests;
