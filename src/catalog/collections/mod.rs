//! The collections RemotePC lists whole, as data. Each is described once
//! (`Listed`: its list call and record, the item it becomes, what a change
//! of one item is); one generic path loads, caches, shares between
//! replicas, polls, diffs and records every one of them. `Collections`
//! keeps each one's snapshots and feed: adding a collection is a variant
//! of `Collection`, a field of `Collections` and a file of its own with
//! its `Listed` description (`devices.rs`, `users.rs`).

mod devices;
mod users;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::live::{Change, Feed, Live};
use super::replication::{Reading, Replication};
use super::{Catalog, CatalogError, Device, User};
use crate::cache::{Freshness, Keyed, Loaded, Peek, Served, Snapshot, SnapshotCache};
use crate::clock::Clock;
use crate::cluster::{Cluster, PatchMessage};
use crate::settings::Settings;
use crate::upstream::UpstreamError;
use crate::upstream::wire::ListPage;

/// A collection read whole into snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Collection {
    // In name order: `extensions.cache` lists collections in `Ord` order.
    /// Every `computer/list` page.
    Devices,
    /// Every `user/list` page.
    Users,
}

impl Collection {
    /// The name in metrics, history rows, Redis keys and
    /// `extensions.cache`.
    pub fn as_str(self) -> &'static str {
        match self {
            Collection::Users => "users",
            Collection::Devices => "devices",
        }
    }
}

/// One RemotePC collection, described: everything the generic path needs
/// to read, keep, share and watch it.
pub trait Listed: Keyed + Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Its name.
    const COLLECTION: Collection;
    /// A page of its list call.
    type Page: ListPage;

    /// The item a record becomes, with local times read in the account's
    /// `zone`; `None` for a record without a key.
    fn from_record(record: <Self::Page as ListPage>::Record, zone: Tz) -> Option<Self>;

    /// The changes from `old` to `new` of one item kept in both; additions
    /// and removals are found by the diff itself.
    fn changes(old: &Self, new: &Arc<Self>, at: DateTime<Utc>) -> Vec<Change<Self>>;

    /// Where the catalog keeps it.
    fn kept(collections: &Collections) -> &Kept<Self>;
}

/// Every collection's snapshots and feed.
pub struct Collections {
    devices: Kept<Device>,
    users: Kept<User>,
}

impl Collections {
    /// Empty snapshot caches and feeds for every collection, observed by
    /// `live` and shared through `cluster` when there is one.
    pub(super) fn new(
        settings: &Settings,
        clock: &Clock,
        live: &Live,
        cluster: Option<&Cluster>,
    ) -> Self {
        Self {
            devices: Kept::new(settings, clock, live, cluster),
            users: Kept::new(settings, clock, live, cluster),
        }
    }

    /// Each collection, for what every one of them does alike.
    fn each(&self) -> [(Collection, &dyn KeptAny); 2] {
        [
            (Collection::Devices, &self.devices),
            (Collection::Users, &self.users),
        ]
    }

    fn named(&self, wanted: Collection) -> Option<&dyn KeptAny> {
        let mut each = self.each().into_iter();
        each.find_map(|(collection, kept)| (collection == wanted).then_some(kept))
    }

    /// The snapshot of `collection` a read by `account` would be served
    /// now, if fresh; never fetches.
    pub(super) fn peek(&self, collection: Collection, account: &str) -> Option<Peek> {
        self.named(collection)?.peek(account)
    }

    /// Every account's snapshot of every collection is reloaded before it
    /// is served again (the patch channel was lost).
    pub(super) fn distrust_all(&self) {
        for (_, kept) in self.each() {
            kept.distrust_all();
        }
    }

    /// Applies another replica's write.
    pub(super) fn apply(&self, message: PatchMessage) {
        let named = self
            .each()
            .into_iter()
            .find(|(collection, _)| collection.as_str() == message.collection);
        if let Some((_, kept)) = named {
            kept.apply(message);
        }
    }
}

/// One collection's snapshots (one slot per account) and the feed of its
/// changes.
pub struct Kept<T> {
    pub(super) cache: SnapshotCache<T, UpstreamError>,
    pub(super) feed: Arc<Feed<T>>,
}

impl<T: Listed> Kept<T> {
    fn new(settings: &Settings, clock: &Clock, live: &Live, cluster: Option<&Cluster>) -> Self {
        let feed = Arc::new(Feed::new(settings.live.event_buffer));
        let name = T::COLLECTION.as_str();
        let mut cache = SnapshotCache::new(name, Freshness::from(&settings.cache), clock.clone())
            .observed_by(live.observer(Arc::clone(&feed)));
        if let Some(cluster) = cluster {
            let replication = Replication::<T>::new(cluster.clone(), clock.clone());
            cache = cache.replicated_by(Arc::new(replication));
        }
        Self { cache, feed }
    }
}

/// What is done to every collection alike, whatever it holds.
trait KeptAny: Send + Sync {
    fn peek(&self, account: &str) -> Option<Peek>;
    fn distrust_all(&self);
    fn apply(&self, message: PatchMessage);
}

impl<T: Listed> KeptAny for Kept<T> {
    fn peek(&self, account: &str) -> Option<Peek> {
        self.cache.peek(account)
    }

    fn distrust_all(&self) {
        for account in self.cache.accounts() {
            self.cache.distrust(&account);
        }
    }

    fn apply(&self, message: PatchMessage) {
        super::replication::apply(&self.cache, message);
    }
}

impl Catalog {
    /// Every item of `account`'s `T`: the cached snapshot, or all upstream
    /// pages read anew (`refresh` asks for that unless the snapshot is
    /// younger than `cache.min_refresh_interval`).
    pub async fn listed<T: Listed>(
        &self,
        account: &str,
        refresh: bool,
    ) -> Result<Served<T>, CatalogError> {
        let reading = if refresh {
            Reading::Forced
        } else {
            Reading::Expired
        };
        self.read::<T>(account, reading).await
    }

    /// `account`'s `T`: the cached snapshot, or every page read anew when
    /// `reading` asks. With replicas, one of them reads RemotePC and the
    /// others load its snapshot.
    pub(super) async fn read<T: Listed>(
        &self,
        account: &str,
        reading: Reading,
    ) -> Result<Served<T>, CatalogError> {
        let client = self.client(account)?;
        let zone = self.time_zone(account);
        // The clones the fetch's future owns are made on a miss only: a
        // served snapshot costs none.
        let load = || {
            let (client, sharing) = (client.clone(), self.sharing.clone());
            let owner = account.to_owned();
            async move {
                let fetch = || async move {
                    let records = client.all::<T::Page>().await?;
                    Ok(records
                        .into_iter()
                        .filter_map(|record| T::from_record(record, zone))
                        .collect::<Vec<T>>())
                };
                let (items, age) = match sharing {
                    Some(sharing) => sharing.load::<T, _, _>(&owner, reading, fetch).await?,
                    None => (fetch().await?, Duration::ZERO),
                };
                Ok(Loaded {
                    snapshot: Snapshot::new(items),
                    age,
                })
            }
        };
        self.cache::<T>()
            .get(account, reading != Reading::Expired, load)
            .await
            .map_err(CatalogError::Upstream)
    }

    /// `account`'s items of `T` with these keys, in order, as the snapshot
    /// (patched by the caller's own writes) has them; keys no longer there
    /// are left out. With the snapshot they were found in.
    pub async fn named<T: Listed>(
        &self,
        account: &str,
        keys: &[String],
    ) -> Result<(Vec<Arc<T>>, Served<T>), CatalogError> {
        let served = self.read::<T>(account, Reading::Expired).await?;
        let found = served.snapshot.get_all(keys.iter().map(String::as_str));
        Ok((found, served))
    }

    /// The snapshots of `T`, one per account.
    pub(super) fn cache<T: Listed>(&self) -> &SnapshotCache<T, UpstreamError> {
        &T::kept(&self.collections).cache
    }
}
