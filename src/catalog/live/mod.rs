//! The live fleet: what changed between consecutive snapshots (refreshes
//! and the gateway's own writes), written to the change log at positions
//! every replica shares, then sent to subscribers, who can resume from any
//! position the log still keeps. An account's collection is polled only
//! while someone listens, through the cache's one refresh: listeners never
//! add upstream reads. Knows nothing of GraphQL or of transports.

mod cursor;
mod diff;
mod feed;
mod history;
mod observe;
mod poll;
mod resume;
mod writer;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use cursor::{ChangeCursor, CursorProblem};
pub use diff::{status_name, status_named};
pub(in crate::catalog) use feed::Feed;
pub use history::{HistoryEntry, HistoryPage, HistorySelection, StatusSince};
pub use resume::{Changes, ChangesSince, Next};

use crate::catalog::Listed;
use crate::clock::Clock;
use crate::settings::Settings;
use crate::store::{GAP, Store, StoredChange};
use writer::Transition;

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
    /// Its position in the account's change log (0 until logged).
    pub position: u64,
}

impl<T> Change<T> {
    pub(in crate::catalog) fn new(kind: ChangeKind, item: &Arc<T>, at: DateTime<Utc>) -> Self {
        Self {
            kind,
            at,
            item: Arc::clone(item),
            from: None,
            to: None,
            position: 0,
        }
    }

    pub(in crate::catalog) fn between(mut self, from: Option<&str>, to: Option<&str>) -> Self {
        self.from = from.map(str::to_owned);
        self.to = to.map(str::to_owned);
        self
    }
}

/// What the log sends a collection's listeners.
#[derive(Debug)]
pub(super) enum Delivery<T> {
    /// A logged change.
    Change(Arc<Change<T>>),
    /// Changes were lost here: a resume across this position cannot be
    /// complete.
    Gap(u64),
}

impl<T> Clone for Delivery<T> {
    fn clone(&self) -> Self {
        match self {
            Delivery::Change(change) => Delivery::Change(Arc::clone(change)),
            Delivery::Gap(position) => Delivery::Gap(*position),
        }
    }
}

impl<T> Delivery<T> {
    /// Its position in the log.
    pub(super) fn position(&self) -> u64 {
        match self {
            Delivery::Change(change) => change.position,
            Delivery::Gap(position) => *position,
        }
    }
}

impl<T: Listed> Delivery<T> {
    /// A log row as a change; a gap when it is one, or when the row cannot
    /// be read back as a change.
    fn from_row(row: &StoredChange) -> Self {
        let position = u64::try_from(row.seq).unwrap_or_default();
        let change = (row.kind != GAP)
            .then(|| {
                let kind = ChangeKind::named(&row.kind)?;
                let item: T = serde_json::from_str(row.item.as_deref()?).ok()?;
                Some(Change {
                    kind,
                    at: DateTime::from_timestamp_millis(row.at_ms)?,
                    item: Arc::new(item),
                    from: row.from.clone(),
                    to: row.to.clone(),
                    position,
                })
            })
            .flatten();
        match change {
            Some(change) => Delivery::Change(Arc::new(change)),
            None => Delivery::Gap(position),
        }
    }
}

/// Listeners, pollers and the history queue of every account.
#[derive(Clone)]
pub struct Live {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    queue: mpsc::Sender<Transition>,
    /// Taken once by the log's writer. std `Mutex`: never held across
    /// `.await`.
    unwritten: Mutex<Option<mpsc::Receiver<Transition>>>,
    clock: Clock,
    poll_every: Duration,
    /// Least pause between polls, also after a failed one.
    min_wait: Duration,
    retention: Duration,
    max_rows: u64,
    closed: CancellationToken,
    /// Cancelled after the last write: the log's writer drains and ends.
    history_closed: CancellationToken,
}

impl Live {
    /// Empty feeds, as `settings.live` configures them, logging to
    /// `store`.
    pub fn new(settings: &Settings, clock: &Clock, store: Store) -> Self {
        let live = &settings.live;
        let (queue, unwritten) = mpsc::channel(live.history_queue);
        Self {
            inner: Arc::new(Inner {
                store,
                queue,
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

    fn store(&self) -> &Store {
        &self.inner.store
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
