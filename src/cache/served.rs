//! What the cache promises and answers: how long snapshots are trusted,
//! and a snapshot as served with its age.

use std::sync::Arc;
use std::time::Duration;

use super::Snapshot;
use crate::settings::CacheSettings;

/// How long snapshots are trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// A snapshot younger than this is served without a refresh.
    pub ttl: Duration,
    /// How long past `ttl` a snapshot is still served: while it refreshes,
    /// and while RemotePC fails.
    pub max_stale: Duration,
    /// Forced refreshes of one account's collection are at least this far
    /// apart; also the pause after a failed background refresh.
    pub min_refresh_interval: Duration,
}

impl From<&CacheSettings> for Freshness {
    fn from(settings: &CacheSettings) -> Self {
        Self {
            ttl: settings.ttl,
            max_stale: settings.max_stale,
            min_refresh_interval: settings.min_refresh_interval,
        }
    }
}

/// A snapshot as served, with how old it is.
#[derive(Debug, Clone)]
pub struct Served<T> {
    /// The whole collection as it was read (and patched by writes since).
    pub snapshot: Arc<Snapshot<T>>,
    /// Time since it was read from RemotePC.
    pub age: Duration,
    /// Whether it is past `ttl` (a refresh is running or failing), or
    /// suspect.
    pub stale: bool,
    /// Whether a write with an unknown outcome happened since it was read:
    /// it may not show that write.
    pub suspect: bool,
}

/// The current snapshot's version and age, read without fetching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peek {
    /// `Snapshot::version` of the snapshot a read would be served now.
    pub version: u64,
    /// Time since it was read from RemotePC.
    pub age: Duration,
}

/// What a loader read: the collection, and how old it already was (a
/// snapshot another replica read from RemotePC a while ago).
#[derive(Debug)]
pub struct Loaded<T> {
    /// Every item read, sorted and indexed.
    pub snapshot: Snapshot<T>,
    /// Time since it was read from RemotePC.
    pub age: Duration,
}

impl<T> From<Snapshot<T>> for Loaded<T> {
    fn from(snapshot: Snapshot<T>) -> Self {
        Self {
            snapshot,
            age: Duration::ZERO,
        }
    }
}
