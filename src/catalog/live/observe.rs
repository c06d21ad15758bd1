//! From snapshots to the log's queue: each new snapshot of an account's
//! collection is diffed with the one it replaced and queued without
//! waiting. A first snapshot, a full queue or a failed append starts a
//! resync instead: the items' last states in the store are diffed with the
//! latest snapshot, so what changed while none watched (or while the log
//! fell behind) is logged too; a loss is logged as a gap first.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::error::TrySendError;

use super::writer::Transition;
use super::{Change, ChangeKind, Feed, Live, diff};
use crate::cache::{Observer, Snapshot};
use crate::catalog::Listed;
use crate::store::{Append, NewChange, StoreError};

/// The state row that says a collection's states were written once.
const SEEN: &str = "";

/// The pause before a resync tries the store again.
const RESYNC_RETRY: Duration = Duration::from_secs(1);

impl Live {
    /// The observer of a collection's cache: diffs, queues for the log.
    pub(in crate::catalog) fn observer<T: Listed>(&self, feed: Arc<Feed<T>>) -> Observer<T> {
        let live = self.clone();
        Arc::new(move |account, old, new| live.observe(&feed, account, old, new))
    }

    fn observe<T: Listed>(
        &self,
        feed: &Arc<Feed<T>>,
        account: &str,
        old: Option<&Arc<Snapshot<T>>>,
        new: &Arc<Snapshot<T>>,
    ) {
        if feed.defer_to_resync(account, new) {
            return;
        }
        let lost = feed.take_lost(account);
        let Some(old) = old.filter(|_| !lost) else {
            self.resync(feed, account, new, lost);
            return;
        };
        let changes = diff::diff(old, new, self.now());
        if !changes.is_empty() {
            crate::telemetry::record_live_changes(T::COLLECTION.as_str(), changes.len());
        }
        let transition = self.transition(feed, account, new, &changes, false);
        if let Err(TrySendError::Full(_) | TrySendError::Closed(_)) =
            self.inner.queue.try_send(transition)
        {
            crate::telemetry::record_history_dropped(changes.len());
            tracing::warn!(
                dropped = changes.len(),
                "change log queue full (live.history_queue); the log resyncs with a gap"
            );
            self.resync(feed, account, new, !changes.is_empty());
        }
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.inner.clock.unix_ms()).unwrap_or_else(Utc::now)
    }

    fn transition<T: Listed>(
        &self,
        feed: &Arc<Feed<T>>,
        account: &str,
        new: &Arc<Snapshot<T>>,
        changes: &[Change<T>],
        resync: bool,
    ) -> Transition {
        Transition {
            collection: T::COLLECTION,
            append: append_of(account, changes),
            position: Arc::clone(new.position()),
            target: Arc::clone(feed) as _,
            resync,
        }
    }

    /// Levels `account`'s log with `snapshot` (and whatever follows it
    /// meanwhile) from the items' last states in the store; `gap`: changes
    /// were lost on the way.
    fn resync<T: Listed>(
        &self,
        feed: &Arc<Feed<T>>,
        account: &str,
        snapshot: &Arc<Snapshot<T>>,
        gap: bool,
    ) {
        if !feed.begin_resync(account, snapshot) {
            return;
        }
        let (live, feed, account) = (self.clone(), Arc::clone(feed), account.to_owned());
        tokio::spawn(async move {
            let mut done: Option<Arc<Snapshot<T>>> = None;
            while let Some(latest) = feed.resync_target(&account, done.as_ref()) {
                let transition = match &done {
                    Some(previous) => {
                        let changes = diff::diff(previous, &latest, live.now());
                        live.transition(&feed, &account, &latest, &changes, false)
                    }
                    None => match live.leveling(&feed, &account, &latest, gap).await {
                        Ok(transition) => transition,
                        Err(error) => {
                            tracing::warn!(account, error = %error, "change log resync waits for the store");
                            tokio::select! {
                                () = tokio::time::sleep(RESYNC_RETRY) => continue,
                                () = live.inner.closed.cancelled() => return,
                            }
                        }
                    },
                };
                if live.inner.queue.send(transition).await.is_err() {
                    return;
                }
                done = Some(latest);
            }
        });
    }

    /// The transition from the items' last states in the store to
    /// `latest`: their changes, or, when the states are unknown or
    /// unreadable while the log has changes, a gap and `latest` as the
    /// states.
    async fn leveling<T: Listed>(
        &self,
        feed: &Arc<Feed<T>>,
        account: &str,
        latest: &Arc<Snapshot<T>>,
        gap: bool,
    ) -> Result<Transition, StoreError> {
        let store = self.store();
        let stored = store.item_states(account, T::COLLECTION.as_str()).await?;
        let head = store.log_bounds(account).await?.head;
        let seen = stored.iter().any(|(subject, _)| subject == SEEN);
        let items: Option<Vec<T>> = stored
            .iter()
            .filter(|(subject, _)| subject != SEEN)
            .map(|(_, item)| serde_json::from_str(item).ok())
            .collect();
        let at = self.now();
        let mut transition = match items {
            Some(items) if seen => {
                let changes = diff::diff(&Snapshot::new(items), latest, at);
                self.transition(feed, account, latest, &changes, true)
            }
            _ => {
                let mut transition = self.transition(feed, account, latest, &[], true);
                let append = &mut transition.append;
                append.gap_at_ms = (head > 0).then_some(at.timestamp_millis());
                append.states = stored
                    .into_iter()
                    .filter(|(subject, _)| latest.get(subject).is_none())
                    .map(|(subject, _)| (subject, None))
                    .chain(latest.items().iter().map(|item| state_of(item.as_ref())))
                    .collect();
                transition
            }
        };
        if gap && head > 0 {
            transition.append.gap_at_ms = Some(at.timestamp_millis());
        }
        transition
            .append
            .states
            .push((SEEN.to_owned(), Some("seen".to_owned())));
        Ok(transition)
    }
}

/// What the log must append for `changes` of `account`'s `T`: each change,
/// and the last state of each item they touch.
fn append_of<T: Listed>(account: &str, changes: &[Change<T>]) -> Append {
    let mut states = BTreeMap::new();
    let changes = changes
        .iter()
        .map(|change| {
            let item = serde_json::to_string(change.item.as_ref()).ok();
            let subject = change.item.key().to_owned();
            let state = (change.kind != ChangeKind::Removed)
                .then(|| item.clone())
                .flatten();
            states.insert(subject.clone(), state);
            NewChange {
                subject,
                kind: change.kind.as_str(),
                at_ms: change.at.timestamp_millis(),
                from: change.from.clone(),
                to: change.to.clone(),
                item,
            }
        })
        .collect();
    Append {
        account: account.to_owned(),
        collection: T::COLLECTION.as_str(),
        gap_at_ms: None,
        changes,
        states: states.into_iter().collect(),
    }
}

fn state_of<T: Listed>(item: &T) -> (String, Option<String>) {
    (item.key().to_owned(), serde_json::to_string(item).ok())
}
