//! The catalog's side of `cluster`: each collection's writes are told to
//! the other replicas (patch, generation bump, the patched snapshot
//! republished), their writes are applied here, and a lost channel makes
//! every local snapshot untrusted until reloaded.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;

use super::Catalog;
use crate::cache::{Patch, Replicator, Snapshot, SnapshotCache};
use crate::clock::Clock;
use crate::cluster::{Cluster, PatchMessage, Patches};
use crate::upstream::UpstreamError;

/// Why a collection is read anew.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reading {
    /// The snapshot is past `cache.ttl`, or there is none.
    Expired,
    /// A caller asked for `refresh: true`.
    Forced,
    /// A live poll, every `live.poll_interval`.
    Poll,
}

/// How a replica reads a collection when it shares snapshots: a shared
/// snapshot younger than the reading asks (the cache's TTL, the least
/// refresh interval when forced, the poll interval when polled) is taken;
/// else one replica reads RemotePC.
pub(super) struct Sharing {
    pub(super) cluster: Cluster,
    pub(super) clock: Clock,
    pub(super) ttl: Duration,
    pub(super) min_refresh_interval: Duration,
    pub(super) poll_every: Duration,
}

impl Sharing {
    /// `account`'s `T`, shared or read with `fetch`, and its age.
    pub(super) async fn load<T, F, Fut>(
        &self,
        account: &str,
        reading: Reading,
        fetch: F,
    ) -> Result<(Vec<T>, Duration), UpstreamError>
    where
        T: super::Listed,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<T>, UpstreamError>>,
    {
        let max_age = match reading {
            Reading::Expired => self.ttl,
            Reading::Forced => self.min_refresh_interval,
            Reading::Poll => self.poll_every,
        };
        let clock = self.clock.clone();
        self.cluster
            .load_shared(
                (account, T::COLLECTION.as_str()),
                max_age,
                move || clock.unix_ms(),
                (fetch, merged_over::<T>),
            )
            .await
    }
}

/// Tells other replicas of one collection's writes.
pub(super) struct Replication<T> {
    cluster: Cluster,
    clock: Clock,
    items: PhantomData<fn() -> T>,
}

impl<T> Replication<T> {
    pub(super) fn new(cluster: Cluster, clock: Clock) -> Self {
        Self {
            cluster,
            clock,
            items: PhantomData,
        }
    }
}

impl<T> Replicator<T> for Replication<T>
where
    T: super::Listed,
{
    fn patched(
        &self,
        account: &str,
        patch: &Patch<T>,
        snapshot: &Arc<Snapshot<T>>,
        age: Duration,
    ) -> BoxFuture<'static, ()> {
        let message = PatchMessage {
            origin: String::new(),
            account: account.to_owned(),
            collection: T::COLLECTION.as_str().to_owned(),
            removed: patch.removed.clone(),
            upserted: serde_json::to_value(&patch.upserted).unwrap_or_default(),
            drop: false,
            generation: None,
        };
        let (cluster, collection) = (self.cluster.clone(), T::COLLECTION.as_str());
        let (account, snapshot) = (account.to_owned(), Arc::clone(snapshot));
        let age_ms = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
        let fetched_ms = self.clock.unix_ms().saturating_sub(age_ms);
        async move {
            // The bump first: a refresh that began before this write must
            // not publish over the patched snapshot.
            let Some(generation) = cluster.bump_generation(&account, collection).await else {
                return;
            };
            let message = PatchMessage {
                generation: Some(generation),
                ..message
            };
            cluster.publish_patch(message).await;
            let items: Vec<&T> = snapshot.items().iter().map(Arc::as_ref).collect();
            cluster
                .publish(&account, collection, generation, fetched_ms, &items)
                .await;
        }
        .boxed()
    }

    fn dropped(&self, account: &str) -> BoxFuture<'static, ()> {
        let message = PatchMessage {
            origin: String::new(),
            account: account.to_owned(),
            collection: T::COLLECTION.as_str().to_owned(),
            removed: Vec::new(),
            upserted: serde_json::Value::Null,
            drop: true,
            generation: None,
        };
        let (cluster, collection) = (self.cluster.clone(), T::COLLECTION.as_str());
        let account = account.to_owned();
        async move {
            cluster.bump_generation(&account, collection).await;
            cluster.forget_shared(&account, collection).await;
            cluster.publish_patch(message).await;
        }
        .boxed()
    }
}

impl Catalog {
    /// Applies other replicas' writes to this one's snapshots until the
    /// handle is aborted; `None` without a cluster.
    pub fn follow_replicas(&self) -> Option<tokio::task::JoinHandle<()>> {
        let cluster = self.cluster.clone()?;
        let collections = Arc::clone(&self.collections);
        Some(cluster.listen_patches(Arc::new(move |heard| match heard {
            Patches::Rejoined => collections.distrust_all(),
            Patches::Message(message) => collections.apply(message),
        })))
    }
}

/// `items`, as a refresh read them, with the writes of `patches` applied
/// in order; `None` when one is a drop (its effect unknown) or unreadable.
fn merged_over<T>(items: &[T], patches: &[PatchMessage]) -> Option<Vec<T>>
where
    T: DeserializeOwned + Clone + crate::cache::Keyed,
{
    let mut merged = items.to_vec();
    for patch in patches {
        if patch.drop {
            return None;
        }
        let upserted: Vec<T> = serde_json::from_value(patch.upserted.clone()).ok()?;
        let gone: std::collections::HashSet<String> = (patch.removed.iter().map(String::as_str))
            .chain(upserted.iter().map(crate::cache::Keyed::key))
            .map(|key| T::comparable(key).into_owned())
            .collect();
        merged.retain(|item| !gone.contains(T::comparable(item.key()).as_ref()));
        merged.extend(upserted);
    }
    Some(merged)
}

pub(super) fn apply<T>(cache: &SnapshotCache<T, UpstreamError>, message: PatchMessage)
where
    T: DeserializeOwned + Clone + crate::cache::Keyed + Send + Sync + 'static,
{
    if message.drop {
        cache.distrust(&message.account);
        return;
    }
    match serde_json::from_value::<Vec<T>>(message.upserted) {
        Ok(upserted) => cache.apply_remote(
            &message.account,
            Patch {
                removed: message.removed,
                upserted,
            },
        ),
        // A patch this replica cannot read: reload rather than miss it.
        Err(_) => cache.distrust(&message.account),
    }
}
