//! One read of RemotePC for all replicas: per account and collection, the
//! replica holding the refresh lease reads RemotePC and publishes the
//! snapshot; the others wait for it and load it. The lease expires unless
//! renewed, so a replica that dies while holding it is replaced. Every
//! write bumps a generation, and a refresh that started before a write
//! does not publish (its data may predate it), as a slot does locally.

use std::time::Duration;

use redis::AsyncCommands;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{Cluster, PatchMessage, signing};

/// What a snapshot's signature is bound to.
fn snapshot_scope(account: &str, collection: &str) -> String {
    format!("snapshot/{account}/{collection}")
}

/// A snapshot as replicas hand it over.
#[derive(Debug, Serialize, Deserialize)]
pub struct SharedSnapshot<T> {
    /// Encoding version: a replica of another version reads RemotePC
    /// itself rather than misread it.
    pub format: u32,
    /// When RemotePC was read, in ms since the Unix epoch.
    pub fetched_ms: i64,
    /// Every item, in the order the reading replica's snapshot held them.
    pub items: Vec<T>,
}

const FORMAT: u32 = 1;
/// How often a waiting replica looks for the new snapshot.
const WAIT_STEP: Duration = Duration::from_millis(25);

/// Sets the lease to this replica if it still holds it, for `ARGV[2]` ms.
const RENEW: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
/// Drops the lease if this replica holds it.
const RELEASE: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
/// Publishes the snapshot (KEYS[1]) and its time (KEYS[2]) unless a write
/// bumped the generation (KEYS[3]) since the refresh began (ARGV[1]);
/// answers -1 when published, else the generation now.
const PUBLISH: &str = "local now = redis.call('get', KEYS[3]) or '0' \
    if now ~= ARGV[1] then return tonumber(now) end \
    redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[4]) \
    redis.call('set', KEYS[2], ARGV[3], 'PX', ARGV[4]) return -1";

/// What the lease attempt found.
enum Lease {
    Taken,
    HeldBy(String),
}

impl Cluster {
    /// `account`'s `collection`: the shared snapshot if it is younger than
    /// `max_age`; else read with `fetch` by whichever replica takes the
    /// lease, the others waiting for it (at most `cluster.wait_for_refresh`).
    /// Without Redis, `fetch` runs here. Also says how old the snapshot was.
    /// Writes made while the holder read are applied over what it read
    /// with `merge` before it is published (see `patch_log`).
    pub async fn load_shared<T, E, F, Fut>(
        &self,
        scope: (&str, &str),
        max_age: Duration,
        now_ms: impl Fn() -> i64,
        (fetch, merge): (F, impl FnOnce(&[T], &[PatchMessage]) -> Option<Vec<T>>),
    ) -> Result<(Vec<T>, Duration), E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<T>, E>>,
    {
        let (account, collection) = scope;
        let deadline = Instant::now() + self.inner.settings.wait_for_refresh;
        loop {
            if let Some(found) = self
                .fresh_shared::<T>(account, collection, max_age, &now_ms)
                .await
            {
                crate::telemetry::record_cluster("snapshot_loaded");
                return Ok(found);
            }
            let lease = match self.take_lease(account, collection).await {
                Some(lease) => lease,
                // Redis is down: read alone.
                None => return fetch().await.map(|items| (items, Duration::ZERO)),
            };
            match lease {
                Lease::Taken => {
                    // The previous holder may have published between the
                    // look above and taking the lease.
                    if let Some(found) = self
                        .fresh_shared::<T>(account, collection, max_age, &now_ms)
                        .await
                    {
                        self.release_lease(account, collection).await;
                        crate::telemetry::record_cluster("snapshot_loaded");
                        return Ok(found);
                    }
                    return self
                        .refresh_holding(account, collection, &now_ms, (fetch, merge))
                        .await;
                }
                Lease::HeldBy(holder) => self.note_holder(account, collection, &holder),
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    account,
                    collection,
                    "no shared snapshot in cluster.wait_for_refresh; reading RemotePC here"
                );
                return fetch().await.map(|items| (items, Duration::ZERO));
            }
            tokio::time::sleep(WAIT_STEP).await;
        }
    }

    /// The shared snapshot and its age, when younger than `max_age`. Reads
    /// its small time key first, the snapshot only when it will be used.
    async fn fresh_shared<T: DeserializeOwned>(
        &self,
        account: &str,
        collection: &str,
        max_age: Duration,
        now_ms: &impl Fn() -> i64,
    ) -> Option<(Vec<T>, Duration)> {
        let time_key = self.key(&["snaptime", account, collection]);
        let fetched_ms: i64 = self
            .run(|mut redis| async move { redis.get::<_, Option<i64>>(time_key).await })
            .await??;
        let age_of = |fetched_ms: i64| {
            Duration::from_millis(u64::try_from(now_ms() - fetched_ms).unwrap_or(0))
        };
        if age_of(fetched_ms) >= max_age {
            return None;
        }
        let key = self.key(&["snap", account, collection]);
        let scope = snapshot_scope(account, collection);
        let length_key = key.clone();
        let length: usize = self
            .run(|mut redis| async move { redis.strlen::<_, usize>(length_key).await })
            .await?;
        if signing::oversized(&scope, length, signing::MAX_SNAPSHOT_BYTES + 64) {
            return None;
        }
        let signed: Vec<u8> = self
            .run(|mut redis| async move { redis.get::<_, Option<Vec<u8>>>(key).await })
            .await??;
        let bytes = self.inner.signer.open(&scope, &signed)?;
        let shared: SharedSnapshot<T> = serde_json::from_slice(bytes).ok()?;
        // The signed time decides, not the time key beside it.
        let age = age_of(shared.fetched_ms);
        (shared.format == FORMAT && age < max_age).then_some((shared.items, age))
    }

    async fn take_lease(&self, account: &str, collection: &str) -> Option<Lease> {
        let key = self.key(&["lease", account, collection]);
        let me = self.inner.replica.clone();
        let lease_ms = self.inner.settings.lease.as_millis() as u64;
        let options = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::PX(lease_ms))
            .get(true);
        // SET NX GET: the holder's id when held, nothing when taken.
        let holder: Option<String> = self
            .run(|mut redis| async move { redis.set_options(key, me, options).await })
            .await?;
        Some(match holder {
            None => Lease::Taken,
            Some(holder) => Lease::HeldBy(holder),
        })
    }

    /// Reads RemotePC while holding the lease (renewed meanwhile), then
    /// publishes the snapshot and lets the lease go.
    async fn refresh_holding<T, E, F, Fut>(
        &self,
        account: &str,
        collection: &str,
        now_ms: &impl Fn() -> i64,
        (fetch, merge): (F, impl FnOnce(&[T], &[PatchMessage]) -> Option<Vec<T>>),
    ) -> Result<(Vec<T>, Duration), E>
    where
        T: Serialize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<T>, E>>,
    {
        crate::telemetry::record_cluster("lease_taken");
        self.note_holder(account, collection, &self.inner.replica.clone());
        let generation = self.generation(account, collection).await.unwrap_or(0);
        let fetched_ms = now_ms();
        let lease_key = self.key(&["lease", account, collection]);
        let result = {
            let fetching = fetch();
            tokio::pin!(fetching);
            let mut renew = tokio::time::interval(self.inner.settings.lease / 3);
            renew.tick().await;
            loop {
                tokio::select! {
                    result = &mut fetching => break result,
                    _ = renew.tick() => self.renew_lease(&lease_key).await,
                }
            }
        };
        if let Ok(items) = &result {
            let scope = (account, collection);
            let refused = self
                .publish(
                    account,
                    collection,
                    generation,
                    fetched_ms,
                    items.as_slice(),
                )
                .await;
            if let Some(now) = refused {
                let read = (generation, fetched_ms, items.as_slice());
                self.publish_over_writes(scope, read, now, merge).await;
            }
        }
        self.release_lease(account, collection).await;
        result.map(|items| (items, Duration::ZERO))
    }

    async fn release_lease(&self, account: &str, collection: &str) {
        let key = self.key(&["lease", account, collection]);
        let me = self.inner.replica.clone();
        self.run(|mut redis| async move {
            redis::Script::new(RELEASE)
                .key(key)
                .arg(me)
                .invoke_async::<i64>(&mut redis)
                .await
        })
        .await;
    }

    async fn renew_lease(&self, lease_key: &str) {
        let me = self.inner.replica.clone();
        let lease_ms = self.inner.settings.lease.as_millis() as u64;
        let key = lease_key.to_owned();
        self.run(|mut redis| async move {
            redis::Script::new(RENEW)
                .key(key)
                .arg(me)
                .arg(lease_ms)
                .invoke_async::<i64>(&mut redis)
                .await
        })
        .await;
    }

    /// Publishes `items` read at `fetched_ms`, unless a write bumped the
    /// generation since `generation` was read: then the generation now.
    pub async fn publish<I: Serialize + ?Sized>(
        &self,
        account: &str,
        collection: &str,
        generation: i64,
        fetched_ms: i64,
        items: &I,
    ) -> Option<i64> {
        /// `SharedSnapshot` as written, borrowing its items.
        #[derive(Serialize)]
        struct Outgoing<'a, I: ?Sized> {
            format: u32,
            fetched_ms: i64,
            items: &'a I,
        }
        let shared = Outgoing {
            format: FORMAT,
            fetched_ms,
            items,
        };
        let bytes = serde_json::to_vec(&shared).ok()?;
        let scope = snapshot_scope(account, collection);
        if signing::oversized(&scope, bytes.len(), signing::MAX_SNAPSHOT_BYTES) {
            return None;
        }
        let bytes = self.inner.signer.sign(&scope, &bytes);
        // Kept well past any TTL: a stale copy still tells waiting replicas
        // how old the last read was.
        let keep_ms: u64 = 3_600_000;
        let keys = [
            self.key(&["snap", account, collection]),
            self.key(&["snaptime", account, collection]),
            self.key(&["gen", account, collection]),
        ];
        let published = self
            .run(|mut redis| async move {
                redis::Script::new(PUBLISH)
                    .key(&keys[0])
                    .key(&keys[1])
                    .key(&keys[2])
                    .arg(generation)
                    .arg(bytes)
                    .arg(fetched_ms)
                    .arg(keep_ms)
                    .invoke_async::<i64>(&mut redis)
                    .await
            })
            .await;
        match published? {
            -1 => {
                crate::telemetry::record_cluster("snapshot_published");
                None
            }
            now => Some(now),
        }
    }

    /// The write generation of `account`'s `collection`.
    pub async fn generation(&self, account: &str, collection: &str) -> Option<i64> {
        let key = self.key(&["gen", account, collection]);
        self.run(|mut redis| async move { redis.get::<_, Option<i64>>(key).await })
            .await
            .map(Option::unwrap_or_default)
    }

    /// Bumps the write generation: refreshes begun before it publish
    /// nothing. Returns the new generation.
    pub async fn bump_generation(&self, account: &str, collection: &str) -> Option<i64> {
        let key = self.key(&["gen", account, collection]);
        self.run(|mut redis| async move { redis.incr::<_, _, i64>(key, 1).await })
            .await
    }

    /// Forgets the shared snapshot: a write's effect on it is unknown, so
    /// the next replica to need it reads RemotePC.
    pub async fn forget_shared(&self, account: &str, collection: &str) {
        let keys = [
            self.key(&["snap", account, collection]),
            self.key(&["snaptime", account, collection]),
        ];
        self.run(|mut redis| async move { redis.del::<_, i64>(&keys).await })
            .await;
    }

    fn note_holder(&self, account: &str, collection: &str, holder: &str) {
        let mut holders = self
            .inner
            .holders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let scope = format!("{account}/{collection}");
        if holders
            .get(&scope)
            .is_some_and(|previous| previous != holder)
        {
            crate::telemetry::record_cluster("lease_handover");
        }
        holders.insert(scope, holder.to_owned());
    }
}
