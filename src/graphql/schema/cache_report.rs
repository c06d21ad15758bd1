//! What snapshots one operation read: how old they were, for clients
//! (`extensions.cache.<collection> = { ageMs, stale, suspect? }`), and which versions,
//! for the response cache. Resolvers record here; the runner reads it after
//! execution.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_graphql::Context;

use crate::catalog::{Collection, Listed, Served};

/// One collection as an operation read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SnapshotRead {
    /// `Snapshot::version` of what was read.
    pub(crate) version: u64,
    /// Its age when read.
    pub(crate) age: Duration,
    /// Whether it was past `cache.ttl`, or suspect.
    pub(crate) stale: bool,
    /// Whether a write with an unknown outcome happened since it was read.
    pub(crate) suspect: bool,
}

/// How current a read snapshot was, as `extensions.cache` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Staleness {
    /// Younger than `cache.ttl`: `"stale":false`.
    Fresh,
    /// Past `cache.ttl`, served while a refresh runs or fails.
    Stale,
    /// A write with an unknown outcome happened since it was read, and
    /// reading anew failed: `"stale":true,"suspect":true`.
    Suspect,
}

impl SnapshotRead {
    /// What `extensions.cache` says of this read.
    pub(crate) fn staleness(&self) -> Staleness {
        match (self.suspect, self.stale) {
            (true, _) => Staleness::Suspect,
            (false, true) => Staleness::Stale,
            (false, false) => Staleness::Fresh,
        }
    }
}

impl SnapshotRead {
    /// Which collection `served` is, and how it was read.
    pub(crate) fn of<T: Listed>(served: &Served<T>) -> (Collection, Self) {
        let read = Self {
            version: served.snapshot.version(),
            age: served.age,
            stale: served.stale,
            suspect: served.suspect,
        };
        (T::COLLECTION, read)
    }
}

/// The snapshots one operation read, and whether its response may be
/// reused.
#[derive(Debug, Default)]
pub(crate) struct CacheReport {
    /// std `Mutex`: never held across `.await`.
    state: Mutex<ReportState>,
}

#[derive(Debug, Default)]
struct ReportState {
    reads: BTreeMap<Collection, SnapshotRead>,
    /// Something the response depends on is not a snapshot version (a
    /// forced refresh, two versions of one collection).
    not_reusable: bool,
}

impl CacheReport {
    fn lock(&self) -> std::sync::MutexGuard<'_, ReportState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What was read, and whether the response may be reused.
    pub(crate) fn take(&self) -> (BTreeMap<Collection, SnapshotRead>, bool) {
        let mut state = self.lock();
        (std::mem::take(&mut state.reads), !state.not_reusable)
    }
}

/// Records that the operation read `served`; when it reads a collection
/// twice, the older reading is reported.
pub(crate) fn record<T: Listed>(ctx: &Context<'_>, served: &Served<T>) {
    let Ok(report) = ctx.data::<std::sync::Arc<CacheReport>>() else {
        return;
    };
    let (collection, read) = SnapshotRead::of(served);
    let mut guard = report.lock();
    let state = &mut *guard;
    match state.reads.get_mut(&collection) {
        None => {
            state.reads.insert(collection, read);
        }
        Some(seen) => {
            if seen.version != read.version {
                state.not_reusable = true;
            }
            if read.age > seen.age {
                *seen = read;
            }
        }
    }
}

/// Marks the operation's response as not reusable.
pub(crate) fn not_reusable(ctx: &Context<'_>) {
    if let Ok(report) = ctx.data::<std::sync::Arc<CacheReport>>() {
        report.lock().not_reusable = true;
    }
}

/// `extensions.cache` as JSON: `{"devices":{"ageMs":12,"stale":false}}`,
/// collections in name order.
pub(crate) fn write_extension(
    reads: impl IntoIterator<Item = (Collection, Duration, Staleness)>,
    out: &mut Vec<u8>,
) {
    out.push(b'{');
    for (index, (collection, age, staleness)) in reads.into_iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(collection.as_str().as_bytes());
        out.extend_from_slice(b"\":{\"ageMs\":");
        out.extend_from_slice(
            itoa::Buffer::new()
                .format(age.as_millis() as u64)
                .as_bytes(),
        );
        out.extend_from_slice(match staleness {
            Staleness::Fresh => b",\"stale\":false}".as_slice(),
            Staleness::Stale => b",\"stale\":true}",
            Staleness::Suspect => b",\"stale\":true,\"suspect\":true}",
        });
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_is_json_in_collection_order() {
        let mut out = Vec::new();
        write_extension(
            [
                (
                    Collection::Users,
                    (Duration::from_millis(1500), Staleness::Suspect),
                ),
                (
                    Collection::Devices,
                    (Duration::from_micros(999), Staleness::Fresh),
                ),
            ]
            .into_iter()
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .map(|(collection, (age, stale))| (collection, age, stale)),
            &mut out,
        );
        let parsed: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(
            parsed,
            serde_json::json!({
                "devices": { "ageMs": 0, "stale": false },
                "users": { "ageMs": 1500, "stale": true, "suspect": true },
            })
        );
        assert!(out.starts_with(b"{\"devices\""));
    }
}
