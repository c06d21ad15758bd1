//! One broadcast channel per account and collection, created by its first
//! listener and fed from the change log in position order, with a count
//! of listeners that tells the poller when to stop; and the accounts
//! whose log must be brought level with their snapshot (a resync).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::broadcast;

use super::writer::Deliver;
use super::{Delivery, Live};
use crate::cache::Snapshot;
use crate::catalog::Listed;
use crate::store::{Store, StoreError};

/// Log entries read at once when a channel catches up.
pub(super) const PAGE: usize = 500;

/// The listeners of one collection, per account.
pub(in crate::catalog) struct Feed<T> {
    /// std `Mutex`: never held across `.await`.
    channels: Mutex<HashMap<String, Channel<T>>>,
    /// Accounts whose log is being brought level with this snapshot, the
    /// latest one kept. std `Mutex`: never held across `.await`.
    resyncs: Mutex<HashMap<String, Arc<Snapshot<T>>>>,
    /// Accounts whose last append failed: their log no longer follows
    /// their snapshots. std `Mutex`: never held across `.await`.
    lost: Mutex<HashSet<String>>,
    /// Events kept for a listener that has not read them.
    buffer: usize,
}

struct Channel<T> {
    sender: broadcast::Sender<Delivery<T>>,
    listeners: usize,
    polled: bool,
    /// The last position sent; held while the log is read and sent, so
    /// an account's deliveries never interleave.
    sent: Arc<tokio::sync::Mutex<u64>>,
}

/// A listener's place in a feed; leaving it (drop) counts it out.
pub(super) struct Listener<T> {
    feed: Arc<Feed<T>>,
    account: String,
}

impl<T> Drop for Listener<T> {
    fn drop(&mut self) {
        if let Some(channel) = lock(&self.feed.channels).get_mut(&self.account) {
            channel.listeners = channel.listeners.saturating_sub(1);
        }
    }
}

fn lock<V>(mutex: &Mutex<V>) -> MutexGuard<'_, V> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<T> Feed<T> {
    pub(in crate::catalog) fn new(buffer: usize) -> Self {
        Self {
            channels: Mutex::default(),
            resyncs: Mutex::default(),
            lost: Mutex::default(),
            buffer,
        }
    }

    /// Joins the account's channel; a new channel sends what the log gets
    /// after `head`. The flag is true when nobody polls the account's
    /// collection yet: the caller must start the poller.
    pub(super) fn listen(
        self: &Arc<Self>,
        account: &str,
        head: u64,
    ) -> (broadcast::Receiver<Delivery<T>>, Listener<T>, bool) {
        let mut channels = lock(&self.channels);
        let channel = channels
            .entry(account.to_owned())
            .or_insert_with(|| Channel {
                sender: broadcast::channel(self.buffer).0,
                listeners: 0,
                polled: false,
                sent: Arc::new(tokio::sync::Mutex::new(head)),
            });
        channel.listeners += 1;
        let start_polling = !std::mem::replace(&mut channel.polled, true);
        let listener = Listener {
            feed: Arc::clone(self),
            account: account.to_owned(),
        };
        (channel.sender.subscribe(), listener, start_polling)
    }

    /// Whether the account's collection still has listeners; when it has
    /// none, the poller is counted out (it must stop) and the channel goes,
    /// under the same lock a new listener takes, so none is left without a
    /// poller.
    pub(super) fn keep_polling(&self, account: &str) -> bool {
        let mut channels = lock(&self.channels);
        let Some(channel) = channels.get_mut(account) else {
            return false;
        };
        if channel.listeners == 0 {
            channels.remove(account);
            return false;
        }
        true
    }

    /// Whether a resync of `account` runs; if so, it is told that
    /// `snapshot` is now the latest.
    pub(super) fn defer_to_resync(&self, account: &str, snapshot: &Arc<Snapshot<T>>) -> bool {
        match lock(&self.resyncs).get_mut(account) {
            Some(latest) => {
                *latest = Arc::clone(snapshot);
                true
            }
            None => false,
        }
    }

    /// Starts a resync of `account` to `snapshot`; false when one runs.
    pub(super) fn begin_resync(&self, account: &str, snapshot: &Arc<Snapshot<T>>) -> bool {
        let mut resyncs = lock(&self.resyncs);
        if resyncs.contains_key(account) {
            return false;
        }
        resyncs.insert(account.to_owned(), Arc::clone(snapshot));
        true
    }

    /// The snapshot the resync of `account` must reach next, or `None`
    /// (and the resync ends) when it reached the latest, `done`.
    pub(super) fn resync_target(
        &self,
        account: &str,
        done: Option<&Arc<Snapshot<T>>>,
    ) -> Option<Arc<Snapshot<T>>> {
        let mut resyncs = lock(&self.resyncs);
        let latest = resyncs.get(account)?;
        if done.is_some_and(|done| Arc::ptr_eq(done, latest)) {
            resyncs.remove(account);
            return None;
        }
        Some(Arc::clone(latest))
    }

    /// Whether `account`'s log lost an append since this was last asked.
    pub(super) fn take_lost(&self, account: &str) -> bool {
        lock(&self.lost).remove(account)
    }
}

impl<T: Listed> Feed<T> {
    /// Sends what the log has for `account` after what its channel sent.
    async fn send_logged(&self, store: &Store, account: &str) -> Result<(), StoreError> {
        let Some((sender, sent)) = lock(&self.channels)
            .get(account)
            .map(|channel| (channel.sender.clone(), Arc::clone(&channel.sent)))
        else {
            return Ok(());
        };
        let mut sent = sent.lock().await;
        loop {
            let after = i64::try_from(*sent).unwrap_or(i64::MAX);
            crate::telemetry::record_change_log_read("feed");
            let rows = store
                .changes_after(account, T::COLLECTION.as_str(), after, PAGE)
                .await?;
            for row in &rows {
                let delivery = Delivery::from_row(row);
                *sent = delivery.position();
                // No receiver left is not an error: nobody listens.
                let _ = sender.send(delivery);
            }
            if rows.len() < PAGE {
                return Ok(());
            }
        }
    }
}

impl<T: Listed> Deliver for Feed<T> {
    fn deliver<'a>(&'a self, store: &'a Store, account: &'a str) -> BoxFuture<'a, ()> {
        async move {
            if let Err(error) = self.send_logged(store, account).await {
                tracing::warn!(account, error = %error, "logged changes not sent to listeners");
            }
        }
        .boxed()
    }

    fn lost(&self, account: &str) {
        lock(&self.lost).insert(account.to_owned());
    }
}

impl Live {
    /// Sends listeners of `account`'s `T` what the log got since, from any
    /// replica.
    pub(super) async fn deliver<T: Listed>(&self, feed: &Feed<T>, account: &str) {
        feed.deliver(self.store(), account).await;
    }
}
