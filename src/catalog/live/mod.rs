//! The live fleet: what changed between consecutive snapshots (refreshes
//! and the gateway's own writes), sent to subscribers at once and kept in
//! the store as history. An account's collection is polled only while
//! someone listens, through the cache's one refresh: listeners never add
//! upstream reads. Knows nothing of GraphQL or of transports.

mod diff;
mod feed;
mod history;
mod poll;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

pub use diff::{status_name, status_named};
pub(in crate::catalog) use feed::Feed;
pub use history::{HistoryCursor, HistoryEntry, HistoryPage, HistorySelection, StatusSince};

use super::Listed;
use crate::cache::{Observer, Snapshot};
use crate::clock::Clock;
use crate::settings::Settings;
use crate::store::HistoryRow;
use feed::Listener;

/// What happened to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// It appeared.
    Added,
    /// It disappeared.
    Removed,
    /// A device went online, offline or unknown.
    StatusChanged,
    /// A device's comment changed.
    CommentChanged,
    /// A device's last session time moved.
    Session,
}

impl ChangeKind {
    /// Every kind.
    pub const ALL: [ChangeKind; 5] = [
        ChangeKind::Added,
        ChangeKind::Removed,
        ChangeKind::StatusChanged,
        ChangeKind::CommentChanged,
        ChangeKind::Session,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "ADDED",
            ChangeKind::Removed => "REMOVED",
            ChangeKind::StatusChanged => "STATUS_CHANGED",
            ChangeKind::CommentChanged => "COMMENT_CHANGED",
            ChangeKind::Session => "SESSION",
        }
    }

    /// The kind `as_str` named.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// One observed change of one item.
#[derive(Debug, Clone)]
pub struct Change<T> {
    /// What happened.
    pub kind: ChangeKind,
    /// When the gateway observed it.
    pub at: DateTime<Utc>,
    /// The item's new state (its last state when removed).
    pub item: Arc<T>,
    /// The value before: a status name, a comment, a session time.
    pub from: Option<String>,
    /// The value after.
    pub to: Option<String>,
}

impl<T> Change<T> {
    pub(in crate::catalog) fn new(kind: ChangeKind, item: &Arc<T>, at: DateTime<Utc>) -> Self {
        Self {
            kind,
            at,
            item: Arc::clone(item),
            from: None,
            to: None,
        }
    }

    pub(in crate::catalog) fn between(mut self, from: Option<&str>, to: Option<&str>) -> Self {
        self.from = from.map(str::to_owned);
        self.to = to.map(str::to_owned);
        self
    }
}

/// What a listener reads next.
#[derive(Debug)]
pub enum Next<T> {
    /// A change.
    Change(Arc<Change<T>>),
    /// The listener fell more than `live.event_buffer` events behind; this
    /// many were lost.
    TooSlow(u64),
    /// The gateway is shutting down.
    Closed,
}

/// One listener's changes of one account's collection.
pub struct Changes<T> {
    receiver: broadcast::Receiver<Arc<Change<T>>>,
    closed: CancellationToken,
    _listener: Listener<T>,
}

impl<T: Send + Sync + 'static> Changes<T> {
    /// The next change, or why there is none.
    pub async fn next(&mut self) -> Next<T> {
        tokio::select! {
            biased;
            () = self.closed.cancelled() => Next::Closed,
            received = self.receiver.recv() => match received {
                Ok(change) => Next::Change(change),
                Err(broadcast::error::RecvError::Lagged(lost)) => Next::TooSlow(lost),
                Err(broadcast::error::RecvError::Closed) => Next::Closed,
            },
        }
    }
}

/// Listeners, pollers and the history queue of every account.
#[derive(Clone)]
pub struct Live {
    inner: Arc<Inner>,
}

struct Inner {
    history: mpsc::Sender<HistoryRow>,
    /// Taken once by the history writer. std `Mutex`: never held across
    /// `.await`.
    unwritten: Mutex<Option<mpsc::Receiver<HistoryRow>>>,
    clock: Clock,
    poll_every: Duration,
    /// Least pause between polls, also after a failed one.
    min_wait: Duration,
    retention: Duration,
    max_rows: u64,
    closed: CancellationToken,
    /// Cancelled after the last write: the history writer drains and ends.
    history_closed: CancellationToken,
}

impl Live {
    /// Empty feeds, as `settings.live` configures them.
    pub fn new(settings: &Settings, clock: &Clock) -> Self {
        let live = &settings.live;
        let (history, unwritten) = mpsc::channel(live.history_queue);
        Self {
            inner: Arc::new(Inner {
                history,
                unwritten: Mutex::new(Some(unwritten)),
                clock: clock.clone(),
                poll_every: live.poll_every(&settings.cache),
                min_wait: settings.cache.min_refresh_interval,
                retention: live.history_retention,
                max_rows: live.history_max_rows,
                closed: CancellationToken::new(),
                history_closed: CancellationToken::new(),
            }),
        }
    }

    /// How often a listened collection is read.
    pub fn poll_every(&self) -> Duration {
        self.inner.poll_every
    }

    /// Ends every listener's changes (`Next::Closed`) and every poller:
    /// the gateway is shutting down.
    pub fn close(&self) {
        self.inner.closed.cancel();
    }

    /// Ends the history writer once it wrote what is queued: call after
    /// the last write that could be observed.
    pub fn finish_history(&self) {
        self.inner.history_closed.cancel();
    }

    /// Whether `close` was called.
    pub fn closed(&self) -> &CancellationToken {
        &self.inner.closed
    }

    /// The observer of a collection's cache: diffs, publishes to `feed`,
    /// records.
    pub(super) fn observer<T: Listed>(&self, feed: Arc<Feed<T>>) -> Observer<T> {
        let live = self.clone();
        Arc::new(
            move |account: &str, old: &Arc<Snapshot<T>>, new: &Arc<Snapshot<T>>| {
                let at = DateTime::from_timestamp_millis(live.inner.clock.unix_ms())
                    .unwrap_or_else(Utc::now);
                let changes: Vec<Arc<Change<T>>> =
                    diff::diff(old, new, at).into_iter().map(Arc::new).collect();
                if changes.is_empty() {
                    return;
                }
                crate::telemetry::record_live_changes(T::COLLECTION.as_str(), changes.len());
                live.queue_history(account, &changes);
                feed.publish(account, &changes);
            },
        )
    }

    /// Joins the account's changes in `feed`; true when its poller must
    /// start.
    pub(super) fn listen<T>(&self, feed: &Arc<Feed<T>>, account: &str) -> (Changes<T>, bool) {
        let (receiver, listener, start) = feed.listen(account);
        let changes = Changes {
            receiver,
            closed: self.inner.closed.clone(),
            _listener: listener,
        };
        (changes, start)
    }

    /// Whether the poller of `account`'s changes in `feed` goes on (it has
    /// listeners and the gateway is not closing).
    pub(super) fn keep_polling<T>(&self, feed: &Feed<T>, account: &str) -> bool {
        !self.inner.closed.is_cancelled() && feed.keep_polling(account)
    }

    /// The pause before the next poll, from the snapshot's age after this
    /// one (`None`: it has none).
    pub(super) fn next_poll_in(&self, age: Option<Duration>, polled: bool) -> Duration {
        let every = self.inner.poll_every;
        match age {
            Some(age) if age < every && !polled => every - age,
            Some(age) => every.saturating_sub(age).max(self.inner.min_wait),
            None => self.inner.min_wait,
        }
    }
}
