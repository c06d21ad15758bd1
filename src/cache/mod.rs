//! Snapshots of whole collections (all users, all devices of an account),
//! sorted and indexed by key so lookups are O(1) and cursors are stable, and
//! the per-account cache that keeps them fresh, coalesces fetches and serves
//! stale data while RemotePC fails.

mod served;
mod slots;
mod snapshot;

pub use served::{Freshness, Loaded, Peek, Served};
pub use slots::{Observer, Patch, Replicator, SnapshotCache};
pub use snapshot::{Keyed, LogPosition, Snapshot, SortedView, WrittenForm};
