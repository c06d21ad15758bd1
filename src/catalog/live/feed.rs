//! One broadcast channel per account and collection, created by its first
//! listener, with a count of listeners that tells the poller when to stop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;

use super::Change;

/// The listeners of one collection, per account.
pub(in crate::catalog) struct Feed<T> {
    /// std `Mutex`: never held across `.await`.
    channels: Mutex<HashMap<String, Channel<T>>>,
    /// Events kept for a listener that has not read them.
    buffer: usize,
}

struct Channel<T> {
    sender: broadcast::Sender<Arc<Change<T>>>,
    listeners: usize,
    polled: bool,
}

/// A listener's place in a feed; leaving it (drop) counts it out.
pub(super) struct Listener<T> {
    feed: Arc<Feed<T>>,
    account: String,
}

impl<T> Drop for Listener<T> {
    fn drop(&mut self) {
        if let Some(channel) = self.feed.lock().get_mut(&self.account) {
            channel.listeners = channel.listeners.saturating_sub(1);
        }
    }
}

impl<T> Feed<T> {
    pub(in crate::catalog) fn new(buffer: usize) -> Self {
        Self {
            channels: Mutex::default(),
            buffer,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Channel<T>>> {
        self.channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Joins the account's channel. The flag is true when nobody polls the
    /// account's collection yet: the caller must start the poller.
    pub(super) fn listen(
        self: &Arc<Self>,
        account: &str,
    ) -> (broadcast::Receiver<Arc<Change<T>>>, Listener<T>, bool) {
        let mut channels = self.lock();
        let channel = channels
            .entry(account.to_owned())
            .or_insert_with(|| Channel {
                sender: broadcast::channel(self.buffer).0,
                listeners: 0,
                polled: false,
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
    /// none, the poller is counted out (it must stop) under the same lock
    /// a new listener takes, so none is left without a poller.
    pub(super) fn keep_polling(&self, account: &str) -> bool {
        let mut channels = self.lock();
        let Some(channel) = channels.get_mut(account) else {
            return false;
        };
        if channel.listeners == 0 {
            channel.polled = false;
        }
        channel.polled
    }

    /// Sends `changes` to the account's listeners, if it has any.
    pub(super) fn publish(&self, account: &str, changes: &[Arc<Change<T>>]) {
        let channels = self.lock();
        if let Some(channel) = channels.get(account) {
            for change in changes {
                // No receiver left is not an error: nobody listens.
                let _ = channel.sender.send(Arc::clone(change));
            }
        }
    }
}
