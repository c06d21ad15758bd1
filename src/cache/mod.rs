//! Snapshots of whole collections (all users, all devices of an account),
//! sorted and indexed by key so lookups are O(1) and cursors are stable, and
//! the per-account cache that keeps them fresh, coalesces fetches and serves
//! stale data while RemotePC fails.

mod slots;
mod snapshot;

pub use slots::{Freshness, Peek, Served, SnapshotCache};
pub use snapshot::{Keyed, Snapshot, SortedView};
