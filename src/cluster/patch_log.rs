//! The patch log: each write's patch is also kept in Redis by its
//! generation, for a while. A refresh that began before writes cannot
//! publish what it read as it is (it may predate them); with the log it
//! applies their patches over it and publishes that, so under steady
//! writes the shared snapshot is still renewed each time it is read.
//! A write whose patch is not in the log (an unknown outcome, or one
//! expired) leaves the refresh unpublished, as before.

use redis::AsyncCommands;
use serde::Serialize;

use super::{Cluster, PatchMessage};

/// Patches kept per collection, newest first; past them, the oldest go.
const KEPT_PATCHES: isize = 1_024;
/// How long a collection's log lives after its last patch.
const KEPT_FOR_MS: i64 = 600_000;
/// Most writes a refresh's read may have overlapped and still publish.
const MAX_OVERLAPPED_WRITES: i64 = 256;

/// What a refresh read: the generation when it began, when, and the items.
pub(super) type Read<'a, T> = (i64, i64, &'a [T]);

impl Cluster {
    /// Keeps `signed`, the patch of the write that made `generation`.
    pub(super) async fn log_patch(&self, scope: (&str, &str), generation: i64, signed: Vec<u8>) {
        let key = self.key(&["patchlog", scope.0, scope.1]);
        self.run(|mut redis| async move {
            redis::pipe()
                .atomic()
                .zadd(&key, signed, generation)
                .ignore()
                .zremrangebyrank(&key, 0, -(KEPT_PATCHES + 1))
                .ignore()
                .pexpire(&key, KEPT_FOR_MS)
                .ignore()
                .query_async::<()>(&mut redis)
                .await
        })
        .await;
    }

    /// The patches of the writes that made generations `after + 1` to
    /// `upto`, in order; `None` unless every one is there and signed.
    async fn patches_between(
        &self,
        scope: (&str, &str),
        after: i64,
        upto: i64,
    ) -> Option<Vec<PatchMessage>> {
        if upto <= after || upto - after > MAX_OVERLAPPED_WRITES {
            return None;
        }
        let key = self.key(&["patchlog", scope.0, scope.1]);
        let (low, high) = (format!("({after}"), upto.to_string());
        let logged: Vec<Vec<u8>> = self
            .run(|mut redis| async move { redis.zrangebyscore(key, low, high).await })
            .await?;
        let patches: Vec<PatchMessage> = logged
            .iter()
            .filter_map(|signed| {
                let bytes = self
                    .inner
                    .signer
                    .open(super::patches::PATCH_SCOPE, signed)?;
                serde_json::from_slice(bytes).ok()
            })
            .collect();
        let complete = patches
            .iter()
            .map(|patch| patch.generation)
            .eq((after + 1..=upto).map(Some));
        complete.then_some(patches)
    }

    /// Publishes what a refresh read with the writes since it began
    /// applied by `merge`, when the log has every one of them.
    pub(super) async fn publish_over_writes<T: Serialize>(
        &self,
        scope: (&str, &str),
        (began_at, fetched_ms, items): Read<'_, T>,
        now: i64,
        merge: impl FnOnce(&[T], &[PatchMessage]) -> Option<Vec<T>>,
    ) {
        let Some(patches) = self.patches_between(scope, began_at, now).await else {
            return;
        };
        let Some(merged) = merge(items, &patches) else {
            return;
        };
        let (account, collection) = scope;
        if self
            .publish(account, collection, now, fetched_ms, merged.as_slice())
            .await
            .is_none()
        {
            crate::telemetry::record_cluster("snapshot_published_over_writes");
        }
    }
}
