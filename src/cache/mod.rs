//! Snapshots of whole collections (all users, all devices of an account),
//! sorted and indexed by key so lookups are O(1) and cursors are stable.

mod snapshot;

pub use snapshot::{Keyed, Snapshot};
